//! A mock Discord for the end-to-end tests: the REST routes madoguchi uses (recorded,
//! answered with minimal valid objects) and a WebSocket gateway that sends HELLO,
//! answers IDENTIFY with READY and RESUME with RESUMED, ACKs heartbeats, and lets a
//! test push MESSAGE_CREATE / INTERACTION_CREATE events or drop the connection.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const BOT_ID: u64 = 900;
pub const APP_ID: u64 = 901;
pub const GUILD_ID: u64 = 555;
pub const MEMBER_CHANNEL: u64 = 100;
pub const STAFF_CHANNEL_ID: u64 = 500;
pub const DISCORD_TOKEN: &str = "discord-test-token";
pub const SESSION_ID: &str = "mock-session-1";

/// One REST call the bot made.
#[derive(Debug, Clone)]
pub struct RestCall {
    pub method: String,
    /// After `/api/v10/`, e.g. `channels/100/messages`.
    pub path: String,
    pub auth: Option<String>,
    pub body: Value,
}

enum Cmd {
    Dispatch(String, Value),
    Drop,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<RestCall>>,
    /// Every op the bot sent on the gateway (IDENTIFY, RESUME, heartbeats).
    ops: Mutex<Vec<Value>>,
    conn: Mutex<Option<mpsc::UnboundedSender<Cmd>>>,
    seq: AtomicU64,
    next_id: AtomicU64,
    connections: AtomicUsize,
    /// thread id → parent channel id (threads are owned by the bot)
    threads: Mutex<HashMap<u64, u64>>,
    gateway_url: Mutex<String>,
    /// Answer only `GET /gateway/bot` (as some stand-ins do), not `GET /gateway`.
    bot_gateway_only: bool,
}

#[derive(Clone)]
pub struct MockDiscord {
    pub base: String,
    inner: Arc<Inner>,
}

pub fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": null, "avatar": null, "bot": bot})
}

pub fn message(
    id: u64,
    channel: u64,
    guild: Option<u64>,
    author: Value,
    content: &str,
    mentions: Vec<Value>,
) -> Value {
    let mut v = json!({
        "id": id.to_string(), "channel_id": channel.to_string(), "author": author, "content": content,
        "timestamp": "2026-01-05T01:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": mentions, "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0
    });
    if let Some(g) = guild {
        v["guild_id"] = json!(g.to_string());
    }
    v
}

fn guild_channel(id: u64, kind: u8, parent: Option<u64>) -> Value {
    let mut v = json!({"id": id.to_string(), "type": kind, "guild_id": GUILD_ID.to_string(), "name": format!("ch-{id}"), "position": 0, "permission_overwrites": []});
    if let Some(p) = parent {
        v["parent_id"] = json!(p.to_string());
        v["owner_id"] = json!(BOT_ID.to_string());
        v["thread_metadata"] = json!({"archived": false, "auto_archive_duration": 1440, "archive_timestamp": "2026-01-05T01:00:00.000000+00:00", "locked": false});
    }
    v
}

impl MockDiscord {
    pub async fn start() -> MockDiscord {
        Self::start_with(false).await
    }

    /// A stand-in that gives the gateway URL through `GET /gateway/bot` only.
    pub async fn start_bot_gateway_only() -> MockDiscord {
        Self::start_with(true).await
    }

    async fn start_with(bot_gateway_only: bool) -> MockDiscord {
        let inner = Arc::new(Inner {
            next_id: AtomicU64::new(10_000),
            bot_gateway_only,
            ..Inner::default()
        });
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *inner.gateway_url.lock().unwrap() = format!("ws://{}", ws.local_addr().unwrap());
        tokio::spawn(gateway(ws, inner.clone()));
        let app = Router::new().fallback(rest).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockDiscord {
            base: format!("http://{addr}"),
            inner,
        }
    }

    pub fn calls(&self) -> Vec<RestCall> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn ops(&self) -> Vec<Value> {
        self.inner.ops.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    pub fn new_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Sends a dispatch event on the current gateway connection.
    pub fn dispatch(&self, t: &str, d: Value) {
        let conn = self.inner.conn.lock().unwrap();
        conn.as_ref()
            .expect("a gateway connection")
            .send(Cmd::Dispatch(t.to_string(), d))
            .expect("connection alive");
    }

    /// Closes the gateway connection as Discord does on a server-side error (4000).
    pub fn drop_connection(&self) {
        if let Some(c) = self.inner.conn.lock().unwrap().take() {
            let _ = c.send(Cmd::Drop);
        }
    }

    /// Waits (bounded: ~30 s) until `pred` holds for the REST calls; returns them.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[RestCall]) -> bool) -> Vec<RestCall> {
        for _ in 0..300 {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mock Discord never saw {what}; calls: {:#?}", self.calls());
    }

    /// The first call matching `pred`, waiting for it.
    pub async fn wait_call(&self, what: &str, pred: impl Fn(&RestCall) -> bool) -> RestCall {
        let calls = self.wait_for(what, |c| c.iter().any(&pred)).await;
        calls.into_iter().find(|c| pred(c)).unwrap()
    }

    /// Waits until the bot sent gateway op `op` at least `n` times.
    pub async fn wait_op(&self, op: u64, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let ops: Vec<Value> = self.ops().into_iter().filter(|o| o["op"] == op).collect();
            if ops.len() >= n {
                return ops;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the bot never sent op {op} x{n}; ops: {:#?}", self.ops());
    }

    /// Messages the bot posted in `channel` (POST channels/{channel}/messages bodies).
    pub fn posts_in(&self, channel: u64) -> Vec<Value> {
        let path = format!("channels/{channel}/messages");
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path == path)
            .map(|c| c.body)
            .collect()
    }

    pub async fn wait_posts_in(&self, channel: u64, n: usize) -> Vec<Value> {
        let path = format!("channels/{channel}/messages");
        self.wait_for(&format!("{n} post(s) in {channel}"), |c| {
            c.iter()
                .filter(|c| c.method == "POST" && c.path == path)
                .count()
                >= n
        })
        .await;
        self.posts_in(channel)
    }
}

async fn gateway(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            inner.connections.fetch_add(1, Ordering::SeqCst);
            let (tx, mut rx) = mpsc::unbounded_channel();
            *inner.conn.lock().unwrap() = Some(tx);
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 1000}, "s": null, "t": null});
            if ws.send(WsMessage::Text(hello.to_string())).await.is_err() {
                return;
            }
            let dispatch = |t: &str, d: Value| {
                let s = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
                WsMessage::Text(json!({"op": 0, "t": t, "s": s, "d": d}).to_string())
            };
            loop {
                tokio::select! {
                    msg = ws.next() => {
                        let t = match msg {
                            Some(Ok(WsMessage::Text(t))) => t,
                            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                            Some(Ok(_)) => continue,
                        };
                        let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                        inner.ops.lock().unwrap().push(v.clone());
                        let reply = match v["op"].as_u64() {
                            Some(1) => Some(WsMessage::Text(json!({"op": 11, "d": null, "s": null, "t": null}).to_string())),
                            Some(2) => {
                                let url = inner.gateway_url.lock().unwrap().clone();
                                Some(dispatch("READY", json!({
                                    "v": 10, "user": user(BOT_ID, "madoguchi", true), "guilds": [],
                                    "session_id": SESSION_ID, "resume_gateway_url": url, "shard": [0, 1],
                                    "application": {"id": APP_ID.to_string(), "flags": 0}
                                })))
                            }
                            Some(6) => Some(dispatch("RESUMED", json!({}))),
                            _ => None,
                        };
                        if let Some(r) = reply {
                            if ws.send(r).await.is_err() {
                                return;
                            }
                        }
                    }
                    cmd = rx.recv() => match cmd {
                        Some(Cmd::Dispatch(t, d)) => {
                            if ws.send(dispatch(&t, d)).await.is_err() {
                                return;
                            }
                        }
                        Some(Cmd::Drop) | None => {
                            let _ = ws.send(WsMessage::Close(Some(CloseFrame { code: CloseCode::Library(4000), reason: "mock: unknown error".into() }))).await;
                            return;
                        }
                    }
                }
            }
        });
    }
}

async fn rest(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches("/api/v10/").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    inner.calls.lock().unwrap().push(RestCall {
        method: method.to_string(),
        path: path.clone(),
        auth,
        body: body.clone(),
    });
    let seg: Vec<&str> = path.split('/').collect();
    let id = |s: &str| s.parse::<u64>().unwrap_or(0);
    let new_id = || inner.next_id.fetch_add(1, Ordering::SeqCst);
    let content = body["content"].as_str().unwrap_or("").to_string();
    let bot_message = |channel: u64| {
        Json(message(
            new_id(),
            channel,
            None,
            user(BOT_ID, "madoguchi", true),
            &content,
            vec![],
        ))
        .into_response()
    };
    match (method.as_str(), seg.as_slice()) {
        ("GET", ["gateway"]) if !inner.bot_gateway_only => Json(json!({"url": *inner.gateway_url.lock().unwrap()})).into_response(),
        ("GET", ["gateway", "bot"]) => Json(json!({"url": *inner.gateway_url.lock().unwrap(), "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})).into_response(),
        ("GET", ["channels", c]) => {
            let c = id(c);
            let parent = inner.threads.lock().unwrap().get(&c).copied();
            match parent {
                Some(p) => Json(guild_channel(c, 11, Some(p))).into_response(),
                None => Json(guild_channel(c, 0, None)).into_response(),
            }
        }
        ("POST", ["channels", c, "messages"]) => bot_message(id(c)),
        ("POST", ["channels", c, "messages", m, "threads"]) => {
            inner.threads.lock().unwrap().insert(id(m), id(c));
            Json(guild_channel(id(m), 11, Some(id(c)))).into_response()
        }
        ("POST", ["channels", _, "typing"]) => StatusCode::NO_CONTENT.into_response(),
        ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"]) => StatusCode::NO_CONTENT.into_response(),
        ("PUT", ["applications", _, "commands"]) | ("PUT", ["applications", _, "guilds", _, "commands"]) => Json(json!([])).into_response(),
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => bot_message(1),
        ("POST", ["webhooks", _, _]) => bot_message(1),
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = body["recipient_id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(1);
            Json(json!({"id": new_id().to_string(), "type": 1, "recipients": [user(recipient, "member", false)]})).into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"message": "Unknown route (mock)", "code": 0}))).into_response(),
    }
}

/// An INTERACTION_CREATE payload for the slash command, from a member in a DM-less context.
pub fn slash_command(id: u64, channel: u64, member: Value, question: &str) -> Value {
    json!({
        "id": id.to_string(), "application_id": APP_ID.to_string(), "type": 2, "token": format!("tok-{id}"),
        "data": {"id": "8001", "name": "madoguchi", "type": 1, "options": [{"name": "question", "type": 3, "value": question}]},
        "channel_id": channel.to_string(), "user": member, "version": 1, "app_permissions": null,
        "locale": "ja", "entitlements": [], "attachment_size_limit": 10485760
    })
}

/// An INTERACTION_CREATE payload for a button press on `message`.
pub fn button_press(
    id: u64,
    channel: u64,
    presser: Value,
    custom_id: &str,
    message: Value,
) -> Value {
    json!({
        "id": id.to_string(), "application_id": APP_ID.to_string(), "type": 3, "token": format!("tok-{id}"),
        "data": {"custom_id": custom_id, "component_type": 2},
        "channel_id": channel.to_string(), "user": presser, "version": 1, "app_permissions": null, "message": message,
        "locale": "ja", "entitlements": [], "attachment_size_limit": 10485760
    })
}
