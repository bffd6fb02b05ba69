//! Urgency, separate from the intent. Urgent = an incident report (an attack, an
//! infection, a leak, systems down, suspicious activity noticed by anyone, changes
//! nobody made, warnings that keep coming) that is happening now or was just
//! discovered, and is not hypothetical, negated or over. Three questions, each from
//! its own evidence:
//!
//! - *what happened*: event cue groups (data: `dictionaries/urgency.toml`);
//! - *is it real*: hypothetical, negated and calm groups, narrative 「…たら…た」;
//! - *when*: the predicate's aspect read from lindera's tokens (ている/てる = going on,
//!   a present negative such as 開けない = a state now, た = done), time words
//!   (さっき, 今朝 → now; 去年, 以前 → past), and the incident date the fact extractor
//!   resolves (an incident more than [`PAST_AFTER_DAYS`] days ago is past unless it
//!   still goes on).

use chrono::NaiveDate;
use regex::{Regex, RegexSet};
use serde::Deserialize;

use super::analysis::Analysis;
use super::intents::ContentError;
use super::text::to_hiragana;
use super::tokenize::{Pos, Token};

/// An incident dated more than this many days before today is past (unless it goes on).
pub const PAST_AFTER_DAYS: i64 = 14;

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
    third_party: RegexSet,
    changed: RegexSet,
    warnings: RegexSet,
    recent: RegexSet,
    resolved: RegexSet,
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
    third_party: toml::Spanned<Vec<String>>,
    changed: toml::Spanned<Vec<String>>,
    warnings: toml::Spanned<Vec<String>>,
    recent: toml::Spanned<Vec<String>>,
    resolved: toml::Spanned<Vec<String>>,
    ongoing: toml::Spanned<Vec<String>>,
    hypothetical: toml::Spanned<Vec<String>>,
    narrative: toml::Spanned<Vec<String>>,
    negated: toml::Spanned<Vec<String>>,
    calm: toml::Spanned<Vec<String>>,
    inquiry: toml::Spanned<Vec<String>>,
    past: toml::Spanned<Vec<String>>,
}

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn compile(
    file: &str,
    src: &str,
    name: &str,
    pats: &toml::Spanned<Vec<String>>,
    errs: &mut Vec<ContentError>,
) -> RegexSet {
    let base = line_of(src, pats.span().start);
    for (i, p) in pats.get_ref().iter().enumerate() {
        if let Err(e) = Regex::new(p) {
            // locate the pattern's own line when possible
            let line = src
                .find(p.as_str())
                .map(|b| line_of(src, b))
                .unwrap_or(base + i);
            errs.push(ContentError::new(
                file,
                line,
                format!("{name}: bad pattern {p:?}: {e}"),
            ));
        }
    }
    // matched on hiragana-folded text, so 「らんさむ」「かるて」 typed in kana match too
    RegexSet::new(pats.get_ref().iter().map(|p| to_hiragana(p)))
        .unwrap_or_else(|_| RegexSet::empty())
}

impl UrgencyRules {
    pub fn parse(file: &str, src: &str) -> Result<Self, Vec<ContentError>> {
        let raw: Raw = toml::from_str(src).map_err(|e| {
            vec![ContentError::new(
                file,
                e.span().map(|s| line_of(src, s.start)).unwrap_or(0),
                e.message().to_string(),
            )]
        })?;
        let mut errs = Vec::new();
        let rules = UrgencyRules {
            alarm: compile(file, src, "alarm", &raw.alarm, &mut errs),
            incident: compile(file, src, "incident", &raw.incident, &mut errs),
            third_party: compile(file, src, "third_party", &raw.third_party, &mut errs),
            changed: compile(file, src, "changed", &raw.changed, &mut errs),
            warnings: compile(file, src, "warnings", &raw.warnings, &mut errs),
            recent: compile(file, src, "recent", &raw.recent, &mut errs),
            resolved: compile(file, src, "resolved", &raw.resolved, &mut errs),
            ongoing: compile(file, src, "ongoing", &raw.ongoing, &mut errs),
            hypothetical: compile(file, src, "hypothetical", &raw.hypothetical, &mut errs),
            strong_hypothetical: RegexSet::new([
                "(^|[^か])もし([^てたまなくょ]|$)",
                "万が一",
                "万一",
                "仮に",
            ])
            .expect("fixed patterns compile"),
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

    /// Decides urgency for one analysed message, dates resolved against `today`.
    pub fn assess(&self, a: &Analysis, today: NaiveDate) -> Urgency {
        self.decide(a.text.as_str(), Some(&a.tokens), today)
    }

    /// Decides urgency for normalised text without tokens (aspect from cue words only).
    pub fn assess_text(&self, t: &str) -> Urgency {
        self.decide(
            t,
            None,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
        )
    }

    fn decide(&self, text: &str, tokens: Option<&[Token]>, today: NaiveDate) -> Urgency {
        let folded = to_hiragana(text);
        let t = folded.as_str();
        let mut cues = Vec::new();
        let mut hit = |set: &RegexSet, name: &'static str| {
            let m = set.is_match(t);
            if m {
                cues.push(name);
            }
            m
        };
        // what happened
        let alarm = hit(&self.alarm, "alarm");
        let incident = hit(&self.incident, "incident");
        let third_party = hit(&self.third_party, "third_party");
        let changed = hit(&self.changed, "changed");
        let warnings = hit(&self.warnings, "warnings");
        let event = incident || third_party || changed || warnings;
        if !alarm && !event {
            // nothing else can make a message urgent: skip the other cue groups
            return Urgency {
                urgent: false,
                cues,
            };
        }
        // is it real
        let narrative = hit(&self.narrative, "narrative");
        let strong = self.strong_hypothetical.is_match(t);
        // a reported observation (「…から、…って」) is not a what-if either
        let hypothetical =
            hit(&self.hypothetical, "hypothetical") && (strong || !(narrative || third_party));
        let negated = hit(&self.negated, "negated");
        let calm = hit(&self.calm, "calm");
        let inquiry = hit(&self.inquiry, "inquiry");
        // when
        let ongoing_words = hit(&self.ongoing, "ongoing");
        let recent = hit(&self.recent, "recent");
        let past_words = hit(&self.past, "past");
        let resolved = hit(&self.resolved, "resolved");
        let aspect = tokens.map(aspect_of).unwrap_or_default();
        if aspect.going_on {
            cues.push("aspect_now");
        }
        let dated_past = super::facts::incident_date(text, today)
            .is_some_and(|d| (today - d.last).num_days() > PAST_AFTER_DAYS);
        if dated_past {
            cues.push("dated_past");
        }
        let past = past_words || dated_past || resolved;
        let ongoing = ongoing_words || (aspect.going_on && !resolved && (!past || recent));
        let over = past && !ongoing;
        let urgent = if calm {
            false
        } else if alarm {
            // 「助けて」 is urgent unless the message is a what-if or over
            !(hypothetical || (over && event))
        } else if hypothetical || negated || over {
            false
        } else {
            !inquiry || ongoing
        };
        Urgency { urgent, cues }
    }
}

/// The aspect of the message's predicates, read from lindera's tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aspect {
    /// A predicate in the present progressive (している/してる/しています) or a present
    /// negative state (開けない, 動かない, 使えません): something going on now.
    pub going_on: bool,
}

/// Verbs whose negative describes a broken state: potential forms (開ける, 使える,
/// 見られる, できる) and verbs of working, running, connecting, stopping.
fn is_state_verb(prev: Option<&Token>, t: &Token) -> bool {
    let l = &*t.lemma;
    if l == "できる" || l == "出来る" {
        // 何もできない, ログインできない: broken; 申請できない: a rule
        return !prev.is_some_and(|p| {
            matches!(
                p.surface.as_str(),
                "申請"
                    | "請求"
                    | "受給"
                    | "利用"
                    | "登録"
                    | "相談"
                    | "電話"
                    | "加入"
                    | "参加"
                    | "併用"
            )
        });
    }
    matches!(
        l,
        "動く"
            | "うごく"
            | "開く"
            | "ひらく"
            | "開ける"
            | "ひらける"
            | "使える"
            | "つかえる"
            | "見れる"
            | "見られる"
            | "みれる"
            | "入れる"
            | "送れる"
            | "読める"
            | "つながる"
            | "繋がる"
            | "止まる"
            | "とまる"
            | "消える"
            | "きえる"
            | "起動"
            | "起動する"
            | "立ち上がる"
            | "直る"
            | "治る"
            | "戻る"
            | "入る"
            | "映る"
            | "届く"
            | "終わる"
            | "収まる"
            | "おさまる"
            | "点く"
            | "つく"
            | "消せる"
            | "閉じる"
            | "閉じれる"
    )
}

/// Reads each predicate chain (a verb or adjective with its auxiliaries) and whether it
/// ends in the present while progressive or negative.
pub fn aspect_of(tokens: &[Token]) -> Aspect {
    let mut going_on = false;
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].pos != Pos::Verb {
            i += 1;
            continue;
        }
        // the chain: verb (auxiliary | て/で | non-independent verb)*; a negative
        // counts as a state only on verbs of working / being reachable (開けない,
        // 動かない, つながらない, 止まらない), not on actions (連絡しない)
        let state_verb = is_state_verb(i.checked_sub(1).and_then(|k| tokens.get(k)), &tokens[i]);
        let mut j = i + 1;
        let (mut progressive, mut negative, mut past, mut conditional) =
            (false, false, false, false);
        while j < tokens.len() {
            let tk = &tokens[j];
            let s = tk.surface.as_str();
            let lemma = &*tk.lemma;
            match tk.pos {
                Pos::Auxiliary => {
                    match lemma {
                        "ない" | "ぬ" | "ん" => negative |= state_verb,
                        "た" | "だ" => {
                            past = true;
                            if matches!(s, "たら" | "だら") {
                                conditional = true;
                            }
                        }
                        "ます" if s == "ませ" => negative |= state_verb,
                        _ => {}
                    }
                    if matches!(s, "なら" | "ならば") {
                        conditional = true;
                    }
                }
                Pos::Particle if matches!(s, "て" | "で") => {
                    if let Some(next) = tokens.get(j + 1) {
                        if next.pos == Pos::Verb
                            && matches!(&*next.lemma, "いる" | "おる" | "てる" | "でる" | "る")
                        {
                            progressive = true;
                        }
                    }
                }
                Pos::Particle if matches!(s, "ば" | "ても" | "でも" | "と") => {
                    conditional = true
                }
                Pos::Verb
                    if matches!(
                        &*tk.lemma,
                        "いる"
                            | "おる"
                            | "てる"
                            | "でる"
                            | "しまう"
                            | "ちゃう"
                            | "なる"
                            | "くる"
                            | "続ける"
                            | "始める"
                    ) || tk.surface.starts_with('て') =>
                {
                    if matches!(&*tk.lemma, "てる" | "でる") {
                        progressive = true;
                    }
                }
                _ => break,
            }
            j += 1;
        }
        if (progressive || negative) && !past && !conditional {
            going_on = true;
        }
        i = j.max(i + 1);
    }
    Aspect { going_on }
}
