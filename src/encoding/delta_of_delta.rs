//! Gorilla delta-of-delta timestamps, widened to the whole `i64` range.
//!
//! Bit layout (least significant bit first, see [`super::bits`]):
//! ```text
//! 64 bits          the first timestamp
//! then for each following timestamp, dod = (t[i] - t[i-1]) - (t[i-1] - t[i-2])
//! (with the delta before the first timestamp taken as 0), zigzag-mapped:
//!   0                      dod == 0
//!   1 0      + 7 bits      zz(dod) < 2^7
//!   1 1 0    + 9 bits      zz(dod) < 2^9
//!   1 1 1 0  + 12 bits     zz(dod) < 2^12
//!   1 1 1 1 0 + 32 bits    zz(dod) < 2^32
//!   1 1 1 1 1 + 64 bits    anything else
//! ```
//! The first four buckets are the paper's; the 64-bit bucket and wrapping
//! arithmetic make irregular, negative and huge steps (nanoseconds across the
//! whole `i64` range) round-trip instead of overflowing its 32-bit last bucket.

use super::bits::{self, BitReader, BitSink};
use super::error::Result;
use super::varint::{unzigzag, zigzag};
use super::{Codec, EncodingId};

/// Value widths of the buckets after the `dod == 0` one, by number of leading ones.
const BUCKET_BITS: [u32; 5] = [7, 9, 12, 32, 64];

/// The Gorilla delta-of-delta timestamp codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeltaOfDelta;

impl DeltaOfDelta {
    fn write<S: BitSink>(timestamps: &[i64], sink: &mut S) {
        let Some(&first) = timestamps.first() else { return };
        sink.put(first as u64, 64);
        let (mut prev, mut delta) = (first, 0i64);
        for &t in &timestamps[1..] {
            let d = t.wrapping_sub(prev);
            let zz = zigzag(d.wrapping_sub(delta));
            (prev, delta) = (t, d);
            if zz == 0 {
                sink.put(0, 1);
                continue;
            }
            let bucket = BUCKET_BITS.iter().position(|&b| b == 64 || zz >> b == 0).unwrap_or(4);
            let ones = bucket as u32 + 1;
            if ones < 5 {
                sink.put((1 << ones) - 1, ones + 1);
            } else {
                sink.put(0b11111, 5);
            }
            sink.put(zz, BUCKET_BITS[bucket]);
        }
    }

    /// Encoded size in bytes, computed without writing.
    pub fn encoded_len(timestamps: &[i64]) -> usize {
        bits::sized(|c| Self::write(timestamps, c))
    }
}

impl Codec<i64> for DeltaOfDelta {
    fn id(&self) -> EncodingId {
        EncodingId::DeltaOfDelta
    }

    fn encode(&mut self, items: &[i64], out: &mut Vec<u8>) -> Result<()> {
        bits::written(out, |w| Self::write(items, w));
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<i64>) -> Result<()> {
        let take = take.min(count);
        bits::check_stream_floor(payload, count, "delta-of-delta timestamps")?;
        if take == 0 {
            return Ok(());
        }
        super::reserve(out, take, "delta-of-delta timestamps")?;
        let mut r = BitReader::new(payload);
        let first = r.read_long(64) as i64;
        out.push(first);
        let (mut prev, mut delta) = (first, 0i64);
        for _ in 1..take {
            let ones = (!r.peek()).trailing_zeros().min(5);
            if ones == 0 {
                r.skip(1);
            } else {
                r.skip(if ones < 5 { ones + 1 } else { 5 });
                delta = delta.wrapping_add(unzigzag(r.read_long(BUCKET_BITS[ones as usize - 1])));
            }
            prev = prev.wrapping_add(delta);
            out.push(prev);
        }
        r.check("delta-of-delta timestamps")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Error;

    fn round_trip(ts: &[i64]) -> Vec<u8> {
        let mut buf = Vec::new();
        DeltaOfDelta.encode(ts, &mut buf).expect("encodes");
        assert_eq!(buf.len(), DeltaOfDelta::encoded_len(ts));
        let mut got = Vec::new();
        DeltaOfDelta.decode(&buf, ts.len(), ts.len(), &mut got).expect("decodes");
        assert_eq!(got, ts);
        buf
    }

    #[test]
    fn regular_series_cost_one_bit_per_point() {
        let ts: Vec<i64> = (0..1001).map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000).collect();
        // 64 bits of first timestamp, one bucket for the first delta, then one bit each.
        assert!(round_trip(&ts).len() <= 8 + 13 + 1000 / 8);
    }

    #[test]
    fn extremes_and_irregular_steps_round_trip() {
        round_trip(&[i64::MIN, i64::MAX, i64::MIN, 0, -1, 1, i64::MAX]);
        round_trip(&[5]);
        round_trip(&[]);
        round_trip(&[0, 100, 50, 1 << 40, (1 << 40) + 1, -(1 << 62)]);
    }

    #[test]
    fn short_payload_is_truncated() {
        let mut got = Vec::new();
        let err = DeltaOfDelta.decode(&[1, 2, 3], 2, 2, &mut got);
        assert!(matches!(err, Err(Error::Truncated { .. })));
    }
}
