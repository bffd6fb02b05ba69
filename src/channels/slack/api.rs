//! A small Slack Web API client: bot token, JSON bodies, retries with backoff on
//! 429/5xx and transport errors.

use std::time::Duration;

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

    /// `apps.connections.open` with the app-level token: a Socket Mode WebSocket URL.
    pub async fn open_connection(&self, app_token: &Secret) -> Result<String, SlackApiError> {
        let res = self
            .http
            .post(format!("{}/apps.connections.open", self.base))
            .bearer_auth(app_token.expose())
            .json(&json!({}))
            .send()
            .await
            .map_err(|e| SlackApiError::Transport(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(SlackApiError::Status(res.status().as_u16()));
        }
        let v: Value = res.json().await.map_err(|e| SlackApiError::Transport(e.to_string()))?;
        if v.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(SlackApiError::NotOk(v.get("error").and_then(Value::as_str).unwrap_or("unknown").to_string()));
        }
        v.get("url").and_then(Value::as_str).map(str::to_string).ok_or_else(|| SlackApiError::NotOk("no url".into()))
    }

    /// Answers through an interaction's / command's `response_url`.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackApiError> {
        self.send(response_url, body, false).await.map(|_| ())
    }
}
