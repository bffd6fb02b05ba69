//! The JSON Lines loop shared by the contract commands (`classify`, `assess`): one
//! output line per input line with the same id; a line that cannot be read (invalid
//! UTF-8, not JSON, a missing field) gets `{"id","error"}` and the run goes on.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use serde_json::{json, Value};

/// What one input line gives: Ok(None) for a blank line, Ok(Some(output object)), or
/// Err((id, message)) for a line that cannot be answered.
pub type LineResult = Result<Option<Value>, (Value, String)>;

/// Reads stdin line by line and writes `answer`'s objects to stdout.
pub fn run(
    command: &str,
    mut answer: impl FnMut(&[u8], usize) -> LineResult,
) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let (mut line_no, mut failed) = (0usize, 0usize);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        match answer(&buf, line_no) {
            Ok(None) => {}
            Ok(Some(obj)) => writeln!(out, "{obj}")?,
            Err((id, msg)) => {
                failed += 1;
                writeln!(out, "{}", json!({ "id": id, "error": msg }))?;
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        eprintln!("madoguchi {command}: {failed} line(s) could not be read (see the error lines)");
    }
    Ok(ExitCode::SUCCESS)
}

/// One input line → (id, the whole JSON value); Ok(None) for a blank line.
pub fn parse_object(
    bytes: &[u8],
    line_no: usize,
) -> Result<Option<(Value, Value)>, (Value, String)> {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return Err((Value::Null, format!("line {line_no}: not valid UTF-8")));
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(s)
        .map_err(|e| (Value::Null, format!("line {line_no}: not JSON: {e}")))?;
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    Ok(Some((id, v)))
}

/// The required `"text"` string of a parsed line.
pub fn text_of<'a>(id: &Value, v: &'a Value, line_no: usize) -> Result<&'a str, (Value, String)> {
    v.get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| (id.clone(), format!("line {line_no}: no \"text\" string")))
}
