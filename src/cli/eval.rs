//! `madoguchi eval FILE`: scores a labelled JSONL file (dev-set format) and prints
//! accuracy, per-intent precision/recall, the confusion matrix and urgency figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use madoguchi::core::label::Label;
use serde::Deserialize;

macro_rules! outln {
    ($o:expr, $($t:tt)*) => { let _ = writeln!($o, $($t)*); };
}

#[derive(Parser)]
pub struct Args {
    /// JSON Lines with "text", "intent" and "urgent" (and optional "alt" labels).
    pub file: PathBuf,
    /// Also list every miss.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Deserialize)]
struct Row {
    #[serde(default)]
    id: serde_json::Value,
    text: String,
    intent: String,
    #[serde(default)]
    urgent: bool,
    #[serde(default)]
    alt: Vec<String>,
}

pub fn run(content: Option<&PathBuf>, args: Args) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
    let src = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut rows = Vec::new();
    for (i, line) in src.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Row = serde_json::from_str(line)
            .with_context(|| format!("{}:{}", args.file.display(), i + 1))?;
        r.intent
            .parse::<Label>()
            .with_context(|| format!("{}:{}", args.file.display(), i + 1))?;
        rows.push(r);
    }
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut correct, mut utp, mut ufp, mut ufn) = (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for r in &rows {
        let c = bot.classify(&r.text);
        let got = c.intent.as_str().to_string();
        let ok = got == r.intent || r.alt.contains(&got);
        if ok {
            correct += 1;
        } else {
            misses.push(format!(
                "{} {} → {} ({:.2}): {}",
                r.id, r.intent, got, c.confidence, r.text
            ));
        }
        *confusion
            .entry((r.intent.clone(), if ok { r.intent.clone() } else { got }))
            .or_default() += 1;
        match (r.urgent, c.urgent) {
            (true, true) => utp += 1,
            (false, true) => {
                ufp += 1;
                misses.push(format!("{} urgent false alarm: {}", r.id, r.text));
            }
            (true, false) => {
                ufn += 1;
                misses.push(format!("{} urgent missed: {}", r.id, r.text));
            }
            _ => {}
        }
    }
    let mut out = String::new();
    let n = rows.len().max(1);
    outln!(
        out,
        "cases: {}  accuracy: {:.3}",
        rows.len(),
        correct as f64 / n as f64
    );
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    outln!(
        out,
        "urgent recall: {:.3}  precision: {:.3}",
        ratio(utp, utp + ufn),
        ratio(utp, utp + ufp)
    );
    outln!(
        out,
        "\n{:<14} {:>9} {:>9} {:>7}",
        "intent",
        "precision",
        "recall",
        "n"
    );
    for l in Label::ALL {
        let l = l.as_str();
        let tp = confusion
            .get(&(l.to_string(), l.to_string()))
            .copied()
            .unwrap_or(0);
        let gold: usize = confusion
            .iter()
            .filter(|((g, _), _)| g == l)
            .map(|(_, v)| v)
            .sum();
        let pred: usize = confusion
            .iter()
            .filter(|((_, p), _)| p == l)
            .map(|(_, v)| v)
            .sum();
        if gold + pred > 0 {
            outln!(
                out,
                "{l:<14} {:>9.3} {:>9.3} {gold:>7}",
                ratio(tp, pred),
                ratio(tp, gold)
            );
        }
    }
    // the full matrix: rows are the gold labels, columns the predictions
    let short = |l: &str| {
        if l == "out_of_scope" {
            "oos".to_string()
        } else {
            l.chars().take(4).collect::<String>()
        }
    };
    outln!(out, "\nconfusion matrix (rows: gold, columns: predicted)");
    let mut header = format!("{:<14}", "");
    for p in Label::ALL {
        header.push_str(&format!(" {:>4}", short(p.as_str())));
    }
    outln!(out, "{header}");
    for g in Label::ALL {
        let g = g.as_str();
        if !confusion.keys().any(|(gg, _)| gg == g) {
            continue;
        }
        let mut row = format!("{g:<14}");
        for p in Label::ALL {
            match confusion.get(&(g.to_string(), p.as_str().to_string())) {
                Some(v) => row.push_str(&format!(" {v:>4}")),
                None => row.push_str(&format!(" {:>4}", ".")),
            }
        }
        outln!(out, "{row}");
    }
    outln!(out, "\nconfusion (gold → predicted, errors only):");
    for ((g, p), v) in &confusion {
        if g != p {
            outln!(out, "  {g:<14} → {p:<14} {v}");
        }
    }
    if args.verbose {
        outln!(out, "\nmisses:");
        for m in &misses {
            outln!(out, "  {m}");
        }
    }
    super::write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}
