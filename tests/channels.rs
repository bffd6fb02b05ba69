//! The channels end to end: the real server on 127.0.0.1:0 with a fresh SQLite store,
//! Slack's Web API replaced by a recording mock (see tests/support).

mod support;

use serde_json::{json, Value};
use support::*;

const URGENT: &str =
    "ランサムウェアに感染しました。いま画面に脅迫文が出ていて電子カルテが開けません";

fn all_posted_text(app: &TestApp) -> String {
    app.slack
        .calls()
        .iter()
        .map(|c| c.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn signed_urgent_mention_is_answered_in_its_thread_with_the_hotline() {
    let mut app = spawn_app().await;
    let ev = event_callback(
        "Ev001",
        app_mention("C100", "1700000000.000100", "U1", URGENT),
    );
    let res = app.post_event(ev).await;
    assert_eq!(res.status(), 200);

    let post = app
        .slack
        .wait_for_post("C100", Some("1700000000.000100"))
        .await;
    let text = post.to_string();
    assert!(text.contains("0120-179-066"), "{text}");
    let auth = app
        .slack
        .calls()
        .into_iter()
        .find(|c| c.body["channel"] == "C100")
        .unwrap()
        .auth;
    assert_eq!(
        auth.as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );

    // the escalation reaches the staff channel with Claim / Resolve buttons
    let staff = app.slack.wait_for_post(STAFF_CHANNEL, None).await;
    let s = staff.to_string();
    assert!(
        s.contains("staff_claim") && s.contains("staff_resolve"),
        "{s}"
    );
    app.stop().await;
    let open = app.service.list_escalations(None).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].channel.as_str(), "slack");
    assert!(
        open[0].staff_ref.is_some(),
        "the staff post's ts is recorded"
    );
}

#[tokio::test]
async fn url_verification_echoes_the_challenge() {
    let app = spawn_app().await;
    let body = json!({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"});
    let res = app.post_event(body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[tokio::test]
async fn forged_and_stale_requests_are_401_and_never_answered() {
    let mut app = spawn_app().await;
    let forged_ev = event_callback(
        "EvForged",
        app_mention("C200", "1700000000.000200", "U1", URGENT),
    )
    .to_string();
    // signed with the wrong secret
    let ts = chrono::Utc::now().timestamp().to_string();
    let bad_sig = madoguchi::channels::slack::sign(
        &madoguchi::config::Secret::new("not-the-secret"),
        &ts,
        forged_ev.as_bytes(),
    );
    let res = app
        .client
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", bad_sig)
        .body(forged_ev.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized");
    // no signature at all
    let res = app
        .client
        .post(app.url("/slack/events"))
        .body(forged_ev.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // correctly signed but 10 minutes old (a replay)
    let stale = event_callback(
        "EvStale",
        app_mention("C200", "1700000000.000201", "U1", URGENT),
    )
    .to_string();
    let res = app
        .post_slack("/slack/events", &stale, "application/json", 600, &[])
        .await;
    assert_eq!(res.status(), 401);
    // the same on the other Slack endpoints
    for path in ["/slack/commands", "/slack/interactions"] {
        let res = app
            .client
            .post(app.url(path))
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", "v0=00")
            .body("a=b")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }

    app.stop().await; // everything accepted is finished
    assert!(app.slack.calls().is_empty(), "{:#?}", app.slack.calls());
    assert!(app.service.list_escalations(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_same_event_id_is_answered_once() {
    let mut app = spawn_app().await;
    let ev = event_callback(
        "EvDup",
        app_mention(
            "C300",
            "1700000000.000300",
            "U1",
            "窓口の電話番号を教えてください",
        ),
    );
    assert_eq!(app.post_event(ev.clone()).await.status(), 200);
    // Slack's retry of the same event
    let res = app
        .post_slack(
            "/slack/events",
            &ev.to_string(),
            "application/json",
            0,
            &[
                ("x-slack-retry-num", "1"),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
    let in_thread = app
        .slack
        .posts()
        .into_iter()
        .filter(|p| p["thread_ts"] == "1700000000.000300")
        .count();
    assert_eq!(in_thread, 1, "{:#?}", app.slack.calls());
}

#[tokio::test]
async fn mentions_in_member_text_are_never_echoed_live() {
    let mut app = spawn_app().await;
    let text = format!("<!channel> <!everyone> @here <@U999> {URGENT}");
    let ev = event_callback(
        "EvMention",
        app_mention("C400", "1700000000.000400", "U1", &text),
    );
    assert_eq!(app.post_event(ev).await.status(), 200);
    app.slack
        .wait_for_post("C400", Some("1700000000.000400"))
        .await;
    let staff = app
        .slack
        .wait_for_post(STAFF_CHANNEL, None)
        .await
        .to_string();
    app.stop().await;
    // the member's words did reach the staff post (so the check below is not vacuous)
    assert!(staff.contains("ランサムウェア"), "{staff}");
    let all = all_posted_text(&app);
    for live in [
        "<!channel>",
        "<!everyone>",
        "<!here>",
        "<@U999>",
        "@here",
        "@everyone",
        "@channel",
    ] {
        assert!(!all.contains(live), "{live} echoed: {all}");
    }
}

#[tokio::test]
async fn direct_messages_are_answered_and_bot_messages_ignored() {
    let mut app = spawn_app().await;
    let dm = json!({"type": "message", "channel_type": "im", "user": "U5", "text": "支援金はいくらもらえますか", "channel": "D500", "ts": "1700000000.000500"});
    assert_eq!(
        app.post_event(event_callback("EvDm", dm)).await.status(),
        200
    );
    let bot = json!({"type": "message", "channel_type": "im", "bot_id": "B1", "user": "UBOT", "text": "自分の投稿", "channel": "D501", "ts": "1700000000.000501"});
    assert_eq!(
        app.post_event(event_callback("EvBot", bot)).await.status(),
        200
    );
    app.stop().await;
    let posts = app.slack.posts();
    assert!(posts
        .iter()
        .any(|p| p["channel"] == "D500" && p["thread_ts"] == "1700000000.000500"));
    assert!(!posts.iter().any(|p| p["channel"] == "D501"));
}

#[tokio::test]
async fn staff_claim_and_thread_reply_reach_the_member_thread() {
    let mut app = spawn_app().await;
    let ev = event_callback(
        "EvStaff",
        app_mention("C600", "1700000000.000600", "U6", URGENT),
    );
    app.post_event(ev).await;
    let staff_post_ts = {
        app.slack.wait_for_post(STAFF_CHANNEL, None).await;
        // the mock answers with ts = 1800000000.<call number>
        let calls = app.slack.calls();
        let n = calls
            .iter()
            .position(|c| c.body["channel"] == STAFF_CHANNEL && c.body.get("thread_ts").is_none())
            .unwrap()
            + 1;
        format!("1800000000.{n:06}")
    };
    // wait until the ts is recorded, then claim with the button
    let id = loop_until_staff_ref(&app).await;
    let payload = json!({
        "type": "block_actions", "user": {"id": "USTAFF", "username": "suzuki"}, "channel": {"id": STAFF_CHANNEL},
        "message": {"ts": staff_post_ts}, "actions": [{"action_id": "staff_claim", "value": id.to_string()}]
    });
    let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let res = app
        .post_slack(
            "/slack/interactions",
            &form,
            "application/x-www-form-urlencoded",
            0,
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.slack
        .wait_for("claim notice", |calls| {
            calls
                .iter()
                .any(|c| c.body.to_string().contains("鈴木 さんが担当します"))
        })
        .await;

    // staff answer in the escalation's thread
    let reply = json!({"type": "message", "channel_type": "channel", "user": "USTAFF", "text": "事務局の鈴木です。すぐにお電話ください。", "channel": STAFF_CHANNEL, "ts": "1800000001.000001", "thread_ts": staff_post_ts});
    assert_eq!(
        app.post_event(event_callback("EvStaffReply", reply))
            .await
            .status(),
        200
    );
    app.slack
        .wait_for("the staff reply in the member's thread", |calls| {
            calls.iter().any(|c| {
                c.body["channel"] == "C600"
                    && c.body["thread_ts"] == "1700000000.000600"
                    && c.body.to_string().contains("事務局の鈴木です")
            })
        })
        .await;
    app.stop().await;
    let e = app
        .service
        .list_escalations(None)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap();
    assert_eq!(e.status.as_str(), "claimed");
    assert_eq!(e.assignee.as_deref(), Some("slack:USTAFF"));
}

async fn loop_until_staff_ref(app: &TestApp) -> i64 {
    for _ in 0..200 {
        if let Some(e) = app
            .service
            .list_escalations(None)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.staff_ref.is_some())
        {
            return e.id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no escalation got its staff post recorded");
}

#[tokio::test]
async fn slash_command_acks_ephemerally_then_answers_through_response_url() {
    let mut app = spawn_app().await;
    let form = serde_urlencoded::to_string([
        ("command", "/madoguchi"),
        ("text", "窓口の電話番号は？"),
        ("user_id", "U7"),
        ("channel_id", "C700"),
        ("response_url", &app.response_url()),
    ])
    .unwrap();
    let res = app
        .post_slack(
            "/slack/commands",
            &form,
            "application/x-www-form-urlencoded",
            0,
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let ack: Value = res.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    app.stop().await;
    let answer = app
        .slack
        .calls()
        .into_iter()
        .find(|c| c.method == "response")
        .expect("answered through response_url");
    assert_eq!(answer.body["response_type"], "ephemeral");
    assert!(
        answer.body.to_string().contains("0120-179-066"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn a_choice_button_is_the_members_next_message() {
    let mut app = spawn_app().await;
    let payload = json!({
        "type": "block_actions", "user": {"id": "U8", "username": "taro"}, "channel": {"id": "C800"},
        "message": {"ts": "1700000000.000801", "thread_ts": "1700000000.000800"},
        "container": {"type": "message", "message_ts": "1700000000.000801", "channel_id": "C800", "is_ephemeral": false},
        "actions": [{"action_id": "choice_0", "value": "窓口の電話番号は？"}]
    });
    let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let res = app
        .post_slack(
            "/slack/interactions",
            &form,
            "application/x-www-form-urlencoded",
            0,
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let post = app
        .slack
        .wait_for_post("C800", Some("1700000000.000800"))
        .await;
    assert!(post.to_string().contains("0120-179-066"));
    app.stop().await;
}

#[tokio::test]
async fn http_urgent_message_gets_the_hotline_and_an_escalation_id() {
    let mut app = spawn_app().await;
    let res = app
        .post_message(json!({"user": "member-1", "channel": "web", "text": URGENT}))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["reply"].as_str().unwrap().contains("0120-179-066"), "{v}");
    assert_eq!(v["urgent"], true);
    assert_eq!(v["intent"], "incident");
    let id = v["escalation_id"].as_i64().expect("an escalation id");
    for k in ["confidence", "choices", "staff_messages"] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    app.stop().await;
    let list = app.service.list_escalations(None).await.unwrap();
    let e = list
        .iter()
        .find(|e| e.id == id)
        .expect("the id is in the queue");
    assert_eq!(e.reason.as_str(), "urgent");
    assert_eq!(e.channel.as_str(), "http");
}

#[tokio::test]
async fn http_bad_input_is_a_json_4xx_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let mb = format!(
        "{{\"user\":\"u\",\"channel\":\"c\",\"text\":\"{}\"}}",
        "あ".repeat(350_000)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "invalid json",
            b"{\"user\": \"u\", \"channel\": ".to_vec(),
            400,
        ),
        (
            "invalid utf-8",
            b"{\"user\":\"u\",\"channel\":\"c\",\"text\":\"\xff\xfe\"}".to_vec(),
            400,
        ),
        ("1 MB body", mb.into_bytes(), 413),
        ("missing fields", b"{\"user\":\"u\"}".to_vec(), 422),
        (
            "wrong types",
            b"{\"user\":1,\"channel\":\"c\",\"text\":\"x\"}".to_vec(),
            422,
        ),
        ("empty body", Vec::new(), 400),
    ];
    for (what, body, status) in cases {
        let res = app
            .client
            .post(app.url("/v1/messages"))
            .bearer_auth(&app.api_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{what}");
        let v: Value = res
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "{what}: {v}"
        );
    }
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    // still serving
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .post_message(json!({"user": "u", "channel": "c", "text": "窓口の電話番号は？"}))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn too_many_messages_get_a_polite_429() {
    let app = spawn_app_with(|c| {
        c.rate_limit = madoguchi::config::RateLimit {
            burst: 2,
            per_minute: 1,
        }
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.post_message(json!({"user": "fast", "channel": "c", "text": "こんにちは"}))
                .await
                .status(),
            200
        );
    }
    let res = app
        .post_message(json!({"user": "fast", "channel": "c", "text": "こんにちは"}))
        .await;
    assert_eq!(res.status(), 429);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "rate_limited");
    assert!(v["message"].as_str().unwrap().contains("時間をおいて"));
    // another member is not affected
    assert_eq!(
        app.post_message(json!({"user": "calm", "channel": "c", "text": "こんにちは"}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn metrics_count_requests_intents_and_escalations() {
    let app = spawn_app().await;
    app.post_message(json!({"user": "m", "channel": "c", "text": URGENT}))
        .await;
    app.client
        .post(app.url("/v1/messages"))
        .bearer_auth(&app.api_key)
        .body("{")
        .send()
        .await
        .unwrap();
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let t = res.text().await.unwrap();
    assert!(
        t.contains("madoguchi_http_requests_total{route=\"/v1/messages\",status=\"200\"} 1"),
        "{t}"
    );
    assert!(
        t.contains("madoguchi_http_requests_total{route=\"/v1/messages\",status=\"400\"} 1"),
        "{t}"
    );
    assert!(
        t.contains("madoguchi_http_request_duration_seconds_count{route=\"/v1/messages\"} 2"),
        "{t}"
    );
    assert!(
        t.contains("madoguchi_intents_total{intent=\"incident\"} 1"),
        "{t}"
    );
    assert!(
        t.contains("madoguchi_escalations_total{reason=\"urgent\"} 1"),
        "{t}"
    );
}

#[tokio::test]
async fn mattermost_webhook_checks_the_token_and_answers_in_the_thread() {
    let app = spawn_app().await;
    let form = |token: &str| {
        serde_urlencoded::to_string([
            ("token", token),
            ("channel_id", "mm-ch"),
            ("user_id", "mm-u"),
            ("post_id", "p1"),
            ("text", "#madoguchi 窓口の電話番号は？ @channel"),
            ("trigger_word", "#madoguchi"),
        ])
        .unwrap()
    };
    let res = app
        .client
        .post(app.url("/mattermost/webhook"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url("/mattermost/webhook"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(MATTERMOST_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["response_type"], "comment");
    assert!(v["text"].as_str().unwrap().contains("0120-179-066"), "{v}");
}

#[tokio::test]
async fn graceful_shutdown_still_posts_an_accepted_event() {
    let mut app = spawn_app().await;
    let ev = event_callback(
        "EvLate",
        app_mention("C900", "1700000000.000900", "U9", URGENT),
    );
    assert_eq!(app.post_event(ev).await.status(), 200);
    app.stop().await; // SIGTERM right after the acknowledgement
    let posts = app.slack.posts();
    assert!(
        posts
            .iter()
            .any(|p| p["channel"] == "C900" && p.to_string().contains("0120-179-066")),
        "answer dropped: {posts:#?}"
    );
    assert!(
        posts.iter().any(|p| p["channel"] == STAFF_CHANNEL),
        "escalation post dropped: {posts:#?}"
    );
}

#[tokio::test]
async fn follow_ups_in_our_thread_need_no_mention_but_other_threads_are_left_alone() {
    let mut app = spawn_app().await;
    let root = "1700000000.001000";
    app.post_event(event_callback(
        "EvRoot",
        app_mention("C1000", root, "U10", "支援金はいくらですか"),
    ))
    .await;
    app.slack.wait_for_post("C1000", Some(root)).await;
    let follow = json!({"type": "message", "channel_type": "channel", "user": "U10", "text": "窓口の電話番号は？", "channel": "C1000", "ts": "1700000000.001001", "thread_ts": root});
    assert_eq!(
        app.post_event(event_callback("EvFollow", follow))
            .await
            .status(),
        200
    );
    let other = json!({"type": "message", "channel_type": "channel", "user": "U11", "text": "窓口の電話番号は？", "channel": "C1000", "ts": "1700000000.002001", "thread_ts": "1700000000.002000"});
    assert_eq!(
        app.post_event(event_callback("EvOther", other))
            .await
            .status(),
        200
    );
    app.stop().await;
    let posts = app.slack.posts();
    assert_eq!(
        posts.iter().filter(|p| p["thread_ts"] == root).count(),
        2,
        "{posts:#?}"
    );
    assert!(posts
        .iter()
        .filter(|p| p["thread_ts"] == root)
        .any(|p| p.to_string().contains("0120-179-066")));
    assert!(!posts.iter().any(|p| p["thread_ts"] == "1700000000.002000"));
}

#[tokio::test]
async fn healthz_is_ok_then_unhealthy_when_the_database_file_is_deleted() {
    let mut app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["database"]["writable"], true, "{v}");
    // a stored turn, then the file goes away under the server
    let res = app
        .post_message(json!({"user": "h1", "channel": "web", "text": URGENT}))
        .await;
    let id = res.json::<Value>().await.unwrap()["escalation_id"]
        .as_i64()
        .expect("stored");
    let db = app.dir.path().join("madoguchi.db");
    for sfx in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{sfx}", db.display()));
    }
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "unhealthy", "{v}");
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("madoguchi_db_writable 0"));
    // restored from the still-open file by the recovery task: healthy, nothing lost
    let mut healthy = false;
    for _ in 0..300 {
        if app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healthy, "never healthy again");
    app.stop().await;
    assert!(app
        .service
        .list_escalations(None)
        .await
        .unwrap()
        .iter()
        .any(|e| e.id == id));
}

fn short_limits() -> madoguchi::server::Limits {
    madoguchi::server::Limits {
        header_timeout: std::time::Duration::from_millis(500),
        request_timeout: std::time::Duration::from_millis(800),
        max_connections: 64,
        shutdown_grace: std::time::Duration::from_secs(2),
    }
}

/// Reads until the server closes the connection (bounded by a generous guard).
async fn read_until_closed(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), s.read_to_end(&mut out)).await;
    assert!(r.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn idle_and_slow_header_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let mut app = spawn_app_limited(short_limits()).await;
    // connected, says nothing
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // headers trickling in, never finished
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // a kept-alive connection after one answered request
    let mut kept = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut idle).await;
    read_until_closed(&mut slow).await;
    let answered = read_until_closed(&mut kept).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // still serving
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408_and_the_connection_closed() {
    use tokio::io::AsyncWriteExt;
    let mut app = spawn_app_limited(short_limits()).await;
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
    let out = read_until_closed(&mut s).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains("request_timeout"), "{out}");
    app.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_with_a_half_sent_request_open() {
    use tokio::io::AsyncWriteExt;
    let mut app = spawn_app_limited(madoguchi::server::Limits {
        header_timeout: std::time::Duration::from_secs(60),
        request_timeout: std::time::Duration::from_secs(60),
        ..short_limits()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user\"")
        .await
        .unwrap();
    // bounded by the shutdown grace period, not by the client
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stop())
        .await
        .expect("shutdown finished");
}

#[tokio::test]
async fn socket_mode_acks_every_envelope_answers_once_and_reconnects() {
    let mut app = spawn_app_with(|c| {
        let s = c.slack.as_mut().unwrap();
        s.signing_secret = None;
        s.app_token = Some(madoguchi::config::Secret::new("xapp-test-token"));
    })
    .await;
    app.slack.wait_socket_connections(1).await;
    let open = app
        .slack
        .calls()
        .into_iter()
        .find(|c| c.method == "apps.connections.open")
        .unwrap();
    assert_eq!(open.auth.as_deref(), Some("Bearer xapp-test-token"));
    // no signing secret: no HTTP endpoints
    let res = app
        .post_event(event_callback(
            "EvHttp",
            app_mention("C701", "1.1", "U7", "x"),
        ))
        .await;
    assert_eq!(res.status(), 404);

    // an urgent mention: acknowledged, answered hotline-first in its thread, escalated
    let root = "1700000000.000700";
    let env = json!({"type": "events_api", "envelope_id": "env-1", "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": "",
        "payload": event_callback("EvSock1", app_mention("C700", root, "U7", URGENT))});
    app.slack.socket_send(env.clone());
    app.slack.wait_ack("env-1").await;
    let post = app.slack.wait_for_post("C700", Some(root)).await;
    assert!(post.to_string().contains("0120-179-066"), "{post}");
    app.slack.wait_for_post(STAFF_CHANNEL, None).await;
    // redelivered: acknowledged again, not answered again
    app.slack.socket_send(env);
    app.slack
        .wait_for("a second ack", |_| {
            app.slack
                .acks()
                .iter()
                .filter(|a| a["envelope_id"] == "env-1")
                .count()
                == 2
        })
        .await;

    // the slash command: the envelope's ack carries the ephemeral acknowledgement
    app.slack.socket_send(json!({"type": "slash_commands", "envelope_id": "env-2", "accepts_response_payload": true, "payload": {
        "command": "/madoguchi", "text": "窓口の電話番号は？", "user_id": "U7", "channel_id": "C701", "response_url": app.response_url(), "trigger_id": "tr-1"}}));
    let ack = app.slack.wait_ack("env-2").await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral");
    app.slack
        .wait_for("the command's answer", |calls| {
            calls
                .iter()
                .any(|c| c.method == "response" && c.body.to_string().contains("0120-179-066"))
        })
        .await;

    // a choice button
    app.slack.socket_send(json!({"type": "interactive", "envelope_id": "env-3", "payload": {
        "type": "block_actions", "user": {"id": "U7", "username": "taro"}, "channel": {"id": "C700"},
        "message": {"ts": "1800000000.000009", "thread_ts": root}, "actions": [{"action_id": "choice_0", "value": "支援金はいくらですか"}]}}));
    app.slack.wait_ack("env-3").await;
    app.slack
        .wait_for("the choice's answer", |calls| {
            calls
                .iter()
                .filter(|c| c.body["thread_ts"] == root && c.body["channel"] == "C700")
                .count()
                >= 2
        })
        .await;

    // Slack asks to reconnect; then the socket drops: both times a new connection
    app.slack
        .socket_send(json!({"type": "disconnect", "reason": "refresh_requested"}));
    app.slack.wait_socket_connections(2).await;
    app.slack.socket_drop();
    app.slack.wait_socket_connections(3).await;
    app.slack.socket_send(json!({"type": "events_api", "envelope_id": "env-4", "payload": event_callback("EvSock4", app_mention("C702", "1700000000.000702", "U8", "窓口の電話番号は？"))}));
    app.slack
        .wait_for_post("C702", Some("1700000000.000702"))
        .await;

    app.stop().await;
    let in_thread = app
        .slack
        .posts()
        .into_iter()
        .filter(|p| p["channel"] == "C700" && p["thread_ts"] == root)
        .count();
    assert_eq!(
        in_thread,
        2,
        "the urgent answer once, the choice's answer once: {:#?}",
        app.slack.posts()
    );
    assert_eq!(app.service.list_escalations(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn mattermost_staff_reply_is_posted_through_the_rest_api_under_the_members_post() {
    let mut app = spawn_app_with(|c| {
        let root = c
            .slack
            .as_ref()
            .unwrap()
            .api_base
            .trim_end_matches("/api")
            .to_string();
        let m = c.mattermost.as_mut().unwrap();
        m.bot_token = Some(madoguchi::config::Secret::new("mm-bot-token"));
        m.url = Some(root);
    })
    .await;
    let form = serde_urlencoded::to_string([
        ("token", MATTERMOST_TOKEN),
        ("channel_id", "mm-ch9"),
        ("user_id", "mm-u9"),
        ("post_id", "mm-post-9"),
        ("text", URGENT),
    ])
    .unwrap();
    let res = app
        .client
        .post(app.url("/mattermost/webhook"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["text"].as_str().unwrap().contains("0120-179-066"), "{v}");
    // the escalation reaches the staff channel (Slack's here)
    app.slack.wait_for_post(STAFF_CHANNEL, None).await;
    let id = loop_until_staff_ref(&app).await;
    app.service
        .staff_reply(
            id,
            "slack:USTAFF",
            "事務局の鈴木です。@channel すぐにお電話します。",
        )
        .await
        .unwrap();
    let calls = app
        .slack
        .wait_for("the Mattermost post", |calls| {
            calls.iter().any(|c| c.method == "mattermost.posts")
        })
        .await;
    let post = calls
        .into_iter()
        .find(|c| c.method == "mattermost.posts")
        .unwrap();
    assert_eq!(post.auth.as_deref(), Some("Bearer mm-bot-token"));
    assert_eq!(post.body["channel_id"], "mm-ch9");
    assert_eq!(post.body["root_id"], "mm-post-9");
    let message = post.body["message"].as_str().unwrap();
    assert!(
        message.contains("事務局の鈴木です") && !message.contains("@channel"),
        "{message}"
    );

    // a member writing inside a thread: the reply goes to that thread's root
    let form = serde_urlencoded::to_string([
        ("token", MATTERMOST_TOKEN),
        ("channel_id", "mm-ch10"),
        ("user_id", "mm-u10"),
        ("post_id", "mm-reply-10"),
        ("text", URGENT),
    ])
    .unwrap();
    let res = app
        .client
        .post(app.url("/mattermost/webhook"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id2 = loop {
        let all = app.service.list_escalations(None).await.unwrap();
        if let Some(e) = all
            .iter()
            .find(|e| e.user == "mm-u10" && e.staff_ref.is_some())
        {
            break e.id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    app.service
        .staff_reply(id2, "slack:USTAFF", "折り返します。")
        .await
        .unwrap();
    let calls = app
        .slack
        .wait_for("the threaded Mattermost post", |calls| {
            calls
                .iter()
                .any(|c| c.method == "mattermost.posts" && c.body["channel_id"] == "mm-ch10")
        })
        .await;
    let post = calls
        .into_iter()
        .find(|c| c.method == "mattermost.posts" && c.body["channel_id"] == "mm-ch10")
        .unwrap();
    assert_eq!(post.body["root_id"], "mm-root", "{:?}", post.body);
    app.stop().await;
}

#[tokio::test]
async fn mattermost_without_a_bot_token_hands_staff_replies_out_with_the_next_answer() {
    let mut app = spawn_app().await;
    let form = |text: &str| {
        serde_urlencoded::to_string([
            ("token", MATTERMOST_TOKEN),
            ("channel_id", "mm-ch8"),
            ("user_id", "mm-u8"),
            ("post_id", "p8"),
            ("text", text),
        ])
        .unwrap()
    };
    let post = |text: &str| {
        app.client
            .post(app.url("/mattermost/webhook"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(text))
            .send()
    };
    assert_eq!(post(URGENT).await.unwrap().status(), 200);
    app.slack.wait_for_post(STAFF_CHANNEL, None).await;
    let id = loop_until_staff_ref(&app).await;
    app.service
        .staff_reply(id, "slack:USTAFF", "事務局の鈴木です。")
        .await
        .unwrap();
    let v: Value = post("まだですか").await.unwrap().json().await.unwrap();
    assert!(
        v["text"].as_str().unwrap().contains("事務局の鈴木です"),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_on_one_postgres_answer_a_slack_retry_once_and_deliver_a_staff_reply_once() {
    let Some(pg) = support::pg::PgDb::create().await else {
        return;
    };
    let mock = spawn_mock().await;
    let store = || Some(madoguchi::service::StoreConfig::url(pg.url()));
    let limits = madoguchi::server::Limits::default;
    let mut a = spawn_app_on(store(), mock.clone(), |_| {}, limits()).await;
    let mut b = spawn_app_on(store(), mock.clone(), |_| {}, limits()).await;
    let root = "1700000000.003000";
    let ev = event_callback("EvReplica", app_mention("C3000", root, "U30", URGENT));
    assert_eq!(a.post_event(ev.clone()).await.status(), 200);
    // Slack retries the same event; the load balancer sends it to the other replica
    let res = b
        .post_slack(
            "/slack/events",
            &ev.to_string(),
            "application/json",
            0,
            &[
                ("x-slack-retry-num", "1"),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    a.slack.wait_for_post("C3000", Some(root)).await;
    a.slack.wait_for_post(STAFF_CHANNEL, None).await;
    let id = loop_until_staff_ref(&a).await;
    // a staff reply queued once: both replicas' staff loops look at the outbox
    a.service
        .staff_reply(id, "slack:USTAFF", "事務局の鈴木です。お電話します。")
        .await
        .unwrap();
    a.slack
        .wait_for("the staff reply", |calls| {
            calls
                .iter()
                .any(|c| c.body.to_string().contains("事務局の鈴木です"))
        })
        .await;
    a.stop().await;
    b.stop().await;
    let posts = a.slack.posts();
    let in_thread: Vec<&Value> = posts
        .iter()
        .filter(|p| p["channel"] == "C3000" && p["thread_ts"] == root)
        .collect();
    assert_eq!(
        in_thread.len(),
        2,
        "one answer and one staff reply: {in_thread:#?}"
    );
    assert_eq!(
        in_thread
            .iter()
            .filter(|p| p.to_string().contains("事務局の鈴木です"))
            .count(),
        1
    );
    assert_eq!(
        posts
            .iter()
            .filter(|p| p["channel"] == STAFF_CHANNEL && p.get("thread_ts").is_none())
            .count(),
        1,
        "one escalation post: {posts:#?}"
    );
    assert_eq!(a.service.list_escalations(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_members_answer_survives_a_slack_outage_of_several_seconds() {
    let mut app = spawn_app().await;
    // Slack answers 503 to the next five posts: more than the client's quick retries
    app.slack
        .fail_posts
        .store(5, std::sync::atomic::Ordering::SeqCst);
    let root = "1700000000.004000";
    assert_eq!(
        app.post_event(event_callback(
            "EvOutage",
            app_mention("C4000", root, "U40", URGENT)
        ))
        .await
        .status(),
        200
    );
    let post = app.slack.wait_for_post("C4000", Some(root)).await;
    assert!(post.to_string().contains("0120-179-066"), "{post}");
    app.stop().await;
    assert!(
        app.slack
            .calls()
            .iter()
            .filter(|c| c.method == "failed.chat.postMessage")
            .count()
            >= 4
    );
    let e = &app.service.list_escalations(None).await.unwrap()[0];
    assert_eq!(
        app.service.store().member_unreached_at(e.id).await.unwrap(),
        None,
        "the member was reached"
    );
}

#[tokio::test]
async fn a_member_not_reached_is_recorded_on_the_escalation() {
    let app = spawn_app().await;
    let res = app
        .post_message(json!({"user": "nr1", "channel": "web", "text": URGENT}))
        .await;
    let id = res.json::<Value>().await.unwrap()["escalation_id"]
        .as_i64()
        .expect("stored");
    let e = app.service.escalation(id).await.unwrap().unwrap().0;
    let store = app.service.store();
    assert_eq!(
        store
            .mark_member_unreached(e.channel, &e.user, &e.conversation)
            .await
            .unwrap(),
        Some(id)
    );
    assert!(store.member_unreached_at(id).await.unwrap().is_some());
}

#[tokio::test]
async fn staff_notices_show_slack_display_names_not_user_ids() {
    let mut app = spawn_app().await;
    app.post_event(event_callback(
        "EvNames",
        app_mention("C4100", "1700000000.004100", "U41", URGENT),
    ))
    .await;
    app.slack.wait_for_post(STAFF_CHANNEL, None).await;
    let id = loop_until_staff_ref(&app).await;
    let (e, _) = app.service.escalation(id).await.unwrap().unwrap();
    let ts = e
        .staff_ref
        .unwrap()
        .trim_start_matches("slack:")
        .to_string();
    let reply = json!({"type": "message", "channel_type": "channel", "user": "USTAFF", "text": "お電話します。", "channel": STAFF_CHANNEL, "ts": "1800000002.000001", "thread_ts": ts});
    app.post_event(event_callback("EvNamesReply", reply)).await;
    app.slack
        .wait_for("the relay notice", |calls| {
            calls
                .iter()
                .any(|c| c.body.to_string().contains("鈴木 さんの返信を"))
        })
        .await;
    // someone else tries to claim: told who has it by name
    let payload = json!({"type": "block_actions", "user": {"id": "UOTHER", "username": "tanaka"}, "channel": {"id": STAFF_CHANNEL},
        "message": {"ts": ts}, "actions": [{"action_id": "staff_claim", "value": id.to_string()}]});
    let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    app.post_slack(
        "/slack/interactions",
        &form,
        "application/x-www-form-urlencoded",
        0,
        &[],
    )
    .await;
    let calls = app
        .slack
        .wait_for("the refusal", |calls| {
            calls
                .iter()
                .any(|c| c.body.to_string().contains("担当にできませんでした"))
        })
        .await;
    let refusal = calls
        .iter()
        .find(|c| c.body.to_string().contains("担当にできませんでした"))
        .unwrap()
        .body
        .to_string();
    assert!(
        refusal.contains("鈴木") && !refusal.contains("USTAFF"),
        "{refusal}"
    );
    app.stop().await;
    let lookups = app
        .slack
        .calls()
        .iter()
        .filter(|c| c.method == "users.info" && c.body["user"] == "USTAFF")
        .count();
    assert_eq!(lookups, 1, "display names are cached");
}

#[tokio::test]
async fn a_replayed_signed_slash_command_is_answered_once() {
    let mut app = spawn_app().await;
    let form = serde_urlencoded::to_string([
        ("command", "/madoguchi"),
        ("text", "窓口の電話番号は？"),
        ("user_id", "U8"),
        ("channel_id", "C800"),
        ("response_url", &app.response_url()),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
    ])
    .unwrap();
    for _ in 0..2 {
        let res = app
            .post_slack(
                "/slack/commands",
                &form,
                "application/x-www-form-urlencoded",
                0,
                &[],
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    app.stop().await;
    assert_eq!(
        app.slack
            .calls()
            .iter()
            .filter(|c| c.method == "response")
            .count(),
        1,
        "{:#?}",
        app.slack.calls()
    );
}

/// Two processes' stores claiming the same outbox at once never get the same item.
async fn outbox_claims_are_disjoint(cfg: madoguchi::service::StoreConfig) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg;
    cfg.spool_path = Some(dir.path().join("spool.jsonl"));
    let svc = madoguchi::service::Service::build(bot(), cfg.clone(), clock())
        .await
        .unwrap();
    let o = svc
        .handle(madoguchi::channels::Inbound {
            channel: madoguchi::channels::ChannelKind::Slack,
            user: "Uc".into(),
            conversation: "C1/1.1".into(),
            text: URGENT.into(),
        })
        .await;
    let id = o.escalation_id.expect("stored");
    for i in 0..30 {
        svc.staff_reply(id, "slack:US", &format!("返信 {i}"))
            .await
            .unwrap();
    }
    let other = madoguchi::store::Store::connect(&cfg).await.unwrap();
    let lease = std::time::Duration::from_secs(60);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    loop {
        let (x, y) = tokio::join!(
            svc.store()
                .claim_undelivered(madoguchi::channels::ChannelKind::Slack, lease),
            other.claim_undelivered(madoguchi::channels::ChannelKind::Slack, lease)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        a.extend(x.into_iter().map(|i| i.id));
        b.extend(y.into_iter().map(|i| i.id));
    }
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(n, 30, "every item claimed once: a={a:?} b={b:?}");
    assert_eq!(all.len(), 30);
    // leased: nothing left to claim until released; a released item comes back
    assert!(other
        .claim_undelivered(madoguchi::channels::ChannelKind::Slack, lease)
        .await
        .unwrap()
        .is_empty());
    other.release_outbox(all[0]).await.unwrap();
    assert_eq!(
        svc.store()
            .claim_undelivered(madoguchi::channels::ChannelKind::Slack, lease)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        vec![all[0]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_claims_are_disjoint_on_postgres() {
    let Some(pg) = support::pg::PgDb::create().await else {
        return;
    };
    outbox_claims_are_disjoint(madoguchi::service::StoreConfig::url(pg.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_claims_are_disjoint_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    outbox_claims_are_disjoint(madoguchi::service::StoreConfig::sqlite(
        dir.path().join("m.db"),
    ))
    .await;
}

// ---- staff identities: display names with contact details, linked accounts ----------

/// A member's urgent mention from Slack user `user`, escalated and posted to the staff
/// channel: the escalation's id and the ts of its staff post.
async fn slack_escalation(app: &TestApp, event_id: &str, user: &str, ts: &str) -> (i64, String) {
    let channel = format!("C{user}");
    app.post_event(event_callback(
        event_id,
        app_mention(&channel, ts, user, URGENT),
    ))
    .await;
    for _ in 0..200 {
        if let Some(e) = app
            .service
            .list_escalations(None)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.user == user && e.staff_ref.is_some())
        {
            let post_ts = e
                .staff_ref
                .unwrap()
                .trim_start_matches("slack:")
                .to_string();
            return (e.id, post_ts);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{user}'s escalation was never posted to the staff channel");
}

/// Staff `user` answers in the escalation post's thread (the reply's own ts is `ts`).
async fn slack_thread_reply(
    app: &TestApp,
    event_id: &str,
    ts: &str,
    user: &str,
    post_ts: &str,
    text: &str,
) {
    let reply = json!({"type": "message", "channel_type": "channel", "user": user, "text": text,
        "channel": STAFF_CHANNEL, "ts": ts, "thread_ts": post_ts});
    assert_eq!(
        app.post_event(event_callback(event_id, reply))
            .await
            .status(),
        200
    );
}

async fn wait_posted(app: &TestApp, what: &str, needle: &str) {
    app.slack
        .wait_for(what, |calls| {
            calls.iter().any(|c| c.body.to_string().contains(needle))
        })
        .await;
}

#[tokio::test]
async fn e_mail_addresses_and_phone_numbers_in_staff_names_reach_no_table_and_no_staff_post() {
    let mut app = spawn_app().await;
    let (id, post_ts) = slack_escalation(&app, "EvContact", "U51", "1700000000.005100").await;
    // UCONTACT's Slack display name holds an e-mail address and a phone number; the
    // button payload's user name holds another address
    app.press_staff_button("UCONTACT", "yamada@example.jp", "staff_claim", id, &post_ts)
        .await;
    wait_posted(&app, "the claim notice", "さんが担当します").await;
    slack_thread_reply(
        &app,
        "EvContactReply",
        "1800000009.000051",
        "UCONTACT",
        &post_ts,
        "お電話します。",
    )
    .await;
    wait_posted(&app, "the relay notice", "さんの返信を").await;
    // someone else tries to claim: the refusal names the assignee
    app.press_staff_button("UOTHER", "tanaka", "staff_claim", id, &post_ts)
        .await;
    wait_posted(&app, "the refusal", "担当にできませんでした").await;
    // a user Slack tells nothing about, whose user name is a phone number, resolves
    app.press_staff_button("UNOINFO", "090-8765-4321", "staff_resolve", id, &post_ts)
        .await;
    wait_posted(&app, "the resolve notice", "さんが解決済みにしました").await;
    app.slack
        .wait_for("the staff reply to the member", |calls| {
            calls
                .iter()
                .any(|c| c.body["channel"] == "CU51" && c.body.to_string().contains("お電話します"))
        })
        .await;
    app.stop().await;

    let posted = all_posted_text(&app);
    let stored = app.service.store().all_text().await.unwrap().join("\n");
    for (place, text) in [("a staff post", &posted), ("a table", &stored)] {
        for secret in [
            "yamada@",
            "example.jp",
            "090-1234-5678",
            "1234-5678",
            "8765-4321",
        ] {
            assert!(!text.contains(secret), "{secret} in {place}:\n{text}");
        }
        let digits = madoguchi::redact::digits_of(text);
        for secret in ["09012345678", "09087654321"] {
            assert!(!digits.contains(secret), "{secret} in {place}");
        }
    }
    // the names themselves are still shown to staff, with the contact details replaced
    let pseudonym = madoguchi::redact::display_name(CONTACT_DISPLAY_NAME);
    assert!(
        pseudonym.starts_with("山田 [メール] [電話番号]#"),
        "{pseudonym}"
    );
    assert!(
        posted.contains(&format!("#{id} は {pseudonym} さんが担当します")),
        "{posted}"
    );
    assert!(
        posted.contains(&format!("{pseudonym} さんの返信を")),
        "{posted}"
    );
    assert!(
        posted.contains(&format!("既に {pseudonym} さんが対応中です")),
        "{posted}"
    );
    assert!(
        posted.contains(&format!(
            "#{id} は {} さんが解決済みにしました",
            madoguchi::redact::display_name("090-8765-4321")
        )),
        "{posted}"
    );
}

#[tokio::test]
async fn slack_staff_actions_are_recorded_under_the_linked_account() {
    use madoguchi::accounts::{Accounts, StaffRole};
    let mut app = spawn_app().await;
    let accounts = Accounts::new(app.service.store().clone());
    let now = clock().now();
    accounts
        .add_account("suzuki", StaffRole::Staff, "a-long-password-1", now)
        .await
        .unwrap();
    accounts.link("suzuki", "slack:USTAFF", now).await.unwrap();

    // the linked Slack user claims, replies and resolves
    let (linked, post_ts) = slack_escalation(&app, "EvLinked", "U61", "1700000000.006100").await;
    app.press_staff_button("USTAFF", "suzuki", "staff_claim", linked, &post_ts)
        .await;
    wait_posted(
        &app,
        "the claim notice",
        &format!("#{linked} は 鈴木 さんが担当します"),
    )
    .await;
    slack_thread_reply(
        &app,
        "EvLinkedReply",
        "1800000009.000061",
        "USTAFF",
        &post_ts,
        "事務局の鈴木です。",
    )
    .await;
    wait_posted(&app, "the relay notice", &format!("#{linked} の利用者へ")).await;
    app.press_staff_button("USTAFF", "suzuki", "staff_resolve", linked, &post_ts)
        .await;
    wait_posted(
        &app,
        "the resolve notice",
        &format!("#{linked} は 鈴木 さんが解決済み"),
    )
    .await;

    // an unlinked Slack user works as before, under the Slack id
    let (unlinked, post_ts2) =
        slack_escalation(&app, "EvUnlinked", "U62", "1700000000.006200").await;
    app.press_staff_button("UOTHER", "tanaka", "staff_claim", unlinked, &post_ts2)
        .await;
    wait_posted(
        &app,
        "the second claim notice",
        &format!("#{unlinked} は tanaka さんが担当します"),
    )
    .await;
    slack_thread_reply(
        &app,
        "EvUnlinkedReply",
        "1800000009.000062",
        "UOTHER",
        &post_ts2,
        "お電話します。",
    )
    .await;
    wait_posted(
        &app,
        "the second relay notice",
        &format!("#{unlinked} の利用者へ"),
    )
    .await;
    app.stop().await;

    let audit = app.audit_log().await;
    let actions = |id: i64| -> Vec<(String, String)> {
        audit
            .iter()
            .filter(|(e, _, a)| *e == Some(id) && a != "staff_ref")
            .map(|(_, actor, a)| (actor.clone(), a.clone()))
            .collect()
    };
    let of = |actor: &str, acts: &[&str]| -> Vec<(String, String)> {
        acts.iter()
            .map(|a| (actor.to_string(), a.to_string()))
            .collect()
    };
    assert_eq!(
        actions(linked),
        of("suzuki", &["claim", "reply", "resolve"]),
        "{audit:?}"
    );
    assert_eq!(
        actions(unlinked),
        of("slack:UOTHER", &["claim", "reply"]),
        "{audit:?}"
    );

    let (e, transcript) = app.service.escalation(linked).await.unwrap().unwrap();
    assert_eq!(e.assignee.as_deref(), Some("suzuki"));
    let staff_line = transcript
        .iter()
        .find(|l| l.text.contains("事務局の鈴木です"))
        .expect("the staff reply is in the conversation");
    assert_eq!(staff_line.author.as_deref(), Some("suzuki"));
    let (e2, transcript2) = app.service.escalation(unlinked).await.unwrap().unwrap();
    assert_eq!(e2.assignee.as_deref(), Some("slack:UOTHER"));
    assert!(transcript2
        .iter()
        .any(|l| l.author.as_deref() == Some("slack:UOTHER")));
}
