//! The `madoguchi serve` process (zero-to-production style): [`Application::build`]
//! binds the listener and wires every configured channel; [`Application::port`] tells
//! tests where it is; [`Application::run_until_stopped`] serves until SIGTERM/Ctrl-C,
//! then shuts down gracefully: in-flight requests finish, spawned answers are posted,
//! and the staff loop makes a last pass so no accepted escalation or staff reply waits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serenity::all::{Client, Http, ShardManager};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::channels::metrics::Metrics;
use crate::channels::ratelimit::RateLimiter;
use crate::channels::slack::SlackState;
use crate::channels::{self, discord, slack, Shared, Tasks};
use crate::config::{Config, DiscordConfig};
use crate::content::Content;
use crate::core::hours::{Clock, SystemClock};
use crate::core::turn::ChannelKind;
use crate::engine;
use crate::server::Limits;
use crate::service::{Escalation, Service, StoreConfig};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("content: {0}")]
    Content(String),
    #[error("store: {0}")]
    Store(String),
    #[error("discord client: {0}")]
    Discord(String),
    #[error("server: {0}")]
    Serve(std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    shared: Shared,
    slack: Option<Arc<SlackState>>,
    discord: Option<DiscordConfig>,
    config: Config,
    limits: Limits,
}

impl Application {
    /// Loads the content, opens the store and binds `config.addr`.
    pub async fn build(config: Config, store: StoreConfig) -> Result<Application, AppError> {
        let content = match &config.content {
            Some(dir) => Content::from_dir(dir).map_err(|e| AppError::Content(format!("{}: {e}", dir.display())))?,
            None => Content::embedded(),
        };
        let bot = tokio::task::spawn_blocking(move || engine::build(&content))
            .await
            .map_err(|e| AppError::Content(e.to_string()))?
            .map_err(|e| AppError::Content(e.to_string()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let service = Service::build(Arc::new(bot), store, clock).await.map_err(|e| AppError::Store(e.to_string()))?;
        Application::build_with(config, service).await
    }

    /// Wires the channels around an existing service and binds `config.addr` (port 0
    /// picks a free port).
    pub async fn build_with(config: Config, service: Service) -> Result<Application, AppError> {
        let listener = TcpListener::bind(config.addr).await.map_err(|source| AppError::Bind { addr: config.addr, source })?;
        let addr = listener.local_addr().map_err(|source| AppError::Bind { addr: config.addr, source })?;
        let shared = Shared {
            service,
            metrics: Arc::new(Metrics::default()),
            limiter: Arc::new(RateLimiter::new(config.rate_limit)),
            tasks: Tasks::default(),
            wake: Arc::new(Notify::new()),
        };
        let slack = config.slack.clone().map(|c| Arc::new(SlackState::new(c)));
        let router = channels::router(shared.clone(), &config, slack.clone());
        Ok(Application { listener, addr, router, shared, slack, discord: config.discord.clone(), config, limits: Limits::default() })
    }

    /// Other HTTP timeouts and limits than the defaults (tests use short ones).
    pub fn with_limits(mut self, limits: Limits) -> Application {
        self.limits = limits;
        self
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, then shuts down gracefully.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), AppError> {
        let Application { listener, addr, router, shared, slack, discord, config, limits } = self;
        for line in config.summary() {
            tracing::info!("{line}");
        }

        // Discord: a gateway client in the background; its failure never stops HTTP.
        let mut discord_http: Option<(Arc<Http>, DiscordConfig)> = None;
        let mut shards: Option<Arc<ShardManager>> = None;
        if let Some(dc) = discord {
            match Client::builder(dc.token.expose(), discord::intents()).event_handler(discord::Handler::new(shared.clone(), dc.clone())).await {
                Ok(mut client) => {
                    discord_http = Some((client.http.clone(), dc));
                    shards = Some(client.shard_manager.clone());
                    tokio::spawn(async move {
                        if let Err(e) = client.start().await {
                            tracing::error!(error = %e, "Discord client stopped");
                        }
                    });
                }
                Err(e) => tracing::error!(error = %e, "could not build the Discord client; Discord is off"),
            }
        }

        // The staff loop: escalations to staff channels, staff replies to members.
        let (stop_tx, stop_rx) = watch::channel(false);
        let staff_loop = tokio::spawn(staff_loop(shared.clone(), slack, discord_http, config.poll_interval, stop_rx));

        tracing::info!(%addr, "madoguchi serving");
        let served = crate::server::serve(listener, router, limits, stop).await;

        // bounded: accepted work is kept (database or spool) within the service's
        // budgets; anything still running after the grace period is left behind
        tracing::info!("shutting down: finishing accepted work");
        let grace = limits.shutdown_grace;
        if let Some(s) = shards {
            let _ = tokio::time::timeout(grace, s.shutdown_all()).await;
        }
        if tokio::time::timeout(grace, shared.tasks.wait_idle()).await.is_err() {
            tracing::warn!("{} accepted task(s) still running after {grace:?}; stopping anyway", shared.tasks.running());
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(grace, staff_loop).await;
        tracing::info!("stopped");
        served.map_err(AppError::Serve)
    }
}

/// Which staff channel posts an escalation: Discord's own go to Discord when it has a
/// staff channel; everything else to Slack when it has one; otherwise whichever has.
fn route_escalations(slack_staff: bool, discord_staff: bool) -> (impl Fn(&Escalation) -> bool + Copy, impl Fn(&Escalation) -> bool + Copy) {
    let to_slack = move |e: &Escalation| slack_staff && !(discord_staff && e.channel == ChannelKind::Discord);
    let to_discord = move |e: &Escalation| discord_staff && (e.channel == ChannelKind::Discord || !slack_staff);
    (to_slack, to_discord)
}

async fn staff_pass(shared: &Shared, slack: &Option<Arc<SlackState>>, discord: &Option<(Arc<Http>, DiscordConfig)>) {
    let slack_staff = slack.as_ref().is_some_and(|s| s.cfg.staff_channel.is_some());
    let discord_staff = discord.as_ref().is_some_and(|(_, d)| d.staff_channel_id.is_some());
    let (to_slack, to_discord) = route_escalations(slack_staff, discord_staff);
    if let Some(s) = slack {
        slack::post_escalations(shared, s, to_slack).await;
        slack::deliver_outbox(shared, s).await;
    }
    if let Some((http, d)) = discord {
        discord::post_escalations(shared, http, d, to_discord).await;
        discord::deliver_outbox(shared, http).await;
    }
}

async fn staff_loop(
    shared: Shared,
    slack: Option<Arc<SlackState>>,
    discord: Option<(Arc<Http>, DiscordConfig)>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    if slack.is_none() && discord.is_none() {
        return;
    }
    loop {
        staff_pass(&shared, &slack, &discord).await;
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    // one last pass after everything accepted has been answered
    staff_pass(&shared, &slack, &discord).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn esc(channel: ChannelKind) -> Escalation {
        Escalation::sample(1, channel, "")
    }

    #[test]
    fn escalations_go_to_exactly_one_staff_channel() {
        for (s, d) in [(true, true), (true, false), (false, true)] {
            let (to_s, to_d) = route_escalations(s, d);
            for ch in [ChannelKind::Slack, ChannelKind::Discord, ChannelKind::Http, ChannelKind::Terminal, ChannelKind::Mattermost] {
                let e = esc(ch);
                assert_eq!(u8::from(to_s(&e)) + u8::from(to_d(&e)), 1, "slack={s} discord={d} {ch:?}");
            }
        }
        let (to_s, _) = route_escalations(true, true);
        assert!(!to_s(&esc(ChannelKind::Discord)));
    }
}
