//! `madoguchi intents examples|check`: the training data, and its validation.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use madoguchi::{content::Content, engine, engine::EngineError};
use serde_json::json;

#[derive(Subcommand)]
pub enum Command {
    /// Every training example as {"intent","text"} JSON Lines.
    Examples,
    /// Validate intents/, dictionaries/ and rules/; errors name file and line.
    Check,
    /// k-fold cross-validation over the examples: which examples the others do not support.
    Cv {
        #[arg(long, default_value_t = 5)]
        folds: usize,
    },
}

pub fn run(content: Option<&PathBuf>, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Examples => {
            let bot = super::load_bot(content)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for i in &bot.intents {
                for ex in &i.examples {
                    writeln!(
                        out,
                        "{}",
                        json!({ "intent": i.label.as_str(), "text": ex.text })
                    )?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cv { folds } => {
            let bot = super::load_bot(content)?;
            let (acc, misses) = engine::cross_validate(&bot, folds);
            for m in &misses {
                println!(
                    "{}:{}: {} → {} ({:.2}) {}",
                    m.file, m.line, m.want, m.got, m.confidence, m.text
                );
            }
            println!(
                "{folds}-fold cross-validation accuracy: {acc:.3} ({} misses)",
                misses.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            // editors run this in their checkout: prefer the working tree over the copy
            // compiled in
            let dir = content.cloned().or_else(|| {
                std::path::Path::new("intents")
                    .is_dir()
                    .then(|| PathBuf::from("."))
            });
            let c = match &dir {
                Some(d) => Content::from_dir(d)?,
                None => Content::embedded(),
            };
            match engine::build(&c) {
                Ok(bot) => {
                    let n: usize = bot.intents.iter().map(|i| i.examples.len()).sum();
                    println!(
                        "ok: {} intents, {n} examples, {} features ({})",
                        bot.intents.len(),
                        bot.classifier.feature_count(),
                        c.origin
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(EngineError::Content(errs)) => {
                    for e in &errs {
                        eprintln!("error: {e}");
                    }
                    eprintln!("{} error(s) in {}", errs.len(), c.origin);
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
