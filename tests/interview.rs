//! Scripted multi-turn eligibility interviews through `Bot::respond`: only missing facts
//! are asked, one at a time with choices; corrections override; urgent messages
//! interrupt with the hotline first; a change of topic leaves; the state survives a
//! JSON round trip (as the store keeps it).

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::hours::{HOTLINE, OFFICIAL_URL};
use madoguchi::core::interview::{Slot, START_VALUE};
use madoguchi::core::turn::{ConversationState, Reply, ReplyKind};

fn bot() -> &'static Bot {
    static B: OnceLock<Bot> = OnceLock::new();
    B.get_or_init(|| {
        madoguchi::engine::build(&Content::embedded()).expect("shipped content builds")
    })
}

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-06-20T10:00:00+09:00").unwrap()
}

fn say(state: &mut ConversationState, text: &str) -> Reply {
    bot().respond(text, state, now())
}

fn asking(state: &ConversationState) -> Option<Slot> {
    state.case_file.pending()
}

fn assert_final(r: &Reply) {
    assert_eq!(r.kind, ReplyKind::Assess);
    assert!(r.text.contains("最終的な判断は日本医師会"), "{}", r.text);
    assert!(
        r.text.contains(HOTLINE) && r.text.contains(OFFICIAL_URL),
        "{}",
        r.text
    );
    assert!(r.text.contains("根拠: 日医ニュース"), "{}", r.text);
    assert!(
        !r.text.contains("FACTS.md"),
        "members see Japanese reasons, not the FACTS.md quotes: {}",
        r.text
    );
}

#[test]
fn asks_only_what_is_missing_then_assesses_and_accepts_a_correction() {
    let mut s = ConversationState::default();
    let r = say(
        &mut s,
        "A①会員の診療所です。ランサムウェアの被害は支援金の対象になりますか",
    );
    assert_eq!(r.kind, ReplyKind::Assess, "{}", r.text);
    // membership and kind were given: the date is asked first, with choices
    assert_eq!(asking(&s), Some(Slot::IncidentDate), "{}", r.text);
    assert!(r
        .choices
        .iter()
        .any(|c| c.label.contains("2022年6月1日以降")));

    let r = say(&mut s, "先月です");
    assert_eq!(asking(&s), Some(Slot::Closure), "{}", r.text);
    assert!(!r.choices.is_empty());

    let r = say(&mut s, "3日休診しました");
    assert_final(&r);
    assert!(r.text.contains("150,000円"), "{}", r.text);
    assert!(r.text.contains("厚生労働省へ届け出"), "{}", r.text);
    assert!(s.case_file.assessed());

    let r = say(&mut s, "いや、休業は半日です");
    assert_final(&r);
    assert!(
        r.text.contains("100,000円") && !r.text.contains("150,000円"),
        "{}",
        r.text
    );

    let r = say(&mut s, "いや、厚労省には届出済みです");
    assert_final(&r);
    assert!(!r.text.contains("次にすること"), "{}", r.text);
}

#[test]
fn the_start_choice_asks_everything_one_question_at_a_time() {
    let mut s = ConversationState::default();
    let r = say(&mut s, START_VALUE);
    assert_eq!(asking(&s), Some(Slot::Membership), "{}", r.text);
    assert_eq!(r.choices.len(), 3);
    let r = say(&mut s, "はい");
    assert_eq!(asking(&s), Some(Slot::IncidentKind), "{}", r.text);
    let r = say(&mut s, "攻撃によらない漏えい");
    assert_eq!(asking(&s), Some(Slot::IncidentDate), "{}", r.text);
    let r = say(&mut s, "2022年6月1日以降");
    assert_final(&r);
    assert!(r.text.contains("50,000円"), "{}", r.text);
    assert!(
        r.text.contains("個人情報保護委員会") && r.text.contains("本人へ通知"),
        "{}",
        r.text
    );
}

#[test]
fn an_exclusion_ends_the_questions_early() {
    let mut s = ConversationState::default();
    say(&mut s, START_VALUE);
    let r = say(&mut s, "いいえ");
    assert_final(&r);
    assert!(r.text.contains("対象外"), "{}", r.text);
}

#[test]
fn unknown_answers_are_not_asked_twice_and_give_an_open_verdict() {
    let mut s = ConversationState::default();
    say(&mut s, START_VALUE);
    let r = say(&mut s, "わからない");
    assert_eq!(asking(&s), Some(Slot::IncidentKind), "{}", r.text);
    say(&mut s, "ランサムウェア等の攻撃");
    say(&mut s, "昨日");
    let r = say(&mut s, "休業していない");
    assert_final(&r);
    assert!(r.text.contains("まだ判断できません"), "{}", r.text);
}

#[test]
fn an_urgent_message_interrupts_with_the_hotline_and_the_interview_resumes() {
    let mut s = ConversationState::default();
    say(&mut s, START_VALUE);
    let r = say(
        &mut s,
        "今まさに電子カルテがランサムウェアで暗号化されています！助けて",
    );
    assert!(r.urgent);
    assert!(r.text.starts_with("【至急】"), "{}", r.text);
    assert!(r.text.contains(HOTLINE));
    assert_eq!(asking(&s), Some(Slot::Membership), "the interview waits");
    let r = say(&mut s, "はい");
    assert_eq!(r.kind, ReplyKind::Assess);
}

#[test]
fn a_side_question_is_answered_and_the_check_resumes() {
    let mut s = ConversationState::default();
    say(&mut s, START_VALUE);
    let r = say(&mut s, "Tokio Cyber Portの登録方法を教えてください");
    assert_eq!(r.kind, ReplyKind::Answer, "{}", r.text);
    assert!(r.text.contains("tokiocyberport"), "{}", r.text);
    assert!(r.text.contains("支援金の確認の続き"), "{}", r.text);
    assert_eq!(
        asking(&s),
        Some(Slot::Membership),
        "the question is still open"
    );
    let r = say(&mut s, "はい");
    assert_eq!(r.kind, ReplyKind::Assess, "{}", r.text);
    assert_eq!(asking(&s), Some(Slot::IncidentKind), "{}", r.text);
}

#[test]
fn stop_ends_it_and_gibberish_repeats_the_question() {
    let mut s = ConversationState::default();
    say(&mut s, START_VALUE);
    let r = say(&mut s, "ふむ");
    assert_eq!(r.kind, ReplyKind::Assess);
    assert_eq!(asking(&s), Some(Slot::Membership), "{}", r.text);
    let r = say(&mut s, "やめる");
    assert!(s.case_file.pending().is_none(), "{}", r.text);
}

#[test]
fn the_state_survives_a_json_round_trip() {
    let mut s = ConversationState::default();
    say(
        &mut s,
        "A①会員です。昨年の10月に紹介状を別の患者さんに渡してしまいました。対象になりますか",
    );
    let json = serde_json::to_string(&s).unwrap();
    let mut back: ConversationState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let r = say(&mut back, "委員会には報告済み、本人にも通知しました");
    assert_final(&r);
    assert!(r.text.contains("50,000円"), "{}", r.text);
}

#[test]
fn a_question_about_the_rule_gets_the_answer_not_an_interview() {
    let mut s = ConversationState::default();
    let r = say(&mut s, "もしランサムウェアに感染した場合も支援金は出ますか");
    assert_ne!(r.kind, ReplyKind::Assess, "{}", r.text);
    assert!(s.case_file.check.is_none());
    assert!(
        !s.case_file.has_incident(),
        "a what-if is not a case: {:?}",
        s.case_file
    );
}

/// Caught in a terminal session: 「先週です」 in reply to "what happened?" marked the
/// kind as asked, so the check ended without it.
#[test]
fn an_answer_to_another_question_does_not_skip_the_asked_one() {
    let bot = bot();
    let mut st = ConversationState::default();
    let now = now();
    bot.respond("支援金の対象になるか確認したい", &mut st, now);
    bot.respond("はい", &mut st, now);
    let r = bot.respond("先週です", &mut st, now);
    assert!(r.text.contains("何が起きましたか"), "{}", r.text);
}

/// Caught in a terminal session: after an urgent ransomware report the check asked
/// again what had happened.
#[test]
fn an_urgent_report_feeds_the_later_eligibility_check() {
    let bot = bot();
    let mut st = ConversationState::default();
    let now = now();
    let r = bot.respond("ランサムウェアに感染した、どうすれば", &mut st, now);
    assert!(r.urgent);
    let r = bot.respond("支援金の対象になるか確認したい", &mut st, now);
    assert!(!r.text.contains("何が起きましたか"), "{}", r.text);
    let r = bot.respond("はい", &mut st, now);
    assert!(!r.text.contains("何が起きましたか"), "{}", r.text);
}
