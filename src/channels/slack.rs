//! Slack: Events API (`/slack/events`), the `/madoguchi` slash command
//! (`/slack/commands`) and button clicks (`/slack/interactions`). Every request is
//! verified on its raw body (v0 HMAC-SHA256, constant-time, 5-minute window) before it
//! is parsed; events are acknowledged at once and answered from a tracked task with
//! `chat.postMessage` in the thread. Escalations go to the staff channel with
//! Claim/Resolve buttons, and a staff reply in that thread is relayed to the member.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::ratelimit::RATE_LIMITED_MESSAGE;
use super::{split_text, truncate_chars, Answer, ApiError, RawBody, Shared};
use crate::config::{Secret, SlackConfig};
use crate::core::turn::{ChannelKind, Inbound, Reply};
use crate::service::{Escalation, OutboxItem};

/// Requests older (or newer) than this are replays: 401.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;
/// Slack's limit for a section block's text is 3000 characters.
const SECTION_MAX: usize = 2900;
/// A button label may have at most 75 characters.
const BUTTON_LABEL_MAX: usize = 70;

pub const CLAIM_ACTION: &str = "staff_claim";
pub const RESOLVE_ACTION: &str = "staff_resolve";
pub const CHOICE_ACTION_PREFIX: &str = "choice_";

// ---------------------------------------------------------------------------------
// Signature verification

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp")]
    MissingTimestamp,
    #[error("X-Slack-Request-Timestamp is not a number")]
    BadTimestamp,
    #[error("request timestamp is more than 5 minutes away from now")]
    Stale,
    #[error("missing or malformed X-Slack-Signature")]
    MissingSignature,
    #[error("signature does not match")]
    Mismatch,
}

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret.
pub fn sign(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Verifies Slack's request signature on the raw body (constant-time comparison).
pub fn verify(secret: &Secret, headers: &HeaderMap, body: &[u8], now_unix: i64) -> Result<(), SignatureError> {
    let ts = headers.get("x-slack-request-timestamp").ok_or(SignatureError::MissingTimestamp)?;
    let ts = ts.to_str().map_err(|_| SignatureError::BadTimestamp)?.trim();
    let t: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
    if (now_unix - t).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let sig = headers.get("x-slack-signature").and_then(|v| v.to_str().ok()).ok_or(SignatureError::MissingSignature)?;
    let presented = sig.trim().strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).ok_or(SignatureError::MissingSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&presented).map_err(|_| SignatureError::Mismatch)
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------------------------
// Text in and out

/// Escapes text for Slack mrkdwn so it can never form a link or a mention
/// (`<!channel>`, `<!everyone>`, `<@U…>`, `<#C…>` all need `<`); bare `@channel`
/// style words also get a zero-width space, in case an app setting links names.
pub fn escape(text: &str) -> String {
    super::neutralize_mass_mentions(&text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
}

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
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").trim().to_string()
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
            Some((c, ts)) if !ts.is_empty() => Target { channel: c.to_string(), thread_ts: Some(ts.to_string()) },
            _ => Target { channel: conversation.trim_end_matches('/').to_string(), thread_ts: None },
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
    split_text(&escape(text), SECTION_MAX).into_iter().map(|t| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}})).collect()
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
        blocks.push(json!({"type": "actions", "block_id": "madoguchi_choices", "elements": buttons}));
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
    let quoted: String = escape(&truncate_chars(&e.text, 2500)).lines().map(|l| format!("&gt; {l}\n")).collect();
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
    let fallback = format!("#{} {} — {}", e.id, reason_title(e), escape(&truncate_chars(&e.text, 200)));
    base_message(&Target { channel: staff_channel.to_string(), thread_ts: None }, &fallback, blocks)
}

/// The text a member sees when staff answer through the queue.
pub fn staff_reply_text(text: &str) -> String {
    format!("【事務局の担当者より】\n{text}")
}

// ---------------------------------------------------------------------------------
// Events

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Envelope {
    UrlVerification { challenge: String },
    EventCallback { event_id: String, event: Box<Event> },
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
    Member { inbound: Inbound, target: Target, message_key: String },
    /// A message in a channel thread without a mention: a member's follow-up if
    /// madoguchi answered in that thread.
    ThreadFollowUp { inbound: Inbound, target: Target, message_key: String },
    /// Staff wrote in an escalation's thread in the staff channel.
    StaffReply { thread_ts: String, staff: String, text: String, message_key: String },
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
            Some(thread) if thread != ts && matches!(ev.kind.as_str(), "message" | "app_mention") => {
                if text.is_empty() {
                    EventAction::Ignore("empty staff reply")
                } else {
                    EventAction::StaffReply { thread_ts: thread.clone(), staff: user.clone(), text, message_key }
                }
            }
            _ => EventAction::Ignore("top-level message in the staff channel"),
        };
    }
    let target = Target { channel: channel.clone(), thread_ts: Some(ev.thread_ts.clone().unwrap_or_else(|| ts.clone())) };
    let inbound = Inbound { channel: ChannelKind::Slack, user: user.clone(), conversation: target.conversation(), text };
    match ev.kind.as_str() {
        "app_mention" => EventAction::Member { inbound, target, message_key },
        "message" if ev.channel_type.as_deref() == Some("im") => EventAction::Member { inbound, target, message_key },
        // a reply without a mention in a channel thread: answered only in threads
        // madoguchi is already talking in (checked by the handler)
        "message" if ev.thread_ts.as_ref().is_some_and(|t| t != ts) => EventAction::ThreadFollowUp { inbound, target, message_key },
        _ => EventAction::Ignore("not a mention or direct message"),
    }
}

// ---------------------------------------------------------------------------------
// Slash command and interactions

#[derive(Debug, Clone, Deserialize)]
pub struct Command {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    pub response_url: Option<String>,
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
    Choice { inbound: Inbound, target: Target, response_url: Option<String> },
    /// `staff` is the Slack user id (the same identity a thread reply carries, so the
    /// one who claims can reply); `display` is for notices.
    Staff { op: StaffOp, escalation_id: i64, staff: String, display: String, channel: String, message_ts: Option<String> },
    Ignore(&'static str),
}

pub fn classify_interaction(i: &Interaction, staff_channel: Option<&str>) -> InteractionAct {
    if i.kind != "block_actions" {
        return InteractionAct::Ignore("not block_actions");
    }
    let Some(action) = i.actions.first() else {
        return InteractionAct::Ignore("no action");
    };
    let channel = i.channel.as_ref().map(|c| c.id.clone()).or_else(|| i.container.as_ref().and_then(|c| c.channel_id.clone()));
    let Some(channel) = channel else {
        return InteractionAct::Ignore("no channel");
    };
    let message_ts = i.message.as_ref().and_then(|m| m.ts.clone()).or_else(|| i.container.as_ref().and_then(|c| c.message_ts.clone()));
    if action.action_id == CLAIM_ACTION || action.action_id == RESOLVE_ACTION {
        if Some(channel.as_str()) != staff_channel {
            return InteractionAct::Ignore("staff button outside the staff channel");
        }
        let Some(id) = action.value.as_deref().and_then(|v| v.trim().parse::<i64>().ok()) else {
            return InteractionAct::Ignore("staff button without an escalation id");
        };
        let display = i.user.username.clone().or_else(|| i.user.name.clone()).unwrap_or_else(|| i.user.id.clone());
        let op = if action.action_id == CLAIM_ACTION { StaffOp::Claim } else { StaffOp::Resolve };
        return InteractionAct::Staff { op, escalation_id: id, staff: i.user.id.clone(), display, channel, message_ts };
    }
    if action.action_id.starts_with(CHOICE_ACTION_PREFIX) {
        let Some(value) = action.value.clone().filter(|v| !v.trim().is_empty()) else {
            return InteractionAct::Ignore("choice without a value");
        };
        let ephemeral = i.container.as_ref().map(|c| c.is_ephemeral).unwrap_or(false);
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
        let inbound = Inbound { channel: ChannelKind::Slack, user: i.user.id.clone(), conversation: target.conversation(), text: value };
        return InteractionAct::Choice { inbound, target, response_url: if ephemeral { i.response_url.clone() } else { None } };
    }
    InteractionAct::Ignore("unknown action")
}

// ---------------------------------------------------------------------------------
// Web API client

#[derive(Debug, thiserror::Error)]
pub enum SlackApiError {
    #[error("request to Slack failed: {0}")]
    Transport(String),
    #[error("Slack answered HTTP {0}")]
    Status(u16),
    #[error("Slack said not ok: {0}")]
    NotOk(String),
}

/// A small Slack Web API client (bot token, JSON bodies, retries on 429/5xx).
#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl SlackApi {
    pub fn new(cfg: &SlackConfig) -> SlackApi {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("reqwest client");
        SlackApi { http, base: cfg.api_base.clone(), token: cfg.bot_token.clone() }
    }

    async fn send(&self, url: &str, body: &Value, auth: bool) -> Result<Value, SlackApiError> {
        let mut last = SlackApiError::Transport("not attempted".into());
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt))).await;
            }
            let mut req = self.http.post(url).json(body);
            if auth {
                req = req.bearer_auth(self.token.expose());
            }
            match req.send().await {
                Err(e) => last = SlackApiError::Transport(e.without_url().to_string()),
                Ok(res) => {
                    let status = res.status();
                    if status.as_u16() == 429 || status.is_server_error() {
                        if let Some(wait) = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
                            tokio::time::sleep(Duration::from_secs(wait.min(30))).await;
                        }
                        last = SlackApiError::Status(status.as_u16());
                        continue;
                    }
                    if !status.is_success() {
                        return Err(SlackApiError::Status(status.as_u16()));
                    }
                    let text = res.text().await.map_err(|e| SlackApiError::Transport(e.to_string()))?;
                    // response_url answers "ok" as plain text; the Web API answers JSON
                    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"ok": true}));
                    if v.get("ok").and_then(Value::as_bool) == Some(false) {
                        return Err(SlackApiError::NotOk(v.get("error").and_then(Value::as_str).unwrap_or("unknown").to_string()));
                    }
                    return Ok(v);
                }
            }
        }
        Err(last)
    }

    /// Calls a Web API method (`chat.postMessage`, …).
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackApiError> {
        self.send(&format!("{}/{method}", self.base), body, true).await
    }

    /// Posts and returns the new message's `ts`.
    pub async fn post_message(&self, body: &Value) -> Result<String, SlackApiError> {
        let v = self.call("chat.postMessage", body).await?;
        Ok(v.get("ts").and_then(Value::as_str).unwrap_or_default().to_string())
    }

    /// Answers through an interaction's / command's `response_url`.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackApiError> {
        self.send(response_url, body, false).await.map(|_| ())
    }
}

// ---------------------------------------------------------------------------------
// Replays

/// Remembers event ids and message keys for an hour so Slack's retries (and the
/// `message` + `app_mention` pair for one message) are answered once.
#[derive(Debug, Default)]
pub struct Seen {
    map: Mutex<HashMap<String, Instant>>,
}

impl Seen {
    const KEEP: Duration = Duration::from_secs(3600);

    /// True when `key` has not been offered (does not record it).
    pub fn first_peek(&self, key: &str) -> bool {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        !matches!(m.get(key), Some(t) if t.elapsed() < Self::KEEP)
    }

    /// True the first time `key` is offered.
    pub fn first(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 50_000 {
            m.retain(|_, t| now.duration_since(*t) < Self::KEEP);
        }
        match m.get(key) {
            Some(t) if now.duration_since(*t) < Self::KEEP => false,
            _ => {
                m.insert(key.to_string(), now);
                true
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Handlers

/// Slack's config, API client and replay memory, shared by the handlers and pollers.
pub struct SlackState {
    pub cfg: SlackConfig,
    pub api: SlackApi,
    pub seen: Seen,
    /// Channel threads madoguchi has answered in (follow-ups there need no mention).
    threads: Seen,
}

impl SlackState {
    pub fn new(cfg: SlackConfig) -> SlackState {
        SlackState { api: SlackApi::new(&cfg), cfg, seen: Seen::default(), threads: Seen::default() }
    }

    fn remember_thread(&self, target: &Target) {
        if target.thread_ts.is_some() {
            self.threads.first(&target.conversation());
        }
    }

    fn is_our_thread(&self, target: &Target) -> bool {
        target.thread_ts.is_some() && !self.threads.first_peek(&target.conversation())
    }
}

#[derive(Clone)]
struct Ctx {
    shared: Shared,
    slack: Arc<SlackState>,
}

pub fn routes(shared: Shared, slack: Arc<SlackState>) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(Ctx { shared, slack })
}

/// The raw body of a request whose Slack signature checks out.
fn verified_body(ctx: &Ctx, headers: &HeaderMap, body: Result<RawBody, ApiError>) -> Result<axum::body::Bytes, ApiError> {
    let RawBody(body) = body?;
    verify(&ctx.slack.cfg.signing_secret, headers, &body, now_unix()).map_err(|e| {
        tracing::warn!(error = %e, "rejected a Slack request");
        ApiError::unauthorized(e.to_string())
    })?;
    Ok(body)
}

async fn events(State(ctx): State<Ctx>, headers: HeaderMap, body: Result<RawBody, ApiError>) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let env: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return ApiError::bad_request("invalid_json", format!("not a Slack event envelope: {e}")).into_response(),
    };
    match env {
        Envelope::UrlVerification { challenge } => Json(json!({ "challenge": challenge })).into_response(),
        Envelope::Other => StatusCode::OK.into_response(),
        Envelope::EventCallback { event_id, event } => {
            let retry = headers.get("x-slack-retry-num").and_then(|v| v.to_str().ok()).unwrap_or("0").to_string();
            if !ctx.slack.seen.first(&format!("event:{event_id}")) {
                tracing::info!(%event_id, retry, "duplicate Slack event ignored");
                return ([("x-slack-no-retry", "1")], StatusCode::OK).into_response();
            }
            let action = classify_event(&event, ctx.slack.cfg.staff_channel.as_deref());
            match action {
                EventAction::Ignore(why) => tracing::debug!(%event_id, why, "Slack event ignored"),
                EventAction::ThreadFollowUp { inbound, target, message_key } => {
                    if ctx.slack.is_our_thread(&target) && ctx.slack.seen.first(&format!("msg:{message_key}")) {
                        let c = ctx.clone();
                        ctx.shared.tasks.spawn(async move { answer_member(&c, inbound, target, None).await });
                    }
                }
                EventAction::Member { inbound, target, message_key } => {
                    if ctx.slack.seen.first(&format!("msg:{message_key}")) {
                        let c = ctx.clone();
                        ctx.shared.tasks.spawn(async move { answer_member(&c, inbound, target, None).await });
                    }
                }
                EventAction::StaffReply { thread_ts, staff, text, message_key } => {
                    if ctx.slack.seen.first(&format!("msg:{message_key}")) {
                        let c = ctx.clone();
                        ctx.shared.tasks.spawn(async move { relay_staff_reply(&c, &thread_ts, &staff, &text).await });
                    }
                }
            }
            StatusCode::OK.into_response()
        }
    }
}

/// Answers a member: through the service, then `chat.postMessage` in the thread (or
/// the `response_url` for ephemeral slash-command conversations).
async fn answer_member(ctx: &Ctx, inbound: Inbound, target: Target, response_url: Option<String>) {
    let msg = match ctx.shared.answer(inbound).await {
        Answer::Reply(o) => {
            if response_url.is_none() {
                ctx.slack.remember_thread(&target);
            }
            reply_message(&o.reply, &target)
        }
        Answer::Limited { notify: true } => text_message(RATE_LIMITED_MESSAGE, &target),
        Answer::Limited { notify: false } => return,
    };
    deliver(ctx, msg, response_url.as_deref()).await;
}

async fn deliver(ctx: &Ctx, mut msg: Value, response_url: Option<&str>) {
    let result = match response_url {
        Some(url) => {
            msg["response_type"] = json!("ephemeral");
            msg["replace_original"] = json!(false);
            ctx.slack.api.respond(url, &msg).await
        }
        None => ctx.slack.api.post_message(&msg).await.map(|_| ()),
    };
    if let Err(e) = result {
        ctx.shared.metrics.observe_delivery_failure(ChannelKind::Slack);
        tracing::error!(error = %e, "could not post the answer to Slack");
    }
}

async fn relay_staff_reply(ctx: &Ctx, thread_ts: &str, staff: &str, text: &str) {
    let service = &ctx.shared.service;
    let Some(staff_channel) = ctx.slack.cfg.staff_channel.clone() else { return };
    let notice = match service.escalation_by_staff_ref(&staff_ref(thread_ts)).await {
        Ok(Some(esc)) => match service.staff_reply(esc.id, &Shared::staff_name(ChannelKind::Slack, staff), text).await {
            Ok(item) => {
                ctx.shared.wake.notify_one();
                format!("#{} の利用者へ送信します（{}）。", esc.id, item.channel.as_str())
            }
            Err(e) => format!("送信できませんでした: {e}"),
        },
        Ok(None) => return, // a thread that is not an escalation post: ordinary staff chat
        Err(e) => format!("送信できませんでした: {e}"),
    };
    let msg = text_message(&notice, &Target { channel: staff_channel, thread_ts: Some(thread_ts.to_string()) });
    if let Err(e) = ctx.slack.api.post_message(&msg).await {
        tracing::warn!(error = %e, "could not confirm a staff reply in Slack");
    }
}

/// The staff reference stored for a Slack escalation post.
pub fn staff_ref(ts: &str) -> String {
    format!("slack:{ts}")
}

async fn commands(State(ctx): State<Ctx>, headers: HeaderMap, body: Result<RawBody, ApiError>) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let cmd: Command = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return ApiError::bad_request("invalid_form", format!("not a Slack slash command: {e}")).into_response(),
    };
    let text = clean_incoming(&cmd.text);
    if text.is_empty() {
        return Json(json!({
            "response_type": "ephemeral",
            "text": format!("使い方: `{} 質問` （例: `{} 支援金の対象は？`）。緊急のトラブルは 0120-179-066（年中無休 9:00〜21:00）へお電話ください。", cmd.command, cmd.command),
        }))
        .into_response();
    }
    let target = Target { channel: cmd.channel_id.clone(), thread_ts: None };
    let inbound = Inbound { channel: ChannelKind::Slack, user: cmd.user_id.clone(), conversation: target.conversation(), text };
    let c = ctx.clone();
    let response_url = cmd.response_url.clone();
    ctx.shared.tasks.spawn(async move {
        match response_url {
            Some(url) => answer_member(&c, inbound, target, Some(url)).await,
            // no response_url: answer the member privately in a DM
            None => {
                let dm = Target { channel: inbound.user.clone(), thread_ts: None };
                answer_member(&c, inbound, dm, None).await
            }
        }
    });
    Json(json!({"response_type": "ephemeral", "text": "確認しています…"})).into_response()
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactions(State(ctx): State<Ctx>, headers: HeaderMap, body: Result<RawBody, ApiError>) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let payload: Interaction = match serde_urlencoded::from_bytes::<InteractionForm>(&body).map_err(|e| e.to_string()).and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string())) {
        Ok(p) => p,
        Err(e) => return ApiError::bad_request("invalid_payload", format!("not a Slack interaction payload: {e}")).into_response(),
    };
    match classify_interaction(&payload, ctx.slack.cfg.staff_channel.as_deref()) {
        InteractionAct::Ignore(why) => tracing::debug!(why, "Slack interaction ignored"),
        InteractionAct::Choice { inbound, target, response_url } => {
            let c = ctx.clone();
            ctx.shared.tasks.spawn(async move { answer_member(&c, inbound, target, response_url).await });
        }
        InteractionAct::Staff { op, escalation_id, staff, display, channel, message_ts } => {
            let c = ctx.clone();
            ctx.shared.tasks.spawn(async move { staff_action(&c, op, escalation_id, &staff, &display, channel, message_ts).await });
        }
    }
    StatusCode::OK.into_response()
}

async fn staff_action(ctx: &Ctx, op: StaffOp, id: i64, staff: &str, display: &str, channel: String, message_ts: Option<String>) {
    let service = &ctx.shared.service;
    let name = Shared::staff_name(ChannelKind::Slack, staff);
    let text = match op {
        StaffOp::Claim => match service.claim(id, &name).await {
            Ok(_) => format!("#{id} は {display} さんが担当します。このスレッドへの返信が利用者に届きます。"),
            Err(e) => format!("#{id} を担当にできませんでした: {e}"),
        },
        StaffOp::Resolve => match service.resolve(id, &name, None).await {
            Ok(_) => format!("#{id} は {display} さんが解決済みにしました。"),
            Err(e) => format!("#{id} を解決済みにできませんでした: {e}"),
        },
    };
    let msg = text_message(&text, &Target { channel, thread_ts: message_ts });
    if let Err(e) = ctx.slack.api.post_message(&msg).await {
        tracing::warn!(error = %e, "could not post a staff action notice to Slack");
    }
}

// ---------------------------------------------------------------------------------
// Background work: escalations → staff channel, staff replies → members

/// Posts escalations not yet in the staff channel; returns how many were posted.
pub async fn post_escalations(shared: &Shared, slack: &SlackState, take: impl Fn(&Escalation) -> bool) -> usize {
    let Some(staff_channel) = slack.cfg.staff_channel.as_deref() else { return 0 };
    let pending = match shared.service.unposted_escalations().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "could not read unposted escalations");
            return 0;
        }
    };
    let mut posted = 0;
    for e in pending.iter().filter(|e| take(e)) {
        match slack.api.post_message(&escalation_message(e, staff_channel)).await {
            Ok(ts) if !ts.is_empty() => {
                if let Err(err) = shared.service.set_staff_ref(e.id, &staff_ref(&ts)).await {
                    tracing::error!(error = %err, id = e.id, "posted an escalation but could not record its ts");
                }
                posted += 1;
            }
            Ok(_) => tracing::error!(id = e.id, "Slack returned no ts for an escalation post"),
            Err(err) => {
                shared.metrics.observe_delivery_failure(ChannelKind::Slack);
                tracing::warn!(error = %err, id = e.id, "could not post an escalation to Slack (will retry)");
                break;
            }
        }
    }
    posted
}

/// Delivers staff replies waiting in the outbox for Slack members.
pub async fn deliver_outbox(shared: &Shared, slack: &SlackState) -> usize {
    let items: Vec<OutboxItem> = match shared.service.undelivered(ChannelKind::Slack).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the Slack outbox");
            return 0;
        }
    };
    let mut n = 0;
    for item in items {
        let mut target = Target::parse(&item.conversation);
        if target.thread_ts.is_none() {
            // slash-command conversations have no thread: answer in a DM
            target = Target { channel: item.user.clone(), thread_ts: None };
        }
        let sent = slack.api.post_message(&text_message(&staff_reply_text(&item.text), &target)).await;
        n += usize::from(shared.record_delivery(item.id, ChannelKind::Slack, sent).await);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::label::Label;
    use crate::core::turn::{Choice, ReplyKind};

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-slack-request-timestamp", ts.parse().unwrap());
        h.insert("x-slack-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn signature_matches_slacks_documented_example() {
        // the worked example from Slack's "Verifying requests from Slack" page
        let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let ts = "1531420618";
        assert_eq!(sign(&secret, ts, body), "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
        assert_eq!(verify(&secret, &headers(ts, &sign(&secret, ts, body)), body, 1531420618 + 10), Ok(()));
    }

    #[test]
    fn forged_stale_and_missing_signatures_are_rejected() {
        let secret = Secret::new("s3cret");
        let body = br#"{"type":"url_verification","challenge":"x"}"#;
        let now = 1_700_000_000;
        let ts = now.to_string();
        let good = sign(&secret, &ts, body);
        assert_eq!(verify(&secret, &headers(&ts, &good), body, now), Ok(()));
        assert_eq!(verify(&Secret::new("other"), &headers(&ts, &good), body, now), Err(SignatureError::Mismatch));
        assert_eq!(verify(&secret, &headers(&ts, &good), b"{\"type\":\"tampered\"}", now), Err(SignatureError::Mismatch));
        let old = (now - 301).to_string();
        assert_eq!(verify(&secret, &headers(&old, &sign(&secret, &old, body)), body, now), Err(SignatureError::Stale));
        let future = (now + 301).to_string();
        assert_eq!(verify(&secret, &headers(&future, &sign(&secret, &future, body)), body, now), Err(SignatureError::Stale));
        assert_eq!(verify(&secret, &headers(&ts, "v0=zz"), body, now), Err(SignatureError::MissingSignature));
        assert_eq!(verify(&secret, &headers("soon", &good), body, now), Err(SignatureError::BadTimestamp));
        assert_eq!(verify(&secret, &HeaderMap::new(), body, now), Err(SignatureError::MissingTimestamp));
    }

    #[test]
    fn escape_defuses_every_mention_form() {
        let t = escape("<!everyone> <!channel> <!here> <@U123> <#C42|general> a&b @here");
        assert_eq!(t, "&lt;!everyone&gt; &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;#C42|general&gt; a&amp;b @\u{200B}here");
        assert!(!t.contains('<') && !t.contains('>'));
    }

    #[test]
    fn incoming_text_loses_mentions_and_keeps_content() {
        assert_eq!(clean_incoming("<@U0BOT> ランサムウェアに感染しました"), "ランサムウェアに感染しました");
        assert_eq!(clean_incoming("<!channel> 見て &lt;急ぎ&gt; &amp; <https://example.com|ここ> <#C1|general>"), "見て <急ぎ> & ここ #general");
        assert_eq!(clean_incoming("a < b"), "a < b");
    }

    fn ev(json: Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn app_mention_becomes_an_inbound_answered_in_its_thread() {
        let e = ev(json!({"type":"app_mention","user":"U1","text":"<@U0BOT> 窓口の電話番号は？","channel":"C9","ts":"1700.01"}));
        match classify_event(&e, Some("CSTAFF")) {
            EventAction::Member { inbound, target, .. } => {
                assert_eq!(inbound, Inbound { channel: ChannelKind::Slack, user: "U1".into(), conversation: "C9/1700.01".into(), text: "窓口の電話番号は？".into() });
                assert_eq!(target, Target { channel: "C9".into(), thread_ts: Some("1700.01".into()) });
            }
            other => panic!("{other:?}"),
        }
        // inside a thread: the thread's root
        let e = ev(json!({"type":"app_mention","user":"U1","text":"<@U0BOT> はい","channel":"C9","ts":"1700.05","thread_ts":"1700.01"}));
        assert!(matches!(classify_event(&e, None), EventAction::Member { target: Target { thread_ts: Some(t), .. }, .. } if t == "1700.01"));
    }

    #[test]
    fn direct_messages_are_answered_but_bots_edits_and_channel_chatter_are_not() {
        let dm = ev(json!({"type":"message","channel_type":"im","user":"U1","text":"支援金は？","channel":"D1","ts":"1.1"}));
        assert!(matches!(classify_event(&dm, None), EventAction::Member { .. }));
        for e in [
            json!({"type":"message","channel_type":"im","user":"U1","bot_id":"B1","text":"x","channel":"D1","ts":"1.2"}),
            json!({"type":"message","channel_type":"im","subtype":"message_changed","channel":"D1","ts":"1.3"}),
            json!({"type":"message","channel_type":"channel","user":"U1","text":"雑談","channel":"C1","ts":"1.4"}),
            json!({"type":"reaction_added","user":"U1","channel":"C1","ts":"1.5"}),
        ] {
            assert!(matches!(classify_event(&ev(e.clone()), None), EventAction::Ignore(_)), "{e}");
        }
    }

    #[test]
    fn an_unmentioned_thread_reply_is_a_possible_follow_up_but_top_level_chatter_is_not() {
        let e = ev(json!({"type":"message","channel_type":"channel","user":"U1","text":"それはいくら？","channel":"C9","ts":"1700.09","thread_ts":"1700.01"}));
        match classify_event(&e, Some("CSTAFF")) {
            EventAction::ThreadFollowUp { inbound, .. } => assert_eq!(inbound.conversation, "C9/1700.01"),
            other => panic!("{other:?}"),
        }
        let top = ev(json!({"type":"message","channel_type":"channel","user":"U1","text":"雑談","channel":"C9","ts":"1700.10"}));
        assert!(matches!(classify_event(&top, Some("CSTAFF")), EventAction::Ignore(_)));
    }

    #[test]
    fn a_thread_reply_in_the_staff_channel_is_a_staff_reply() {
        let e = ev(json!({"type":"message","channel_type":"channel","user":"US","text":"お電話ください。","channel":"CSTAFF","ts":"2.2","thread_ts":"2.1"}));
        assert_eq!(
            classify_event(&e, Some("CSTAFF")),
            EventAction::StaffReply { thread_ts: "2.1".into(), staff: "US".into(), text: "お電話ください。".into(), message_key: "CSTAFF:2.2".into() }
        );
        let top = ev(json!({"type":"message","user":"US","text":"朝会","channel":"CSTAFF","ts":"2.3"}));
        assert!(matches!(classify_event(&top, Some("CSTAFF")), EventAction::Ignore(_)));
    }

    fn reply(text: &str, choices: Vec<Choice>) -> Reply {
        Reply { text: text.into(), intent: Label::Hotline, confidence: 0.9, urgent: false, kind: ReplyKind::Answer, choices, escalate: None, sources: vec![] }
    }

    #[test]
    fn reply_renders_as_thread_message_with_choice_buttons() {
        let r = reply("電話は 0120-179-066 です <!channel>", vec![Choice { label: "支援金".into(), value: "支援金はいくら？".into() }]);
        let m = reply_message(&r, &Target { channel: "C1".into(), thread_ts: Some("9.9".into()) });
        assert_eq!(m["thread_ts"], "9.9");
        assert_eq!(m["link_names"], false);
        let s = m.to_string();
        assert!(s.contains("0120-179-066"));
        assert!(!s.contains("<!channel>"), "{s}");
        let buttons = &m["blocks"][1]["elements"];
        assert_eq!(buttons[0]["action_id"], "choice_0");
        assert_eq!(buttons[0]["value"], "支援金はいくら？");
    }

    #[test]
    fn long_replies_are_split_into_valid_sections() {
        let r = reply(&"長い説明です。\n".repeat(800), vec![]);
        let blocks = reply_blocks(&r);
        assert!(blocks.len() > 1);
        for b in &blocks {
            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        }
    }

    fn interaction(json: Value) -> Interaction {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_choice_click_is_the_members_next_message_in_the_same_thread() {
        let i = interaction(json!({
            "type":"block_actions","user":{"id":"U1","username":"taro"},"channel":{"id":"C9"},
            "message":{"ts":"1700.09","thread_ts":"1700.01"},"container":{"type":"message","message_ts":"1700.09","channel_id":"C9","is_ephemeral":false},
            "actions":[{"action_id":"choice_1","value":"支援金はいくら？"}],"response_url":"https://hooks.slack.com/x"}));
        match classify_interaction(&i, Some("CSTAFF")) {
            InteractionAct::Choice { inbound, target, response_url } => {
                assert_eq!(inbound.text, "支援金はいくら？");
                assert_eq!(inbound.conversation, "C9/1700.01");
                assert_eq!(target.thread_ts.as_deref(), Some("1700.01"));
                assert_eq!(response_url, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn staff_buttons_only_count_in_the_staff_channel() {
        let mk = |channel: &str| {
            interaction(json!({"type":"block_actions","user":{"id":"US","username":"hanako"},"channel":{"id":channel},
                "message":{"ts":"5.5"},"actions":[{"action_id":"staff_claim","value":"12"}]}))
        };
        assert_eq!(
            classify_interaction(&mk("CSTAFF"), Some("CSTAFF")),
            InteractionAct::Staff { op: StaffOp::Claim, escalation_id: 12, staff: "US".into(), display: "hanako".into(), channel: "CSTAFF".into(), message_ts: Some("5.5".into()) }
        );
        assert!(matches!(classify_interaction(&mk("C1"), Some("CSTAFF")), InteractionAct::Ignore(_)));
    }

    #[test]
    fn conversation_strings_round_trip() {
        for t in [Target { channel: "C1".into(), thread_ts: Some("1.2".into()) }, Target { channel: "D1".into(), thread_ts: None }] {
            assert_eq!(Target::parse(&t.conversation()), t);
        }
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_can_never_open_a_mention_or_link(t in ".{0,200}") {
            let e = escape(&t);
            proptest::prop_assert!(!e.contains('<') && !e.contains('>'));
        }

        #[test]
        fn clean_incoming_never_panics_and_drops_every_special_mention(t in "[<>!@#|a-zあ ]{0,80}") {
            let c = clean_incoming(&format!("<!channel> {t} <@U1>"));
            proptest::prop_assert!(!c.contains("<!channel>") && !c.contains("<@U1>"));
        }

        #[test]
        fn a_random_signature_is_never_accepted(sig in "[0-9a-f]{64}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let h = headers("1700000000", &format!("v0={sig}"));
            let expected = sign(&Secret::new("k"), "1700000000", &body);
            proptest::prop_assume!(expected != format!("v0={sig}"));
            proptest::prop_assert_eq!(verify(&Secret::new("k"), &h, &body, 1_700_000_000), Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn seen_answers_true_once() {
        let s = Seen::default();
        assert!(s.first("event:Ev1"));
        assert!(!s.first("event:Ev1"));
        assert!(s.first("event:Ev2"));
    }
}
