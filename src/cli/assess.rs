//! `madoguchi assess`: the assessment contract over JSON Lines. In `{"id","text","today"}`
//! (today = YYYY-MM-DD; absent → the current date in Japan), out
//! `{"id","eligible","amount_yen","payment","unmet_requirements","missing_facts"}`.
//! A bad line gets an error line with its id and the run goes on.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use madoguchi::core::assessment::{contract_json, Assessor};
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::engine;
use serde_json::{json, Value};

use super::classify::parse_object;

/// Builds the assessor (normaliser + rules only: no tokenizer, no classifier).
pub fn load_assessor(dir: Option<&PathBuf>) -> anyhow::Result<Assessor> {
    let content = super::load_content(dir)?;
    engine::build_assessor(&content).with_context(|| format!("loading rules from {}", content.origin))
}

/// One parsed input line → (id, text, today) or (id, error message).
pub fn parse_row(bytes: &[u8], line_no: usize, default_today: NaiveDate) -> Result<Option<(Value, String, NaiveDate)>, (Value, String)> {
    let Some((id, v)) = parse_object(bytes, line_no)? else { return Ok(None) };
    let Some(text) = v.get("text").and_then(Value::as_str) else {
        return Err((id, format!("line {line_no}: no \"text\" string")));
    };
    let today = match v.get("today") {
        None | Some(Value::Null) => default_today,
        Some(Value::String(s)) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => return Err((id, format!("line {line_no}: \"today\" {s:?} is not a YYYY-MM-DD date"))),
        },
        Some(other) => return Err((id, format!("line {line_no}: \"today\" must be a YYYY-MM-DD string, not {other}"))),
    };
    Ok(Some((id, text.to_string(), today)))
}

pub fn run(content: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    let assessor = load_assessor(content)?;
    let default_today = SystemClock.now().date_naive();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut failed = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let (id, text, today) = match parse_row(&buf, line_no, default_today) {
            Ok(None) => continue,
            Ok(Some(r)) => r,
            Err((id, msg)) => {
                failed += 1;
                writeln!(out, "{}", json!({ "id": id, "error": msg }))?;
                continue;
            }
        };
        let a = assessor.assess(&text, today);
        let mut obj = contract_json(&a);
        obj.as_object_mut().expect("contract_json returns an object").insert("id".into(), id);
        writeln!(out, "{obj}")?;
    }
    out.flush()?;
    if failed > 0 {
        eprintln!("madoguchi assess: {failed} line(s) could not be read (see the error lines)");
    }
    Ok(ExitCode::SUCCESS)
}
