//! Golden urgency cases: tests/golden/urgency.tsv (events now are urgent; what-ifs,
//! preparation, negations, calm markers and past incidents are not) and our labelled
//! set tests/golden/urgency_cases.tsv (`expected<TAB>kind<TAB>message`, mostly hard
//! cases: past, hypothetical, negated, ongoing without alarm words, third parties).
//! Dates resolve against 2026-11-26.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use madoguchi::content::Content;
use madoguchi::core::analysis::Analyzer;
use madoguchi::core::urgency::UrgencyRules;
use madoguchi::engine;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

fn setup() -> (Analyzer, UrgencyRules) {
    let content = Content::embedded();
    let mut errs = Vec::new();
    let analyzer = engine::build_analyzer(&content, &mut errs).expect("analyzer");
    let rules = UrgencyRules::parse(
        engine::URGENCY,
        &content.get(engine::URGENCY).expect("urgency.toml").text,
    )
    .expect("rules parse");
    (analyzer, rules)
}

/// One labelled line: (id, urgent?, kind, text).
fn cases(src: &'static str, with_kind: bool) -> Vec<(String, bool, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols = line.splitn(if with_kind { 3 } else { 2 }, '\t');
        let want = cols.next().unwrap();
        let kind = if with_kind {
            cols.next().expect("expected<TAB>kind<TAB>text")
        } else {
            ""
        };
        let text = cols.next().expect("expected<TAB>text");
        let want = match want {
            "urgent" => true,
            "calm" => false,
            other => panic!("line {}: bad label {other}", i + 1),
        };
        out.push((format!("line{}", i + 1), want, kind, text));
    }
    out
}

/// Per expected label ("urgent"/"calm"): (answered right, cases).
type Counts = HashMap<&'static str, (usize, usize)>;

fn run(set: &str, cases: &[(String, bool, &str, &str)]) -> (BTreeMap<String, String>, Counts) {
    let (analyzer, rules) = setup();
    let mut misses = BTreeMap::new();
    let mut counts: Counts = HashMap::new();
    for (id, want, _, text) in cases {
        let got = rules.assess(&analyzer.analyze(text), today());
        let key = if *want { "urgent" } else { "calm" };
        let e = counts.entry(key).or_default();
        e.1 += 1;
        if got.urgent == *want {
            e.0 += 1;
        } else {
            misses.insert(
                id.clone(),
                format!("want {key}, cues {:?}: {text}", got.cues),
            );
        }
    }
    let _ = set;
    (misses, counts)
}

#[test]
fn golden_urgency_cases() {
    let cases = cases(include_str!("golden/urgency.tsv"), false);
    assert!(cases.len() >= 50);
    let (misses, _) = run("urgency", &cases);
    common::check_known("urgency", &misses, cases.len());
}

/// Our labelled set: recall of urgent cases 100% and precision ≥ 90%, up to the
/// known misses.
#[test]
fn labelled_urgency_set() {
    let cases = cases(include_str!("golden/urgency_cases.tsv"), true);
    assert!(
        cases.len() >= 200,
        "the labelled set holds at least 200 messages"
    );
    let hard = cases
        .iter()
        .filter(|c| {
            !c.1 || matches!(
                c.2,
                "ongoing_plain" | "third_party" | "changed" | "warnings"
            )
        })
        .count();
    assert!(hard * 2 >= cases.len(), "at least half are hard cases");
    let (misses, _) = run("urgency_cases", &cases);
    common::check_known("urgency_cases", &misses, cases.len());
}

#[test]
fn bad_pattern_is_reported_with_file_and_line() {
    let src = "alarm = [\"至急\"]\nincident = [\"(unclosed\"]\nthird_party = []\nchanged = []\nwarnings = []\nrecent = []\nresolved = []\nongoing = []\nhypothetical = []\nnarrative = []\nnegated = []\ncalm = []\ninquiry = []\npast = []\n";
    let errs = UrgencyRules::parse("dictionaries/urgency.toml", src).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 2, "{errs:?}");
    assert!(errs[0]
        .to_string()
        .starts_with("dictionaries/urgency.toml:2:"));
}

/// The aspect comes from the tokens: 「開けなくなってる」 goes on, 「開けなくなった」 is done.
#[test]
fn aspect_is_read_from_the_tokens() {
    let (analyzer, _) = setup();
    let now = |t: &str| madoguchi::core::urgency::aspect_of(&analyzer.analyze(t).tokens).going_on;
    assert!(now("ファイルが開けなくなってる"));
    assert!(now("電子カルテが動かない"));
    assert!(now("変なメールが届いています"));
    assert!(!now("ファイルが開けなくなった"));
    assert!(!now("もし感染していたら"));
}

/// A dated incident months ago is past, even with an event verb.
#[test]
fn regression_an_attack_months_ago_is_not_urgent() {
    let (analyzer, rules) = setup();
    let u = rules.assess(
        &analyzer.analyze("9月に不正アクセスでサーバーが止まりました"),
        today(),
    );
    assert!(!u.urgent, "{u:?}");
    let u = rules.assess(
        &analyzer.analyze("9月に感染して、今もサーバーが止まったままです"),
        today(),
    );
    assert!(u.urgent, "{u:?}");
}
