//! Test helpers for the channel integration tests: `spawn_app()` runs the whole server
//! on 127.0.0.1:0 with a fresh SQLite store in a temporary directory, Slack and
//! Mattermost configured, and Slack's Web API replaced by a local mock that records
//! every call.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use madoguchi::app::{AppError, Application};
use madoguchi::channels::slack::sign;
use madoguchi::config::{Config, MattermostConfig, Secret, SlackConfig};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::hours::{Clock, FixedClock};
use madoguchi::service::{Service, StoreConfig};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub mod discord;
pub mod pg;

pub const SIGNING_SECRET: &str = "test-signing-secret";
pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const STAFF_CHANNEL: &str = "CSTAFF";
pub const MATTERMOST_TOKEN: &str = "mm-test-token";
/// What the mock's `users.info` says is the display name of `UCONTACT`.
pub const CONTACT_DISPLAY_NAME: &str = "山田 yamada@example.jp 090-1234-5678";

/// The bot is built once per test binary (lindera + training take a moment).
pub fn bot() -> Arc<Bot> {
    static BOT: OnceLock<Arc<Bot>> = OnceLock::new();
    BOT.get_or_init(|| {
        Arc::new(madoguchi::engine::build(&Content::embedded()).expect("embedded content builds"))
    })
    .clone()
}

/// One recorded call to the mock Slack API (`method` = `chat.postMessage`, or
/// `response` for a response_url).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub auth: Option<String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct MockSlack {
    calls: Arc<Mutex<Vec<Call>>>,
    /// The next this many chat.postMessage calls answer 503 (Slack having trouble).
    pub fail_posts: Arc<std::sync::atomic::AtomicUsize>,
    socket: Arc<SocketSide>,
}

/// The Socket Mode side of the mock: a WebSocket server handed out by
/// `apps.connections.open`; frames the bot sent (acknowledgements) are recorded.
#[derive(Default)]
struct SocketSide {
    url: Mutex<String>,
    acks: Mutex<Vec<Value>>,
    conn: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Option<String>>>>,
    connections: std::sync::atomic::AtomicUsize,
}

async fn socket_server(listener: tokio::net::TcpListener, side: Arc<SocketSide>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let side = side.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            side.connections
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
            *side.conn.lock().unwrap() = Some(tx);
            let hello =
                json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}});
            if ws.send(Message::Text(hello.to_string())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => side.acks.lock().unwrap().push(serde_json::from_str(&t).unwrap_or(Value::Null)),
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                        Some(Ok(_)) => {}
                    },
                    f = rx.recv() => match f {
                        Some(Some(frame)) => if ws.send(Message::Text(frame)).await.is_err() { return },
                        // drop the socket without a goodbye
                        Some(None) | None => return,
                    }
                }
            }
        });
    }
}

impl MockSlack {
    /// Socket Mode: sends a frame on the current connection.
    pub fn socket_send(&self, frame: Value) {
        let conn = self.socket.conn.lock().unwrap();
        conn.as_ref()
            .expect("a Socket Mode connection")
            .send(Some(frame.to_string()))
            .expect("connection alive");
    }

    /// Socket Mode: drops the current connection (no close frame).
    pub fn socket_drop(&self) {
        if let Some(c) = self.socket.conn.lock().unwrap().take() {
            let _ = c.send(None);
        }
    }

    pub fn socket_connections(&self) -> usize {
        self.socket
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn acks(&self) -> Vec<Value> {
        self.socket.acks.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` Socket Mode connections were made.
    pub async fn wait_socket_connections(&self, n: usize) {
        for _ in 0..300 {
            if self.socket_connections() >= n && self.socket.conn.lock().unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the bot never opened {n} Socket Mode connection(s)");
    }

    /// Waits (bounded) for the acknowledgement of `envelope_id`.
    pub async fn wait_ack(&self, envelope_id: &str) -> Value {
        for _ in 0..300 {
            if let Some(a) = self
                .acks()
                .into_iter()
                .find(|a| a["envelope_id"] == envelope_id)
            {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "envelope {envelope_id} never acknowledged; acks: {:#?}",
            self.acks()
        );
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn posts(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "chat.postMessage")
            .map(|c| c.body)
            .collect()
    }

    /// Waits (bounded: up to ~20 s) until `pred` holds for the recorded calls.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        for _ in 0..200 {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mock Slack never saw {what}; calls: {:#?}", self.calls());
    }

    /// Waits for a chat.postMessage in `channel` (and thread, when given).
    pub async fn wait_for_post(&self, channel: &str, thread_ts: Option<&str>) -> Value {
        let matches =
            |b: &Value| b["channel"] == channel && thread_ts.is_none_or(|t| b["thread_ts"] == t);
        let calls = self
            .wait_for(&format!("a post in {channel} {thread_ts:?}"), |calls| {
                calls
                    .iter()
                    .any(|c| c.method == "chat.postMessage" && matches(&c.body))
            })
            .await;
        calls
            .into_iter()
            .find(|c| c.method == "chat.postMessage" && matches(&c.body))
            .unwrap()
            .body
    }
}

async fn mock_method(
    State(m): State<MockSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // JSON bodies (chat.postMessage) or forms (users.info)
    let body: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw).unwrap_or_default();
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    });
    if method == "users.info" {
        m.calls.lock().unwrap().push(Call {
            method,
            auth,
            body: body.clone(),
        });
        return Json(match body["user"].as_str() {
            Some("USTAFF") => json!({"ok": true, "user": {"id": "USTAFF", "name": "suzuki", "real_name": "鈴木 花子", "profile": {"display_name": "鈴木", "real_name": "鈴木 花子"}}}),
            // a display name holding an e-mail address and a phone number
            Some("UCONTACT") => json!({"ok": true, "user": {"id": "UCONTACT", "name": "yamada", "profile": {"display_name": CONTACT_DISPLAY_NAME}}}),
            _ => json!({"ok": false, "error": "user_not_found"}),
        })
        .into_response();
    }
    if method == "chat.postMessage" && m.fail_posts.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        m.fail_posts
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        m.calls.lock().unwrap().push(Call {
            method: "failed.chat.postMessage".into(),
            auth,
            body,
        });
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if method == "apps.connections.open" {
        m.calls.lock().unwrap().push(Call { method, auth, body });
        return Json(json!({"ok": true, "url": *m.socket.url.lock().unwrap()})).into_response();
    }
    let mut calls = m.calls.lock().unwrap();
    calls.push(Call { method, auth, body });
    let n = calls.len();
    Json(json!({"ok": true, "ts": format!("1800000000.{n:06}"), "channel": "C"})).into_response()
}

async fn mock_response(State(m): State<MockSlack>, Json(body): Json<Value>) -> &'static str {
    m.calls.lock().unwrap().push(Call {
        method: "response".into(),
        auth: None,
        body,
    });
    "ok"
}

/// Mattermost's `POST /api/v4/posts` (same mock server: `MATTERMOST_URL` = its root).
async fn mock_mattermost_post(
    State(m): State<MockSlack>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut calls = m.calls.lock().unwrap();
    calls.push(Call {
        method: "mattermost.posts".into(),
        auth,
        body: body.clone(),
    });
    let id = format!("mmpost{}", calls.len());
    (
        axum::http::StatusCode::CREATED,
        Json(
            json!({"id": id, "channel_id": body["channel_id"], "root_id": body["root_id"], "message": body["message"]}),
        ),
    )
}

/// Mattermost's `GET /api/v4/posts/{id}`: posts named `…-reply-…` are replies in the
/// thread of `mm-root`; others are roots.
async fn mock_mattermost_get_post(Path(id): Path<String>) -> Json<Value> {
    let root = if id.contains("-reply-") {
        "mm-root"
    } else {
        ""
    };
    Json(json!({"id": id, "root_id": root}))
}

pub async fn spawn_mock() -> (MockSlack, SocketAddr) {
    let mock = MockSlack::default();
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    *mock.socket.url.lock().unwrap() = format!("ws://{}/link/?ticket=t1", ws.local_addr().unwrap());
    tokio::spawn(socket_server(ws, mock.socket.clone()));
    let app = Router::new()
        .route("/api/v4/posts", post(mock_mattermost_post))
        .route(
            "/api/v4/posts/:id",
            axum::routing::get(mock_mattermost_get_post),
        )
        .route("/api/:method", post(mock_method))
        .route("/response", post(mock_response))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (mock, addr)
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub slack: MockSlack,
    pub mock_addr: SocketAddr,
    pub service: Service,
    /// An API key (named `test`) for `/v1/messages` and `/metrics`.
    pub api_key: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), AppError>>>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn response_url(&self) -> String {
        format!("http://{}/response", self.mock_addr)
    }

    /// POSTs a body signed the way Slack signs it, `age_secs` in the past.
    pub async fn post_slack(
        &self,
        path: &str,
        body: &str,
        content_type: &str,
        age_secs: i64,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let ts = (chrono::Utc::now().timestamp() - age_secs).to_string();
        let sig = sign(&Secret::new(SIGNING_SECRET), &ts, body.as_bytes());
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.to_string());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub async fn post_event(&self, event: Value) -> reqwest::Response {
        self.post_slack(
            "/slack/events",
            &event.to_string(),
            "application/json",
            0,
            &[],
        )
        .await
    }

    pub async fn post_message(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/messages"))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Graceful shutdown, as on SIGTERM; returns once everything accepted is done.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

impl TestApp {
    /// Presses a staff button (`staff_claim`, `staff_resolve`) on the escalation post
    /// `post_ts` as Slack user `user` (`username` is what the payload carries).
    pub async fn press_staff_button(
        &self,
        user: &str,
        username: &str,
        action: &str,
        id: i64,
        post_ts: &str,
    ) {
        let payload = json!({
            "type": "block_actions", "user": {"id": user, "username": username}, "channel": {"id": STAFF_CHANNEL},
            "message": {"ts": post_ts}, "actions": [{"action_id": action, "value": id.to_string()}]
        });
        let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let res = self
            .post_slack(
                "/slack/interactions",
                &form,
                "application/x-www-form-urlencoded",
                0,
                &[],
            )
            .await;
        assert_eq!(res.status(), 200);
    }

    /// The audit log (escalation, actor, action), oldest first (SQLite stores only).
    pub async fn audit_log(&self) -> Vec<(Option<i64>, String, String)> {
        use sqlx::Connection;
        let madoguchi::store::Backend::Sqlite(p) = self.service.store().backend() else {
            panic!("audit_log() reads SQLite stores");
        };
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", p.display()))
            .await
            .unwrap();
        sqlx::query_as("SELECT escalation_id, actor, action FROM audit_log ORDER BY id")
            .fetch_all(&mut c)
            .await
            .unwrap()
    }
}

/// A Slack `event_callback` envelope.
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id, "event_time": 1, "event": event})
}

pub fn app_mention(channel: &str, ts: &str, user: &str, text: &str) -> Value {
    json!({"type": "app_mention", "user": user, "text": format!("<@UBOT> {text}"), "channel": channel, "ts": ts, "event_ts": ts})
}

/// Monday 10:00 JST: the hotline is open (answers do not depend on the real clock).
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock(
        chrono::DateTime::parse_from_rfc3339("2026-01-05T10:00:00+09:00").unwrap(),
    ))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_full(tweak, madoguchi::server::Limits::default()).await
}

/// With other HTTP timeouts and limits (slow-client tests use short ones).
pub async fn spawn_app_limited(limits: madoguchi::server::Limits) -> TestApp {
    spawn_app_full(|_| {}, limits).await
}

pub async fn spawn_app_full(
    tweak: impl FnOnce(&mut Config),
    limits: madoguchi::server::Limits,
) -> TestApp {
    spawn_app_on(None, spawn_mock().await, tweak, limits).await
}

/// On a given database (e.g. one PostgreSQL database shared by two replicas) and Slack
/// mock; `None` = a fresh SQLite file.
pub async fn spawn_app_on(
    store: Option<StoreConfig>,
    (slack, mock_addr): (MockSlack, SocketAddr),
    tweak: impl FnOnce(&mut Config),
    limits: madoguchi::server::Limits,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store.unwrap_or_else(|| StoreConfig::sqlite(dir.path().join("madoguchi.db")));
    store.spool_path = Some(dir.path().join("spool.jsonl"));
    let service = Service::build(bot(), store, clock())
        .await
        .expect("service builds");
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_millis(100),
        slack: Some(SlackConfig {
            signing_secret: Some(Secret::new(SIGNING_SECRET)),
            bot_token: Secret::new(BOT_TOKEN),
            app_token: None,
            staff_channel: Some(STAFF_CHANNEL.into()),
            api_base: format!("http://{mock_addr}/api"),
        }),
        mattermost: Some(MattermostConfig {
            token: Secret::new(MATTERMOST_TOKEN),
            bot_token: None,
            url: None,
        }),
        ..Config::default()
    };
    tweak(&mut config);
    // `test`, or `test2`, … when another app shares the database
    let accounts = madoguchi::accounts::Accounts::new(service.store().clone());
    let mut api_key = None;
    for i in 1..100 {
        let name = if i == 1 {
            "test".to_string()
        } else {
            format!("test{i}")
        };
        match accounts.add_api_key(&name, clock().now()).await {
            Ok(k) => {
                api_key = Some(k);
                break;
            }
            Err(madoguchi::accounts::AccountError::Exists(_)) => continue,
            Err(e) => panic!("an API key can be created: {e}"),
        }
    }
    let api_key = api_key.expect("a free API key name");
    let app = Application::build_with(config, service.clone())
        .await
        .expect("app builds")
        .with_limits(limits);
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        slack,
        mock_addr,
        service,
        api_key,
        stop: Some(tx),
        handle: Some(handle),
        dir,
    }
}
