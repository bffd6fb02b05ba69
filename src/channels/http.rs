//! The HTTP JSON channel: `POST /v1/messages` `{"user","channel","text"}` → the answer
//! as JSON; `GET /healthz`; `GET /metrics`. Every bad input is a 4xx JSON error.


use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ratelimit::RATE_LIMITED_MESSAGE;
use super::{Answer, ApiError, RawBody, Shared};
use super::{ChannelKind, Inbound};
use crate::core::turn::Choice;
use crate::service::Outcome;

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
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request("invalid_utf8", format!("the body is not valid UTF-8 ({e})")))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("empty_body", "expected a JSON object {\"user\",\"channel\",\"text\"}"));
    }
    let req: MessageRequest = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields", format!("expected {{\"user\",\"channel\",\"text\"}} (strings): {e}")),
            _ => ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}")),
        }
    })?;
    for (name, v) in [("user", &req.user), ("channel", &req.channel)] {
        if v.trim().is_empty() {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields", format!("`{name}` must not be empty")));
        }
        if v.chars().count() > MAX_ID_CHARS || v.chars().any(char::is_control) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                format!("`{name}` must be at most {MAX_ID_CHARS} characters without control characters"),
            ));
        }
    }
    Ok(Inbound { channel: ChannelKind::Http, user: req.user, conversation: req.channel, text: req.text })
}

async fn messages(State(shared): State<Shared>, body: Result<RawBody, ApiError>) -> Response {
    let body = match body {
        Ok(RawBody(b)) => b,
        Err(e) => return e.into_response(),
    };
    let inbound = match parse_request(&body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    match shared.answer(inbound).await {
        Answer::Reply(o) => Json(MessageResponse::from(o.as_ref())).into_response(),
        Answer::Limited { .. } => {
            let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", RATE_LIMITED_MESSAGE).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            r
        }
    }
}

/// 200 with `"status":"ok"` (or `"degraded"`: spool records kept aside); 503
/// `"unhealthy"` while the database does not take writes (turns are being spooled).
async fn healthz(State(shared): State<Shared>) -> Response {
    let h = shared.service.health();
    let code = if h.is_healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(h)).into_response()
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let mut text = shared.metrics.render();
    text.push_str(&crate::service::render_health_metrics(&shared.service));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

pub fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_request_becomes_an_http_inbound() {
        let i = parse_request(r#"{"user":"u1","channel":"web","text":"窓口の電話番号は？"}"#.as_bytes()).unwrap();
        assert_eq!(i, Inbound { channel: ChannelKind::Http, user: "u1".into(), conversation: "web".into(), text: "窓口の電話番号は？".into() });
    }

    #[test]
    fn bad_bodies_are_named_4xx_errors() {
        let cases: [(&[u8], &str, u16); 8] = [
            (b"{not json", "invalid_json", 400),
            (b"\xff\xfe{}", "invalid_utf8", 400),
            (br#"{"user":"u","text":"x"}"#, "invalid_fields", 422),
            (br#"{"user":"u","channel":"c","text":5}"#, "invalid_fields", 422),
            (br#"{"user":"","channel":"c","text":"x"}"#, "invalid_fields", 422),
            (br#"[1,2]"#, "invalid_fields", 422),
            (b"", "empty_body", 400),
            (br#"{"user":"u","channel":"c","text":"x","extra":1}"#, "invalid_fields", 422),
        ];
        for (body, code, status) in cases {
            let e = parse_request(body).unwrap_err();
            assert_eq!((e.code, e.status.as_u16()), (code, status), "{:?}", String::from_utf8_lossy(body));
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
