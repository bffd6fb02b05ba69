//! Data-driven conversations (tests/conversations/*.toml), run through `Bot::respond`
//! turn by turn with one conversation state, by one `check` helper: each turn may
//! expect a route, an intent, urgency, the fact asked next, the verdict's amount, and
//! regexes that must or must not match the reply (NFKC-normalised). A conversation
//! passes when every expectation of every turn holds; today's failures are listed in
//! tests/golden/known_misses.toml under `conversations`.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::handoff::Handoff;
use madoguchi::core::turn::{ConversationState, Reply, ReplyKind};
use regex::Regex;
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

const DEFAULT_NOW: &str = "2026-11-26T15:00:00+09:00";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    conversation: Vec<Conversation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conversation {
    id: String,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    note: String,
    turn: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Turn {
    say: String,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    urgent: Option<bool>,
    #[serde(default)]
    asks: Option<String>,
    #[serde(default)]
    amount: Option<u32>,
    #[serde(default)]
    must: Vec<String>,
    #[serde(default)]
    must_not: Vec<String>,
}

fn bot() -> &'static Bot {
    static B: OnceLock<Bot> = OnceLock::new();
    B.get_or_init(|| {
        madoguchi::engine::build(&Content::embedded()).expect("shipped content builds")
    })
}

fn conversations() -> Vec<(String, Conversation)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conversations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/conversations")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let src = std::fs::read_to_string(&p).unwrap();
        let f: File = toml::from_str(&src).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.extend(f.conversation.into_iter().map(|c| (name.clone(), c)));
    }
    out
}

/// What a turn's reply got wrong (empty when everything holds).
fn check_turn(t: &Turn, r: &Reply, st: &ConversationState) -> Vec<String> {
    let mut errs = Vec::new();
    let text: String = r.text.nfkc().collect();
    if let Some(want) = &t.route {
        let want: ReplyKind = want.parse().unwrap_or_else(|e| panic!("{e}"));
        if r.kind != want {
            errs.push(format!(
                "route {} (want {})",
                r.kind.as_str(),
                want.as_str()
            ));
        }
    }
    if let Some(want) = &t.intent {
        if r.intent.as_str() != want {
            errs.push(format!("intent {} (want {want})", r.intent.as_str()));
        }
    }
    if let Some(want) = t.urgent {
        if r.urgent != want {
            errs.push(format!("urgent {} (want {want})", r.urgent));
        }
    }
    if let Some(want) = &t.asks {
        let got = if r.kind == ReplyKind::Assess || r.kind == ReplyKind::Urgent {
            st.case_file.pending().map(|s| s.as_str()).unwrap_or("none")
        } else {
            "none"
        };
        if got != want {
            errs.push(format!("asks {got} (want {want})"));
        }
    }
    if let Some(want) = t.amount {
        let got = st
            .case_file
            .check
            .as_ref()
            .and_then(|c| c.verdict)
            .filter(|_| r.kind == ReplyKind::Assess && st.case_file.pending().is_none());
        match got.and_then(|v| v.amount_yen) {
            Some(a) if a == want => {}
            other => errs.push(format!("amount {other:?} (want {want})")),
        }
    }
    for m in &t.must {
        let re = Regex::new(m).unwrap_or_else(|e| panic!("must {m:?}: {e}"));
        if !re.is_match(&text) {
            errs.push(format!("must /{m}/ missing"));
        }
    }
    for m in &t.must_not {
        let re = Regex::new(m).unwrap_or_else(|e| panic!("must_not {m:?}: {e}"));
        if let Some(x) = re.find(&text) {
            errs.push(format!("must_not /{m}/ found {:?}", x.as_str()));
        }
    }
    errs
}

/// Runs one conversation; returns the first failing turn's explanation.
fn check(c: &Conversation) -> Option<String> {
    let now: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339(c.now.as_deref().unwrap_or(DEFAULT_NOW))
            .expect("now is RFC 3339");
    let mut st = ConversationState::default();
    let mut failures = Vec::new();
    for (i, t) in c.turn.iter().enumerate() {
        let mut r = bot().respond(&t.say, &mut st, now);
        if r.escalate.is_some() {
            // as the service does once the escalation is kept
            r.add_handoff(Handoff::Kept { id: Some(1) });
        }
        let errs = check_turn(t, &r, &st);
        if !errs.is_empty() {
            failures.push(format!(
                "turn {i} {:?}: {}\n      reply: {}",
                t.say,
                errs.join("; "),
                r.text
                    .replace('\n', "⏎")
                    .chars()
                    .take(220)
                    .collect::<String>()
            ));
        }
    }
    (!failures.is_empty()).then(|| format!("[{}]\n    {}", c.note, failures.join("\n    ")))
}

#[test]
fn conversations_behave_as_members_expect() {
    let all = conversations();
    assert!(
        all.len() >= 80,
        "at least 80 conversations, have {}",
        all.len()
    );
    let mut ids = std::collections::HashSet::new();
    let mut misses = BTreeMap::new();
    for (file, c) in &all {
        assert!(
            ids.insert(c.id.clone()),
            "duplicate conversation id {}",
            c.id
        );
        if let Some(why) = check(c) {
            misses.insert(c.id.clone(), format!("({file}) {why}"));
        }
    }
    eprintln!(
        "conversations: {}/{} entirely right",
        all.len() - misses.len(),
        all.len()
    );
    common::check_known("conversations", &misses, all.len());
}

/// The helper itself: a wrong expectation is reported, so no conversation passes by
/// accident.
#[test]
fn check_reports_a_wrong_expectation() {
    let c = Conversation {
        id: "self-test".into(),
        now: None,
        note: String::new(),
        turn: vec![Turn {
            say: "窓口の電話番号は？".into(),
            route: Some("urgent".into()),
            intent: Some("hotline".into()),
            urgent: Some(false),
            asks: None,
            amount: None,
            must: vec!["0120-179-066".into()],
            must_not: vec!["0120".into()],
        }],
    };
    let why = check(&c).expect("a wrong route and a present must_not fail");
    assert!(
        why.contains("route answer (want urgent)") && why.contains("must_not /0120/"),
        "{why}"
    );
}
