//! The HTTP endpoints (`/slack/events`, `/slack/commands`, `/slack/interactions`), the
//! replay memory, and the work they spawn: answering members, staff buttons, relaying
//! staff replies from the staff channel's threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::SlackApi;
use super::events::*;
use super::render::*;
use super::verify::{now_unix, verify};
use crate::channels::ratelimit::RATE_LIMITED_MESSAGE;
use crate::channels::{Answer, ApiError, ChannelKind, Inbound, RawBody, Shared};
use crate::config::SlackConfig;

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
        SlackState {
            api: SlackApi::new(&cfg),
            cfg,
            seen: Seen::default(),
            threads: Seen::default(),
        }
    }
}

/// How long a shared de-duplication look-up may take before the process decides alone.
const SHARED_LOOKUP: Duration = Duration::from_secs(1);

/// What every Slack handler needs (HTTP endpoints and Socket Mode alike).
#[derive(Clone)]
pub struct Ctx {
    pub shared: Shared,
    pub slack: Arc<SlackState>,
}

impl Ctx {
    /// True the first time `key` is offered: to this process, and to every replica on
    /// the same database (the `dedup_keys` table). When the database does not answer
    /// within a second, this process decides alone (answering twice beats never).
    pub async fn first(&self, key: &str) -> bool {
        if !self.slack.seen.first(key) {
            return false;
        }
        match tokio::time::timeout(
            SHARED_LOOKUP,
            self.shared
                .service
                .store()
                .first_seen(&format!("slack:{key}")),
        )
        .await
        {
            Ok(Ok(first)) => first,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "shared de-duplication unavailable; deciding in this process");
                true
            }
            Err(_) => {
                tracing::warn!("shared de-duplication timed out; deciding in this process");
                true
            }
        }
    }

    /// Notes a channel thread madoguchi answered in (shared by the replicas).
    async fn remember_thread(&self, target: &Target) {
        if target.thread_ts.is_some() {
            let key = format!("thread:{}", target.conversation());
            self.slack.threads.first(&key);
            let _ = tokio::time::timeout(
                SHARED_LOOKUP,
                self.shared
                    .service
                    .store()
                    .first_seen(&format!("slack:{key}")),
            )
            .await;
        }
    }

    /// A channel thread madoguchi answered in (by this process or another replica).
    async fn is_our_thread(&self, target: &Target) -> bool {
        if target.thread_ts.is_none() {
            return false;
        }
        let key = format!("thread:{}", target.conversation());
        if !self.slack.threads.first_peek(&key) {
            return true;
        }
        matches!(
            tokio::time::timeout(
                SHARED_LOOKUP,
                self.shared
                    .service
                    .store()
                    .was_seen(&format!("slack:{key}"))
            )
            .await,
            Ok(Ok(true))
        )
    }
}

pub fn routes(shared: Shared, slack: Arc<SlackState>) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(Ctx { shared, slack })
}

/// The raw body of a request whose Slack signature checks out.
fn verified_body(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<axum::body::Bytes, ApiError> {
    let RawBody(body) = body?;
    let secret = ctx
        .slack
        .cfg
        .signing_secret
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("SLACK_SIGNING_SECRET is not set"))?;
    verify(secret, headers, &body, now_unix()).map_err(|e| {
        tracing::warn!(error = %e, "rejected a Slack request");
        ApiError::unauthorized(e.to_string())
    })?;
    Ok(body)
}

async fn events(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let env: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            return ApiError::bad_request(
                "invalid_json",
                format!("not a Slack event envelope: {e}"),
            )
            .into_response()
        }
    };
    let retry = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
        .to_string();
    match on_envelope(&ctx, env, &retry).await {
        EventAck::Challenge(challenge) => Json(json!({ "challenge": challenge })).into_response(),
        EventAck::Duplicate => ([("x-slack-no-retry", "1")], StatusCode::OK).into_response(),
        EventAck::Accepted => StatusCode::OK.into_response(),
    }
}

/// How an events envelope was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAck {
    Challenge(String),
    Duplicate,
    Accepted,
}

/// One Events API envelope (from the HTTP endpoint or a Socket Mode `events_api`
/// envelope): de-duplicated by event id and message key, then answered from a tracked
/// task so the acknowledgement goes out at once.
pub async fn on_envelope(ctx: &Ctx, env: Envelope, retry: &str) -> EventAck {
    match env {
        Envelope::UrlVerification { challenge } => EventAck::Challenge(challenge),
        Envelope::Other => EventAck::Accepted,
        Envelope::EventCallback { event_id, event } => {
            if !event_id.is_empty() && !ctx.first(&format!("event:{event_id}")).await {
                tracing::info!(%event_id, retry, "duplicate Slack event ignored");
                return EventAck::Duplicate;
            }
            let action = classify_event(&event, ctx.slack.cfg.staff_channel.as_deref());
            match action {
                EventAction::Ignore(why) => tracing::debug!(%event_id, why, "Slack event ignored"),
                EventAction::ThreadFollowUp {
                    inbound,
                    target,
                    message_key,
                } => {
                    if ctx.is_our_thread(&target).await
                        && ctx.first(&format!("msg:{message_key}")).await
                    {
                        let c = ctx.clone();
                        ctx.shared
                            .tasks
                            .spawn(async move { answer_member(&c, inbound, target, None).await });
                    }
                }
                EventAction::Member {
                    inbound,
                    target,
                    message_key,
                } => {
                    if ctx.first(&format!("msg:{message_key}")).await {
                        let c = ctx.clone();
                        ctx.shared
                            .tasks
                            .spawn(async move { answer_member(&c, inbound, target, None).await });
                    }
                }
                EventAction::StaffReply {
                    thread_ts,
                    staff,
                    text,
                    message_key,
                } => {
                    if ctx.first(&format!("msg:{message_key}")).await {
                        let c = ctx.clone();
                        ctx.shared.tasks.spawn(async move {
                            relay_staff_reply(&c, &thread_ts, &staff, &text).await
                        });
                    }
                }
            }
            EventAck::Accepted
        }
    }
}

/// Answers a member: through the service, then `chat.postMessage` in the thread (or
/// the `response_url` for ephemeral slash-command conversations).
async fn answer_member(ctx: &Ctx, inbound: Inbound, target: Target, response_url: Option<String>) {
    let who = (inbound.user.clone(), inbound.conversation.clone());
    let msg = match ctx.shared.answer(inbound).await {
        Answer::Reply(o) => {
            if response_url.is_none() {
                ctx.remember_thread(&target).await;
            }
            reply_message(&o.reply, &target)
        }
        Answer::Limited { notify: true } => text_message(RATE_LIMITED_MESSAGE, &target),
        Answer::Limited { notify: false } => return,
    };
    if deliver(ctx, msg, response_url.as_deref()).await {
        return;
    }
    // given up: staff must know the member never got the answer (the hotline included)
    let (user, conversation) = who;
    match ctx
        .shared
        .service
        .store()
        .mark_member_unreached(ChannelKind::Slack, &user, &conversation)
        .await
    {
        Ok(Some(id)) => tracing::error!(
            escalation = id,
            "the member's answer could not be delivered; recorded on the escalation"
        ),
        Ok(None) => tracing::error!(
            "the member's answer could not be delivered (no escalation to record it on)"
        ),
        Err(e) => {
            tracing::error!(error = %e, "the member's answer could not be delivered, nor recorded")
        }
    }
}

/// Waits between delivery attempts of a member's answer after the API client's own
/// quick retries failed: about eight and a half minutes in all, then it gives up.
pub const ANSWER_RETRY: [Duration; 8] = [
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(32),
    Duration::from_secs(64),
    Duration::from_secs(128),
    Duration::from_secs(256),
];

/// Posts a member's answer, retrying with backoff; false when it never got through.
async fn deliver(ctx: &Ctx, mut msg: Value, response_url: Option<&str>) -> bool {
    if response_url.is_some() {
        msg["response_type"] = json!("ephemeral");
        msg["replace_original"] = json!(false);
    }
    for wait in std::iter::once(Duration::ZERO).chain(ANSWER_RETRY) {
        tokio::time::sleep(wait).await;
        let result = match response_url {
            Some(url) => ctx.slack.api.respond(url, &msg).await,
            None => ctx.slack.api.post_message(&msg).await.map(|_| ()),
        };
        match result {
            Ok(()) => return true,
            // a refusal (bad channel, not in channel…) will not change: do not insist
            Err(e @ super::api::SlackApiError::NotOk(_)) => {
                ctx.shared
                    .metrics
                    .observe_delivery_failure(ChannelKind::Slack);
                tracing::error!(error = %e, "Slack refused the answer");
                return false;
            }
            Err(e) => {
                ctx.shared
                    .metrics
                    .observe_delivery_failure(ChannelKind::Slack);
                tracing::warn!(error = %e, "could not post the answer to Slack (will retry)");
            }
        }
    }
    false
}

async fn relay_staff_reply(ctx: &Ctx, thread_ts: &str, staff: &str, text: &str) {
    let service = &ctx.shared.service;
    let Some(staff_channel) = ctx.slack.cfg.staff_channel.clone() else {
        return;
    };
    let notice = match service.escalation_by_staff_ref(&staff_ref(thread_ts)).await {
        Ok(Some(esc)) => match service
            .staff_reply(
                esc.id,
                &ctx.shared.staff_actor(ChannelKind::Slack, staff).await,
                text,
            )
            .await
        {
            Ok(item) => {
                ctx.shared.wake.notify_one();
                let name = ctx.slack.api.display_name(staff).await;
                format!(
                    "{name} さんの返信を #{} の利用者へ送信します（{}）。",
                    esc.id,
                    item.channel.as_str()
                )
            }
            Err(e) => format!(
                "送信できませんでした: {}",
                ctx.slack.api.humanize(&e.to_string()).await
            ),
        },
        Ok(None) => return, // a thread that is not an escalation post: ordinary staff chat
        Err(e) => format!("送信できませんでした: {e}"),
    };
    let msg = text_message(
        &notice,
        &Target {
            channel: staff_channel,
            thread_ts: Some(thread_ts.to_string()),
        },
    );
    if let Err(e) = ctx.slack.api.post_message(&msg).await {
        tracing::warn!(error = %e, "could not confirm a staff reply in Slack");
    }
}

/// The staff reference stored for a Slack escalation post.
pub fn staff_ref(ts: &str) -> String {
    format!("slack:{ts}")
}

async fn commands(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let cmd: Command = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::bad_request("invalid_form", format!("not a Slack slash command: {e}"))
                .into_response()
        }
    };
    Json(on_command(&ctx, cmd).await).into_response()
}

/// One slash command (HTTP or Socket Mode): answered later from a tracked task; the
/// returned body is the immediate ephemeral acknowledgement. A command seen before
/// (same `trigger_id`, e.g. a replayed request) is acknowledged but not answered again.
pub async fn on_command(ctx: &Ctx, cmd: Command) -> Value {
    let text = clean_incoming(&cmd.text);
    if text.is_empty() {
        return json!({
            "response_type": "ephemeral",
            "text": format!("使い方: `{} 質問` （例: `{} 支援金の対象は？`）。緊急のトラブルは 0120-179-066（年中無休 9:00〜21:00）へお電話ください。", cmd.command, cmd.command),
        });
    }
    if let Some(t) = cmd.trigger_id.as_deref().filter(|t| !t.is_empty()) {
        if !ctx.first(&format!("command:{t}")).await {
            tracing::info!("duplicate Slack slash command ignored");
            return json!({"response_type": "ephemeral", "text": "確認しています…"});
        }
    }
    let target = Target {
        channel: cmd.channel_id.clone(),
        thread_ts: None,
    };
    let inbound = Inbound {
        channel: ChannelKind::Slack,
        user: cmd.user_id.clone(),
        conversation: target.conversation(),
        text,
    };
    let c = ctx.clone();
    let response_url = cmd.response_url.clone();
    ctx.shared.tasks.spawn(async move {
        match response_url {
            Some(url) => answer_member(&c, inbound, target, Some(url)).await,
            // no response_url: answer the member privately in a DM
            None => {
                let dm = Target {
                    channel: inbound.user.clone(),
                    thread_ts: None,
                };
                answer_member(&c, inbound, dm, None).await
            }
        }
    });
    json!({"response_type": "ephemeral", "text": "確認しています…"})
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactions(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    let body = match verified_body(&ctx, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let payload: Interaction = match serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            return ApiError::bad_request(
                "invalid_payload",
                format!("not a Slack interaction payload: {e}"),
            )
            .into_response()
        }
    };
    on_interaction(&ctx, payload);
    StatusCode::OK.into_response()
}

/// One interaction payload (HTTP or Socket Mode): choice buttons and staff buttons,
/// handled from a tracked task.
pub fn on_interaction(ctx: &Ctx, payload: Interaction) {
    match classify_interaction(&payload, ctx.slack.cfg.staff_channel.as_deref()) {
        InteractionAct::Ignore(why) => tracing::debug!(why, "Slack interaction ignored"),
        InteractionAct::Choice {
            inbound,
            target,
            response_url,
        } => {
            let c = ctx.clone();
            ctx.shared
                .tasks
                .spawn(async move { answer_member(&c, inbound, target, response_url).await });
        }
        InteractionAct::Staff {
            op,
            escalation_id,
            staff,
            display,
            channel,
            message_ts,
        } => {
            let c = ctx.clone();
            ctx.shared.tasks.spawn(async move {
                staff_action(&c, op, escalation_id, &staff, &display, channel, message_ts).await
            });
        }
    }
}

async fn staff_action(
    ctx: &Ctx,
    op: StaffOp,
    id: i64,
    staff: &str,
    display: &str,
    channel: String,
    message_ts: Option<String>,
) {
    let service = &ctx.shared.service;
    let name = ctx.shared.staff_actor(ChannelKind::Slack, staff).await;
    let display = match ctx.slack.api.user_name(staff).await {
        Some(n) => n,
        None => crate::redact::display_name(display),
    };
    let text = match op {
        StaffOp::Claim => match service.claim(id, &name).await {
            Ok(_) => format!(
                "#{id} は {display} さんが担当します。このスレッドへの返信が利用者に届きます。"
            ),
            Err(e) => format!(
                "#{id} を担当にできませんでした: {}",
                ctx.slack.api.humanize(&e.to_string()).await
            ),
        },
        StaffOp::Resolve => match service.resolve(id, &name, None).await {
            Ok(_) => format!("#{id} は {display} さんが解決済みにしました。"),
            Err(e) => format!(
                "#{id} を解決済みにできませんでした: {}",
                ctx.slack.api.humanize(&e.to_string()).await
            ),
        },
    };
    let msg = text_message(
        &text,
        &Target {
            channel,
            thread_ts: message_ts,
        },
    );
    if let Err(e) = ctx.slack.api.post_message(&msg).await {
        tracing::warn!(error = %e, "could not post a staff action notice to Slack");
    }
}
