//! The staff console, staff accounts and API keys from outside: HTTP-level security
//! tests (keys, sessions, csrf, lock-out, escaping, redaction in the store) and, in a
//! real headless Chromium driven over the DevTools protocol, the whole escalation
//! workflow and the editor's export. Screenshots go to $MADOGUCHI_SCREENSHOTS (the
//! docs/ pictures are made with MADOGUCHI_SCREENSHOTS=docs) or a temporary directory.

#[path = "support/cdp.rs"]
mod cdp;
mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use madoguchi::accounts::{Accounts, StaffRole, MAX_FAILED_LOGINS};
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::store::{Store, StoreConfig};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use sqlx::Connection;
use support::{spawn_app, TestApp};

const URGENT: &str = "ランサムウェアに感染して電子カルテが開けません";
const PASSWORD: &str = "correct-horse-battery-1";

fn accounts(app: &TestApp) -> Accounts {
    Accounts::new(app.service.store().clone())
}

async fn add_account(app: &TestApp, name: &str, role: StaffRole) {
    accounts(app)
        .add_account(name, role, PASSWORD, SystemClock.now())
        .await
        .unwrap();
}

/// A cookie-less client that does not follow redirects (so each hop can be checked).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn set_cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

fn set_cookie_header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_default()
        .to_string()
}

/// The first hidden csrf value in a page.
fn csrf_in(html: &str) -> String {
    let i =
        html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[i..].split('"').next().unwrap().to_string()
}

/// A logged-in console session over plain HTTP.
struct Staff {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Staff {
    /// Logs in through the form (csrf cookie + hidden field); panics on failure.
    async fn login(app: &TestApp, name: &str, password: &str) -> Staff {
        Staff::try_login(app, name, password)
            .await
            .unwrap_or_else(|(s, body)| panic!("login failed: {s}\n{body}"))
    }

    async fn try_login(app: &TestApp, name: &str, password: &str) -> Result<Staff, (u16, String)> {
        let http = client();
        let form = http.get(app.url("/staff/login")).send().await.unwrap();
        assert_eq!(form.status(), 200);
        let login_cookie = set_cookie_value(&form, "mdg_login_csrf").expect("login csrf cookie");
        let csrf = csrf_in(&form.text().await.unwrap());
        assert_eq!(csrf, login_cookie);
        let res = http
            .post(app.url("/staff/login"))
            .header(COOKIE, format!("mdg_login_csrf={login_cookie}"))
            .form(&[("name", name), ("password", password), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        if res.status() != 303 {
            return Err((res.status().as_u16(), res.text().await.unwrap()));
        }
        let cookie_line = set_cookie_header(&res, "mdg_session");
        assert!(
            cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"),
            "{cookie_line}"
        );
        let token = set_cookie_value(&res, "mdg_session").expect("a session cookie");
        Ok(Staff {
            http,
            base: format!("http://{}", app.addr),
            cookie: format!("mdg_session={token}"),
        })
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn csrf(&self) -> String {
        csrf_in(&self.get("/staff/").await.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

async fn urgent_escalation(app: &TestApp, user: &str, text: &str) -> i64 {
    let res = app
        .post_message(json!({"user": user, "channel": "web", "text": text}))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["escalation_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no escalation: {v}"))
}

// ---- API keys ------------------------------------------------------------------------

#[tokio::test]
async fn api_refuses_missing_wrong_and_revoked_keys() {
    let app = spawn_app().await;
    let body = json!({"user": "u", "channel": "c", "text": "窓口の電話番号は？"});
    let post = |key: Option<String>| {
        let mut r = app.client.post(app.url("/v1/messages")).json(&body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    let res = post(None).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unauthorized");
    assert_eq!(
        post(Some("mdg_".to_string() + &"0".repeat(64)))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(post(Some("garbage".into())).await.unwrap().status(), 401);
    let key = accounts(&app)
        .add_api_key("shop", SystemClock.now())
        .await
        .unwrap();
    assert_eq!(post(Some(key.clone())).await.unwrap().status(), 200);
    accounts(&app)
        .revoke_api_key("shop", SystemClock.now())
        .await
        .unwrap();
    assert_eq!(post(Some(key)).await.unwrap().status(), 401);
    // the key is stored only as a hash
    let stored: Vec<String> = accounts(&app)
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(stored, ["shop", "test"]);
    // metrics need a key, healthz does not
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_user_id_is_scoped_to_its_key() {
    let app = spawn_app().await;
    let other = accounts(&app)
        .add_api_key("other", SystemClock.now())
        .await
        .unwrap();
    let id = urgent_escalation(&app, "member-1", URGENT).await;
    let e = app.service.escalation(id).await.unwrap().unwrap().0;
    assert_eq!(
        e.user, "test/member-1",
        "the key's name is recorded with the conversation"
    );
    app.service
        .staff_reply(id, "alice", "事務局の担当です。")
        .await
        .unwrap();
    // the same user id under another key is another member: no staff message for them
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(&other)
        .json(&json!({"user": "member-1", "channel": "web", "text": "こんにちは"}))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["staff_messages"], json!([]), "{v}");
    let v: Value = app
        .post_message(json!({"user": "member-1", "channel": "web", "text": "こんにちは"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["staff_messages"], json!(["事務局の担当です。"]));
}

// ---- sessions and csrf --------------------------------------------------------------

#[tokio::test]
async fn no_session_means_the_login_page_and_no_action() {
    let app = spawn_app().await;
    let id = urgent_escalation(&app, "m", URGENT).await;
    let http = client();
    for path in [
        "/staff/",
        "/staff/stats",
        &format!("/staff/e/{id}"),
        "/staff/editor",
        "/staff/queue-fragment",
    ] {
        let res = http.get(app.url(path)).send().await.unwrap();
        let to_login = res.status() == 303 && res.headers()[LOCATION] == "/staff/login";
        assert!(to_login || res.status() == 401, "{path}: {}", res.status());
    }
    let res = http
        .post(app.url(&format!("/staff/e/{id}/claim")))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // a forged session cookie is no session
    let res = http
        .get(app.url("/staff/"))
        .header(COOKIE, format!("mdg_session={}", "a".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.service
            .escalation(id)
            .await
            .unwrap()
            .unwrap()
            .0
            .status
            .as_str(),
        "open"
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_get_403() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    let id = urgent_escalation(&app, "m", URGENT).await;
    // login itself needs the csrf of its form
    let res = client()
        .post(app.url("/staff/login"))
        .form(&[("name", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client()
        .post(app.url("/staff/login"))
        .header(COOKIE, "mdg_login_csrf=abc")
        .form(&[("name", "alice"), ("password", PASSWORD), ("csrf", "abd")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let s = Staff::login(&app, "alice", PASSWORD).await;
    let path = format!("/staff/e/{id}/claim");
    assert_eq!(s.post(&path, &[]).await.status(), 403);
    assert_eq!(s.post(&path, &[("csrf", "0123")]).await.status(), 403);
    assert_eq!(
        s.post(&format!("/staff/e/{id}/reply"), &[("text", "x")])
            .await
            .status(),
        403
    );
    assert_eq!(s.post("/staff/logout", &[]).await.status(), 403);
    assert_eq!(
        app.service
            .escalation(id)
            .await
            .unwrap()
            .unwrap()
            .0
            .status
            .as_str(),
        "open"
    );
    let csrf = s.csrf().await;
    let res = s.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let e = app.service.escalation(id).await.unwrap().unwrap().0;
    assert_eq!(
        (e.status.as_str(), e.assignee.as_deref()),
        ("claimed", Some("alice")),
        "the action is under the account's name"
    );
}

#[tokio::test]
async fn a_session_is_dead_after_logout_and_another_account_cannot_reuse_it() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    add_account(&app, "bob", StaffRole::Staff).await;
    let alice = Staff::login(&app, "alice", PASSWORD).await;
    let bob = Staff::login(&app, "bob", PASSWORD).await;
    assert_ne!(alice.cookie, bob.cookie);
    let csrf = alice.csrf().await;
    let res = alice.post("/staff/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(set_cookie_header(&res, "mdg_session").contains("Max-Age=0"));
    // the old cookie, replayed: no session, no action
    assert_eq!(alice.get("/staff/").await.status(), 303);
    let id = urgent_escalation(&app, "m", URGENT).await;
    assert_eq!(
        alice
            .post(&format!("/staff/e/{id}/claim"), &[("csrf", &csrf)])
            .await
            .status(),
        403
    );
    // bob's csrf with alice's dead cookie: still refused; bob himself still works
    let bob_csrf = bob.csrf().await;
    assert_eq!(
        alice
            .post(&format!("/staff/e/{id}/claim"), &[("csrf", &bob_csrf)])
            .await
            .status(),
        403
    );
    assert_eq!(bob.get("/staff/").await.status(), 200);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    for _ in 0..MAX_FAILED_LOGINS - 1 {
        let (status, body) = Staff::try_login(&app, "alice", "wrong-password-123")
            .await
            .err()
            .expect("refused");
        assert_eq!(status, 401);
        assert!(body.contains("正しくありません"));
    }
    let (status, body) = Staff::try_login(&app, "alice", "wrong-password-123")
        .await
        .err()
        .expect("refused");
    assert_eq!(status, 429);
    assert!(body.contains("ロック"), "{body}");
    let (status, _) = Staff::try_login(&app, "alice", PASSWORD)
        .await
        .err()
        .expect("locked: even the right password is refused");
    assert_eq!(status, 429);
    // unknown names and disabled accounts do not get in either
    assert_eq!(
        Staff::try_login(&app, "nobody", PASSWORD)
            .await
            .err()
            .unwrap()
            .0,
        401
    );
    add_account(&app, "carol", StaffRole::Staff).await;
    accounts(&app)
        .set_disabled("carol", true, SystemClock.now())
        .await
        .unwrap();
    assert_eq!(
        Staff::try_login(&app, "carol", PASSWORD)
            .await
            .err()
            .unwrap()
            .0,
        401
    );
    // the admin resets the password: unlocked
    accounts(&app)
        .set_password("alice", "another-password-42", SystemClock.now())
        .await
        .unwrap();
    Staff::login(&app, "alice", "another-password-42").await;
    // failed logins are audited under the account's name
    let audit: Vec<(String, String)> = match &app.service.store().backend() {
        madoguchi::store::Backend::Sqlite(p) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", p.display()))
                .await
                .unwrap();
            sqlx::query_as("SELECT actor, action FROM audit_log WHERE actor = 'alice'")
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
        _ => unreachable!(),
    };
    assert!(
        audit.iter().any(|(_, a)| a == "login_failed_locked"),
        "{audit:?}"
    );
    assert!(audit.iter().any(|(_, a)| a == "login"), "{audit:?}");
}

#[tokio::test]
async fn only_editors_see_the_editor_page() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    add_account(&app, "edith", StaffRole::Editor).await;
    assert_eq!(
        Staff::login(&app, "alice", PASSWORD)
            .await
            .get("/staff/editor")
            .await
            .status(),
        403
    );
    assert_eq!(
        Staff::login(&app, "edith", PASSWORD)
            .await
            .get("/staff/editor")
            .await
            .status(),
        200
    );
}

// ---- what the pages show --------------------------------------------------------------

#[tokio::test]
async fn member_html_is_shown_as_text_with_a_strict_csp() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    let evil =
        "<script>alert('x')</script><img src=x onerror=alert(1)> ランサムウェアに感染しました";
    let id = urgent_escalation(&app, "<b>m</b>", evil).await;
    let s = Staff::login(&app, "alice", PASSWORD).await;
    for path in ["/staff/".to_string(), format!("/staff/e/{id}")] {
        let res = s.get(&path).await;
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let html = res.text().await.unwrap();
        assert!(
            !html.contains("<script>alert")
                && !html.contains("<img src=x")
                && !html.contains("<b>m</b>"),
            "{path}"
        );
        assert!(html.contains("&lt;script&gt;"), "{path}");
        // no inline script or style at all
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the external app.js: {path}"
        );
        assert!(!html.contains("style="), "{path}");
    }
}

#[tokio::test]
async fn console_actions_reach_the_member_through_the_outbox() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    let id = urgent_escalation(&app, "m-9", URGENT).await;
    let s = Staff::login(&app, "alice", PASSWORD).await;
    let csrf = s.csrf().await;
    assert_eq!(
        s.post(
            &format!("/staff/e/{id}/reply"),
            &[
                ("csrf", &csrf),
                ("text", "事務局です。090-1234-5678 にお電話します。")
            ]
        )
        .await
        .status(),
        303
    );
    let page = s
        .get(&format!("/staff/e/{id}?m=replied"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("返信を送信待ちにしました"));
    let v: Value = app
        .post_message(json!({"user": "m-9", "channel": "web", "text": "ありがとうございます"}))
        .await
        .json()
        .await
        .unwrap();
    let got = v["staff_messages"][0].as_str().unwrap().to_string();
    assert!(
        got.starts_with("事務局") && !got.contains("090-1234-5678"),
        "{got}"
    );
    assert_eq!(
        s.post(
            &format!("/staff/e/{id}/resolve"),
            &[("csrf", &csrf), ("note", "対応済み")]
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        app.service
            .escalation(id)
            .await
            .unwrap()
            .unwrap()
            .0
            .status
            .as_str(),
        "resolved"
    );
    // claimed by someone else: a clear refusal, not a crash
    let id2 = urgent_escalation(&app, "m-10", URGENT).await;
    app.service.claim(id2, "bob").await.unwrap();
    let res = s
        .post(&format!("/staff/e/{id2}/claim"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("bob"));
}

#[tokio::test]
async fn suggestions_search_the_faq_and_stats_are_svg() {
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    let id = urgent_escalation(&app, "m", URGENT).await;
    let s = Staff::login(&app, "alice", PASSWORD).await;
    let page = s
        .get(&format!("/staff/e/{id}?q=%E9%9B%BB%E8%A9%B1"))
        .await
        .text()
        .await
        .unwrap(); // 電話
    assert!(
        page.contains("0120-179-066"),
        "a FAQ answer about the hotline is suggested"
    );
    let page = s.get("/staff/stats").await.text().await.unwrap();
    assert!(page.matches("<svg").count() >= 5, "{page}");
    assert!(page.contains("incident"));
}

// ---- redaction in everything stored ----------------------------------------------------

#[tokio::test]
async fn names_emails_and_long_text_never_reach_the_store() {
    let app = spawn_app().await;
    let texts = [
        "やまだせんせいの診療所でランサムウェアに感染しました",
        "山田 先生から聞きました。支援金の対象ですか",
        "Yamada-san と Suzuki sensei に相談しました",
        "佐藤さんの連絡先は taro.yamada@example.jp です",
    ];
    for t in texts {
        assert_eq!(app.post_message(json!({"user": "hanako.suzuki@example.org", "channel": "tel-090-1111-2222", "text": t})).await.status(), 200);
    }
    let long = format!("支援金について教えてください。{}", "あ".repeat(20_000));
    assert_eq!(
        app.post_message(json!({"user": "u-long", "channel": "c", "text": long}))
            .await
            .status(),
        200
    );
    let all = app.service.store().all_text().await.unwrap().join("\n");
    for secret in [
        "やまだ",
        "山田",
        "Yamada",
        "Suzuki",
        "佐藤",
        "taro.yamada",
        "example.jp",
    ] {
        assert!(!all.contains(secret), "{secret} is stored");
    }
    assert!(all.contains("文字省略"), "the cut is said");
    assert!(
        all.lines().all(|l| l.chars().count() < 2_200),
        "nothing longer than what the bot reads"
    );
    for e in app.service.list_escalations(None).await.unwrap() {
        assert!(
            !e.user.contains("hanako") && !e.conversation.contains("1111"),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn staff_names_with_contact_details_are_stored_pseudonymised() {
    // `madoguchi staff claim --as …` takes any name; the Desk stores every staff name
    // through redact::display_name
    let app = spawn_app().await;
    let id = urgent_escalation(
        &app,
        "u-staffname",
        "ランサムウェアに感染しました。画面が開けません",
    )
    .await;
    let svc = &app.service;
    svc.claim(id, "taro@example.jp").await.unwrap();
    // the same person again: the same pseudonym, so they hold the item
    svc.staff_reply(id, "taro@example.jp", "お電話します。")
        .await
        .unwrap();
    let refused = svc.staff_reply(id, "hanako 090-1234-5678", "横から").await;
    assert!(refused.is_err());
    svc.resolve(id, "hanako 090-1234-5678", Some("対応済み"))
        .await
        .unwrap();
    let (e, transcript) = svc.escalation(id).await.unwrap().unwrap();
    let taro = madoguchi::redact::display_name("taro@example.jp");
    assert_eq!(e.assignee.as_deref(), Some(taro.as_str()));
    assert!(transcript
        .iter()
        .any(|l| l.author.as_deref() == Some(taro.as_str())));
    let refusal = refused.unwrap_err().to_string();
    assert!(
        refusal.contains(&taro) && !refusal.contains("taro@"),
        "{refusal}"
    );
    let all = svc.store().all_text().await.unwrap().join("\n");
    for secret in ["taro@", "example.jp", "1234-5678"] {
        assert!(!all.contains(secret), "{secret} is stored:\n{all}");
    }
    assert!(all.contains("hanako [電話番号]#"), "{all}");
}

#[tokio::test]
async fn database_urls_in_descriptions_hide_passwords() {
    for url in [
        "postgres://app:s3cr3t-pw@127.0.0.1:1/m",
        "postgres://127.0.0.1:1/m?password=s3cr3t-pw",
        "postgres://app@127.0.0.1:1/m?sslpassword=s3cr3t-pw&sslmode=require",
    ] {
        let store = Store::open(&StoreConfig::url(url)).unwrap();
        let d = store.describe();
        assert!(!d.contains("s3cr3t"), "{d}");
    }
}

/// `madoguchi serve` started with every form of secret in `DATABASE_URL` (user:password,
/// `?password=`, `sslpassword`, which the driver would log with its value) on a database
/// that does not answer: the start-up, the driver's warnings and the recovery task's
/// errors, at the most verbose log level, show none of them.
#[test]
fn serve_logs_show_no_secret_from_the_database_url() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::sync::{mpsc, Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            "postgres://app:s3cr3t-userinfo@127.0.0.1:1/m?password=s3cr3t-query&sslpassword=s3cr3t-ssl&sslmode=disable",
        )
        .env("MADOGUCHI_SPOOL", dir.path().join("spool.jsonl"))
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in [
        "MADOGUCHI_DB",
        "MADOGUCHI_CONFIG",
        "MADOGUCHI_ADDR",
        "MADOGUCHI_CONTENT",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DISCORD_TOKEN",
        "MATTERMOST_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("runs madoguchi serve");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel::<()>();
    let reader = {
        let (log, stderr) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let listening = line.contains("listening on");
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
                if listening {
                    let _ = tx.send(());
                }
            }
        })
    };
    let started = rx.recv_timeout(Duration::from_secs(120)).is_ok();
    // a few rounds of the recovery task's probes and their errors
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let log = log.lock().unwrap().clone() + &out;
    assert!(started, "serve did not start:\n{log}");
    assert!(!log.contains("s3cr3t"), "a secret in the log:\n{log}");
    // the log did speak about the database (without the secrets)
    assert!(
        log.contains("app:***@127.0.0.1:1/m") && log.contains("sslpassword"),
        "{log}"
    );
}

// ---- the same account rules on PostgreSQL -----------------------------------------------

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_keys_and_sessions_work_on_postgres() {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 is required for this test");
    let name = format!(
        "madoguchi_console_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let result = tokio::spawn({
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        async move {
            let store = Store::connect(&StoreConfig::url(url)).await.unwrap();
            let acc = Accounts::new(store.clone());
            let now = SystemClock.now();
            let key = acc.add_api_key("shop", now).await.unwrap();
            assert_eq!(
                acc.api_key_name(&key).await.unwrap().as_deref(),
                Some("shop")
            );
            assert!(acc.add_api_key("shop", now).await.is_err());
            acc.revoke_api_key("shop", now).await.unwrap();
            assert_eq!(acc.api_key_name(&key).await.unwrap(), None);
            acc.add_account("alice", StaffRole::Editor, PASSWORD, now)
                .await
                .unwrap();
            acc.link("alice", "slack:U123", now).await.unwrap();
            assert_eq!(
                acc.linked_account("slack:U123").await.unwrap().as_deref(),
                Some("alice")
            );
            for _ in 0..MAX_FAILED_LOGINS {
                assert!(acc
                    .login("alice", "nope-nope-nope", now)
                    .await
                    .unwrap()
                    .is_err());
            }
            assert!(
                acc.login("alice", PASSWORD, now).await.unwrap().is_err(),
                "locked"
            );
            assert!(
                acc.login("alice", PASSWORD, now + chrono::Duration::minutes(16))
                    .await
                    .unwrap()
                    .is_ok(),
                "lock expires"
            );
            let (token, csrf) = acc.create_session("alice", now).await.unwrap();
            let s = acc
                .session(&token, now)
                .await
                .unwrap()
                .expect("live session");
            assert_eq!(
                (s.account.as_str(), s.role, s.csrf.as_str()),
                ("alice", StaffRole::Editor, csrf.as_str())
            );
            acc.end_session(&token, now).await.unwrap();
            assert_eq!(acc.session(&token, now).await.unwrap(), None);
            let list = acc.list_accounts().await.unwrap();
            assert_eq!(list[0].links, ["slack:U123"]);
            let sessions = madoguchi::console::queries::unplaced(&store, 10)
                .await
                .unwrap();
            assert!(sessions.is_empty());
            madoguchi::console::queries::series(&store).await.unwrap();
            store.close().await;
        }
    })
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    result.unwrap();
}

// ---- in a real browser ------------------------------------------------------------------

fn shots_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("MADOGUCHI_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => {
            let p = PathBuf::from(d);
            let p = if p.is_absolute() {
                p
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
            };
            (p, None)
        }
        _ => {
            let t = tempfile::tempdir().unwrap();
            (t.path().to_path_buf(), Some(t))
        }
    }
}

async fn browser_login(page: &mut cdp::Page, app: &TestApp, name: &str) {
    page.goto(&app.url("/staff/")).await;
    assert!(
        page.url().await.ends_with("/staff/login"),
        "no session → the login page"
    );
    page.fill("input[name=name]", name).await;
    page.fill("input[name=password]", PASSWORD).await;
    page.navigate_by("document.querySelector('form.login button').click()")
        .await;
    assert!(
        page.url().await.ends_with("/staff/"),
        "logged in: {}",
        page.text().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_staff_see_an_urgent_message_arrive_claim_reply_and_resolve() {
    let Some(chromium) = cdp::chromium() else {
        eprintln!("SKIP browser test: chromium not found (bash .ci/install-chromium.sh); under CI=true this fails");
        return;
    };
    let (shots, _keep) = shots_dir();
    let app = spawn_app().await;
    add_account(&app, "alice", StaffRole::Staff).await;
    // something already waiting, with HTML in it
    urgent_escalation(
        &app,
        "earlier",
        "<b>太字</b>のつもり。ウイルスに感染したかもしれません",
    )
    .await;
    app.post_message(json!({"user": "asker", "channel": "web", "text": "担当者と話したいです"}))
        .await;

    let mut browser = cdp::Browser::launch(&chromium).await;
    let page = &mut browser.page;
    browser_login(page, &app, "alice").await;
    assert!(
        page.text().await.contains("<b>太字</b>のつもり"),
        "member HTML is shown as text"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('main b').length")
            .await,
        json!(0)
    );

    // a new urgent message arrives while the page is open: it appears without a reload
    page.eval("window.__stay = 42").await;
    page.wait_until(
        "the live connection",
        "document.getElementById('live').textContent.length > 0",
    )
    .await;
    let id = urgent_escalation(
        &app,
        "member-b",
        "ランサムウェアに感染して電子カルテが開けません。やまだせんせいが困っています",
    )
    .await;
    page.wait_until(
        &format!("escalation #{id} in the queue"),
        &format!("!!document.querySelector('li[data-id=\"{id}\"].urgent') && window.__stay === 42"),
    )
    .await;
    // urgent first
    let first = page
        .eval("document.querySelector('.status-open li').getAttribute('data-id')")
        .await;
    assert!(
        first == json!(id.to_string())
            || page
                .eval("document.querySelector('.status-open li').classList.contains('urgent')")
                .await
                == json!(true)
    );
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    assert!(
        page.horizontal_overflow().await <= 0,
        "the queue fits a phone"
    );
    page.call("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    page.screenshot(&shots.join("console-queue-desktop.png"), 1280, false)
        .await;
    page.screenshot(&shots.join("console-queue-phone.png"), 390, true)
        .await;

    // open it: the transcript is redacted
    page.navigate_by(&format!(
        "document.querySelector('li[data-id=\"{id}\"] a').click()"
    ))
    .await;
    let text = page.text().await;
    assert!(
        text.contains("電子カルテが開けません") && !text.contains("やまだ"),
        "{text}"
    );
    page.navigate_by("document.getElementById('claim').click()")
        .await;
    assert!(page.text().await.contains("担当しました"));
    // a suggested reply from the FAQ goes into the reply box with one click
    page.navigate_by("document.querySelector('.suggest input[name=q]').value = '電話'; document.querySelector('.suggest form').submit()").await;
    page.eval("document.querySelector('.suggestions details').open = true; document.querySelector('button.use-reply').click()").await;
    let filled = page
        .eval("document.getElementById('reply-text').value")
        .await;
    let suggested = page
        .eval("document.getElementById('sugg-0').textContent")
        .await;
    assert!(
        filled.as_str().is_some_and(|f| !f.is_empty()) && filled == suggested,
        "{filled} / {suggested}"
    );
    assert!(
        page.text().await.contains("0120-179-066"),
        "a FAQ answer about the hotline is among the suggestions"
    );
    let reply =
        "事務局の担当です。まずは端末をネットワークから外してください。折り返しご連絡します。";
    page.fill("#reply-text", reply).await;
    page.navigate_by("document.getElementById('send-reply').click()")
        .await;
    assert!(page.text().await.contains("返信を送信待ちにしました"));
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 800, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    assert!(
        page.horizontal_overflow().await <= 0,
        "the conversation fits a phone"
    );
    page.call("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    page.screenshot(&shots.join("console-conversation-desktop.png"), 1280, false)
        .await;
    page.screenshot(&shots.join("console-conversation-phone.png"), 390, true)
        .await;

    // the member receives it in their own channel
    let v: Value = app
        .post_message(json!({"user": "member-b", "channel": "web", "text": "わかりました"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["staff_messages"], json!([reply]), "{v}");

    page.fill("#note", "ネットワーク遮断を案内").await;
    page.navigate_by("document.getElementById('resolve').click()")
        .await;
    assert!(page.text().await.contains("解決済みにしました"));
    assert_eq!(
        app.service
            .escalation(id)
            .await
            .unwrap()
            .unwrap()
            .0
            .status
            .as_str(),
        "resolved"
    );

    page.goto(&app.url("/staff/stats")).await;
    assert!(
        page.eval("document.querySelectorAll('figure.chart svg').length")
            .await
            .as_u64()
            .unwrap()
            >= 5
    );
    page.screenshot(&shots.join("console-stats-desktop.png"), 1280, false)
        .await;

    // logout: the page is gone, the session with it
    page.navigate_by("document.querySelector('form.logout button').click()")
        .await;
    assert!(page.url().await.ends_with("/staff/login"));
    page.screenshot(&shots.join("console-login-phone.png"), 390, true)
        .await;
    page.goto(&app.url("/staff/")).await;
    assert!(page.url().await.ends_with("/staff/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_editor_exports_an_unclear_message_as_an_example() {
    let Some(chromium) = cdp::chromium() else {
        eprintln!("SKIP browser test: chromium not found (bash .ci/install-chromium.sh); under CI=true this fails");
        return;
    };
    let (shots, _keep) = shots_dir();
    let app = spawn_app().await;
    add_account(&app, "edith", StaffRole::Editor).await;
    let unclear = "明日の天気を教えてください";
    let v: Value = app
        .post_message(json!({"user": "x", "channel": "web", "text": unclear}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(v["intent"], "hotline", "{v}");

    let mut browser = cdp::Browser::launch(&chromium).await;
    let page = &mut browser.page;
    browser_login(page, &app, "edith").await;
    page.goto(&app.url("/staff/editor")).await;
    assert!(page.text().await.contains(unclear), "{}", page.text().await);
    page.screenshot(&shots.join("console-editor-desktop.png"), 1280, false)
        .await;
    page.navigate_by("document.querySelector('a.export').click()")
        .await;
    let snippet = page.text().await;
    assert!(
        snippet.contains("examples = [") && snippet.contains(unclear),
        "{snippet}"
    );
    let toml_part: String = snippet
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let t: toml::Value = toml::from_str(&toml_part).expect("the export is TOML");
    assert_eq!(t["examples"][0].as_str(), Some(unclear));
    tokio::time::sleep(Duration::from_millis(10)).await;
}
