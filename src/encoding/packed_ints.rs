//! Integer sequences as Rice-coded residuals of the best of three transforms:
//! the time codec for timestamps and the integer stage of [`super::decimal`].
//!
//! Byte layout of a payload holding `count` integers:
//! ```text
//! u8      transform    0 = values, 1 = delta, 2 = delta-of-delta
//! varint  zz(head0)    first value              (delta, delta-of-delta; if count >= 1)
//! varint  zz(head1)    first delta              (delta-of-delta; if count >= 2)
//! varint  zz(base)     residual offset
//! u8      k            Rice parameter, 0xFF = all residuals zero
//! bits    Rice codes of zz(x_i - base) for every x_i after the heads
//! ```
//! `x` is the sequence itself, its first differences or its second differences;
//! all arithmetic wraps, so any `i64` sequence (irregular, negative, huge steps)
//! round-trips exactly. `base` is a median of a sample of `x`, so one outlier
//! (a counter reset, a gap) is escaped by the Rice stage instead of shifting
//! every residual. The encoder sizes all three transforms and keeps the smallest.

use super::bits::{BitReader, BitWriter};
use super::error::{Error, Result};
use super::rice::{self, Slot};
use super::varint::{ByteReader, put_varint, unzigzag, zigzag};
use super::{Codec, EncodingId};

/// How the sequence is turned into residuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Transform {
    /// The values themselves.
    Values = 0,
    /// Differences of consecutive values.
    Delta = 1,
    /// Differences of consecutive differences.
    DeltaOfDelta = 2,
}

impl Transform {
    const ALL: [Transform; 3] = [Transform::Values, Transform::Delta, Transform::DeltaOfDelta];

    fn heads(self) -> usize {
        self as usize
    }

    fn from_u8(b: u8, offset: usize) -> Result<Self> {
        Self::ALL
            .get(usize::from(b))
            .copied()
            .ok_or_else(|| Error::corrupt("integer transform", offset, format!("unknown transform {b}")))
    }
}

/// The packed integer codec; its encoder keeps scratch buffers between chunks.
#[derive(Debug, Default)]
pub struct PackedInts {
    residuals: Vec<u64>,
    sample: Vec<i64>,
    header: Vec<u8>,
}

/// Hands each element of the transformed sequence after its heads (what the
/// residuals are taken of) to `f`. The match sits outside the loops so each
/// loop is a plain pass the compiler can vectorize.
#[inline]
fn for_each_transformed(values: &[i64], transform: Transform, mut f: impl FnMut(i64)) {
    match transform {
        Transform::Values => values.iter().for_each(|&v| f(v)),
        Transform::Delta => values.windows(2).for_each(|w| f(w[1].wrapping_sub(w[0]))),
        Transform::DeltaOfDelta => {
            values.windows(3).for_each(|w| f(w[2].wrapping_sub(w[1]).wrapping_sub(w[1].wrapping_sub(w[0]))))
        }
    }
}

/// Element `i` of the transformed sequence (counted after the heads).
#[inline]
fn transformed_at(values: &[i64], transform: Transform, i: usize) -> i64 {
    let h = transform.heads();
    let v = |j: usize| values[i + h - j];
    match transform {
        Transform::Values => v(0),
        Transform::Delta => v(0).wrapping_sub(v(1)),
        Transform::DeltaOfDelta => v(0).wrapping_sub(v(1)).wrapping_sub(v(1).wrapping_sub(v(2))),
    }
}

impl PackedInts {
    /// Appends the payload for `values` to `out`.
    pub fn encode_ints(&mut self, values: &[i64], out: &mut Vec<u8>) {
        let (transform, base, length_sum) = self.plan(values);
        self.residuals.clear();
        if length_sum != 0 {
            for_each_transformed(values, transform, |x| self.residuals.push(zigzag(x.wrapping_sub(base))));
        }
        let (k, _) = rice::best_parameter_near(&self.residuals, length_sum);
        write_header(out, values, transform, base, k);
        let mut w = BitWriter::new(out);
        rice::encode(&self.residuals, k, &mut w);
        w.finish();
    }

    /// Picks the transform and its base, and returns the residuals' bit length
    /// sum. That sum tracks the Rice cost closely and, unlike the sum of the
    /// residuals, is not swamped by one outlier; one pass sizes all three.
    fn plan(&mut self, values: &[i64]) -> (Transform, i64, u64) {
        if let [a, b, rest @ ..] = values {
            let step = b.wrapping_sub(*a);
            let mut prev = *b;
            if rest.iter().all(|&v| std::mem::replace(&mut prev, v).wrapping_add(step) == v) {
                return (Transform::Delta, step, 0);
            }
        }
        let bases = Transform::ALL.map(|t| self.sample_median(values, t));
        let sums = length_sums(values, bases);
        let mut best = (Transform::Values, 0, 0, u64::MAX);
        for ((transform, base), bits) in Transform::ALL.into_iter().zip(bases).zip(sums) {
            self.header.clear();
            write_header(&mut self.header, values, transform, base, 0);
            let total = bits + 8 * self.header.len() as u64;
            if total < best.3 {
                best = (transform, base, bits, total);
            }
        }
        (best.0, best.1, best.2)
    }

    /// Median of up to 31 evenly spaced elements of the transformed sequence:
    /// robust to outliers, and cheap to select.
    fn sample_median(&mut self, values: &[i64], transform: Transform) -> i64 {
        let len = values.len().saturating_sub(transform.heads());
        if len == 0 {
            return 0;
        }
        self.sample.clear();
        self.sample.extend((0..len).step_by(len.div_ceil(31)).map(|i| transformed_at(values, transform, i)));
        let middle = self.sample.len() / 2;
        *self.sample.select_nth_unstable(middle).1
    }
}

/// The residuals' bit length sums under each transform (in [`Transform::ALL`]
/// order) with its base: the sums [`for_each_transformed`] would give, in one
/// pass whose three independent sums overlap, instead of three passes.
fn length_sums(values: &[i64], bases: [i64; 3]) -> [u64; 3] {
    let length = |x: i64, base: i64| rice::bit_length(zigzag(x.wrapping_sub(base)));
    let mut sums = [0u64; 3];
    if let [a, rest @ ..] = values {
        sums[0] += length(*a, bases[0]);
        if let [b, ..] = rest {
            sums[0] += length(*b, bases[0]);
            sums[1] += length(b.wrapping_sub(*a), bases[1]);
        }
    }
    for w in values.windows(3) {
        let (d0, d1) = (w[1].wrapping_sub(w[0]), w[2].wrapping_sub(w[1]));
        sums[0] += length(w[2], bases[0]);
        sums[1] += length(d1, bases[1]);
        sums[2] += length(d1.wrapping_sub(d0), bases[2]);
    }
    sums
}

/// Writes everything before the Rice codes: transform, heads, base, `k`.
fn write_header(out: &mut Vec<u8>, values: &[i64], transform: Transform, base: i64, k: u8) {
    out.push(transform as u8);
    let n_heads = transform.heads().min(values.len());
    if n_heads >= 1 {
        put_varint(out, zigzag(values[0]));
    }
    if n_heads >= 2 {
        put_varint(out, zigzag(values[1].wrapping_sub(values[0])));
    }
    put_varint(out, zigzag(base));
    out.push(k);
}

/// Decodes the first `take` of the `count` integers in `payload`, appending them to `out`.
pub fn decode(payload: &[u8], count: usize, take: usize, out: &mut Vec<i64>) -> Result<()> {
    decode_mapped(payload, count, take, |v| v, out)
}

/// A map `v -> add + v * mul` (wrapping) applied to decoded integers on the way
/// out, e.g. from scaled time offsets back to nanosecond timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affine {
    /// Multiplier.
    pub mul: i64,
    /// Addend.
    pub add: i64,
}

impl Affine {
    /// The image of `v`.
    #[inline]
    pub fn apply(self, v: i64) -> i64 {
        self.add.wrapping_add(v.wrapping_mul(self.mul))
    }
}

/// [`decode`], turning every integer into an output item with `map` (an
/// [`Affine`] to timestamps, a division to decimals) in the same pass as the
/// inverse transform, so each item is written twice at most: its residual,
/// then its final value in place.
#[inline]
pub fn decode_mapped<T: Slot>(
    payload: &[u8],
    count: usize,
    take: usize,
    map: impl Fn(i64) -> T,
    out: &mut Vec<T>,
) -> Result<()> {
    let take = take.min(count);
    let mut bytes = ByteReader::new(payload, 0);
    let transform = Transform::from_u8(bytes.u8("integer transform")?, 0)?;
    let n_heads = transform.heads().min(count);
    let h0 = if n_heads >= 1 { bytes.varint_i64("first integer")? } else { 0 };
    let h1 = if n_heads >= 2 { bytes.varint_i64("first delta")? } else { 0 };
    let base = bytes.varint_i64("residual base")?;
    let k_offset = bytes.offset();
    let k = bytes.u8("rice parameter")?;
    let bits = bytes.remaining();
    let n_residuals = count - n_heads;
    if k != rice::ALL_ZERO {
        if k > rice::MAX_K {
            return Err(Error::corrupt("rice parameter", k_offset, format!("{k} is not a valid parameter")));
        }
        // Every residual takes at least k + 1 bits: refuse counts the payload cannot hold.
        let min_bits = (n_residuals as u64).saturating_mul(u64::from(k) + 1);
        if min_bits > bits.len() as u64 * 8 {
            return Err(Error::Truncated { what: "rice codes", offset: payload.len() });
        }
    }
    super::reserve(out, take, "packed integers")?;
    let heads = [h0, h0.wrapping_add(h1)];
    out.extend(heads[..n_heads.min(take)].iter().map(|&h| map(h)));
    let want = take.saturating_sub(n_heads);
    if transform == Transform::Delta && k == rice::ALL_ZERO {
        // A constant step (regular timestamps): no bits, one pass that vectorizes.
        out.extend((1..=want as i64).map(|i| map(h0.wrapping_add(base.wrapping_mul(i)))));
        return Ok(());
    }
    // Residuals first, into the output itself, then the inverse transform and
    // the map in place: two tight loops instead of one that carries both
    // dependencies.
    let start = out.len();
    out.resize(start + want, T::from_residual(0));
    let xs = &mut out[start..];
    rice::decode(&mut BitReader::new(bits), k, xs).map_err(|e| e.shifted(payload.len() - bits.len()))?;
    let step = |x: T| base.wrapping_add(unzigzag(x.residual()));
    match transform {
        Transform::Values => xs.iter_mut().for_each(|x| *x = map(step(*x))),
        Transform::Delta => {
            let mut prev = h0;
            for x in xs.iter_mut() {
                prev = prev.wrapping_add(step(*x));
                *x = map(prev);
            }
        }
        Transform::DeltaOfDelta => {
            let (mut prev, mut delta) = (h0.wrapping_add(h1), h1);
            for x in xs.iter_mut() {
                delta = delta.wrapping_add(step(*x));
                prev = prev.wrapping_add(delta);
                *x = map(prev);
            }
        }
    }
    Ok(())
}

impl Codec<i64> for PackedInts {
    fn id(&self) -> EncodingId {
        EncodingId::PackedTime
    }

    fn encode(&mut self, items: &[i64], out: &mut Vec<u8>) -> Result<()> {
        self.encode_ints(items, out);
        Ok(())
    }

    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<i64>) -> Result<()> {
        decode(payload, count, take, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> Vec<u8> {
        let mut buf = Vec::new();
        PackedInts::default().encode_ints(values, &mut buf);
        for take in [values.len(), values.len() / 2] {
            let mut got = Vec::new();
            decode(&buf, values.len(), take, &mut got).expect("decodes");
            assert_eq!(got, &values[..take]);
        }
        buf
    }

    #[test]
    fn picks_the_cheapest_transform() {
        let regular: Vec<i64> = (0..360).map(|i| i * 10).collect();
        let buf = round_trip(&regular);
        assert_ne!(buf[0], Transform::Values as u8);
        assert!(buf.len() <= 6, "regular steps cost only the header: {} bytes", buf.len());
        let counter: Vec<i64> = (0..360).map(|i: i64| (i % 200) * 100 + i % 3).collect();
        let buf = round_trip(&counter);
        assert_eq!(buf[0], Transform::Delta as u8);
        assert!(buf.len() < 360 / 2, "a counter with a reset costs {} bytes", buf.len());
    }

    #[test]
    fn fused_length_sums_match_each_transform() {
        let bases = [3, -1, 0];
        for values in [vec![], vec![5], vec![5, -9], vec![1, 4, 9, 16, 25, i64::MIN, i64::MAX, 0]] {
            let each = Transform::ALL.map(|t| {
                let mut sum = 0;
                let base = bases[t as usize];
                for_each_transformed(&values, t, |x| sum += rice::bit_length(zigzag(x.wrapping_sub(base))));
                sum
            });
            assert_eq!(length_sums(&values, bases), each, "{values:?}");
        }
    }

    #[test]
    fn extremes_round_trip() {
        round_trip(&[i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MAX]);
        round_trip(&[7]);
        round_trip(&[7, -7]);
        round_trip(&[]);
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(matches!(decode(&[9], 3, 3, &mut Vec::new()), Err(Error::Corrupt { .. })));
        assert!(matches!(decode(&[0, 0, 70], 3, 3, &mut Vec::new()), Err(Error::Corrupt { .. })));
        assert!(matches!(decode(&[0, 0, 3], 3, 3, &mut Vec::new()), Err(Error::Truncated { .. })));
        assert!(matches!(decode(&[1], 3, 3, &mut Vec::new()), Err(Error::Truncated { .. })));
    }
}
