//! Golden urgency cases (tests/golden/urgency.tsv): events now are urgent; what-ifs,
//! preparation, negations, calm markers and past incidents are not.

use madoguchi::content::Content;
use madoguchi::core::urgency::UrgencyRules;
use madoguchi::engine;

#[test]
fn golden_urgency_cases() {
    let content = Content::embedded();
    let mut errs = Vec::new();
    let analyzer = engine::build_analyzer(&content, &mut errs).expect("analyzer");
    let rules = UrgencyRules::parse(engine::URGENCY, &content.get(engine::URGENCY).expect("urgency.toml").text).expect("rules parse");
    let src = include_str!("golden/urgency.tsv");
    let mut failures = Vec::new();
    let mut n = 0;
    for (i, line) in src.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (want, text) = line.split_once('\t').expect("expected<TAB>text");
        let want = match want {
            "urgent" => true,
            "calm" => false,
            other => panic!("line {}: bad label {other}", i + 1),
        };
        n += 1;
        let got = rules.assess(&analyzer.analyze(text));
        if got.urgent != want {
            failures.push(format!("line {}: want {} got {} {:?}: {text}", i + 1, want, got.urgent, got.cues));
        }
    }
    assert!(n >= 50);
    assert!(failures.is_empty(), "{} of {n} wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bad_pattern_is_reported_with_file_and_line() {
    let src = "alarm = [\"至急\"]\nincident = [\"(unclosed\"]\nongoing = []\nhypothetical = []\nnarrative = []\nnegated = []\ncalm = []\ninquiry = []\npast = []\n";
    let errs = UrgencyRules::parse("dictionaries/urgency.toml", src).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 2, "{errs:?}");
    assert!(errs[0].to_string().starts_with("dictionaries/urgency.toml:2:"));
}
