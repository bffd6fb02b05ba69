//! One dialogue turn: message + conversation state + the time → [`Reply`] + new state.
//! [`Bot`] holds everything the core needs (analyzer, classifier, intents, urgency
//! cues, payment rules) and is built once by `crate::engine`.

use chrono::{DateTime, FixedOffset};

use super::analysis::{Analysis, Analyzer};
use super::classifier::{Classifier, Prediction};
use super::hours::{self, HOTLINE, OFFICIAL_URL};
use super::intents::IntentDef;
use super::label::Label;
use super::text::has_japanese;
use super::turn::{Choice, ConversationState, EscalationReason, Reply, ReplyKind};
use super::urgency::{Urgency, UrgencyRules};

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
}

const YES: &[&str] = &["はい", "うん", "お願いします", "おねがいします", "お願い", "yes", "y", "ok", "おk", "ぜひ", "是非", "つないで", "繋いで", "そうして"];

impl Bot {
    pub fn intent(&self, label: Label) -> &IntentDef {
        self.intents.iter().find(|i| i.label == label).expect("check_set guarantees every label")
    }

    /// Intent, confidence and urgency for one message (the `classify` contract).
    pub fn classify(&self, raw: &str) -> Classification {
        let a = self.analyzer.analyze(raw);
        self.classify_analysis(&a)
    }

    pub fn classify_analysis(&self, a: &Analysis) -> Classification {
        let urgency = self.urgency.assess(a);
        if a.text.is_empty() || a.tokens.is_empty() {
            let prediction = Prediction { ranked: Label::ALL.iter().map(|l| (*l, if *l == Label::OutOfScope { 1.0 } else { 0.0 })).collect(), coverage: 0.0 };
            return Classification { intent: Label::OutOfScope, confidence: 1.0, urgent: false, prediction, urgency };
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
        } else if urgency.urgent && !matches!(intent, Label::Incident | Label::Human | Label::Hotline) {
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
        Classification { intent, confidence, urgent: urgency.urgent, prediction, urgency }
    }

    /// Answers one message, updating the conversation state.
    pub fn respond(&self, raw: &str, state: &mut ConversationState, now: DateTime<FixedOffset>) -> Reply {
        if raw.trim().is_empty() {
            return self.bad_input("メッセージが空でした。ご質問を日本語で入力してください（例:「支援金はいくらですか」「窓口の電話番号は？」）。");
        }
        let a = self.analyzer.analyze(raw);
        let truncated = a.text.was_truncated();
        if !a.text.as_str().chars().any(|c| c.is_alphanumeric()) {
            return self.bad_input("絵文字や記号だけでは内容が分かりませんでした。ご質問を言葉で入力してください（例:「ウイルスに感染したかも」「支援金の対象は？」）。");
        }
        let c = self.classify_analysis(&a);
        let mut reply = self.reply_for(&a, &c, state, now);
        if truncated {
            reply.text = format!(
                "※メッセージが長すぎるため、最初の{}文字だけを読みました。\n\n{}",
                super::text::MAX_CHARS,
                reply.text
            );
        }
        reply
    }

    fn reply_for(&self, a: &Analysis, c: &Classification, state: &mut ConversationState, now: DateTime<FixedOffset>) -> Reply {
        let text = a.text.as_str();
        // 1. urgent: hotline first, whatever else is going on
        if c.urgent {
            state.offered_human = false;
            state.low_confidence_streak = 0;
            state.last_intent = Some(Label::Incident);
            // remember what happened, for a later eligibility check
            let said = super::facts::extract(&a.text, now.with_timezone(&hours::jst()).date_naive());
            state.case = Some(state.case.take().unwrap_or_default().merged(said));
            return self.urgent_reply(text, c, now);
        }
        // 2. a person was offered last turn and the member says yes
        if state.offered_human {
            state.offered_human = false;
            if is_yes(text) {
                state.low_confidence_streak = 0;
                return Reply {
                    text: format!(
                        "承知しました。事務局の担当者に引き継ぎました。担当者からこの会話でご連絡します。\nお急ぎのセキュリティトラブルは、緊急相談窓口 {HOTLINE}（年中無休 9:00〜21:00、無料）へお電話ください。"
                    ),
                    intent: Label::Human,
                    confidence: 1.0,
                    urgent: false,
                    kind: ReplyKind::Answer,
                    choices: Vec::new(),
                    escalate: Some(EscalationReason::LowConfidence),
                    sources: vec![OFFICIAL_URL.to_string()],
                };
            }
        }
        // 2b. the eligibility interview: continues, starts, or lets the member leave it
        if let Some(r) = self.interview_turn(a, c, state, now) {
            return r;
        }
        // 3. English or other non-Japanese text the model cannot place
        if is_foreign(a, &c.prediction) {
            state.low_confidence_streak = state.low_confidence_streak.saturating_add(1);
            let mut r = self.fallback(c, "madoguchi は日本語のご質問にお答えしています（This assistant answers questions in Japanese about the JMA cybersecurity support programme. For security trouble call 0120-179-066, daily 9:00-21:00 JST.）");
            self.maybe_offer_human(&mut r, state);
            return r;
        }
        match c.intent {
            Label::Human => {
                state.low_confidence_streak = 0;
                state.last_intent = Some(Label::Human);
                let def = self.intent(Label::Human);
                Reply {
                    text: with_source(def.answer_for(text), &def.source_url),
                    intent: Label::Human,
                    confidence: c.confidence,
                    urgent: false,
                    kind: ReplyKind::Answer,
                    choices: Vec::new(),
                    escalate: Some(EscalationReason::HumanRequest),
                    sources: vec![def.source_url.clone()],
                }
            }
            Label::OutOfScope => {
                state.low_confidence_streak = state.low_confidence_streak.saturating_add(1);
                let mut r = self.fallback(c, "");
                self.maybe_offer_human(&mut r, state);
                r
            }
            _ if c.confidence < CLARIFY_BELOW => {
                state.low_confidence_streak = state.low_confidence_streak.saturating_add(1);
                let mut r = self.clarify(c);
                self.maybe_offer_human(&mut r, state);
                r
            }
            label => {
                // several questions: answer the first one asked, offer the others
                let questions = self.questions_in(a);
                let (main, main_text) = match questions.first() {
                    Some((l, seg)) if questions.len() >= 2 => (*l, *seg),
                    _ => (label, text),
                };
                state.low_confidence_streak = 0;
                state.last_intent = Some(main);
                let mut r = self.answer(main, c, main_text);
                self.offer_other_questions(&questions, main, &mut r);
                r
            }
        }
    }

    /// The intent's answer, with its source, plus related topics as choices.
    pub fn answer(&self, label: Label, c: &Classification, text: &str) -> Reply {
        let def = self.intent(label);
        let choices = def
            .related
            .iter()
            .filter(|l| l.is_programme_topic())
            .take(3)
            .map(|l| {
                let d = self.intent(*l);
                Choice { label: d.title.clone(), value: d.question.clone() }
            })
            .collect();
        Reply {
            text: with_source(def.answer_for(text), &def.source_url),
            intent: label,
            confidence: c.confidence,
            urgent: false,
            kind: ReplyKind::Answer,
            choices,
            escalate: None,
            sources: vec![def.source_url.clone()],
        }
    }

    fn urgent_reply(&self, text_in: &str, c: &Classification, now: DateTime<FixedOffset>) -> Reply {
        let open = matches!(hours::hotline_status(now), hours::HotlineStatus::Open);
        let mut text = format!(
            "【至急】日本医師会サイバーセキュリティ対応相談窓口（緊急相談窓口）{HOTLINE} へお電話ください（無料・年中無休 9:00〜21:00）。\n{}",
            hours::status_sentence(now)
        );
        if !open {
            text.push_str("\n窓口が開くまでは、下の「一般的な初動」を参考に被害の拡大を防いでください。");
        }
        text.push_str("\nお電話の際は、A①会員名・医療機関名・所在地・医籍番号（6桁）または日本医師会の会員番号（10桁）が分かるものをご用意ください。ご相談は電話のみです。");
        text.push_str("\n事務局の担当者にもこの内容を引き継ぎました。\n\n");
        // the incident intent's answer (data) carries the first steps, marked as general
        // advice; its facets fit leaks and opened attachments more closely
        let def = self.intent(Label::Incident);
        text.push_str(&with_source(def.answer_for(text_in), &def.source_url));
        let intent = if c.intent == Label::OutOfScope { Label::Incident } else { c.intent };
        Reply {
            text,
            intent,
            confidence: c.confidence,
            urgent: true,
            kind: ReplyKind::Answer,
            choices: vec![Choice { label: "支援金の対象か確認する".into(), value: "支援金の対象になるか確認したい".into() }],
            escalate: Some(EscalationReason::Urgent),
            sources: vec![OFFICIAL_URL.to_string()],
        }
    }

    fn clarify(&self, c: &Classification) -> Reply {
        let choices: Vec<Choice> = c
            .prediction
            .ranked
            .iter()
            .filter(|(l, _)| l.is_programme_topic())
            .take(3)
            .map(|(l, _)| {
                let d = self.intent(*l);
                Choice { label: d.title.clone(), value: d.question.clone() }
            })
            .collect();
        let mut text = String::from("ご質問の内容を確かめさせてください。次のどれに近いでしょうか？");
        for (i, ch) in choices.iter().enumerate() {
            text.push_str(&format!("\n{}. {}", i + 1, ch.label));
        }
        text.push_str(&format!("\n\nどれにも当てはまらない場合は、言い換えてお送りいただくか、緊急相談窓口 {HOTLINE}（年中無休 9:00〜21:00）へお電話ください。"));
        Reply {
            text,
            intent: c.intent,
            confidence: c.confidence,
            urgent: false,
            kind: ReplyKind::Clarify,
            choices,
            escalate: None,
            sources: vec![OFFICIAL_URL.to_string()],
        }
    }

    fn fallback(&self, c: &Classification, prefix: &str) -> Reply {
        let def = self.intent(Label::OutOfScope);
        let mut text = String::new();
        if !prefix.is_empty() {
            text.push_str(prefix);
            text.push_str("\n\n");
        }
        text.push_str(&with_source(&def.answer, &def.source_url));
        let choices = [Label::Overview, Label::Hotline, Label::Coverage]
            .iter()
            .map(|l| {
                let d = self.intent(*l);
                Choice { label: d.title.clone(), value: d.question.clone() }
            })
            .collect();
        Reply {
            text,
            intent: Label::OutOfScope,
            confidence: c.confidence,
            urgent: false,
            kind: ReplyKind::Fallback,
            choices,
            escalate: None,
            sources: vec![def.source_url.clone()],
        }
    }

    fn bad_input(&self, msg: &str) -> Reply {
        Reply {
            text: format!("{msg}\nセキュリティのトラブルでお急ぎの場合は、緊急相談窓口 {HOTLINE}（年中無休 9:00〜21:00）へお電話ください。"),
            intent: Label::OutOfScope,
            confidence: 1.0,
            urgent: false,
            kind: ReplyKind::BadInput,
            choices: Vec::new(),
            escalate: None,
            sources: Vec::new(),
        }
    }

    fn maybe_offer_human(&self, r: &mut Reply, state: &mut ConversationState) {
        if state.low_confidence_streak >= OFFER_HUMAN_AFTER {
            r.text.push_str("\n\nうまくお答えできず申し訳ありません。事務局の担当者におつなぎしましょうか？");
            r.choices = vec![
                Choice { label: "はい、担当者と話したい".into(), value: "はい".into() },
                Choice { label: "いいえ".into(), value: "いいえ".into() },
            ];
            state.offered_human = true;
        }
    }

    /// The clear programme questions of a multi-question message, in the order asked,
    /// one per intent: (intent, sentence). Empty for a single question.
    pub fn questions_in<'a>(&self, a: &'a Analysis) -> Vec<(Label, &'a str)> {
        // one sentence (the common case, often ending in 「？」) cannot hold two questions
        let t = a.text.as_str().trim_end_matches(['?', '。', '!', '\n', ' ']);
        if !t.contains(['?', '。', '!', '\n']) && !(t.contains(['、', ' ']) && JOINTS.iter().any(|j| t.contains(j))) {
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
            if l.is_programme_topic() && p.confidence() >= 0.5 && p.coverage >= MIN_COVERAGE && !out.iter().any(|(x, _)| *x == l) {
                out.push((l, seg.text));
            }
        }
        if out.len() < 2 {
            out.clear();
        }
        out
    }

    /// Several questions in one message: after the main answer, offer the others.
    fn offer_other_questions(&self, questions: &[(Label, &str)], main: Label, r: &mut Reply) {
        let others: Vec<Label> = questions.iter().map(|(l, _)| *l).filter(|l| *l != main).collect();
        if others.is_empty() {
            return;
        }
        r.text.push_str("\n\nほかのご質問もあるようです。続けてお答えできます:");
        let mut extra = Vec::new();
        for l in others {
            let d = self.intent(l);
            r.text.push_str(&format!("\n・{}", d.title));
            extra.push(Choice { label: d.title.clone(), value: d.question.clone() });
        }
        extra.extend(r.choices.drain(..));
        extra.dedup_by(|x, y| x.value == y.value);
        extra.truncate(4);
        r.choices = extra;
    }
}

/// One sentence of a message, and whether it asks something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub text: &'a str,
    pub is_question: bool,
}

const JOINTS: &[&str] = &["、あと", " あと", "、それと", " それと", "、それから", "、ついでに", " ついでに", "、あわせて"];
const QUESTION_ENDS: &[&str] = &[
    "か", "かな", "の", "って", "教えて", "ください", "下さい", "たい", "は", "ますか", "でしょう", "どこ", "いつ", "何", "なに", "いくら",
    "ある", "いる", "できる", "使える", "もらえる", "どう", "どうすれば", "ほしい", "欲しい", "願い",
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
    for (end, next, q) in cuts.into_iter().chain(std::iter::once((text.len(), text.len(), false))) {
        if end < start {
            continue;
        }
        let seg = text[start..end].trim();
        if seg.chars().count() >= 3 {
            let is_question = q || QUESTION_ENDS.iter().any(|e| seg.ends_with(e));
            out.push(Segment { text: seg, is_question });
        }
        start = next;
    }
    out
}

/// Text with no Japanese that the model knows little of (small talk aside).
fn is_foreign(a: &Analysis, p: &Prediction) -> bool {
    !has_japanese(a.text.as_str()) && p.coverage < FOREIGN_COVERAGE && !matches!(p.top(), Label::Greeting | Label::Thanks)
}

fn is_yes(text: &str) -> bool {
    let t: String = text.chars().filter(|c| !super::text::is_separator(*c)).collect();
    YES.iter().any(|y| t == *y || (t.starts_with(y) && t.chars().count() <= 12 && !t.contains("いいえ")))
}

/// An answer followed by its source line.
pub fn with_source(answer: &str, url: &str) -> String {
    format!("{}\n\n出典: 日本医師会サイバーセキュリティ支援制度（{url}）", answer.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_marks_questions_and_cuts_at_joints() {
        let s = split_questions("a1会員の診療所です。先週感染しました。支援金の対象?");
        assert_eq!(s.iter().map(|x| (x.text, x.is_question)).collect::<Vec<_>>(), [
            ("a1会員の診療所です", false),
            ("先週感染しました", false),
            ("支援金の対象", true)
        ]);
        let s = split_questions("支援金はいくら、あと窓口の番号は");
        assert_eq!(s.iter().map(|x| x.text).collect::<Vec<_>>(), ["支援金はいくら", "あと窓口の番号は"]);
        assert!(s.iter().all(|x| x.is_question));
    }

    #[test]
    fn a_single_sentence_is_one_segment() {
        assert_eq!(split_questions("窓口は何時まで").len(), 1);
        assert!(split_questions("").is_empty());
    }
}
