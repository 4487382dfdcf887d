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

use super::bits::{BitReader, BitSink, PEEK_BITS, low_mask};
use super::error::{Error, Result};

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

/// Total bits to code `residuals` with parameter `k` (0 for [`ALL_ZERO`]).
pub fn cost_bits(residuals: &[u64], k: u8) -> u64 {
    if k == ALL_ZERO {
        return 0;
    }
    let k = u32::from(k);
    residuals.iter().map(|&v| code_len(v, k)).sum()
}

/// Bit lengths of residuals: enough to estimate the Rice cost of every
/// parameter without another pass over the data.
#[derive(Debug, Clone)]
pub struct LengthHistogram {
    counts: [u64; 65],
    total: u64,
}

impl Default for LengthHistogram {
    fn default() -> Self {
        Self { counts: [0; 65], total: 0 }
    }
}

impl LengthHistogram {
    /// Counts one residual.
    #[inline]
    pub fn add(&mut self, v: u64) {
        self.counts[(64 - v.leading_zeros()) as usize] += 1;
        self.total += 1;
    }

    /// The parameter with the smallest estimated cost, and that cost in bits.
    /// Robust to outliers, unlike an estimate from the mean.
    pub fn estimate(&self) -> (u8, u64) {
        if self.counts[0] == self.total {
            return (ALL_ZERO, 0);
        }
        let longest = self.counts.iter().rposition(|&n| n > 0).unwrap_or(0) as u32;
        let cost = |k: u32| -> u64 {
            let mut bits = self.total * (u64::from(k) + 1);
            for b in (k + 1)..=longest {
                // A value of bit length b > k has a quotient near 3/4 * 2^(b - k).
                let q = (3u64 << (b - k).min(40)) / 4;
                let code = if q >= u64::from(ESCAPE) { u64::from(ESCAPE) + 64 - u64::from(k) } else { q };
                bits += self.counts[b as usize] * code;
            }
            bits
        };
        (0..=longest.min(u32::from(MAX_K)))
            .map(|k| (k as u8, cost(k)))
            .min_by_key(|&(_, bits)| bits)
            .unwrap_or((0, u64::MAX))
    }
}

/// The parameter that codes `residuals` in the fewest bits, with that size:
/// the histogram's estimate, checked exactly against its neighbours.
pub fn best_parameter(residuals: &[u64]) -> (u8, u64) {
    let mut histogram = LengthHistogram::default();
    residuals.iter().for_each(|&v| histogram.add(v));
    refine(residuals, histogram.estimate().0)
}

/// The exact best of `guess` and its neighbours, with its size in bits.
pub fn refine(residuals: &[u64], guess: u8) -> (u8, u64) {
    if guess == ALL_ZERO {
        return (ALL_ZERO, 0);
    }
    let mut best = (0u8, u64::MAX);
    for k in guess.saturating_sub(1)..=guess.saturating_add(1).min(MAX_K) {
        let bits = cost_bits(residuals, k);
        if bits < best.1 {
            best = (k, bits);
        }
    }
    best
}

/// Writes `residuals` with parameter `k` (nothing for [`ALL_ZERO`]).
pub fn encode<S: BitSink>(residuals: &[u64], k: u8, sink: &mut S) {
    if k == ALL_ZERO {
        return;
    }
    let k = u32::from(k);
    let mask = low_mask(k);
    for &v in residuals {
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

/// Reads `n` residuals coded with parameter `k`, handing each to `f`.
#[inline]
pub fn decode(r: &mut BitReader<'_>, k: u8, n: usize, mut f: impl FnMut(u64)) -> Result<()> {
    if k == ALL_ZERO {
        (0..n).for_each(|_| f(0));
        return Ok(());
    }
    if k > MAX_K {
        return Err(Error::corrupt("rice parameter", 0, format!("{k} is not a valid parameter")));
    }
    let k = u32::from(k);
    let mask = low_mask(k);
    let mut done = 0;
    while done < n {
        // Fast path: decode every code that lies wholly inside one 56-bit
        // window, shifting a register instead of reloading memory per value.
        let mut word = r.peek();
        let (mut avail, mut used) = (PEEK_BITS, 0);
        while done < n {
            let q = word.trailing_zeros();
            let len = q + 1 + k;
            if q >= ESCAPE || len > avail {
                break;
            }
            f((u64::from(q) << k) | ((word >> (q + 1)) & mask));
            word >>= len;
            avail -= len;
            used += len;
            done += 1;
        }
        r.skip(used);
        if done < n && avail == PEEK_BITS {
            // Not even one code fit the window: a long code, an escape, or damage.
            f(decode_slow(r, k)?);
            done += 1;
        }
    }
    r.check("rice code")
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
    use super::super::bits::BitWriter;
    use super::*;

    fn round_trip(values: &[u64]) -> u64 {
        let (k, bits) = best_parameter(values);
        let mut buf = Vec::new();
        let mut w = BitWriter::new(&mut buf);
        encode(values, k, &mut w);
        w.finish();
        assert_eq!(buf.len() as u64, bits.div_ceil(8));
        let mut got = Vec::new();
        let mut r = BitReader::new(&buf);
        decode(&mut r, k, values.len(), |v| got.push(v)).expect("decodes");
        assert_eq!(got, values);
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
        let zeros = [0u8; 16];
        let mut r = BitReader::new(&zeros);
        assert!(matches!(decode(&mut r, 2, 1, |_| {}), Err(Error::Corrupt { .. })));
        let mut r = BitReader::new(&[]);
        assert!(matches!(decode(&mut r, 2, 1, |_| {}), Err(Error::Truncated { .. })));
    }
}
