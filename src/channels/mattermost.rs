//! Mattermost: one endpoint, `/mattermost/webhook`, for both the outgoing webhook
//! (form or JSON, answered as a thread comment) and the `/madoguchi` slash command
//! (answered ephemerally). The `token` field must equal `MATTERMOST_TOKEN`.
//!
//! Staff replies: with `MATTERMOST_BOT_TOKEN` and `MATTERMOST_URL` they are posted
//! through the REST API (`POST /api/v4/posts`, threaded under the member's latest
//! post via `root_id`) by [`MattermostStaff`]; without them they are handed out with
//! the member's next answer (the webhook can only answer the message that fired it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ratelimit::RATE_LIMITED_MESSAGE;
use super::staff::{staff_reply_text, DeliveryError, StaffChannel};
use super::{neutralize_mass_mentions, Answer, ApiError, RawBody, Shared};
use super::{ChannelKind, Inbound};
use crate::config::{MattermostConfig, Secret};
use crate::core::turn::Reply;
use crate::service::{Escalation, OutboxItem};

/// The fields madoguchi reads from an outgoing webhook or slash command request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub token: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub channel_id: Option<String>,
    pub post_id: Option<String>,
    #[serde(default)]
    pub text: String,
    pub trigger_word: Option<String>,
    /// Present for slash commands only.
    pub command: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    SlashCommand,
}

/// Body → request: JSON when it looks like JSON, otherwise form-encoded.
pub fn parse(body: &[u8]) -> Result<Request, ApiError> {
    let trimmed = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .copied()
        .next();
    if trimmed == Some(b'{') {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("invalid_json", format!("not a Mattermost request: {e}"))
        })
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| {
            ApiError::bad_request("invalid_form", format!("not a Mattermost request: {e}"))
        })
    }
}

/// Request → Inbound (with the trigger word removed) and which kind it was.
pub fn to_inbound(r: &Request) -> Result<(Inbound, Kind), ApiError> {
    let user = r
        .user_id
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_field", "user_id is required"))?;
    let channel = r
        .channel_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_field", "channel_id is required"))?;
    let kind = if r.command.is_some() {
        Kind::SlashCommand
    } else {
        Kind::Webhook
    };
    let mut text = r.text.trim();
    if let Some(t) = r.trigger_word.as_deref().filter(|t| !t.is_empty()) {
        text = text.strip_prefix(t).unwrap_or(text).trim();
    }
    Ok((
        Inbound {
            channel: ChannelKind::Mattermost,
            user,
            conversation: channel,
            text: text.to_string(),
        },
        kind,
    ))
}

/// Reply → Mattermost Markdown: the text (mass mentions defused) and the choices as a
/// list of things the member can send next.
pub fn render(reply: &Reply) -> String {
    let mut s = reply.text.clone();
    if !reply.choices.is_empty() {
        s.push_str("\n\n次のように送っていただくと続けてお答えできます:");
        for c in &reply.choices {
            s.push_str(&format!("\n- {}（「{}」）", c.label, c.value));
        }
    }
    neutralize_mass_mentions(&s)
}

/// The response JSON: a thread comment for webhooks, ephemeral for slash commands.
pub fn response(text: &str, kind: Kind) -> Value {
    match kind {
        Kind::Webhook => json!({"text": text, "response_type": "comment"}),
        Kind::SlashCommand => json!({"text": text, "response_type": "ephemeral"}),
    }
}

/// The member's latest post per (user, channel), so a staff reply can be threaded
/// under it. Per process: after a restart a reply goes to the channel itself until
/// the member writes again.
#[derive(Default)]
pub struct Threads(Mutex<HashMap<(String, String), String>>);

impl Threads {
    fn key(user: &str, conversation: &str) -> (String, String) {
        (user.to_string(), conversation.to_string())
    }

    pub fn remember(&self, user: &str, conversation: &str, post_id: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            m.clear();
        }
        m.insert(Self::key(user, conversation), post_id.to_string());
    }

    pub fn root_of(&self, user: &str, conversation: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&Self::key(user, conversation))
            .cloned()
    }
}

/// One per process: the webhook records where members wrote, the staff side replies there.
pub fn threads() -> Arc<Threads> {
    static THREADS: std::sync::OnceLock<Arc<Threads>> = std::sync::OnceLock::new();
    THREADS.get_or_init(Default::default).clone()
}

/// The `POST /api/v4/posts` body for a staff reply (no mentions are parsed by the
/// server for bots beyond the text itself; mass mentions are defused in the text).
pub fn post_body(channel_id: &str, root_id: Option<&str>, text: &str) -> Value {
    let mut v = json!({"channel_id": channel_id, "message": neutralize_mass_mentions(text)});
    if let Some(r) = root_id {
        v["root_id"] = json!(r);
    }
    v
}

/// Mattermost as a staff channel: pushes staff replies through the REST API as the bot.
/// It has no staff room (escalations go to Slack's or Discord's).
pub struct MattermostStaff {
    http: reqwest::Client,
    base: String,
    token: Secret,
    threads: Arc<Threads>,
}

impl MattermostStaff {
    /// Some when both the bot token and the server URL are configured.
    pub fn new(cfg: &MattermostConfig) -> Option<MattermostStaff> {
        let (token, url) = (cfg.bot_token.clone()?, cfg.url.clone()?);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        Some(MattermostStaff {
            http,
            base: format!("{url}/api/v4"),
            token,
            threads: threads(),
        })
    }
}

impl MattermostStaff {
    async fn post(&self, body: &Value) -> Result<reqwest::StatusCode, DeliveryError> {
        let res = self
            .http
            .post(format!("{}/posts", self.base))
            .bearer_auth(self.token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| DeliveryError::new(e.without_url()))?;
        Ok(res.status())
    }

    /// The root of the thread `post_id` is in (a reply must name the thread's root), or
    /// the post itself when it is a root or cannot be looked up.
    async fn thread_root(&self, post_id: &str) -> String {
        let res = self
            .http
            .get(format!("{}/posts/{post_id}", self.base))
            .bearer_auth(self.token.expose())
            .send()
            .await;
        let root = match res {
            Ok(r) if r.status().is_success() => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.get("root_id").and_then(Value::as_str).map(str::to_string)),
            _ => None,
        };
        root.filter(|r| !r.is_empty())
            .unwrap_or_else(|| post_id.to_string())
    }
}

#[axum::async_trait]
impl StaffChannel for MattermostStaff {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Mattermost
    }

    fn has_staff_room(&self) -> bool {
        false
    }

    fn pushes_replies(&self) -> bool {
        true
    }

    async fn post_escalation(&self, _: &Escalation) -> Result<String, DeliveryError> {
        Err(DeliveryError::new("Mattermost has no staff room"))
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let text = staff_reply_text(&item.text);
        let root = match self.threads.root_of(&item.user, &item.conversation) {
            Some(post) => Some(self.thread_root(&post).await),
            None => None,
        };
        let status = self
            .post(&post_body(&item.conversation, root.as_deref(), &text))
            .await?;
        if status.is_success() {
            return Ok(());
        }
        if root.is_some() && status.is_client_error() {
            // the thread is gone or not postable: the channel itself still reaches the member
            tracing::warn!(
                status = status.as_u16(),
                "Mattermost refused the threaded reply; posting in the channel"
            );
            let status = self
                .post(&post_body(&item.conversation, None, &text))
                .await?;
            if status.is_success() {
                return Ok(());
            }
            return Err(DeliveryError::new(format!(
                "Mattermost answered HTTP {}",
                status.as_u16()
            )));
        }
        Err(DeliveryError::new(format!(
            "Mattermost answered HTTP {}",
            status.as_u16()
        )))
    }
}

#[derive(Clone)]
struct Ctx {
    shared: Shared,
    cfg: MattermostConfig,
    threads: Arc<Threads>,
}

pub fn routes(shared: Shared, cfg: MattermostConfig) -> Router {
    Router::new()
        .route("/mattermost/webhook", post(webhook))
        .with_state(Ctx {
            shared,
            cfg,
            threads: threads(),
        })
}

async fn webhook(State(ctx): State<Ctx>, body: Result<RawBody, ApiError>) -> Response {
    let body = match body {
        Ok(RawBody(b)) => b,
        Err(e) => return e.into_response(),
    };
    let req = match parse(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if req.token.is_empty() || !ctx.cfg.token.matches(&req.token) {
        return ApiError::unauthorized("token does not match MATTERMOST_TOKEN").into_response();
    }
    let (inbound, kind) = match to_inbound(&req) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Some(post_id) = req.post_id.as_deref().filter(|p| !p.is_empty()) {
        ctx.threads
            .remember(&inbound.user, &inbound.conversation, post_id);
    }
    let text = match ctx.shared.answer(inbound).await {
        // staff replies that could not be pushed come first, then the answer
        Answer::Reply(o) => {
            o.staff_messages
                .iter()
                .map(|m| neutralize_mass_mentions(&staff_reply_text(m)) + "\n\n")
                .collect::<String>()
                + &render(&o.reply)
        }
        Answer::Limited { .. } => RATE_LIMITED_MESSAGE.to_string(),
    };
    (StatusCode::OK, Json(response(&text, kind))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::label::Label;
    use crate::core::turn::{Choice, ReplyKind};

    #[test]
    fn outgoing_webhook_form_becomes_inbound_without_trigger_word() {
        let body = b"token=tok&team_id=t&channel_id=ch1&user_id=u1&user_name=taro&post_id=p1&text=%23madoguchi+%E6%94%AF%E6%8F%B4%E9%87%91%E3%81%AF%EF%BC%9F&trigger_word=%23madoguchi";
        let r = parse(body).unwrap();
        let (i, kind) = to_inbound(&r).unwrap();
        assert_eq!(kind, Kind::Webhook);
        assert_eq!(
            i,
            Inbound {
                channel: ChannelKind::Mattermost,
                user: "u1".into(),
                conversation: "ch1".into(),
                text: "支援金は？".into()
            }
        );
    }

    #[test]
    fn slash_command_json_is_ephemeral() {
        let r = parse(r#"{"token":"tok","command":"/madoguchi","text":"窓口は何時まで？","user_id":"u2","channel_id":"c2"}"#.as_bytes()).unwrap();
        let (i, kind) = to_inbound(&r).unwrap();
        assert_eq!(kind, Kind::SlashCommand);
        assert_eq!(i.text, "窓口は何時まで？");
        assert_eq!(response("x", kind)["response_type"], "ephemeral");
        assert_eq!(response("x", Kind::Webhook)["response_type"], "comment");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(r) = parse(&body) {
                let _ = to_inbound(&r);
            }
        }
    }

    #[test]
    fn missing_user_or_channel_is_a_400() {
        let r = parse(b"token=tok&text=hi").unwrap();
        assert_eq!(to_inbound(&r).unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn render_lists_choices_and_defuses_mass_mentions() {
        let reply = Reply {
            text: "@channel 窓口は 0120-179-066".into(),
            intent: Label::Hotline,
            confidence: 1.0,
            urgent: false,
            kind: ReplyKind::Answer,
            choices: vec![Choice {
                label: "支援金".into(),
                value: "支援金はいくら？".into(),
            }],
            escalate: None,
            sources: vec![],
        };
        let s = render(&reply);
        assert!(
            !s.contains("@channel") && s.contains("0120-179-066") && s.contains("支援金はいくら？")
        );
    }
}
