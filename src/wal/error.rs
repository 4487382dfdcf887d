//! Errors of the write-ahead log.

use std::path::PathBuf;

/// What went wrong in the write-ahead log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("WAL {op} failed on {path}: {source}")]
    Io {
        /// The operation ("append", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An earlier write or fsync failed, so what reached the disk is unknown;
    /// the log refuses writes until it is reopened (and replayed).
    #[error("WAL is poisoned by an earlier failure ({0}); reopen the database")]
    Poisoned(String),
    /// A record is larger than a segment may hold.
    #[error("WAL record of {len} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge {
        /// The record's payload length.
        len: usize,
        /// The largest payload accepted.
        limit: usize,
    },
    /// Every LSN up to `segment::MAX_LSN` is used (only a log whose segment
    /// names were tampered with gets here).
    #[error("WAL has no LSN left after {0}")]
    LsnExhausted(u64),
    /// The log was closed.
    #[error("WAL is closed")]
    Closed,
}

/// Result of the WAL layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}
