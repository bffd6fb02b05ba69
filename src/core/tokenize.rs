//! Tokenisation with lindera (IPADIC + the domain user dictionary): surface, lemma
//! (base form), reading and a coarse part of speech for each token.
//!
//! The lindera tokenizer is built by `crate::engine` (building a user dictionary needs
//! a file); this module only uses it, so it does no I/O itself.

use std::sync::Arc;

use lindera_core::viterbi::Lattice;
use lindera_core::word_entry::WordId;
use lindera_tokenizer::tokenizer::Tokenizer as Lindera;

use super::text::{to_hiragana, NormalizedText};

/// Coarse part of speech, enough to pick features and skip noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pos {
    Noun,
    Verb,
    Adjective,
    Adverb,
    Particle,
    Auxiliary,
    Symbol,
    Other,
    /// Not in any dictionary.
    Unknown,
}

impl Pos {
    fn from_ipadic(tag: &str) -> Pos {
        match tag {
            "名詞" => Pos::Noun,
            "動詞" => Pos::Verb,
            "形容詞" => Pos::Adjective,
            "副詞" => Pos::Adverb,
            "助詞" => Pos::Particle,
            "助動詞" => Pos::Auxiliary,
            "記号" => Pos::Symbol,
            "UNK" => Pos::Unknown,
            // user dictionary entries carry their own tags (固有名詞, カスタム名詞 …)
            t if t.contains("名詞") => Pos::Noun,
            _ => Pos::Other,
        }
    }

    /// Content words carry the meaning of a question.
    pub fn is_content(self) -> bool {
        matches!(
            self,
            Pos::Noun | Pos::Verb | Pos::Adjective | Pos::Adverb | Pos::Unknown | Pos::Other
        )
    }
}

/// One token of a normalised message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub surface: String,
    /// Dictionary base form (感染し → 感染する); the surface when unknown. Shared with
    /// the word-detail cache, so a token costs no copy of it.
    pub lemma: Arc<str>,
    /// Reading in hiragana; the surface folded to hiragana when unknown.
    pub reading: Arc<str>,
    pub pos: Pos,
    /// True when the token came from our domain user dictionary.
    pub domain: bool,
}

/// Lemma, reading and part of speech of one dictionary word.
#[derive(Debug)]
struct WordInfo {
    lemma: Option<Arc<str>>,
    reading: Option<Arc<str>>,
    pos: Pos,
}

/// Word details by word id (user-dictionary ids have the top bit set). lindera decodes
/// a word's details anew on every lookup; members reuse a small vocabulary, so a
/// shared cache makes that cost disappear. Bounded: past the cap nothing is added.
type DetailCache =
    std::sync::Arc<std::sync::RwLock<std::collections::HashMap<u32, std::sync::Arc<WordInfo>>>>;
const DETAIL_CACHE_CAP: usize = 200_000;

/// A ready lindera tokenizer with the domain dictionary loaded.
#[derive(Clone)]
pub struct Tokenizer {
    inner: Lindera,
    cache: DetailCache,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokenizer(lindera IPADIC + domain dictionary)")
    }
}

impl Tokenizer {
    pub fn new(inner: Lindera) -> Self {
        Tokenizer {
            inner,
            cache: DetailCache::default(),
        }
    }

    /// The wrapped lindera tokenizer (benchmarks compare against it directly).
    pub fn lindera(&self) -> &Lindera {
        &self.inner
    }

    /// Tokenises normalised text. Spaces and punctuation become no tokens.
    ///
    /// Runs lindera's own Viterbi search (same dictionaries, same mode, same sentence
    /// split as `lindera::Tokenizer::tokenize`) on a lattice kept per thread: lindera
    /// allocates a fresh lattice for every call, which is most of its per-message cost
    /// on short messages.
    pub fn tokenize(&self, text: &NormalizedText) -> Vec<Token> {
        thread_local! {
            static LATTICE: std::cell::RefCell<Lattice> = std::cell::RefCell::new(Lattice::default());
        }
        let dict = &self.inner.dictionary;
        let user = self.inner.user_dictionary.as_ref().map(|d| &d.dict);
        let mode = &self.inner.mode;
        let mut out = Vec::new();
        LATTICE.with(|cell| {
            let mut lattice = cell.borrow_mut();
            for sentence in text.as_str().split_inclusive(['。', '、', '\n', '\t']) {
                lattice.set_text(
                    &dict.dict,
                    &user,
                    &dict.char_definitions,
                    &dict.unknown_dictionary,
                    sentence,
                    mode,
                );
                lattice.calculate_path_costs(&dict.cost_matrix, mode);
                let offsets = lattice.tokens_offset();
                for (i, &(start, word_id)) in offsets.iter().enumerate() {
                    let end = offsets.get(i + 1).map(|o| o.0).unwrap_or(sentence.len());
                    self.push_token(&mut out, &sentence[start..end], word_id);
                }
            }
        });
        out
    }

    fn push_token(&self, out: &mut Vec<Token>, surface: &str, word_id: WordId) {
        if surface.chars().all(super::text::is_separator) {
            return;
        }
        if word_id.is_unknown() {
            let reading: Arc<str> = to_hiragana(surface).into();
            out.push(Token {
                surface: surface.to_string(),
                lemma: surface.into(),
                reading,
                pos: Pos::Unknown,
                domain: false,
            });
            return;
        }
        let domain = !word_id.is_system();
        let key = word_id.0 | if domain { 1 << 31 } else { 0 };
        let cached = self.cache.read().ok().and_then(|c| c.get(&key).cloned());
        let info = match cached {
            Some(i) => i,
            None => {
                let info = std::sync::Arc::new(word_info(&self.details(word_id, domain), domain));
                if let Ok(mut c) = self.cache.write() {
                    if c.len() < DETAIL_CACHE_CAP {
                        c.insert(key, info.clone());
                    }
                }
                info
            }
        };
        let lemma = info.lemma.clone().unwrap_or_else(|| surface.into());
        let reading = info
            .reading
            .clone()
            .unwrap_or_else(|| to_hiragana(surface).into());
        out.push(Token {
            surface: surface.to_string(),
            lemma,
            reading,
            pos: info.pos,
            domain,
        });
    }

    fn details(&self, word_id: WordId, domain: bool) -> Vec<String> {
        let d = if domain {
            self.inner
                .user_dictionary
                .as_ref()
                .and_then(|u| u.word_details(word_id.0 as usize))
        } else {
            self.inner.dictionary.word_details(word_id.0 as usize)
        };
        d.unwrap_or_default()
    }
}

/// Lemma (None = the surface), reading (None = the surface in hiragana) and part of
/// speech from IPADIC details `[pos, *, *, *, conj, form, base, reading, pron]`.
fn word_info(details: &[String], domain: bool) -> WordInfo {
    let pos = Pos::from_ipadic(details.first().map(String::as_str).unwrap_or("UNK"));
    let field = |i: usize| {
        details
            .get(i)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && *v != "*")
    };
    WordInfo {
        // user-dictionary rows carry the surface as base form already
        lemma: if domain {
            None
        } else {
            field(6).map(Arc::from)
        },
        reading: field(7).map(|r| Arc::from(to_hiragana(r))),
        pos,
    }
}
