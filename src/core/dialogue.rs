//! One dialogue turn: message + conversation state + the time → [`Reply`] + new state.
//! [`Bot`] holds everything the core needs (analyzer, classifier, intents, urgency
//! cues, payment rules, the conversation's wording) and is built once by
//! `crate::engine`. The turn itself is three steps: [`Bot::turn`] (what the message
//! says), `route::decide` (one route) and `render` (one renderer per route).

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::analysis::{Analysis, Analyzer};
use super::case::who_only;
use super::classifier::{Classifier, Prediction};
use super::hours::{self, HOTLINE};
use super::intents::{Facet, IntentDef};
use super::label::Label;
use super::route::{Turn, TurnContext};
use super::text::has_japanese;
use super::turn::{ConversationState, Reply};
use super::urgency::{Urgency, UrgencyRules};
use super::wording::{fill, Wording};

/// Below this top probability the bot asks which topic was meant.
pub const CLARIFY_BELOW: f32 = 0.40;
/// Below this feature coverage nothing in the training data is close: out of scope.
pub const MIN_COVERAGE: f32 = 0.12;
/// Below this coverage a message without Japanese is treated as out of scope.
pub const FOREIGN_COVERAGE: f32 = 0.35;
/// Low-confidence turns in a row before a person is offered.
pub const OFFER_HUMAN_AFTER: u8 = 2;

/// The classification contract's answer for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub intent: Label,
    pub confidence: f32,
    pub urgent: bool,
    pub prediction: Prediction,
    pub urgency: Urgency,
}

/// Everything the core needs to answer. Immutable once built; share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Bot {
    pub analyzer: Analyzer,
    pub classifier: Classifier,
    pub intents: Vec<IntentDef>,
    pub urgency: UrgencyRules,
    pub rules: super::rules::RuleSet,
    pub wording: Wording,
    /// Each facet keyword's reading (hiragana), by intent and facet index: facets are
    /// found in all-hiragana messages too (おかねかかる → the cost facet).
    pub facet_readings: Vec<(Label, usize, Vec<String>)>,
}

impl Bot {
    pub fn intent(&self, label: Label) -> &IntentDef {
        self.intents
            .iter()
            .find(|i| i.label == label)
            .expect("check_set guarantees every label")
    }

    /// Intent, confidence and urgency for one message (the `classify` contract), with
    /// relative dates resolved against `today`.
    pub fn classify_at(&self, raw: &str, today: NaiveDate) -> Classification {
        let a = self.analyzer.analyze(raw);
        self.classify_analysis(&a, today)
    }

    /// As [`Bot::classify_at`], today being 2026-01-01 (tests and tools without a clock).
    pub fn classify(&self, raw: &str) -> Classification {
        self.classify_at(
            raw,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
        )
    }

    pub fn classify_analysis(&self, a: &Analysis, today: NaiveDate) -> Classification {
        self.classify_in_case(a, today, false)
    }

    /// As [`Bot::classify_analysis`], within a conversation whose case happened in the
    /// past: an incident mentioned without its own time (「いや、攻撃じゃなくて誤送信
    /// でした」) is that past case, not a new emergency.
    pub fn classify_in_case(
        &self,
        a: &Analysis,
        today: NaiveDate,
        case_is_past: bool,
    ) -> Classification {
        let mut urgency = self.urgency.assess(a, today);
        if urgency.urgent
            && case_is_past
            && !urgency
                .cues
                .iter()
                .any(|c| matches!(*c, "recent" | "ongoing" | "aspect_now" | "alarm"))
        {
            urgency.urgent = false;
            urgency.cues.push("past_case");
        }
        if a.text.is_empty() || a.tokens.is_empty() {
            let prediction = Prediction {
                ranked: Label::ALL
                    .iter()
                    .map(|l| (*l, if *l == Label::OutOfScope { 1.0 } else { 0.0 }))
                    .collect(),
                coverage: 0.0,
            };
            return Classification {
                intent: Label::OutOfScope,
                confidence: 1.0,
                urgent: false,
                prediction,
                urgency,
            };
        }
        let prediction = self.classifier.predict(a);
        let mut intent = prediction.top();
        let mut confidence = prediction.confidence();
        if prediction.coverage < MIN_COVERAGE {
            intent = Label::OutOfScope;
            confidence = 1.0 - prediction.coverage / MIN_COVERAGE * 0.5;
        } else if is_foreign(a, &prediction) && !urgency.urgent {
            // English (or other) text the model cannot place: not a programme question
            intent = Label::OutOfScope;
            confidence = 1.0 - prediction.coverage;
        } else if urgency.urgent
            && !matches!(intent, Label::Incident | Label::Human | Label::Hotline)
        {
            // something is happening now: whatever else was asked, it is an incident
            let p = prediction.prob(Label::Incident);
            if p > 0.05 || intent == Label::OutOfScope {
                intent = Label::Incident;
                confidence = p.max(0.5);
            }
        }
        if !urgency.urgent && intent.is_programme_topic() {
            // several clear questions: the first one asked is the main one
            if let Some((l, _)) = self.questions_in(a).first() {
                intent = *l;
            }
        }
        Classification {
            intent,
            confidence,
            urgent: urgency.urgent,
            prediction,
            urgency,
        }
    }

    /// Answers one message, updating the conversation state.
    pub fn respond(
        &self,
        raw: &str,
        state: &mut ConversationState,
        now: DateTime<FixedOffset>,
    ) -> Reply {
        self.respond_in(raw, state, now, TurnContext::default())
    }

    /// One turn: analyse once, take in the message's facts, decide the route once,
    /// render it, and update the state.
    pub fn respond_in(
        &self,
        raw: &str,
        state: &mut ConversationState,
        now: DateTime<FixedOffset>,
        ctx: TurnContext,
    ) -> Reply {
        let today = now.with_timezone(&hours::jst()).date_naive();
        let a = self.analyzer.analyze(raw);
        let case_is_past = state
            .case_file
            .facts
            .date
            .is_some_and(|d| (today - d.last).num_days() > super::urgency::PAST_AFTER_DAYS);
        let c = self.classify_in_case(&a, today, case_is_past);
        let mut turn = self.turn(raw, &a, &c, today);
        self.read_in_context(&mut turn, state);
        let route = self.decide(&turn, state, ctx);
        let mut reply = self.render(&route, &turn, state, now);
        if let Some(topic) = state.topic.as_mut() {
            topic.mentioned = mentioned_topics(&reply.text)
                .into_iter()
                .filter(|l| *l != topic.intent)
                .collect();
        }
        if a.text.was_truncated() {
            let note = fill(
                &self.wording.texts.truncated,
                &[("max", &super::text::MAX_CHARS.to_string())],
            );
            reply.add_notice(&note);
        }
        if let hours::HotlineStatus::Closed { .. } = hours::hotline_status(now) {
            // at night every reply that gives the number says it is closed and when it opens
            let status = hours::status_sentence(now);
            if reply.text.contains(HOTLINE) && !reply.text.contains(&status) {
                reply.text.push_str(&format!("\n\n{status}"));
            }
        }
        reply
    }

    /// What every route needs to know about the message.
    pub fn turn<'a>(
        &self,
        raw: &'a str,
        a: &'a Analysis,
        c: &'a Classification,
        today: NaiveDate,
    ) -> Turn<'a> {
        let w = &self.wording.words;
        let compact = a.text.compact();
        let narrative = c.urgency.cues.contains(&"narrative");
        let hypothetical = c.urgency.cues.contains(&"hypothetical") && !narrative && !c.urgent;
        // 「確認したら」「朝来たら」 tell how it was found, not a what-if
        let mut plain = compact.clone();
        for d in &w.discovery {
            plain = plain.replace(d.as_str(), "");
        }
        // 「もし」 as "if", not the も+し of 「通知もしています」
        let moshi = MOSHI.is_match(&plain);
        let general = hypothetical
            || ((moshi || Wording::contains_any(&plain, &w.general))
                && !Wording::contains_any(&compact, &w.own_case)
                && !narrative);
        let said = super::facts::extract(&a.text, today);
        // a what-if or a question about the rule tells who is asking, not what happened
        let said = if general { who_only(said) } else { said };
        Turn {
            raw,
            a,
            c,
            money: Wording::contains_any(&compact, &w.money),
            own_case: Wording::contains_any(&compact, &w.own_case),
            compact,
            said,
            general,
        }
    }

    /// Facts the message gives only because of where the conversation is: a bare
    /// length (「丸2日でした」) while the closure is asked or being corrected.
    fn read_in_context(&self, t: &mut Turn, st: &ConversationState) {
        use super::facts::Closure;
        let case = &st.case_file;
        let about_closure = case.pending() == Some(super::interview::Slot::Closure)
            || (case.facts.closure != Closure::NotMentioned
                && Wording::starts_with_any(t.a.text.as_str(), &self.wording.words.correction));
        if about_closure && t.said.closure == Closure::NotMentioned {
            if let Some(c) = super::facts::bare_closure(t.a.text.as_str()) {
                t.said.closure = c;
            }
        }
        // 「サイバー攻撃の支援金と漏えいの支援金は両方もらえる？」 names kinds of payment,
        // not an incident: a kind counts when something happened (an event, a date)
        // or when the member answers the question about what happened
        let event =
            t.c.urgency
                .cues
                .iter()
                .any(|c| matches!(*c, "incident" | "third_party" | "changed" | "warnings"));
        let answering_kind = case.pending() == Some(super::interview::Slot::IncidentKind)
            || Wording::starts_with_any(t.a.text.as_str(), &self.wording.words.correction);
        if !event
            && !answering_kind
            && t.said.date.is_none()
            && PAYMENT_NAMES.is_match(t.a.text.as_str())
        {
            t.said.incident = super::facts::IncidentKind::Unknown;
        }
    }

    /// The facet of `def` this message asks about: a keyword in the text, or in its
    /// reading (all-hiragana messages).
    pub fn facet_of<'d>(&self, def: &'d IntentDef, a: &Analysis) -> Option<(usize, &'d Facet)> {
        let t = a.text.as_str();
        if let Some(i) = def
            .facets
            .iter()
            .position(|f| f.keywords.iter().any(|k| t.contains(k.as_str())))
        {
            return Some((i, &def.facets[i]));
        }
        // readings only for messages typed in kana (a kanji message has its own words)
        if t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
            return None;
        }
        let reading: String = a.tokens.iter().map(|tk| &*tk.reading).collect();
        self.facet_readings
            .iter()
            .filter(|(l, _, _)| *l == def.label)
            .find(|(_, _, rs)| {
                rs.iter()
                    .any(|r| r.chars().count() >= 3 && reading.contains(r.as_str()))
            })
            .map(|(_, i, _)| (*i, &def.facets[*i]))
    }

    /// The clear programme questions of a multi-question message, in the order asked,
    /// one per intent: (intent, sentence). Empty for a single question.
    pub fn questions_in<'a>(&self, a: &'a Analysis) -> Vec<(Label, &'a str)> {
        // one sentence (the common case, often ending in 「？」) cannot hold two questions
        let t = a
            .text
            .as_str()
            .trim_end_matches(['?', '。', '!', '\n', ' ']);
        if !(t.contains(['?', '。', '!', '\n'])
            || (t.contains(['、', ' ']) && JOINTS.iter().any(|j| t.contains(j))))
        {
            return Vec::new();
        }
        let segments = split_questions(a.text.as_str());
        if segments.iter().filter(|s| s.is_question).count() < 2 {
            return Vec::new();
        }
        let mut out: Vec<(Label, &str)> = Vec::new();
        for seg in segments.into_iter().filter(|s| s.is_question) {
            let sa = self.analyzer.analyze(seg.text);
            if sa.tokens.is_empty() {
                continue;
            }
            let p = self.classifier.predict(&sa);
            let l = p.top();
            if l.is_programme_topic()
                && p.confidence() >= 0.5
                && p.coverage >= MIN_COVERAGE
                && !out.iter().any(|(x, _)| *x == l)
            {
                out.push((l, seg.text));
            }
        }
        if out.len() < 2 {
            out.clear();
        }
        out
    }
}

/// One sentence of a message, and whether it asks something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub text: &'a str,
    pub is_question: bool,
}

const JOINTS: &[&str] = &[
    "、あと",
    " あと",
    "、それと",
    " それと",
    "、それから",
    "、ついでに",
    " ついでに",
    "、あわせて",
];
const QUESTION_ENDS: &[&str] = &[
    "か",
    "かな",
    "の",
    "って",
    "教えて",
    "ください",
    "下さい",
    "たい",
    "は",
    "ますか",
    "でしょう",
    "どこ",
    "いつ",
    "何",
    "なに",
    "いくら",
    "ある",
    "いる",
    "できる",
    "使える",
    "もらえる",
    "どう",
    "どうすれば",
    "ほしい",
    "欲しい",
    "願い",
];

/// Splits a message into sentences (。?! and line breaks, and joints such as
/// 「、あと」「、それと」) and marks the ones that ask something.
pub fn split_questions(text: &str) -> Vec<Segment<'_>> {
    let mut cuts: Vec<(usize, usize, bool)> = Vec::new(); // (end of segment, start of next, ended by ?)
    for (i, ch) in text.char_indices() {
        if matches!(ch, '。' | '?' | '!' | '？' | '！' | '\n') {
            cuts.push((i, i + ch.len_utf8(), matches!(ch, '?' | '？')));
        }
    }
    for j in JOINTS {
        for (i, _) in text.match_indices(j) {
            // the joint word starts the next question: 「…いくら、あと番号は」
            let sep = j.chars().next().map(char::len_utf8).unwrap_or(0);
            cuts.push((i, i + sep, false));
        }
    }
    cuts.sort();
    let mut out = Vec::new();
    let mut start = 0;
    for (end, next, q) in cuts
        .into_iter()
        .chain(std::iter::once((text.len(), text.len(), false)))
    {
        if end < start {
            continue;
        }
        let seg = text[start..end].trim();
        if seg.chars().count() >= 3 {
            let is_question = q || QUESTION_ENDS.iter().any(|e| seg.ends_with(e));
            out.push(Segment {
                text: seg,
                is_question,
            });
        }
        start = next;
    }
    out
}

/// Text with no Japanese that the model knows little of (small talk aside).
pub fn is_foreign(a: &Analysis, p: &Prediction) -> bool {
    !has_japanese(a.text.as_str())
        && p.coverage < FOREIGN_COVERAGE
        && !matches!(p.top(), Label::Greeting | Label::Thanks)
}

/// 「もし」 meaning "if": not followed by a verb ending (通知もしています, もしくは).
static MOSHI: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(^|[^か])もし([^てたまなくょ]|$)").expect("moshi regex")
});

/// Kinds of incident naming a payment (「サイバー攻撃の支援金」「漏えいの一時支援金」).
static PAYMENT_NAMES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(攻撃|漏えい|サイバー|ランサム|ウイルス|流出|紛失)[^。、,]{0,6}(支援金|一時金)",
    )
    .expect("payment names regex")
});

/// Topics a reply names besides its own (what a follow-up may point at).
fn mentioned_topics(text: &str) -> Vec<Label> {
    let mut out = Vec::new();
    if text.contains(HOTLINE) {
        out.push(Label::Hotline);
    }
    if text.contains("Tokio Cyber Port") || text.contains("tokiocyberport") {
        out.push(Label::Cyberport);
    }
    out
}

/// True when the message's last sentence asks something.
pub fn asks_something(text: &str) -> bool {
    split_questions(text).last().is_some_and(|s| s.is_question)
}

/// An answer followed by its source line.
pub fn with_source(answer: &str, url: &str) -> String {
    format!(
        "{}\n\n出典: 日本医師会サイバーセキュリティ支援制度（{url}）",
        answer.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_marks_questions_and_cuts_at_joints() {
        let s = split_questions("a1会員の診療所です。先週感染しました。支援金の対象?");
        assert_eq!(
            s.iter()
                .map(|x| (x.text, x.is_question))
                .collect::<Vec<_>>(),
            [
                ("a1会員の診療所です", false),
                ("先週感染しました", false),
                ("支援金の対象", true)
            ]
        );
        let s = split_questions("支援金はいくら、あと窓口の番号は");
        assert_eq!(
            s.iter().map(|x| x.text).collect::<Vec<_>>(),
            ["支援金はいくら", "あと窓口の番号は"]
        );
        assert!(s.iter().all(|x| x.is_question));
    }

    #[test]
    fn a_single_sentence_is_one_segment() {
        assert_eq!(split_questions("窓口は何時まで").len(), 1);
        assert!(split_questions("").is_empty());
    }
}
