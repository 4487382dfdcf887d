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
//! Decoding reads a 56-bit window at a time; for small parameters a lookup
//! table ([`table`]) turns the window's next bits into several codes at once,
//! and codes the table cannot hold are read one by one. The decoder writes
//! raw residuals into the caller's output ([`Slot`]), which the inverse
//! transform then overwrites in place.

use super::bits::{BitReader, BitSink, PEEK_BITS, low_mask};
use super::error::{Error, Result};

mod table;

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
    let max = residuals.iter().copied().max().unwrap_or(0);
    if max >> first < u64::from(ESCAPE) {
        // No residual escapes under any of the four: a code costs its
        // quotient plus k + 1, and the quotient sums are plain shifts and adds.
        for &v in residuals {
            for (j, b) in bits.iter_mut().enumerate() {
                *b += v >> (first + j as u32);
            }
        }
        let n = residuals.len() as u64;
        for (j, b) in bits.iter_mut().enumerate() {
            *b += n * u64::from(first + j as u32 + 1);
        }
    } else {
        for &v in residuals {
            for (j, b) in bits.iter_mut().enumerate() {
                *b += code_len(v, first + j as u32);
            }
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
        if q < u64::from(ESCAPE) && q as u32 + 1 + k <= 64 {
            // One put for the whole code: the unary run, its one bit, the low bits.
            sink.put((1 << q) | ((v & mask) << (q + 1)), q as u32 + 1 + k);
        } else if q < u64::from(ESCAPE) {
            sink.put(1 << q, q as u32 + 1);
            sink.put(v & mask, k);
        } else {
            sink.put(1 << ESCAPE, ESCAPE + 1);
            sink.put(v, 64);
        }
    }
}

/// An output item that can hold a raw residual until the inverse transform
/// overwrites it in place, so decoding needs no scratch buffer: `i64` as the
/// two's complement of the residual, `f64` as its bit pattern.
pub trait Slot: Copy {
    /// A slot holding `residual`.
    fn from_residual(residual: u64) -> Self;
    /// The residual this slot holds.
    fn residual(self) -> u64;
}

impl Slot for i64 {
    #[inline]
    fn from_residual(residual: u64) -> Self {
        residual as i64
    }

    #[inline]
    fn residual(self) -> u64 {
        self as u64
    }
}

impl Slot for f64 {
    #[inline]
    fn from_residual(residual: u64) -> Self {
        f64::from_bits(residual)
    }

    #[inline]
    fn residual(self) -> u64 {
        self.to_bits()
    }
}

/// Reads `out.len()` residuals coded with parameter `k` into `out`.
pub fn decode<T: Slot>(r: &mut BitReader<'_>, k: u8, out: &mut [T]) -> Result<()> {
    if k == ALL_ZERO {
        out.fill(T::from_residual(0));
        return Ok(());
    }
    if k > MAX_K {
        return Err(Error::corrupt("rice parameter", 0, format!("{k} is not a valid parameter")));
    }
    let table = table::for_parameter(k);
    let k = u32::from(k);
    let mask = low_mask(k);
    let n = out.len();
    let mut done = 0;
    while done < n {
        // Decode every code that lies wholly inside one 56-bit window,
        // shifting a register instead of reloading memory per value: several
        // short codes per table lookup while they fit, then one at a time.
        let mut word = r.peek();
        let (mut avail, mut used) = (PEEK_BITS, 0);
        while done < n {
            if let Some(codes) = table.filter(|_| avail >= table::BITS && done + table::CODES <= n) {
                let entry = codes.lookup(word);
                if entry.count > 0 {
                    let slots = &mut out[done..done + table::CODES];
                    slots.iter_mut().zip(entry.residuals).for_each(|(s, v)| *s = T::from_residual(u64::from(v)));
                    let bits = u32::from(entry.bits);
                    done += usize::from(entry.count);
                    word >>= bits;
                    avail -= bits;
                    used += bits;
                    continue;
                }
            }
            let q = word.trailing_zeros();
            let len = q + 1 + k;
            if q >= ESCAPE || len > avail {
                break;
            }
            out[done] = T::from_residual((u64::from(q) << k) | ((word >> (q + 1)) & mask));
            word >>= len;
            avail -= len;
            used += len;
            done += 1;
        }
        r.skip(used);
        if done < n && avail == PEEK_BITS {
            // Not even one code fit the window: a long code, an escape, or damage.
            out[done] = T::from_residual(decode_slow(r, k)?);
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
