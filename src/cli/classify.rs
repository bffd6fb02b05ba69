//! `madoguchi classify`: the classification contract over JSON Lines. One output line
//! per input line, same id; a bad line (invalid UTF-8, not JSON, no text) gets an
//! error line and the run goes on.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::jsonl;

pub fn run(content: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
    jsonl::run("classify", |bytes, line_no| {
        let Some((id, v)) = jsonl::parse_object(bytes, line_no)? else { return Ok(None) };
        let c = bot.classify(jsonl::text_of(&id, &v, line_no)?);
        let confidence = (c.confidence as f64 * 10000.0).round() / 10000.0;
        Ok(Some(json!({ "id": id, "intent": c.intent.as_str(), "confidence": confidence, "urgent": c.urgent })))
    })
}
