//! What the group reader ([`super::reader`]) and the group writer ([`super::writer`])
//! share: a bounded queue started on first use with a few worker tasks, the batch a
//! worker takes (everything waiting, up to a limit, without waiting for more), and the
//! budget of one worker's database call.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use super::{Store, StoreError};

/// Jobs waiting for a worker at most; beyond that callers wait (within their budget).
const QUEUE: usize = 4096;

/// The queue's sender, once its workers run.
pub(crate) type Queue<J> = Arc<std::sync::Mutex<Option<mpsc::Sender<J>>>>;

/// The receiving end, shared by the workers.
pub(crate) type Jobs<J> = Arc<Mutex<mpsc::Receiver<J>>>;

/// The sender of `queue`, starting `workers` tasks made by `worker` the first time (and
/// again if they stopped). None outside a tokio runtime: the caller does the work itself.
pub(crate) fn sender<J, F>(
    queue: &Queue<J>,
    workers: usize,
    worker: impl Fn(Jobs<J>) -> F,
) -> Option<mpsc::Sender<J>>
where
    J: Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let mut q = queue.lock().expect("queue lock");
    if let Some(s) = q.as_ref().filter(|s| !s.is_closed()) {
        return Some(s.clone());
    }
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..workers {
        handle.spawn(worker(rx.clone()));
    }
    *q = Some(tx.clone());
    Some(tx)
}

/// The next batch: waits for one job, then takes whatever else waits, up to `max`.
/// None when the queue is closed.
pub(crate) async fn next_batch<J>(jobs: &Jobs<J>, max: usize) -> Option<Vec<J>> {
    let mut r = jobs.lock().await;
    let mut batch = vec![r.recv().await?];
    while batch.len() < max {
        match r.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Runs a worker's database call within [`Store::worker_budget`]. The callers stop
/// waiting much sooner (their own budgets); this frees the worker itself when the
/// database stops answering (a network partition): the call is dropped, the store is
/// marked unavailable (the recovery task probes and reopens it) and the next batch runs.
pub(crate) async fn bounded_work<T>(
    store: &Store,
    work: impl Future<Output = Result<T, StoreError>>,
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
