//! Run-length columns: runs of one repeated bit pattern.
//!
//! Layout:
//! ```text
//! varint  runs
//! runs x { 8 bytes value bit pattern (little-endian), varint length >= 1 }
//! ```
//! The lengths must add up to the chunk's count; anything else is corrupt.
//! Fits step-like gauges (states, limits, configuration values).

use super::error::{Error, Result};
use super::varint::{ByteReader, put_varint, varint_len};
use super::{Codec, EncodingId};

/// The run-length codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunLength;

/// Runs of equal bit patterns in `values`, as (bit pattern, length).
fn runs(values: &[f64]) -> impl Iterator<Item = (u64, usize)> + '_ {
    values.chunk_by(|a, b| a.to_bits() == b.to_bits()).map(|run| (run[0].to_bits(), run.len()))
}

/// Number of runs of equal bit patterns in `values`.
pub fn run_count(values: &[f64]) -> usize {
    runs(values).count()
}

impl RunLength {
    /// Encoded size in bytes, computed without writing.
    pub fn encoded_len(values: &[f64]) -> usize {
        let (mut n, mut bytes) = (0u64, 0usize);
        for (_, len) in runs(values) {
            n += 1;
            bytes += 8 + varint_len(len as u64);
        }
        bytes + varint_len(n)
    }
}

impl Codec<f64> for RunLength {
    fn id(&self) -> EncodingId {
        EncodingId::RunLength
    }

    fn encode(&mut self, items: &[f64], out: &mut Vec<u8>) -> Result<()> {
        put_varint(out, runs(items).count() as u64);
        for (bits, len) in runs(items) {
            out.extend_from_slice(&bits.to_le_bytes());
            put_varint(out, len as u64);
        }
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        let take = take.min(count);
        let mut r = ByteReader::new(payload, 0);
        let runs = r.varint_len(count, "run count")?;
        let mut total = 0usize;
        for _ in 0..runs {
            let v = f64::from_bits(r.u64_le("run value")?);
            let at = r.offset();
            let len = r.varint_len(count - total, "run length")?;
            if len == 0 {
                return Err(Error::corrupt("run length", at, "empty run"));
            }
            let emit = len.min(take.saturating_sub(total));
            super::reserve(out, emit, "run values")?;
            out.extend(std::iter::repeat_n(v, emit));
            total += len;
        }
        if total != count {
            return Err(Error::corrupt("run lengths", r.offset(), format!("runs cover {total} of {count} values")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_prefixes_and_checks_totals() {
        let values = [1.0, 1.0, f64::NAN, f64::NAN, -0.0, 0.0, 0.0];
        let mut buf = Vec::new();
        RunLength.encode(&values, &mut buf).expect("encodes");
        assert_eq!(buf.len(), RunLength::encoded_len(&values));
        let mut got = Vec::new();
        RunLength.decode(&buf, 7, 5, &mut got).expect("decodes");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&values[..5]));
        assert!(matches!(RunLength.decode(&buf, 8, 8, &mut got), Err(Error::Corrupt { .. })));
        assert!(RunLength.decode(&buf, 6, 6, &mut got).is_err());
    }
}
