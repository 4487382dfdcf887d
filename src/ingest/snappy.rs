//! Snappy *block* bodies (not the framed stream format), as Prometheus
//! remote write and remote read send them.
//!
//! A block starts with its decompressed length (a varint). That length is
//! checked against the caller's limit before a byte is allocated, so a tiny
//! body claiming gigabytes (a "snappy bomb") is an error, not an allocation.

use super::{Error, Result};

/// Decompresses a snappy block whose declared length is at most `limit` bytes.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::Snappy(e.to_string()))?;
    if len > limit {
        return Err(Error::TooLarge { len: len as u64, limit });
    }
    let mut out = vec![0; len];
    let written = snap::raw::Decoder::new().decompress(body, &mut out).map_err(|e| Error::Snappy(e.to_string()))?;
    out.truncate(written);
    Ok(out)
}

/// Compresses `bytes` as one snappy block (at most 4 GiB - 1 of input, the
/// format's limit).
pub fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    snap::raw::Encoder::new().compress_vec(bytes).map_err(|e| match e {
        snap::Error::TooBig { given, max } => {
            Error::TooLarge { len: given, limit: usize::try_from(max).unwrap_or(usize::MAX) }
        }
        other => Error::Snappy(other.to_string()),
    })
}
