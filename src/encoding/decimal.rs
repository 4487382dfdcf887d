//! Decimal-scaled integers: floats that are decimals in disguise.
//!
//! Most metric values were decimals before they were floats (`21.5` degrees,
//! `58` percent, a counter of `1042`). When every value `v` of a column equals
//! `k / 10^e` for integers `k` (|k| <= 2^51) and one exponent `e` (0..=18), in
//! correctly rounded IEEE division, the column is stored as the integers `k`
//! through [`super::packed_ints`], which finds the steps between them cheap.
//!
//! Layout:
//! ```text
//! u8   e        decimal exponent, 0..=18
//! ...           packed_ints payload of the k
//! ```
//! Decoding divides by the exact power of ten, so the very bit pattern comes
//! back; values that would not (NaN, infinities, -0.0, too many digits) make
//! the column ineligible, and the chunk picks another codec.

use super::error::{Error, Result};
use super::packed_ints::{self, PackedInts};
use super::{Codec, EncodingId};

/// Largest decimal exponent tried.
pub const MAX_EXPONENT: u8 = 18;

/// Largest |k| accepted: 2^51, where rounding by [`ROUNDER`] is still exact.
const MAX_MANTISSA: f64 = 2_251_799_813_685_248.0;
/// 1.5 * 2^52: adding and subtracting it rounds an `f64` below 2^51 in
/// magnitude to the nearest integer (ties to even) without a libm call.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// Powers of ten, each exact in `f64`.
const POW10: [f64; MAX_EXPONENT as usize + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// The integer `k` with `k / 10^e == v` bit for bit, if there is one.
#[inline]
pub fn scaled(v: f64, e: u8) -> Option<i64> {
    let k = if e == 0 { v } else { v * POW10[usize::from(e)] };
    let k = (k + ROUNDER) - ROUNDER;
    if k.is_nan() || k.abs() > MAX_MANTISSA {
        return None;
    }
    // Rebuild from the integer, so -0.0 (k = 0 rebuilds +0.0) is refused.
    let k = k as i64;
    (unscaled(k, e).to_bits() == v.to_bits()).then_some(k)
}

/// `k / 10^e`.
#[inline]
pub fn unscaled(k: i64, e: u8) -> f64 {
    let k = k as f64;
    if e == 0 { k } else { k / POW10[usize::from(e)] }
}

/// The decimal-scaled codec. The encoder keeps scratch buffers between chunks.
#[derive(Debug, Default)]
pub struct Decimal {
    ints: PackedInts,
    ks: Vec<i64>,
}

impl Codec<f64> for Decimal {
    fn id(&self) -> EncodingId {
        EncodingId::Decimal
    }

    fn encode(&mut self, items: &[f64], out: &mut Vec<u8>) -> Result<()> {
        // One pass at the smallest exponent that has worked so far; a value that
        // needs a larger one raises it and rescales what came before.
        let mut e = 0u8;
        self.ks.clear();
        for &v in items {
            let k = loop {
                if let Some(k) = scaled(v, e) {
                    break k;
                }
                e += 1;
                if e > MAX_EXPONENT {
                    return Err(Error::Unencodable("values are not decimals".into()));
                }
                self.rescale(items, e)?;
            };
            self.ks.push(k);
        }
        out.push(e);
        self.ints.encode_ints(&self.ks, out);
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        let (&e, ints) = payload.split_first().ok_or(Error::Truncated { what: "decimal exponent", offset: 0 })?;
        if e > MAX_EXPONENT {
            return Err(Error::corrupt("decimal exponent", 0, format!("{e} exceeds {MAX_EXPONENT}")));
        }
        let p = POW10[usize::from(e)];
        // The division only where there is one: it bounds the loop's speed.
        let decoded = if e == 0 {
            packed_ints::decode_mapped(ints, count, take, |k| k as f64, out)
        } else {
            packed_ints::decode_mapped(ints, count, take, |k| k as f64 / p, out)
        };
        decoded.map_err(|err| err.shifted(1))?;
        Ok(())
    }
}

impl Decimal {
    /// Recomputes the integers of the values encoded so far at exponent `e`.
    fn rescale(&mut self, items: &[f64], e: u8) -> Result<()> {
        for (k, &v) in self.ks.iter_mut().zip(items) {
            // A larger exponent can push an earlier k past 2^51.
            *k = scaled(v, e).ok_or_else(|| Error::Unencodable(format!("{v} is not a decimal at 10^-{e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exponent the encoder picks, if the values are decimals.
    fn exponent_of(values: &[f64]) -> Option<u8> {
        let mut buf = Vec::new();
        Decimal::default().encode(values, &mut buf).ok().map(|()| buf[0])
    }

    #[test]
    fn finds_the_smallest_exponent() {
        assert_eq!(exponent_of(&[1.0, 58.0, -3.0]), Some(0));
        assert_eq!(exponent_of(&[1.5, 2.25, 100.0, 0.125]), Some(3), "raised twice, rescaling earlier values");
        assert_eq!(exponent_of(&[20.1, 20.25, 19.9]), Some(2));
        assert_eq!(exponent_of(&[0.1 + 0.2]), None, "0.30000000000000004 needs 17 digits");
        assert_eq!(exponent_of(&[1e-18, 3e-17]), Some(18));
        assert_eq!(exponent_of(&[f64::NAN]), None);
        assert_eq!(exponent_of(&[-0.0]), None);
        assert_eq!(exponent_of(&[f64::INFINITY]), None);
        assert_eq!(exponent_of(&[1e300]), None);
    }

    #[test]
    fn round_trips_bit_exact() {
        let values: Vec<f64> = (0..500).map(|i| ((i * 37 % 101) as f64 - 50.0) / 10.0).collect();
        let mut buf = Vec::new();
        Decimal::default().encode(&values, &mut buf).expect("encodes");
        let mut got = Vec::new();
        Decimal::default().decode(&buf, values.len(), values.len(), &mut got).expect("decodes");
        assert!(got.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(Decimal::default().encode(&[1.0, f64::NAN], &mut buf).is_err());
    }
}
