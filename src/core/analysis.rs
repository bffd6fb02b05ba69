//! One message, analysed once: normalised text, tokens and the domain concepts it
//! mentions (from the synonym table). Every later stage reads an [`Analysis`].

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::intents::ContentError;
use super::text::{NormalizedText, Normalizer};
use super::tokenize::{Token, Tokenizer};

/// A message after normalisation, tokenisation and concept tagging.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub text: NormalizedText,
    pub tokens: Vec<Token>,
    /// Concept ids found (sorted, unique), e.g. "malware", "leak", "hotline".
    pub concepts: Vec<String>,
}

impl Analysis {
    pub fn has_concept(&self, id: &str) -> bool {
        self.concepts
            .binary_search_by(|c| c.as_str().cmp(id))
            .is_ok()
    }
}

/// The synonym table: many surface terms → one concept id.
#[derive(Debug, Clone)]
pub struct Synonyms {
    matcher: Option<AhoCorasick>,
    /// concept id for each pattern index
    concept_of: Vec<usize>,
    concepts: Vec<String>,
    terms: Vec<String>,
}

impl Synonyms {
    pub fn empty() -> Self {
        Synonyms {
            matcher: None,
            concept_of: Vec::new(),
            concepts: Vec::new(),
            terms: Vec::new(),
        }
    }

    /// Parses `concept<TAB>term, term, …` lines; `#` starts a comment.
    pub fn parse(file: &str, src: &str, norm: &Normalizer) -> Result<Self, Vec<ContentError>> {
        let mut errs = Vec::new();
        let mut concepts: Vec<String> = Vec::new();
        let mut terms = Vec::new();
        let mut concept_of = Vec::new();
        for (i, line) in src.lines().enumerate() {
            let line_no = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((concept, list)) = line.split_once('\t') else {
                errs.push(ContentError::new(
                    file,
                    line_no,
                    "expected `concept<TAB>term, term, …`",
                ));
                continue;
            };
            let concept = concept.trim();
            if concept.is_empty()
                || !concept
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            {
                errs.push(ContentError::new(
                    file,
                    line_no,
                    format!("concept id {concept:?} must be lower-case ascii"),
                ));
                continue;
            }
            let idx = match concepts.iter().position(|c| c == concept) {
                Some(p) => p,
                None => {
                    concepts.push(concept.to_string());
                    concepts.len() - 1
                }
            };
            let mut n = 0;
            for term in list.split([',', '、']) {
                let t = norm.normalize(term.trim());
                if t.is_empty() {
                    continue;
                }
                let t = t.as_str().to_string();
                if let Some(p) = terms.iter().position(|x: &String| *x == t) {
                    if concept_of[p] != idx {
                        errs.push(ContentError::new(
                            file,
                            line_no,
                            format!(
                                "term {t:?} already belongs to concept {}",
                                concepts[concept_of[p]]
                            ),
                        ));
                    }
                    continue;
                }
                terms.push(t);
                concept_of.push(idx);
                n += 1;
            }
            if n == 0 {
                errs.push(ContentError::new(
                    file,
                    line_no,
                    format!("concept {concept} lists no terms"),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let matcher = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&terms)
                    .map_err(|e| vec![ContentError::new(file, 0, e.to_string())])?,
            )
        };
        Ok(Synonyms {
            matcher,
            concept_of,
            concepts,
            terms,
        })
    }

    /// Concept ids mentioned in `text`, sorted and unique.
    pub fn concepts_in(&self, text: &str) -> Vec<String> {
        let Some(m) = &self.matcher else {
            return Vec::new();
        };
        let mut out: Vec<String> = m
            .find_iter(text)
            .map(|h| self.concepts[self.concept_of[h.pattern().as_usize()]].clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn concept_names(&self) -> &[String] {
        &self.concepts
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }
}

/// Normaliser + tokenizer + synonyms: turns raw text into an [`Analysis`].
#[derive(Debug, Clone)]
pub struct Analyzer {
    pub normalizer: Normalizer,
    pub tokenizer: Tokenizer,
    pub synonyms: Synonyms,
}

impl Analyzer {
    pub fn analyze(&self, raw: &str) -> Analysis {
        let text = self.normalizer.normalize(raw);
        self.analyze_normalized(text)
    }

    pub fn analyze_normalized(&self, text: NormalizedText) -> Analysis {
        let tokens = self.tokenizer.tokenize(&text);
        let concepts = self.synonyms.concepts_in(text.as_str());
        Analysis {
            text,
            tokens,
            concepts,
        }
    }
}
