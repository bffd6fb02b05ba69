//! `madoguchi staff user add|list|disable|enable|passwd|link`: console accounts.
//! Passwords come from stdin (`--password-stdin`), never from the command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use madoguchi::accounts::{Accounts, StaffRole};
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::store::Store;

use super::api_key::refused;

#[derive(Subcommand)]
pub enum Command {
    /// Create an account; the password is read from stdin (at least 10 characters).
    Add {
        name: String,
        #[arg(long, default_value = "staff")]
        role: StaffRole,
        /// Read the password from stdin (first line). Required: passwords never go on the command line.
        #[arg(long)]
        password_stdin: bool,
    },
    /// The accounts, their roles, locks and linked chat ids.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (its sessions end at once).
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
    /// Set a new password from stdin; unlocks the account and ends its sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Link a chat-platform staff id (slack:U123, discord:456) to an account.
    Link { name: String, platform_id: String },
}

fn read_password(flag: bool) -> anyhow::Result<String> {
    anyhow::ensure!(flag, "pass --password-stdin and give the password on stdin");
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from stdin")?;
    let pw = s.lines().next().unwrap_or("").to_string();
    anyhow::ensure!(!pw.is_empty(), "no password on stdin");
    Ok(pw)
}

pub fn run(db: Option<&PathBuf>, command: Command) -> anyhow::Result<ExitCode> {
    let password = match &command {
        Command::Add { password_stdin, .. } | Command::Passwd { password_stdin, .. } => {
            Some(read_password(*password_stdin)?)
        }
        _ => None,
    };
    let rt = super::runtime()?;
    let cfg = super::store_config(db);
    rt.block_on(async move {
        let store = Store::connect(&cfg)
            .await
            .context("cannot open the store (is DATABASE_URL reachable?)")?;
        let accounts = Accounts::new(store);
        let now = SystemClock.now();
        let pw = password.unwrap_or_default();
        let done = |msg: String| {
            println!("{msg}");
            ExitCode::SUCCESS
        };
        Ok(match command {
            Command::Add { name, role, .. } => {
                match accounts.add_account(&name, role, &pw, now).await {
                    Ok(()) => done(format!(
                        "アカウント {name}（{}）を作成しました。",
                        role.as_str()
                    )),
                    Err(e) => return refused(e),
                }
            }
            Command::List { json } => {
                for a in accounts
                    .list_accounts()
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?
                {
                    if json {
                        println!("{}", serde_json::to_string(&a)?);
                    } else {
                        let state = if a.disabled {
                            "disabled".to_string()
                        } else if let Some(u) = &a.locked_until {
                            format!("locked until {u}")
                        } else {
                            "active".into()
                        };
                        println!(
                            "{:<20} {:<7} {state:<40} {}",
                            a.name,
                            a.role.as_str(),
                            a.links.join(",")
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Command::Disable { name } => match accounts.set_disabled(&name, true, now).await {
                Ok(()) => done(format!("アカウント {name} を無効にしました。")),
                Err(e) => return refused(e),
            },
            Command::Enable { name } => match accounts.set_disabled(&name, false, now).await {
                Ok(()) => done(format!("アカウント {name} を有効にしました。")),
                Err(e) => return refused(e),
            },
            Command::Passwd { name, .. } => match accounts.set_password(&name, &pw, now).await {
                Ok(()) => done(format!("{name} のパスワードを変更しました。")),
                Err(e) => return refused(e),
            },
            Command::Link { name, platform_id } => {
                match accounts.link(&name, &platform_id, now).await {
                    Ok(()) => done(format!("{platform_id} を {name} に紐づけました。")),
                    Err(e) => return refused(e),
                }
            }
        })
    })
}
