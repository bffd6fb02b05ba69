//! Tokenisation with lindera (IPADIC + the domain user dictionary): surface, lemma
//! (base form), reading and a coarse part of speech for each token.
//!
//! The lindera tokenizer is built by `crate::engine` (building a user dictionary needs
//! a file); this module only uses it, so it does no I/O itself.

use std::sync::Arc;

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
        matches!(self, Pos::Noun | Pos::Verb | Pos::Adjective | Pos::Adverb | Pos::Unknown | Pos::Other)
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
type DetailCache = std::sync::Arc<std::sync::RwLock<std::collections::HashMap<u32, std::sync::Arc<WordInfo>>>>;
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
        Tokenizer { inner, cache: DetailCache::default() }
    }

    /// The wrapped lindera tokenizer (benchmarks compare against it directly).
    pub fn lindera(&self) -> &Lindera {
        &self.inner
    }

    /// Tokenises normalised text. Spaces and punctuation become no tokens.
    pub fn tokenize(&self, text: &NormalizedText) -> Vec<Token> {
        let s = text.as_str();
        let Ok(mut raw) = self.inner.tokenize(s) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(raw.len());
        for t in raw.iter_mut() {
            let surface = t.text;
            if surface.chars().all(super::text::is_separator) {
                continue;
            }
            if t.word_id.is_unknown() {
                let reading: Arc<str> = to_hiragana(surface).into();
                out.push(Token { surface: surface.to_string(), lemma: surface.into(), reading, pos: Pos::Unknown, domain: false });
                continue;
            }
            let domain = !t.word_id.is_system();
            let key = t.word_id.0 | if domain { 1 << 31 } else { 0 };
            let cached = self.cache.read().ok().and_then(|c| c.get(&key).cloned());
            let info = match cached {
                Some(i) => i,
                None => {
                    let info = std::sync::Arc::new(word_info(&t.get_details().unwrap_or_default(), domain));
                    if let Ok(mut c) = self.cache.write() {
                        if c.len() < DETAIL_CACHE_CAP {
                            c.insert(key, info.clone());
                        }
                    }
                    info
                }
            };
            let lemma = info.lemma.clone().unwrap_or_else(|| surface.into());
            let reading = info.reading.clone().unwrap_or_else(|| to_hiragana(surface).into());
            out.push(Token { surface: surface.to_string(), lemma, reading, pos: info.pos, domain });
        }
        out
    }
}

/// Lemma (None = the surface), reading (None = the surface in hiragana) and part of
/// speech from IPADIC details `[pos, *, *, *, conj, form, base, reading, pron]`.
fn word_info(details: &[&str], domain: bool) -> WordInfo {
    let pos = Pos::from_ipadic(details.first().copied().unwrap_or("UNK"));
    let field = |i: usize| details.get(i).copied().filter(|v| !v.is_empty() && *v != "*");
    WordInfo {
        // user-dictionary rows carry the surface as base form already
        lemma: if domain { None } else { field(6).map(Arc::from) },
        reading: field(7).map(|r| Arc::from(to_hiragana(r))),
        pos,
    }
}
