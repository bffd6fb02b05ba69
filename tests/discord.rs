//! Discord end to end: the real server with serenity's gateway client pointed at a
//! mock Discord (REST + WebSocket gateway, see tests/support/discord.rs) through
//! `DISCORD_API_BASE`.

mod support;

use madoguchi::config::{DiscordConfig, Secret};
use serde_json::{json, Value};
use support::discord::*;
use support::*;

const URGENT: &str =
    "ランサムウェアに感染しました。いま画面に脅迫文が出ていて電子カルテが開けません";
const MEMBER: u64 = 123;
const STAFF_USER: u64 = 777;

async fn spawn_with_discord() -> (TestApp, MockDiscord) {
    let mock = MockDiscord::start().await;
    let base = mock.base.clone();
    let app = spawn_app_with(move |c| {
        c.slack = None;
        c.discord = Some(DiscordConfig {
            token: Secret::new(DISCORD_TOKEN),
            staff_channel_id: Some(STAFF_CHANNEL_ID),
            channel_ids: vec![],
            guild_id: None,
            api_base: Some(base),
        });
    })
    .await;
    // connected: IDENTIFY sent with the token, READY handled (the command is registered)
    let identify = mock.wait_op(2, 1).await;
    assert_eq!(identify[0]["d"]["token"], format!("Bot {DISCORD_TOKEN}"));
    mock.wait_call("the slash command registration", |c| {
        c.method == "PUT" && c.path.ends_with("commands")
    })
    .await;
    (app, mock)
}

fn member() -> Value {
    user(MEMBER, "taro", false)
}

fn mention(id: u64, channel: u64, text: &str) -> Value {
    message(
        id,
        channel,
        Some(GUILD_ID),
        member(),
        &format!("<@{BOT_ID}> {text}"),
        vec![user(BOT_ID, "madoguchi", true)],
    )
}

/// Every message the bot sent or edited carries empty allowed mentions.
fn assert_no_pings(mock: &MockDiscord) {
    let mut checked = 0;
    for c in mock.calls() {
        let sends = (c.method == "POST"
            && (c.path.ends_with("/messages") || c.path.starts_with("webhooks/")))
            || (c.method == "PATCH" && c.path.starts_with("webhooks/"));
        let callback_with_message =
            c.path.ends_with("/callback") && c.body["data"]["content"].is_string();
        if sends {
            assert_eq!(c.body["allowed_mentions"]["parse"], json!([]), "{c:?}");
            checked += 1;
        }
        if callback_with_message {
            assert_eq!(
                c.body["data"]["allowed_mentions"]["parse"],
                json!([]),
                "{c:?}"
            );
        }
    }
    assert!(checked > 0);
}

#[tokio::test]
async fn discord_end_to_end_against_a_mock_gateway() {
    let (mut app, mock) = spawn_with_discord().await;
    assert!(mock.calls().iter().all(|c| c.auth.as_deref()
        == Some(&format!("Bot {DISCORD_TOKEN}"))
        || c.path.starts_with("webhooks/")
        || c.path.starts_with("interactions/")));

    // a mention in a guild channel: a thread on the message, the answer in it
    mock.dispatch(
        "MESSAGE_CREATE",
        mention(2001, MEMBER_CHANNEL, "窓口の電話番号を教えてください"),
    );
    mock.wait_call("a thread on the mention", |c| {
        c.method == "POST" && c.path == format!("channels/{MEMBER_CHANNEL}/messages/2001/threads")
    })
    .await;
    let answer = mock.wait_posts_in(2001, 1).await;
    assert!(
        answer[0]["content"]
            .as_str()
            .unwrap()
            .contains("0120-179-066"),
        "{answer:?}"
    );

    // a follow-up in that thread needs no mention
    mock.dispatch(
        "MESSAGE_CREATE",
        message(2003, 2001, Some(GUILD_ID), member(), "受付時間は？", vec![]),
    );
    mock.wait_posts_in(2001, 2).await;

    // a DM
    mock.dispatch(
        "MESSAGE_CREATE",
        message(2004, 3001, None, member(), "支援金はいくらですか", vec![]),
    );
    let dm = mock.wait_posts_in(3001, 1).await;
    assert!(!dm[0]["content"].as_str().unwrap().is_empty());

    // an urgent message: hotline first in the member's thread, escalation in the staff channel
    mock.dispatch("MESSAGE_CREATE", mention(2002, MEMBER_CHANNEL, URGENT));
    let urgent = mock.wait_posts_in(2002, 1).await;
    let first = urgent[0]["content"].as_str().unwrap();
    let hotline_at = first
        .find("0120-179-066")
        .expect("the hotline in the first message");
    assert!(
        first[..hotline_at].chars().count() < 200,
        "the hotline comes first: {first}"
    );
    let staff_post = mock.wait_posts_in(STAFF_CHANNEL_ID, 1).await.remove(0);
    let ids: Vec<String> = staff_post["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ids[0].starts_with("mg:claim:") && ids[1].starts_with("mg:resolve:"),
        "{ids:?}"
    );
    let esc_id: i64 = ids[0].trim_start_matches("mg:claim:").parse().unwrap();
    // the staff post's thread (Discord gives it the post's id)
    let thread_call = mock
        .wait_call("the escalation thread", |c| {
            c.method == "POST"
                && c.path
                    .starts_with(&format!("channels/{STAFF_CHANNEL_ID}/messages/"))
                && c.path.ends_with("/threads")
        })
        .await;
    let staff_thread: u64 = thread_call.path.split('/').nth(3).unwrap().parse().unwrap();

    // a staff member presses Claim
    let staff_msg = message(
        staff_thread,
        STAFF_CHANNEL_ID,
        Some(GUILD_ID),
        user(BOT_ID, "madoguchi", true),
        "",
        vec![],
    );
    mock.dispatch(
        "INTERACTION_CREATE",
        button_press(
            7001,
            STAFF_CHANNEL_ID,
            user(STAFF_USER, "hanako", false),
            &ids[0],
            staff_msg,
        ),
    );
    let cb = mock
        .wait_call("the Claim answer", |c| {
            c.path == "interactions/7001/tok-7001/callback"
        })
        .await;
    assert_eq!(cb.body["type"], 4, "{cb:?}");
    assert!(cb.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains(&format!("#{esc_id}")));

    // the staff member replies in the escalation's thread: delivered to the member's thread
    mock.dispatch(
        "MESSAGE_CREATE",
        message(
            2005,
            staff_thread,
            Some(GUILD_ID),
            user(STAFF_USER, "hanako", false),
            "担当の者です。これからお電話します。",
            vec![],
        ),
    );
    let delivered = mock.wait_posts_in(2002, 2).await;
    let text = delivered[1]["content"].as_str().unwrap();
    assert!(
        text.contains("事務局の担当者より") && text.contains("これからお電話します"),
        "{text}"
    );

    // the slash command: deferred (ephemeral), then the answer edited in
    mock.dispatch(
        "INTERACTION_CREATE",
        slash_command(7002, MEMBER_CHANNEL, member(), "支援金の対象は？"),
    );
    let defer = mock
        .wait_call("the deferral", |c| {
            c.path == "interactions/7002/tok-7002/callback"
        })
        .await;
    assert_eq!(defer.body["type"], 5, "{defer:?}");
    let edit = mock
        .wait_call("the follow-up", |c| {
            c.method == "PATCH"
                && c.path == format!("webhooks/{APP_ID}/tok-7002/messages/@original")
        })
        .await;
    assert!(!edit.body["content"].as_str().unwrap().is_empty());

    // a choice button in the member's thread is the member's next message
    let bot_msg = message(
        2006,
        2001,
        Some(GUILD_ID),
        user(BOT_ID, "madoguchi", true),
        "x",
        vec![],
    );
    let before = mock.posts_in(2001).len();
    mock.dispatch(
        "INTERACTION_CREATE",
        button_press(7003, 2001, member(), "mg:c:窓口の電話番号は？", bot_msg),
    );
    let ack = mock
        .wait_call("the button acknowledgement", |c| {
            c.path == "interactions/7003/tok-7003/callback"
        })
        .await;
    assert_eq!(ack.body["type"], 6);
    mock.wait_posts_in(2001, before + 1).await;

    // the gateway drops the connection: the bot resumes the same session and keeps answering
    mock.drop_connection();
    let resume = mock.wait_op(6, 1).await;
    assert_eq!(resume[0]["d"]["session_id"], SESSION_ID);
    assert_eq!(resume[0]["d"]["token"], format!("Bot {DISCORD_TOKEN}"));
    assert_eq!(mock.connections(), 2);
    mock.dispatch(
        "MESSAGE_CREATE",
        message(2007, 3002, None, member(), "支援金はいくらですか", vec![]),
    );
    mock.wait_posts_in(3002, 1).await;
    assert_eq!(
        mock.ops().iter().filter(|o| o["op"] == 2).count(),
        1,
        "resumed, not identified again"
    );
    // heartbeats (op 1) come every heartbeat_interval (1 s) with serenity's jitter: wait
    // for one instead of asserting at an instant a fast run may reach first
    assert!(!mock.wait_op(1, 1).await.is_empty(), "heartbeats were sent");

    app.stop().await;
    assert_no_pings(&mock);
    let esc = app.service.escalation(esc_id).await.unwrap().unwrap().0;
    assert_eq!(esc.channel.as_str(), "discord");
    assert_eq!(
        esc.staff_ref.as_deref(),
        Some(format!("discord:{staff_thread}").as_str())
    );
    assert_eq!(esc.status.as_str(), "claimed");
}

#[tokio::test]
async fn one_replica_runs_the_gateway_and_another_takes_over_when_it_stops() {
    let Some(pg) = support::pg::PgDb::create().await else {
        return;
    };
    let discord = MockDiscord::start_bot_gateway_only().await;
    let slack = spawn_mock().await;
    let tweak = |base: String| {
        move |c: &mut madoguchi::config::Config| {
            c.slack = None;
            c.discord = Some(DiscordConfig {
                token: Secret::new(DISCORD_TOKEN),
                staff_channel_id: Some(STAFF_CHANNEL_ID),
                channel_ids: vec![],
                guild_id: None,
                api_base: Some(base),
            });
        }
    };
    let store = || Some(madoguchi::service::StoreConfig::url(pg.url()));
    let mut a = spawn_app_on(
        store(),
        slack.clone(),
        tweak(discord.base.clone()),
        madoguchi::server::Limits::default(),
    )
    .await;
    discord.wait_op(2, 1).await;
    let mut b = spawn_app_on(
        store(),
        slack.clone(),
        tweak(discord.base.clone()),
        madoguchi::server::Limits::default(),
    )
    .await;
    // b answers HTTP but cannot run the gateway while a holds the lock
    assert_eq!(
        b.client
            .get(b.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(discord.connections(), 1);
    a.stop().await;
    // b takes over: a second IDENTIFY, and it answers
    discord.wait_op(2, 2).await;
    discord
        .wait_call("b's READY handled", |c| {
            c.method == "PUT" && c.path.ends_with("commands") && c.auth.is_some()
        })
        .await;
    for _ in 0..300 {
        if discord
            .calls()
            .iter()
            .filter(|c| c.method == "PUT" && c.path.ends_with("commands"))
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    discord.dispatch(
        "MESSAGE_CREATE",
        message(4001, 3101, None, member(), "支援金はいくらですか", vec![]),
    );
    discord.wait_posts_in(3101, 1).await;
    // a mention given only as the token in the text (no mentions list)
    discord.dispatch(
        "MESSAGE_CREATE",
        message(
            4002,
            MEMBER_CHANNEL,
            Some(GUILD_ID),
            member(),
            &format!("<@{BOT_ID}> 窓口の電話番号は？"),
            vec![],
        ),
    );
    let answer = discord.wait_posts_in(4002, 1).await;
    assert!(
        answer[0]["content"]
            .as_str()
            .unwrap()
            .contains("0120-179-066"),
        "{answer:?}"
    );
    b.stop().await;
}

#[tokio::test]
async fn discord_staff_act_under_their_linked_account_and_phone_numbers_in_names_are_hidden() {
    use madoguchi::accounts::{Accounts, StaffRole};
    let (mut app, mock) = spawn_with_discord().await;
    let accounts = Accounts::new(app.service.store().clone());
    let now = clock().now();
    accounts
        .add_account("hanako", StaffRole::Staff, "a-long-password-1", now)
        .await
        .unwrap();
    accounts
        .link("hanako", &format!("discord:{STAFF_USER}"), now)
        .await
        .unwrap();
    // the staff member's Discord user name holds a phone number
    let staff = || user(STAFF_USER, "hanako 090-1234-5678", false);

    mock.dispatch("MESSAGE_CREATE", mention(2102, MEMBER_CHANNEL, URGENT));
    let staff_post = mock.wait_posts_in(STAFF_CHANNEL_ID, 1).await.remove(0);
    let ids: Vec<String> = staff_post["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap().to_string())
        .collect();
    let esc_id: i64 = ids[0].trim_start_matches("mg:claim:").parse().unwrap();
    let thread_call = mock
        .wait_call("the escalation thread", |c| {
            c.method == "POST"
                && c.path
                    .starts_with(&format!("channels/{STAFF_CHANNEL_ID}/messages/"))
                && c.path.ends_with("/threads")
        })
        .await;
    let staff_thread: u64 = thread_call.path.split('/').nth(3).unwrap().parse().unwrap();
    let staff_msg = || {
        message(
            staff_thread,
            STAFF_CHANNEL_ID,
            Some(GUILD_ID),
            user(BOT_ID, "madoguchi", true),
            "",
            vec![],
        )
    };

    // claim, reply in the thread, resolve
    mock.dispatch(
        "INTERACTION_CREATE",
        button_press(7101, STAFF_CHANNEL_ID, staff(), &ids[0], staff_msg()),
    );
    let claimed = mock
        .wait_call("the Claim answer", |c| {
            c.path == "interactions/7101/tok-7101/callback"
        })
        .await;
    let shown = madoguchi::redact::display_name("hanako 090-1234-5678");
    assert!(shown.starts_with("hanako [電話番号]#"), "{shown}");
    assert_eq!(
        claimed.body["data"]["content"],
        format!("#{esc_id} は {shown} さんが担当します。スレッドへの返信が利用者に届きます。")
    );
    mock.dispatch(
        "MESSAGE_CREATE",
        message(
            2105,
            staff_thread,
            Some(GUILD_ID),
            staff(),
            "担当の者です。これからお電話します。",
            vec![],
        ),
    );
    let delivered = mock.wait_posts_in(2102, 2).await;
    assert!(delivered[1]["content"]
        .as_str()
        .unwrap()
        .contains("これからお電話します"));
    mock.dispatch(
        "INTERACTION_CREATE",
        button_press(7102, STAFF_CHANNEL_ID, staff(), &ids[1], staff_msg()),
    );
    let resolved = mock
        .wait_call("the Resolve answer", |c| {
            c.path == "interactions/7102/tok-7102/callback"
        })
        .await;
    assert_eq!(
        resolved.body["data"]["content"],
        format!("#{esc_id} は {shown} さんが解決済みにしました。")
    );
    app.stop().await;

    let actions: Vec<(String, String)> = app
        .audit_log()
        .await
        .into_iter()
        .filter(|(e, _, a)| *e == Some(esc_id) && a != "staff_ref")
        .map(|(_, actor, a)| (actor, a))
        .collect();
    assert_eq!(
        actions,
        [
            ("hanako", "claim"),
            ("hanako", "reply"),
            ("hanako", "resolve")
        ]
        .map(|(w, a)| (w.to_string(), a.to_string())),
    );
    let (e, transcript) = app.service.escalation(esc_id).await.unwrap().unwrap();
    assert_eq!(e.assignee.as_deref(), Some("hanako"));
    assert!(transcript
        .iter()
        .any(|l| l.author.as_deref() == Some("hanako") && l.text.contains("お電話します")));
    let stored = app.service.store().all_text().await.unwrap().join("\n");
    let sent: String = mock.calls().iter().map(|c| c.body.to_string()).collect();
    for text in [&stored, &sent] {
        assert!(!text.contains("1234-5678"), "{text}");
    }
}
