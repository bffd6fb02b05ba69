//! Text and events in: Events API envelopes, slash commands and interaction payloads
//! → what to do ([`EventAction`], [`InteractionAct`]), as plain functions.

use serde::Deserialize;

use super::render::Target;
use super::{CHOICE_ACTION_PREFIX, CLAIM_ACTION, RESOLVE_ACTION};
use crate::channels::{ChannelKind, Inbound};

/// Member text as the bot should read it: mentions and special tokens dropped, links
/// reduced to their label, channel references to `#name`, entities decoded.
pub fn clean_incoming(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) => {
                let token = &after[..end];
                let (target, label) = match token.split_once('|') {
                    Some((t, l)) => (t, Some(l)),
                    None => (token, None),
                };
                if target.starts_with('@') || target.starts_with('!') {
                    // user mentions and <!channel>/<!here>/<!everyone>/<!subteam…>: not content
                } else if let Some(id) = target.strip_prefix('#') {
                    out.push('#');
                    out.push_str(label.unwrap_or(id));
                } else {
                    out.push_str(label.unwrap_or(target));
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Envelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        /// Missing in some stand-ins: then only the message key de-duplicates.
        #[serde(default)]
        event_id: String,
        event: Box<Event>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: Option<String>,
    pub text: Option<String>,
    pub channel: Option<String>,
    pub channel_type: Option<String>,
    pub ts: Option<String>,
    pub thread_ts: Option<String>,
    pub bot_id: Option<String>,
    pub subtype: Option<String>,
}

/// What to do with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// A member asked something: answer in `target`.
    Member {
        inbound: Inbound,
        target: Target,
        message_key: String,
    },
    /// A message in a channel thread without a mention: a member's follow-up if
    /// madoguchi answered in that thread.
    ThreadFollowUp {
        inbound: Inbound,
        target: Target,
        message_key: String,
    },
    /// Staff wrote in an escalation's thread in the staff channel.
    StaffReply {
        thread_ts: String,
        staff: String,
        text: String,
        message_key: String,
    },
    Ignore(&'static str),
}

/// Event → action. Answers app mentions and direct messages; reads replies in the
/// staff channel's threads; ignores bots, edits and everything else.
pub fn classify_event(ev: &Event, staff_channel: Option<&str>) -> EventAction {
    if ev.bot_id.is_some() {
        return EventAction::Ignore("bot message");
    }
    if ev.subtype.is_some() {
        return EventAction::Ignore("message subtype (edit, join, bot…)");
    }
    let (Some(user), Some(channel), Some(ts)) = (&ev.user, &ev.channel, &ev.ts) else {
        return EventAction::Ignore("no user, channel or ts");
    };
    let text = clean_incoming(ev.text.as_deref().unwrap_or(""));
    let message_key = format!("{channel}:{ts}");
    if Some(channel.as_str()) == staff_channel {
        return match &ev.thread_ts {
            Some(thread)
                if thread != ts && matches!(ev.kind.as_str(), "message" | "app_mention") =>
            {
                if text.is_empty() {
                    EventAction::Ignore("empty staff reply")
                } else {
                    EventAction::StaffReply {
                        thread_ts: thread.clone(),
                        staff: user.clone(),
                        text,
                        message_key,
                    }
                }
            }
            _ => EventAction::Ignore("top-level message in the staff channel"),
        };
    }
    let target = Target {
        channel: channel.clone(),
        thread_ts: Some(ev.thread_ts.clone().unwrap_or_else(|| ts.clone())),
    };
    let inbound = Inbound {
        channel: ChannelKind::Slack,
        user: user.clone(),
        conversation: target.conversation(),
        text,
    };
    match ev.kind.as_str() {
        "app_mention" => EventAction::Member {
            inbound,
            target,
            message_key,
        },
        "message" if ev.channel_type.as_deref() == Some("im") => EventAction::Member {
            inbound,
            target,
            message_key,
        },
        // a reply without a mention in a channel thread: answered only in threads
        // madoguchi is already talking in (checked by the handler)
        "message" if ev.thread_ts.as_ref().is_some_and(|t| t != ts) => {
            EventAction::ThreadFollowUp {
                inbound,
                target,
                message_key,
            }
        }
        _ => EventAction::Ignore("not a mention or direct message"),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Command {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    pub response_url: Option<String>,
    /// Unique per invocation: a command seen twice is answered once.
    pub trigger_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: InteractionUser,
    pub channel: Option<IdOnly>,
    pub message: Option<InteractionMessage>,
    pub container: Option<Container>,
    #[serde(default)]
    pub actions: Vec<InteractionAction>,
    pub response_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InteractionUser {
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InteractionMessage {
    pub ts: Option<String>,
    pub thread_ts: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Container {
    pub channel_id: Option<String>,
    pub message_ts: Option<String>,
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub is_ephemeral: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InteractionAction {
    pub action_id: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffOp {
    Claim,
    Resolve,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractionAct {
    /// A choice button: its value is the member's next message. Ephemeral messages
    /// (slash-command answers) are answered through `response_url`.
    Choice {
        inbound: Inbound,
        target: Target,
        response_url: Option<String>,
    },
    /// `staff` is the Slack user id (the same identity a thread reply carries, so the
    /// one who claims can reply); `display` is for notices.
    Staff {
        op: StaffOp,
        escalation_id: i64,
        staff: String,
        display: String,
        channel: String,
        message_ts: Option<String>,
    },
    Ignore(&'static str),
}

pub fn classify_interaction(i: &Interaction, staff_channel: Option<&str>) -> InteractionAct {
    if i.kind != "block_actions" {
        return InteractionAct::Ignore("not block_actions");
    }
    let Some(action) = i.actions.first() else {
        return InteractionAct::Ignore("no action");
    };
    let channel = i
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .or_else(|| i.container.as_ref().and_then(|c| c.channel_id.clone()));
    let Some(channel) = channel else {
        return InteractionAct::Ignore("no channel");
    };
    let message_ts = i
        .message
        .as_ref()
        .and_then(|m| m.ts.clone())
        .or_else(|| i.container.as_ref().and_then(|c| c.message_ts.clone()));
    if action.action_id == CLAIM_ACTION || action.action_id == RESOLVE_ACTION {
        if Some(channel.as_str()) != staff_channel {
            return InteractionAct::Ignore("staff button outside the staff channel");
        }
        let Some(id) = action
            .value
            .as_deref()
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            return InteractionAct::Ignore("staff button without an escalation id");
        };
        let display = i
            .user
            .username
            .clone()
            .or_else(|| i.user.name.clone())
            .unwrap_or_else(|| i.user.id.clone());
        let op = if action.action_id == CLAIM_ACTION {
            StaffOp::Claim
        } else {
            StaffOp::Resolve
        };
        return InteractionAct::Staff {
            op,
            escalation_id: id,
            staff: i.user.id.clone(),
            display,
            channel,
            message_ts,
        };
    }
    if action.action_id.starts_with(CHOICE_ACTION_PREFIX) {
        let Some(value) = action.value.clone().filter(|v| !v.trim().is_empty()) else {
            return InteractionAct::Ignore("choice without a value");
        };
        let ephemeral = i
            .container
            .as_ref()
            .map(|c| c.is_ephemeral)
            .unwrap_or(false);
        let thread_ts = if ephemeral {
            None
        } else {
            i.message
                .as_ref()
                .and_then(|m| m.thread_ts.clone())
                .or_else(|| i.container.as_ref().and_then(|c| c.thread_ts.clone()))
                .or(message_ts)
        };
        let target = Target { channel, thread_ts };
        let inbound = Inbound {
            channel: ChannelKind::Slack,
            user: i.user.id.clone(),
            conversation: target.conversation(),
            text: value,
        };
        return InteractionAct::Choice {
            inbound,
            target,
            response_url: if ephemeral {
                i.response_url.clone()
            } else {
                None
            },
        };
    }
    InteractionAct::Ignore("unknown action")
}
