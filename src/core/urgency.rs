//! Urgency, separate from the intent: an incident happening now or just discovered,
//! systems down, data leaking, or an alarm word → urgent; hypotheticals, preparation,
//! negations, calm markers, questions about the rules for a case, and past, resolved
//! incidents → not urgent.
//!
//! The cue patterns are data (`dictionaries/urgency.toml`), regexes over normalised text.

use regex::{Regex, RegexSet};
use serde::Deserialize;

use super::analysis::Analysis;
use super::intents::ContentError;

/// The decision and the cues that led to it (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urgency {
    pub urgent: bool,
    /// Which cue groups matched, e.g. ["incident", "hypothetical"].
    pub cues: Vec<&'static str>,
}

/// Compiled cue groups.
#[derive(Debug, Clone)]
pub struct UrgencyRules {
    alarm: RegexSet,
    incident: RegexSet,
    ongoing: RegexSet,
    hypothetical: RegexSet,
    strong_hypothetical: RegexSet,
    narrative: RegexSet,
    negated: RegexSet,
    calm: RegexSet,
    inquiry: RegexSet,
    past: RegexSet,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    alarm: toml::Spanned<Vec<String>>,
    incident: toml::Spanned<Vec<String>>,
    ongoing: toml::Spanned<Vec<String>>,
    hypothetical: toml::Spanned<Vec<String>>,
    narrative: toml::Spanned<Vec<String>>,
    negated: toml::Spanned<Vec<String>>,
    calm: toml::Spanned<Vec<String>>,
    inquiry: toml::Spanned<Vec<String>>,
    past: toml::Spanned<Vec<String>>,
}

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

fn compile(file: &str, src: &str, name: &str, pats: &toml::Spanned<Vec<String>>, errs: &mut Vec<ContentError>) -> RegexSet {
    let base = line_of(src, pats.span().start);
    for (i, p) in pats.get_ref().iter().enumerate() {
        if let Err(e) = Regex::new(p) {
            // locate the pattern's own line when possible
            let line = src.find(p.as_str()).map(|b| line_of(src, b)).unwrap_or(base + i);
            errs.push(ContentError::new(file, line, format!("{name}: bad pattern {p:?}: {e}")));
        }
    }
    RegexSet::new(pats.get_ref()).unwrap_or_else(|_| RegexSet::empty())
}

impl UrgencyRules {
    pub fn parse(file: &str, src: &str) -> Result<Self, Vec<ContentError>> {
        let raw: Raw = toml::from_str(src).map_err(|e| {
            vec![ContentError::new(file, e.span().map(|s| line_of(src, s.start)).unwrap_or(0), e.message().to_string())]
        })?;
        let mut errs = Vec::new();
        let rules = UrgencyRules {
            alarm: compile(file, src, "alarm", &raw.alarm, &mut errs),
            incident: compile(file, src, "incident", &raw.incident, &mut errs),
            ongoing: compile(file, src, "ongoing", &raw.ongoing, &mut errs),
            hypothetical: compile(file, src, "hypothetical", &raw.hypothetical, &mut errs),
            strong_hypothetical: RegexSet::new(["(^|[^か])もし", "万が一", "万一", "仮に"]).expect("fixed patterns compile"),
            narrative: compile(file, src, "narrative", &raw.narrative, &mut errs),
            negated: compile(file, src, "negated", &raw.negated, &mut errs),
            calm: compile(file, src, "calm", &raw.calm, &mut errs),
            inquiry: compile(file, src, "inquiry", &raw.inquiry, &mut errs),
            past: compile(file, src, "past", &raw.past, &mut errs),
        };
        if errs.is_empty() {
            Ok(rules)
        } else {
            Err(errs)
        }
    }

    /// Decides urgency for one analysed message.
    pub fn assess(&self, a: &Analysis) -> Urgency {
        self.assess_text(a.text.as_str())
    }

    /// Decides urgency for normalised text.
    pub fn assess_text(&self, t: &str) -> Urgency {
        let mut cues = Vec::new();
        let mut hit = |set: &RegexSet, name: &'static str| {
            let m = set.is_match(t);
            if m {
                cues.push(name);
            }
            m
        };
        let alarm = hit(&self.alarm, "alarm");
        let incident = hit(&self.incident, "incident");
        if !alarm && !incident {
            // nothing else can make a message urgent: skip the other cue groups
            return Urgency { urgent: false, cues };
        }
        let ongoing = hit(&self.ongoing, "ongoing");
        let narrative = hit(&self.narrative, "narrative");
        let strong = self.strong_hypothetical.is_match(t);
        let hypothetical = hit(&self.hypothetical, "hypothetical") && (strong || !narrative);
        let negated = hit(&self.negated, "negated");
        let calm = hit(&self.calm, "calm");
        let inquiry = hit(&self.inquiry, "inquiry");
        let past = hit(&self.past, "past");
        let urgent = if calm {
            false
        } else if alarm {
            // 「助けて」 is urgent unless the whole message is a what-if
            !(hypothetical && !incident)
        } else if incident {
            !hypothetical && !negated && (!(past || inquiry) || ongoing)
        } else {
            false
        };
        Urgency { urgent, cues }
    }
}
