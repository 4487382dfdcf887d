//! Writes chunks (layout in [`super::chunk`]), choosing each column's codec.
//!
//! [`EncodingPolicy::Adaptive`] sizes every codec that can represent a column
//! and keeps the smallest, so a chunk is never larger than its Gorilla
//! encoding; [`EncodingPolicy::Gorilla`] forces Gorilla delta-of-delta and XOR
//! (the reference the adaptive choice is measured against).
//!
//! Adaptive timestamps are first divided by the largest power of ten that
//! divides them all (nanosecond timestamps at whole seconds or milliseconds),
//! using exact division by a modular inverse rather than a hardware divide.

use super::chunk::{FORMAT_VERSION, MAX_TIME_SCALE, POW10};
use super::error::{Error, Result};
use super::run_length;
use super::stats::ColumnStats;
use super::varint::{put_varint, zigzag};
use super::{
    Codec, Constant, Decimal, DeltaOfDelta, EncodingId, GorillaXor, MAX_CHUNK_POINTS, PackedInts, Plain, RunLength,
};

/// How a [`ChunkEncoder`] picks codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingPolicy {
    /// The smallest of every applicable codec, per column and chunk.
    #[default]
    Adaptive,
    /// Gorilla delta-of-delta timestamps and XOR values, nothing else.
    Gorilla,
}

/// Computes the encoded size of a value column under one codec.
type Sizer = fn(&[f64]) -> usize;

/// Encodes chunks, reusing its scratch buffers from one chunk to the next.
#[derive(Debug, Default)]
pub struct ChunkEncoder {
    policy: EncodingPolicy,
    packed: PackedInts,
    decimal: Decimal,
    offsets: Vec<i64>,
    payload: Vec<u8>,
}

impl ChunkEncoder {
    /// An encoder following `policy`.
    pub fn new(policy: EncodingPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    /// Appends one chunk holding `timestamps` (non-decreasing, ns) and the value
    /// `columns` that share them (each as long as `timestamps`) to `out`.
    pub fn encode(&mut self, timestamps: &[i64], columns: &[&[f64]], out: &mut Vec<u8>) -> Result<()> {
        let n = timestamps.len();
        let (Some(&min), Some(&max)) = (timestamps.first(), timestamps.last()) else {
            return Err(Error::Unencodable("a chunk needs at least one point".into()));
        };
        if n > MAX_CHUNK_POINTS {
            return Err(Error::Unencodable(format!("{n} points exceed the chunk limit {MAX_CHUNK_POINTS}")));
        }
        if let Some(i) = timestamps.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::Unencodable(format!("timestamps decrease at index {}", i + 1)));
        }
        if let Some((i, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(Error::Unencodable(format!("column {i} has {} values for {n} timestamps", c.len())));
        }
        let start = out.len();
        let scale = match self.policy {
            EncodingPolicy::Adaptive => time_scale(timestamps),
            EncodingPolicy::Gorilla => 0,
        };
        let unit = POW10[usize::from(scale)];
        let (inverse, shift) = (odd_inverse(unit >> scale), u32::from(scale));
        self.offsets.clear();
        self.offsets
            .extend(timestamps.iter().map(|&t| ((t.wrapping_sub(min) as u64 >> shift).wrapping_mul(inverse)) as i64));

        out.push(FORMAT_VERSION);
        put_varint(out, n as u64);
        let time_encoding = self.encode_times()?;
        out.push(time_encoding as u8);
        out.push(scale);
        put_varint(out, zigzag(min / unit as i64));
        put_varint(out, max.wrapping_sub(min) as u64 / unit);
        self.flush_payload(out);

        put_varint(out, columns.len() as u64);
        for values in columns {
            let encoding = self.encode_values(values)?;
            out.push(encoding as u8);
            if let Some(stats) = ColumnStats::of(values) {
                stats.encode(out);
            }
            self.flush_payload(out);
        }
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    fn flush_payload(&mut self, out: &mut Vec<u8>) {
        put_varint(out, self.payload.len() as u64);
        out.extend_from_slice(&self.payload);
    }

    /// Encodes `self.offsets` into `self.payload`.
    fn encode_times(&mut self) -> Result<EncodingId> {
        self.payload.clear();
        let times = &self.offsets[..];
        if self.policy == EncodingPolicy::Adaptive {
            self.packed.encode_ints(times, &mut self.payload);
            let packed = self.payload.len();
            // Delta-of-delta spends 64 bits on the first time and >= 1 bit on
            // each other: below that floor it need not be sized at all.
            if packed <= 8 + (times.len() - 1).div_ceil(8) {
                return Ok(EncodingId::PackedTime);
            }
            let (dod, plain) = (DeltaOfDelta::encoded_len(times), 8 * times.len());
            if packed <= dod && packed <= plain {
                return Ok(EncodingId::PackedTime);
            }
            self.payload.clear();
            if plain < dod {
                Codec::<i64>::encode(&mut Plain, times, &mut self.payload)?;
                return Ok(EncodingId::PlainTime);
            }
        }
        DeltaOfDelta.encode(times, &mut self.payload)?;
        Ok(EncodingId::DeltaOfDelta)
    }

    /// Encodes one value column into `self.payload`.
    fn encode_values(&mut self, values: &[f64]) -> Result<EncodingId> {
        self.payload.clear();
        if self.policy == EncodingPolicy::Gorilla {
            GorillaXor.encode(values, &mut self.payload)?;
            return Ok(EncodingId::GorillaXor);
        }
        let runs = run_length::run_count(values);
        if runs == 1 {
            Constant.encode(values, &mut self.payload)?;
            return Ok(EncodingId::Constant);
        }
        let decimal = self.decimal.encode(values, &mut self.payload).ok().map(|()| self.payload.len());
        let mut best = (EncodingId::Decimal, decimal.unwrap_or(usize::MAX));
        // Sizing a codec costs a pass; skip those whose floor is already beaten
        // (run-length spends >= 9 bytes a run). Gorilla's floor costs a pass
        // too, cheaper than sizing: worth it only when there is a size to beat.
        let gorilla_floor = if decimal.is_some() { GorillaXor::size_floor(values) } else { 0 };
        let candidates: [(EncodingId, usize, Sizer); 3] = [
            (EncodingId::GorillaXor, gorilla_floor, GorillaXor::encoded_len),
            (EncodingId::RunLength, 9 * runs, RunLength::encoded_len),
            (EncodingId::PlainValue, 8 * values.len(), |v| 8 * v.len()),
        ];
        for (id, floor, size) in candidates {
            if floor < best.1 {
                let len = size(values);
                if len < best.1 {
                    best = (id, len);
                }
            }
        }
        if best.0 != EncodingId::Decimal {
            self.payload.clear();
            match best.0 {
                EncodingId::GorillaXor => GorillaXor.encode(values, &mut self.payload)?,
                EncodingId::RunLength => RunLength.encode(values, &mut self.payload)?,
                _ => Codec::<f64>::encode(&mut Plain, values, &mut self.payload)?,
            }
        }
        Ok(best.0)
    }
}

/// The largest `s <= 18` such that `10^s` divides every timestamp.
fn time_scale(timestamps: &[i64]) -> u8 {
    let min = timestamps[0];
    // 10^s = 2^s * 5^s: the binary trailing zeros bound s; then test 5^s.
    let ored = timestamps.iter().fold(0u64, |acc, &t| acc | t.wrapping_sub(min) as u64);
    let mut s = (ored.trailing_zeros() as u8).min(MAX_TIME_SCALE);
    while s > 0 && min % POW10[usize::from(s)] as i64 != 0 {
        s -= 1;
    }
    let mut i = 0;
    while s > 0 && i < timestamps.len() {
        let five = POW10[usize::from(s)] >> s;
        let (inverse, limit) = (odd_inverse(five), u64::MAX / five);
        match timestamps[i..].iter().position(|&t| (t.wrapping_sub(min) as u64 >> s).wrapping_mul(inverse) > limit) {
            Some(bad) => {
                i += bad;
                s -= 1;
            }
            None => break,
        }
    }
    s
}

/// The inverse of odd `d` modulo 2^64 (Newton's iteration): `x * d == 1`, so
/// multiplying by it divides exactly any multiple of `d`.
fn odd_inverse(d: u64) -> u64 {
    let mut x = d;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(d.wrapping_mul(x)));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scale_finds_the_common_power_of_ten() {
        let s = 1_700_000_000_000_000_000i64;
        assert_eq!(time_scale(&[s, s + 10_000_000_000, s + 20_000_000_000]), 10);
        assert_eq!(time_scale(&[s, s + 1_000_000, s + 3_000_000]), 6);
        assert_eq!(time_scale(&[s + 1, s + 2]), 0);
        assert_eq!(time_scale(&[-3_000, -2_000, 5_000]), 3);
        assert_eq!(time_scale(&[0]), 18);
        assert_eq!(time_scale(&[i64::MIN, i64::MAX]), 0);
    }

    #[test]
    fn inverse_divides_exactly() {
        for d in [1u64, 5, 25, 3_814_697_265_625] {
            let inv = odd_inverse(d);
            assert_eq!(d.wrapping_mul(inv), 1);
            assert_eq!((d * 12_345).wrapping_mul(inv), 12_345);
        }
    }
}
