//! The intent data model (`intents/*.toml`) and its validation. Parsing only: reading
//! files is `crate::content`'s job; this module turns text into checked [`IntentDef`]s
//! with errors that name the file and line.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::label::Label;
use super::text::Normalizer;

/// A problem in a content file, located to a line (1-based; 0 = whole file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ContentError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ContentError {
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> Self {
        ContentError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// A more specific answer inside an intent, chosen when one of its keywords appears
/// in the (normalised) message. E.g. the hotline intent's "open on Sundays?" facet.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// Stable FAQ id suffix (`hours` → FAQ id `hotline.hours`); optional in the file.
    pub id: Option<String>,
    /// The representative question for this facet (FAQ entry).
    pub question: String,
    pub keywords: Vec<String>,
    pub answer: String,
}

/// One training example with the line it was written on.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub line: usize,
}

/// One intent, as loaded from `intents/<id>.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentDef {
    pub label: Label,
    pub file: String,
    pub title: String,
    pub category: String,
    /// The representative question (first FAQ question).
    pub question: String,
    pub answer: String,
    pub facets: Vec<Facet>,
    pub examples: Vec<Example>,
    /// Words that, when present, push the classifier towards this intent.
    pub keywords: Vec<String>,
    pub related: Vec<Label>,
    /// FACTS.md sections the answer rests on.
    pub sources: Vec<String>,
    pub source_url: String,
    /// Last-changed date, YYYY-MM-DD.
    pub updated: String,
}

impl IntentDef {
    /// The answer for a message: the first facet whose keyword occurs, else the main one.
    pub fn answer_for(&self, normalized: &str) -> &str {
        self.facet_for(normalized)
            .map(|f| f.answer.as_str())
            .unwrap_or(&self.answer)
    }

    pub fn facet_for(&self, normalized: &str) -> Option<&Facet> {
        self.facets
            .iter()
            .find(|f| f.keywords.iter().any(|k| normalized.contains(k.as_str())))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFacet {
    #[serde(default)]
    id: Option<String>,
    question: String,
    keywords: Vec<String>,
    answer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    id: toml::Spanned<String>,
    title: String,
    category: String,
    question: String,
    answer: toml::Spanned<String>,
    #[serde(default)]
    facets: Vec<RawFacet>,
    examples: Vec<toml::Spanned<String>>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    related: Vec<toml::Spanned<String>>,
    sources: Vec<String>,
    source_url: String,
    updated: String,
}

/// Minimum number of examples per intent (the data contract in issue 2).
pub const MIN_EXAMPLES: usize = 15;

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Parses one intent file. `file` is the path shown in errors.
pub fn parse_intent(
    file: &str,
    src: &str,
    norm: &Normalizer,
) -> Result<IntentDef, Vec<ContentError>> {
    let raw: RawIntent = toml::from_str(src).map_err(|e| {
        let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(0);
        vec![ContentError::new(file, line, e.message().to_string())]
    })?;
    let mut errs = Vec::new();
    let id_line = line_of(src, raw.id.span().start);
    let label = match raw.id.get_ref().parse::<Label>() {
        Ok(l) => Some(l),
        Err(e) => {
            errs.push(ContentError::new(file, id_line, e.to_string()));
            None
        }
    };
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    if !stem.is_empty() && stem != raw.id.get_ref() {
        errs.push(ContentError::new(
            file,
            id_line,
            format!(
                "id {:?} does not match the file name {stem:?}",
                raw.id.get_ref()
            ),
        ));
    }
    if raw.answer.get_ref().trim().is_empty() {
        errs.push(ContentError::new(
            file,
            line_of(src, raw.answer.span().start),
            "answer is empty",
        ));
    }
    for (what, v) in [
        ("title", &raw.title),
        ("question", &raw.question),
        ("category", &raw.category),
        ("source_url", &raw.source_url),
    ] {
        if v.trim().is_empty() {
            errs.push(ContentError::new(file, 0, format!("{what} is empty")));
        }
    }
    if chrono::NaiveDate::parse_from_str(&raw.updated, "%Y-%m-%d").is_err() {
        errs.push(ContentError::new(
            file,
            0,
            format!("updated {:?} is not a YYYY-MM-DD date", raw.updated),
        ));
    }
    if raw.sources.is_empty() {
        errs.push(ContentError::new(
            file,
            0,
            "sources is empty: every answer must cite FACTS.md",
        ));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut examples = Vec::new();
    for ex in &raw.examples {
        let line = line_of(src, ex.span().start);
        let text = ex.get_ref().trim().to_string();
        if text.is_empty() {
            errs.push(ContentError::new(file, line, "empty example"));
            continue;
        }
        let key = norm.normalize(&text).compact();
        if let Some(first) = seen.insert(key, line) {
            errs.push(ContentError::new(
                file,
                line,
                format!("duplicate example {text:?} (same as line {first} after normalisation)"),
            ));
            continue;
        }
        examples.push(Example { text, line });
    }
    if examples.len() < MIN_EXAMPLES {
        errs.push(ContentError::new(
            file,
            0,
            format!(
                "only {} examples; at least {MIN_EXAMPLES} are needed",
                examples.len()
            ),
        ));
    }
    let mut related = Vec::new();
    for r in &raw.related {
        match r.get_ref().parse::<Label>() {
            Ok(l) => related.push(l),
            Err(e) => errs.push(ContentError::new(
                file,
                line_of(src, r.span().start),
                format!("related: {e}"),
            )),
        }
    }
    let facets: Vec<Facet> = raw
        .facets
        .into_iter()
        .map(|f| Facet {
            id: f.id,
            question: f.question,
            keywords: f
                .keywords
                .iter()
                .map(|k| norm.normalize(k).as_str().to_string())
                .collect(),
            answer: f.answer.trim().to_string(),
        })
        .collect();
    let mut facet_ids = std::collections::HashSet::new();
    for f in &facets {
        if let Some(id) = &f.id {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                errs.push(ContentError::new(
                    file,
                    0,
                    format!("facet id {id:?} must be lower-case ASCII letters, digits, _ or -"),
                ));
            } else if !facet_ids.insert(id.clone()) {
                errs.push(ContentError::new(
                    file,
                    0,
                    format!("facet id {id:?} is used twice"),
                ));
            }
        }
        if f.answer.is_empty() || f.keywords.is_empty() {
            errs.push(ContentError::new(
                file,
                0,
                format!("facet {:?} needs keywords and an answer", f.question),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(IntentDef {
        label: label.expect("no errors means the label parsed"),
        file: file.to_string(),
        title: raw.title,
        category: raw.category,
        question: raw.question,
        answer: raw.answer.into_inner().trim().to_string(),
        facets,
        examples,
        keywords: raw
            .keywords
            .iter()
            .map(|k| norm.normalize(k).as_str().to_string())
            .collect(),
        related,
        sources: raw.sources,
        source_url: raw.source_url,
        updated: raw.updated,
    })
}

/// Checks a whole set of intents: every label present once, and no example that means
/// one thing in one file and another thing in another (a conflict).
pub fn check_set(intents: &[IntentDef], norm: &Normalizer) -> Vec<ContentError> {
    let mut errs = Vec::new();
    let mut by_label: BTreeMap<Label, &IntentDef> = BTreeMap::new();
    for i in intents {
        if let Some(prev) = by_label.insert(i.label, i) {
            errs.push(ContentError::new(
                &i.file,
                0,
                format!("intent {} is also defined in {}", i.label, prev.file),
            ));
        }
    }
    for l in Label::ALL {
        if !by_label.contains_key(&l) {
            errs.push(ContentError::new(
                "intents/",
                0,
                format!("no intent file for label {l}"),
            ));
        }
    }
    let mut owner: HashMap<String, (&IntentDef, usize)> = HashMap::new();
    for i in intents {
        for ex in &i.examples {
            let key = norm.normalize(&ex.text).compact();
            if let Some((other, line)) = owner.get(&key) {
                if other.label != i.label {
                    errs.push(ContentError::new(
                        &i.file,
                        ex.line,
                        format!(
                            "example {:?} conflicts with {}:{} (labelled {})",
                            ex.text, other.file, line, other.label
                        ),
                    ));
                }
            } else {
                owner.insert(key, (i, ex.line));
            }
        }
    }
    errs
}
