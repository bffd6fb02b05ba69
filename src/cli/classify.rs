//! `madoguchi classify`: the classification contract over JSON Lines. One output line
//! per input line, same id; a bad line (invalid UTF-8, not JSON, no text) gets an
//! error line and the run goes on. Relative dates (「先月」) resolve against today in
//! Japan (or `--today`); `--explain` adds the urgency cues that decided.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use madoguchi::core::hours::{jst, Clock, SystemClock};
use serde_json::json;

use super::jsonl;

#[derive(Parser)]
pub struct Args {
    /// Resolve relative dates against this day (YYYY-MM-DD; default: today in Japan).
    #[arg(long)]
    pub today: Option<String>,
    /// Add `"cues"`: the urgency cue groups that matched (for editors).
    #[arg(long)]
    pub explain: bool,
}

pub fn run(content: Option<&PathBuf>, args: Args) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
    let today = match &args.today {
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .with_context(|| format!("--today {s:?} is not YYYY-MM-DD"))?,
        None => SystemClock.now().with_timezone(&jst()).date_naive(),
    };
    jsonl::run("classify", |bytes, line_no| {
        let Some((id, v)) = jsonl::parse_object(bytes, line_no)? else {
            return Ok(None);
        };
        let c = bot.classify_at(jsonl::text_of(&id, &v, line_no)?, today);
        let confidence = (c.confidence as f64 * 10000.0).round() / 10000.0;
        let mut out = json!({ "id": id, "intent": c.intent.as_str(), "confidence": confidence, "urgent": c.urgent });
        if args.explain {
            out["cues"] = json!(c.urgency.cues);
        }
        Ok(Some(out))
    })
}
