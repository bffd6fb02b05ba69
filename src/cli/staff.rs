//! `madoguchi staff …`: the escalation queue from the command line (list, show, claim,
//! reply, resolve). Works on the same store as the bot (SQLite default or DATABASE_URL).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use madoguchi::core::hours::{jst, SystemClock};
use madoguchi::service::{Desk, Escalation, EscalationStatus, Role, StaffError};

#[derive(Subcommand)]
pub enum Command {
    /// The queue (oldest first). --json: one JSON object per line.
    List {
        #[arg(long)]
        status: Option<EscalationStatus>,
        #[arg(long)]
        json: bool,
    },
    /// One escalation with its conversation transcript.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Take an open escalation (exactly one of several claimers wins).
    Claim {
        id: i64,
        /// Your name (default: MADOGUCHI_STAFF, else $USER).
        #[arg(long = "as")]
        staff: Option<String>,
    },
    /// Answer the member through their channel (terminal/HTTP: shown on their next message).
    Reply {
        id: i64,
        text: String,
        /// Your name (default: the assignee, else MADOGUCHI_STAFF, else $USER).
        #[arg(long = "as")]
        staff: Option<String>,
    },
    /// Console accounts: add, list, disable, enable, passwd, link.
    User {
        #[command(subcommand)]
        command: super::staff_user::Command,
    },
    /// Close it; the bot answers that conversation again.
    Resolve {
        id: i64,
        #[arg(long)]
        note: Option<String>,
        /// Your name (default: the assignee, else MADOGUCHI_STAFF, else $USER).
        #[arg(long = "as")]
        staff: Option<String>,
    },
}

fn default_staff() -> Option<String> {
    ["MADOGUCHI_STAFF", "USER"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

fn staff_name(given: Option<String>) -> anyhow::Result<String> {
    given
        .or_else(default_staff)
        .context("who are you? pass --as NAME (or set MADOGUCHI_STAFF)")
}

fn local(t: chrono::DateTime<chrono::FixedOffset>) -> String {
    t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string()
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

fn reason_ja(e: &Escalation) -> &'static str {
    match e.reason.as_str() {
        "urgent" => "緊急",
        "human_request" => "担当者希望",
        _ => "回答困難",
    }
}

/// A refusal is the staff member's business (exit 1, clear message); anything else is an error.
fn refused(e: StaffError) -> anyhow::Result<ExitCode> {
    match e {
        StaffError::Store(e) => Err(e.into()),
        other => {
            eprintln!("{other}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn run(db: Option<&PathBuf>, command: Command) -> anyhow::Result<ExitCode> {
    let command = match command {
        Command::User { command } => return super::staff_user::run(db, command),
        other => other,
    };
    let rt = super::runtime()?;
    let cfg = super::store_config(db);
    rt.block_on(async move {
        let desk = Desk::connect(&cfg, Arc::new(SystemClock)).await.with_context(|| "cannot open the store (is DATABASE_URL reachable?)")?;
        let code = match command {
            Command::List { status, json } => {
                let items = desk.list_escalations(status).await?;
                if json {
                    for e in &items {
                        println!("{}", serde_json::to_string(e)?);
                    }
                } else if items.is_empty() {
                    println!("該当するエスカレーションはありません。");
                } else {
                    for e in &items {
                        println!(
                            "#{:<4} {:<8} {:<10} {}  {:<10} {}  {}",
                            e.id,
                            e.status.as_str(),
                            reason_ja(e),
                            local(e.created_at),
                            e.assignee.as_deref().unwrap_or("-"),
                            e.channel.as_str(),
                            one_line(&e.text, 40)
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Command::Show { id, json } => {
                let Some((e, lines)) = desk.escalation(id).await? else {
                    eprintln!("{}", StaffError::NotFound(id));
                    return Ok(ExitCode::from(1));
                };
                if json {
                    println!("{}", serde_json::to_string(&serde_json::json!({ "escalation": e, "transcript": lines }))?);
                    return Ok(ExitCode::SUCCESS);
                }
                println!("#{} [{}] {}（{}）", e.id, e.status.as_str(), reason_ja(&e), e.reason.as_str());
                println!("  チャネル: {} / 会員: {} / 会話: {}", e.channel.as_str(), e.user, e.conversation);
                println!("  受付: {}  意図: {}", local(e.created_at), e.intent);
                if let (Some(a), Some(t)) = (&e.assignee, e.claimed_at) {
                    println!("  担当: {a}（{}〜）", local(t));
                }
                if let Some(t) = e.resolved_at {
                    println!("  解決: {}{}", local(t), e.note.as_deref().map(|n| format!("  メモ: {n}")).unwrap_or_default());
                }
                println!("  内容: {}", e.text);
                println!("\n--- 会話記録 ---");
                for l in lines {
                    let who = match l.role {
                        Role::Member => "会員".to_string(),
                        Role::Bot => "窓口".to_string(),
                        Role::Staff => format!("担当({})", l.author.as_deref().unwrap_or("?")),
                    };
                    let text = l.text.replace('\n', "\n                       ");
                    println!("[{}] {who}{}: {text}", local(l.at), if l.urgent && l.role == Role::Member { "（緊急）" } else { "" });
                }
                ExitCode::SUCCESS
            }
            Command::Claim { id, staff } => {
                let staff = staff_name(staff)?;
                match desk.claim(id, &staff).await {
                    Ok(e) => {
                        println!("#{} を {} さんが担当します（{}）。", e.id, staff, reason_ja(&e));
                        ExitCode::SUCCESS
                    }
                    Err(e) => return refused(e),
                }
            }
            Command::Reply { id, text, staff } => {
                let staff = match staff {
                    Some(s) => s,
                    None => match desk.escalation(id).await?.and_then(|(e, _)| e.assignee) {
                        Some(a) => a,
                        None => default_staff().unwrap_or_else(|| "事務局".into()),
                    },
                };
                match desk.staff_reply(id, &staff, &text).await {
                    Ok(item) => {
                        if item.text != text {
                            eprintln!("注意: 個人情報と思われる部分を伏せて保存・送信しました。");
                        }
                        println!("#{id} への返信を送信待ちにしました（{}、{} さん）。会員の次のメッセージ時またはチャネル経由で届きます。", item.channel.as_str(), item.staff);
                        ExitCode::SUCCESS
                    }
                    Err(e) => return refused(e),
                }
            }
            Command::Resolve { id, note, staff } => {
                let staff = match staff {
                    Some(s) => s,
                    None => match desk.escalation(id).await?.and_then(|(e, _)| e.assignee) {
                        Some(a) => a,
                        None => default_staff().unwrap_or_else(|| "事務局".into()),
                    },
                };
                match desk.resolve(id, &staff, note.as_deref()).await {
                    Ok(e) => {
                        println!("#{} を解決済みにしました（{}）。", e.id, staff);
                        ExitCode::SUCCESS
                    }
                    Err(e) => return refused(e),
                }
            }
            Command::User { .. } => unreachable!("handled above"),
        };
        Ok(code)
    })
}
