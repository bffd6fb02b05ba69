//! `madoguchi serve`: runs the HTTP API and every configured chat channel until
//! SIGTERM/Ctrl-C (settings: environment variables, optional TOML file).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use madoguchi::app::Application;
use madoguchi::config::Config;

#[derive(Parser)]
pub struct Args {
    /// Address to listen on (default 127.0.0.1:8080, or MADOGUCHI_ADDR).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// TOML settings file (environment variables win over it). Also MADOGUCHI_CONFIG.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(
    content: Option<&PathBuf>,
    db: Option<&PathBuf>,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(a) = args.addr {
        config.addr = a;
    }
    if let Some(c) = content {
        config.content = Some(c.clone());
    }
    for line in config.summary() {
        eprintln!("madoguchi serve: {line}");
    }
    let store = super::store_config(db);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let app = Application::build(config, store).await?;
        eprintln!("madoguchi serve: listening on http://{}", app.local_addr());
        app.run_until_stopped().await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
