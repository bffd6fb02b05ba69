//! PostgreSQL connections the group reader and writer keep between batches. A pool
//! checkout pings the server before handing a connection out and again when it comes
//! back (sqlx tests every returned connection): two round trips around each one-query
//! batch. A kept connection skips both. It goes back to the pool (which tests it) after
//! any error, after [`KEPT_FOR`], and when the pool is replaced or closed (closing waits
//! for every connection out of the pool); an error also returns every other kept
//! connection, since after a server restart they are all dead.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::Postgres;

use super::{Store, StoreError};

/// Connections kept at most (the reader and writer tasks and the synchronous commits
/// beside them); the pool keeps the rest.
const KEPT_AT_MOST: usize = 8;
/// How long one connection is kept before the pool gets it back (and applies its
/// lifetime limit).
const KEPT_FOR: Duration = Duration::from_secs(60);

/// The kept connections, with when each left the pool.
pub(crate) type Kept = std::sync::Mutex<Vec<(PoolConnection<Postgres>, Instant)>>;

/// A connection taken from the kept ones or the pool; give it back with [`Store::keep`].
pub(crate) struct Lease {
    pub conn: PoolConnection<Postgres>,
    since: Instant,
}

impl Store {
    /// A kept connection, or one from `pool`.
    pub(crate) async fn lease(&self, pool: &PgPool) -> Result<Lease, StoreError> {
        let kept = self.kept.lock().expect("kept lock").pop();
        match kept {
            Some((conn, since)) => Ok(Lease { conn, since }),
            None => Ok(Lease {
                conn: pool.acquire().await?,
                since: Instant::now(),
            }),
        }
    }

    /// Keeps the connection for the next batch when its work succeeded; otherwise it,
    /// and every connection kept so far, goes back to the pool.
    pub(crate) fn keep(&self, lease: Lease, ok: bool) {
        // a closing pool waits for every connection out of it: give it back
        let closing = match self.db() {
            super::Db::Postgres(p) => p.is_closed(),
            super::Db::Sqlite(_) => true,
        };
        let mut kept = self.kept.lock().expect("kept lock");
        if !ok || closing {
            kept.clear();
            return;
        }
        if kept.len() < KEPT_AT_MOST && lease.since.elapsed() < KEPT_FOR {
            kept.push((lease.conn, lease.since));
        }
    }

    /// Returns every kept connection to the pool (the pool is being replaced).
    pub(crate) fn release_kept(&self) {
        self.kept.lock().expect("kept lock").clear();
    }
}
