//! Per-column chunk statistics, stored beside every encoded value column so a
//! scan can prune a chunk, or answer count / sum / min / max / first / last,
//! without decoding it.
//!
//! Layout:
//! ```text
//! u8      e        decimal exponent shared by the compact stats (0..=18)
//! u8      raw      bit i set: stat i is stored raw
//! 5 x     stat     first, last, min, max, sum in that order, each either
//!                  8 bytes f64 bit pattern (raw) or varint zz(k), k / 10^e == stat
//! ```
//! Definitions (the invariants scans rely on): `first` / `last` are the values at
//! the smallest / largest timestamp; `min` / `max` ignore NaN (and are NaN only
//! if every value is); `sum` is the `f64` sum in time order, NaN if any value is.
//! The count and the time bounds live in the chunk header, shared by all columns.

use super::decimal::{MAX_EXPONENT, scaled, unscaled};
use super::error::{Error, Result};
use super::varint::{ByteReader, put_varint, zigzag};

/// Statistics of one value column of a chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnStats {
    /// Value at the earliest timestamp.
    pub first: f64,
    /// Value at the latest timestamp.
    pub last: f64,
    /// Smallest non-NaN value (NaN if all are NaN).
    pub min: f64,
    /// Largest non-NaN value (NaN if all are NaN).
    pub max: f64,
    /// Sum in time order.
    pub sum: f64,
}

impl ColumnStats {
    /// Statistics of a non-empty column; `None` if it is empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        let (&first, &last) = (values.first()?, values.last()?);
        let (mut min, mut max, mut sum) = (f64::NAN, f64::NAN, 0.0);
        for &v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        Some(Self { first, last, min, max, sum })
    }

    fn array(&self) -> [f64; 5] {
        [self.first, self.last, self.min, self.max, self.sum]
    }

    /// Appends the encoded statistics to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let stats = self.array();
        // The exponent that makes first, last, min and max compact; sum rides along if it can.
        let e =
            stats[..4].iter().filter_map(|&v| (0..=MAX_EXPONENT).find(|&e| scaled(v, e).is_some())).max().unwrap_or(0);
        let ks = stats.map(|v| scaled(v, e));
        let raw = ks.iter().enumerate().fold(0u8, |m, (i, k)| if k.is_none() { m | 1 << i } else { m });
        out.push(e);
        out.push(raw);
        for (v, k) in stats.iter().zip(ks) {
            match k {
                Some(k) => put_varint(out, zigzag(k)),
                None => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            }
        }
    }

    /// Reads statistics written by [`ColumnStats::encode`].
    pub fn decode(r: &mut ByteReader<'_>) -> Result<Self> {
        let at = r.offset();
        let e = r.u8("stats exponent")?;
        if e > MAX_EXPONENT {
            return Err(Error::corrupt("stats exponent", at, format!("{e} exceeds {MAX_EXPONENT}")));
        }
        let raw = r.u8("stats layout")?;
        if raw >> 5 != 0 {
            return Err(Error::corrupt("stats layout", at + 1, format!("unknown flags {raw:#04x}")));
        }
        let mut stats = [0f64; 5];
        for (i, s) in stats.iter_mut().enumerate() {
            *s = if raw & (1 << i) != 0 {
                f64::from_bits(r.u64_le("stat")?)
            } else {
                unscaled(r.varint_i64("stat")?, e)
            };
        }
        let [first, last, min, max, sum] = stats;
        Ok(Self { first, last, min, max, sum })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> (ColumnStats, usize) {
        let stats = ColumnStats::of(values).expect("non-empty");
        let mut buf = Vec::new();
        stats.encode(&mut buf);
        let got = ColumnStats::decode(&mut ByteReader::new(&buf, 0)).expect("decodes");
        assert_eq!(got.array().map(f64::to_bits), stats.array().map(f64::to_bits));
        (stats, buf.len())
    }

    #[test]
    fn decimal_stats_are_compact() {
        let (s, len) = round_trip(&[58.0, 57.0, 59.0, 60.0]);
        assert_eq!((s.first, s.last, s.min, s.max, s.sum), (58.0, 60.0, 57.0, 60.0, 234.0));
        assert!(len <= 8, "{len} bytes");
    }

    #[test]
    fn nan_is_ignored_by_min_max_but_poisons_sum() {
        let (s, _) = round_trip(&[f64::NAN, 2.0, -1.5]);
        assert_eq!((s.min, s.max), (-1.5, 2.0));
        assert!(s.sum.is_nan() && s.first.is_nan());
        let (s, _) = round_trip(&[f64::NAN]);
        assert!(s.min.is_nan() && s.max.is_nan());
        round_trip(&[-0.0, f64::INFINITY, f64::MIN_POSITIVE / 8.0]);
        assert!(ColumnStats::of(&[]).is_none());
    }

    #[test]
    fn unknown_flags_are_corrupt() {
        let err = ColumnStats::decode(&mut ByteReader::new(&[0, 0xff], 10));
        assert!(matches!(err, Err(Error::Corrupt { offset: 11, .. })));
    }
}
