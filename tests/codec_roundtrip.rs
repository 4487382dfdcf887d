//! Round-trip tests of the column codecs and of whole chunks.
//!
//! Every codec in `chronicle::encoding` is driven directly through the `Codec`
//! trait on arbitrary `i64` sequences (the whole range, sorted and unsorted)
//! and arbitrary `f64` bit patterns (NaN payloads, -0.0, infinities,
//! subnormals), and must give back exactly what it was given, bit for bit,
//! including `take` prefixes. Whole chunks are written by `ChunkEncoder` under
//! both policies and checked through `decode`, `decode_range` and the column
//! statistics against values computed here. The seeded generators of
//! `chronicle::testing` are chunked per hour and round-tripped too, and the
//! adaptive chunk must never be larger than the Gorilla one. Edge cases
//! (stale markers, signed zeros, extreme timestamps, invalid input to the
//! encoder) are plain tests at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use chronicle::encoding::{
    Chunk, ChunkEncoder, Codec, Constant, Decimal, DeltaOfDelta, EncodingId, EncodingPolicy, Error, GorillaXor,
    MAX_CHUNK_POINTS, PackedInts, Plain, RunLength,
};
use chronicle::testing::{self, HOUR_NS, TsbsCpu};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Prometheus' staleness marker: a signalling-looking NaN with payload 2.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Powers of ten, each exact in `f64`.
const POW10: [f64; 19] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// Largest |k| for which a column of `k / 10^e` must be accepted by `Decimal`
/// (the bound documented in `src/encoding/decimal.rs`).
const DECIMAL_MAX_K: i64 = 1 << 51;

/// An element `out` is pre-filled with, to check that decoders append.
const SENTINEL_I64: i64 = 0x5A5A_5A5A;
const SENTINEL_F64: f64 = -12_345.678;

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// One `i64`, biased towards the extremes and small magnitudes.
fn any_i64() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        4 => any::<i64>(),
        2 => select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX]),
        2 => -1_000i64..1_000,
    ]
}

/// Arbitrary `i64` sequences: unsorted, sorted, and nearly regular.
fn i64_vec(max: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        vec(any_i64(), 0..max),
        vec(any_i64(), 0..max).prop_map(|mut v| {
            v.sort_unstable();
            v
        }),
        (any::<i64>(), any_i64(), vec(-3i64..=3, 0..max)).prop_map(|(start, step, jitter)| {
            let mut t = start;
            jitter
                .into_iter()
                .map(|j| {
                    t = t.wrapping_add(step).wrapping_add(j);
                    t
                })
                .collect()
        }),
    ]
}

/// Integer sequences whose residuals are short Rice codes (parameters 0 to
/// about 6, the codes the decoder reads several at a time by table lookup),
/// as values, a walk or a walk of walks, long enough to cross many lookup
/// windows, with the odd outlier that takes an escape code.
fn short_code_ints(max: usize) -> impl Strategy<Value = Vec<i64>> {
    (0u32..=7, 0usize..3, any::<i64>(), vec((any::<u8>(), 0u8..64), 0..max)).prop_map(|(width, shape, start, draws)| {
        let (mut value, mut step) = (start, 0i64);
        draws
            .into_iter()
            .map(|(noise, roll)| {
                let x = if roll == 0 {
                    i64::from(noise).wrapping_mul(0x0123_4567_89AB) ^ i64::MIN
                } else {
                    i64::from(noise) % (1 << width) - (1 << width) / 2
                };
                match shape {
                    0 => x,
                    1 => {
                        value = value.wrapping_add(x);
                        value
                    }
                    _ => {
                        step = step.wrapping_add(x);
                        value = value.wrapping_add(step);
                        value
                    }
                }
            })
            .collect()
    })
}

/// One step between consecutive timestamps: zero (equal timestamps), small,
/// regular intervals, and huge steps that cross the whole `i64` range.
fn time_step() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(0u64),
        3 => 0u64..1_000,
        3 => select(vec![1_000_000u64, 1_000_000_000, 10_000_000_000, 15_000_000_000, 60_000_000_000]),
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

/// Non-empty, non-decreasing timestamps of up to `max` points.
fn timestamps(max: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        // Sorted arbitrary values.
        vec(any_i64(), 1..max).prop_map(|mut v| {
            v.sort_unstable();
            v
        }),
        // Cumulative non-negative steps, saturating at i64::MAX.
        (prop_oneof![any_i64(), Just(i64::MIN)], vec(time_step(), 0..max)).prop_map(|(start, steps)| {
            let mut t = start;
            let mut out = vec![t];
            out.extend(steps.into_iter().map(|s| {
                t = t.saturating_add_unsigned(s);
                t
            }));
            out
        }),
        // Multiples of 10^s, regular or jittered, clamped into the i64 range.
        (0u32..=18, -1_000_000i64..1_000_000, 1i64..1_000, vec(0i64..3, 1..max)).prop_map(
            |(s, start, interval, jitter)| {
                let unit = 10i128.pow(s);
                let mut units = i128::from(start);
                jitter
                    .into_iter()
                    .map(|j| {
                        let t = (units * unit).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                        units += i128::from(interval + j);
                        i64::try_from(t).unwrap()
                    })
                    .collect()
            }
        ),
    ]
}

/// Special `f64` values every codec must carry bit for bit.
fn special_values() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(STALE_NAN),
        f64::from_bits(0x7ff8_0000_dead_beef),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 2.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        1.0,
        -1.0,
        0.1,
    ]
}

/// `k / 10^e`, correctly rounded.
fn decimal(k: i64, e: u8) -> f64 {
    k as f64 / POW10[usize::from(e)]
}

/// One `f64`: arbitrary bit patterns, specials, decimals and small integers.
fn any_f64() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        4 => any::<u64>().prop_map(f64::from_bits),
        2 => select(special_values()),
        2 => (-1_000_000_000i64..1_000_000_000, 0u8..=18).prop_map(|(k, e)| decimal(k, e)),
        1 => (-1_000i64..1_000).prop_map(|k| k as f64),
    ]
}

/// A column of exactly `n` values, in one of several shapes.
fn column(n: usize) -> BoxedStrategy<Vec<f64>> {
    prop_oneof![
        // Arbitrary bit patterns.
        vec(any::<u64>().prop_map(f64::from_bits), n),
        // A mix of everything.
        vec(any_f64(), n),
        // Decimals sharing an exponent.
        (0u8..=18, vec(-1_000_000i64..1_000_000, n))
            .prop_map(|(e, ks)| ks.into_iter().map(|k| decimal(k, e)).collect()),
        // One repeated value.
        any_f64().prop_map(move |v| vec![v; n]),
        // Runs of a few values.
        vec((any_f64(), 1usize..40), 1..8).prop_map(move |runs| {
            runs.into_iter().flat_map(|(v, len)| std::iter::repeat_n(v, len)).cycle().take(n).collect()
        }),
        // A random walk, where Gorilla windows get reused.
        (-1e6f64..1e6, vec(-1.0f64..1.0, n)).prop_map(|(start, steps)| {
            let mut v = start;
            steps
                .into_iter()
                .map(|s| {
                    v += s;
                    v
                })
                .collect()
        }),
    ]
    .boxed()
}

/// `f64` columns of 0..max values.
fn f64_vec(max: usize) -> impl Strategy<Value = Vec<f64>> {
    (0..max).prop_flat_map(column)
}

/// A chunk to write: timestamps, 1..=4 columns, and a range query.
#[derive(Debug, Clone)]
struct ChunkCase {
    timestamps: Vec<i64>,
    columns: Vec<Vec<f64>>,
    start: i64,
    end: i64,
    asked: Vec<usize>,
    take: usize,
}

/// A range endpoint: arbitrary, or near a timestamp of the chunk.
fn endpoint(near: Vec<i64>) -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => any_i64(),
        3 => (any::<Index>(), -1i64..=1).prop_map(move |(i, d)| near[i.index(near.len())].saturating_add(d)),
    ]
}

fn chunk_case(max_points: usize) -> impl Strategy<Value = ChunkCase> {
    timestamps(max_points).prop_flat_map(|ts| {
        let n = ts.len();
        (1usize..=4).prop_flat_map(move |n_columns| {
            (
                Just(ts.clone()),
                vec(column(n), n_columns),
                (endpoint(ts.clone()), endpoint(ts.clone()), prop::bool::weighted(0.8)),
                vec(0..n_columns, 0..=4),
                0..=n + 1,
            )
                .prop_map(|(timestamps, columns, (a, b, ordered), asked, take)| {
                    // Mostly start <= end, sometimes reversed (which selects nothing).
                    let (start, end) = if ordered { (a.min(b), a.max(b)) } else { (a, b) };
                    ChunkCase { timestamps, columns, start, end, asked, take }
                })
        })
    })
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Encodes `items` after a marker byte (encoders append), decodes them in full
/// and as a `take` prefix (decoders append), and returns the payload.
fn check_i64_codec<C: Codec<i64>>(codec: &mut C, items: &[i64], take: usize) -> Result<Vec<u8>, TestCaseError> {
    let mut buf = vec![0xA5];
    codec.encode(items, &mut buf).unwrap();
    prop_assert_eq!(buf[0], 0xA5, "encode must append");
    let payload = buf.split_off(1);
    let n = items.len();
    let mut got = vec![SENTINEL_I64];
    codec.decode(&payload, n, n, &mut got).unwrap();
    prop_assert_eq!(got[0], SENTINEL_I64, "decode must append");
    prop_assert_eq!(&got[1..], items);
    let mut got = vec![SENTINEL_I64];
    codec.decode(&payload, n, take, &mut got).unwrap();
    prop_assert_eq!(&got[1..], &items[..take.min(n)]);
    Ok(payload)
}

/// [`check_i64_codec`] for `f64` codecs, comparing bit patterns. `None` if the
/// codec refused the input (with [`Error::Unencodable`]).
fn check_f64_codec<C: Codec<f64>>(codec: &mut C, items: &[f64], take: usize) -> Result<Option<Vec<u8>>, TestCaseError> {
    let mut buf = vec![0xA5];
    match codec.encode(items, &mut buf) {
        Ok(()) => {}
        Err(Error::Unencodable(_)) => return Ok(None),
        Err(e) => return Err(TestCaseError::fail(format!("encode failed with {e:?}"))),
    }
    prop_assert_eq!(buf[0], 0xA5, "encode must append");
    let payload = buf.split_off(1);
    let n = items.len();
    let mut got = vec![SENTINEL_F64];
    codec.decode(&payload, n, n, &mut got).unwrap();
    prop_assert_eq!(got[0].to_bits(), SENTINEL_F64.to_bits(), "decode must append");
    prop_assert_eq!(bits(&got[1..]), bits(items));
    let mut got = vec![SENTINEL_F64];
    codec.decode(&payload, n, take, &mut got).unwrap();
    prop_assert_eq!(bits(&got[1..]), bits(&items[..take.min(n)]));
    Ok(Some(payload))
}

fn encode_chunk(policy: EncodingPolicy, ts: &[i64], columns: &[&[f64]]) -> Vec<u8> {
    let mut out = Vec::new();
    ChunkEncoder::new(policy).encode(ts, columns, &mut out).unwrap();
    out
}

/// Checks `ColumnStats` against the definitions in `src/encoding/stats.rs`.
fn check_stats(chunk: &Chunk<'_>, column: usize, values: &[f64]) -> Result<(), TestCaseError> {
    let s = chunk.stats(column).unwrap();
    prop_assert_eq!(s.first.to_bits(), values[0].to_bits(), "first of column {}", column);
    prop_assert_eq!(s.last.to_bits(), values[values.len() - 1].to_bits(), "last of column {}", column);
    let numbers: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if numbers.is_empty() {
        prop_assert!(s.min.is_nan() && s.max.is_nan(), "min/max of an all-NaN column: {:?}", s);
    } else {
        let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // == treats -0.0 and +0.0 alike; which zero is the minimum is not specified.
        prop_assert!(s.min == min, "min of column {}: {} != {}", column, s.min, min);
        prop_assert!(s.max == max, "max of column {}: {} != {}", column, s.max, max);
        prop_assert!(numbers.iter().any(|v| v.to_bits() == s.min.to_bits()), "min {} is not a value", s.min);
        prop_assert!(numbers.iter().any(|v| v.to_bits() == s.max.to_bits()), "max {} is not a value", s.max);
    }
    let sum = values.iter().fold(0.0f64, |acc, &v| acc + v);
    if sum.is_nan() {
        prop_assert!(s.sum.is_nan(), "sum of column {} should be NaN, is {}", column, s.sum);
    } else {
        prop_assert_eq!(s.sum.to_bits(), sum.to_bits(), "sum of column {}: {} != {}", column, s.sum, sum);
    }
    Ok(())
}

/// Parses `bytes` and checks the header, every column, the statistics and a
/// `take` prefix against the input the chunk was written from.
fn check_chunk(bytes: &[u8], ts: &[i64], columns: &[&[f64]], take: usize) -> Result<(), TestCaseError> {
    let chunk = Chunk::parse(bytes).unwrap();
    let n = ts.len();
    prop_assert_eq!(chunk.count(), n);
    prop_assert_eq!(chunk.min_time(), ts[0]);
    prop_assert_eq!(chunk.max_time(), ts[n - 1]);
    prop_assert_eq!(chunk.column_count(), columns.len());

    let decoded = chunk.decode().unwrap();
    prop_assert_eq!(decoded.timestamps.values().as_ref(), ts);
    prop_assert_eq!(decoded.timestamps.timezone(), Some("UTC"));
    prop_assert_eq!(decoded.values.len(), columns.len());
    for (c, (got, want)) in decoded.values.iter().zip(columns).enumerate() {
        prop_assert_eq!(bits(got.values()), bits(want), "column {}", c);
        check_stats(&chunk, c, want)?;
    }

    let mut got_ts = vec![SENTINEL_I64];
    chunk.decode_timestamps(take, &mut got_ts).unwrap();
    prop_assert_eq!(&got_ts[1..], &ts[..take.min(n)]);
    for (c, want) in columns.iter().enumerate() {
        let mut got = vec![SENTINEL_F64];
        chunk.decode_values(c, take, &mut got).unwrap();
        prop_assert_eq!(bits(&got[1..]), bits(&want[..take.min(n)]), "prefix of column {}", c);
    }
    prop_assert!(matches!(chunk.stats(columns.len()), Err(Error::Unencodable(_))));
    prop_assert!(chunk.decode_range(i64::MIN, i64::MAX, &[columns.len()]).is_err());
    Ok(())
}

/// Checks `decode_range(start, end, asked)` against a filter of the input.
fn check_range(
    bytes: &[u8],
    ts: &[i64],
    columns: &[&[f64]],
    (start, end): (i64, i64),
    asked: &[usize],
) -> Result<(), TestCaseError> {
    let chunk = Chunk::parse(bytes).unwrap();
    let got = chunk.decode_range(start, end, asked).unwrap();
    let inside: Vec<usize> = (0..ts.len()).filter(|&i| start <= ts[i] && ts[i] <= end).collect();
    let want_ts: Vec<i64> = inside.iter().map(|&i| ts[i]).collect();
    prop_assert_eq!(got.timestamps.values().as_ref(), &want_ts[..], "range {}..={}", start, end);
    prop_assert_eq!(got.values.len(), asked.len());
    for (&c, values) in asked.iter().zip(&got.values) {
        let want: Vec<f64> = inside.iter().map(|&i| columns[c][i]).collect();
        prop_assert_eq!(bits(values.values()), bits(&want), "column {} over {}..={}", c, start, end);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Codecs, directly
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn delta_of_delta_round_trips(items in i64_vec(300), take in 0usize..320) {
        let payload = check_i64_codec(&mut DeltaOfDelta, &items, take)?;
        prop_assert_eq!(payload.len(), DeltaOfDelta::encoded_len(&items));
    }

    #[test]
    fn packed_ints_round_trip(items in i64_vec(300), take in 0usize..320) {
        check_i64_codec(&mut PackedInts::default(), &items, take)?;
    }

    #[test]
    fn packed_ints_round_trip_short_codes(items in short_code_ints(3000), take in 0usize..3100) {
        check_i64_codec(&mut PackedInts::default(), &items, take)?;
    }

    #[test]
    fn decimal_round_trips_short_codes(ks in short_code_ints(3000), e in 0u8..=18, take in 0usize..3100) {
        // The decoder's fused path: residuals, inverse transform and division to f64 in place.
        let items: Vec<f64> = ks.iter().map(|&k| decimal(k % DECIMAL_MAX_K, e)).collect();
        let payload = check_f64_codec(&mut Decimal::default(), &items, take)?;
        prop_assert!(payload.is_some(), "k / 10^{} with |k| <= 2^51 must be accepted", e);
    }

    #[test]
    fn packed_ints_encoder_reuse_is_invisible(a in i64_vec(200), b in i64_vec(200)) {
        // The encoder keeps scratch buffers: a second encoding must not depend on the first.
        let mut reused = PackedInts::default();
        let (mut first, mut second, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
        reused.encode(&a, &mut first).unwrap();
        reused.encode(&b, &mut second).unwrap();
        PackedInts::default().encode(&b, &mut fresh).unwrap();
        prop_assert_eq!(second, fresh);
    }

    #[test]
    fn plain_i64_round_trips(items in i64_vec(300), take in 0usize..320) {
        let payload = check_i64_codec(&mut Plain, &items, take)?;
        prop_assert_eq!(payload.len(), 8 * items.len());
    }

    #[test]
    fn plain_f64_round_trips(items in f64_vec(300), take in 0usize..320) {
        let payload = check_f64_codec(&mut Plain, &items, take)?.expect("plain takes every value");
        prop_assert_eq!(payload.len(), 8 * items.len());
    }

    #[test]
    fn gorilla_round_trips(items in f64_vec(300), take in 0usize..320) {
        let payload = check_f64_codec(&mut GorillaXor, &items, take)?.expect("gorilla takes every value");
        prop_assert_eq!(payload.len(), GorillaXor::encoded_len(&items));
    }

    #[test]
    fn gorilla_size_floor_never_exceeds_its_size(items in f64_vec(300)) {
        prop_assert!(GorillaXor::size_floor(&items) <= GorillaXor::encoded_len(&items));
    }

    #[test]
    fn gorilla_round_trips_arbitrary_bit_patterns(
        raw in vec(any::<u64>(), 0..300),
        take in 0usize..320,
    ) {
        let items: Vec<f64> = raw.into_iter().map(f64::from_bits).collect();
        check_f64_codec(&mut GorillaXor, &items, take)?.expect("gorilla takes every value");
    }

    #[test]
    fn run_length_round_trips(items in f64_vec(300), take in 0usize..320) {
        let payload = check_f64_codec(&mut RunLength, &items, take)?.expect("run length takes every value");
        prop_assert_eq!(payload.len(), RunLength::encoded_len(&items));
    }

    #[test]
    fn constant_round_trips(v in any_f64(), n in 1usize..500, take in 0usize..520) {
        let items = vec![v; n];
        let payload = check_f64_codec(&mut Constant, &items, take)?.expect("a constant column is constant");
        prop_assert_eq!(payload.len(), 8);
    }

    #[test]
    fn constant_refuses_exactly_the_non_constant(items in f64_vec(50)) {
        let fits = !items.is_empty() && items.iter().all(|v| v.to_bits() == items[0].to_bits());
        prop_assert_eq!(Constant::fits(&items), fits);
        let mut buf = Vec::new();
        match Constant.encode(&items, &mut buf) {
            Ok(()) => prop_assert!(fits),
            Err(Error::Unencodable(_)) => prop_assert!(!fits),
            Err(e) => prop_assert!(false, "unexpected error {:?}", e),
        }
    }

    #[test]
    fn decimal_round_trips_whatever_it_accepts(items in f64_vec(300), take in 0usize..320) {
        // Refusal is allowed (NaN, -0.0, too many digits...); acceptance must be exact.
        check_f64_codec(&mut Decimal::default(), &items, take)?;
    }

    #[test]
    fn decimal_accepts_decimals(
        e in 0u8..=18,
        ks in vec(-DECIMAL_MAX_K..=DECIMAL_MAX_K, 0..300),
        take in 0usize..320,
    ) {
        let items: Vec<f64> = ks.iter().map(|&k| decimal(k, e)).collect();
        let payload = check_f64_codec(&mut Decimal::default(), &items, take)?;
        prop_assert!(payload.is_some(), "k / 10^{} with |k| <= 2^51 must be accepted", e);
    }

    #[test]
    fn decimal_accepts_small_decimals_of_mixed_exponents(
        parts in vec((-100_000i64..100_000, 0u8..=6), 1..300),
        take in 0usize..320,
    ) {
        let items: Vec<f64> = parts.iter().map(|&(k, e)| decimal(k, e)).collect();
        let payload = check_f64_codec(&mut Decimal::default(), &items, take)?;
        prop_assert!(payload.is_some(), "decimals of at most 6 places and 11 digits must be accepted");
    }

    #[test]
    fn decimal_encoder_reuse_is_invisible(
        a in f64_vec(200),
        e in 0u8..=18,
        ks in vec(-1_000_000i64..1_000_000, 1..200),
    ) {
        let b: Vec<f64> = ks.iter().map(|&k| decimal(k, e)).collect();
        let mut reused = Decimal::default();
        let (mut first, mut second, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
        let _ = reused.encode(&a, &mut first);
        reused.encode(&b, &mut second).unwrap();
        Decimal::default().encode(&b, &mut fresh).unwrap();
        prop_assert_eq!(second, fresh);
    }
}

// ---------------------------------------------------------------------------
// Whole chunks
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn chunks_round_trip_under_both_policies(case in chunk_case(200)) {
        let columns: Vec<&[f64]> = case.columns.iter().map(Vec::as_slice).collect();
        for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
            let bytes = encode_chunk(policy, &case.timestamps, &columns);
            check_chunk(&bytes, &case.timestamps, &columns, case.take)?;
            check_range(&bytes, &case.timestamps, &columns, (case.start, case.end), &case.asked)?;
            if policy == EncodingPolicy::Gorilla {
                let chunk = Chunk::parse(&bytes).unwrap();
                prop_assert_eq!(chunk.time_encoding(), EncodingId::DeltaOfDelta);
                for c in 0..columns.len() {
                    prop_assert_eq!(chunk.value_encoding(c).unwrap(), EncodingId::GorillaXor);
                }
            }
        }
        let adaptive = encode_chunk(EncodingPolicy::Adaptive, &case.timestamps, &columns);
        let gorilla = encode_chunk(EncodingPolicy::Gorilla, &case.timestamps, &columns);
        prop_assert!(adaptive.len() <= gorilla.len(), "adaptive {} > gorilla {} bytes", adaptive.len(), gorilla.len());
    }

    #[test]
    fn chunk_encoder_appends_and_reuse_is_invisible(first in chunk_case(100), second in chunk_case(100)) {
        fn cols(c: &ChunkCase) -> Vec<&[f64]> {
            c.columns.iter().map(Vec::as_slice).collect()
        }
        for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
            let mut encoder = ChunkEncoder::new(policy);
            let mut out = Vec::new();
            encoder.encode(&first.timestamps, &cols(&first), &mut out).unwrap();
            let split = out.len();
            encoder.encode(&second.timestamps, &cols(&second), &mut out).unwrap();
            prop_assert_eq!(&out[..split], &encode_chunk(policy, &first.timestamps, &cols(&first))[..]);
            prop_assert_eq!(&out[split..], &encode_chunk(policy, &second.timestamps, &cols(&second))[..]);
            check_chunk(&out[split..], &second.timestamps, &cols(&second), second.take)?;
        }
    }
}

// ---------------------------------------------------------------------------
// The generators of chronicle::testing, chunked per hour
// ---------------------------------------------------------------------------

/// Chunks `ts` and `columns` per hour; each chunk must round-trip under both
/// policies, and the adaptive one must not be larger than the Gorilla one.
fn check_generated(ts: &[i64], columns: &[&[f64]]) -> Result<(), TestCaseError> {
    let ranges = testing::partition_ranges(ts, HOUR_NS);
    prop_assert_eq!(ranges.iter().map(|r| r.len()).sum::<usize>(), ts.len());
    let mut encoder = ChunkEncoder::new(EncodingPolicy::Adaptive);
    for r in ranges {
        let part: Vec<&[f64]> = columns.iter().map(|c| &c[r.clone()]).collect();
        let t = &ts[r.clone()];
        let mut adaptive = Vec::new();
        encoder.encode(t, &part, &mut adaptive).unwrap();
        check_chunk(&adaptive, t, &part, t.len() / 2)?;
        let mid = t[t.len() / 2];
        check_range(&adaptive, t, &part, (mid, t[t.len() - 1]), &(0..part.len()).collect::<Vec<_>>())?;
        let gorilla = encode_chunk(EncodingPolicy::Gorilla, t, &part);
        check_chunk(&gorilla, t, &part, t.len())?;
        prop_assert!(
            adaptive.len() <= gorilla.len(),
            "chunk {:?}: adaptive {} bytes > gorilla {} bytes",
            r,
            adaptive.len(),
            gorilla.len()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn tsbs_cpu_hosts_round_trip(
        seed in any::<u64>(),
        scale in 1usize..50,
        h in any::<Index>(),
        steps in 1usize..3000,
    ) {
        let host = TsbsCpu::new(scale, seed).host(h.index(scale), steps);
        prop_assert_eq!(host.fields.len(), testing::CPU_FIELDS.len());
        let fields: Vec<&[f64]> = host.fields.iter().map(Vec::as_slice).collect();
        check_generated(&host.timestamps, &fields)?;
    }

    #[test]
    fn counters_round_trip(seed in any::<u64>(), n in 1usize..3000) {
        let s = testing::counter(n, seed);
        check_generated(&s.timestamps, &[&s.values])?;
    }

    #[test]
    fn one_decimal_gauges_round_trip(seed in any::<u64>(), n in 1usize..3000) {
        let s = testing::gauge_1dp(n, seed);
        check_generated(&s.timestamps, &[&s.values])?;
    }

    #[test]
    fn random_floats_round_trip(seed in any::<u64>(), n in 1usize..3000) {
        let s = testing::random_f64(n, seed);
        check_generated(&s.timestamps, &[&s.values])?;
    }

    #[test]
    fn constants_round_trip(n in 1usize..3000) {
        let s = testing::constant(n);
        check_generated(&s.timestamps, &[&s.values])?;
        for r in testing::partition_ranges(&s.timestamps, HOUR_NS) {
            let bytes = encode_chunk(EncodingPolicy::Adaptive, &s.timestamps[r.clone()], &[&s.values[r]]);
            prop_assert_eq!(Chunk::parse(&bytes).unwrap().value_encoding(0).unwrap(), EncodingId::Constant);
        }
    }

    #[test]
    fn irregular_timestamps_round_trip(seed in any::<u64>(), n in 1usize..3000) {
        let s = testing::irregular_ts(n, seed);
        check_generated(&s.timestamps, &[&s.values])?;
    }

    #[test]
    fn generators_share_one_chunk(seed in any::<u64>(), n in 1usize..500) {
        // Several shapes as the columns of one chunk, on the 10 s timestamps they share.
        let (g, c) = (testing::gauge_1dp(n, seed), testing::counter(n, seed));
        let (r, k) = (testing::random_f64(n, seed), testing::constant(n));
        check_generated(&g.timestamps, &[&g.values, &c.values, &r.values, &k.values])?;
    }
}

// ---------------------------------------------------------------------------
// Edge cases
// ---------------------------------------------------------------------------

/// Round-trips one chunk under both policies with plain assertions.
fn round_trip_chunk(ts: &[i64], columns: &[&[f64]]) {
    for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
        let bytes = encode_chunk(policy, ts, columns);
        check_chunk(&bytes, ts, columns, ts.len()).unwrap_or_else(|e| panic!("{policy:?}: {e}"));
        for (start, end) in [(i64::MIN, i64::MAX), (ts[0], ts[0]), (ts[ts.len() - 1], i64::MAX)] {
            check_range(&bytes, ts, columns, (start, end), &(0..columns.len()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("{policy:?} {start}..={end}: {e}"));
        }
    }
}

/// Round-trips `values` through every `f64` codec that accepts them.
fn round_trip_values(values: &[f64]) {
    let run = |name: &str, codec: &mut dyn Codec<f64>| {
        let mut buf = Vec::new();
        if codec.encode(values, &mut buf).is_ok() {
            let mut got = Vec::new();
            codec.decode(&buf, values.len(), values.len(), &mut got).unwrap();
            assert_eq!(bits(&got), bits(values), "{name}");
        }
    };
    run("plain", &mut Plain);
    run("gorilla", &mut GorillaXor);
    run("run length", &mut RunLength);
    run("constant", &mut Constant);
    run("decimal", &mut Decimal::default());
    let ts: Vec<i64> = (0..values.len() as i64).map(|i| testing::START_NS + i * testing::SECOND_NS).collect();
    round_trip_chunk(&ts, &[values]);
}

#[test]
fn prometheus_stale_marker_survives() {
    let stale = f64::from_bits(STALE_NAN);
    round_trip_values(&[stale]);
    round_trip_values(&[stale; 5]);
    round_trip_values(&[1.0, stale, 2.0, stale, stale, f64::NAN, 3.5]);
    // Stats: min/max ignore the NaN, the sum is NaN.
    let ts = [10, 20, 30];
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &ts, &[&[1.5, stale, -2.0]]);
    let chunk = Chunk::parse(&bytes).unwrap();
    let s = chunk.stats(0).unwrap();
    assert_eq!((s.min, s.max, s.first), (-2.0, 1.5, 1.5));
    assert!(s.sum.is_nan());
    assert_eq!(chunk.decode().unwrap().values[0].value(1).to_bits(), STALE_NAN);
}

#[test]
fn signed_zeros_stay_apart() {
    round_trip_values(&[0.0, -0.0, 0.0, -0.0]);
    round_trip_values(&[-0.0; 4]);
    round_trip_values(&[-0.0, -0.0, 0.0, 0.0, 1.0, -0.0]);
    let mut buf = Vec::new();
    assert!(matches!(Decimal::default().encode(&[1.0, -0.0], &mut buf), Err(Error::Unencodable(_))));
    assert!(matches!(Constant.encode(&[0.0, -0.0], &mut buf), Err(Error::Unencodable(_))));
}

#[test]
fn infinities_and_subnormals_round_trip() {
    let sub = f64::MIN_POSITIVE / 2.0;
    assert!(sub.is_subnormal());
    round_trip_values(&[f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
    round_trip_values(&[sub, -sub, sub, f64::from_bits(1), 0.0]);
    round_trip_values(&[f64::MAX, f64::MIN, f64::INFINITY, sub, f64::NEG_INFINITY]);
    // inf + -inf: the sum is NaN without any NaN value.
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &[1, 2], &[&[f64::INFINITY, f64::NEG_INFINITY]]);
    let s = *Chunk::parse(&bytes).unwrap().stats(0).unwrap();
    assert_eq!((s.min, s.max), (f64::NEG_INFINITY, f64::INFINITY));
    assert!(s.sum.is_nan());
    let mut buf = Vec::new();
    assert!(Decimal::default().encode(&[f64::INFINITY], &mut buf).is_err());
    assert!(Decimal::default().encode(&[f64::NAN], &mut buf).is_err());
}

#[test]
fn single_point_chunks_round_trip() {
    for t in [i64::MIN, -1, 0, 1, testing::START_NS, i64::MAX] {
        for v in [0.0, -0.0, 42.5, f64::NAN, f64::from_bits(STALE_NAN), f64::INFINITY, 1e-300] {
            round_trip_chunk(&[t], &[&[v]]);
        }
    }
}

#[test]
fn chunks_of_the_largest_size_round_trip() {
    // A TSBS-like walk (short Rice codes throughout) filling one chunk to the limit.
    let n = MAX_CHUNK_POINTS;
    let ts: Vec<i64> = (0..n as i64).map(|i| testing::START_NS + i * 10 * testing::SECOND_NS).collect();
    let walk: Vec<f64> = (0..n).map(|i| ((i * 7 % 13) * 10 + i % 1000) as f64 / 10.0).collect();
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &ts, &[&walk]);
    let chunk = Chunk::parse(&bytes).unwrap();
    assert_eq!(chunk.value_encoding(0).unwrap(), EncodingId::Decimal);
    let got = chunk.decode().unwrap();
    assert_eq!(got.timestamps.values().as_ref(), &ts[..]);
    assert_eq!(bits(got.values[0].values()), bits(&walk));
    let mut ts_over = ts;
    ts_over.push(ts_over[n - 1] + 1);
    let mut out = Vec::new();
    let over = ChunkEncoder::default().encode(&ts_over, &[], &mut out);
    assert!(matches!(over, Err(Error::Unencodable(_))), "{over:?}");
}

#[test]
fn extreme_timestamps_share_a_chunk() {
    round_trip_chunk(&[i64::MIN, i64::MAX], &[&[1.0, 2.0]]);
    round_trip_chunk(&[i64::MIN, i64::MIN, 0, i64::MAX, i64::MAX], &[&[1.0, 2.0, 3.0, 4.0, 5.0]]);
    round_trip_chunk(&[i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX], &[&[0.5; 4], &[f64::NAN; 4]]);
    round_trip_chunk(&[-1_000_000_000_000_000_000, 0, 9_000_000_000_000_000_000], &[&[1.0, 2.0, 3.0]]);
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &[i64::MIN, i64::MAX], &[&[1.0, 2.0]]);
    let chunk = Chunk::parse(&bytes).unwrap();
    assert_eq!((chunk.min_time(), chunk.max_time()), (i64::MIN, i64::MAX));
    let only_max = chunk.decode_range(i64::MAX, i64::MAX, &[0]).unwrap();
    assert_eq!(only_max.timestamps.values().as_ref(), &[i64::MAX]);
    assert_eq!(only_max.values[0].values().as_ref(), &[2.0]);
}

#[test]
fn equal_timestamps_round_trip() {
    round_trip_chunk(&[7; 100], &[&(0..100).map(f64::from).collect::<Vec<_>>()]);
    let ts = [5, 5, 5, 6, 6, 9];
    round_trip_chunk(&ts, &[&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &ts, &[&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    let got = Chunk::parse(&bytes).unwrap().decode_range(6, 6, &[0]).unwrap();
    assert_eq!(got.values[0].values().as_ref(), &[4.0, 5.0]);
}

#[test]
fn ranges_outside_the_chunk_are_empty() {
    let ts = [100, 200, 300];
    let bytes = encode_chunk(EncodingPolicy::Adaptive, &ts, &[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]);
    let chunk = Chunk::parse(&bytes).unwrap();
    for (start, end) in [(i64::MIN, 99), (301, i64::MAX), (300, 100), (150, 199), (i64::MAX, i64::MIN)] {
        let got = chunk.decode_range(start, end, &[1, 0]).unwrap();
        assert_eq!(got.timestamps.len(), 0, "{start}..={end}");
        assert_eq!(got.values.len(), 2);
        assert!(got.values.iter().all(|v| v.is_empty()));
    }
    assert!(chunk.decode_range(i64::MIN, 99, &[2]).is_err(), "an unknown column is an error even when empty");
}

#[test]
fn chunks_without_value_columns_round_trip() {
    let ts = [1, 2, 3, 1_000];
    for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
        let bytes = encode_chunk(policy, &ts, &[]);
        let chunk = Chunk::parse(&bytes).unwrap();
        assert_eq!(chunk.column_count(), 0);
        let got = chunk.decode().unwrap();
        assert_eq!(got.timestamps.values().as_ref(), &ts);
        assert!(got.values.is_empty());
    }
}

#[test]
fn invalid_chunks_are_unencodable() {
    let mut out = vec![1, 2, 3];
    for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
        let mut enc = ChunkEncoder::new(policy);
        let cases: [(&[i64], &[&[f64]]); 6] = [
            (&[], &[]),
            (&[], &[&[]]),
            (&[2, 1], &[&[1.0, 2.0]]),
            (&[i64::MAX, i64::MIN], &[]),
            (&[1, 2, 3], &[&[1.0, 2.0]]),
            (&[1, 2], &[&[1.0, 2.0], &[1.0, 2.0, 3.0]]),
        ];
        for (ts, columns) in cases {
            let err = enc.encode(ts, columns, &mut out);
            assert!(matches!(err, Err(Error::Unencodable(_))), "{policy:?} {ts:?}: {err:?}");
            assert_eq!(out, [1, 2, 3], "a refused chunk writes nothing");
        }
        // The encoder is still usable afterwards.
        enc.encode(&[1, 2], &[&[1.0, 2.0]], &mut out).unwrap();
        check_chunk(&out[3..], &[1, 2], &[&[1.0, 2.0]], 2).unwrap();
        out.truncate(3);
    }
}

#[test]
fn codecs_report_their_ids() {
    assert_eq!(Codec::<i64>::id(&Plain), EncodingId::PlainTime);
    assert_eq!(Codec::<f64>::id(&Plain), EncodingId::PlainValue);
    assert_eq!(DeltaOfDelta.id(), EncodingId::DeltaOfDelta);
    assert_eq!(PackedInts::default().id(), EncodingId::PackedTime);
    assert_eq!(GorillaXor.id(), EncodingId::GorillaXor);
    assert_eq!(Decimal::default().id(), EncodingId::Decimal);
    assert_eq!(RunLength.id(), EncodingId::RunLength);
    assert_eq!(Constant.id(), EncodingId::Constant);
    for id in [1u8, 2, 3] {
        assert_eq!(EncodingId::time(id).unwrap() as u8, id);
    }
    for id in 16u8..=20 {
        assert_eq!(EncodingId::value(id).unwrap() as u8, id);
    }
    assert!(matches!(EncodingId::time(16), Err(Error::UnknownEncoding { kind: "time", id: 16 })));
    assert!(matches!(EncodingId::value(3), Err(Error::UnknownEncoding { kind: "value", id: 3 })));
}

#[test]
fn empty_inputs_round_trip_where_allowed() {
    for codec in [&mut DeltaOfDelta as &mut dyn Codec<i64>, &mut PackedInts::default(), &mut Plain] {
        let mut buf = Vec::new();
        codec.encode(&[], &mut buf).unwrap();
        let mut got = Vec::new();
        codec.decode(&buf, 0, 10, &mut got).unwrap();
        assert!(got.is_empty());
    }
    for codec in [&mut GorillaXor as &mut dyn Codec<f64>, &mut RunLength, &mut Plain, &mut Decimal::default()] {
        let mut buf = Vec::new();
        codec.encode(&[], &mut buf).unwrap();
        let mut got = Vec::new();
        codec.decode(&buf, 0, 10, &mut got).unwrap();
        assert!(got.is_empty());
    }
    assert!(matches!(Constant.encode(&[], &mut Vec::new()), Err(Error::Unencodable(_))));
}
