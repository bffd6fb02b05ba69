//! One route per message: [`decide`] looks at the analysed message, the conversation
//! state and the turn context once and returns a [`Route`]; `render.rs` has one
//! renderer per route. The order of the checks here is the product's priorities:
//! unusable input, then anything urgent (hotline first, whatever else is going on:
//! a claimed conversation, an assessment in progress, a long message), then a person
//! handling the case, then the assessment of the member's own case, then follow-ups in
//! context, then the ordinary answer.

use super::analysis::Analysis;
use super::case::{has_case_fact, has_incident, CaseFile};
use super::dialogue::{Bot, Classification, CLARIFY_BELOW};
use super::facts::Facts;
use super::interview::{Slot, SlotAnswer};
use super::label::Label;
use super::turn::{ConversationState, EscalationReason, ReplyKind};
use super::wording::Wording;

/// Why the input cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadInput {
    Empty,
    SymbolsOnly,
}

/// How the assessment moves this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessMove {
    /// Starts the assessment of the case (facts so far count).
    Start,
    /// The member answered the question asked, or added facts: next question or verdict.
    Continue(SlotAnswer),
    /// A fact changed after the verdict (a correction): the verdict again.
    Reassess,
    /// The answer was not understood: the same question again.
    Reask(Slot),
    /// The member stopped the assessment.
    Stop,
}

/// The one route a message takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    BadInput(BadInput),
    /// An incident happening now.
    Urgent,
    /// A person handles this conversation (and nothing is urgent).
    StaffHandling,
    /// The member wants a person.
    Handoff(EscalationReason),
    Assess(AssessMove),
    /// A short question with no topic of its own, answered against the previous topic.
    FollowUp(Label),
    /// The intent's answer; `pending` is the assessment question still open (a side
    /// question asked in the middle of the assessment).
    Answer {
        intent: Label,
        pending: Option<Slot>,
    },
    Clarify {
        pending: Option<Slot>,
    },
    Fallback {
        foreign: bool,
        pending: Option<Slot>,
    },
}

impl Route {
    pub fn kind(&self) -> ReplyKind {
        match self {
            Route::BadInput(_) => ReplyKind::BadInput,
            Route::Urgent => ReplyKind::Urgent,
            Route::StaffHandling => ReplyKind::StaffHandling,
            Route::Handoff(_) => ReplyKind::Handoff,
            Route::Assess(_) => ReplyKind::Assess,
            Route::FollowUp(_) => ReplyKind::FollowUp,
            Route::Answer { .. } => ReplyKind::Answer,
            Route::Clarify { .. } => ReplyKind::Clarify,
            Route::Fallback { .. } => ReplyKind::Fallback,
        }
    }
}

/// Facts about the turn that do not depend on the conversation.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurnContext {
    /// A staff member has claimed this conversation.
    pub staff_handling: bool,
}

/// One message, analysed once, with what every route needs.
pub struct Turn<'a> {
    pub raw: &'a str,
    pub a: &'a Analysis,
    pub c: &'a Classification,
    /// Normalised text without separators (for word-list matching).
    pub compact: String,
    /// The facts this message states about the member's case (a general or
    /// hypothetical question contributes only who is asking).
    pub said: Facts,
    /// The message asks about the rules in general (もし…, …の場合), not a case.
    pub general: bool,
    /// The message is about money or eligibility.
    pub money: bool,
    /// The message speaks of the member's own institution or case.
    pub own_case: bool,
}

impl Bot {
    /// The route for this message. Reads the state; changes nothing.
    pub fn decide(&self, t: &Turn, st: &ConversationState, ctx: TurnContext) -> Route {
        let w = &self.wording.words;
        if t.raw.trim().is_empty() {
            return Route::BadInput(BadInput::Empty);
        }
        if !t.a.text.as_str().chars().any(|c| c.is_alphanumeric()) {
            return Route::BadInput(BadInput::SymbolsOnly);
        }
        if t.c.urgent {
            return Route::Urgent;
        }
        if ctx.staff_handling {
            return Route::StaffHandling;
        }
        if st.offered_human && Wording::is_one_of(&t.compact, &w.yes) {
            return Route::Handoff(EscalationReason::LowConfidence);
        }
        let case = &st.case_file;
        let new_facts = super::case::adds_to(&case.facts, &t.said);
        let pending = case.pending();
        if let Some(slot) = pending {
            if Wording::starts_with_any(&t.compact, &w.stop) && t.compact.chars().count() <= 10 {
                return Route::Assess(AssessMove::Stop);
            }
            let answer = self.slot_answer(slot, &t.compact);
            if answer != SlotAnswer::None || new_facts || self.wants_assessment(t, case) {
                return Route::Assess(AssessMove::Continue(answer));
            }
        }
        if case.assessed() && pending.is_none() && new_facts && !t.general {
            return Route::Assess(AssessMove::Reassess);
        }
        if pending.is_none() && self.wants_assessment(t, case) {
            return Route::Assess(AssessMove::Start);
        }
        if let Some(slot) = pending {
            // a short reply to the question that says nothing we can read
            if t.compact.chars().count() <= 8
                && (t.c.confidence < 0.6 || !t.c.intent.is_programme_topic())
            {
                return Route::Assess(AssessMove::Reask(slot));
            }
        }
        if let Some(l) = self.follow_up(t, st) {
            return Route::FollowUp(l);
        }
        if t.c.intent == Label::Human {
            return Route::Handoff(EscalationReason::HumanRequest);
        }
        if super::dialogue::is_foreign(t.a, &t.c.prediction) {
            return Route::Fallback {
                foreign: true,
                pending,
            };
        }
        if t.c.intent == Label::OutOfScope {
            if let Some(slot) = pending.filter(|_| t.compact.chars().count() <= 8) {
                // a short reply to the question that says nothing we can read
                return Route::Assess(AssessMove::Reask(slot));
            }
            return Route::Fallback {
                foreign: false,
                pending,
            };
        }
        if t.c.confidence < CLARIFY_BELOW {
            if let Some(slot) = pending.filter(|_| t.compact.chars().count() <= 8) {
                return Route::Assess(AssessMove::Reask(slot));
            }
            return Route::Clarify { pending };
        }
        Route::Answer {
            intent: t.c.intent,
            pending,
        }
    }

    /// A direct answer to the question being asked (はい/いいえ/わからない, the date choices).
    pub fn slot_answer(&self, slot: Slot, compact: &str) -> SlotAnswer {
        let w = &self.wording.words;
        if Wording::is_one_of(compact, &w.unsure)
            || (Wording::contains_any(compact, &w.unsure) && compact.chars().count() <= 16)
        {
            return SlotAnswer::Unsure;
        }
        match slot {
            Slot::Membership | Slot::Closure => {
                if Wording::is_one_of(compact, &w.no) {
                    return SlotAnswer::No;
                }
                if Wording::is_one_of(compact, &w.yes) {
                    return SlotAnswer::Yes;
                }
            }
            Slot::IncidentDate => {
                let before = compact.contains("以前") || compact.contains("より前");
                let after = compact.contains("以降")
                    || compact.contains("より後")
                    || compact.contains("以後");
                if before && !after {
                    return SlotAnswer::BeforeStart;
                }
                if after && !before {
                    return SlotAnswer::OnOrAfterStart;
                }
            }
            Slot::IncidentKind => {}
        }
        SlotAnswer::None
    }

    /// The member asks about money or eligibility for their own case, or describes a
    /// case after asking about money: the assessment, not the general answer.
    fn wants_assessment(&self, t: &Turn, case: &CaseFile) -> bool {
        let w = &self.wording.words;
        if Wording::contains_any(&t.compact, &w.start) {
            return true;
        }
        if t.general {
            return false;
        }
        let about_money = matches!(
            t.c.intent,
            Label::Eligibility | Label::Coverage | Label::Claim
        ) && t.c.confidence >= CLARIFY_BELOW;
        let money_question = t.money
            && (about_money
                || matches!(t.c.intent, Label::Incident | Label::OutOfScope)
                || t.c.confidence < CLARIFY_BELOW);
        let said_case = has_incident(&t.said);
        // money for the member's own institution, however it is asked
        let money_segment = || {
            self.questions_in(t.a)
                .iter()
                .any(|(l, _)| matches!(l, Label::Eligibility | Label::Coverage | Label::Claim))
        };
        if t.money
            && t.own_case
            && (!matches!(
                t.c.intent,
                Label::Cyberport | Label::Registration | Label::Hotline
            ) || money_segment())
        {
            return true;
        }
        // a question about the case so far, or one that describes it
        if money_question && (has_case_fact(&case.facts) || has_case_fact(&t.said)) {
            return true;
        }
        // a case described after the member asked about money
        if case.wants_assessment && said_case {
            return true;
        }
        // a whole case told at once (who, what happened), asking nothing else
        if t.said.membership.is_known()
            && t.said.incident != super::facts::IncidentKind::Unknown
            && !super::dialogue::asks_something(t.a.text.as_str())
        {
            return true;
        }
        // a past incident told as it happened (not urgent): the assessment, with the
        // hotline as information
        t.c.intent == Label::Incident
            && t.said.incident != super::facts::IncidentKind::Unknown
            && !super::dialogue::asks_something(t.a.text.as_str())
    }
}
