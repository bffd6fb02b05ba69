//! The assess golden file (tests/golden/assess.jsonl: our own case descriptions with
//! the expected contract output) run through the library, compared the way the
//! evaluation compares: every expected key must match; for an undecided case the
//! expected missing facts must be among those reported.

use chrono::NaiveDate;
use madoguchi::content::Content;
use madoguchi::core::assessment::contract_json;
use serde_json::Value;

mod common;

/// tests/golden/assess_more.jsonl (closures, insiders, dates and members in other
/// words): compared the same way, against the set's known misses.
#[test]
fn more_assess_cases_match_their_known_misses() {
    let failures = run(include_str!("golden/assess_more.jsonl"));
    let misses: std::collections::BTreeMap<String, String> = failures
        .into_iter()
        .map(|f| {
            (
                f.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string(),
                f,
            )
        })
        .collect();
    common::check_known("assess_more", &misses, 42);
}

#[test]
fn golden_assess_cases_all_pass() {
    let failures = run(include_str!("golden/assess.jsonl"));
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every expected key must match (the evaluation's comparison); returns the failures.
fn run(src: &str) -> Vec<String> {
    let assessor =
        madoguchi::engine::build_assessor(&Content::embedded()).expect("shipped rules load");
    let mut failures = Vec::new();
    let mut n = 0;
    for (i, line) in src.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let row: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("golden line {}: {e}", i + 1));
        let today = NaiveDate::parse_from_str(row["today"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let got = contract_json(&assessor.assess(row["text"].as_str().unwrap(), today));
        let want = row["expect"].as_object().unwrap();
        for (k, v) in want {
            let g = &got[k.as_str()];
            let ok = match k.as_str() {
                "unmet_requirements" | "missing_facts" => {
                    let set = |v: &Value| {
                        let mut s: Vec<String> = v
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_str().unwrap().to_string())
                            .collect();
                        s.sort();
                        s
                    };
                    if want["eligible"].is_null() && k == "missing_facts" {
                        set(v).iter().all(|x| set(g).contains(x))
                    } else {
                        set(v) == set(g)
                    }
                }
                _ => g == v,
            };
            if !ok {
                failures.push(format!(
                    "{} {k}: got {g} want {v}: {}",
                    row["id"], row["text"]
                ));
            }
        }
    }
    assert!(
        n >= 40,
        "golden file should hold at least 40 cases, has {n}"
    );
    failures
}
