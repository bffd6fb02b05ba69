//! The channel-neutral reply types: every channel renders one [`Reply`] (what comes
//! in, `Inbound` and `ChannelKind`, lives with the channels). Also the
//! per-conversation state.

use serde::{Deserialize, Serialize};

use super::label::Label;

/// A quick-reply choice: a button on Slack/Discord, a numbered option in the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What the button shows.
    pub label: String,
    /// What is sent back as the member's next message when it is picked.
    pub value: String,
}

/// Why a conversation is handed to staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    Urgent,
    HumanRequest,
    LowConfidence,
}

impl EscalationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationReason::Urgent => "urgent",
            EscalationReason::HumanRequest => "human_request",
            EscalationReason::LowConfidence => "low_confidence",
        }
    }
}

impl std::str::FromStr for EscalationReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "urgent" => EscalationReason::Urgent,
            "human_request" => EscalationReason::HumanRequest,
            "low_confidence" => EscalationReason::LowConfidence,
            other => return Err(format!("unknown escalation reason {other:?}")),
        })
    }
}

/// The route a message took (decided once per message by `route::decide`): for logs,
/// metrics, the store and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// An incident happening now: the hotline first, queued for staff.
    Urgent,
    /// The member asked for a person (or accepted one when offered).
    Handoff,
    /// A person handles this conversation; the bot only acknowledges.
    StaffHandling,
    /// A step of the eligibility assessment of the member's case (a question or the verdict).
    #[serde(alias = "interview")]
    Assess,
    /// A short question read against the previous topic.
    FollowUp,
    /// The intent's answer.
    Answer,
    /// Not sure: offers the top intents as choices.
    Clarify,
    /// Nothing close: says what madoguchi can help with.
    Fallback,
    /// Empty, emoji-only or otherwise unusable input.
    BadInput,
}

impl ReplyKind {
    pub const ALL: [ReplyKind; 9] = [
        ReplyKind::Urgent,
        ReplyKind::Handoff,
        ReplyKind::StaffHandling,
        ReplyKind::Assess,
        ReplyKind::FollowUp,
        ReplyKind::Answer,
        ReplyKind::Clarify,
        ReplyKind::Fallback,
        ReplyKind::BadInput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Urgent => "urgent",
            ReplyKind::Handoff => "handoff",
            ReplyKind::StaffHandling => "staff_handling",
            ReplyKind::Assess => "assess",
            ReplyKind::FollowUp => "followup",
            ReplyKind::Answer => "answer",
            ReplyKind::Clarify => "clarify",
            ReplyKind::Fallback => "fallback",
            ReplyKind::BadInput => "bad_input",
        }
    }
}

impl std::str::FromStr for ReplyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s == "interview" { "assess" } else { s };
        ReplyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown route {s:?}"))
    }
}

/// The core's answer to one message. Channels render it; the service layer stores it
/// and opens an escalation when `escalate` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub intent: Label,
    pub confidence: f32,
    pub urgent: bool,
    pub kind: ReplyKind,
    pub choices: Vec<Choice>,
    pub escalate: Option<EscalationReason>,
    /// Source URLs the answer rests on (the official page, Tokio Cyber Port).
    pub sources: Vec<String>,
}

/// The topic of the last answer (intent and facet): what a follow-up such as
/// 「それって無料？」 refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub intent: Label,
    /// The facet id within the intent, when a facet answered.
    #[serde(default)]
    pub facet: Option<String>,
    /// Other topics the reply named (the hotline, Tokio Cyber Port): 「それって無料？」
    /// may be about them.
    #[serde(default)]
    pub mentioned: Vec<Label>,
}

/// What the bot remembers about one conversation between messages. Serialised as JSON
/// by the store; unknown fields are ignored so old rows keep loading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// Consecutive low-confidence turns (two in a row → offer a person).
    pub low_confidence_streak: u8,
    /// A person was offered on the previous turn; a "yes" now escalates.
    pub offered_human: bool,
    /// The last topic answered (for follow-ups such as 「それはいくら？」).
    pub topic: Option<Topic>,
    /// The conversation's case file: every fact the member gave, in any turn, and the
    /// progress of the eligibility assessment.
    pub case_file: super::case::CaseFile,
}
