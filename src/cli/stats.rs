//! `madoguchi stats`: messages per intent, fallbacks, escalations, median time to claim.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use madoguchi::core::hours::SystemClock;
use madoguchi::service::Desk;

#[derive(Parser)]
pub struct Args {
    /// One JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    match s {
        s if s < 60 => format!("{s}秒"),
        s if s < 3600 => format!("{}分{}秒", s / 60, s % 60),
        s => format!("{}時間{}分", s / 3600, (s % 3600) / 60),
    }
}

pub fn run(db: Option<&PathBuf>, args: Args) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    let cfg = super::store_config(db);
    let stats = rt.block_on(async {
        let desk = Desk::connect(&cfg, Arc::new(SystemClock))
            .await
            .context("cannot open the store (is DATABASE_URL reachable?)")?;
        desk.stats().await.context("reading stats")
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "会員メッセージ: {}（うち緊急 {}）",
        stats.messages, stats.urgent
    );
    println!("意図別:");
    for (intent, n) in &stats.per_intent {
        println!("  {intent:<14} {n}");
    }
    println!("範囲外の案内（fallback）: {}", stats.fallbacks);
    println!("聞き返し（clarify）: {}", stats.clarifications);
    println!("エスカレーション: {}", stats.escalations);
    for (r, n) in &stats.escalations_by_reason {
        println!("  理由 {r:<14} {n}");
    }
    for (s, n) in &stats.escalations_by_status {
        println!("  状態 {s:<14} {n}");
    }
    println!(
        "対応開始までの時間（中央値）: {}",
        stats
            .median_secs_to_claim
            .map(duration)
            .unwrap_or_else(|| "-".into())
    );
    Ok(ExitCode::SUCCESS)
}
