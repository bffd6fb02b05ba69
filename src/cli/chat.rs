//! `madoguchi chat`: a conversation in the terminal (or one answer with `--once`).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use madoguchi::core::hours::{Clock, FixedClock, SystemClock};
use madoguchi::core::turn::{ConversationState, Reply};

#[derive(Parser)]
pub struct Args {
    /// Answer this one message and exit (for scripts).
    #[arg(long)]
    pub once: Option<String>,
    /// Pretend it is this time (RFC 3339, e.g. 2026-11-26T22:30:00+09:00).
    #[arg(long)]
    pub now: Option<String>,
}

pub fn clock_from(now: Option<&str>) -> anyhow::Result<Box<dyn Clock>> {
    Ok(match now {
        Some(s) => Box::new(FixedClock(chrono::DateTime::parse_from_rfc3339(s).with_context(|| format!("--now {s:?} is not an RFC 3339 time"))?)),
        None => Box::new(SystemClock),
    })
}

pub fn render(reply: &Reply) -> String {
    let mut s = reply.text.clone();
    if !reply.choices.is_empty() {
        s.push_str("\n");
        for (i, c) in reply.choices.iter().enumerate() {
            s.push_str(&format!("\n  [{}] {}", i + 1, c.label));
        }
        s.push_str("\n（番号で選べます）");
    }
    s
}

pub fn run(content: Option<&PathBuf>, args: Args) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
    let clock = clock_from(args.now.as_deref())?;
    let mut state = ConversationState::default();
    if let Some(text) = args.once {
        let reply = bot.respond(&text, &mut state, clock.now());
        println!("{}", render(&reply));
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
        let reply = bot.respond(&text, &mut state, clock.now());
        println!("\n窓口> {}", render(&reply).replace('\n', "\n      "));
        last = Some(reply);
    }
    Ok(ExitCode::SUCCESS)
}
