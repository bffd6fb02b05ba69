//! `madoguchi chat`: a conversation in the terminal (or one answer with `--once`),
//! through the [`Service`]: stored (redacted), escalated, and showing staff replies.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use madoguchi::channels::{ChannelKind, Inbound};
use madoguchi::core::hours::{Clock, FixedClock, SystemClock};
use madoguchi::core::turn::Reply;
use madoguchi::service::{Outcome, Service};

#[derive(Parser)]
pub struct Args {
    /// Answer this one message and exit (for scripts).
    #[arg(long)]
    pub once: Option<String>,
    /// Pretend it is this time (RFC 3339, e.g. 2026-11-26T22:30:00+09:00).
    #[arg(long)]
    pub now: Option<String>,
    /// Who is talking (default: $USER). Conversation state and staff replies follow it.
    #[arg(long)]
    pub user: Option<String>,
    /// Conversation id (default: "terminal").
    #[arg(long, default_value = "terminal")]
    pub conversation: String,
}

pub fn clock_from(now: Option<&str>) -> anyhow::Result<Arc<dyn Clock>> {
    Ok(match now {
        Some(s) => Arc::new(FixedClock(
            chrono::DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("--now {s:?} is not an RFC 3339 time"))?,
        )),
        None => Arc::new(SystemClock),
    })
}

pub fn render(reply: &Reply) -> String {
    let mut s = reply.text.clone();
    if !reply.choices.is_empty() {
        s.push('\n');
        for (i, c) in reply.choices.iter().enumerate() {
            s.push_str(&format!("\n  [{}] {}", i + 1, c.label));
        }
        s.push_str("\n（番号で選べます）");
    }
    s
}

fn render_outcome(o: &Outcome) -> String {
    let mut s = String::new();
    for m in &o.staff_messages {
        s.push_str(&format!("【事務局の担当者より】\n{m}\n\n"));
    }
    // the hand-off notice (with its number, when the database took it) is in the reply
    s.push_str(&render(&o.reply));
    s
}

pub fn run(
    content: Option<&PathBuf>,
    db: Option<&PathBuf>,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let bot = Arc::new(super::load_bot(content)?);
    let clock = clock_from(args.now.as_deref())?;
    let rt = super::runtime()?;
    let service = rt
        .block_on(Service::build(bot, super::store_config(db), clock))
        .context("opening the store")?;
    let user = args
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "terminal".into());
    let inbound = |text: String| Inbound {
        channel: ChannelKind::Terminal,
        user: user.clone(),
        conversation: args.conversation.clone(),
        text,
    };
    if let Some(text) = args.once {
        let o = rt.block_on(service.handle(inbound(text)));
        println!("{}", render_outcome(&o));
        return Ok(ExitCode::SUCCESS);
    }
    println!("madoguchi — 日本医師会サイバーセキュリティ支援制度のご案内です。ご質問をどうぞ（終了: Ctrl-D または「終了」）。");
    let stdin = std::io::stdin();
    let mut last: Option<Reply> = None;
    let mut line = Vec::new();
    let mut input = stdin.lock();
    loop {
        print!("\nあなた> ");
        std::io::stdout().flush()?;
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            println!();
            break;
        }
        let text = String::from_utf8_lossy(&line).trim().to_string();
        if matches!(text.as_str(), "終了" | "exit" | "quit" | "/quit") {
            break;
        }
        // a number picks one of the previous reply's choices
        let text = match (text.parse::<usize>(), &last) {
            (Ok(n), Some(r)) if n >= 1 && n <= r.choices.len() => r.choices[n - 1].value.clone(),
            _ => text,
        };
        let o = rt.block_on(service.handle(inbound(text)));
        println!("\n窓口> {}", render_outcome(&o).replace('\n', "\n      "));
        last = Some(o.reply);
    }
    Ok(ExitCode::SUCCESS)
}
