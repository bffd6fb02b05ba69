//! Slack Socket Mode: with `SLACK_APP_TOKEN` (xapp-…) madoguchi connects out over a
//! WebSocket (`apps.connections.open`), so no public URL and no signing secret are
//! needed. Every envelope is acknowledged by its `envelope_id` at once, then handled
//! by the same code as the HTTP endpoints; redelivered envelopes are answered once; a
//! `disconnect` message or a dropped socket opens a new connection.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::events::{Command, Envelope, Interaction};
use super::handlers::{on_command, on_envelope, on_interaction, Ctx};
use crate::config::Secret;

/// One Socket Mode frame (`hello`, `disconnect`, `events_api`, `slash_commands`,
/// `interactive`).
#[derive(Debug, Deserialize)]
pub struct Frame {
    #[serde(rename = "type")]
    pub kind: String,
    pub envelope_id: Option<String>,
    #[serde(default)]
    pub payload: Value,
    pub retry_attempt: Option<u32>,
    pub reason: Option<String>,
}

/// What one frame asks of the connection.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Send this acknowledgement.
    Ack(Value),
    /// Open a new connection (Slack asked, e.g. `refresh_requested`).
    Reconnect,
    Nothing,
}

/// Handles one text frame. Events and interactions are acknowledged at once and
/// handled from a tracked task; a slash command's acknowledgement carries its
/// immediate ephemeral answer. A redelivered envelope is acknowledged, not answered.
pub async fn on_frame(ctx: &Ctx, text: &str) -> Step {
    let frame: Frame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Socket Mode frame");
            return Step::Nothing;
        }
    };
    match frame.kind.as_str() {
        "hello" => {
            tracing::info!("Slack Socket Mode connected");
            return Step::Nothing;
        }
        "disconnect" => {
            tracing::info!(
                reason = frame.reason.as_deref().unwrap_or(""),
                "Slack asked to reconnect"
            );
            return Step::Reconnect;
        }
        _ => {}
    }
    let Some(envelope_id) = frame.envelope_id.filter(|e| !e.is_empty()) else {
        return Step::Nothing;
    };
    let ack = json!({ "envelope_id": envelope_id });
    if frame.kind == "slash_commands" {
        if !ctx.first(&format!("envelope:{envelope_id}")).await {
            return Step::Ack(ack);
        }
        return match serde_json::from_value::<Command>(frame.payload) {
            Ok(cmd) => Step::Ack(
                json!({ "envelope_id": envelope_id, "payload": on_command(ctx, cmd).await }),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "not a Slack slash command");
                Step::Ack(ack)
            }
        };
    }
    let c = ctx.clone();
    let (kind, payload, retry) = (
        frame.kind,
        frame.payload,
        frame.retry_attempt.unwrap_or(0).to_string(),
    );
    ctx.shared.tasks.spawn(async move {
        if !c.first(&format!("envelope:{envelope_id}")).await {
            tracing::info!(%envelope_id, "redelivered Socket Mode envelope ignored");
            return;
        }
        match kind.as_str() {
            "events_api" => match serde_json::from_value::<Envelope>(payload) {
                Ok(env) => {
                    on_envelope(&c, env, &retry).await;
                }
                Err(e) => tracing::warn!(error = %e, "not a Slack event envelope"),
            },
            "interactive" => match serde_json::from_value::<Interaction>(payload) {
                Ok(i) => on_interaction(&c, i),
                Err(e) => tracing::warn!(error = %e, "not a Slack interaction payload"),
            },
            other => tracing::debug!(kind = other, "Socket Mode envelope ignored"),
        }
    });
    Step::Ack(ack)
}

/// Keeps a Socket Mode connection open until `stop` turns true.
pub async fn run(ctx: Ctx, app_token: Secret, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    while !*stop.borrow() {
        let url = match ctx.slack.api.open_connection(&app_token).await {
            Ok(u) => u,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "apps.connections.open failed");
                backoff(failures, &mut stop).await;
                continue;
            }
        };
        let mut ws = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "could not open the Socket Mode WebSocket");
                backoff(failures, &mut stop).await;
                continue;
            }
        };
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) | None => {
                    tracing::info!("Socket Mode connection closed; reconnecting");
                    break;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Socket Mode connection dropped; reconnecting");
                    failures += 1;
                    break;
                }
            };
            failures = 0;
            match on_frame(&ctx, &text).await {
                Step::Ack(a) => {
                    if let Err(e) = ws.send(Message::Text(a.to_string())).await {
                        tracing::warn!(error = %e, "could not acknowledge an envelope; reconnecting");
                        break;
                    }
                }
                Step::Reconnect => {
                    let _ = ws.close(None).await;
                    break;
                }
                Step::Nothing => {}
            }
        }
        if failures > 0 {
            backoff(failures, &mut stop).await;
        }
    }
}

async fn backoff(failures: u32, stop: &mut watch::Receiver<bool>) {
    let wait = Duration::from_millis(500 * 2u64.pow(failures.min(6))).min(Duration::from_secs(30));
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = stop.changed() => {}
    }
}
