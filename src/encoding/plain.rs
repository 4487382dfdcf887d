//! The plain fallback: every item as 8 little-endian bytes.
//!
//! Layout: `count` x 8 bytes (`i64` two's complement, or `f64` bit pattern).
//! Chosen when nothing smaller fits, e.g. uniformly random full-precision floats,
//! where Gorilla's control bits cost more than they save.

use super::error::{Error, Result};
use super::{Codec, EncodingId};

/// The plain codec, for timestamps (`i64`) and values (`f64`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

fn decode_words(payload: &[u8], count: usize, take: usize, mut push: impl FnMut(u64)) -> Result<()> {
    let want = count.checked_mul(8).filter(|&n| n == payload.len());
    if want.is_none() {
        return Err(Error::corrupt(
            "plain payload",
            0,
            format!("{} bytes cannot hold {count} items of 8 bytes", payload.len()),
        ));
    }
    for word in payload.chunks_exact(8).take(take) {
        let mut a = [0u8; 8];
        a.copy_from_slice(word);
        push(u64::from_le_bytes(a));
    }
    Ok(())
}

impl Codec<i64> for Plain {
    fn id(&self) -> EncodingId {
        EncodingId::PlainTime
    }

    fn encode(&mut self, items: &[i64], out: &mut Vec<u8>) -> Result<()> {
        out.extend(items.iter().flat_map(|v| v.to_le_bytes()));
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<i64>) -> Result<()> {
        decode_words(payload, count, take, |w| out.push(w as i64))
    }
}

impl Codec<f64> for Plain {
    fn id(&self) -> EncodingId {
        EncodingId::PlainValue
    }

    fn encode(&mut self, items: &[f64], out: &mut Vec<u8>) -> Result<()> {
        out.extend(items.iter().flat_map(|v| v.to_bits().to_le_bytes()));
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        decode_words(payload, count, take, |w| out.push(f64::from_bits(w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_length() {
        let ts = [i64::MIN, 0, i64::MAX];
        let mut buf = Vec::new();
        Plain.encode(&ts[..], &mut buf).expect("encodes");
        let mut got: Vec<i64> = Vec::new();
        Plain.decode(&buf, 3, 2, &mut got).expect("decodes");
        assert_eq!(got, &ts[..2]);
        let err = Codec::<i64>::decode(&Plain, &buf[..23], 3, 3, &mut got);
        assert!(matches!(err, Err(Error::Corrupt { .. })));
    }
}
