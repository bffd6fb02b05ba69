//! Chat channels around the service. Each channel file has the same shape: its wire
//! event → [`Inbound`], [`Reply`] → its wire format, plus its HTTP handlers or
//! gateway client, and its staff side as a [`staff::StaffChannel`] (escalation posts,
//! staff replies) driven by one generic loop. This file holds what they share: the state handed to handlers,
//! JSON errors, the body-limited raw body extractor, the request metrics layer, the
//! per-user rate limit, background-task tracking and mention neutralising.

pub mod discord;
pub mod http;
pub mod kind;
pub mod mattermost;
pub mod metrics;
pub mod ratelimit;
pub mod slack;
pub mod staff;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tokio::sync::Notify;

use crate::service::{Outcome, Service};
pub use kind::{ChannelKind, Inbound};
use metrics::Metrics;
use ratelimit::{Decision, RateLimiter};

/// A JSON error body `{"error": code, "message": text}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

/// The raw request body, read under the router's body limit. Too large → 413 with a
/// JSON error (axum's own rejection would be plain text).
pub struct RawBody(pub Bytes);

#[axum::async_trait]
impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "リクエストが大きすぎます（request body too large）",
            )),
            Err(e) => Err(ApiError::bad_request(
                "unreadable_body",
                format!("could not read the request body: {e}"),
            )),
        }
    }
}

/// Tracks spawned work (Slack answers after the 3-second acknowledgement, …) so a
/// graceful shutdown waits for it instead of dropping accepted messages.
#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<TasksInner>,
}

#[derive(Default)]
struct TasksInner {
    running: AtomicUsize,
    idle: Notify,
}

struct TaskGuard(Arc<TasksInner>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        let guard = TaskGuard(self.inner.clone());
        tokio::spawn(async move {
            let _guard = guard;
            fut.await;
        });
    }

    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Resolves once no tracked task is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// What every channel needs: the service, metrics, the rate limiter, task tracking,
/// and a bell that wakes the staff-channel pollers (new escalation, new staff reply).
#[derive(Clone)]
pub struct Shared {
    pub service: Service,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
    pub tasks: Tasks,
    pub wake: Arc<Notify>,
}

/// The result of passing one member message through the rate limit and the service.
#[derive(Debug)]
pub enum Answer {
    Reply(Box<Outcome>),
    /// Over the per-user limit; `notify` = tell the member (first time in a spell).
    Limited {
        notify: bool,
    },
}

impl Shared {
    /// Books the outcome of pushing one staff reply (outbox item) to a member: marks it
    /// delivered, or counts the failure and leaves it for the next pass. True if sent.
    pub async fn record_delivery<T, E: std::fmt::Display>(
        &self,
        outbox_id: i64,
        channel: ChannelKind,
        sent: Result<T, E>,
    ) -> bool {
        match sent {
            Ok(_) => {
                if let Err(e) = self.service.mark_delivered(outbox_id).await {
                    tracing::error!(error = %e, id = outbox_id, "delivered a staff reply but could not mark it");
                }
                true
            }
            Err(e) => {
                self.metrics.observe_delivery_failure(channel);
                tracing::warn!(error = %e, id = outbox_id, channel = channel.as_str(), "could not deliver a staff reply (will retry)");
                false
            }
        }
    }

    /// Rate-limits, answers, counts, and rings the bell when an escalation opened.
    pub async fn answer(&self, inbound: Inbound) -> Answer {
        let key = format!("{}:{}", inbound.channel.as_str(), inbound.user);
        if let Decision::Limited { notify, .. } = self.limiter.check(&key) {
            self.metrics.observe_rate_limited(inbound.channel);
            tracing::info!(channel = inbound.channel.as_str(), "rate limited");
            return Answer::Limited { notify };
        }
        let channel = inbound.channel;
        let outcome = self.service.handle(inbound).await;
        self.metrics.observe_outcome(channel, &outcome);
        if outcome.escalation_id.is_some() {
            self.wake.notify_one();
        }
        Answer::Reply(Box::new(outcome))
    }

    /// Staff name as stored in the queue: `slack:alice`, `discord:1234`.
    pub fn staff_name(channel: ChannelKind, who: &str) -> String {
        format!("{}:{}", channel.as_str(), who)
    }
}

/// Breaks `@everyone`, `@here`, `@channel` and `@all` with a zero-width space so a
/// chat client never treats echoed text as a mass mention (defence in depth; each
/// channel also disables mentions at the API level where it can).
pub fn neutralize_mass_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['@', '＠']) {
        let ch = rest[i..].chars().next().expect("found");
        out.push_str(&rest[..i]);
        out.push(ch);
        rest = &rest[i + ch.len_utf8()..];
        let lower = rest
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        if ["everyone", "here", "channel", "all"]
            .iter()
            .any(|w| lower.starts_with(w))
        {
            out.push('\u{200B}');
        }
    }
    out.push_str(rest);
    out
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Splits text into pieces of at most `max` characters, preferring line breaks.
pub fn split_text(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for line in s.split_inclusive('\n') {
        let n = line.chars().count();
        if cur_len + n > max && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if n > max {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(max) {
                out.push(chunk.iter().collect());
            }
            continue;
        }
        cur.push_str(line);
        cur_len += n;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.retain(|p| !p.trim().is_empty());
    out
}

/// Counts every request by matched route and status, with its latency.
pub async fn track_requests(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let start = Instant::now();
    let res = next.run(req).await;
    metrics.observe_request(&route, res.status().as_u16(), start.elapsed());
    res
}

/// Unknown paths get a JSON 404 too.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The HTTP routes of every configured channel, with the body limit and metrics.
pub fn router(
    shared: Shared,
    cfg: &crate::config::Config,
    slack: Option<Arc<slack::SlackState>>,
) -> Router {
    let mut app = http::routes(shared.clone(), cfg.rate_limit)
        .merge(crate::console::routes(shared.clone(), cfg));
    if let Some(s) = slack.filter(|s| s.cfg.signing_secret.is_some()) {
        app = app.merge(slack::routes(shared.clone(), s));
    }
    if let Some(m) = &cfg.mattermost {
        app = app.merge(mattermost::routes(shared.clone(), m.clone()));
    }
    app.fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.metrics.clone(),
            track_requests,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(cfg.body_limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mass_mentions_are_broken_but_text_reads_the_same() {
        let t = neutralize_mass_mentions("@everyone @Here ＠channel @all mail@example.com @bob");
        assert!(
            !t.contains("@everyone")
                && !t.contains("@Here")
                && !t.contains("＠channel")
                && !t.contains("@all")
        );
        assert_eq!(
            t.replace('\u{200B}', ""),
            "@everyone @Here ＠channel @all mail@example.com @bob"
        );
    }

    #[test]
    fn split_text_keeps_every_character_and_respects_the_limit() {
        let s = "あ".repeat(25) + "\n" + &"い".repeat(7) + "\nう";
        let parts = split_text(&s, 10);
        assert!(parts.iter().all(|p| p.chars().count() <= 10), "{parts:?}");
        assert_eq!(parts.concat(), s);
    }

    #[tokio::test]
    async fn tasks_wait_idle_waits_for_spawned_work() {
        let tasks = Tasks::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        tasks.spawn(async move {
            let _ = rx.await;
            d.store(true, Ordering::SeqCst);
        });
        assert_eq!(tasks.running(), 1);
        let waiter = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.wait_idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        tx.send(()).unwrap();
        waiter.await.unwrap();
        assert!(done.load(Ordering::SeqCst));
    }
}
