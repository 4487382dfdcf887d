//! Rice codes with an escape for outliers: the entropy stage under
//! [`super::packed_ints`].
//!
//! A residual `v` with parameter `k` is its quotient `q = v >> k` in unary (`q`
//! zero bits, then a one bit) followed by the low `k` bits of `v`. A quotient of
//! [`ESCAPE`] or more is written as `ESCAPE` zeros, a one, and the raw 64-bit
//! value, so one outlier (a counter reset, a gap in timestamps) costs 89 bits
//! instead of an unbounded unary run. A decoder that sees more than `ESCAPE`
//! zeros knows the stream is corrupt.
//!
//! The parameter [`ALL_ZERO`] means every residual is zero and no bits follow:
//! perfectly regular timestamps cost nothing past the header.
//!
//! Residuals alternate between two lanes, each its own bit stream, so a decoder
//! follows two independent dependency chains at once:
//! ```text
//! varint  byte length of lane 0
//! bytes   lane 0: codes of the residuals at even positions
//! bytes   lane 1: codes of the residuals at odd positions (to the end)
//! ```
//! With [`ALL_ZERO`] there are no lanes at all.

use super::bits::{BitReader, BitSink, BitWriter, PEEK_BITS, low_mask};
use super::error::{Error, Result};
use super::varint::{ByteReader, put_varint};

/// Quotients at or above this are escaped.
pub const ESCAPE: u32 = 24;
/// Parameter value meaning "every residual is zero; no bits stored".
pub const ALL_ZERO: u8 = 0xFF;
/// Largest ordinary parameter.
pub const MAX_K: u8 = 63;

/// Bits needed to code `v` with parameter `k`.
#[inline]
fn code_len(v: u64, k: u32) -> u64 {
    let q = v >> k;
    if q < u64::from(ESCAPE) { q + 1 + u64::from(k) } else { u64::from(ESCAPE) + 1 + 64 }
}

/// Position of the highest one bit of `v` (0 for 0). Summed over residuals it
/// is a cheap, outlier-robust proxy for their Rice cost.
#[inline]
pub fn bit_length(v: u64) -> u64 {
    u64::from(64 - v.leading_zeros())
}

/// The parameter that codes `residuals` in the fewest bits, with that size.
pub fn best_parameter(residuals: &[u64]) -> (u8, u64) {
    best_parameter_near(residuals, residuals.iter().map(|&v| bit_length(v)).sum())
}

/// [`best_parameter`] given the sum of the residuals' [`bit_length`]: the optimum
/// sits near the mean bit length minus one, so the four parameters around it
/// are costed exactly, in one pass.
pub fn best_parameter_near(residuals: &[u64], length_sum: u64) -> (u8, u64) {
    if length_sum == 0 {
        return (ALL_ZERO, 0);
    }
    let mean = length_sum.div_ceil(residuals.len() as u64);
    let first = mean.saturating_sub(2).min(u64::from(MAX_K) - 3) as u32;
    let mut bits = [0u64; 4];
    for &v in residuals {
        for (j, b) in bits.iter_mut().enumerate() {
            *b += code_len(v, first + j as u32);
        }
    }
    let (j, &best) = bits.iter().enumerate().min_by_key(|&(_, b)| *b).unwrap_or((0, &u64::MAX));
    ((first + j as u32) as u8, best)
}

/// Writes the codes of `residuals` with parameter `k` to `sink`, in order.
fn encode_lane<S: BitSink>(residuals: impl Iterator<Item = u64>, k: u32, sink: &mut S) {
    let mask = low_mask(k);
    for v in residuals {
        let q = v >> k;
        if q < u64::from(ESCAPE) {
            sink.put(1 << q, q as u32 + 1);
            sink.put(v & mask, k);
        } else {
            sink.put(1 << ESCAPE, ESCAPE + 1);
            sink.put(v, 64);
        }
    }
}

/// Appends `residuals` coded with parameter `k`, as two lanes, to `out`;
/// `scratch` holds lane 0 while its length is unknown.
pub fn encode(residuals: &[u64], k: u8, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    if k == ALL_ZERO {
        return;
    }
    let k = u32::from(k);
    scratch.clear();
    let mut lane0 = BitWriter::new(scratch);
    encode_lane(residuals.iter().copied().step_by(2), k, &mut lane0);
    lane0.finish();
    put_varint(out, scratch.len() as u64);
    out.extend_from_slice(scratch);
    let mut lane1 = BitWriter::new(out);
    encode_lane(residuals.iter().copied().skip(1).step_by(2), k, &mut lane1);
    lane1.finish();
}

/// One lane being decoded: a reader and a 56-bit window shifted in a register,
/// reloaded from memory only when the next code does not fit.
struct Lane<'a> {
    r: BitReader<'a>,
    word: u64,
    avail: u32,
    used: u32,
    /// Offset of the lane in the payload, for errors.
    base: usize,
}

impl<'a> Lane<'a> {
    fn new(data: &'a [u8], base: usize) -> Self {
        let r = BitReader::new(data);
        Self { word: r.peek(), r, avail: PEEK_BITS, used: 0, base }
    }

    #[inline]
    fn next(&mut self, k: u32, mask: u64) -> Result<u64> {
        let q = self.word.trailing_zeros();
        let len = q + 1 + k;
        if q < ESCAPE && len <= self.avail {
            let v = (u64::from(q) << k) | ((self.word >> (q + 1)) & mask);
            self.word >>= len;
            self.avail -= len;
            self.used += len;
            return Ok(v);
        }
        self.refill_and_next(k, mask)
    }

    #[inline(never)]
    fn refill_and_next(&mut self, k: u32, mask: u64) -> Result<u64> {
        self.reload();
        let q = self.word.trailing_zeros();
        if q < ESCAPE && q + 1 + k <= self.avail {
            return self.next(k, mask);
        }
        // A code longer than the window, an escape, or damage.
        let v = decode_slow(&mut self.r, k).map_err(|e| e.shifted(self.base))?;
        self.reload();
        Ok(v)
    }

    fn reload(&mut self) {
        self.r.skip(self.used);
        (self.word, self.avail, self.used) = (self.r.peek(), PEEK_BITS, 0);
    }

    fn finish(mut self) -> Result<()> {
        self.reload();
        self.r.check("rice code").map_err(|e| e.shifted(self.base))
    }
}

/// Reads `out.len()` residuals coded with parameter `k` from `bytes` (written
/// by [`encode`]) into `out`, as the two's complement `i64` of each `u64`
/// residual so callers can transform them in place.
pub fn decode(bytes: &[u8], k: u8, out: &mut [i64]) -> Result<()> {
    if k == ALL_ZERO {
        out.fill(0);
        return Ok(());
    }
    if k > MAX_K {
        return Err(Error::corrupt("rice parameter", 0, format!("{k} is not a valid parameter")));
    }
    let mut header = ByteReader::new(bytes, 0);
    let len0 = header.varint_len(bytes.len(), "rice lane length")?;
    let start0 = header.offset();
    let lane0 = header.take(len0, "rice lane")?;
    let (k, mask) = (u32::from(k), low_mask(u32::from(k)));
    let mut a = Lane::new(lane0, start0);
    let mut b = Lane::new(header.remaining(), start0 + len0);
    let mut pairs = out.chunks_exact_mut(2);
    for pair in &mut pairs {
        pair[0] = a.next(k, mask)? as i64;
        pair[1] = b.next(k, mask)? as i64;
    }
    if let [last] = pairs.into_remainder() {
        *last = a.next(k, mask)? as i64;
    }
    a.finish()?;
    b.finish()
}

/// Reads one code that does not fit the fast path's window.
#[cold]
fn decode_slow(r: &mut BitReader<'_>, k: u32) -> Result<u64> {
    let q = r.peek().trailing_zeros();
    if q < ESCAPE {
        r.skip(q + 1);
        Ok((u64::from(q) << k) | r.read_long(k))
    } else if q == ESCAPE {
        r.skip(ESCAPE + 1);
        Ok(r.read_long(64))
    } else if q as usize >= r.bits_left() {
        Err(Error::Truncated { what: "rice code", offset: r.byte_offset() })
    } else {
        Err(Error::corrupt(
            "rice code",
            r.byte_offset(),
            format!("unary run of {q} zeros exceeds the escape length {ESCAPE}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[u64]) -> u64 {
        let (k, bits) = best_parameter(values);
        let mut buf = Vec::new();
        encode(values, k, &mut buf, &mut Vec::new());
        // Two lanes cost a length varint and up to a byte of padding each.
        assert!(buf.len() as u64 <= bits.div_ceil(8) + 4, "{} bytes for {bits} bits", buf.len());
        let mut got = vec![0i64; values.len()];
        decode(&buf, k, &mut got).expect("decodes");
        assert!(got.iter().zip(values).all(|(&g, &v)| g as u64 == v));
        bits
    }

    #[test]
    fn round_trips_small_large_and_escaped_values() {
        round_trip(&[0, 1, 2, 3, 1, 0, 2]);
        round_trip(&[u64::MAX, 0, 1 << 40, 7]);
        round_trip(&[5; 100]);
        assert_eq!(round_trip(&[0; 50]), 0, "all-zero residuals cost no bits");
    }

    #[test]
    fn escape_bounds_the_cost_of_an_outlier() {
        let mut values = vec![1u64; 99];
        values.push(1 << 50);
        let bits = round_trip(&values);
        assert!(bits < 99 * 3 + 89 + 1, "{bits} bits");
    }

    #[test]
    fn too_many_zeros_is_corrupt() {
        let mut zeros = [0u8; 16];
        zeros[0] = 15; // lane 0: fifteen zero bytes
        assert!(matches!(decode(&zeros, 2, &mut [0]), Err(Error::Corrupt { .. })));
        assert!(matches!(decode(&[], 2, &mut [0]), Err(Error::Truncated { .. })));
        assert!(matches!(decode(&[0], 2, &mut [0]), Err(Error::Truncated { .. })));
    }
}
