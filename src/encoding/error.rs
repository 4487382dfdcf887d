//! Errors of the column codecs.
//!
//! Every way a chunk can fail to decode has a variant here that says what was
//! wrong and where (a byte offset into the chunk or payload), so a damaged file
//! is reported, never trusted and never a panic.

/// What went wrong while encoding or decoding a column chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the structure it was reading was complete.
    #[error("truncated {what}: needed more bytes at offset {offset}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Byte offset where more input was needed.
        offset: usize,
    },
    /// A value read from the input is impossible for a well-formed chunk.
    #[error("corrupt {what} at offset {offset}: {detail}")]
    Corrupt {
        /// The structure being read.
        what: &'static str,
        /// Byte offset of the bad value.
        offset: usize,
        /// What was wrong with it.
        detail: String,
    },
    /// The stored checksum does not match the bytes.
    #[error("checksum mismatch in chunk of {len} bytes: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// Length of the chunk that failed the check.
        len: usize,
        /// Checksum stored in the chunk.
        stored: u32,
        /// Checksum of the bytes as read.
        computed: u32,
    },
    /// The encoding id is not one this version knows.
    #[error("unknown {kind} encoding id {id}")]
    UnknownEncoding {
        /// "time" or "value".
        kind: &'static str,
        /// The id found.
        id: u8,
    },
    /// The input cannot be encoded as asked.
    #[error("cannot encode: {0}")]
    Unencodable(String),
}

impl Error {
    /// The same error with its offset moved `by` bytes, for errors found in a
    /// sub-slice and reported against the enclosing one.
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Error::Truncated { what, offset } => Error::Truncated { what, offset: offset + by },
            Error::Corrupt { what, offset, detail } => Error::Corrupt { what, offset: offset + by, detail },
            other => other,
        }
    }

    pub(crate) fn corrupt(what: &'static str, offset: usize, detail: impl Into<String>) -> Self {
        Error::Corrupt { what, offset, detail: detail.into() }
    }
}

/// Result of the codec layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
