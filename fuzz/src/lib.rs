//! Checks shared by the fuzz targets in `fuzz_targets/`: what must hold when a
//! column decoder or the chunk parser is handed arbitrary bytes.
//!
//! Damaged input must give `Ok` or `Err`, never a panic (which libFuzzer
//! reports as a crash) nor an endless loop (a timeout). Beyond that:
//! a decode that succeeds yields exactly `min(take, count)` items; a
//! successful full decode implies that a shorter `take` succeeds with its
//! prefix; and every `Truncated` / `Corrupt` error names an offset inside the
//! input.

use chronicle::encoding::{Chunk, Codec, Error};

/// A decoded item as its bit pattern, so NaN payloads compare exactly.
pub trait Bits: Copy {
    /// The bit pattern.
    fn bits(self) -> u64;
}

impl Bits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// Splits a fuzz input into the item count (first 2 bytes, little-endian) and
/// the payload (the rest); `None` if the input is shorter than 2 bytes.
pub fn split(data: &[u8]) -> Option<(usize, &[u8])> {
    let (count, payload) = data.split_first_chunk::<2>()?;
    Some((usize::from(u16::from_le_bytes(*count)), payload))
}

/// Panics if `result` is an error naming an offset past `len` input bytes.
#[track_caller]
pub fn check_offset<T>(result: &Result<T, Error>, len: usize) {
    match result {
        Err(e @ (Error::Truncated { offset, .. } | Error::Corrupt { offset, .. })) => {
            assert!(*offset <= len, "{e:?} names an offset past the {len} input bytes");
        }
        _ => {}
    }
}

/// Decodes `payload` as `count` items with `codec`, in full and as a prefix
/// of half the count, checking the properties in the module docs.
pub fn check_codec<T: Bits>(codec: &dyn Codec<T>, payload: &[u8], count: usize) {
    let mut full = Vec::new();
    let full_result = codec.decode(payload, count, count, &mut full);
    check_offset(&full_result, payload.len());
    let take = count / 2;
    let mut part = Vec::new();
    let part_result = codec.decode(payload, count, take, &mut part);
    check_offset(&part_result, payload.len());
    if part_result.is_ok() {
        assert_eq!(part.len(), take, "decode with take {take} of {count}");
    }
    if full_result.is_ok() {
        assert_eq!(full.len(), count, "full decode of {count}");
        assert!(part_result.is_ok(), "full decode succeeded, take {take} failed: {part_result:?}");
        let prefix = full[..take].iter().map(|v| v.bits());
        assert!(prefix.eq(part.iter().map(|v| v.bits())), "take {take} is not a prefix of the full decode");
    }
}

/// [`check_codec`] on a fuzz input: count from the first 2 bytes, payload after.
pub fn fuzz_codec<T: Bits>(codec: &dyn Codec<T>, data: &[u8]) {
    if let Some((count, payload)) = split(data) {
        check_codec(codec, payload, count);
    }
}

/// Most decoded values (times and every column) for which [`check_chunk`]
/// also calls `Chunk::decode`, which holds them all at once: a small chunk may
/// legitimately claim millions of constant points in many columns.
const DECODE_ALL_LIMIT: usize = 1 << 22;

/// Parses `bytes` (a chunk, checksum included) and decodes all of it: the
/// timestamps, every column in full and in part, the statistics, `decode`
/// and two ranges.
pub fn check_chunk(bytes: &[u8]) {
    let parsed = Chunk::parse(bytes);
    check_offset(&parsed, bytes.len());
    let Ok(chunk) = parsed else { return };
    let n = chunk.count();

    let mut times = Vec::new();
    let result = chunk.decode_timestamps(n, &mut times);
    check_offset(&result, bytes.len());
    let times_ok = result.is_ok();
    if times_ok {
        assert_eq!(times.len(), n);
        assert_eq!((times.first(), times.last()), (Some(&chunk.min_time()), Some(&chunk.max_time())));
    }
    let mut columns_ok = true;
    for c in 0..chunk.column_count() {
        assert!(chunk.stats(c).is_ok() && chunk.value_encoding(c).is_ok(), "column {c} of {}", chunk.column_count());
        let mut values = Vec::new();
        let result = chunk.decode_values(c, n, &mut values);
        check_offset(&result, bytes.len());
        if result.is_ok() {
            assert_eq!(values.len(), n, "column {c}");
        }
        let mut half = Vec::new();
        let half_result = chunk.decode_values(c, n / 2, &mut half);
        check_offset(&half_result, bytes.len());
        if result.is_ok() {
            assert!(half_result.is_ok(), "column {c}: full decode succeeded, half failed: {half_result:?}");
            assert!(values[..n / 2].iter().map(|v| v.to_bits()).eq(half.iter().map(|v| v.to_bits())));
        }
        columns_ok &= result.is_ok();
    }
    assert!(chunk.stats(chunk.column_count()).is_err());

    let columns: Vec<usize> = (0..chunk.column_count()).collect();
    if n.saturating_mul(columns.len() + 1) <= DECODE_ALL_LIMIT {
        let all = chunk.decode();
        check_offset(&all, bytes.len());
        if let Ok(all) = &all {
            assert_eq!(all.timestamps.len(), n);
            assert!(all.values.iter().all(|v| v.len() == n));
        } else {
            assert!(!(times_ok && columns_ok), "every part decoded, the whole did not: {all:?}");
        }
        let (lo, hi) = (chunk.min_time(), chunk.max_time());
        let mid = i64::try_from((i128::from(lo) + i128::from(hi)) / 2).unwrap_or(lo);
        for (start, end) in [(mid, hi), (lo, mid), (hi, lo)] {
            let range = chunk.decode_range(start, end, &columns);
            check_offset(&range, bytes.len());
            if let Ok(range) = range {
                assert!(range.values.iter().all(|v| v.len() == range.timestamps.len()));
            }
        }
    }
}
