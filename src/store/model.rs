//! The store's records (escalations, outbox items, transcript lines, stats, a turn to
//! write) and the timestamp text format both backends share.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::channels::ChannelKind;
use crate::core::hours::jst;
use crate::core::label::Label;
use crate::core::turn::{ConversationState, EscalationReason, ReplyKind};

use super::StoreError;

/// Where an escalation is in the workflow: open → claimed → resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    Open,
    Claimed,
    Resolved,
}

impl EscalationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationStatus::Open => "open",
            EscalationStatus::Claimed => "claimed",
            EscalationStatus::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for EscalationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EscalationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "open" => EscalationStatus::Open,
            "claimed" => EscalationStatus::Claimed,
            "resolved" => EscalationStatus::Resolved,
            other => {
                return Err(format!(
                    "unknown status {other:?} (open, claimed, resolved)"
                ))
            }
        })
    }
}

/// A conversation handed to staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub id: i64,
    pub channel: ChannelKind,
    pub user: String,
    pub conversation: String,
    pub reason: EscalationReason,
    pub status: EscalationStatus,
    pub assignee: Option<String>,
    /// The member's message that opened it (redacted).
    pub text: String,
    pub intent: Label,
    pub created_at: DateTime<FixedOffset>,
    pub claimed_at: Option<DateTime<FixedOffset>>,
    pub resolved_at: Option<DateTime<FixedOffset>>,
    pub note: Option<String>,
    /// The staff-channel post announcing it (Slack ts, Discord message id), if any.
    pub staff_ref: Option<String>,
}

#[cfg(test)]
impl Escalation {
    /// An open urgent escalation for unit tests of the channel renderers.
    pub fn sample(id: i64, channel: ChannelKind, text: &str) -> Escalation {
        Escalation {
            id,
            channel,
            user: "u".into(),
            conversation: "c".into(),
            reason: EscalationReason::Urgent,
            status: EscalationStatus::Open,
            assignee: None,
            text: text.into(),
            intent: Label::Incident,
            created_at: DateTime::parse_from_rfc3339("2026-01-05T10:00:00+09:00")
                .expect("valid time"),
            claimed_at: None,
            resolved_at: None,
            note: None,
            staff_ref: None,
        }
    }
}

/// A staff reply waiting to be delivered through the member's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: i64,
    pub escalation_id: i64,
    pub channel: ChannelKind,
    pub user: String,
    pub conversation: String,
    /// The reply (redacted like everything stored).
    pub text: String,
    /// Who wrote it.
    pub staff: String,
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Bot,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Bot => "bot",
            Role::Staff => "staff",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Role, StoreError> {
        Ok(match s {
            "member" => Role::Member,
            "bot" => Role::Bot,
            "staff" => Role::Staff,
            o => return Err(StoreError::Corrupt(format!("role {o:?}"))),
        })
    }
}

/// One message of a conversation, as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub at: DateTime<FixedOffset>,
    pub role: Role,
    /// The staff member for staff lines.
    pub author: Option<String>,
    pub text: String,
    pub intent: Option<Label>,
    pub urgent: bool,
}

/// Numbers for `madoguchi stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Member messages in total.
    pub messages: i64,
    /// Member messages per intent, most frequent first.
    pub per_intent: Vec<(String, i64)>,
    /// Replies that were the out-of-scope fallback.
    pub fallbacks: i64,
    /// Replies asking which topic was meant.
    pub clarifications: i64,
    /// Urgent member messages.
    pub urgent: i64,
    pub escalations: i64,
    pub escalations_by_reason: Vec<(String, i64)>,
    pub escalations_by_status: Vec<(String, i64)>,
    /// Median seconds from opening to claiming, over claimed (or resolved) ones.
    pub median_secs_to_claim: Option<f64>,
}

/// Everything one member turn writes, already redacted. The live path writes it at
/// once; during an outage it goes to the spool as one JSON line and is written later.
/// `key` makes writing it idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub key: String,
    pub at: DateTime<FixedOffset>,
    pub channel: ChannelKind,
    pub user: String,
    pub conversation: String,
    pub member_text: String,
    pub reply_text: String,
    pub intent: Label,
    pub confidence: f32,
    pub urgent: bool,
    pub reply_kind: ReplyKind,
    pub escalate: Option<EscalationReason>,
    /// The new conversation state (None: leave it as it is).
    pub state: Option<ConversationState>,
    /// A person handles this conversation; the bot only acknowledged.
    #[serde(default)]
    pub handled_by_staff: bool,
}

/// Timestamps are stored as RFC 3339 UTC with microseconds: sortable text on both backends.
pub(crate) fn ts(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<FixedOffset>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&jst()))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<FixedOffset>>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

pub(crate) fn reply_kind_str(k: ReplyKind) -> &'static str {
    k.as_str()
}
