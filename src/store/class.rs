//! Storage error classes: every error the store or the spool can return is sorted into
//! one [`ErrorClass`] (SQLite result codes, PostgreSQL SQLSTATEs, sqlx and I/O errors),
//! and the write path decides per class. No class ever makes a turn be discarded.

use super::StoreError;

/// What kind of failure a storage error is, and so what the write path does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Try again soon: a lock held by someone else (SQLITE_BUSY/LOCKED, PostgreSQL
    /// serialization failure, deadlock, lock or statement timeout). Spool, retry.
    Transient,
    /// The database cannot be reached or is shutting down (connection refused or
    /// reset, pool timeout, 08xxx, 57P0x). Spool, fail fast for a while, retry.
    Unavailable,
    /// Writes are refused (SQLITE_READONLY, SQLSTATE 25006, EROFS/EACCES). Spool, retry.
    ReadOnly,
    /// No space left (SQLITE_FULL, SQLSTATE 53100, ENOSPC). Spool (if the spool has room), retry.
    DiskFull,
    /// The database file is damaged, not a database, or was deleted/moved while open
    /// (SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_READONLY_DBMOVED, XX001). Spool, report
    /// unhealthy, recover (reopen / restore), retry.
    Corrupt,
    /// The request itself is wrong (constraint, syntax, decoding): retrying the same
    /// record will fail the same way. A spooled record failing like this repeatedly
    /// is a poison record: kept aside in a separate file and alerted.
    Bug,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::ReadOnly => "read_only",
            ErrorClass::DiskFull => "disk_full",
            ErrorClass::Corrupt => "corrupt",
            ErrorClass::Bug => "bug",
        }
    }

    /// The database cannot take writes for now: calls fail fast until the background
    /// recovery task sees it writable again.
    pub fn blocks_writes(self) -> bool {
        matches!(
            self,
            ErrorClass::Unavailable
                | ErrorClass::ReadOnly
                | ErrorClass::DiskFull
                | ErrorClass::Corrupt
        )
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// SQLite primary result codes (the low byte of the extended code sqlx reports).
const SQLITE_PERM: i64 = 3;
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_READONLY: i64 = 8;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;
const SQLITE_NOTADB: i64 = 26;
/// SQLITE_READONLY_DBMOVED: the database file was unlinked or renamed while open.
const SQLITE_READONLY_DBMOVED: i64 = SQLITE_READONLY | (4 << 8);
/// SQLITE_IOERR_NOSPC / SQLITE_IOERR_WRITE etc. are IOERR with an extended byte.
const SQLITE_IOERR_NOSPC: i64 = SQLITE_IOERR | (13 << 8);

/// The class of a SQLite extended result code.
pub fn sqlite_class(code: i64) -> ErrorClass {
    if code == SQLITE_READONLY_DBMOVED {
        return ErrorClass::Corrupt;
    }
    if code == SQLITE_IOERR_NOSPC {
        return ErrorClass::DiskFull;
    }
    match code & 0xff {
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_PROTOCOL | SQLITE_NOMEM => ErrorClass::Transient,
        SQLITE_READONLY | SQLITE_PERM => ErrorClass::ReadOnly,
        SQLITE_FULL => ErrorClass::DiskFull,
        SQLITE_CORRUPT | SQLITE_NOTADB => ErrorClass::Corrupt,
        SQLITE_IOERR | SQLITE_CANTOPEN => ErrorClass::Unavailable,
        _ => ErrorClass::Bug,
    }
}

/// The class of a PostgreSQL SQLSTATE.
pub fn postgres_class(state: &str) -> ErrorClass {
    match state {
        "25006" => ErrorClass::ReadOnly,
        "53100" => ErrorClass::DiskFull,
        "40001" | "40P01" | "55P03" | "57014" | "55006" | "53200" | "53300" | "53400" => {
            ErrorClass::Transient
        }
        "3D000" | "58030" => ErrorClass::Unavailable,
        "XX001" | "XX002" => ErrorClass::Corrupt,
        s if s.starts_with("08") || s.starts_with("57P") => ErrorClass::Unavailable,
        s if s.starts_with("53") => ErrorClass::Transient,
        _ => ErrorClass::Bug,
    }
}

/// The class of an operating-system error (the spool, a database file).
pub fn io_class(e: &std::io::Error) -> ErrorClass {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    const EROFS: i32 = 30;
    const EACCES: i32 = 13;
    const EPERM: i32 = 1;
    match e.raw_os_error() {
        Some(ENOSPC) | Some(EDQUOT) => ErrorClass::DiskFull,
        Some(EROFS) | Some(EACCES) | Some(EPERM) => ErrorClass::ReadOnly,
        _ if e.kind() == std::io::ErrorKind::PermissionDenied => ErrorClass::ReadOnly,
        _ => ErrorClass::Unavailable,
    }
}

/// The class of an sqlx error on either backend.
pub fn sqlx_class(e: &sqlx::Error) -> ErrorClass {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code();
            let code = code.as_deref().unwrap_or("");
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i64>()
                    .map(sqlite_class)
                    .unwrap_or(ErrorClass::Bug)
            } else {
                postgres_class(code)
            }
        }
        sqlx::Error::Io(io) => match io_class(io) {
            ErrorClass::DiskFull => ErrorClass::DiskFull,
            _ => ErrorClass::Unavailable,
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ErrorClass::Unavailable,
        sqlx::Error::BeginFailed => ErrorClass::Transient,
        sqlx::Error::Migrate(m) => migrate_class(m),
        _ => ErrorClass::Bug,
    }
}

fn migrate_class(e: &sqlx::migrate::MigrateError) -> ErrorClass {
    match e {
        sqlx::migrate::MigrateError::Execute(e)
        | sqlx::migrate::MigrateError::ExecuteMigration(e, _) => sqlx_class(e),
        _ => ErrorClass::Bug,
    }
}

impl StoreError {
    /// The class of this error; the write path decides by it.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Db(e) => sqlx_class(e),
            StoreError::Migrate(e) => migrate_class(e),
            StoreError::Config(_) => ErrorClass::Bug,
            StoreError::Corrupt(_) => ErrorClass::Corrupt,
            StoreError::Unavailable => ErrorClass::Unavailable,
            StoreError::Down(c) => *c,
            StoreError::Failed { class, .. } => *class,
            StoreError::Gone(_) => ErrorClass::Corrupt,
            StoreError::Timeout => ErrorClass::Transient,
            StoreError::Spool { source, .. } => io_class(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_map_to_classes() {
        assert_eq!(sqlite_class(5), ErrorClass::Transient); // BUSY
        assert_eq!(sqlite_class(5 | (2 << 8)), ErrorClass::Transient); // BUSY_SNAPSHOT
        assert_eq!(sqlite_class(6), ErrorClass::Transient); // LOCKED
        assert_eq!(sqlite_class(8), ErrorClass::ReadOnly);
        assert_eq!(sqlite_class(8 | (3 << 8)), ErrorClass::ReadOnly); // READONLY_ROLLBACK
        assert_eq!(sqlite_class(1032), ErrorClass::Corrupt); // READONLY_DBMOVED
        assert_eq!(sqlite_class(13), ErrorClass::DiskFull);
        assert_eq!(sqlite_class(10 | (13 << 8)), ErrorClass::DiskFull); // IOERR_NOSPC
        assert_eq!(sqlite_class(10 | (4 << 8)), ErrorClass::Unavailable); // IOERR_WRITE
        assert_eq!(sqlite_class(11), ErrorClass::Corrupt);
        assert_eq!(sqlite_class(26), ErrorClass::Corrupt);
        assert_eq!(sqlite_class(2067), ErrorClass::Bug); // CONSTRAINT_UNIQUE
        assert_eq!(sqlite_class(1), ErrorClass::Bug); // generic SQL error
    }

    #[test]
    fn postgres_states_map_to_classes() {
        assert_eq!(postgres_class("25006"), ErrorClass::ReadOnly);
        assert_eq!(postgres_class("53100"), ErrorClass::DiskFull);
        assert_eq!(postgres_class("57P01"), ErrorClass::Unavailable);
        assert_eq!(postgres_class("08006"), ErrorClass::Unavailable);
        assert_eq!(postgres_class("40001"), ErrorClass::Transient);
        assert_eq!(postgres_class("57014"), ErrorClass::Transient);
        assert_eq!(postgres_class("XX001"), ErrorClass::Corrupt);
        assert_eq!(postgres_class("23505"), ErrorClass::Bug);
        assert_eq!(postgres_class("42P01"), ErrorClass::Bug);
    }

    #[test]
    fn os_errors_map_to_classes() {
        assert_eq!(
            io_class(&std::io::Error::from_raw_os_error(28)),
            ErrorClass::DiskFull
        );
        assert_eq!(
            io_class(&std::io::Error::from_raw_os_error(30)),
            ErrorClass::ReadOnly
        );
        assert_eq!(
            io_class(&std::io::Error::from_raw_os_error(13)),
            ErrorClass::ReadOnly
        );
        assert_eq!(
            io_class(&std::io::Error::from_raw_os_error(5)),
            ErrorClass::Unavailable
        );
        assert_eq!(
            sqlx_class(&sqlx::Error::PoolTimedOut),
            ErrorClass::Unavailable
        );
        assert_eq!(sqlx_class(&sqlx::Error::RowNotFound), ErrorClass::Bug);
    }
}
