//! The HTTP JSON channel: `POST /v1/messages` `{"user","channel","text"}` → the answer
//! as JSON; `GET /healthz`; `GET /metrics`. Every bad input is a 4xx JSON error.
//! `/v1/messages` and `/metrics` need `Authorization: Bearer KEY` (`madoguchi api-key
//! add`); a member's user id is scoped to the key that sent it (`KEYNAME/user`), e-mail
//! addresses and phone numbers in ids are pseudonymised, and the rate limit applies per
//! key and per source address as well as per member.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ratelimit::{Decision, RateLimiter, RATE_LIMITED_MESSAGE};
use super::{Answer, ApiError, RawBody, Shared};
use super::{ChannelKind, Inbound};
use crate::accounts::Accounts;
use crate::config::RateLimit;
use crate::core::turn::Choice;
use crate::service::Outcome;
use crate::throttle::Throttle;

/// Longest accepted `user` / `channel` identifier.
pub const MAX_ID_CHARS: usize = 200;

/// The request body of `POST /v1/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub user: String,
    /// The caller's conversation id (a chat window, a ticket…).
    pub channel: String,
    pub text: String,
}

/// The response body of `POST /v1/messages`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MessageResponse {
    pub reply: String,
    pub intent: String,
    pub confidence: f32,
    pub urgent: bool,
    pub choices: Vec<Choice>,
    pub escalation_id: Option<i64>,
    /// Staff replies waiting for this conversation (delivered once).
    pub staff_messages: Vec<String>,
    /// A staff member is handling this conversation; the bot only acknowledges.
    pub handled_by_staff: bool,
    pub sources: Vec<String>,
}

impl From<&Outcome> for MessageResponse {
    fn from(o: &Outcome) -> Self {
        MessageResponse {
            reply: o.reply.text.clone(),
            intent: o.reply.intent.as_str().to_string(),
            confidence: o.reply.confidence,
            urgent: o.reply.urgent,
            choices: o.reply.choices.clone(),
            escalation_id: o.escalation_id,
            staff_messages: o.staff_messages.clone(),
            handled_by_staff: o.handled_by_staff,
            sources: o.reply.sources.clone(),
        }
    }
}

/// Body bytes → a checked request, or the 4xx that says what is wrong.
pub fn parse_request(body: &[u8]) -> Result<Inbound, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request("invalid_utf8", format!("the body is not valid UTF-8 ({e})"))
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "expected a JSON object {\"user\",\"channel\",\"text\"}",
        ));
    }
    let req: MessageRequest = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                format!("expected {{\"user\",\"channel\",\"text\"}} (strings): {e}"),
            ),
            _ => ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}")),
        }
    })?;
    for (name, v) in [("user", &req.user), ("channel", &req.channel)] {
        if v.trim().is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                format!("`{name}` must not be empty"),
            ));
        }
        if v.chars().count() > MAX_ID_CHARS || v.chars().any(char::is_control) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                format!(
                    "`{name}` must be at most {MAX_ID_CHARS} characters without control characters"
                ),
            ));
        }
    }
    Ok(Inbound {
        channel: ChannelKind::Http,
        user: req.user,
        conversation: req.channel,
        text: req.text,
    })
}

/// What the HTTP API's handlers share: the channels' state, the API keys, and the
/// per-key and per-address rate limits (wider than the per-member one).
#[derive(Clone)]
pub struct HttpState {
    pub shared: Shared,
    pub accounts: Accounts,
    per_key: Arc<RateLimiter>,
    per_addr: Arc<RateLimiter>,
    /// Keys seen valid (SHA-256 → name, when checked, revocation count then): a key
    /// checked less than [`KEY_RECHECK`] ago is taken without a query, and members keep
    /// being answered (and spooled) while the database is down. A revocation in this
    /// process takes effect at once; one made by `madoguchi api-key revoke` within
    /// [`KEY_RECHECK`].
    known_keys: Arc<std::sync::Mutex<std::collections::HashMap<String, KnownKey>>>,
}

/// A key found valid in the database.
#[derive(Clone)]
struct KnownKey {
    name: String,
    checked: std::time::Instant,
    revocations: u64,
}

/// How long a key found valid is taken without asking the database again.
pub const KEY_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl HttpState {
    async fn key_name(&self, key: &str) -> Result<Option<String>, crate::store::StoreError> {
        let h = crate::accounts::sha256_hex(key);
        let known = || self.known_keys.lock().unwrap_or_else(|p| p.into_inner());
        let revocations = crate::accounts::revocations();
        if let Some(k) = known().get(&h) {
            if k.revocations == revocations && k.checked.elapsed() < KEY_RECHECK {
                return Ok(Some(k.name.clone()));
            }
        }
        match self.accounts.api_key_name(key).await {
            Ok(Some(name)) => {
                known().insert(
                    h,
                    KnownKey {
                        name: name.clone(),
                        checked: std::time::Instant::now(),
                        revocations,
                    },
                );
                Ok(Some(name))
            }
            Ok(None) => {
                known().remove(&h);
                Ok(None)
            }
            Err(e) => match known().get(&h) {
                Some(k) => {
                    static KNOWN_KEYS: Throttle =
                        Throttle::every(std::time::Duration::from_secs(1));
                    if let Some(held_back) = KNOWN_KEYS.admit() {
                        tracing::warn!(error = %e, held_back, "API key checked against the last known keys (database unavailable)");
                    }
                    Ok(Some(k.name.clone()))
                }
                None => Err(e),
            },
        }
    }
}

/// How many members' worth of traffic one key, and one source address, may send.
pub const KEY_LIMIT_FACTOR: u32 = 50;
pub const ADDR_LIMIT_FACTOR: u32 = 20;

fn scaled(r: RateLimit, f: u32) -> RateLimit {
    RateLimit {
        burst: r.burst.saturating_mul(f),
        per_minute: r.per_minute.saturating_mul(f),
    }
}

/// `Authorization: Bearer KEY` → the key's name; 401 otherwise.
async fn authorize(state: &HttpState, headers: &HeaderMap) -> Result<String, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let unauthorized = || {
        let mut r = ApiError::unauthorized(
            "a valid API key is required: Authorization: Bearer KEY (madoguchi api-key add NAME)",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        r
    };
    let Some(key) = presented else {
        return Err(unauthorized());
    };
    match state.key_name(key).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err(unauthorized()),
        Err(e) => {
            tracing::error!(error = %e, "API key check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "could not check the API key; try again shortly",
            )
            .into_response())
        }
    }
}

fn too_many() -> Response {
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        RATE_LIMITED_MESSAGE,
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    r
}

async fn messages(
    State(state): State<Arc<HttpState>>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    if let Some(ConnectInfo(addr)) = peer {
        if let Decision::Limited { .. } = state.per_addr.check(&addr.ip().to_string()) {
            return too_many();
        }
    }
    let key = match authorize(&state, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    if let Decision::Limited { .. } = state.per_key.check(&key) {
        return too_many();
    }
    let body = match body {
        Ok(RawBody(b)) => b,
        Err(e) => return e.into_response(),
    };
    let mut inbound = match parse_request(&body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    inbound.user = scoped_user(&key, &inbound.user);
    inbound.conversation = crate::redact::pseudonymize_id(&inbound.conversation);
    match state.shared.answer(inbound).await {
        Answer::Reply(o) => Json(MessageResponse::from(o.as_ref())).into_response(),
        Answer::Limited { .. } => too_many(),
    }
}

/// The stored user id: the key's name, `/`, the caller's id with e-mail addresses and
/// phone numbers pseudonymised. Two keys never share a member.
pub fn scoped_user(key_name: &str, user: &str) -> String {
    format!("{key_name}/{}", crate::redact::pseudonymize_id(user))
}

/// 200 with `"status":"ok"` (or `"degraded"`: spool records kept aside); 503
/// `"unhealthy"` while the database does not take writes (turns are being spooled).
async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    let h = state.shared.service.health();
    let code = if h.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h)).into_response()
}

async fn metrics(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers).await {
        return r;
    }
    let mut text = state.shared.metrics.render();
    text.push_str(&crate::service::render_health_metrics(
        &state.shared.service,
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub fn routes(shared: Shared, rate_limit: RateLimit) -> Router {
    let state = HttpState {
        accounts: Accounts::new(shared.service.store().clone()),
        per_key: Arc::new(RateLimiter::new(scaled(rate_limit, KEY_LIMIT_FACTOR))),
        per_addr: Arc::new(RateLimiter::new(scaled(rate_limit, ADDR_LIMIT_FACTOR))),
        known_keys: Default::default(),
        shared,
    };
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_scoped_to_the_key_and_pii_is_pseudonymised() {
        assert_eq!(scoped_user("shop", "u1"), "shop/u1");
        assert_ne!(scoped_user("a", "u1"), scoped_user("b", "u1"));
        let s = scoped_user("shop", "taro.yamada@example.jp");
        assert!(!s.contains("taro") && !s.contains("example"), "{s}");
        assert_eq!(s, scoped_user("shop", "taro.yamada@example.jp"), "stable");
        assert_ne!(s, scoped_user("shop", "hanako@example.jp"), "distinct");
    }

    #[test]
    fn a_good_request_becomes_an_http_inbound() {
        let i = parse_request(
            r#"{"user":"u1","channel":"web","text":"窓口の電話番号は？"}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            i,
            Inbound {
                channel: ChannelKind::Http,
                user: "u1".into(),
                conversation: "web".into(),
                text: "窓口の電話番号は？".into()
            }
        );
    }

    #[test]
    fn bad_bodies_are_named_4xx_errors() {
        let cases: [(&[u8], &str, u16); 8] = [
            (b"{not json", "invalid_json", 400),
            (b"\xff\xfe{}", "invalid_utf8", 400),
            (br#"{"user":"u","text":"x"}"#, "invalid_fields", 422),
            (
                br#"{"user":"u","channel":"c","text":5}"#,
                "invalid_fields",
                422,
            ),
            (
                br#"{"user":"","channel":"c","text":"x"}"#,
                "invalid_fields",
                422,
            ),
            (br#"[1,2]"#, "invalid_fields", 422),
            (b"", "empty_body", 400),
            (
                br#"{"user":"u","channel":"c","text":"x","extra":1}"#,
                "invalid_fields",
                422,
            ),
        ];
        for (body, code, status) in cases {
            let e = parse_request(body).unwrap_err();
            assert_eq!(
                (e.code, e.status.as_u16()),
                (code, status),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Err(e) = parse_request(&body) {
                proptest::prop_assert!(e.status.is_client_error());
            }
        }
    }
}
