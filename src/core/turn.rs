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

/// How the core arrived at the reply (for logs, metrics and the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// The intent's answer.
    Answer,
    /// Not sure: offers the top intents as choices.
    Clarify,
    /// Nothing close: says what madoguchi can help with.
    Fallback,
    /// A step of the eligibility interview (question or assessment).
    Interview,
    /// Empty, emoji-only or otherwise unusable input.
    BadInput,
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

/// What the bot remembers about one conversation between messages. Serialised as JSON
/// by the store; unknown fields are ignored so old rows keep loading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// Consecutive low-confidence turns (two in a row → offer a person).
    pub low_confidence_streak: u8,
    /// A person was offered on the previous turn; a "yes" now escalates.
    pub offered_human: bool,
    /// The last intent answered (for follow-ups such as 「それはいくら？」).
    pub last_intent: Option<Label>,
    /// The eligibility interview in progress, if any.
    pub interview: Option<super::interview::InterviewState>,
    /// Case facts the member gave before any interview (e.g. in an urgent message),
    /// so that a later eligibility check does not ask for them again.
    pub case: Option<super::facts::Facts>,
}
