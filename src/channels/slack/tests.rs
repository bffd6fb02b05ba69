//! Unit tests of the Slack mappings (no network).

use super::*;
use crate::channels::{ChannelKind, Inbound};
use crate::config::Secret;
use crate::core::label::Label;
use crate::core::turn::Reply;
use crate::core::turn::{Choice, ReplyKind};
use axum::http::HeaderMap;
use serde_json::{json, Value};

fn headers(ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-slack-request-timestamp", ts.parse().unwrap());
    h.insert("x-slack-signature", sig.parse().unwrap());
    h
}

#[test]
fn signature_matches_slacks_documented_example() {
    // the worked example from Slack's "Verifying requests from Slack" page
    let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let ts = "1531420618";
    assert_eq!(
        sign(&secret, ts, body),
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    );
    assert_eq!(
        verify(
            &secret,
            &headers(ts, &sign(&secret, ts, body)),
            body,
            1531420618 + 10
        ),
        Ok(())
    );
}

#[test]
fn forged_stale_and_missing_signatures_are_rejected() {
    let secret = Secret::new("s3cret");
    let body = br#"{"type":"url_verification","challenge":"x"}"#;
    let now = 1_700_000_000;
    let ts = now.to_string();
    let good = sign(&secret, &ts, body);
    assert_eq!(verify(&secret, &headers(&ts, &good), body, now), Ok(()));
    assert_eq!(
        verify(&Secret::new("other"), &headers(&ts, &good), body, now),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(
            &secret,
            &headers(&ts, &good),
            b"{\"type\":\"tampered\"}",
            now
        ),
        Err(SignatureError::Mismatch)
    );
    let old = (now - 301).to_string();
    assert_eq!(
        verify(
            &secret,
            &headers(&old, &sign(&secret, &old, body)),
            body,
            now
        ),
        Err(SignatureError::Stale)
    );
    let future = (now + 301).to_string();
    assert_eq!(
        verify(
            &secret,
            &headers(&future, &sign(&secret, &future, body)),
            body,
            now
        ),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify(&secret, &headers(&ts, "v0=zz"), body, now),
        Err(SignatureError::MissingSignature)
    );
    assert_eq!(
        verify(&secret, &headers("soon", &good), body, now),
        Err(SignatureError::BadTimestamp)
    );
    assert_eq!(
        verify(&secret, &HeaderMap::new(), body, now),
        Err(SignatureError::MissingTimestamp)
    );
}

#[test]
fn escape_defuses_every_mention_form() {
    let t = escape("<!everyone> <!channel> <!here> <@U123> <#C42|general> a&b @here");
    assert_eq!(t, "&lt;!everyone&gt; &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;#C42|general&gt; a&amp;b @\u{200B}here");
    assert!(!t.contains('<') && !t.contains('>'));
}

#[test]
fn incoming_text_loses_mentions_and_keeps_content() {
    assert_eq!(
        clean_incoming("<@U0BOT> ランサムウェアに感染しました"),
        "ランサムウェアに感染しました"
    );
    assert_eq!(
        clean_incoming(
            "<!channel> 見て &lt;急ぎ&gt; &amp; <https://example.com|ここ> <#C1|general>"
        ),
        "見て <急ぎ> & ここ #general"
    );
    assert_eq!(clean_incoming("a < b"), "a < b");
}

fn ev(json: Value) -> Event {
    serde_json::from_value(json).unwrap()
}

#[test]
fn app_mention_becomes_an_inbound_answered_in_its_thread() {
    let e = ev(
        json!({"type":"app_mention","user":"U1","text":"<@U0BOT> 窓口の電話番号は？","channel":"C9","ts":"1700.01"}),
    );
    match classify_event(&e, Some("CSTAFF")) {
        EventAction::Member {
            inbound, target, ..
        } => {
            assert_eq!(
                inbound,
                Inbound {
                    channel: ChannelKind::Slack,
                    user: "U1".into(),
                    conversation: "C9/1700.01".into(),
                    text: "窓口の電話番号は？".into()
                }
            );
            assert_eq!(
                target,
                Target {
                    channel: "C9".into(),
                    thread_ts: Some("1700.01".into())
                }
            );
        }
        other => panic!("{other:?}"),
    }
    // inside a thread: the thread's root
    let e = ev(
        json!({"type":"app_mention","user":"U1","text":"<@U0BOT> はい","channel":"C9","ts":"1700.05","thread_ts":"1700.01"}),
    );
    assert!(
        matches!(classify_event(&e, None), EventAction::Member { target: Target { thread_ts: Some(t), .. }, .. } if t == "1700.01")
    );
}

#[test]
fn direct_messages_are_answered_but_bots_edits_and_channel_chatter_are_not() {
    let dm = ev(
        json!({"type":"message","channel_type":"im","user":"U1","text":"支援金は？","channel":"D1","ts":"1.1"}),
    );
    assert!(matches!(
        classify_event(&dm, None),
        EventAction::Member { .. }
    ));
    for e in [
        json!({"type":"message","channel_type":"im","user":"U1","bot_id":"B1","text":"x","channel":"D1","ts":"1.2"}),
        json!({"type":"message","channel_type":"im","subtype":"message_changed","channel":"D1","ts":"1.3"}),
        json!({"type":"message","channel_type":"channel","user":"U1","text":"雑談","channel":"C1","ts":"1.4"}),
        json!({"type":"reaction_added","user":"U1","channel":"C1","ts":"1.5"}),
    ] {
        assert!(
            matches!(classify_event(&ev(e.clone()), None), EventAction::Ignore(_)),
            "{e}"
        );
    }
}

#[test]
fn an_unmentioned_thread_reply_is_a_possible_follow_up_but_top_level_chatter_is_not() {
    let e = ev(
        json!({"type":"message","channel_type":"channel","user":"U1","text":"それはいくら？","channel":"C9","ts":"1700.09","thread_ts":"1700.01"}),
    );
    match classify_event(&e, Some("CSTAFF")) {
        EventAction::ThreadFollowUp { inbound, .. } => {
            assert_eq!(inbound.conversation, "C9/1700.01")
        }
        other => panic!("{other:?}"),
    }
    let top = ev(
        json!({"type":"message","channel_type":"channel","user":"U1","text":"雑談","channel":"C9","ts":"1700.10"}),
    );
    assert!(matches!(
        classify_event(&top, Some("CSTAFF")),
        EventAction::Ignore(_)
    ));
}

#[test]
fn a_thread_reply_in_the_staff_channel_is_a_staff_reply() {
    let e = ev(
        json!({"type":"message","channel_type":"channel","user":"US","text":"お電話ください。","channel":"CSTAFF","ts":"2.2","thread_ts":"2.1"}),
    );
    assert_eq!(
        classify_event(&e, Some("CSTAFF")),
        EventAction::StaffReply {
            thread_ts: "2.1".into(),
            staff: "US".into(),
            text: "お電話ください。".into(),
            message_key: "CSTAFF:2.2".into()
        }
    );
    let top = ev(json!({"type":"message","user":"US","text":"朝会","channel":"CSTAFF","ts":"2.3"}));
    assert!(matches!(
        classify_event(&top, Some("CSTAFF")),
        EventAction::Ignore(_)
    ));
}

fn reply(text: &str, choices: Vec<Choice>) -> Reply {
    Reply {
        text: text.into(),
        intent: Label::Hotline,
        confidence: 0.9,
        urgent: false,
        kind: ReplyKind::Answer,
        choices,
        escalate: None,
        sources: vec![],
    }
}

#[test]
fn reply_renders_as_thread_message_with_choice_buttons() {
    let r = reply(
        "電話は 0120-179-066 です <!channel>",
        vec![Choice {
            label: "支援金".into(),
            value: "支援金はいくら？".into(),
        }],
    );
    let m = reply_message(
        &r,
        &Target {
            channel: "C1".into(),
            thread_ts: Some("9.9".into()),
        },
    );
    assert_eq!(m["thread_ts"], "9.9");
    assert_eq!(m["link_names"], false);
    let s = m.to_string();
    assert!(s.contains("0120-179-066"));
    assert!(!s.contains("<!channel>"), "{s}");
    let buttons = &m["blocks"][1]["elements"];
    assert_eq!(buttons[0]["action_id"], "choice_0");
    assert_eq!(buttons[0]["value"], "支援金はいくら？");
}

#[test]
fn long_replies_are_split_into_valid_sections() {
    let r = reply(&"長い説明です。\n".repeat(800), vec![]);
    let blocks = reply_blocks(&r);
    assert!(blocks.len() > 1);
    for b in &blocks {
        assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
    }
}

fn interaction(json: Value) -> Interaction {
    serde_json::from_value(json).unwrap()
}

#[test]
fn a_choice_click_is_the_members_next_message_in_the_same_thread() {
    let i = interaction(json!({
        "type":"block_actions","user":{"id":"U1","username":"taro"},"channel":{"id":"C9"},
        "message":{"ts":"1700.09","thread_ts":"1700.01"},"container":{"type":"message","message_ts":"1700.09","channel_id":"C9","is_ephemeral":false},
        "actions":[{"action_id":"choice_1","value":"支援金はいくら？"}],"response_url":"https://hooks.slack.com/x"}));
    match classify_interaction(&i, Some("CSTAFF")) {
        InteractionAct::Choice {
            inbound,
            target,
            response_url,
        } => {
            assert_eq!(inbound.text, "支援金はいくら？");
            assert_eq!(inbound.conversation, "C9/1700.01");
            assert_eq!(target.thread_ts.as_deref(), Some("1700.01"));
            assert_eq!(response_url, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn staff_buttons_only_count_in_the_staff_channel() {
    let mk = |channel: &str| {
        interaction(
            json!({"type":"block_actions","user":{"id":"US","username":"hanako"},"channel":{"id":channel},
            "message":{"ts":"5.5"},"actions":[{"action_id":"staff_claim","value":"12"}]}),
        )
    };
    assert_eq!(
        classify_interaction(&mk("CSTAFF"), Some("CSTAFF")),
        InteractionAct::Staff {
            op: StaffOp::Claim,
            escalation_id: 12,
            staff: "US".into(),
            display: "hanako".into(),
            channel: "CSTAFF".into(),
            message_ts: Some("5.5".into())
        }
    );
    assert!(matches!(
        classify_interaction(&mk("C1"), Some("CSTAFF")),
        InteractionAct::Ignore(_)
    ));
}

#[test]
fn conversation_strings_round_trip() {
    for t in [
        Target {
            channel: "C1".into(),
            thread_ts: Some("1.2".into()),
        },
        Target {
            channel: "D1".into(),
            thread_ts: None,
        },
    ] {
        assert_eq!(Target::parse(&t.conversation()), t);
    }
}

proptest::proptest! {
    #[test]
    fn escaped_text_can_never_open_a_mention_or_link(t in ".{0,200}") {
        let e = escape(&t);
        proptest::prop_assert!(!e.contains('<') && !e.contains('>'));
    }

    #[test]
    fn clean_incoming_never_panics_and_drops_every_special_mention(t in "[<>!@#|a-zあ ]{0,80}") {
        let c = clean_incoming(&format!("<!channel> {t} <@U1>"));
        proptest::prop_assert!(!c.contains("<!channel>") && !c.contains("<@U1>"));
    }

    #[test]
    fn a_random_signature_is_never_accepted(sig in "[0-9a-f]{64}", body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let h = headers("1700000000", &format!("v0={sig}"));
        let expected = sign(&Secret::new("k"), "1700000000", &body);
        proptest::prop_assume!(expected != format!("v0={sig}"));
        proptest::prop_assert_eq!(verify(&Secret::new("k"), &h, &body, 1_700_000_000), Err(SignatureError::Mismatch));
    }
}

#[test]
fn seen_answers_true_once() {
    let s = Seen::default();
    assert!(s.first("event:Ev1"));
    assert!(!s.first("event:Ev1"));
    assert!(s.first("event:Ev2"));
}
