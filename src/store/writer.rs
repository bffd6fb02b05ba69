//! Group commit: turns to write wait in a queue; one writer task (SQLite, which has one
//! writer anyway) or a few (PostgreSQL) take everything waiting, up to [`MAX_BATCH`],
//! and commit it in one transaction. Each caller gets its own result only after the
//! commit, so an escalation number is never handed out before it is durable. When a
//! batch fails, its turns are written one by one (one bad turn never fails the others),
//! except when the database refuses writes altogether: then each caller gets that
//! error at once and spools its turn.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};

use super::{Backend, Commit, Store, StoreError, TurnRecord};

/// Most turns committed in one transaction.
pub const MAX_BATCH: usize = 128;
/// PostgreSQL: synchronous commits in flight at most (beside the writers).
const DURABLE_AT_ONCE: usize = 4;
/// Turns waiting for a writer at most; beyond that callers wait (within their budget).
const QUEUE: usize = 4096;

pub(crate) struct Job {
    rec: TurnRecord,
    done: oneshot::Sender<Result<Option<i64>, StoreError>>,
}

pub(crate) type Queue = Arc<std::sync::Mutex<Option<mpsc::Sender<Job>>>>;

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
        let mut q = self.writer.lock().expect("writer lock");
        if let Some(s) = q.as_ref().filter(|s| !s.is_closed()) {
            return Some(s.clone());
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match self.backend {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => 2,
        };
        let durable_slots = Arc::new(Semaphore::new(DURABLE_AT_ONCE));
        for _ in 0..writers {
            handle.spawn(run(self.clone(), rx.clone(), durable_slots.clone()));
        }
        *q = Some(tx.clone());
        Some(tx)
    }
}

async fn run(store: Store, rx: Arc<Mutex<mpsc::Receiver<Job>>>, durable_slots: Arc<Semaphore>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut r = rx.lock().await;
            match r.recv().await {
                Some(j) => jobs.push(j),
                None => return,
            }
            while jobs.len() < MAX_BATCH {
                match r.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
        }
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
    let r = bounded_work(store, store.apply_batch(&recs, commit)).await;
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
                let r = bounded_work(store, store.apply_batch(&[&j.rec], commit))
                    .await
                    .map(|v| v[0]);
                let _ = j.done.send(r);
            }
            drop(guard);
        }
    }
}

/// Runs a worker's database call within [`Store::worker_budget`]. The callers stop
/// waiting much sooner (their own budgets); this frees the worker itself when the
/// database stops answering (a network partition): the call is dropped, the store is
/// marked unavailable (the recovery task probes and reopens it) and the next batch runs.
pub(crate) async fn bounded_work<T>(
    store: &Store,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let budget = store.worker_budget();
    match tokio::time::timeout(budget, work).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!("the database did not answer within {budget:?}: call dropped");
            let e = StoreError::Unavailable;
            store.note_error(&e);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ErrorClass, StoreConfig};

    #[tokio::test]
    async fn a_database_call_that_never_answers_frees_the_worker_and_marks_the_store_down() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::sqlite(dir.path().join("m.db"));
        cfg.statement_timeout = std::time::Duration::from_millis(20);
        let store = Store::open(&cfg).unwrap();
        let r: Result<(), StoreError> = bounded_work(&store, std::future::pending()).await;
        let e = r.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Unavailable, "{e}");
        assert!(!store.health().writable);
        // a call that answers in time is passed through
        assert!(
            bounded_work(&store, async { Ok::<_, StoreError>(7) })
                .await
                .unwrap()
                == 7
        );
    }
}
