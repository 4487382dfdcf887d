//! The one error type of every wire format: what was refused and where.

/// Why a body was refused. Each variant says where in the body the problem
/// is, so a client can find it; nothing of a refused body is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Line protocol refused at `line` and `column`, both counted from 1,
    /// the column in bytes from the start of the line.
    #[error("line {line}, column {column}: {message}")]
    Line {
        /// The line, from 1.
        line: usize,
        /// The byte in the line, from 1.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// An item of a structured body was refused. `at` names it as a path
    /// into the body, e.g. `points[3].value` or `timeseries[2].labels`.
    #[error("{at}: {message}")]
    Item {
        /// Where the item is in the body.
        at: String,
        /// What was wrong.
        message: String,
    },
    /// The body does not parse as the format at all (protobuf, JSON).
    #[error("body is not valid {format}: {message}")]
    Syntax {
        /// The format expected.
        format: &'static str,
        /// The decoder's own message (JSON names line and column).
        message: String,
    },
    /// A compressed body is damaged.
    #[error("body is not a valid snappy block: {0}")]
    Snappy(String),
    /// A body is too large uncompressed: a compressed body declaring a size
    /// over the caller's limit (nothing was allocated for it), or a body to
    /// compress over the format's limit.
    #[error("uncompressed body of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The uncompressed size.
        len: u64,
        /// The caller's limit.
        limit: usize,
    },
}

/// The result of parsing a body.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Item`] at `at`.
    pub(crate) fn item(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Item { at: at.into(), message: message.into() }
    }
}
