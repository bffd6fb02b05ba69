//! `madoguchi assess` end to end: one output line per input line with the same id, the
//! contract's keys, and an error line (the run goes on) for each bad line.

use std::io::Write;
use std::process::{Command, Stdio};

fn run_assess(input: &[u8]) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("assess")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn assess_contract_and_bad_lines() {
    let mut input = Vec::new();
    input.extend_from_slice("{\"id\":\"a\",\"text\":\"A①会員の病院で2025年1月にランサムウェア、3日休診、厚労省に届出済み\",\"today\":\"2026-06-20\"}\n".as_bytes());
    input.extend_from_slice(b"{\"id\":\"b\",\"text\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice("{\"id\":\"c\",\"text\":\"x\",\"today\":\"2026/06/20\"}\n".as_bytes());
    input.extend_from_slice(b"\n");
    input.extend_from_slice(
        "{\"id\":7,\"text\":\"A①会員の診療所で昨日FAXを誤送信しました\"}\n".as_bytes(),
    );
    input.extend_from_slice("{\"id\":\"d\"}\n".as_bytes());
    let rows = run_assess(&input);
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let a = &rows[0];
    assert_eq!(a["id"], "a");
    assert_eq!(a["eligible"], true);
    assert_eq!(a["amount_yen"], 150000);
    assert_eq!(a["payment"], "cyberattack");
    assert_eq!(a["unmet_requirements"], serde_json::json!([]));
    assert_eq!(a["missing_facts"], serde_json::json!([]));
    assert!(rows[1]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(rows[2]["error"].as_str().unwrap().contains("not JSON"));
    assert_eq!(rows[3]["id"], "c");
    assert!(rows[3]["error"].as_str().unwrap().contains("today"));
    // no today: resolved against the current date in Japan, still a full answer
    assert_eq!(rows[4]["id"], 7);
    assert_eq!(rows[4]["payment"], "leak");
    assert_eq!(rows[4]["eligible"], true);
    assert_eq!(
        rows[4]["unmet_requirements"],
        serde_json::json!(["ppc_report", "victim_notice"])
    );
    assert_eq!(rows[5]["id"], "d");
    assert!(rows[5]["error"].as_str().unwrap().contains("text"));
}
