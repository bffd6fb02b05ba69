//! A small Slack Web API client: bot token, JSON bodies, retries with backoff on
//! 429/5xx and transport errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Secret, SlackConfig};

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
    /// Display names from `users.info`, by user id, for an hour.
    names: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

/// How long a looked-up display name is reused.
const NAME_TTL: Duration = Duration::from_secs(3600);

impl SlackApi {
    pub fn new(cfg: &SlackConfig) -> SlackApi {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        SlackApi {
            http,
            base: cfg.api_base.clone(),
            token: cfg.bot_token.clone(),
            names: Arc::default(),
        }
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
                        if let Some(wait) = res
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            tokio::time::sleep(Duration::from_secs(wait.min(30))).await;
                        }
                        last = SlackApiError::Status(status.as_u16());
                        continue;
                    }
                    if !status.is_success() {
                        return Err(SlackApiError::Status(status.as_u16()));
                    }
                    let text = res
                        .text()
                        .await
                        .map_err(|e| SlackApiError::Transport(e.to_string()))?;
                    // response_url answers "ok" as plain text; the Web API answers JSON
                    let v: Value =
                        serde_json::from_str(&text).unwrap_or_else(|_| json!({"ok": true}));
                    if v.get("ok").and_then(Value::as_bool) == Some(false) {
                        return Err(SlackApiError::NotOk(
                            v.get("error")
                                .and_then(Value::as_str)
                                .unwrap_or("unknown")
                                .to_string(),
                        ));
                    }
                    return Ok(v);
                }
            }
        }
        Err(last)
    }

    /// Calls a Web API method (`chat.postMessage`, …).
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackApiError> {
        self.send(&format!("{}/{method}", self.base), body, true)
            .await
    }

    /// Posts and returns the new message's `ts`.
    pub async fn post_message(&self, body: &Value) -> Result<String, SlackApiError> {
        let v = self.call("chat.postMessage", body).await?;
        Ok(v.get("ts")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// `apps.connections.open` with the app-level token: a Socket Mode WebSocket URL.
    pub async fn open_connection(&self, app_token: &Secret) -> Result<String, SlackApiError> {
        let res = self
            .http
            .post(format!("{}/apps.connections.open", self.base))
            .bearer_auth(app_token.expose())
            .form(&[] as &[(&str, &str)])
            .send()
            .await
            .map_err(|e| SlackApiError::Transport(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(SlackApiError::Status(res.status().as_u16()));
        }
        let v: Value = res
            .json()
            .await
            .map_err(|e| SlackApiError::Transport(e.to_string()))?;
        if v.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(SlackApiError::NotOk(
                v.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string(),
            ));
        }
        v.get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| SlackApiError::NotOk("no url".into()))
    }

    /// A Slack user's display name (`users.info`: profile display name, else real name,
    /// else user name) with any e-mail address or phone number in it pseudonymised
    /// ([`crate::redact::display_name`]), cached for an hour; None when Slack does not
    /// tell. Every notice, refusal and log line that names a Slack user takes it here.
    pub async fn user_name(&self, user_id: &str) -> Option<String> {
        if let Some((n, at)) = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user_id)
        {
            if at.elapsed() < NAME_TTL {
                return Some(n.clone());
            }
        }
        let res = self
            .http
            .post(format!("{}/users.info", self.base))
            .bearer_auth(self.token.expose())
            .form(&[("user", user_id)])
            .send()
            .await
            .ok()?;
        let v: Value = res.json().await.ok()?;
        let u = v.get("user")?;
        let pick = |p: &[&str]| {
            p.iter()
                .try_fold(u, |v, k| v.get(*k))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let name = pick(&["profile", "display_name"])
            .or_else(|| pick(&["profile", "real_name"]))
            .or_else(|| pick(&["real_name"]))
            .or_else(|| pick(&["name"]))?;
        let name = crate::redact::display_name(&name);
        let mut m = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(user_id.to_string(), (name.clone(), Instant::now()));
        Some(name)
    }

    /// The display name, or the user id when Slack does not tell.
    pub async fn display_name(&self, user_id: &str) -> String {
        self.user_name(user_id)
            .await
            .unwrap_or_else(|| user_id.to_string())
    }

    /// Replaces `slack:U…` staff identities in a text with display names.
    pub async fn humanize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("slack:") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "slack:".len()..];
            let end = after
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after.len());
            let id = &after[..end];
            if id.starts_with(['U', 'W']) && id.len() > 1 {
                out.push_str(&self.display_name(id).await);
            } else {
                out.push_str(&rest[i..i + "slack:".len() + end]);
            }
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }

    /// Answers through an interaction's / command's `response_url`.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackApiError> {
        self.send(response_url, body, false).await.map(|_| ())
    }
}
