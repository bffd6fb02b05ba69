//! `madoguchi api-key add|list|revoke`: keys for the HTTP API. A new key is printed
//! once; the store keeps only its SHA-256 hash.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use madoguchi::accounts::{AccountError, Accounts};
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::store::Store;

#[derive(Subcommand)]
pub enum Command {
    /// Create a key called NAME (letters, digits, . _ -) and print it once.
    Add { name: String },
    /// The keys (names and dates; never the keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests with it get 401 from now on.
    Revoke { name: String },
}

/// A refusal (unknown name, duplicate…) is exit 1 with its message; store errors are errors.
pub fn refused(e: AccountError) -> anyhow::Result<ExitCode> {
    match e {
        AccountError::Store(e) => Err(e.into()),
        AccountError::Hash(e) => Err(anyhow::anyhow!(e)),
        other => {
            eprintln!("{other}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn run(db: Option<&PathBuf>, command: Command) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    let cfg = super::store_config(db);
    rt.block_on(async move {
        let store = Store::connect(&cfg).await.context("cannot open the store (is DATABASE_URL reachable?)")?;
        let accounts = Accounts::new(store);
        let now = SystemClock.now();
        Ok(match command {
            Command::Add { name } => match accounts.add_api_key(&name, now).await {
                Ok(key) => {
                    println!("{key}");
                    eprintln!("API キー {name} を作成しました。このキーは二度と表示されません。安全な場所に保管してください。");
                    ExitCode::SUCCESS
                }
                Err(e) => return refused(e),
            },
            Command::List { json } => {
                for k in accounts.list_api_keys().await.map_err(anyhow::Error::from)? {
                    if json {
                        println!("{}", serde_json::to_string(&k)?);
                    } else {
                        let state = k.revoked_at.as_deref().map(|r| format!("revoked {r}")).unwrap_or_else(|| "active".into());
                        println!("{:<24} created {}  {state}", k.name, k.created_at);
                    }
                }
                ExitCode::SUCCESS
            }
            Command::Revoke { name } => match accounts.revoke_api_key(&name, now).await {
                Ok(()) => {
                    println!("API キー {name} を無効にしました。");
                    ExitCode::SUCCESS
                }
                Err(e) => return refused(e),
            },
        })
    })
}
