//! `madoguchi assess`: the assessment contract over JSON Lines. In `{"id","text","today"}`
//! (today = YYYY-MM-DD; absent → the current date in Japan), out
//! `{"id","eligible","amount_yen","payment","unmet_requirements","missing_facts"}`.
//! A bad line gets an error line with its id and the run goes on.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use madoguchi::core::assessment::{contract_json, Assessor};
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::engine;
use serde_json::Value;

use super::jsonl::{self, parse_object};

/// Builds the assessor (normaliser + rules only: no tokenizer, no classifier).
pub fn load_assessor(dir: Option<&PathBuf>) -> anyhow::Result<Assessor> {
    let content = super::load_content(dir)?;
    engine::build_assessor(&content)
        .with_context(|| format!("loading rules from {}", content.origin))
}

/// One parsed input line: (id, text, today).
pub type Row = (Value, String, NaiveDate);

/// One parsed input line → (id, text, today) or (id, error message).
pub fn parse_row(
    bytes: &[u8],
    line_no: usize,
    default_today: NaiveDate,
) -> Result<Option<Row>, (Value, String)> {
    let Some((id, v)) = parse_object(bytes, line_no)? else {
        return Ok(None);
    };
    let text = jsonl::text_of(&id, &v, line_no)?;
    let today = match v.get("today") {
        None | Some(Value::Null) => default_today,
        Some(Value::String(s)) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                return Err((
                    id,
                    format!("line {line_no}: \"today\" {s:?} is not a YYYY-MM-DD date"),
                ))
            }
        },
        Some(other) => {
            return Err((
                id,
                format!("line {line_no}: \"today\" must be a YYYY-MM-DD string, not {other}"),
            ))
        }
    };
    Ok(Some((id, text.to_string(), today)))
}

pub fn run(content: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    let assessor = load_assessor(content)?;
    let default_today = SystemClock.now().date_naive();
    jsonl::run("assess", |bytes, line_no| {
        let Some((id, text, today)) = parse_row(bytes, line_no, default_today)? else {
            return Ok(None);
        };
        let mut obj = contract_json(&assessor.assess(&text, today));
        obj.as_object_mut()
            .expect("contract_json returns an object")
            .insert("id".into(), id);
        Ok(Some(obj))
    })
}
