//! What lets several `serve` processes share one database (PostgreSQL): keys seen
//! once across processes (Slack retries), staff-reply deliveries and escalation posts
//! leased to one process at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//! has one writer, so the same UPDATE is atomic there), and the Discord gateway lock
//! (a PostgreSQL advisory lock held on a connection of its own).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection;

use super::model::ts;
use super::queries::{esc_cols, esc_from, out_from, EscRow, OutRow};
use super::{with_pool, Db, Escalation, OutboxItem, Store, StoreError};
use crate::channels::ChannelKind;

/// Keys are kept this long (Slack retries within minutes; Socket Mode redelivers
/// within seconds).
pub const DEDUP_KEEP: Duration = Duration::from_secs(24 * 3600);
/// The advisory lock key of the Discord gateway (any fixed number; "madoguchi").
pub const GATEWAY_LOCK_KEY: i64 = 0x6d61_646f_6775_6368;
/// Rows claimed per pass.
const CLAIM_BATCH: i64 = 50;

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().fixed_offset()
}

fn lease_end(lease: Duration) -> String {
    ts(now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60)))
}

/// Held by the process that runs the Discord gateway. Dropping it (or the process
/// ending, or its connection breaking) lets another replica take over.
pub enum GatewayLock {
    /// SQLite: one process per database file; nothing to share.
    Local,
    Postgres(sqlx::PgConnection),
}

impl GatewayLock {
    /// Still held: the connection holding the lock answers.
    pub async fn alive(&mut self) -> bool {
        match self {
            GatewayLock::Local => true,
            GatewayLock::Postgres(c) => tokio::time::timeout(Duration::from_secs(5), c.ping())
                .await
                .is_ok_and(|r| r.is_ok()),
        }
    }
}

impl Store {
    /// True the first time `key` is offered to this database (by any process).
    pub async fn first_seen(&self, key: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        static OFFERED: AtomicU64 = AtomicU64::new(0);
        let _w = self.write_guard().await;
        if OFFERED.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
            let horizon = ts(now() - chrono::Duration::from_std(DEDUP_KEEP).expect("small"));
            with_pool!(self, p => sqlx::query("DELETE FROM dedup_keys WHERE seen_at < $1").bind(horizon).execute(p).await.map(|_| ())?);
        }
        let done = with_pool!(self, p => sqlx::query("INSERT INTO dedup_keys (key, seen_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key).bind(ts(now())).execute(p).await?.rows_affected());
        Ok(done == 1)
    }

    /// Whether `key` was offered before (does not record it).
    pub async fn was_seen(&self, key: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        let row: Option<(String,)> = with_pool!(self, p => sqlx::query_as("SELECT key FROM dedup_keys WHERE key = $1").bind(key).fetch_optional(p).await?);
        Ok(row.is_some())
    }

    /// Staff replies for `channel` not yet delivered and not leased to another process;
    /// leases them to this one for `lease` (deliver, then [`Store::mark_delivered`], or
    /// [`Store::release_outbox`] to retry sooner).
    pub async fn claim_undelivered(
        &self,
        channel: ChannelKind,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let (until, at) = (lease_end(lease), ts(now()));
        let pick = "SELECT id FROM outbox WHERE channel = $2 AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT $4";
        let rows: Vec<OutRow> = match self.db() {
            Db::Sqlite(p) => sqlx::query_as(&format!("UPDATE outbox SET claimed_until = $1 WHERE id IN ({pick}) RETURNING id, escalation_id, channel, user_id, conversation, text, staff"))
                .bind(&until).bind(channel.as_str()).bind(&at).bind(CLAIM_BATCH).fetch_all(&p).await?,
            Db::Postgres(p) => sqlx::query_as(&format!("UPDATE outbox SET claimed_until = $1 WHERE id IN ({pick} FOR UPDATE SKIP LOCKED) RETURNING id, escalation_id, channel, user_id, conversation, text, staff"))
                .bind(&until).bind(channel.as_str()).bind(&at).bind(CLAIM_BATCH).fetch_all(&p).await?,
        };
        let mut items = rows
            .into_iter()
            .map(out_from)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Gives a leased staff reply back (delivery failed: retried on the next pass).
    pub async fn release_outbox(&self, outbox_id: i64) -> Result<(), StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        with_pool!(self, p => sqlx::query("UPDATE outbox SET claimed_until = NULL WHERE id = $1 AND delivered_at IS NULL").bind(outbox_id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// Escalations no staff channel has announced and no other process is posting;
    /// leased to this one for `lease` (post, then `set_staff_ref`, or
    /// [`Store::release_escalation_post`]).
    pub async fn claim_unposted_escalations(
        &self,
        lease: Duration,
    ) -> Result<Vec<Escalation>, StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let (until, at) = (lease_end(lease), ts(now()));
        let pick = "SELECT id FROM escalations WHERE staff_ref IS NULL AND status <> 'resolved' AND (post_claimed_until IS NULL OR post_claimed_until < $2) ORDER BY id LIMIT $3";
        let rows: Vec<EscRow> = match self.db() {
            Db::Sqlite(p) => sqlx::query_as(&format!(concat!("UPDATE escalations SET post_claimed_until = $1 WHERE id IN ({pick}) RETURNING ", esc_cols!()), pick = pick))
                .bind(&until).bind(&at).bind(CLAIM_BATCH).fetch_all(&p).await?,
            Db::Postgres(p) => sqlx::query_as(&format!(concat!("UPDATE escalations SET post_claimed_until = $1 WHERE id IN ({pick} FOR UPDATE SKIP LOCKED) RETURNING ", esc_cols!()), pick = pick))
                .bind(&until).bind(&at).bind(CLAIM_BATCH).fetch_all(&p).await?,
        };
        let mut items = rows
            .into_iter()
            .map(esc_from)
            .collect::<Result<Vec<_>, _>>()?;
        items.sort_by_key(|e| e.id);
        Ok(items)
    }

    /// Gives a leased escalation post back.
    pub async fn release_escalation_post(&self, id: i64) -> Result<(), StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        with_pool!(self, p => sqlx::query("UPDATE escalations SET post_claimed_until = NULL WHERE id = $1 AND staff_ref IS NULL").bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// Records that the bot's answer could not be delivered to the member of the
    /// conversation's open escalation (staff see it on the escalation).
    pub async fn mark_member_unreached(
        &self,
        channel: ChannelKind,
        user: &str,
        conversation: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let row: Option<(i64,)> = with_pool!(self, p => sqlx::query_as(
            "UPDATE escalations SET member_unreached_at = $1 WHERE id = (SELECT MAX(id) FROM escalations WHERE channel = $2 AND user_id = $3 AND conversation = $4 AND status <> 'resolved') RETURNING id")
            .bind(ts(now())).bind(channel.as_str()).bind(user).bind(conversation).fetch_optional(p).await?);
        Ok(row.map(|(id,)| id))
    }

    /// When the member of escalation `id` could not be reached, if ever.
    pub async fn member_unreached_at(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.ready().await?;
        let row: Option<(Option<String>,)> = with_pool!(self, p => sqlx::query_as("SELECT member_unreached_at FROM escalations WHERE id = $1").bind(id).fetch_optional(p).await?);
        Ok(row.and_then(|(t,)| t))
    }

    /// Tries to become the process that runs the Discord gateway: always on SQLite; on
    /// PostgreSQL when no other process holds the advisory lock.
    pub async fn try_gateway_lock(&self) -> Result<Option<GatewayLock>, StoreError> {
        self.ready().await?;
        match self.db() {
            Db::Sqlite(_) => Ok(Some(GatewayLock::Local)),
            Db::Postgres(p) => {
                let mut conn = p.acquire().await?.detach();
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(GATEWAY_LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await?;
                Ok(got.then_some(GatewayLock::Postgres(conn)))
            }
        }
    }
}
