//! Group read, the twin of group commit ([`super::writer`]): the conversation views that
//! member turns ask for at the same moment are read in one query (the keys as rows of
//! one JSON parameter), so a busy server pays one database round trip per batch, not
//! per turn. An idle server reads a lone request at once: nothing waits for company.

use tokio::sync::{mpsc, oneshot};

use super::group::{self, Jobs};
use super::queries::ConversationView;
use super::{Db, Store, StoreError};
use crate::channels::ChannelKind;

/// Most views read in one query.
const MAX_BATCH: usize = 128;
/// Reader tasks: beside SQLite's one writer (WAL lets them read meanwhile), and on
/// PostgreSQL beside its writers.
const READERS: usize = 2;

/// One conversation: (channel, user id, conversation id).
pub(crate) type ConversationKey = (ChannelKind, String, String);

pub(crate) struct Job {
    key: ConversationKey,
    done: oneshot::Sender<Result<ConversationView, StoreError>>,
}

pub(crate) type Queue = group::Queue<Job>;

impl Store {
    /// Hands the read to the group reader and waits for it. None when no reader can
    /// take it (no runtime to run one): the caller reads it itself.
    pub(crate) async fn submit_read(
        &self,
        key: ConversationKey,
    ) -> Option<Result<ConversationView, StoreError>> {
        let sender = self.reader_queue()?;
        let (done, wait) = oneshot::channel();
        sender.send(Job { key, done }).await.ok()?;
        wait.await.ok()
    }

    fn reader_queue(&self) -> Option<mpsc::Sender<Job>> {
        let store = self.clone();
        group::sender(&self.reader, READERS, |jobs| run(store.clone(), jobs))
    }

    /// The views of several conversations in one query, in the order asked.
    pub(crate) async fn conversation_views(
        &self,
        keys: &[&ConversationKey],
    ) -> Result<Vec<ConversationView>, StoreError> {
        let param = serde_json::Value::Array(
            keys.iter()
                .map(|(ch, u, c)| serde_json::json!([ch.as_str(), u, c]))
                .collect(),
        )
        .to_string();
        let rows: Vec<(i64, String, i64, i64)> = match self.db() {
            Db::Sqlite(p) => sqlx::query_as(SQLITE).bind(param).fetch_all(&p).await?,
            Db::Postgres(p) => {
                self.on_kept(&p, async |c| {
                    sqlx::query_as(POSTGRES).bind(param).fetch_all(c).await
                })
                .await?
            }
        };
        let mut views = vec![ConversationView::default(); keys.len()];
        for (n, state, claimed, waiting) in rows {
            let slot = usize::try_from(n)
                .ok()
                .and_then(|n| views.get_mut(n))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("a view for request {n} of {}", keys.len()))
                })?;
            *slot = ConversationView {
                // a state that no longer parses starts afresh rather than failing the member
                state: Some(serde_json::from_str(&state).unwrap_or_default()),
                claimed: claimed > 0,
                replies_waiting: waiting > 0,
            };
        }
        Ok(views)
    }
}

/// Row `n` (0-based) is the view of request `n`; conversations never stored give no row.
/// Each request is looked up through the conversations' unique index (SQLite: `CROSS
/// JOIN` keeps the requests the outer loop; PostgreSQL: a `LATERAL … LIMIT 1` that
/// the planner cannot turn into a hash join over the whole table).
const SQLITE: &str = "SELECT CAST(j.key AS INTEGER), c.state, \
    (SELECT COUNT(*) FROM escalations e WHERE e.conversation_id = c.id AND e.status = 'claimed'), \
    (SELECT COUNT(*) FROM outbox o WHERE o.delivered_at IS NULL AND o.channel = c.channel AND o.user_id = c.user_id AND o.conversation = c.conversation) \
    FROM json_each($1) j CROSS JOIN conversations c \
    ON c.channel = json_extract(j.value, '$[0]') AND c.user_id = json_extract(j.value, '$[1]') AND c.conversation = json_extract(j.value, '$[2]')";

const POSTGRES: &str = "SELECT t.n - 1, c.state, \
    (SELECT COUNT(*) FROM escalations e WHERE e.conversation_id = c.id AND e.status = 'claimed'), \
    (SELECT COUNT(*) FROM outbox o WHERE o.delivered_at IS NULL AND o.channel = c.channel AND o.user_id = c.user_id AND o.conversation = c.conversation) \
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(x, n) CROSS JOIN LATERAL \
    (SELECT * FROM conversations WHERE channel = t.x->>0 AND user_id = t.x->>1 AND conversation = t.x->>2 LIMIT 1) c";

async fn run(store: Store, rx: Jobs<Job>) {
    while let Some(jobs) = group::next_batch(&rx, MAX_BATCH).await {
        let keys: Vec<&ConversationKey> = jobs.iter().map(|j| &j.key).collect();
        let started = std::time::Instant::now();
        let r = group::bounded_work(&store, store.conversation_views(&keys)).await;
        tracing::trace!(views = keys.len(), elapsed = ?started.elapsed(), ok = r.is_ok(), "group read");
        match r {
            Ok(views) => {
                for (j, v) in jobs.into_iter().zip(views) {
                    let _ = j.done.send(Ok(v));
                }
            }
            Err(e) => {
                let (class, message) = (e.class(), e.to_string());
                for j in jobs {
                    let _ = j.done.send(Err(StoreError::Failed {
                        class,
                        message: message.clone(),
                    }));
                }
            }
        }
    }
}
