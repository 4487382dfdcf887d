//! Constant columns: one bit pattern repeated `count` times.
//!
//! Layout: 8 bytes, the value's `f64` bit pattern (little-endian). Only a
//! column whose every value has the same bit pattern is constant, so a column
//! mixing 0.0 and -0.0, or two NaN payloads, is not.

use super::error::{Error, Result};
use super::varint::ByteReader;
use super::{Codec, EncodingId};

/// The constant codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct Constant;

impl Constant {
    /// Whether every value has the same bit pattern (false for an empty column).
    pub fn fits(values: &[f64]) -> bool {
        values.first().is_some_and(|f| values.iter().all(|v| v.to_bits() == f.to_bits()))
    }
}

impl Codec<f64> for Constant {
    fn id(&self) -> EncodingId {
        EncodingId::Constant
    }

    fn encode(&mut self, items: &[f64], out: &mut Vec<u8>) -> Result<()> {
        if !Self::fits(items) {
            return Err(Error::Unencodable("the column is not constant".into()));
        }
        out.extend_from_slice(&items[0].to_bits().to_le_bytes());
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        let mut r = ByteReader::new(payload, 0);
        let v = f64::from_bits(r.u64_le("constant value")?);
        if !r.remaining().is_empty() {
            return Err(Error::corrupt("constant value", 8, "trailing bytes after the value"));
        }
        super::reserve(out, take.min(count), "constant values")?;
        out.extend(std::iter::repeat_n(v, take.min(count)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identical_bit_patterns_are_constant() {
        assert!(Constant::fits(&[f64::NAN, f64::NAN]));
        assert!(!Constant::fits(&[0.0, -0.0]));
        assert!(!Constant::fits(&[]));
        let mut buf = Vec::new();
        Constant.encode(&[-0.0; 3], &mut buf).expect("encodes");
        let mut got = Vec::new();
        Constant.decode(&buf, 3, 3, &mut got).expect("decodes");
        assert!(got.iter().all(|v| v.to_bits() == (-0.0f64).to_bits()) && got.len() == 3);
        assert!(Constant.encode(&[1.0, 2.0], &mut buf).is_err());
    }
}
