//! The `madoguchi serve` process (zero-to-production style): [`Application::build`]
//! binds the listener and wires every configured channel; [`Application::port`] tells
//! tests where it is; [`Application::run_until_stopped`] serves until SIGTERM/Ctrl-C,
//! then shuts down gracefully: in-flight requests finish, spawned answers are posted,
//! and the staff loop makes a last pass so no accepted escalation or staff reply waits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serenity::all::{Client, HttpBuilder, ShardManager};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::channels::metrics::Metrics;
use crate::channels::ratelimit::RateLimiter;
use crate::channels::slack::SlackState;
use crate::channels::staff::{staff_loop, StaffChannels};
use crate::channels::{self, discord, mattermost, slack, Shared, Tasks};
use crate::config::{Config, DiscordConfig};
use crate::content::Content;
use crate::core::hours::{Clock, SystemClock};
use crate::engine;
use crate::server::Limits;
use crate::service::{Service, StoreConfig};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
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
            Some(dir) => Content::from_dir(dir)
                .map_err(|e| AppError::Content(format!("{}: {e}", dir.display())))?,
            None => Content::embedded(),
        };
        let bot = tokio::task::spawn_blocking(move || engine::build(&content))
            .await
            .map_err(|e| AppError::Content(e.to_string()))?
            .map_err(|e| AppError::Content(e.to_string()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let service = Service::build(Arc::new(bot), store, clock)
            .await
            .map_err(|e| AppError::Store(e.to_string()))?;
        Application::build_with(config, service).await
    }

    /// Wires the channels around an existing service and binds `config.addr` (port 0
    /// picks a free port).
    pub async fn build_with(config: Config, service: Service) -> Result<Application, AppError> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| AppError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| AppError::Bind {
            addr: config.addr,
            source,
        })?;
        let shared = Shared {
            service,
            metrics: Arc::new(Metrics::default()),
            limiter: Arc::new(RateLimiter::new(config.rate_limit)),
            tasks: Tasks::default(),
            wake: Arc::new(Notify::new()),
        };
        let slack = config.slack.clone().map(|c| Arc::new(SlackState::new(c)));
        let router = channels::router(shared.clone(), &config, slack.clone());
        Ok(Application {
            listener,
            addr,
            router,
            shared,
            slack,
            discord: config.discord.clone(),
            config,
            limits: Limits::default(),
        })
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
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let Application {
            listener,
            addr,
            router,
            shared,
            slack,
            discord,
            config,
            limits,
        } = self;
        for line in config.summary() {
            tracing::info!("{line}");
        }

        // The staff channels, in order of preference for escalations from channels
        // without a staff room of their own: Slack, Discord, Mattermost.
        let mut staff: StaffChannels = Vec::new();
        if let Some(s) = &slack {
            staff.push(s.clone());
        }

        // Slack Socket Mode: a WebSocket out to Slack; stopped before the drain below.
        let (intake_tx, intake_rx) = watch::channel(false);
        let mut socket = None;
        if let Some(s) = slack.as_ref() {
            if let Some(app_token) = s.cfg.app_token.clone() {
                let ctx = slack::Ctx {
                    shared: shared.clone(),
                    slack: s.clone(),
                };
                socket = Some(tokio::spawn(slack::socket::run(
                    ctx,
                    app_token,
                    intake_rx.clone(),
                )));
            }
        }

        // Discord: a gateway client in the background; its failure never stops HTTP.
        let mut shards: Option<Arc<ShardManager>> = None;
        if let Some(dc) = discord {
            match discord_client(&dc, shared.clone()).await {
                Ok(client) => {
                    staff.push(Arc::new(discord::DiscordStaff {
                        http: client.http.clone(),
                        cfg: dc,
                    }));
                    shards = Some(client.shard_manager.clone());
                    // every replica posts and delivers through REST; one runs the gateway
                    tokio::spawn(run_discord_gateway(
                        client,
                        shared.service.store().clone(),
                        intake_rx.clone(),
                    ));
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not build the Discord client; Discord is off")
                }
            }
        }
        if let Some(m) = config
            .mattermost
            .as_ref()
            .and_then(mattermost::MattermostStaff::new)
        {
            staff.push(Arc::new(m));
        }
        let pushed: Vec<_> = staff
            .iter()
            .filter(|c| c.pushes_replies())
            .map(|c| c.kind())
            .collect();
        shared.service.set_pushed(&pushed);

        // The staff loop: escalations to staff channels, staff replies to members.
        let (stop_tx, stop_rx) = watch::channel(false);
        let staff_loop = tokio::spawn(staff_loop(
            shared.clone(),
            staff,
            config.poll_interval,
            stop_rx,
        ));

        tracing::info!(%addr, "madoguchi serving");
        let served = crate::server::serve(listener, router, limits, stop).await;

        // bounded: accepted work is kept (database or spool) within the service's
        // budgets; anything still running after the grace period is left behind
        tracing::info!("shutting down: finishing accepted work");
        let _ = intake_tx.send(true);
        if let Some(s) = socket {
            let _ = s.await;
        }
        let grace = limits.shutdown_grace;
        if let Some(s) = shards {
            let _ = tokio::time::timeout(grace, s.shutdown_all()).await;
        }
        if tokio::time::timeout(grace, shared.tasks.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} accepted task(s) still running after {grace:?}; stopping anyway",
                shared.tasks.running()
            );
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(grace, staff_loop).await;
        tracing::info!("stopped");
        served.map_err(AppError::Serve)
    }
}

/// Runs the Discord gateway in the one replica holding the gateway lock (a PostgreSQL
/// advisory lock; always this process on SQLite). The others wait and take over when
/// the holder stops (its connection closes) — checked every few seconds.
async fn run_discord_gateway(
    mut client: Client,
    store: crate::store::Store,
    mut stop: watch::Receiver<bool>,
) {
    const RETRY: std::time::Duration = std::time::Duration::from_secs(3);
    let mut told = false;
    let mut lock = loop {
        if *stop.borrow() {
            return;
        }
        match store.try_gateway_lock().await {
            Ok(Some(l)) => break l,
            Ok(None) if !told => {
                tracing::info!(
                    "another replica runs the Discord gateway; this one takes over if it stops"
                );
                told = true;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not take the Discord gateway lock (will retry)")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.changed() => return,
        }
    };
    tracing::info!("this replica runs the Discord gateway");
    let shards = client.shard_manager.clone();
    let watch_lock = async move {
        loop {
            tokio::time::sleep(RETRY * 3).await;
            if !lock.alive().await {
                tracing::error!("lost the Discord gateway lock (database connection); stopping the gateway here");
                shards.shutdown_all().await;
                return;
            }
        }
    };
    tokio::select! {
        r = client.start() => {
            if let Err(e) = r {
                tracing::error!(error = %e, "Discord client stopped");
            }
        }
        _ = watch_lock => {}
    }
}

/// The Discord gateway client. With `DISCORD_API_BASE` every REST call (and so the
/// gateway URL from `GET /gateway`) goes to that base instead of discord.com, and
/// serenity's own rate limiter is off: in serenity 0.12 it would build its requests
/// without the proxy, and the proxy (e.g. twilight's http-proxy) does the rate limiting.
async fn discord_client(dc: &DiscordConfig, shared: Shared) -> Result<Client, serenity::Error> {
    let mut http = HttpBuilder::new(dc.token.expose());
    if let Some(base) = &dc.api_base {
        http = http.proxy(base.as_str()).ratelimiter_disabled(true);
    }
    let client = serenity::all::ClientBuilder::new_with_http(http.build(), discord::intents())
        .event_handler(discord::Handler::new(shared, dc.clone()))
        .await?;
    if dc.api_base.is_some() {
        // serenity asks `GET /gateway`; a stand-in may only answer `GET /gateway/bot`
        let mut url = client.ws_url.lock().await;
        if url.as_str() == "wss://gateway.discord.gg" {
            match client.http.get_bot_gateway().await {
                Ok(g) => *url = g.url,
                Err(e) => tracing::warn!(error = %e, "DISCORD_API_BASE gave no gateway URL"),
            }
        }
    }
    Ok(client)
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
