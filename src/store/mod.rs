//! Persistence over sqlx: one [`Store`] over SQLite (the embedded default) or
//! PostgreSQL (`DATABASE_URL=postgres://…`), the same SQL on both (`$n` placeholders,
//! RFC 3339 UTC text timestamps, BIGINT/INTEGER ids). Migrations live in
//! `migrations/sqlite` and `migrations/postgres` and run at start-up. Text reaching
//! the store is already redacted by the service.

mod bulk;
mod class;
mod group;
mod kept;
mod model;
mod queries;
mod reader;
mod replicas;
pub use replicas::GatewayLock;
mod writer;
pub use class::ErrorClass;
pub use queries::{ConversationView, StaffError};
pub use writer::MAX_BATCH;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;
use tokio::sync::Mutex;

use model::ts;
pub use model::*;

/// File name of the SQLite database in the data directory.
pub const DB_FILE: &str = "madoguchi.db";

/// Where the store lives. Build it with [`StoreConfig::from_env`] and override fields
/// (the CLI's `--db` sets `sqlite_path`).
#[derive(Clone, PartialEq)]
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
    /// SQLite: how long a statement waits for another process's lock (short: the
    /// member's turn is spooled instead of waiting).
    pub busy_timeout: Duration,
    /// PostgreSQL: `statement_timeout` and `lock_timeout` of every session.
    pub statement_timeout: Duration,
    /// PostgreSQL pool size.
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            database_url: None,
            sqlite_path: None,
            spool_path: None,
            redact: true,
            connect_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_millis(300),
            statement_timeout: Duration::from_secs(5),
            max_connections: 16,
        }
    }
}

/// Debug without secrets: the database URL as [`crate::redact::database_url`] shows it.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(crate::redact::database_url),
            )
            .field("sqlite_path", &self.sqlite_path)
            .field("spool_path", &self.spool_path)
            .field("redact", &self.redact)
            .field("connect_timeout", &self.connect_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// The backend a config resolves to.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Debug without secrets (see [`StoreConfig`]'s).
impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Backend::Postgres(u) => f
                .debug_tuple("Postgres")
                .field(&crate::redact::database_url(u))
                .finish(),
        }
    }
}

/// The query parameters sqlx's PostgreSQL options read. sqlx logs any other one *with
/// its value* ("ignoring unrecognized connect parameter"), so an `sslpassword=…` would
/// reach the log: [`pg_url_for_sqlx`] drops them first.
const PG_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// `%XX` escapes decoded (for comparing parameter names).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PostgreSQL URL with only the query parameters sqlx reads, and the names of those
/// dropped (names only: a value may be a secret).
pub fn pg_url_for_sqlx(url: &str) -> (String, Vec<String>) {
    let Some((main, query)) = url.split_once('?') else {
        return (url.to_string(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let key = percent_decoded(kv.split_once('=').map_or(kv, |(k, _)| k));
        if PG_PARAMS.contains(&key.as_str()) || (key.starts_with("options[") && key.ends_with(']'))
        {
            kept.push(kv);
        } else if key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            dropped.push(key);
        } else {
            dropped.push("(a parameter)".to_string());
        }
    }
    let url = if kept.is_empty() {
        main.to_string()
    } else {
        format!("{main}?{}", kept.join("&"))
    };
    (url, dropped)
}

impl StoreConfig {
    /// `DATABASE_URL`, `MADOGUCHI_DB` (SQLite file; used when `DATABASE_URL` is unset),
    /// `MADOGUCHI_SPOOL`, `MADOGUCHI_REDACT=off`, `MADOGUCHI_DB_TIMEOUT` (seconds).
    pub fn from_env() -> Self {
        let nonempty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let database_url = nonempty("DATABASE_URL");
        let sqlite_path = if database_url.is_none() {
            nonempty("MADOGUCHI_DB").map(PathBuf::from)
        } else {
            None
        };
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
            ..StoreConfig::default()
        }
    }

    /// A SQLite store at `path` (tests, `--db`).
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            sqlite_path: Some(path.into()),
            ..StoreConfig::default()
        }
    }

    /// A store at a database URL.
    pub fn url(url: impl Into<String>) -> Self {
        StoreConfig {
            database_url: Some(url.into()),
            ..StoreConfig::default()
        }
    }

    pub fn backend(&self) -> Result<Backend, StoreError> {
        if let Some(p) = &self.sqlite_path {
            return Ok(Backend::Sqlite(p.clone()));
        }
        match &self.database_url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Backend::Postgres(u.clone()))
            }
            Some(u) if u.starts_with("sqlite:") => {
                let p = u.trim_start_matches("sqlite:").trim_start_matches("//");
                let p = p.split('?').next().unwrap_or(p);
                Ok(Backend::Sqlite(PathBuf::from(p)))
            }
            Some(u) => Err(StoreError::Config(format!(
                "DATABASE_URL must start with postgres:// or sqlite: (got {:?})",
                scheme_of(u)
            ))),
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
                let mut name = p
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| DB_FILE.into());
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
    dirs::data_dir()
        .map(|d| d.join("madoguchi"))
        .unwrap_or_else(|| PathBuf::from(".madoguchi"))
}

/// Everything that can go wrong in the store. [`StoreError::class`] sorts each into
/// an [`ErrorClass`]; the write path decides by class.
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
    /// A recent failure of this class: the store fails fast until it recovers.
    #[error("database not writable ({0}); retrying in the background")]
    Down(ErrorClass),
    /// The SQLite file was deleted or replaced while the server had it open.
    #[error("the database file {} was deleted or replaced while open", .0.display())]
    Gone(PathBuf),
    /// A group commit this turn was part of failed (the error was recorded once).
    #[error("{message}")]
    Failed { class: ErrorClass, message: String },
    /// The operation did not finish within its time budget.
    #[error("the database did not answer in time")]
    Timeout,
    #[error("spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// The database could not be reached (as opposed to a query being wrong).
    pub fn is_unavailable(&self) -> bool {
        self.class() == ErrorClass::Unavailable
    }
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
        match &$store.db() {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Why writes are refused for now (set by a failure, cleared by a successful probe).
#[derive(Debug, Clone)]
struct Blocked {
    class: ErrorClass,
    message: String,
    /// Callers fail fast until then; the recovery task probes regardless.
    until: Instant,
}

/// What `/healthz` and `/metrics` say about the database.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DbHealth {
    /// Takes writes right now (as far as the last operation and probe know).
    pub writable: bool,
    /// The class of the failure that made it not writable.
    pub class: Option<ErrorClass>,
    pub detail: Option<String>,
}

/// A connection pool plus "migrations done" and the health state — cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<RwLock<Db>>,
    backend: Backend,
    cfg: StoreConfig,
    migrated: Arc<AtomicBool>,
    migrate_lock: Arc<Mutex<()>>,
    blocked: Arc<std::sync::Mutex<Option<Blocked>>>,
    /// SQLite: (device, inode) of the file the pool has open, to notice it being
    /// deleted or replaced; and one connection held open outside the pool, so a
    /// deleted file can still be copied back ([`Store::recover`]).
    file_id: Arc<std::sync::Mutex<Option<(u64, u64)>>>,
    anchor: Arc<Mutex<Option<SqliteConnection>>>,
    /// SQLite takes one writer at a time: serialising writers in the process avoids
    /// busy waits between our own connections.
    write_lock: Arc<Mutex<()>>,
    /// The group writer's queue (started on first use).
    writer: writer::Queue,
    /// The group reader's queue (started on first use).
    reader: reader::Queue,
    /// PostgreSQL connections the group workers keep between batches.
    kept: Arc<kept::Kept>,
}

/// How a write transaction commits. `Durable`: the commit returns once the database
/// has flushed it (SQLite: WAL with `synchronous=NORMAL` — survives a crash or kill of
/// madoguchi; PostgreSQL: `synchronous_commit` as the server has it, on by default).
/// `Relaxed` (PostgreSQL only): `synchronous_commit = off` for that transaction — the
/// server writes and flushes it within 3 × `wal_writer_delay` (600 ms by default); only
/// a crash of the PostgreSQL server or its machine within that window can lose it. The
/// group writer uses it for turns that promise no hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    Durable,
    Relaxed,
}

/// How long calls fail fast after a failure that blocks writes, when no recovery task
/// clears it sooner.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn sqlite_options(path: &std::path::Path, cfg: &StoreConfig) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(cfg.busy_timeout)
        .foreign_keys(true)
}

fn build_pool(backend: &Backend, cfg: &StoreConfig) -> Result<Db, StoreError> {
    Ok(match backend {
        Backend::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    // no ping on every checkout (a round trip to the connection's
                    // thread per query): a broken connection fails its query, which
                    // the write path classifies and spools
                    .test_before_acquire(false)
                    .acquire_timeout(cfg.connect_timeout)
                    .connect_lazy_with(sqlite_options(path, cfg)),
            )
        }
        Backend::Postgres(url) => {
            let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
            let (url, dropped) = pg_url_for_sqlx(url);
            if !dropped.is_empty() {
                tracing::warn!(
                    "DATABASE_URL: ignoring parameter(s) the PostgreSQL driver does not support: {}",
                    dropped.join(", ")
                );
            }
            let opts = PgConnectOptions::from_str(&url)
                .map_err(|e| StoreError::Config(format!("bad DATABASE_URL: {e}")))?
                // server-side bounds: no statement, lock wait or idle transaction runs
                // for ever; the server probes a vanished client with TCP keepalives
                .options([
                    ("statement_timeout", ms(cfg.statement_timeout)),
                    ("lock_timeout", ms(cfg.statement_timeout)),
                    (
                        "idle_in_transaction_session_timeout",
                        ms(cfg.statement_timeout * 2),
                    ),
                    ("tcp_keepalives_idle", "10".to_string()),
                    ("tcp_keepalives_interval", "5".to_string()),
                    ("tcp_keepalives_count", "3".to_string()),
                ]);
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(cfg.max_connections)
                    // a ping on checkout: a server restart or a terminated backend
                    // leaves dead connections in the pool, and recovery must not have
                    // to burn through them one failed query at a time (with grouped
                    // reads and writes a turn checks out well under one connection)
                    .acquire_timeout(cfg.connect_timeout)
                    .max_lifetime(Duration::from_secs(30 * 60))
                    .connect_lazy_with(opts),
            )
        }
    })
}

#[cfg(unix)]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
}

impl Store {
    /// Builds the pool without connecting (a down database is not an error here).
    /// For SQLite the parent directory is created.
    pub fn open(cfg: &StoreConfig) -> Result<Store, StoreError> {
        let backend = cfg.backend()?;
        let db = build_pool(&backend, cfg)?;
        Ok(Store {
            db: Arc::new(RwLock::new(db)),
            backend,
            cfg: cfg.clone(),
            migrated: Arc::new(AtomicBool::new(false)),
            migrate_lock: Arc::new(Mutex::new(())),
            blocked: Arc::new(std::sync::Mutex::new(None)),
            file_id: Arc::new(std::sync::Mutex::new(None)),
            anchor: Arc::new(Mutex::new(None)),
            write_lock: Arc::new(Mutex::new(())),
            writer: Arc::new(std::sync::Mutex::new(None)),
            reader: Arc::new(std::sync::Mutex::new(None)),
            kept: Arc::default(),
        })
    }

    /// Opens and migrates (fails when the database is unreachable).
    pub async fn connect(cfg: &StoreConfig) -> Result<Store, StoreError> {
        let s = Store::open(cfg)?;
        s.ready().await?;
        Ok(s)
    }

    /// The current pool (swapped by [`Store::recover`]).
    pub(crate) fn db(&self) -> Db {
        self.db.read().expect("pool lock").clone()
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// A human description of where the data is (never prints a password).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(p) => format!("SQLite {}", p.display()),
            Backend::Postgres(u) => format!("PostgreSQL {}", crate::redact::database_url(u)),
        }
    }

    fn fail_fast(&self, write: bool) -> Result<(), StoreError> {
        let b = self.blocked.lock().expect("blocked lock");
        match &*b {
            Some(b)
                if Instant::now() < b.until
                    && (write
                        || matches!(b.class, ErrorClass::Unavailable | ErrorClass::Corrupt)) =>
            {
                Err(StoreError::Down(b.class))
            }
            _ => Ok(()),
        }
    }

    /// Runs the migrations once per process (retried after a failure); fails fast
    /// with [`StoreError::Down`] for a while after the database was found unreachable.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.fail_fast(false)?;
        self.migrate().await
    }

    /// Like [`Store::ready`], for an operation that writes: also fails fast while the
    /// database is read-only, full or its file gone, and checks the file is still there.
    pub async fn ready_to_write(&self) -> Result<(), StoreError> {
        self.fail_fast(true)?;
        self.migrate().await?;
        self.check_file()
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let _g = self.migrate_lock.lock().await;
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let r = match &self.db() {
            Db::Sqlite(p) => SQLITE_MIGRATOR.run(p).await,
            Db::Postgres(p) => POSTGRES_MIGRATOR.run(p).await,
        };
        if let Err(e) = r {
            let e = StoreError::from(e);
            self.note_error(&e);
            return Err(e);
        }
        if let Backend::Sqlite(path) = &self.backend {
            // remember which file we have, and keep one connection to it outside the pool
            *self.file_id.lock().expect("file id lock") = file_id(path);
            let mut anchor = self.anchor.lock().await;
            if anchor.is_none() {
                match SqliteConnection::connect_with(&sqlite_options(path, &self.cfg)).await {
                    Ok(c) => *anchor = Some(c),
                    Err(e) => tracing::warn!("no anchor connection to {}: {e}", path.display()),
                }
            }
        }
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    /// SQLite: fails with [`StoreError::Gone`] when the database file was deleted or
    /// replaced since the pool opened it (writes would go to an unlinked file).
    pub fn check_file(&self) -> Result<(), StoreError> {
        let Backend::Sqlite(path) = &self.backend else {
            return Ok(());
        };
        let known = *self.file_id.lock().expect("file id lock");
        match known {
            Some(id) if file_id(path) != Some(id) => {
                let e = StoreError::Gone(path.clone());
                self.note_error(&e);
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Records a failure: when its class blocks writes, later calls fail fast until the
    /// recovery task sees the database writable again (or [`RETRY_AFTER`] passes).
    pub fn note_error(&self, e: &StoreError) {
        if matches!(e, StoreError::Down(_) | StoreError::Failed { .. }) {
            return;
        }
        let class = e.class();
        if class.blocks_writes() {
            let mut b = self.blocked.lock().expect("blocked lock");
            if b.is_none() {
                tracing::error!(
                    class = class.as_str(),
                    "{}: writes go to the spool until it recovers: {e}",
                    self.describe()
                );
            }
            *b = Some(Blocked {
                class,
                message: e.to_string(),
                until: Instant::now() + RETRY_AFTER,
            });
        }
    }

    /// Forgets a recorded outage (tests, or an operator who knows the database is back).
    pub fn reset_outage(&self) {
        *self.blocked.lock().expect("blocked lock") = None;
    }

    /// What `/healthz` reports.
    pub fn health(&self) -> DbHealth {
        let _ = self.check_file();
        match &*self.blocked.lock().expect("blocked lock") {
            Some(b) => DbHealth {
                writable: false,
                class: Some(b.class),
                detail: Some(b.message.clone()),
            },
            None => DbHealth {
                writable: true,
                class: None,
                detail: None,
            },
        }
    }

    /// Whether the store currently refuses writes.
    pub fn is_blocked(&self) -> bool {
        self.blocked.lock().expect("blocked lock").is_some()
    }

    /// One write round trip, bypassing the fail-fast state: runs the migrations if
    /// they have not run, checks the SQLite file, and writes a probe row. On success
    /// the store is writable again.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let r = async {
            self.migrate().await?;
            self.check_file()?;
            let now = ts(chrono::Utc::now().fixed_offset());
            let _w = self.write_guard().await;
            with_pool!(self, p => sqlx::query("INSERT INTO spool_applied (spool_key, applied_at) VALUES ('~probe', $1) ON CONFLICT (spool_key) DO UPDATE SET applied_at = excluded.applied_at")
                .bind(&now).execute(p).await.map(|_| ()))?;
            Ok::<(), StoreError>(())
        }
        .await;
        match &r {
            Ok(()) => {
                if self.blocked.lock().expect("blocked lock").take().is_some() {
                    tracing::info!("{} takes writes again", self.describe());
                }
            }
            Err(e) => self.note_error(e),
        }
        r
    }

    /// SQLite only one writer at a time: the guard serialising this process's writers.
    /// The longest a group reader or writer waits for one database call before it gives
    /// up on it (twice the statement timeout).
    pub(crate) fn worker_budget(&self) -> Duration {
        self.cfg.statement_timeout * 2
    }

    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite(_) => Some(self.write_lock.lock().await),
            Backend::Postgres(_) => None,
        }
    }

    /// Gets the store working again after a failure that may have left the pool in a
    /// bad state: the SQLite file deleted or replaced (copied back from the connection
    /// still holding it, when there is one), disk full or I/O errors (a fresh pool).
    /// Returns true when it did something.
    pub async fn recover(&self) -> Result<bool, StoreError> {
        let Backend::Sqlite(path) = &self.backend else {
            return Ok(false);
        };
        let known = *self.file_id.lock().expect("file id lock");
        let gone = known.is_some() && file_id(path) != known;
        let class = self
            .blocked
            .lock()
            .expect("blocked lock")
            .as_ref()
            .map(|b| b.class);
        if !gone
            && !matches!(
                class,
                Some(
                    ErrorClass::DiskFull
                        | ErrorClass::Corrupt
                        | ErrorClass::Unavailable
                        | ErrorClass::ReadOnly
                )
            )
        {
            return Ok(false);
        }
        let _w = self.write_lock.lock().await;
        let mut anchor = self.anchor.lock().await;
        let mut restored = None;
        if gone {
            // the file we had is unlinked but still open: copy it back to its place
            let mut name = path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            name.push(".restore");
            let tmp = path.with_file_name(name);
            let _ = std::fs::remove_file(&tmp);
            match anchor.as_mut() {
                Some(c) => match sqlx::query("VACUUM INTO $1")
                    .bind(tmp.to_string_lossy().into_owned())
                    .execute(&mut *c)
                    .await
                {
                    Ok(_) => restored = Some(tmp),
                    Err(e) => tracing::error!(
                        "could not copy the deleted database back from the open connection: {e}"
                    ),
                },
                None => tracing::error!(
                    "the database file {} is gone and no connection holds it: starting a new one",
                    path.display()
                ),
            }
        }
        // close every connection to the old file (bounded), then swap in a fresh pool
        let old = self.db();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            match &old {
                Db::Sqlite(p) => p.close().await,
                Db::Postgres(p) => p.close().await,
            }
        })
        .await;
        if let Some(c) = anchor.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.close()).await;
        }
        if gone {
            let wal = |sfx: &str| {
                let mut n = path.as_os_str().to_os_string();
                n.push(sfx);
                PathBuf::from(n)
            };
            if let Some(tmp) = &restored {
                // only the restored copy belongs at the path now
                let _ = std::fs::remove_file(wal("-wal"));
                let _ = std::fs::remove_file(wal("-shm"));
                std::fs::rename(tmp, path).map_err(|source| StoreError::Spool {
                    path: path.clone(),
                    source,
                })?;
                tracing::warn!(
                    "restored the deleted database file {} from the open connection",
                    path.display()
                );
            }
        }
        self.release_kept();
        *self.db.write().expect("pool lock") = build_pool(&self.backend, &self.cfg)?;
        *self.file_id.lock().expect("file id lock") = None;
        self.migrated.store(false, Ordering::Release);
        drop(anchor);
        Ok(true)
    }

    pub async fn close(&self) {
        // the pool waits for every connection out of it, kept ones too
        self.release_kept();
        with_pool!(self, p => p.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_sqlx_would_log_with_their_value_are_dropped_by_name() {
        let (url, dropped) = pg_url_for_sqlx(
            "postgres://app:pw1@db/m?sslmode=require&sslpassword=s3cr3t&passfile=%2Fsecret&application_name=m&options%5Bsearch_path%5D=x",
        );
        assert_eq!(
            url,
            "postgres://app:pw1@db/m?sslmode=require&application_name=m&options%5Bsearch_path%5D=x"
        );
        assert_eq!(dropped, ["sslpassword", "passfile"]);
        let (url, dropped) = pg_url_for_sqlx("postgres://db/m?password=pw&s3cr3t%20x=1");
        assert_eq!(url, "postgres://db/m?password=pw");
        assert_eq!(dropped, ["(a parameter)"]);
        assert_eq!(
            pg_url_for_sqlx("postgres://db/m?sslpassword=x"),
            (
                "postgres://db/m".to_string(),
                vec!["sslpassword".to_string()]
            )
        );
        assert_eq!(pg_url_for_sqlx("postgres://db/m").0, "postgres://db/m");
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let cfg = StoreConfig::url("postgres://app:s3cr3t@db/m?sslpassword=s3cr3t2");
        let d = format!("{cfg:?} {:?}", cfg.backend().unwrap());
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(d.contains("app:***@db/m"), "{d}");
    }
}
