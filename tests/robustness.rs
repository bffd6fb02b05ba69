//! Bad input never panics and always gets a clear reply: empty, whitespace, huge,
//! control characters, emoji only, English, mixed scripts, arbitrary Unicode.

use std::sync::OnceLock;

use chrono::TimeZone;
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::hours::jst;
use madoguchi::core::label::Label;
use madoguchi::core::turn::{ConversationState, ReplyKind};
use madoguchi::engine;
use proptest::prelude::*;

fn bot() -> &'static Bot {
    static BOT: OnceLock<Bot> = OnceLock::new();
    BOT.get_or_init(|| engine::build(&Content::embedded()).expect("shipped content is valid"))
}

fn reply(text: &str) -> madoguchi::core::turn::Reply {
    let now = jst().with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
    bot().respond(text, &mut ConversationState::default(), now)
}

#[test]
fn empty_and_whitespace_get_a_clear_reply() {
    for t in ["", "   ", "\n\t", "\u{3000}\u{3000}"] {
        let r = reply(t);
        assert_eq!(r.kind, ReplyKind::BadInput, "{t:?}");
        assert!(r.text.contains("空"), "{}", r.text);
    }
}

#[test]
fn emoji_only_is_bad_input_not_a_guess() {
    let r = reply("😭😭🙏");
    assert_eq!(r.kind, ReplyKind::BadInput);
    assert!(!r.urgent);
}

#[test]
fn hundred_kilobytes_is_capped_and_said_so() {
    let big = "ランサムウェアについて教えてください。".repeat(6000);
    assert!(big.len() > 100_000);
    let r = reply(&big);
    assert!(
        r.text.contains("長すぎる"),
        "{}",
        &r.text[..200.min(r.text.len())]
    );
}

#[test]
fn control_characters_are_ignored() {
    let r = reply("窓口の\u{0000}電話\u{0007}番号\u{001b}[31mは？");
    assert_eq!(r.intent, Label::Hotline, "{r:?}");
}

#[test]
fn english_gets_a_japanese_and_english_pointer() {
    let r = reply("How do I reset my router password?");
    assert_eq!(r.intent, Label::OutOfScope);
    assert!(r.text.contains("0120-179-066"));
}

#[test]
fn urgent_reply_starts_with_the_hotline() {
    let r = reply("電子カルテがランサムウェアで暗号化された！");
    assert!(r.urgent);
    let first_line = r.text.lines().next().unwrap();
    assert!(first_line.contains("0120-179-066"), "{first_line}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let r = reply(&s);
        prop_assert!(!r.text.is_empty());
        prop_assert!((0.0..=1.0).contains(&r.confidence));
    }

    #[test]
    fn japanese_soup_never_panics(s in "[ぁ-んァ-ヶ一-龠ａ-ｚ０-９ｦ-ﾟ①-⑳、。！？ー〜\\s]{0,300}") {
        let c = bot().classify(&s);
        prop_assert!((0.0..=1.0).contains(&c.confidence));
        let _ = reply(&s);
    }
}
