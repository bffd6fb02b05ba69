//! The secretariat's console at `/staff/`: login with a staff account, the queue, a
//! conversation page (claim / reply / resolve, suggested replies from the FAQ), the
//! editor page of messages the bot could not place, and statistics with SVG charts.
//! Server-rendered and usable without JavaScript; `app.js` adds live queue updates
//! over server-sent events. Sessions are cookies (HttpOnly, SameSite=Strict, Secure
//! behind TLS); every POST carries the session's `csrf` token or gets 403. Staff
//! actions go through the same [`crate::service::Desk`] as the CLI, under the account's
//! name, so the audit log and the outbox are shared.

mod charts;
pub mod pages;
pub mod queries;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, FixedOffset};
use subtle::ConstantTimeEq;

use crate::accounts::{random_hex, Accounts, LoginError, Session};
use crate::channels::Shared;
use crate::core::hours::{Clock, SystemClock};
use crate::faq::Faq;
use crate::service::StaffError;

/// Session cookie (path /staff).
pub const SESSION_COOKIE: &str = "mdg_session";
/// Login-form CSRF cookie (double submit: the form's hidden `csrf` must equal it).
pub const LOGIN_CSRF_COOKIE: &str = "mdg_login_csrf";

/// The Content-Security-Policy of every console response: nothing inline, nothing
/// from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const APP_JS: &str = include_str!("static/app.js");
const APP_CSS: &str = include_str!("static/app.css");

#[derive(Clone)]
struct ConsoleState {
    shared: Shared,
    accounts: Accounts,
    faq: Arc<Faq>,
    /// How often the live queue checks for changes.
    poll: Duration,
}

fn now() -> DateTime<FixedOffset> {
    SystemClock.now()
}

/// The console's routes, to be merged into the server's router.
pub fn routes(shared: Shared, cfg: &crate::config::Config) -> Router {
    let state = ConsoleState {
        accounts: Accounts::new(shared.service.store().clone()),
        faq: Arc::new(Faq::from_bot(shared.service.bot())),
        poll: cfg
            .poll_interval
            .clamp(Duration::from_millis(100), Duration::from_secs(5)),
        shared,
    };
    Router::new()
        .route("/staff", get(|| async { Redirect::to("/staff/") }))
        .route("/staff/", get(queue))
        .route("/staff/queue-fragment", get(queue_fragment))
        .route("/staff/events", get(events))
        .route("/staff/login", get(login_form).post(login))
        .route("/staff/logout", post(logout))
        .route("/staff/e/:id", get(conversation))
        .route("/staff/e/:id/:action", post(action))
        .route("/staff/editor", get(editor))
        .route("/staff/editor/export.jsonl", get(export_all))
        .route("/staff/editor/export/:id", get(export_one))
        .route("/staff/stats", get(stats))
        .route(
            "/staff/static/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route(
            "/staff/static/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }),
        )
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// CSP and friends on every console response; pages are never cached.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

// ---- cookies, sessions, csrf ----

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// Served over TLS, or behind a proxy that says the client used https.
fn is_https(headers: &HeaderMap) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase())
    };
    h("x-forwarded-proto").is_some_and(|v| v.split(',').next().map(str::trim) == Some("https"))
        || h("forwarded").is_some_and(|v| v.contains("proto=https"))
}

fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn to_login() -> Response {
    Redirect::to("/staff/login").into_response()
}

fn forbidden(session: Option<&Session>, why: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message("アクセスできません（403）", why, session),
    )
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: store error");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "一時的に利用できません",
            "データベースに接続できません。しばらくしてから再読み込みしてください。",
            None,
        ),
    )
}

/// The session of the request's cookie, if it is live.
async fn session_of(
    st: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<(Session, String)>, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match st.accounts.session(&token, now()).await {
        Ok(s) => Ok(s.map(|s| (s, token))),
        Err(e) => Err(unavailable(e)),
    }
}

/// A page that needs a session: the session, or the redirect to the login page.
async fn require(st: &ConsoleState, headers: &HeaderMap) -> Result<Session, Response> {
    match session_of(st, headers).await? {
        Some((s, _)) => Ok(s),
        None => Err(to_login()),
    }
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn form(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|v| v.into_iter().collect())
        .unwrap_or_default()
}

/// A state-changing request: needs a live session and the session's csrf token in the
/// form; 403 otherwise.
async fn require_post(
    st: &ConsoleState,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<(Session, String), Response> {
    let Some((s, token)) = session_of(st, headers).await? else {
        return Err(forbidden(
            None,
            "ログインしていないか、セッションの有効期限が切れました。ログインし直してください。",
        ));
    };
    if !same(f.get("csrf").map(String::as_str).unwrap_or(""), &s.csrf) {
        return Err(forbidden(Some(&s), "フォームの確認用トークン（csrf）がないか、正しくありません。ページを再読み込みしてから操作してください。"));
    }
    Ok((s, token))
}

// ---- login / logout ----

async fn login_form(headers: HeaderMap) -> Response {
    let csrf = random_hex(32);
    let mut res = html(StatusCode::OK, pages::login(&csrf, None, ""));
    res.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            "/staff/login",
            Some(3600),
            is_https(&headers),
        ),
    );
    res
}

async fn login(State(st): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let presented = f.get("csrf").cloned().unwrap_or_default();
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same(&presented, &expected) {
        return forbidden(None, "フォームの確認用トークン（csrf）がないか、正しくありません。ログイン画面を開き直してください。");
    }
    let name = f
        .get("name")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let secure = is_https(&headers);
    let retry = |msg: &str, status: StatusCode| {
        let csrf = random_hex(32);
        let mut res = html(status, pages::login(&csrf, Some(msg), &name));
        res.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, "/staff/login", Some(3600), secure),
        );
        res
    };
    match st.accounts.login(&name, &password, now()).await {
        Err(e) => unavailable(e),
        Ok(Err(LoginError::Locked { .. })) => retry(
            &format!("ログインの失敗が続いたため、このアカウントは {} 分間ロックされています。時間をおいてから試すか、管理者に連絡してください。", crate::accounts::LOCK_MINUTES),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Ok(Err(_)) => retry("名前またはパスワードが正しくありません。", StatusCode::UNAUTHORIZED),
        Ok(Ok(_role)) => match st.accounts.create_session(&name, now()).await {
            Err(e) => unavailable(e),
            Ok((token, _csrf)) => {
                let mut res = Redirect::to("/staff/").into_response();
                let h = res.headers_mut();
                h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, "/staff", Some(crate::accounts::SESSION_HOURS * 3600), secure));
                h.append(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, "", "/staff/login", Some(0), secure));
                res
            }
        },
    }
}

async fn logout(State(st): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let (_, token) = match require_post(&st, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = st.accounts.end_session(&token, now()).await {
        return unavailable(e);
    }
    let mut res = Redirect::to("/staff/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/staff", Some(0), is_https(&headers)),
    );
    res
}

// ---- queue ----

async fn queue(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    let s = match require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match st.shared.service.list_escalations(None).await {
        Ok(items) => html(StatusCode::OK, pages::queue(&s, &items, now())),
        Err(e) => unavailable(e),
    }
}

async fn queue_fragment(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Err(r) = require(&st, &headers).await {
        return (StatusCode::UNAUTHORIZED, r).into_response();
    }
    match st.shared.service.list_escalations(None).await {
        Ok(items) => html(StatusCode::OK, pages::queue_sections(&items, now())),
        Err(e) => unavailable(e),
    }
}

/// A fingerprint of the queue: changes when an escalation opens or changes status.
async fn queue_version(st: &ConsoleState) -> Option<String> {
    let items = st.shared.service.list_escalations(None).await.ok()?;
    let mut v = String::new();
    for e in items {
        v.push_str(&format!(
            "{}:{}:{};",
            e.id,
            e.status.as_str(),
            e.reason.as_str()
        ));
    }
    Some(crate::accounts::sha256_hex(&v))
}

/// Server-sent events: `queue` whenever the queue changed (checked every poll
/// interval). `app.js` then fetches the fresh queue.
async fn events(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Err(r) = require(&st, &headers).await {
        return (StatusCode::UNAUTHORIZED, r).into_response();
    }
    let first = queue_version(&st).await;
    let stream = futures::stream::unfold((st, first), |(st, last)| async move {
        loop {
            tokio::time::sleep(st.poll).await;
            let v = queue_version(&st).await;
            if v.is_some() && v != last {
                let ev = Event::default()
                    .event("queue")
                    .data(v.clone().unwrap_or_default());
                return Some((Ok::<Event, Infallible>(ev), (st, v)));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

// ---- conversation ----

#[derive(serde::Deserialize, Default)]
struct ConvQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    m: String,
}

fn flash_text(m: &str) -> Option<String> {
    Some(
        match m {
            "claimed" => "担当しました。",
            "replied" => "返信を送信待ちにしました。会員のチャネルに届けます（HTTP/端末の会員には次のメッセージの際に届きます）。",
            "resolved" => "解決済みにしました。この会話には再びボットが答えます。",
            _ => return None,
        }
        .to_string(),
    )
}

/// FAQ entries matching every word of `q` (question, variants, answer); the first few
/// entries when `q` is empty.
fn suggestions<'a>(faq: &'a Faq, q: &str, fallback_intent: &str) -> Vec<&'a crate::faq::Entry> {
    let words: Vec<String> = q.split_whitespace().map(|w| w.to_lowercase()).collect();
    let mut out: Vec<&crate::faq::Entry> = if words.is_empty() {
        faq.entries
            .iter()
            .filter(|e| e.label.as_str() == fallback_intent)
            .collect()
    } else {
        faq.entries
            .iter()
            .filter(|e| {
                let hay =
                    format!("{} {} {}", e.question, e.variants.join(" "), e.answer).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect()
    };
    out.truncate(8);
    out
}

async fn conversation(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    q: Option<Query<ConvQuery>>,
) -> Response {
    let s = match require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    render_conversation(&st, &s, id, &q.q, flash_text(&q.m), None, StatusCode::OK).await
}

async fn render_conversation(
    st: &ConsoleState,
    s: &Session,
    id: i64,
    q: &str,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (e, lines) = match st.shared.service.escalation(id).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message("見つかりません", &format!("#{id} はありません。"), Some(s)),
            )
        }
        Err(e) => return unavailable(e),
    };
    let (facts, assessment) = case_file(st, &e).await;
    let view = pages::ConversationView {
        escalation: &e,
        lines: &lines,
        facts,
        assessment,
        query: q,
        suggestions: suggestions(&st.faq, q, e.intent.as_str()),
        flash,
        error,
    };
    html(status, pages::conversation(s, &view, now()))
}

/// The case facts stored with the conversation and the assessment they give.
async fn case_file(
    st: &ConsoleState,
    e: &crate::store::Escalation,
) -> (Vec<(String, String)>, Option<String>) {
    let state = match st
        .shared
        .service
        .store()
        .load_state(e.channel, &e.user, &e.conversation)
        .await
    {
        Ok(Some(s)) => s,
        _ => return (Vec::new(), None),
    };
    // the conversation's case file: every fact the member gave, in any turn
    let facts = state.case_file.facts;
    if facts.is_empty() {
        return (Vec::new(), None);
    }
    let pairs = match serde_json::to_value(facts) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter(|(k, v)| {
                !v.is_null() && v != "unknown" && v != "not_mentioned" && k != "not_attack"
            })
            .map(|(k, v)| {
                (
                    fact_ja(&k).to_string(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let bot = st.shared.service.bot();
    let a = bot.rules.assess(&facts);
    (
        pairs,
        Some(crate::core::assessment::render_ja(&bot.rules, &a)),
    )
}

fn fact_ja(k: &str) -> &str {
    match k {
        "membership" => "日医会員",
        "role" => "立場",
        "institution" => "医療機関",
        "incident" => "被害の種類",
        "date" => "発生時期",
        "closure" => "休業",
        "mhlw_report" => "厚生労働省への届出",
        "ppc_report" => "個人情報保護委員会への報告",
        "victim_notice" => "本人への通知",
        other => other,
    }
}

async fn action(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, act)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let (s, _) = match require_post(&st, &headers, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = &st.shared.service;
    let staff = s.account.clone();
    let result: Result<&str, StaffError> = match act.as_str() {
        "claim" => svc.claim(id, &staff).await.map(|_| "claimed"),
        "reply" => {
            let text = f.get("text").map(|t| t.trim()).unwrap_or("");
            svc.staff_reply(id, &staff, text).await.map(|_| "replied")
        }
        "resolve" => {
            let note = f.get("note").map(|n| n.trim()).filter(|n| !n.is_empty());
            svc.resolve(id, &staff, note).await.map(|_| "resolved")
        }
        _ => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message("見つかりません", "その操作はありません。", Some(&s)),
            )
        }
    };
    match result {
        Ok(m) => {
            // staff-channel pollers deliver the reply / update their posts promptly
            st.shared.wake.notify_one();
            Redirect::to(&format!("/staff/e/{id}?m={m}")).into_response()
        }
        Err(StaffError::Store(e)) => unavailable(e),
        Err(StaffError::NotFound(_)) => html(
            StatusCode::NOT_FOUND,
            pages::message("見つかりません", &format!("#{id} はありません。"), Some(&s)),
        ),
        Err(e) => {
            render_conversation(
                &st,
                &s,
                id,
                "",
                None,
                Some(e.to_string()),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

// ---- editor ----

async fn require_editor(st: &ConsoleState, headers: &HeaderMap) -> Result<Session, Response> {
    let s = require(st, headers).await?;
    if !s.role.can_edit() {
        return Err(forbidden(
            Some(&s),
            "このページは編集者（editor）と管理者（admin）のものです。",
        ));
    }
    Ok(s)
}

async fn editor(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    let s = match require_editor(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match queries::unplaced(st.shared.service.store(), 300).await {
        Ok(items) => html(StatusCode::OK, pages::editor(&s, &items)),
        Err(e) => unavailable(e),
    }
}

/// One candidate example as a JSON line (the dev-set shape plus where it came from).
pub fn example_jsonl(u: &queries::Unplaced) -> String {
    serde_json::json!({"text": u.text, "intent": u.intent, "source": format!("console:message:{}", u.id), "reply_kind": u.reply_kind, "confidence": u.confidence})
        .to_string()
}

/// One candidate example as a TOML snippet for `intents/<intent>.toml`.
pub fn example_toml(u: &queries::Unplaced) -> String {
    #[derive(serde::Serialize)]
    struct Snippet<'a> {
        examples: [&'a str; 1],
    }
    let body = toml::to_string(&Snippet {
        examples: [&u.text],
    })
    .unwrap_or_default();
    format!(
        "# 候補: intents/{intent}.toml の examples に追加（推定 {intent}、確信度 {conf:.2}、{kind}）\n# 正しい意図か、個人情報が残っていないかを確認してから追加してください。\n# console message #{id}\n{body}",
        intent = u.intent,
        conf = u.confidence,
        kind = u.reply_kind,
        id = u.id,
    )
}

#[derive(serde::Deserialize, Default)]
struct ExportQuery {
    #[serde(default)]
    format: String,
}

async fn export_one(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    q: Option<Query<ExportQuery>>,
) -> Response {
    let s = match require_editor(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let u = match queries::unplaced_one(st.shared.service.store(), id).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message("見つかりません", "そのメッセージはありません。", Some(&s)),
            )
        }
        Err(e) => return unavailable(e),
    };
    let jsonl = q.is_some_and(|Query(q)| q.format == "jsonl");
    let (body, ctype, ext) = if jsonl {
        (
            example_jsonl(&u) + "\n",
            "application/x-ndjson; charset=utf-8",
            "jsonl",
        )
    } else {
        (example_toml(&u), "text/plain; charset=utf-8", "toml")
    };
    let _ = st
        .accounts
        .audit(
            &s.account,
            "export_example",
            Some(&format!("message #{id}")),
            now(),
        )
        .await;
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"example-{id}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn export_all(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    let s = match require_editor(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match queries::unplaced(st.shared.service.store(), 5000).await {
        Ok(items) => {
            let _ = st
                .accounts
                .audit(
                    &s.account,
                    "export_examples",
                    Some(&format!("{} messages", items.len())),
                    now(),
                )
                .await;
            let body: String = items.iter().map(|u| example_jsonl(u) + "\n").collect();
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"unplaced.jsonl\"",
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => unavailable(e),
    }
}

// ---- stats ----

async fn stats(State(st): State<ConsoleState>, headers: HeaderMap) -> Response {
    let s = match require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = st.shared.service.store();
    let (sum, series) = match (
        st.shared.service.stats().await,
        queries::series(store).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return unavailable(e),
    };
    let f = |v: &[(String, i64)]| {
        v.iter()
            .map(|(k, n)| (k.clone(), *n as f64))
            .collect::<Vec<_>>()
    };
    let median = sum
        .median_secs_to_claim
        .map(|m| format!("{:.0} 秒", m))
        .unwrap_or_else(|| "-".into());
    let summary = vec![
        (
            "会員のメッセージ".to_string(),
            format!("{} 件", sum.messages),
        ),
        (
            "フォールバック".to_string(),
            format!("{} 件", sum.fallbacks),
        ),
        ("聞き返し".to_string(), format!("{} 件", sum.clarifications)),
        ("緊急".to_string(), format!("{} 件", sum.urgent)),
        (
            "エスカレーション".to_string(),
            format!("{} 件", sum.escalations),
        ),
        ("担当までの時間（中央値）".to_string(), median),
    ];
    let mut buckets = [
        ("1分未満", 0.0),
        ("1〜5分", 0.0),
        ("5〜15分", 0.0),
        ("15〜60分", 0.0),
        ("1時間以上", 0.0),
    ];
    for secs in &series.secs_to_claim {
        let i = match *secs {
            s if s < 60.0 => 0,
            s if s < 300.0 => 1,
            s if s < 900.0 => 2,
            s if s < 3600.0 => 3,
            _ => 4,
        };
        buckets[i].1 += 1.0;
    }
    let charts = vec![
        charts::columns(
            "日別の会員メッセージ数（UTC）",
            &f(&series.messages_per_day),
            "件",
        ),
        charts::hbar("意図別の会員メッセージ数", &f(&sum.per_intent), "件", None),
        charts::columns(
            "日別のフォールバック数（UTC）",
            &f(&series.fallbacks_per_day),
            "件",
        ),
        charts::columns(
            "日別のエスカレーション数（UTC）",
            &f(&series.escalations_per_day),
            "件",
        ),
        charts::hbar(
            "理由別のエスカレーション",
            &f(&sum.escalations_by_reason),
            "件",
            Some("urgent"),
        ),
        charts::hbar(
            "担当までの時間",
            &buckets
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect::<Vec<_>>(),
            "件",
            None,
        ),
    ];
    html(StatusCode::OK, pages::stats(&s, &summary, &charts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mdg_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "zz"), None);
        let c = set_cookie(SESSION_COOKIE, "abc", "/staff", Some(60), true);
        let c = c.to_str().unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"),
            "{c}"
        );
        assert!(!set_cookie(SESSION_COOKIE, "abc", "/staff", None, false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn https_is_recognised_behind_a_proxy() {
        let mut h = HeaderMap::new();
        assert!(!is_https(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&h));
    }

    #[test]
    fn exported_examples_are_valid_toml_and_json() {
        let u = queries::Unplaced {
            id: 7,
            text: "ランサムウェアの \"保険\" は？\n二行目".into(),
            intent: "coverage".into(),
            confidence: 0.31,
            reply_kind: "clarify".into(),
            at: "2026-01-05T01:00:00Z".into(),
        };
        let t: toml::Value = toml::from_str(&example_toml(&u)).unwrap();
        assert_eq!(t["examples"][0].as_str(), Some(u.text.as_str()));
        let j: serde_json::Value = serde_json::from_str(&example_jsonl(&u)).unwrap();
        assert_eq!(j["text"], u.text.as_str());
        assert_eq!(j["intent"], "coverage");
    }
}
