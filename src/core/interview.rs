//! The eligibility interview: when a member asks whether a case qualifies, gather the
//! facts from what they said, ask only for what is missing (one short question with
//! quick-reply choices at a time), accept corrections, then give the assessment with
//! reasons, next steps and the reminder that the programme decides. The progress lives
//! in [`InterviewState`] inside the conversation state (serde, so the store keeps it).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use super::assessment::render_ja;
use super::dates::{DateSpan, Granularity};
use super::dialogue::{Bot, Classification, CLARIFY_BELOW};
use super::facts::{self, Closure, Facts, IncidentKind, Membership};
use super::hours::{self, HOTLINE, OFFICIAL_URL};
use super::label::Label;
use super::rules::{Assessment, MissingFact, Payment};
use super::text::is_separator;
use super::turn::{Choice, ConversationState, Reply, ReplyKind};

/// One thing the interview can ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Membership,
    IncidentKind,
    IncidentDate,
    Closure,
}

/// Interview progress kept in the conversation state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InterviewState {
    /// Everything gathered so far (later messages override: corrections).
    pub facts: Facts,
    /// The question asked last turn, if any.
    pub asking: Option<Slot>,
    /// Slots already asked once (a "わからない" is not asked again).
    pub asked: Vec<Slot>,
    /// The assessment was given; a correction re-assesses, anything else leaves.
    pub assessed: bool,
}

/// The quick-reply value that starts an interview (also offered by other replies).
pub const START_VALUE: &str = "支援金の対象になるか確認したい";

const START_CUES: &[&str] = &["対象になるか確認", "対象か確認", "対象かどうか確認", "支援金の対象か調べ", "対象になるか調べ"];
const HYPOTHETICAL: &[&str] = &["場合", "もし", "たら", "としたら", "なら対象", "ケースは", "一般的に"];
const STOP_CUES: &[&str] = &["やめる", "やめます", "中止", "キャンセル", "もういい", "終わり", "けっこうです", "結構です"];
const UNSURE: &[&str] = &["わからない", "分からない", "わかりません", "分かりません", "不明", "知らない", "わからん", "覚えていない"];
const YES: &[&str] = &["はい", "うん", "そうです", "そう", "yes", "y", "a1です", "a1会員です", "会員です", "入っています", "入ってます"];
const NO: &[&str] = &["いいえ", "いえ", "違います", "ちがいます", "ちがう", "違う", "no", "n", "ではない", "じゃない", "ではありません", "入っていない", "入ってない"];

fn compact(text: &str) -> String {
    text.chars().filter(|c| !is_separator(*c)).collect()
}

fn one_of(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| t == *w || (t.starts_with(w) && t.chars().count() <= w.chars().count() + 4))
}

fn is_unsure(t: &str) -> bool {
    UNSURE.iter().any(|w| t.contains(w)) && t.chars().count() <= 16
}

/// The quick-reply choices for a slot.
pub fn choices(slot: Slot) -> Vec<Choice> {
    let c = |label: &str, value: &str| Choice { label: label.into(), value: value.into() };
    match slot {
        Slot::Membership => vec![c("はい", "はい"), c("いいえ", "いいえ"), c("わからない", "わからない")],
        Slot::IncidentKind => vec![
            c("ランサムウェア等の攻撃", "ランサムウェア等の攻撃"),
            c("攻撃による情報漏えい", "攻撃による情報漏えい"),
            c("攻撃によらない漏えい（誤送信・紛失など）", "攻撃によらない漏えい"),
            c("内部の人の持ち出し", "内部の人の持ち出し"),
        ],
        Slot::IncidentDate => vec![c("2022年6月1日以降", "2022年6月1日以降"), c("2022年5月31日以前", "2022年5月31日以前"), c("わからない", "わからない")],
        Slot::Closure => vec![
            c("休業していない", "休業していない"),
            c("1日以上休業した", "1日以上休業した"),
            c("半日だけ休業した", "半日だけ休業した"),
            c("初診の受付だけ止めた", "初診の受付だけ止めた"),
        ],
    }
}

/// The question for a slot.
pub fn question(slot: Slot) -> &'static str {
    match slot {
        Slot::Membership => "医療機関の開設者または管理者は、日本医師会のA①会員ですか？（支援金はA①会員が開設・管理する医療機関が対象です）",
        Slot::IncidentKind => "何が起きましたか？ 近いものを選ぶか、言葉で教えてください。",
        Slot::IncidentDate => "被害が起きたのはいつですか？（例: 2024年6月、令和6年6月1日、先月）",
        Slot::Closure => "その攻撃のために休業（休診）しましたか？ 初診の受付をすべて止めた場合も休業に含まれます。日数が分かれば「3日休診」のように教えてください。",
    }
}

impl InterviewState {
    /// The next slot to ask about, or None when it is time to assess.
    pub fn next_slot(&self, a: &Assessment) -> Option<Slot> {
        if a.eligible == Some(false) {
            return None; // an exclusion applies: nothing else would change the answer
        }
        let f = &self.facts;
        let wanted = [
            (Slot::Membership, f.membership == Membership::Unknown),
            (Slot::IncidentKind, f.incident == IncidentKind::Unknown),
            (Slot::IncidentDate, a.missing.contains(&MissingFact::IncidentDate)),
            (Slot::Closure, a.payment == Some(Payment::CyberAttack) && f.closure == Closure::NotMentioned),
        ];
        wanted.into_iter().find(|(s, missing)| *missing && !self.asked.contains(s)).map(|(s, _)| s)
    }

    /// Reads an answer to `slot` that the general extractor does not cover (はい/いいえ,
    /// the date choices). Returns true when the message answered the slot somehow.
    fn answer_slot(&mut self, slot: Slot, t: &str, today: NaiveDate, effective: NaiveDate) -> bool {
        match slot {
            Slot::Membership => {
                if one_of(t, NO) || t.starts_with("いいえ") {
                    self.facts.membership = Membership::NotMember;
                    return true;
                }
                if one_of(t, YES) {
                    self.facts.membership = Membership::A1;
                    return true;
                }
            }
            Slot::IncidentDate => {
                // the quick replies 「2022年6月1日以降」「2022年5月31日以前」
                let before = t.contains("以前") || t.contains("より前");
                let after = t.contains("以降") || t.contains("より後") || t.contains("以後");
                if before && !after {
                    let last = effective - Duration::days(1);
                    self.facts.date = Some(DateSpan { first: last - Duration::days(3650), last, granularity: Granularity::Vague });
                    return true;
                }
                if after && !before {
                    self.facts.date = Some(DateSpan { first: effective, last: today.max(effective), granularity: Granularity::Vague });
                    return true;
                }
            }
            _ => {}
        }
        is_unsure(t)
    }
}

/// Whether the fact behind `slot` went from unknown to known between two fact sets.
fn slot_filled(slot: Slot, before: &Facts, after: &Facts) -> bool {
    match slot {
        Slot::Membership => before.membership == Membership::Unknown && after.membership != Membership::Unknown,
        Slot::IncidentKind => before.incident == IncidentKind::Unknown && after.incident != IncidentKind::Unknown,
        Slot::IncidentDate => before.date.is_none() && after.date.is_some(),
        Slot::Closure => before.closure == Closure::NotMentioned && after.closure != Closure::NotMentioned,
    }
}

fn today_jst(now: DateTime<FixedOffset>) -> NaiveDate {
    now.with_timezone(&hours::jst()).date_naive()
}

fn interview_reply(text: String, choices: Vec<Choice>, confidence: f32) -> Reply {
    Reply {
        text,
        intent: Label::Eligibility,
        confidence,
        urgent: false,
        kind: ReplyKind::Interview,
        choices,
        escalate: None,
        sources: vec![OFFICIAL_URL.to_string()],
    }
}

impl Bot {
    /// The interview's part of a turn: continues one in progress, starts one when the
    /// member asks whether their case qualifies, or returns None (the normal answer).
    /// Runs after the urgency check, so an urgent message always gets the hotline first.
    pub fn interview_turn(&self, a: &Analysis, c: &Classification, state: &mut ConversationState, now: DateTime<FixedOffset>) -> Option<Reply> {
        let today = today_jst(now);
        let t = compact(a.text.as_str());
        let Some(mut iv) = state.interview.take() else {
            let asks = START_CUES.iter().any(|s| t.contains(s));
            let about_eligibility = matches!(c.intent, Label::Eligibility | Label::Claim) && c.confidence >= CLARIFY_BELOW;
            if !asks && !about_eligibility {
                return None; // most messages: no fact extraction needed
            }
            let said = facts::extract(&a.text, today);
            let case_facts = said.incident != IncidentKind::Unknown || said.date.is_some();
            // 「〜した場合も対象？」「もし感染したら」 ask about the rule, not a case:
            // the intent's answer serves them better
            let hypothetical = HYPOTHETICAL.iter().any(|h| t.contains(h));
            if !(asks || (about_eligibility && case_facts && !hypothetical)) {
                return None;
            }
            // facts from earlier messages (an urgent report) count too
            let facts = state.case.take().unwrap_or_default().merged(said);
            let iv = InterviewState { facts, ..InterviewState::default() };
            return Some(self.interview_step(iv, state, c, true));
        };

        if STOP_CUES.iter().any(|s| t.starts_with(s)) && t.chars().count() <= 10 {
            return Some(interview_reply(
                format!("支援金の確認を終了しました。ほかにご質問があればどうぞ。お急ぎのトラブルは緊急相談窓口 {HOTLINE}（年中無休 9:00〜21:00）へお電話ください。"),
                Vec::new(),
                1.0,
            ));
        }
        let said = facts::extract(&a.text, today);
        let before = iv.facts;
        iv.facts = iv.facts.merged(said);
        let mut answered = iv.facts != before;
        if let Some(slot) = iv.asking {
            // the slot counts as asked only when this answer filled it (or the member
            // does not know): 「先週です」 in reply to "what happened?" fills the date,
            // and the kind is asked again
            let direct = iv.answer_slot(slot, &t, today, self.rules.effective_from);
            answered |= direct;
            if (direct || slot_filled(slot, &before, &iv.facts)) && !iv.asked.contains(&slot) {
                iv.asked.push(slot);
            }
        }
        let correction = ["いや", "訂正", "違", "ちが", "間違"].iter().any(|w| t.starts_with(w));
        if !answered && !correction {
            // a short unclear reply gets the question again; a real other question leaves
            let other_topic = matches!(c.intent, Label::Human | Label::Thanks | Label::Greeting)
                || (c.intent == Label::OutOfScope && a.text.as_str().chars().count() > 8)
                || (!matches!(c.intent, Label::Eligibility | Label::Claim | Label::OutOfScope) && c.confidence >= 0.5);
            if iv.assessed || other_topic {
                // the member moved on: leave the interview and answer normally
                return None;
            }
            // not understood: ask the same question again
            let slot = iv.asking;
            state.interview = Some(iv);
            let text = match slot {
                Some(s) => format!("すみません、うまく読み取れませんでした。{}\n（確認をやめる場合は「やめる」と送ってください）", question(s)),
                None => "すみません、うまく読み取れませんでした。もう一度教えてください。".into(),
            };
            return Some(interview_reply(text, slot.map(choices).unwrap_or_default(), c.confidence));
        }
        Some(self.interview_step(iv, state, c, false))
    }

    /// Asks the next missing fact, or gives the assessment.
    fn interview_step(&self, mut iv: InterviewState, state: &mut ConversationState, c: &Classification, first: bool) -> Reply {
        state.last_intent = Some(Label::Eligibility);
        state.low_confidence_streak = 0;
        let assessment = self.rules.assess(&iv.facts);
        if let Some(slot) = iv.next_slot(&assessment) {
            iv.asking = Some(slot);
            iv.assessed = false;
            let mut text = String::new();
            if first {
                text.push_str("支援金（一時支援金）の対象になりそうか、いくつか確認させてください（分からない場合は「わからない」で進めます）。\n\n");
            }
            text.push_str(question(slot));
            state.interview = Some(iv);
            return interview_reply(text, choices(slot), c.confidence.max(0.5));
        }
        iv.asking = None;
        iv.assessed = true;
        let mut text = render_ja(&self.rules, &assessment);
        if !assessment.missing.is_empty() && assessment.eligible.is_none() {
            text.push_str("\n\n分かり次第、続けて教えていただければもう一度確認します。");
        }
        text.push_str("\n\n内容に誤りがあれば、そのまま訂正してください（例:「いや、休業は2日です」）。");
        state.interview = Some(iv);
        interview_reply(text, Vec::new(), c.confidence.max(0.5))
    }
}
