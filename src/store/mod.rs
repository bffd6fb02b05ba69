//! Persistence over sqlx: one [`Store`] over SQLite (the embedded default) or
//! PostgreSQL (`DATABASE_URL=postgres://…`), the same SQL on both (`$n` placeholders,
//! RFC 3339 UTC text timestamps, BIGINT/INTEGER ids). Migrations live in
//! `migrations/sqlite` and `migrations/postgres` and run at start-up. Text reaching
//! the store is already redacted by the service.

mod model;
mod queries;
pub use queries::StaffError;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgPoolOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use tokio::sync::Mutex;

pub use model::*;

/// File name of the SQLite database in the data directory.
pub const DB_FILE: &str = "madoguchi.db";

/// Where the store lives. Build it with [`StoreConfig::from_env`] and override fields
/// (the CLI's `--db` sets `sqlite_path`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// `postgres://…` (or `sqlite:PATH`); wins over the SQLite default.
    pub database_url: Option<String>,
    /// SQLite file; when set explicitly it wins over `database_url`.
    pub sqlite_path: Option<PathBuf>,
    /// The outage spool (default: next to the SQLite file, or in the data directory).
    pub spool_path: Option<PathBuf>,
    /// PII redaction before anything is written (default on).
    pub redact: bool,
    /// How long to wait for a database connection before spooling.
    pub connect_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { database_url: None, sqlite_path: None, spool_path: None, redact: true, connect_timeout: Duration::from_secs(3) }
    }
}

/// The backend a config resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreConfig {
    /// `DATABASE_URL`, `MADOGUCHI_DB` (SQLite file; used when `DATABASE_URL` is unset),
    /// `MADOGUCHI_SPOOL`, `MADOGUCHI_REDACT=off`, `MADOGUCHI_DB_TIMEOUT` (seconds).
    pub fn from_env() -> Self {
        let nonempty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let database_url = nonempty("DATABASE_URL");
        let sqlite_path = if database_url.is_none() { nonempty("MADOGUCHI_DB").map(PathBuf::from) } else { None };
        StoreConfig {
            database_url,
            sqlite_path,
            spool_path: nonempty("MADOGUCHI_SPOOL").map(PathBuf::from),
            redact: crate::redact::Redactor::from_env().enabled,
            connect_timeout: nonempty("MADOGUCHI_DB_TIMEOUT")
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::from_secs(3)),
        }
    }

    /// A SQLite store at `path` (tests, `--db`).
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        StoreConfig { sqlite_path: Some(path.into()), ..StoreConfig::default() }
    }

    /// A store at a database URL.
    pub fn url(url: impl Into<String>) -> Self {
        StoreConfig { database_url: Some(url.into()), ..StoreConfig::default() }
    }

    pub fn backend(&self) -> Result<Backend, StoreError> {
        if let Some(p) = &self.sqlite_path {
            return Ok(Backend::Sqlite(p.clone()));
        }
        match &self.database_url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Ok(Backend::Postgres(u.clone())),
            Some(u) if u.starts_with("sqlite:") => {
                let p = u.trim_start_matches("sqlite:").trim_start_matches("//");
                let p = p.split('?').next().unwrap_or(p);
                Ok(Backend::Sqlite(PathBuf::from(p)))
            }
            Some(u) => Err(StoreError::Config(format!("DATABASE_URL must start with postgres:// or sqlite: (got {:?})", scheme_of(u)))),
            None => Ok(Backend::Sqlite(default_data_dir().join(DB_FILE))),
        }
    }

    /// The spool file this config uses.
    pub fn spool_file(&self) -> Result<PathBuf, StoreError> {
        if let Some(p) = &self.spool_path {
            return Ok(p.clone());
        }
        Ok(match self.backend()? {
            Backend::Sqlite(p) => {
                let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| DB_FILE.into());
                name.push(".spool.jsonl");
                p.with_file_name(name)
            }
            Backend::Postgres(_) => default_data_dir().join("spool.jsonl"),
        })
    }
}

fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}

/// `dirs::data_dir()/madoguchi` (falls back to `./.madoguchi`).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map(|d| d.join("madoguchi")).unwrap_or_else(|| PathBuf::from(".madoguchi"))
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store configuration: {0}")]
    Config(String),
    #[error("bad row in the store: {0}")]
    Corrupt(String),
    #[error("database unreachable (retrying in a few seconds)")]
    Unavailable,
    #[error("spool {path}: {source}")]
    Spool { path: PathBuf, source: std::io::Error },
}

impl StoreError {
    /// The database could not be reached (as opposed to a query being wrong): the
    /// caller spools and retries later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable => true,
            StoreError::Db(e) => is_unavailable(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_unavailable(e),
            _ => false,
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed)
        || matches!(e, sqlx::Error::Database(d) if d.code().as_deref().is_some_and(|c| c.starts_with("57P") || c.starts_with("08") || c == "3D000"))
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool the store holds (each arm is typed for
/// its backend, the SQL text is shared).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A connection pool plus "migrations done" — cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    backend: Backend,
    migrated: Arc<AtomicBool>,
    migrate_lock: Arc<Mutex<()>>,
    /// After a connection failure, calls fail fast until this instant (so an outage
    /// costs the member one timeout, not one per query).
    down_until: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// How long the store stays "down" after a connection failure before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Builds the pool without connecting (a down database is not an error here).
    /// For SQLite the parent directory is created.
    pub fn open(cfg: &StoreConfig) -> Result<Store, StoreError> {
        let backend = cfg.backend()?;
        let db = match &backend {
            Backend::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
                }
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(15))
                    .foreign_keys(true);
                Db::Sqlite(SqlitePoolOptions::new().max_connections(4).acquire_timeout(cfg.connect_timeout).connect_lazy_with(opts))
            }
            Backend::Postgres(url) => {
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(cfg.connect_timeout)
                    .connect_lazy(url)
                    .map_err(|e| StoreError::Config(format!("bad DATABASE_URL: {e}")))?;
                Db::Postgres(pool)
            }
        };
        Ok(Store {
            db,
            backend,
            migrated: Arc::new(AtomicBool::new(false)),
            migrate_lock: Arc::new(Mutex::new(())),
            down_until: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// Opens and migrates (fails when the database is unreachable).
    pub async fn connect(cfg: &StoreConfig) -> Result<Store, StoreError> {
        let s = Store::open(cfg)?;
        s.ready().await?;
        Ok(s)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// A human description of where the data is (never prints a password).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(p) => format!("SQLite {}", p.display()),
            Backend::Postgres(u) => {
                let host = u.rsplit('@').next().unwrap_or(u);
                let host = host.trim_start_matches("postgres://").trim_start_matches("postgresql://");
                format!("PostgreSQL {host}")
            }
        }
    }

    /// Runs the migrations once per process (retried after a failure); fails fast
    /// with [`StoreError::Unavailable`] for a while after a connection failure.
    pub async fn ready(&self) -> Result<(), StoreError> {
        if let Some(t) = *self.down_until.lock().expect("down_until lock") {
            if Instant::now() < t {
                return Err(StoreError::Unavailable);
            }
        }
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let _g = self.migrate_lock.lock().await;
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let r = match &self.db {
            Db::Sqlite(p) => SQLITE_MIGRATOR.run(p).await,
            Db::Postgres(p) => POSTGRES_MIGRATOR.run(p).await,
        };
        if let Err(e) = r {
            let e = StoreError::from(e);
            self.note_error(&e);
            return Err(e);
        }
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    /// Records a failure: when it means the database is unreachable, later calls fail
    /// fast for [`RETRY_AFTER`].
    pub fn note_error(&self, e: &StoreError) {
        if e.is_unavailable() && !matches!(e, StoreError::Unavailable) {
            *self.down_until.lock().expect("down_until lock") = Some(Instant::now() + RETRY_AFTER);
        }
    }

    /// Forgets a recorded outage (tests, or an operator who knows the database is back).
    pub fn reset_outage(&self) {
        *self.down_until.lock().expect("down_until lock") = None;
    }

    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}
