//! Command implementations for the `madoguchi` binary (anyhow lives here and in main).

pub mod api_key;
pub mod assess;
pub mod chat;
pub mod classify;
pub mod eval;
pub mod faq;
pub mod intents;
pub mod jsonl;
pub mod serve;
pub mod staff;
pub mod staff_user;
pub mod stats;

use std::path::PathBuf;

use anyhow::Context;
use madoguchi::{content::Content, core::dialogue::Bot, engine, store::StoreConfig};

/// Loads content from `dir` (or the copy compiled in) and builds the bot.
pub fn load_bot(dir: Option<&PathBuf>) -> anyhow::Result<Bot> {
    let content = load_content(dir)?;
    engine::build(&content).with_context(|| format!("loading content from {}", content.origin))
}

pub fn load_content(dir: Option<&PathBuf>) -> anyhow::Result<Content> {
    match dir {
        Some(d) => Content::from_dir(d)
            .with_context(|| format!("reading content directory {}", d.display())),
        None => Ok(Content::embedded()),
    }
}

/// The store configuration from the environment, with `--db PATH` winning.
pub fn store_config(db: Option<&PathBuf>) -> StoreConfig {
    let mut cfg = StoreConfig::from_env();
    if let Some(p) = db {
        cfg.sqlite_path = Some(p.clone());
    }
    cfg
}

/// A small tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Writes a whole report to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
