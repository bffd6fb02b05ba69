//! The binary's JSON Lines contracts: `classify` and `intents examples`, including bad
//! lines (invalid UTF-8, not JSON) that get an error line while the run continues.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> (String, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(args)
        .env_remove("MADOGUCHI_CONTENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn classify_answers_every_line_with_its_id() {
    let input = "{\"id\":\"a\",\"text\":\"窓口の電話番号は？\"}\n{\"id\":7,\"text\":\"ランサムウェアに感染しました\"}\n";
    let (out, _, ok) = run(&["classify"], input.as_bytes());
    assert!(ok);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], "a");
    assert_eq!(rows[0]["intent"], "hotline");
    assert_eq!(rows[0]["urgent"], false);
    let conf = rows[0]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&conf));
    assert_eq!(rows[1]["id"], 7);
    assert_eq!(rows[1]["intent"], "incident");
    assert_eq!(rows[1]["urgent"], true);
}

#[test]
fn invalid_utf8_line_gets_an_error_line_and_the_run_continues() {
    let mut input = b"{\"id\":\"x\",\"text\":\"\xff\xfe\"}\nnot json\n".to_vec();
    input.extend_from_slice("{\"id\":\"y\",\"text\":\"こんにちは\"}\n".as_bytes());
    let (out, err, ok) = run(&["classify"], &input);
    assert!(ok);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[0]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(rows[1]["error"].as_str().unwrap().contains("JSON"));
    assert_eq!(rows[2]["intent"], "greeting");
    assert!(err.contains("2 line(s)"), "{err}");
}

#[test]
fn intents_examples_lists_every_example_with_a_known_label() {
    let (out, _, ok) = run(&["intents", "examples"], b"");
    assert!(ok);
    let mut labels = std::collections::BTreeSet::new();
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(!v["text"].as_str().unwrap().is_empty());
        labels.insert(v["intent"].as_str().unwrap().to_string());
    }
    assert_eq!(labels.len(), 12, "{labels:?}");
}

#[test]
fn intents_check_names_file_and_line_of_a_broken_intent() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["intents", "dictionaries", "rules"] {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    let p = dir.path().join("intents/thanks.toml");
    let s = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("id = \"thanks\"", "id = \"thankz\"", 1);
    std::fs::write(&p, s).unwrap();
    let (_, err, ok) = run(
        &[
            "--content",
            dir.path().to_str().unwrap(),
            "intents",
            "check",
        ],
        b"",
    );
    assert!(!ok);
    assert!(err.contains("intents/thanks.toml:"), "{err}");
    assert!(err.contains("unknown intent label"), "{err}");
}

#[test]
fn eval_prints_accuracy_urgency_and_a_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("set.jsonl");
    std::fs::write(
        &p,
        "{\"id\":1,\"text\":\"窓口の電話番号は？\",\"intent\":\"hotline\",\"urgent\":false}\n{\"id\":2,\"text\":\"ランサムウェアに感染しました\",\"intent\":\"incident\",\"urgent\":true}\n",
    )
    .unwrap();
    let (out, _, ok) = run(&["eval", p.to_str().unwrap()], b"");
    assert!(ok);
    assert!(out.contains("cases: 2  accuracy: 1.000"), "{out}");
    assert!(out.contains("urgent recall: 1.000"), "{out}");
    let row = out
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .find(|l| l.starts_with("hotline "))
        .expect("matrix row for hotline");
    assert_eq!(
        row.split_whitespace().filter(|c| *c != ".").count(),
        2,
        "{row}"
    );
}
