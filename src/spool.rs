//! The outage spool: a turn the database could not take (already redacted) is appended
//! as one JSON line and fsynced; the background recovery task writes the lines through
//! the store (idempotent by the record's key) as soon as the database takes writes.
//!
//! Files, next to each other: `<spool>` (appends), `<spool>.replaying` (a batch taken
//! by a replayer: renamed from `<spool>` under its lock, so appends never wait on the
//! database), `<spool>.bad` (records kept aside: lines that do not parse, and poison
//! records the database refused as a *bug* [`POISON_AFTER`] times — logged as errors,
//! counted, and shown on `/healthz`), `<spool>.lock` (one replayer across processes).
//! A record is never dropped because of the class of a database error: anything but a
//! bug stops the replay and leaves the rest for the next attempt.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::store::{ErrorClass, Store, StoreError, TurnRecord};

/// A spooled record the database refuses as a bug this many times is set aside.
pub const POISON_AFTER: u32 = 3;

/// A JSON Lines spool file.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
    local: Arc<Mutex<()>>,
    replaying: Arc<Mutex<()>>,
    attempts: Arc<std::sync::Mutex<HashMap<String, u32>>>,
    poisoned: Arc<AtomicU64>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Spool {
        path: path.to_path_buf(),
        source,
    }
}

fn join_err(path: &Path, e: tokio::task::JoinError) -> StoreError {
    StoreError::Spool {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// A key unique to this process and moment, for [`TurnRecord::key`].
pub fn new_key() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn count_lines(path: &Path) -> usize {
    match std::fs::read(path) {
        Ok(b) => b
            .split(|c| *c == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count(),
        Err(_) => 0,
    }
}

fn has_data(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
}

#[cfg(unix)]
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

/// Appends lines and fsyncs; appends all or nothing.
fn append_lines(path: &Path, lines: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(path))?;
    }
    let mut f = loop {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        f.lock().map_err(io_err(path))?;
        // a replayer may have renamed the file between our open and our lock
        if same_file(&f, path) {
            break f;
        }
    };
    let before = f.seek(std::io::SeekFrom::End(0)).map_err(io_err(path))?;
    let written = f.write_all(lines.as_bytes()).and_then(|_| f.sync_data());
    if let Err(e) = written {
        // never leave a torn line for the next append to glue onto (disk full)
        let _ = f.set_len(before);
        let _ = f.sync_data();
        return Err(io_err(path)(e));
    }
    Ok(())
}

/// Replaces `path` with `lines` (or removes it when empty), durably.
fn rewrite(path: &Path, lines: &[String]) -> Result<(), StoreError> {
    if lines.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
            _ => Ok(()),
        };
    }
    let tmp = sibling(path, ".tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    for l in lines {
        writeln!(f, "{l}").map_err(io_err(&tmp))?;
    }
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

impl Spool {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Spool {
            path: path.into(),
            local: Arc::new(Mutex::new(())),
            replaying: Arc::new(Mutex::new(())),
            attempts: Arc::new(std::sync::Mutex::new(HashMap::new())),
            poisoned: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where records kept aside go.
    pub fn bad_path(&self) -> PathBuf {
        sibling(&self.path, ".bad")
    }

    /// Records waiting (0 when there are none).
    pub fn pending(&self) -> usize {
        count_lines(&self.path) + count_lines(&sibling(&self.path, ".replaying"))
    }

    /// Whether anything waits (cheap: two `stat`s).
    pub fn has_pending(&self) -> bool {
        has_data(&self.path) || has_data(&sibling(&self.path, ".replaying"))
    }

    /// Records kept aside in `<spool>.bad`, waiting for an operator.
    pub fn kept_aside(&self) -> usize {
        if has_data(&self.bad_path()) {
            count_lines(&self.bad_path())
        } else {
            0
        }
    }

    /// Poison records this process set aside (for `/metrics`).
    pub fn poisoned_total(&self) -> u64 {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Appends one record and fsyncs before returning.
    pub async fn append(&self, rec: &TurnRecord) -> Result<(), StoreError> {
        let mut line = serde_json::to_string(rec).expect("a turn record serialises");
        line.push('\n');
        let _g = self.local.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append_lines(&path, &line))
            .await
            .map_err(|e| join_err(&self.path, e))?
    }

    /// Writes spooled records through `store`, oldest first. Stops at the first error
    /// that is not a bug (the rest waits for the next call); a record refused as a bug
    /// [`POISON_AFTER`] times, or a line that does not parse, is moved to
    /// [`Spool::bad_path`] and alerted. Returns how many records were written.
    pub async fn replay(&self, store: &Store) -> Result<usize, StoreError> {
        if !self.has_pending() {
            return Ok(0);
        }
        let Ok(_one) = self.replaying.try_lock() else {
            return Ok(0);
        };
        // take the batch: `<spool>` → `<spool>.replaying` (unless one is left over)
        let local = self.local.lock().await;
        let path = self.path.clone();
        let taken =
            tokio::task::spawn_blocking(move || -> Result<Option<(File, String)>, StoreError> {
                let lock_path = sibling(&path, ".lock");
                let lock = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(io_err(&lock_path))?;
                match lock.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
                }
                let batch = sibling(&path, ".replaying");
                if has_data(&path) {
                    let mut f = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    f.lock().map_err(io_err(&path))?;
                    if !batch.exists() {
                        std::fs::rename(&path, &batch).map_err(io_err(&path))?;
                    } else {
                        // records still retrying are left in the batch: add the new ones after them
                        let mut more = Vec::new();
                        f.read_to_end(&mut more).map_err(io_err(&path))?;
                        let mut more = String::from_utf8_lossy(&more).into_owned();
                        if !more.ends_with('\n') {
                            more.push('\n');
                        }
                        append_lines(&batch, &more)?;
                        f.set_len(0).map_err(io_err(&path))?;
                        f.sync_all().map_err(io_err(&path))?;
                    }
                }
                let mut text = String::new();
                match File::open(&batch) {
                    Ok(mut f) => {
                        let mut bytes = Vec::new();
                        f.read_to_end(&mut bytes).map_err(io_err(&batch))?;
                        text = String::from_utf8_lossy(&bytes).into_owned();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&batch)(e)),
                }
                Ok(Some((lock, text)))
            })
            .await
            .map_err(|e| join_err(&self.path, e))??;
        drop(local);
        let Some((lock, text)) = taken else {
            return Ok(0);
        };

        let mut done = 0;
        let mut keep: Vec<String> = Vec::new();
        let mut bad: Vec<String> = Vec::new();
        let mut stopped: Option<StoreError> = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if stopped.is_some() {
                keep.push(line.to_string());
                continue;
            }
            let rec = match serde_json::from_str::<TurnRecord>(line) {
                Ok(r) => r,
                Err(e) => {
                    self.alert(&format!(
                        "unreadable spool line kept aside in {}: {e}",
                        self.bad_path().display()
                    ));
                    bad.push(line.to_string());
                    continue;
                }
            };
            match store.apply_turn(&rec).await {
                Ok(_) => {
                    done += 1;
                    self.attempts
                        .lock()
                        .expect("attempts lock")
                        .remove(&rec.key);
                }
                Err(e) if e.class() == ErrorClass::Bug => {
                    let n = {
                        let mut a = self.attempts.lock().expect("attempts lock");
                        let n = a.entry(rec.key.clone()).or_insert(0);
                        *n += 1;
                        *n
                    };
                    if n >= POISON_AFTER {
                        self.attempts
                            .lock()
                            .expect("attempts lock")
                            .remove(&rec.key);
                        self.alert(&format!(
                            "spooled turn {} refused {n} times as a bug, kept aside in {}: {e}",
                            rec.key,
                            self.bad_path().display()
                        ));
                        bad.push(line.to_string());
                    } else {
                        tracing::warn!(key = %rec.key, attempt = n, "spooled turn refused by the database (will retry): {e}");
                        keep.push(line.to_string());
                    }
                }
                Err(e) => {
                    store.note_error(&e);
                    keep.push(line.to_string());
                    stopped = Some(e);
                }
            }
        }
        let path = self.path.clone();
        let bad_path = self.bad_path();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if !bad.is_empty() {
                append_lines(
                    &bad_path,
                    &bad.iter().map(|l| format!("{l}\n")).collect::<String>(),
                )?;
            }
            rewrite(&sibling(&path, ".replaying"), &keep)?;
            drop(lock);
            Ok(())
        })
        .await
        .map_err(|e| join_err(&self.path, e))??;
        if done > 0 {
            tracing::info!("wrote {done} spooled turn(s) to {}", store.describe());
        }
        match stopped {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    fn alert(&self, what: &str) {
        self.poisoned.fetch_add(1, Ordering::Relaxed);
        tracing::error!(alert = "spool_poison", "{what}");
    }
}
