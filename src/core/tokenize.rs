//! Tokenisation with lindera (IPADIC + the domain user dictionary): surface, lemma
//! (base form), reading and a coarse part of speech for each token.
//!
//! The lindera tokenizer is built by `crate::engine` (building a user dictionary needs
//! a file); this module only uses it, so it does no I/O itself.

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
    /// Dictionary base form (感染し → 感染する); the surface when unknown.
    pub lemma: String,
    /// Reading in hiragana; the surface folded to hiragana when unknown.
    pub reading: String,
    pub pos: Pos,
    /// True when the token came from our domain user dictionary.
    pub domain: bool,
}

/// A ready lindera tokenizer with the domain dictionary loaded.
#[derive(Clone)]
pub struct Tokenizer {
    inner: Lindera,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokenizer(lindera IPADIC + domain dictionary)")
    }
}

impl Tokenizer {
    pub fn new(inner: Lindera) -> Self {
        Tokenizer { inner }
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
            let domain = !t.word_id.is_unknown() && !t.word_id.is_system();
            let details = t.get_details().unwrap_or_default();
            let pos = Pos::from_ipadic(details.first().copied().unwrap_or("UNK"));
            let (lemma, reading) = if domain {
                // simple user-dictionary rows: [pos, *, *, *, *, *, base, reading, *]
                (surface.to_string(), details.get(7).map(|r| to_hiragana(r)).unwrap_or_else(|| to_hiragana(surface)))
            } else if details.len() >= 8 {
                let lemma = match details[6] {
                    "*" | "" => surface,
                    l => l,
                };
                let reading = match details[7] {
                    "*" | "" => to_hiragana(surface),
                    r => to_hiragana(r),
                };
                (lemma.to_string(), reading)
            } else {
                (surface.to_string(), to_hiragana(surface))
            };
            out.push(Token { surface: surface.to_string(), lemma, reading, pos, domain });
        }
        out
    }
}
