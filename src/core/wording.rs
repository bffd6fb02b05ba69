//! The conversation's words as data (`dictionaries/dialogue.toml`): the word lists the
//! dialogue listens for (yes/no, corrections, own case, money, follow-up markers) and
//! the sentences it says around the intents' answers. Validated at load; errors name
//! the file and line.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::intents::ContentError;

/// Word lists, each one concept, in normalised form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub yes: Vec<String>,
    pub no: Vec<String>,
    pub unsure: Vec<String>,
    pub stop: Vec<String>,
    pub correction: Vec<String>,
    pub own_case: Vec<String>,
    pub money: Vec<String>,
    pub general: Vec<String>,
    pub discovery: Vec<String>,
    pub start: Vec<String>,
    pub anaphora: Vec<String>,
    pub hotline_reach: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub followup_max_chars: usize,
}

/// Reply sentences with `{placeholders}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub urgent_header: String,
    pub urgent_closed: String,
    pub urgent_prepare: String,
    pub urgent_assess_choice: String,
    pub past_incident_note: String,
    pub handoff: String,
    pub offer_human: String,
    pub offer_human_yes: String,
    pub offer_human_no: String,
    pub staff_handling: String,
    pub assess_intro: String,
    pub assess_reask: String,
    pub assess_resume: String,
    pub assess_more: String,
    pub assess_correct: String,
    pub assess_stopped: String,
    pub ask_membership: String,
    pub ask_incident_kind: String,
    pub ask_incident_date: String,
    pub ask_closure: String,
    pub clarify: String,
    pub clarify_none: String,
    pub foreign: String,
    pub other_questions: String,
    pub empty: String,
    pub symbols_only: String,
    pub bad_input_hotline: String,
    pub truncated: String,
}

/// The quick replies offered with each question of the eligibility check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotChoices {
    pub membership: Vec<String>,
    pub incident_kind: Vec<String>,
    pub incident_date: Vec<String>,
    pub closure: Vec<String>,
}

/// Everything in `dictionaries/dialogue.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wording {
    pub words: Words,
    pub limits: Limits,
    pub texts: Texts,
    pub choices: SlotChoices,
}

const PLACEHOLDERS: &[&str] = &["hotline", "status", "question", "max"];

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The `{name}` placeholders of a template, in order.
pub fn placeholders(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Fills `{name}` placeholders; unknown names stay as they are (load-time validation
/// makes sure there are none).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

impl Wording {
    pub fn parse(file: &str, src: &str) -> Result<Wording, Vec<ContentError>> {
        let w: Wording = toml::from_str(src).map_err(|e| {
            vec![ContentError::new(
                file,
                e.span().map(|s| line_of(src, s.start)).unwrap_or(0),
                e.message().to_string(),
            )]
        })?;
        let mut errs = Vec::new();
        let line = |needle: &str| src.find(needle).map(|b| line_of(src, b)).unwrap_or(0);
        let lists: [(&str, &Vec<String>); 12] = [
            ("discovery", &w.words.discovery),
            ("yes", &w.words.yes),
            ("no", &w.words.no),
            ("unsure", &w.words.unsure),
            ("stop", &w.words.stop),
            ("correction", &w.words.correction),
            ("own_case", &w.words.own_case),
            ("money", &w.words.money),
            ("general", &w.words.general),
            ("start", &w.words.start),
            ("anaphora", &w.words.anaphora),
            ("hotline_reach", &w.words.hotline_reach),
        ];
        for (name, list) in lists {
            if list.is_empty() {
                errs.push(ContentError::new(
                    file,
                    line(&format!("{name} =")),
                    format!("words.{name} is empty"),
                ));
            }
            for word in list {
                if word.trim().is_empty()
                    || word.to_lowercase() != *word
                    || word.chars().any(|c| c.is_whitespace())
                {
                    errs.push(ContentError::new(
                        file,
                        line(&format!("\"{word}\"")),
                        format!("words.{name}: {word:?} must be written normalised (lower case, no spaces)"),
                    ));
                }
            }
        }
        let mut texts: BTreeMap<&str, &str> = BTreeMap::new();
        let t = &w.texts;
        for (k, v) in [
            ("urgent_header", &t.urgent_header),
            ("urgent_closed", &t.urgent_closed),
            ("urgent_prepare", &t.urgent_prepare),
            ("urgent_assess_choice", &t.urgent_assess_choice),
            ("past_incident_note", &t.past_incident_note),
            ("handoff", &t.handoff),
            ("offer_human", &t.offer_human),
            ("offer_human_yes", &t.offer_human_yes),
            ("offer_human_no", &t.offer_human_no),
            ("staff_handling", &t.staff_handling),
            ("assess_intro", &t.assess_intro),
            ("assess_reask", &t.assess_reask),
            ("assess_resume", &t.assess_resume),
            ("assess_more", &t.assess_more),
            ("assess_correct", &t.assess_correct),
            ("assess_stopped", &t.assess_stopped),
            ("ask_membership", &t.ask_membership),
            ("ask_incident_kind", &t.ask_incident_kind),
            ("ask_incident_date", &t.ask_incident_date),
            ("ask_closure", &t.ask_closure),
            ("clarify", &t.clarify),
            ("clarify_none", &t.clarify_none),
            ("foreign", &t.foreign),
            ("other_questions", &t.other_questions),
            ("empty", &t.empty),
            ("symbols_only", &t.symbols_only),
            ("bad_input_hotline", &t.bad_input_hotline),
            ("truncated", &t.truncated),
        ] {
            texts.insert(k, v.as_str());
        }
        for (k, v) in &texts {
            if v.trim().is_empty() {
                errs.push(ContentError::new(
                    file,
                    line(&format!("{k} =")),
                    format!("texts.{k} is empty"),
                ));
            }
            for p in placeholders(v) {
                if !PLACEHOLDERS.contains(&p) {
                    errs.push(ContentError::new(
                        file,
                        line(&format!("{k} =")),
                        format!(
                            "texts.{k}: unknown placeholder {{{p}}} (known: {})",
                            PLACEHOLDERS.join(", ")
                        ),
                    ));
                }
            }
        }
        // the hotline comes first in every urgent reply: the header must start with it
        let header_hotline = t.urgent_header.find("{hotline}");
        if header_hotline.is_none_or(|i| t.urgent_header[..i].chars().count() > 60) {
            errs.push(ContentError::new(
                file,
                line("urgent_header ="),
                "texts.urgent_header must give {hotline} within its first 60 characters",
            ));
        }
        for (name, list) in [
            ("membership", &w.choices.membership),
            ("incident_kind", &w.choices.incident_kind),
            ("incident_date", &w.choices.incident_date),
            ("closure", &w.choices.closure),
        ] {
            if list.len() < 2 {
                errs.push(ContentError::new(
                    file,
                    line(&format!("{name} = [")),
                    format!("choices.{name} needs at least two choices"),
                ));
            }
        }
        if errs.is_empty() {
            Ok(w)
        } else {
            Err(errs)
        }
    }

    /// True when the compact text is one of `words` (or starts with it and adds at most
    /// a few characters: 「はい、そうです」「いいえ違います」).
    pub fn is_one_of(compact: &str, words: &[String]) -> bool {
        words.iter().any(|w| {
            compact == w
                || (compact.starts_with(w.as_str())
                    && compact.chars().count() <= w.chars().count() + 4)
        })
    }

    pub fn contains_any(text: &str, words: &[String]) -> bool {
        words.iter().any(|w| text.contains(w.as_str()))
    }

    pub fn starts_with_any(text: &str, words: &[String]) -> bool {
        words.iter().any(|w| text.starts_with(w.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_in_order() {
        assert_eq!(
            placeholders("a {hotline} b {status}"),
            ["hotline", "status"]
        );
        assert_eq!(fill("x {hotline}", &[("hotline", "0120")]), "x 0120");
    }

    #[test]
    fn the_shipped_file_parses() {
        let src = include_str!("../../dictionaries/dialogue.toml");
        Wording::parse("dictionaries/dialogue.toml", src).unwrap();
    }

    #[test]
    fn unknown_placeholder_names_its_line() {
        let src = include_str!("../../dictionaries/dialogue.toml")
            .replace("urgent_closed = \"", "urgent_closed = \"{nope}");
        let errs = Wording::parse("d.toml", &src).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.to_string().contains("{nope}") && e.line > 1),
            "{errs:?}"
        );
    }
}
