//! PostgreSQL connections the group reader and writer keep between batches. A pool
//! checkout pings the server before handing a connection out and again when it comes
//! back (sqlx tests every returned connection): two round trips around each one-query
//! batch. A kept connection skips both. It goes back to the pool (which tests it) after
//! any error, after [`KEPT_FOR`], and when the pool is replaced or closed (closing waits
//! for every connection out of the pool); an error also returns every other kept
//! connection, since after a server restart they are all dead.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
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

impl Store {
    /// Runs `work` on a kept connection, or one from `pool`, and keeps the connection
    /// for the next batch when the work succeeded; otherwise it, and every connection
    /// kept so far, goes back to the pool. (Dropped mid-way, the connection goes back
    /// to the pool, which tests it.)
    pub(crate) async fn on_kept<T, E>(
        &self,
        pool: &PgPool,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, StoreError>
    where
        StoreError: From<E>,
    {
        let kept = self.kept.lock().expect("kept lock").pop();
        let (mut conn, since) = match kept {
            Some(k) => k,
            None => (pool.acquire().await?, Instant::now()),
        };
        let r = work(&mut conn).await;
        // a closing pool waits for every connection out of it: give it back
        let mut kept = self.kept.lock().expect("kept lock");
        if r.is_err() || pool.is_closed() {
            kept.clear();
        } else if kept.len() < KEPT_AT_MOST && since.elapsed() < KEPT_FOR {
            kept.push((conn, since));
        }
        Ok(r?)
    }

    /// Returns every kept connection to the pool (the pool is being replaced).
    pub(crate) fn release_kept(&self) {
        self.kept.lock().expect("kept lock").clear();
    }
}
