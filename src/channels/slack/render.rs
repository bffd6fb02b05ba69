//! Text out: replies, notices and escalation posts as `chat.postMessage` bodies
//! (mrkdwn escaped so nothing can mention or link, no unfurling, threads kept).

use serde_json::{json, Value};

use super::{CHOICE_ACTION_PREFIX, CLAIM_ACTION, RESOLVE_ACTION};
use crate::channels::{split_text, truncate_chars};
use crate::core::turn::Reply;
use crate::service::Escalation;

/// Slack's limit for a section block's text is 3000 characters.
const SECTION_MAX: usize = 2900;
/// A button label may have at most 75 characters.
const BUTTON_LABEL_MAX: usize = 70;

/// Escapes text for Slack mrkdwn so it can never form a link or a mention
/// (`<!channel>`, `<!everyone>`, `<@U…>`, `<#C…>` all need `<`); bare `@channel`
/// style words also get a zero-width space, in case an app setting links names.
pub fn escape(text: &str) -> String {
    crate::channels::neutralize_mass_mentions(
        &text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    )
}

/// Where a Slack reply goes: a channel and, usually, a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub channel: String,
    pub thread_ts: Option<String>,
}

impl Target {
    /// The `Inbound::conversation` string: `C123/1700000000.000100` or `C123`.
    pub fn conversation(&self) -> String {
        match &self.thread_ts {
            Some(ts) => format!("{}/{}", self.channel, ts),
            None => self.channel.clone(),
        }
    }

    pub fn parse(conversation: &str) -> Target {
        match conversation.split_once('/') {
            Some((c, ts)) if !ts.is_empty() => Target {
                channel: c.to_string(),
                thread_ts: Some(ts.to_string()),
            },
            _ => Target {
                channel: conversation.trim_end_matches('/').to_string(),
                thread_ts: None,
            },
        }
    }
}

/// `chat.postMessage` arguments common to every message madoguchi sends: no link
/// unfurling, no mention parsing.
fn base_message(target: &Target, text: &str, blocks: Vec<Value>) -> Value {
    let mut m = json!({
        "channel": target.channel,
        "text": truncate_chars(text, 3900),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
        "link_names": false,
        "parse": "none",
    });
    if let Some(ts) = &target.thread_ts {
        m["thread_ts"] = json!(ts);
    }
    m
}

fn sections(text: &str) -> Vec<Value> {
    split_text(&escape(text), SECTION_MAX)
        .into_iter()
        .map(|t| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}}))
        .collect()
}

/// Reply → Slack blocks: the text in section blocks (escaped) and one button per
/// clarification choice, whose value is sent back as the member's next message.
pub fn reply_blocks(reply: &Reply) -> Vec<Value> {
    let mut blocks = sections(&reply.text);
    if !reply.choices.is_empty() {
        let buttons: Vec<Value> = reply
            .choices
            .iter()
            .take(5)
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "type": "button",
                    "action_id": format!("{CHOICE_ACTION_PREFIX}{i}"),
                    "text": {"type": "plain_text", "text": truncate_chars(&c.label, BUTTON_LABEL_MAX), "emoji": true},
                    "value": truncate_chars(&c.value, 1900),
                })
            })
            .collect();
        blocks
            .push(json!({"type": "actions", "block_id": "madoguchi_choices", "elements": buttons}));
    }
    blocks
}

/// The full `chat.postMessage` body for a reply.
pub fn reply_message(reply: &Reply, target: &Target) -> Value {
    base_message(target, &escape(&reply.text), reply_blocks(reply))
}

/// A plain text message (escaped), e.g. the rate-limit apology or a staff reply.
pub fn text_message(text: &str, target: &Target) -> Value {
    base_message(target, &escape(text), sections(text))
}

fn reason_title(e: &Escalation) -> &'static str {
    match e.reason.as_str() {
        "urgent" => ":rotating_light: 至急: インシデント発生中の可能性",
        "human_request" => ":raising_hand: 担当者との会話を希望",
        _ => ":grey_question: 自動応答で解決できず担当者を希望",
    }
}

/// The staff-channel post for an escalation: what happened, the member's words
/// (escaped), and Claim / Resolve buttons.
pub fn escalation_message(e: &Escalation, staff_channel: &str) -> Value {
    let title = format!("#{} {}", e.id, reason_title(e));
    let summary = format!(
        "*チャネル:* {}\n*利用者:* {}\n*会話:* {}\n*理由:* {}",
        e.channel.as_str(),
        escape(&e.user),
        escape(&e.conversation),
        e.reason.as_str()
    );
    let quoted: String = escape(&truncate_chars(&e.text, 2500))
        .lines()
        .map(|l| format!("&gt; {l}\n"))
        .collect();
    let blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": title}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": summary}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": if quoted.is_empty() { "（本文なし）".to_string() } else { quoted }}}),
        json!({"type": "actions", "block_id": format!("escalation_{}", e.id), "elements": [
            {"type": "button", "style": "primary", "action_id": CLAIM_ACTION, "value": e.id.to_string(),
             "text": {"type": "plain_text", "text": "担当する (Claim)"}},
            {"type": "button", "action_id": RESOLVE_ACTION, "value": e.id.to_string(),
             "text": {"type": "plain_text", "text": "解決済みにする (Resolve)"},
             "confirm": {"title": {"type": "plain_text", "text": "解決済みにしますか？"},
                         "text": {"type": "plain_text", "text": "このエスカレーションを閉じます。"},
                         "confirm": {"type": "plain_text", "text": "解決済みにする"},
                         "deny": {"type": "plain_text", "text": "やめる"}}}
        ]}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "このスレッドに返信すると、その内容が利用者に届きます。"}]}),
    ];
    let fallback = format!(
        "#{} {} — {}",
        e.id,
        reason_title(e),
        escape(&truncate_chars(&e.text, 200))
    );
    base_message(
        &Target {
            channel: staff_channel.to_string(),
            thread_ts: None,
        },
        &fallback,
        blocks,
    )
}
