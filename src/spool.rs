//! The outage spool: when the database cannot be reached, each turn (already redacted)
//! is appended as one JSON line and fsynced; when the database is back the lines are
//! written through the store (idempotent by the record's key) and the file emptied.
//! An exclusive file lock serialises appends and replays across processes, a mutex
//! within one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::store::{Store, StoreError, TurnRecord};

/// A JSON Lines spool file.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
    local: Arc<Mutex<()>>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Spool { path: path.to_path_buf(), source }
}

fn join_err(path: &Path, e: tokio::task::JoinError) -> StoreError {
    StoreError::Spool { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

/// A key unique to this process and moment, for [`TurnRecord::key`].
pub fn new_key() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{:x}-{:x}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

impl Spool {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Spool { path: path.into(), local: Arc::new(Mutex::new(())) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records waiting (0 when the file is missing).
    pub fn pending(&self) -> usize {
        match std::fs::read(&self.path) {
            Ok(b) => b.split(|c| *c == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count(),
            Err(_) => 0,
        }
    }

    fn has_data(&self) -> bool {
        std::fs::metadata(&self.path).map(|m| m.len() > 0).unwrap_or(false)
    }

    /// Appends one record and fsyncs before returning.
    pub async fn append(&self, rec: &TurnRecord) -> Result<(), StoreError> {
        let mut line = serde_json::to_string(rec).expect("a turn record serialises");
        line.push('\n');
        let _g = self.local.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io_err(&path))?;
            }
            let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
            f.lock().map_err(io_err(&path))?;
            f.write_all(line.as_bytes()).map_err(io_err(&path))?;
            f.sync_data().map_err(io_err(&path))?;
            Ok(())
        })
        .await
        .map_err(|e| join_err(&self.path, e))?
    }

    /// Writes every spooled record through `store`, then empties the spool. On a
    /// database error the file is left as it is (records already written are skipped
    /// next time, by key). Lines that do not parse, or that the database refuses, are moved to
    /// `<spool>.bad`.
    pub async fn replay(&self, store: &Store) -> Result<usize, StoreError> {
        if !self.has_data() {
            return Ok(0);
        }
        let _g = self.local.lock().await;
        let path = self.path.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Option<(File, String)>, StoreError> {
            let mut f = match OpenOptions::new().read(true).write(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_err(&path)(e)),
            };
            f.lock().map_err(io_err(&path))?;
            let mut s = String::new();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(io_err(&path))?;
            s.push_str(&String::from_utf8_lossy(&bytes));
            Ok(Some((f, s)))
        })
        .await
        .map_err(|e| join_err(&self.path, e))??;
        let Some((file, text)) = opened else { return Ok(0) };
        let mut done = 0;
        let mut bad = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<TurnRecord>(line) {
                Ok(rec) => match store.apply_turn(&rec).await {
                    Ok(_) => done += 1,
                    Err(e) if e.is_unavailable() => return Err(e),
                    // a record the database refuses would block the spool for ever
                    Err(e) => {
                        tracing::error!(spool = %self.path.display(), "spooled turn refused by the database, kept aside: {e}");
                        bad.push(line.to_string());
                    }
                },
                Err(e) => {
                    tracing::warn!(spool = %self.path.display(), "unreadable spool line kept aside: {e}");
                    bad.push(line.to_string());
                }
            }
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if !bad.is_empty() {
                let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                name.push(".bad");
                let bad_path = path.with_file_name(name);
                let mut b = OpenOptions::new().create(true).append(true).open(&bad_path).map_err(io_err(&bad_path))?;
                for l in bad {
                    writeln!(b, "{l}").map_err(io_err(&bad_path))?;
                }
                b.sync_data().map_err(io_err(&bad_path))?;
            }
            file.set_len(0).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
            drop(file);
            Ok(())
        })
        .await
        .map_err(|e| join_err(&self.path, e))??;
        Ok(done)
    }
}
