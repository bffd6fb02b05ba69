//! `madoguchi` command line: parses arguments, builds what a command needs, runs it.

mod cli;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "madoguchi",
    version,
    about = "日本医師会サイバーセキュリティ支援制度の問い合わせ窓口ボット"
)]
struct Cli {
    /// Content directory holding intents/, dictionaries/ and rules/ (default: the copy
    /// compiled into this binary).
    #[arg(long, global = true, env = "MADOGUCHI_CONTENT")]
    content: Option<PathBuf>,
    /// SQLite database file (default: MADOGUCHI_DB, else DATABASE_URL, else
    /// <data dir>/madoguchi/madoguchi.db). DATABASE_URL=postgres://… selects PostgreSQL.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to madoguchi in the terminal.
    Chat(cli::chat::Args),
    /// JSON Lines {"id","text"} on stdin → {"id","intent","confidence","urgent"} on stdout.
    Classify(cli::classify::Args),
    /// JSON Lines {"id","text","today"} on stdin → the payment assessment on stdout.
    Assess,
    /// Intent data: list training examples, validate the files.
    Intents {
        #[command(subcommand)]
        command: cli::intents::Command,
    },
    /// FAQ from the same content: export (md, html, csv, tsv, json) and check against the bot.
    Faq {
        #[command(subcommand)]
        command: cli::faq::Command,
    },
    /// Score a labelled JSONL file (dev-set format): accuracy, per intent, confusion, urgency.
    Eval(cli::eval::Args),
    /// Escalation queue: list, show, claim, reply, resolve.
    Staff {
        #[command(subcommand)]
        command: cli::staff::Command,
    },
    /// Keys for the HTTP API: add (printed once), list, revoke.
    ApiKey {
        #[command(subcommand)]
        command: cli::api_key::Command,
    },
    /// Messages per intent, fallbacks, escalations, median time to claim.
    Stats(cli::stats::Args),
    /// Serve the HTTP API, Slack, Mattermost and Discord (whichever are configured).
    Serve(cli::serve::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let content = cli.content.as_ref();
    let result = match cli.command {
        Command::Chat(args) => cli::chat::run(content, cli.db.as_ref(), args),
        Command::Classify(args) => cli::classify::run(content, args),
        Command::Assess => cli::assess::run(content),
        Command::Intents { command } => cli::intents::run(content, command),
        Command::Eval(args) => cli::eval::run(content, args),
        Command::Staff { command } => cli::staff::run(cli.db.as_ref(), command),
        Command::ApiKey { command } => cli::api_key::run(cli.db.as_ref(), command),
        Command::Stats(args) => cli::stats::run(cli.db.as_ref(), args),
        Command::Faq { command } => cli::faq::run(content, command),
        Command::Serve(args) => cli::serve::run(content, cli.db.as_ref(), args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("madoguchi: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
