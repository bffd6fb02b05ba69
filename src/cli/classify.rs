//! `madoguchi classify`: the classification contract over JSON Lines. One output line
//! per input line, same id; a bad line (invalid UTF-8, not JSON, no text) gets an
//! error line and the run goes on.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

pub fn run(content: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
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
        let row = match parse_line(&buf, line_no) {
            Ok(None) => continue,
            Ok(Some(r)) => r,
            Err((id, msg)) => {
                failed += 1;
                writeln!(out, "{}", json!({ "id": id, "error": msg }))?;
                continue;
            }
        };
        let c = bot.classify(&row.1);
        let confidence = (c.confidence as f64 * 10000.0).round() / 10000.0;
        writeln!(out, "{}", json!({ "id": row.0, "intent": c.intent.as_str(), "confidence": confidence, "urgent": c.urgent }))?;
    }
    out.flush()?;
    if failed > 0 {
        eprintln!("madoguchi classify: {failed} line(s) could not be read (see the error lines)");
    }
    Ok(ExitCode::SUCCESS)
}

/// One input line → (id, text); Ok(None) for a blank line; Err((id, message)).
pub fn parse_line(bytes: &[u8], line_no: usize) -> Result<Option<(Value, String)>, (Value, String)> {
    let Some((id, v)) = parse_object(bytes, line_no)? else { return Ok(None) };
    match v.get("text").and_then(Value::as_str) {
        Some(t) => Ok(Some((id, t.to_string()))),
        None => Err((id, format!("line {line_no}: no \"text\" string"))),
    }
}

/// One input line → (id, the whole JSON value); Ok(None) for a blank line. Shared by
/// the JSON Lines commands.
pub fn parse_object(bytes: &[u8], line_no: usize) -> Result<Option<(Value, Value)>, (Value, String)> {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return Err((Value::Null, format!("line {line_no}: not valid UTF-8")));
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(s).map_err(|e| (Value::Null, format!("line {line_no}: not JSON: {e}")))?;
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    Ok(Some((id, v)))
}
