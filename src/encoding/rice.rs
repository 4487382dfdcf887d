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

/// Position of the highest one bit of `v` (0 for 0). Summed over residuals it
/// is a cheap, outlier-robust proxy for their Rice cost.
#[inline]
pub fn bit_length(v: u64) -> u64 {
    u64::from(64 - v.leading_zeros())
}

/// The parameter that codes `residuals` in the fewest bits, with that size.
#[cfg(test)]
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

/// Reads `out.len()` residuals coded with parameter `k` into `out` (as the
/// two's complement `i64` of each `u64` residual, so callers can transform
/// them in place).
pub fn decode(r: &mut BitReader<'_>, k: u8, out: &mut [i64]) -> Result<()> {
    if k == ALL_ZERO {
        out.fill(0);
        return Ok(());
    }
    if k > MAX_K {
        return Err(Error::corrupt("rice parameter", 0, format!("{k} is not a valid parameter")));
    }
    let k = u32::from(k);
    let mask = low_mask(k);
    let n = out.len();
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
            out[done] = ((u64::from(q) << k) | ((word >> (q + 1)) & mask)) as i64;
            word >>= len;
            avail -= len;
            used += len;
            done += 1;
        }
        r.skip(used);
        if done < n && avail == PEEK_BITS {
            // Not even one code fit the window: a long code, an escape, or damage.
            out[done] = decode_slow(r, k)? as i64;
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
        let mut got = vec![0i64; values.len()];
        let mut r = BitReader::new(&buf);
        decode(&mut r, k, &mut got).expect("decodes");
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
        let zeros = [0u8; 16];
        let mut r = BitReader::new(&zeros);
        assert!(matches!(decode(&mut r, 2, &mut [0]), Err(Error::Corrupt { .. })));
        let mut r = BitReader::new(&[]);
        assert!(matches!(decode(&mut r, 2, &mut [0]), Err(Error::Truncated { .. })));
    }
}
