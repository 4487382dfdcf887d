//! Gorilla XOR floats (Pelkonen et al., VLDB 2015), bit-exact for every `f64`.
//!
//! Bit layout (least significant bit first, see [`super::bits`]):
//! ```text
//! 64 bits                 the first value's bit pattern
//! then for each following value, x = bits ^ previous bits:
//!   0                     x == 0
//!   1 0 + m bits          x fits the previous window: m = 64 - lead - trail of
//!                         that window, x >> trail
//!   1 1 + 6 bits lead     a new window: leading zeros (0..=63),
//!       + 6 bits m - 1    meaningful bits (1..=64),
//!       + m bits          x >> trailing zeros
//! ```
//! Values travel as bit patterns, so NaN payloads, -0.0, infinities and
//! subnormals come back exactly. A window reuse before any window was set, or a
//! window wider than 64 bits, is reported as corrupt.

use super::bits::{self, BitReader, BitSink};
use super::error::{Error, Result};
use super::{Codec, EncodingId};

/// The Gorilla XOR float codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct GorillaXor;

impl GorillaXor {
    fn write<S: BitSink>(values: &[f64], sink: &mut S) {
        let Some(first) = values.first() else { return };
        let mut prev = first.to_bits();
        sink.put(prev, 64);
        // No window yet: lead 64 never satisfies `lead >= window_lead` for x != 0.
        let (mut window_lead, mut window_trail) = (u32::MAX, 0u32);
        for v in &values[1..] {
            let bits = v.to_bits();
            let x = bits ^ prev;
            prev = bits;
            if x == 0 {
                sink.put(0, 1);
                continue;
            }
            let (lead, trail) = (x.leading_zeros(), x.trailing_zeros());
            if lead >= window_lead && trail >= window_trail {
                sink.put(0b01, 2);
                sink.put(x >> window_trail, 64 - window_lead - window_trail);
            } else {
                let meaningful = 64 - lead - trail;
                sink.put(0b11, 2);
                sink.put(u64::from(lead), 6);
                sink.put(u64::from(meaningful - 1), 6);
                sink.put(x >> trail, meaningful);
                (window_lead, window_trail) = (lead, trail);
            }
        }
    }

    /// A lower bound of [`GorillaXor::encoded_len`], in one pass that keeps no
    /// window: a repeat costs 1 bit and a change at least its two control bits
    /// and its meaningful bits (a reused window holds them all), so sizing can
    /// be skipped when another codec already beats this.
    pub fn size_floor(values: &[f64]) -> usize {
        if values.is_empty() {
            return 0;
        }
        let bits: u64 = values
            .windows(2)
            .map(|w| match w[0].to_bits() ^ w[1].to_bits() {
                0 => 1,
                x => u64::from(2 + 64 - x.leading_zeros() - x.trailing_zeros()),
            })
            .sum();
        (64 + bits).div_ceil(8) as usize
    }

    /// Encoded size in bytes, computed without writing.
    pub fn encoded_len(values: &[f64]) -> usize {
        bits::sized(|c| Self::write(values, c))
    }
}

impl Codec<f64> for GorillaXor {
    fn id(&self) -> EncodingId {
        EncodingId::GorillaXor
    }

    fn encode(&mut self, items: &[f64], out: &mut Vec<u8>) -> Result<()> {
        bits::written(out, |w| Self::write(items, w));
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        let take = take.min(count);
        bits::check_stream_floor(payload, count, "gorilla values")?;
        if take == 0 {
            return Ok(());
        }
        super::reserve(out, take, "gorilla values")?;
        let mut r = BitReader::new(payload);
        let mut prev = r.read_long(64);
        out.push(f64::from_bits(prev));
        let (mut window_trail, mut window_len) = (0u32, 0u32);
        for _ in 1..take {
            let control = r.peek() & 0b11;
            if control & 1 == 0 {
                r.skip(1);
            } else {
                r.skip(2);
                if control == 0b11 {
                    let lead = r.read(6) as u32;
                    let len = r.read(6) as u32 + 1;
                    if lead + len > 64 {
                        r.check("gorilla window")?;
                        return Err(Error::corrupt(
                            "gorilla window",
                            r.byte_offset(),
                            format!("{lead} leading zeros and {len} meaningful bits exceed 64"),
                        ));
                    }
                    (window_trail, window_len) = (64 - lead - len, len);
                } else if window_len == 0 {
                    r.check("gorilla window")?;
                    return Err(Error::corrupt("gorilla window", r.byte_offset(), "window reused before one was set"));
                }
                prev ^= r.read_long(window_len) << window_trail;
            }
            out.push(f64::from_bits(prev));
        }
        r.check("gorilla values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> usize {
        let mut buf = Vec::new();
        GorillaXor.encode(values, &mut buf).expect("encodes");
        assert_eq!(buf.len(), GorillaXor::encoded_len(values));
        let mut got = Vec::new();
        GorillaXor.decode(&buf, values.len(), values.len(), &mut got).expect("decodes");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(values));
        buf.len()
    }

    #[test]
    fn special_values_are_bit_exact() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002); // Prometheus' stale marker
        round_trip(&[
            1.0,
            -0.0,
            0.0,
            f64::NAN,
            stale,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            f64::MIN,
            f64::from_bits(1),
        ]);
    }

    #[test]
    fn repeats_cost_one_bit() {
        assert_eq!(round_trip(&[42.5; 801]), 8 + 100);
        assert_eq!(round_trip(&[]), 0);
    }

    #[test]
    fn reuse_without_window_is_corrupt() {
        let mut payload = 1f64.to_bits().to_le_bytes().to_vec();
        payload.push(0b01);
        let err = GorillaXor.decode(&payload, 2, 2, &mut Vec::new());
        assert!(matches!(err, Err(Error::Corrupt { .. })), "{err:?}");
    }
}
