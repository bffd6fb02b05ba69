//! Group commit: turns to write wait in a queue; one writer task (SQLite, which has one
//! writer anyway) or a few (PostgreSQL) take everything waiting, up to [`MAX_BATCH`],
//! and commit it in one transaction. Each caller gets its own result only after the
//! commit, so an escalation number is never handed out before it is durable. When a
//! batch fails, its turns are written one by one (one bad turn never fails the others),
//! except when the database refuses writes altogether: then each caller gets that
//! error at once and spools its turn.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::group::{self, Jobs};
use super::{Backend, Commit, Store, StoreError, TurnRecord};

/// Most turns committed in one transaction.
pub const MAX_BATCH: usize = 128;
/// PostgreSQL: synchronous commits in flight at most (beside the writers).
const DURABLE_AT_ONCE: usize = 4;

pub(crate) struct Job {
    rec: TurnRecord,
    done: oneshot::Sender<Result<Option<i64>, StoreError>>,
}

pub(crate) type Queue = group::Queue<Job>;

impl Store {
    /// Hands the turn to the group writer and waits for its commit. None when no
    /// writer can take it (no runtime to run one): the caller writes it itself.
    pub(crate) async fn submit_turn(
        &self,
        rec: &TurnRecord,
    ) -> Option<Result<Option<i64>, StoreError>> {
        let sender = self.writer_queue()?;
        let (done, wait) = oneshot::channel();
        sender
            .send(Job {
                rec: rec.clone(),
                done,
            })
            .await
            .ok()?;
        wait.await.ok()
    }

    fn writer_queue(&self) -> Option<mpsc::Sender<Job>> {
        let writers = match self.backend {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => 2,
        };
        let durable_slots = Arc::new(Semaphore::new(DURABLE_AT_ONCE));
        let store = self.clone();
        group::sender(&self.writer, writers, |jobs| {
            run(store.clone(), jobs, durable_slots.clone())
        })
    }
}

async fn run(store: Store, rx: Jobs<Job>, durable_slots: Arc<Semaphore>) {
    while let Some(jobs) = group::next_batch(&rx, MAX_BATCH).await {
        // PostgreSQL: the conversations with an escalation in this batch commit
        // synchronously; the rest asynchronously (flushed by the server within
        // 3 × wal_writer_delay), so a member's answer never waits for a WAL flush unless a
        // hand-off is promised in it
        let groups = match store.backend {
            Backend::Postgres(_) => split_by_escalation(jobs),
            Backend::Sqlite(_) => vec![(jobs, Commit::Durable)],
        };
        for (jobs, commit) in groups {
            match (commit, &store.backend) {
                // a synchronous commit waits for the server's WAL flush: it runs beside
                // the writer (a few at once; the server flushes them together) so the
                // turns behind it do not wait too
                (Commit::Durable, Backend::Postgres(_)) => {
                    let slot = durable_slots
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let store = store.clone();
                    tokio::spawn(async move {
                        write_batch(&store, jobs, commit).await;
                        drop(slot);
                    });
                }
                _ => write_batch(&store, jobs, commit).await,
            }
        }
    }
}

/// (turns of conversations without an escalation in the batch, relaxed), then (the
/// others, durable); each conversation's turns stay together and in order.
fn split_by_escalation(jobs: Vec<Job>) -> Vec<(Vec<Job>, Commit)> {
    use std::collections::HashSet;
    let escalating: HashSet<(&str, String, String)> = jobs
        .iter()
        .filter(|j| j.rec.escalate.is_some())
        .map(|j| {
            (
                j.rec.channel.as_str(),
                j.rec.user.clone(),
                j.rec.conversation.clone(),
            )
        })
        .collect();
    if escalating.is_empty() {
        return vec![(jobs, Commit::Relaxed)];
    }
    let (durable, relaxed): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| {
        escalating.contains(&(
            j.rec.channel.as_str(),
            j.rec.user.clone(),
            j.rec.conversation.clone(),
        ))
    });
    [(relaxed, Commit::Relaxed), (durable, Commit::Durable)]
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect()
}

/// Commits one group of turns and answers each caller.
async fn write_batch(store: &Store, mut jobs: Vec<Job>, commit: Commit) {
    let guard = store.write_guard().await;
    let recs: Vec<&TurnRecord> = jobs.iter().map(|j| &j.rec).collect();
    let started = std::time::Instant::now();
    let r = group::bounded_work(store, store.apply_batch(&recs, commit)).await;
    tracing::trace!(turns = recs.len(), ?commit, elapsed = ?started.elapsed(), ok = r.is_ok(), "group commit");
    match r {
        Ok(ids) => {
            drop(guard);
            for (j, id) in jobs.into_iter().zip(ids) {
                let _ = j.done.send(Ok(id));
            }
        }
        Err(e) if jobs.len() == 1 => {
            drop(guard);
            let j = jobs.pop().expect("one job");
            let _ = j.done.send(Err(e));
        }
        Err(e) if e.class().blocks_writes() => {
            drop(guard);
            store.note_error(&e);
            let (class, message) = (e.class(), e.to_string());
            for j in jobs {
                let _ = j.done.send(Err(StoreError::Failed {
                    class,
                    message: message.clone(),
                }));
            }
        }
        Err(e) => {
            tracing::debug!(
                "a batch of {} turns failed, writing them one by one: {e}",
                jobs.len()
            );
            for j in jobs {
                let r = group::bounded_work(store, store.apply_batch(&[&j.rec], commit))
                    .await
                    .map(|v| v[0]);
                let _ = j.done.send(r);
            }
            drop(guard);
        }
    }
}
