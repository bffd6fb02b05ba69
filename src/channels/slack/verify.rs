//! Slack request signatures: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`, compared in
//! constant time, refused outside a 5-minute window.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// Requests older (or newer) than this are replays: 401.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

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
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Verifies Slack's request signature on the raw body (constant-time comparison).
pub fn verify(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let ts = headers
        .get("x-slack-request-timestamp")
        .ok_or(SignatureError::MissingTimestamp)?;
    let ts = ts
        .to_str()
        .map_err(|_| SignatureError::BadTimestamp)?
        .trim();
    let t: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
    if (now_unix - t).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let sig = headers
        .get("x-slack-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(SignatureError::MissingSignature)?;
    let presented = sig
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::MissingSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&presented)
        .map_err(|_| SignatureError::Mismatch)
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
