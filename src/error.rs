//! Errors of the database: what a caller of [`crate::Db`] can get back.
//!
//! Chronicle's errors cross DataFusion as `DataFusionError::External` (a scan
//! runs inside a DataFusion plan), and DataFusion may wrap them further on the
//! way up. Converting a `DataFusionError` back (`From`, so `?` does it) takes
//! the Chronicle error out again: a caller of `query_sql`, `query_dialect` or
//! `query` matches `Error::Corrupt { path, offset, .. }` without downcasting.

use std::path::PathBuf;

use datafusion::common::error::DataFusionError;

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
    /// A query failed to plan or run. A failure that carries one of the
    /// other variants (damage found by a scan, say) is that variant instead:
    /// see the `From<DataFusionError>` conversion.
    #[error("query failed: {0}")]
    Query(#[source] DataFusionError),
    /// The cold tier's object store refused or failed `op` on `url`, or
    /// what it gave back was not what was written.
    #[error("cold tier: {op} {url} failed: {detail}")]
    Tier {
        /// The operation (upload, verify, read, ...).
        op: &'static str,
        /// The object or store.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A downsampling rule of the configuration was refused.
    #[error(transparent)]
    Rollup(#[from] crate::rollup::RollupError),
    /// A bug in Chronicle: an encoding or Arrow failure that no input, stored
    /// or given, can cause. Worth a report with the message.
    #[error("a bug in Chronicle: {0}")]
    Internal(String),
}

/// Result of database operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<DataFusionError> for Error {
    /// The Chronicle error `e` carries, or `Error::Query(e)` when it carries
    /// none. DataFusion reports one failure to several streams behind an
    /// `Arc` (`Shared`), so the error is found by reference, through the
    /// `source()` chain every wrapper keeps (`External`, `Context`, `Shared`,
    /// Arrow's `ExternalError`, ...), and copied out.
    fn from(e: DataFusionError) -> Self {
        let chain = std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| e.source());
        match chain.filter_map(|e| e.downcast_ref::<Error>()).find_map(Error::copied) {
            Some(chronicle) => chronicle,
            None => Error::Query(e),
        }
    }
}

impl From<crate::wal::Error> for Error {
    fn from(e: crate::wal::Error) -> Self {
        match e {
            crate::wal::Error::Poisoned(why) => Error::Poisoned(why),
            other => Error::Wal(other),
        }
    }
}

impl Error {
    /// The same error, for one reached by reference: every field is kept, an
    /// I/O cause as its kind and message. `None` for the variants that wrap
    /// another layer's error (a query's, the WAL's): the chain is searched
    /// further down instead.
    fn copied(&self) -> Option<Error> {
        Some(match self {
            Error::InvalidRow { row, source } => Error::InvalidRow { row: *row, source: source.clone() },
            Error::InvalidArgument(message) => Error::InvalidArgument(message.clone()),
            Error::Io { op, path, source } => {
                Error::Io { op, path: path.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
            }
            Error::Corrupt { path, offset, detail } => {
                Error::Corrupt { path: path.clone(), offset: *offset, detail: detail.clone() }
            }
            Error::NotADatabase { path, detail } => Error::NotADatabase { path: path.clone(), detail: detail.clone() },
            Error::Locked(path) => Error::Locked(path.clone()),
            Error::Poisoned(why) => Error::Poisoned(why.clone()),
            Error::Closed => Error::Closed,
            Error::Dialect { line, column, message } => {
                Error::Dialect { line: *line, column: *column, message: message.clone() }
            }
            Error::Tier { op, url, detail } => Error::Tier { op, url: url.clone(), detail: detail.clone() },
            Error::Internal(message) => Error::Internal(message.clone()),
            Error::Rollup(e) => Error::Rollup(e.clone()),
            Error::Wal(_) | Error::Query(_) => return None,
        })
    }

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::error::ArrowError;

    use super::*;

    fn corrupt() -> Error {
        Error::Corrupt { path: PathBuf::from("/db"), offset: 42, detail: "bad crc".into() }
    }

    fn external(e: Error) -> DataFusionError {
        DataFusionError::External(Box::new(e))
    }

    fn is_the_corruption(e: &Error) -> bool {
        matches!(e, Error::Corrupt { path, offset: 42, .. } if path == &PathBuf::from("/db"))
    }

    #[test]
    fn a_chronicle_error_comes_out_of_every_datafusion_wrapper() {
        let arrow = |e: DataFusionError| {
            DataFusionError::ArrowError(Box::new(ArrowError::ExternalError(Box::new(e))), Some("while sorting".into()))
        };
        let wrapped = [
            external(corrupt()),
            external(corrupt()).context("scanning cpu"),
            DataFusionError::Shared(Arc::new(external(corrupt()))),
            arrow(external(corrupt())),
            DataFusionError::External(Box::new(arrow(external(corrupt()).context("x")))),
            external(Error::Query(external(corrupt()))),
        ];
        for e in wrapped {
            let shown = e.to_string();
            let converted = Error::from(e);
            assert!(is_the_corruption(&converted), "{shown} became {converted:?}");
        }
    }

    #[test]
    fn other_errors_stay_query_errors_unchanged() {
        let plan = DataFusionError::Plan("no column nope".into()).context("planning");
        let shown = plan.to_string();
        match Error::from(plan) {
            Error::Query(e) => assert_eq!(e.to_string(), shown),
            other => panic!("expected Query, got {other:?}"),
        }
        let foreign = DataFusionError::External(Box::new(std::io::Error::other("disk on fire")));
        assert!(matches!(Error::from(foreign), Error::Query(DataFusionError::External(_))));
    }

    #[test]
    fn a_failure_shared_with_other_streams_still_gives_the_chronicle_error() {
        let shared = Arc::new(external(corrupt()));
        let other_stream = DataFusionError::Shared(Arc::clone(&shared));
        assert!(is_the_corruption(&Error::from(DataFusionError::Shared(shared))));
        assert!(is_the_corruption(&Error::from(other_stream)));
        let io = Error::Io { op: "read", path: "/db".into(), source: std::io::Error::other("disk on fire") };
        match Error::from(DataFusionError::Shared(Arc::new(external(io)))) {
            Error::Io { op: "read", source, .. } => assert_eq!(source.to_string(), "disk on fire"),
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
