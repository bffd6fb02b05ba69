//! `madoguchi faq export|check`: the FAQ from the bot's own content, in several
//! formats, and the proof that every exported answer is what the bot replies.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use madoguchi::faq::{self, Faq};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Markdown for the website.
    Md,
    /// One self-contained HTML page with search.
    Html,
    /// CSV for Excel (RFC 4180, CRLF; add --bom for Excel).
    Csv,
    /// TSV in the Azure custom question answering import layout.
    Tsv,
    /// JSON array of entries.
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write the FAQ in one format (to stdout, or to --out FILE).
    Export {
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// Output file (default: stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Start the file with a UTF-8 byte order mark (CSV/TSV, for Excel).
        #[arg(long)]
        bom: bool,
    },
    /// Ask the bot every exported question; list answers that differ, exit 1 if any.
    Check {
        /// Also ask every listed variant phrasing.
        #[arg(long)]
        variants: bool,
    },
}

pub fn run(content: Option<&PathBuf>, cmd: Command) -> anyhow::Result<ExitCode> {
    let bot = super::load_bot(content)?;
    let faq = Faq::from_bot(&bot);
    match cmd {
        Command::Export { format, out, bom } => {
            if bom && !matches!(format, Format::Csv | Format::Tsv) {
                eprintln!("madoguchi: --bom only applies to csv and tsv; ignored");
            }
            let text = match format {
                Format::Md => faq::markdown::render(&faq),
                Format::Html => faq::html::render(&faq),
                Format::Csv => faq::csv::render_csv(&faq, bom),
                Format::Tsv => faq::csv::render_tsv(&faq, bom),
                Format::Json => faq::json::render(&faq),
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "{} に {} 件を書き出しました",
                        path.display(),
                        faq.entries.len()
                    );
                }
                None => {
                    let mut so = std::io::stdout().lock();
                    so.write_all(text.as_bytes())?;
                    so.flush()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { variants } => {
            let (asked, bad) = faq::check(&bot, &faq, variants);
            for m in &bad {
                println!("MISMATCH {} 「{}」: {}", m.id, m.question, m.reason());
                println!("  expected: {}", first_line(&m.expected));
                println!("  got:      {}", first_line(&m.got));
            }
            if bad.is_empty() {
                println!("ok: the bot replies with the exported answer to all {asked} questions ({} entries)", faq.entries.len());
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{} of {asked} questions get a different reply", bad.len());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    let short: String = l.chars().take(80).collect();
    if short.chars().count() < l.chars().count() || s.lines().count() > 1 {
        format!("{short}…")
    } else {
        short
    }
}
