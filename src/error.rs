//! Errors of the database: what a caller of [`crate::Db`] can get back.

use std::path::PathBuf;

use crate::model::InvalidInput;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A row of a write was refused; nothing of that write was stored.
    #[error("row {row}: {source}")]
    InvalidRow {
        /// Index of the offending row in the batch.
        row: usize,
        /// What was wrong with it.
        source: InvalidInput,
    },
    /// An argument other than written data was refused.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(crate::wal::Error),
    /// A file operation failed.
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored bytes are damaged: `path` at byte `offset`.
    #[error("corrupt data in {path} at offset {offset}: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damage (or of the damaged structure).
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// The file is not a Chronicle database of a version this build reads.
    #[error("{path} is not a Chronicle database: {detail}")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Another process holds the database open.
    #[error("{0} is locked by another process")]
    Locked(PathBuf),
    /// An earlier write or fsync of the database file failed; writes are
    /// refused until the database is reopened (reads still work).
    #[error("database is poisoned by an earlier failure ({0}); reopen it")]
    Poisoned(String),
    /// The database was closed.
    #[error("database is closed")]
    Closed,
    /// A dialect query was refused: `message` says why, at `line` and `column`
    /// (both from 1, columns counted in characters).
    #[error("query error at line {line}, column {column}: {message}")]
    Dialect {
        /// The line of the offending token.
        line: usize,
        /// The column of the offending token.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A bug in Chronicle: an internal step failed that no input can make
    /// fail (an encoder or Arrow refusing what Chronicle built).
    #[error("internal error (a bug in Chronicle): {0}")]
    Internal(String),
    /// A query failed to plan or run.
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

/// Result of database operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::wal::Error> for Error {
    fn from(e: crate::wal::Error) -> Self {
        match e {
            crate::wal::Error::Poisoned(why) => Error::Poisoned(why),
            other => Error::Wal(other),
        }
    }
}

impl Error {
    /// A closure mapping an I/O error of `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// A codec error found in bytes read from `path` at `base`.
    pub(crate) fn corrupt_at(path: impl Into<PathBuf>, base: u64, e: crate::encoding::Error) -> Error {
        use crate::encoding::Error as E;
        let offset = match &e {
            E::Truncated { offset, .. } | E::Corrupt { offset, .. } => base + *offset as u64,
            _ => base,
        };
        Error::Corrupt { path: path.into(), offset, detail: e.to_string() }
    }
}
