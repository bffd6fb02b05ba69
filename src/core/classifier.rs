//! The intent classifier: sparse features of an [`Analysis`] (lemmas, lemma pairs,
//! kana-folded character n-grams, readings, domain concepts, intent keywords) fed to a
//! multinomial logistic regression trained at start-up on `intents/` examples.
//!
//! Training is deterministic (fixed order, fixed pseudo-random shuffle), so the same
//! content always gives the same model and the same answers.

use std::collections::HashMap;

use super::analysis::Analysis;
use super::label::Label;
use super::text::hiragana_char;
use super::tokenize::Pos;

const N: usize = Label::ALL.len();

/// A sparse feature vector: (hashed feature, weight), unit length.
pub type Features = Vec<(u64, f32)>;

/// Intent keywords, normalised, per label: a hit adds a `kw:<label>` feature whose
/// weight the model learns like any other. Matched in one pass (aho-corasick).
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    matcher: Option<aho_corasick::AhoCorasick>,
    /// the label of each pattern
    label_of: Vec<Label>,
}

impl Keywords {
    pub fn new(by_label: Vec<(Label, Vec<String>)>) -> Keywords {
        let (label_of, words): (Vec<Label>, Vec<String>) = by_label
            .into_iter()
            .flat_map(|(l, ws)| {
                ws.into_iter()
                    .filter(|w| !w.is_empty())
                    .map(move |w| (l, w))
            })
            .unzip();
        let matcher = (!words.is_empty()).then(|| {
            aho_corasick::AhoCorasick::new(&words).expect("keyword patterns are plain strings")
        });
        Keywords { matcher, label_of }
    }

    /// Labels with at least one keyword in `text`, each once.
    fn labels_in(&self, text: &str) -> Vec<Label> {
        let Some(m) = &self.matcher else {
            return Vec::new();
        };
        let mut out: Vec<Label> = m
            .find_overlapping_iter(text)
            .map(|h| self.label_of[h.pattern().as_usize()])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn fnv(prefix: u8, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ prefix as u64;
    h = h.wrapping_mul(0x100_0000_01b3);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

fn push_char_ngrams(out: &mut Vec<(u64, f32)>, prefix: u8, chars: &[char], n: usize, w: f32) {
    // hashes the chars of each window directly: no string per n-gram
    let hash = |win: &[char]| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (prefix as u64) ^ ((n as u64) << 8);
        for c in win {
            h ^= *c as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h
    };
    if chars.len() < n {
        if !chars.is_empty() && n == 2 {
            out.push((hash(chars), w));
        }
        return;
    }
    for win in chars.windows(n) {
        out.push((hash(win), w));
    }
}

/// A hasher for keys that are already hashes: passes them through.
#[derive(Default, Clone, Copy)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ *b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type FeatureIndex = HashMap<u64, u32, std::hash::BuildHasherDefault<PassThrough>>;

// Relative weights of the feature groups (chosen by cross-validation, `intents cv`).
const W_CONTENT: f32 = 1.0;
const W_FUNCTION: f32 = 0.35;
const W_PAIR: f32 = 0.5;
const W_CHAR2: f32 = 0.45;
const W_CHAR3: f32 = 0.35;
const W_READING: f32 = 0.3;
const W_CONCEPT: f32 = 1.2;
const W_KEYWORD: f32 = 1.0;

/// Turns an analysis into a unit-length sparse feature vector.
pub fn featurize(a: &Analysis, keywords: &Keywords) -> Features {
    let mut f: Vec<(u64, f32)> = Vec::with_capacity(96);
    // lemmas and lemma pairs
    let mut prev: Option<&str> = None;
    let mut rchars: Vec<char> = Vec::with_capacity(64);
    for t in &a.tokens {
        if t.pos == Pos::Symbol {
            prev = None;
            continue;
        }
        let w = if t.pos.is_content() {
            W_CONTENT
        } else {
            W_FUNCTION
        };
        f.push((fnv(b'w', &[&t.lemma]), w));
        if let Some(p) = prev {
            f.push((fnv(b'b', &[p, &t.lemma]), W_PAIR));
        }
        prev = Some(&t.lemma);
        rchars.extend(t.reading.chars().filter(|c| !super::text::is_separator(*c)));
    }
    // kana-folded character n-grams of the compact text: typo- and script-tolerant
    let compact: Vec<char> = a
        .text
        .as_str()
        .chars()
        .filter(|c| !super::text::is_separator(*c))
        .map(hiragana_char)
        .collect();
    push_char_ngrams(&mut f, b'2', &compact, 2, W_CHAR2);
    push_char_ngrams(&mut f, b'3', &compact, 3, W_CHAR3);
    // reading bigrams: 感染 and かんせん meet here
    push_char_ngrams(&mut f, b'r', &rchars, 2, W_READING);
    // domain concepts
    for c in &a.concepts {
        f.push((fnv(b'k', &[c]), W_CONCEPT));
    }
    // intent keywords
    for label in keywords.labels_in(a.text.as_str()) {
        f.push((fnv(b'K', &[label.as_str()]), W_KEYWORD));
    }
    // merge duplicates, then unit length
    f.sort_unstable_by_key(|x| x.0);
    let mut merged = f;
    merged.dedup_by(|next, kept| {
        let same = next.0 == kept.0;
        if same {
            kept.1 += next.1;
        }
        same
    });
    let norm = merged.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut merged {
            x.1 /= norm;
        }
    }
    merged
}

/// Ranked intents for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// All labels, most probable first; probabilities sum to 1.
    pub ranked: Vec<(Label, f32)>,
    /// Share (0..1) of the message's feature weight that the model has seen in
    /// training. Low coverage means "nothing close" whatever the ranking says.
    pub coverage: f32,
}

impl Prediction {
    pub fn top(&self) -> Label {
        self.ranked[0].0
    }
    pub fn confidence(&self) -> f32 {
        self.ranked[0].1
    }
    pub fn prob(&self, l: Label) -> f32 {
        self.ranked
            .iter()
            .find(|x| x.0 == l)
            .map(|x| x.1)
            .unwrap_or(0.0)
    }
}

/// Training settings; the defaults are what the shipped model uses.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 40,
            learning_rate: 0.8,
            l2: 1e-5,
        }
    }
}

/// A trained multinomial logistic regression over hashed sparse features.
#[derive(Debug, Clone)]
pub struct Classifier {
    index: FeatureIndex,
    /// Inverse document frequency per feature: rare features weigh more.
    idf: Vec<f32>,
    weights: Vec<[f32; N]>,
    bias: [f32; N],
    keywords: Keywords,
}

impl Classifier {
    /// Trains on (label, features) pairs. Deterministic for a given input order.
    pub fn train(data: &[(Label, Features)], keywords: Keywords, cfg: TrainConfig) -> Classifier {
        let mut index = FeatureIndex::default();
        for (_, f) in data {
            for (k, _) in f {
                let next = index.len() as u32;
                index.entry(*k).or_insert(next);
            }
        }
        let mut df = vec![0u32; index.len()];
        for (_, f) in data {
            for (k, _) in f {
                df[index[k] as usize] += 1;
            }
        }
        let n_docs = data.len() as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|d| ((n_docs + 1.0) / (*d as f32 + 1.0)).ln() + 1.0)
            .collect();
        let mut weights = vec![[0f32; N]; index.len()];
        let mut bias = [0f32; N];
        // pre-resolve feature ids, weigh by idf, unit length
        let rows: Vec<(usize, Vec<(usize, f32)>)> = data
            .iter()
            .map(|(l, f)| {
                (
                    l.index(),
                    weigh(f.iter().map(|(k, w)| (index[k] as usize, *w)), &idf),
                )
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let total_steps = (cfg.epochs * rows.len()).max(1) as f32;
        let mut step = 0f32;
        for _ in 0..cfg.epochs {
            // Fisher-Yates with a fixed LCG: same shuffle every run
            for i in (1..order.len()).rev() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let j = (seed >> 33) as usize % (i + 1);
                order.swap(i, j);
            }
            for &r in &order {
                let (y, x) = &rows[r];
                let lr = cfg.learning_rate * (1.0 - step / total_steps).max(0.05);
                step += 1.0;
                let mut logits = bias;
                for (fi, w) in x {
                    for c in 0..N {
                        logits[c] += weights[*fi][c] * w;
                    }
                }
                let p = softmax(&logits);
                for c in 0..N {
                    let g = p[c] - if c == *y { 1.0 } else { 0.0 };
                    bias[c] -= lr * g * 0.1;
                    for (fi, w) in x {
                        let wt = &mut weights[*fi][c];
                        *wt -= lr * (g * w + cfg.l2 * *wt);
                    }
                }
            }
        }
        Classifier {
            index,
            idf,
            weights,
            bias,
            keywords,
        }
    }

    pub fn keywords(&self) -> &Keywords {
        &self.keywords
    }

    pub fn features(&self, a: &Analysis) -> Features {
        featurize(a, &self.keywords)
    }

    /// Ranks every label for an analysed message.
    pub fn predict(&self, a: &Analysis) -> Prediction {
        self.predict_features(&self.features(a))
    }

    pub fn predict_features(&self, f: &Features) -> Prediction {
        // one pass: the idf-weighted vector is scaled to unit length at the end (the
        // logits are linear in it), so no weighted copy is built
        let mut acc = [0f32; N];
        let (mut known, mut norm2) = (0f32, 0f32);
        for (k, w) in f {
            let Some(&i) = self.index.get(k) else {
                continue;
            };
            known += w * w;
            let x = w * self.idf[i as usize];
            norm2 += x * x;
            let row = &self.weights[i as usize];
            for c in 0..N {
                acc[c] += row[c] * x;
            }
        }
        let inv = if norm2 > 0.0 {
            norm2.sqrt().recip()
        } else {
            0.0
        };
        let mut logits = self.bias;
        for c in 0..N {
            logits[c] += acc[c] * inv;
        }
        let p = softmax(&logits);
        let mut ranked: Vec<(Label, f32)> = Label::ALL.iter().map(|l| (*l, p[l.index()])).collect();
        ranked.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
        Prediction {
            ranked,
            coverage: known,
        }
    }

    pub fn feature_count(&self) -> usize {
        self.index.len()
    }
}

/// Multiplies each known feature by its idf and scales the vector to unit length.
fn weigh(ids: impl Iterator<Item = (usize, f32)>, idf: &[f32]) -> Vec<(usize, f32)> {
    let mut v: Vec<(usize, f32)> = ids.map(|(i, w)| (i, w * idf[i])).collect();
    let norm = v.iter().map(|x| x.1 * x.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            x.1 /= norm;
        }
    }
    v
}

fn softmax(logits: &[f32; N]) -> [f32; N] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut out = [0f32; N];
    let mut sum = 0f32;
    for c in 0..N {
        out[c] = (logits[c] - max).exp();
        sum += out[c];
    }
    for v in &mut out {
        *v /= sum;
    }
    out
}
