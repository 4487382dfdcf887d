//! Damaged input to the chunk parser and to every column decoder.
//!
//! Chunks written from the `chronicle::testing` generators (adaptive and
//! Gorilla policy, together covering every time and value codec) are
//! truncated at every length and have every single bit flipped: the parse
//! must fail, with `Error::Checksum` for every flip. The same damage is then
//! applied behind a recomputed CRC, and to codec payloads handed to the
//! decoders directly, where it must give `Ok` or `Err` but never a panic or an
//! endless loop; proptests do the same with random bytes and random counts.
//! Targeted cases check the corruptions each decoder documents as errors, and
//! every `Truncated` / `Corrupt` error must name an offset inside its input.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use chronicle::encoding::{
    Chunk, ChunkEncoder, Codec, Constant, Decimal, DeltaOfDelta, EncodingId, EncodingPolicy, Error, GorillaXor,
    MAX_CHUNK_POINTS, PackedInts, Plain, RunLength,
};
use chronicle::testing::{self, HOUR_NS, TsbsCpu};
use proptest::collection::vec;
use proptest::prelude::*;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Bytes of the trailing CRC-32 of a chunk.
const CRC_LEN: usize = 4;

/// `body` with its CRC-32 (IEEE, little-endian) appended, as a chunk ends.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out
}

/// A chunk with its body changed by `edit` and the CRC recomputed.
fn reseal(chunk: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = chunk[..chunk.len() - CRC_LEN].to_vec();
    edit(&mut body);
    seal(&body)
}

/// Whether the offset an error names (if any) lies inside an input of `len` bytes.
fn offset_within(err: &Error, len: usize) -> bool {
    match err {
        Error::Truncated { offset, .. } | Error::Corrupt { offset, .. } => *offset <= len,
        _ => true,
    }
}

/// Fails the test if `result` is an error naming an offset past `len`.
#[track_caller]
fn assert_offset<T>(result: &Result<T, Error>, len: usize, context: &str) {
    if let Err(e) = result {
        assert!(offset_within(e, len), "{context}: {e:?} names an offset past the {len} input bytes");
    }
}

/// Everything a reader can ask of a chunk; `Ok` only if all of it decodes.
fn read_all(bytes: &[u8]) -> Result<(), Error> {
    let chunk = Chunk::parse(bytes)?;
    let n = chunk.count();
    let mut ts = Vec::new();
    chunk.decode_timestamps(n, &mut ts)?;
    let mut half = Vec::new();
    chunk.decode_timestamps(n / 2, &mut half)?;
    for c in 0..chunk.column_count() {
        chunk.stats(c)?;
        chunk.value_encoding(c)?;
        let mut v = Vec::new();
        chunk.decode_values(c, n, &mut v)?;
        assert_eq!(v.len(), n, "a column that decodes has count values");
        let mut v = Vec::new();
        chunk.decode_values(c, n / 2, &mut v)?;
    }
    let all = chunk.decode()?;
    assert_eq!(all.timestamps.len(), n, "a chunk that decodes has count timestamps");
    let (lo, hi) = (chunk.min_time(), chunk.max_time());
    let mid = i64::try_from((i128::from(lo) + i128::from(hi)) / 2).unwrap();
    let cols: Vec<usize> = (0..chunk.column_count()).collect();
    chunk.decode_range(mid, hi, &cols)?;
    chunk.decode_range(lo, mid, &cols)?;
    Ok(())
}

/// Reads a LEB128 varint at `*at`, advancing it.
fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

/// Offsets in a chunk (see the layout in `src/encoding/chunk.rs`).
#[derive(Debug)]
struct Layout {
    /// The varint point count.
    count: usize,
    /// The time encoding id.
    time_id: usize,
    /// The time scale byte.
    time_scale: usize,
    /// The value encoding id of each column.
    value_ids: Vec<usize>,
}

fn layout(chunk: &[u8]) -> Layout {
    let mut at = 1;
    let count = at;
    varint(chunk, &mut at);
    let time_id = at;
    let time_scale = at + 1;
    at += 2;
    varint(chunk, &mut at); // min time
    varint(chunk, &mut at); // span
    let len = varint(chunk, &mut at) as usize;
    at += len;
    let columns = varint(chunk, &mut at);
    let mut value_ids = Vec::new();
    for _ in 0..columns {
        value_ids.push(at);
        at += 1;
        let _exponent = chunk[at];
        let raw = chunk[at + 1];
        at += 2;
        for stat in 0..5 {
            if raw & (1 << stat) != 0 {
                at += 8;
            } else {
                varint(chunk, &mut at);
            }
        }
        let len = varint(chunk, &mut at) as usize;
        at += len;
    }
    assert_eq!(at + CRC_LEN, chunk.len(), "layout walked the whole chunk");
    Layout { count, time_id, time_scale, value_ids }
}

// ---------------------------------------------------------------------------
// Sample chunks
// ---------------------------------------------------------------------------

/// `n` pseudo-random words (SplitMix64) from `seed`.
fn random_words(seed: u64, n: usize) -> Vec<u64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

/// Eight sorted pseudo-random timestamps over the whole `i64` range.
fn sparse_times(seed: u64) -> Vec<i64> {
    let mut ts: Vec<i64> = random_words(seed, 8).into_iter().map(|w| w as i64).collect();
    ts.sort_unstable();
    ts
}

fn encode(policy: EncodingPolicy, ts: &[i64], columns: &[&[f64]]) -> Vec<u8> {
    let mut out = Vec::new();
    ChunkEncoder::new(policy).encode(ts, columns, &mut out).unwrap();
    out
}

/// Chunks from the generators and a few hand-made shapes, under both policies,
/// named for messages. Together they use every time and value encoding.
fn sample_chunks() -> &'static [(String, Vec<u8>)] {
    static CHUNKS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    CHUNKS.get_or_init(make_sample_chunks)
}

/// A named chunk to write: timestamps and value columns.
type Input = (&'static str, Vec<i64>, Vec<Vec<f64>>);

fn make_sample_chunks() -> Vec<(String, Vec<u8>)> {
    let mut inputs: Vec<Input> = Vec::new();
    let host = TsbsCpu::new(4, 11).host(2, 60);
    inputs.push(("tsbs cpu", host.timestamps, host.fields));
    for (name, s) in [
        ("counter", testing::counter(150, 1)),
        ("gauge_1dp", testing::gauge_1dp(150, 2)),
        ("random_f64", testing::random_f64(60, 3)),
        ("constant", testing::constant(150)),
        ("irregular_ts", testing::irregular_ts(150, 4)),
    ] {
        let first = testing::partition_ranges(&s.timestamps, HOUR_NS)[0].clone();
        inputs.push((name, s.timestamps[first.clone()].to_vec(), vec![s.values[first].to_vec()]));
    }
    let steps: Vec<f64> = (0..120).map(|i| f64::from(i / 40) * 12.5 + 0.1).collect();
    let ts: Vec<i64> = (0..120).map(|i| testing::START_NS + i * 15 * testing::SECOND_NS).collect();
    inputs.push(("steps", ts, vec![steps]));
    let specials = vec![f64::NAN, -0.0, f64::INFINITY, f64::from_bits(0x7ff0_0000_0000_0002), f64::MIN_POSITIVE / 2.0];
    inputs.push(("extreme times", vec![i64::MIN, -1, 0, 1, i64::MAX], vec![specials.clone(), vec![1.5; 5]]));
    let scattered: Vec<i64> =
        (0..40).map(|i: i64| i64::MIN.wrapping_add(i.wrapping_mul(i64::MAX / 20)) + i * i * 7_919).collect();
    inputs.push(("scattered times", scattered, vec![(0..40).map(|i| f64::from(i) * 0.25).collect()]));
    inputs.push(("single point", vec![testing::START_NS], vec![vec![21.5]]));
    // A few timestamps spread over the whole i64 range: every delta and
    // delta-of-delta is huge, so the adaptive encoder stores them plain.
    let sparse = (0..64).map(sparse_times).find(|ts| {
        let bytes = encode(EncodingPolicy::Adaptive, ts, &[]);
        Chunk::parse(&bytes).unwrap().time_encoding() == EncodingId::PlainTime
    });
    if let Some(ts) = sparse {
        let values = (0..ts.len()).map(|i| i as f64).collect();
        inputs.push(("sparse times", ts, vec![values]));
    }
    // Arbitrary bit patterns: nothing beats storing them plain.
    let ts: Vec<i64> = (0..50).map(|i| testing::START_NS + i * testing::SECOND_NS).collect();
    inputs.push(("random bits", ts, vec![random_words(99, 50).into_iter().map(f64::from_bits).collect()]));

    let mut chunks = Vec::new();
    for (name, ts, columns) in &inputs {
        let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        for policy in [EncodingPolicy::Adaptive, EncodingPolicy::Gorilla] {
            chunks.push((format!("{name} ({policy:?})"), encode(policy, ts, &columns)));
        }
    }
    chunks
}

#[test]
fn sample_chunks_cover_every_encoding() {
    let mut time = Vec::new();
    let mut value = Vec::new();
    for (name, bytes) in sample_chunks() {
        let chunk = Chunk::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        read_all(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        time.push(chunk.time_encoding());
        value.extend((0..chunk.column_count()).map(|c| chunk.value_encoding(c).unwrap()));
    }
    for id in [EncodingId::PlainTime, EncodingId::DeltaOfDelta, EncodingId::PackedTime] {
        assert!(time.contains(&id), "no sample chunk has {id:?} timestamps: {time:?}");
    }
    for id in [
        EncodingId::PlainValue,
        EncodingId::Constant,
        EncodingId::RunLength,
        EncodingId::GorillaXor,
        EncodingId::Decimal,
    ] {
        assert!(value.contains(&id), "no sample chunk has a {id:?} column: {value:?}");
    }
}

// ---------------------------------------------------------------------------
// (a) truncation and (b) bit flips of whole chunks
// ---------------------------------------------------------------------------

#[test]
fn every_truncation_of_a_chunk_is_an_error() {
    for (name, bytes) in sample_chunks() {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            let result = Chunk::parse(cut);
            assert!(result.is_err(), "{name}: the first {len} of {} bytes parsed", bytes.len());
            assert_offset(&result, len, name);
            if len < CRC_LEN {
                assert!(matches!(result, Err(Error::Truncated { .. })), "{name}: {len} bytes: {result:?}");
            }
        }
    }
}

#[test]
fn every_truncated_body_behind_a_good_crc_is_an_error() {
    for (name, bytes) in sample_chunks() {
        let body_len = bytes.len() - CRC_LEN;
        for len in 0..body_len {
            let sealed = reseal(bytes, |body| body.truncate(len));
            let result = read_all(&sealed);
            assert!(result.is_err(), "{name}: the first {len} of {body_len} body bytes decoded");
            assert_offset(&result, sealed.len(), name);
        }
    }
}

#[test]
fn every_bit_flip_fails_the_checksum() {
    for (name, bytes) in sample_chunks() {
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            match Chunk::parse(&damaged) {
                Err(Error::Checksum { len, stored, computed }) => {
                    assert_eq!(len, bytes.len(), "{name}");
                    assert_ne!(stored, computed, "{name}");
                }
                other => panic!("{name}: bit {bit} flipped gave {other:?}"),
            }
        }
    }
}

#[test]
fn bit_flips_behind_a_good_crc_never_panic() {
    // Without the CRC, a flip in a raw value or a statistic decodes to another
    // well-formed chunk; flips in counts, lengths, ids and the time bounds are
    // mostly caught by the structure. Either way: no panic, honest offsets.
    for (name, bytes) in sample_chunks() {
        for bit in 0..(bytes.len() - CRC_LEN) * 8 {
            let sealed = reseal(bytes, |body| body[bit / 8] ^= 1 << (bit % 8));
            let result = read_all(&sealed);
            assert_offset(&result, sealed.len(), &format!("{name}, bit {bit}"));
        }
    }
}

#[test]
fn header_damage_behind_a_good_crc_is_reported() {
    let bytes = encode(EncodingPolicy::Adaptive, &[10, 20, 30], &[&[1.0, 2.0, 3.0], &[0.5, 0.25, 0.125]]);
    let at = layout(&bytes);

    for id in [0u8, 4, 16, 19, 255] {
        let sealed = reseal(&bytes, |b| b[at.time_id] = id);
        let err = Chunk::parse(&sealed).unwrap_err();
        assert_eq!(err, Error::UnknownEncoding { kind: "time", id }, "time id {id}");
    }
    for id in [0u8, 1, 3, 15, 21, 255] {
        for &column in &at.value_ids {
            let sealed = reseal(&bytes, |b| b[column] = id);
            let err = Chunk::parse(&sealed).unwrap_err();
            assert_eq!(err, Error::UnknownEncoding { kind: "value", id }, "value id {id} at {column}");
        }
    }
    for (what, edit) in [
        ("version", Box::new(|b: &mut Vec<u8>| b[0] = 2) as Box<dyn Fn(&mut Vec<u8>)>),
        ("count 0", Box::new(|b: &mut Vec<u8>| b[at.count] = 0)),
        ("time scale 19", Box::new(|b: &mut Vec<u8>| b[at.time_scale] = 19)),
        ("trailing byte", Box::new(|b: &mut Vec<u8>| b.push(0))),
        (
            "count past the limit",
            Box::new(|b: &mut Vec<u8>| {
                let mut count = Vec::new();
                let mut v = MAX_CHUNK_POINTS as u64 + 1;
                while v >= 0x80 {
                    count.push(v as u8 | 0x80);
                    v >>= 7;
                }
                count.push(v as u8);
                b.splice(at.count..at.count + 1, count);
            }),
        ),
    ] {
        let sealed = reseal(&bytes, edit);
        let result = Chunk::parse(&sealed);
        assert!(matches!(result, Err(Error::Corrupt { .. })), "{what}: {result:?}");
        assert_offset(&result, sealed.len(), what);
    }
    // A count that disagrees with the payloads parses, but does not decode.
    for count in [1u8, 2, 4, 5, 100] {
        let sealed = reseal(&bytes, |b| b[at.count] = count);
        let result = read_all(&sealed);
        assert!(result.is_err(), "count {count} for 3 points decoded");
        assert_offset(&result, sealed.len(), "count");
    }
}

// ---------------------------------------------------------------------------
// (c) decoders on damaged payloads, bypassing the chunk CRC
// ---------------------------------------------------------------------------

/// A decoder under test: payload, count, take to the decoded bit patterns.
type Decode = fn(&[u8], usize, usize) -> Result<Vec<u64>, Error>;

fn dec_i64(codec: &dyn Codec<i64>, p: &[u8], n: usize, take: usize) -> Result<Vec<u64>, Error> {
    let mut out = Vec::new();
    codec.decode(p, n, take, &mut out)?;
    Ok(out.into_iter().map(|v| v as u64).collect())
}

fn dec_f64(codec: &dyn Codec<f64>, p: &[u8], n: usize, take: usize) -> Result<Vec<u64>, Error> {
    let mut out = Vec::new();
    codec.decode(p, n, take, &mut out)?;
    Ok(out.into_iter().map(f64::to_bits).collect())
}

/// Every decoder, by name.
fn decoders() -> [(&'static str, Decode); 8] {
    [
        ("delta_of_delta", |p, n, t| dec_i64(&DeltaOfDelta, p, n, t)),
        ("packed_ints", |p, n, t| dec_i64(&PackedInts::default(), p, n, t)),
        ("plain_i64", |p, n, t| dec_i64(&Plain, p, n, t)),
        ("plain_f64", |p, n, t| dec_f64(&Plain, p, n, t)),
        ("gorilla", |p, n, t| dec_f64(&GorillaXor, p, n, t)),
        ("decimal", |p, n, t| dec_f64(&Decimal::default(), p, n, t)),
        ("run_length", |p, n, t| dec_f64(&RunLength, p, n, t)),
        ("constant", |p, n, t| dec_f64(&Constant, p, n, t)),
    ]
}

/// Decodes `payload` with `decode` as a reader would, checking what holds for
/// any input: no panic, an in-bounds error offset, `min(take, count)` items on
/// success, and a successful full decode implying the same prefix for `take`.
fn probe(name: &str, decode: Decode, payload: &[u8], count: usize, take: usize) -> Result<Vec<u64>, Error> {
    let full = decode(payload, count, count);
    assert_offset(&full, payload.len(), name);
    let part = decode(payload, count, take);
    assert_offset(&part, payload.len(), name);
    if let Ok(all) = &full {
        assert_eq!(all.len(), count, "{name}: full decode length");
        let part = part.as_ref().unwrap_or_else(|e| panic!("{name}: full decode ok, take {take} failed: {e:?}"));
        assert_eq!(part[..], all[..take.min(count)], "{name}: take {take} is not a prefix");
    }
    if let Ok(part) = &part {
        assert_eq!(part.len(), take.min(count), "{name}: decode with take {take} of {count}");
    }
    full
}

/// Valid payloads of every codec: (decoder name, payload, count).
fn sample_payloads() -> &'static [(&'static str, Vec<u8>, usize)] {
    static PAYLOADS: OnceLock<Vec<(&'static str, Vec<u8>, usize)>> = OnceLock::new();
    PAYLOADS.get_or_init(make_sample_payloads)
}

fn make_sample_payloads() -> Vec<(&'static str, Vec<u8>, usize)> {
    let mut ints: Vec<Vec<i64>> = vec![
        testing::irregular_ts(120, 5).timestamps,
        testing::gauge_1dp(100, 6).timestamps,
        vec![i64::MIN, i64::MAX, 0, -1, 1, i64::MIN, i64::MAX],
        vec![42],
        vec![],
    ];
    ints.push(testing::counter(120, 7).values.iter().map(|&v| v as i64).collect());
    let mut floats: Vec<Vec<f64>> = vec![
        testing::gauge_1dp(120, 8).values,
        testing::random_f64(50, 9).values,
        testing::counter(120, 10).values,
        TsbsCpu::new(1, 12).host(0, 120).fields[3].clone(),
        testing::constant(100).values,
        vec![f64::NAN, -0.0, 0.0, f64::INFINITY, f64::from_bits(1), f64::from_bits(0x7ff0_0000_0000_0002)],
        vec![-0.0; 9],
        vec![],
    ];
    floats.push((0..150).map(|i| f64::from(i / 30) * 0.5).collect());

    let mut out = Vec::new();
    for items in &ints {
        let mut add = |name, codec: &mut dyn Codec<i64>| {
            let mut buf = Vec::new();
            codec.encode(items, &mut buf).unwrap();
            out.push((name, buf, items.len()));
        };
        add("delta_of_delta", &mut DeltaOfDelta);
        add("packed_ints", &mut PackedInts::default());
        add("plain_i64", &mut Plain);
    }
    for items in &floats {
        let mut add = |name, codec: &mut dyn Codec<f64>| {
            let mut buf = Vec::new();
            if codec.encode(items, &mut buf).is_ok() {
                out.push((name, buf, items.len()));
            }
        };
        add("plain_f64", &mut Plain);
        add("gorilla", &mut GorillaXor);
        add("decimal", &mut Decimal::default());
        add("run_length", &mut RunLength);
        add("constant", &mut Constant);
    }
    for name in ["delta_of_delta", "packed_ints", "plain_f64", "gorilla", "decimal", "run_length", "constant"] {
        assert!(out.iter().any(|(n, p, c)| *n == name && !p.is_empty() && *c > 1), "no sample payload for {name}");
    }
    out
}

fn decoder(name: &str) -> Decode {
    decoders().into_iter().find(|(n, _)| *n == name).map(|(_, d)| d).unwrap()
}

#[test]
fn valid_payloads_decode() {
    for &(name, ref payload, count) in sample_payloads() {
        let got = probe(name, decoder(name), payload, count, count / 3);
        assert!(got.is_ok(), "{name}: {got:?}");
    }
}

#[test]
fn every_truncated_payload_is_an_error() {
    for &(name, ref payload, count) in sample_payloads() {
        for len in 0..payload.len() {
            let result = probe(name, decoder(name), &payload[..len], count, count / 2);
            assert!(result.is_err(), "{name}: {len} of {} payload bytes for {count} items decoded", payload.len());
        }
    }
}

#[test]
fn bit_flipped_payloads_never_panic() {
    for &(name, ref payload, count) in sample_payloads() {
        for bit in 0..payload.len() * 8 {
            let mut damaged = payload.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let _ = probe(name, decoder(name), &damaged, count, count / 2);
        }
    }
}

#[test]
fn wrong_counts_never_panic() {
    for &(name, ref payload, count) in sample_payloads() {
        for n in [0, 1, 2, count.saturating_sub(1), count + 1, 2 * count + 3, 10_000, MAX_CHUNK_POINTS] {
            // The take is bounded so that a count the payload cannot refute stays cheap.
            let _ = probe(name, decoder(name), payload, n, n.min(1_000) / 2);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_payloads_never_panic(
        payload in vec(any::<u8>(), 0..400),
        count in 0usize..=10_000,
        take in 0usize..=10_001,
    ) {
        for (name, decode) in decoders() {
            let _ = probe(name, decode, &payload, count, take);
        }
    }

    #[test]
    fn small_random_payloads_never_panic(
        payload in vec(any::<u8>(), 0..24),
        count in 0usize..40,
        take in 0usize..40,
    ) {
        // Short inputs and small counts: where the header checks and the
        // first few codes are most often reached.
        for (name, decode) in decoders() {
            let _ = probe(name, decode, &payload, count, take);
        }
    }

    #[test]
    fn mutated_payloads_never_panic(
        sample in any::<prop::sample::Index>(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        count_delta in -2i64..=2,
        take in 0usize..300,
    ) {
        let samples = sample_payloads();
        let (name, mut payload, count) = samples[sample.index(samples.len())].clone();
        if !payload.is_empty() {
            for (at, byte) in edits {
                let i = at.index(payload.len());
                payload[i] = byte;
            }
        }
        let count = count.saturating_add_signed(count_delta as isize);
        let _ = probe(name, decoder(name), &payload, count, take);
    }

    #[test]
    fn random_chunks_behind_a_good_crc_never_panic(body in vec(any::<u8>(), 0..300)) {
        let sealed = seal(&body);
        let result = read_all(&sealed);
        assert_offset(&result, sealed.len(), "random chunk");
    }

    #[test]
    fn mutated_chunks_behind_a_good_crc_never_panic(
        sample in any::<prop::sample::Index>(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let chunks = sample_chunks();
        let (name, bytes) = &chunks[sample.index(chunks.len())];
        let sealed = reseal(bytes, |body| {
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
        });
        let result = read_all(&sealed);
        assert_offset(&result, sealed.len(), name);
    }
}

// ---------------------------------------------------------------------------
// Targeted corruptions that must be errors
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_corrupt(result: Result<Vec<u64>, Error>, len: usize, what: &str) {
    assert!(matches!(result, Err(Error::Corrupt { .. })), "{what}: {result:?}");
    assert_offset(&result, len, what);
}

#[track_caller]
fn assert_truncated(result: Result<Vec<u64>, Error>, len: usize, what: &str) {
    assert!(matches!(result, Err(Error::Truncated { .. })), "{what}: {result:?}");
    assert_offset(&result, len, what);
}

#[test]
fn gorilla_window_reuse_before_any_window_is_corrupt() {
    let decode = decoder("gorilla");
    // The first value, then control bits 1 0: reuse the window, but none was set.
    let mut payload = 1.0f64.to_bits().to_le_bytes().to_vec();
    payload.extend_from_slice(&[0b01, 0, 0]);
    assert_corrupt(decode(&payload, 2, 2), payload.len(), "reuse first");
    // A repeat (control 0) first does not set a window either.
    payload[8] = 0b010;
    assert_corrupt(decode(&payload, 3, 3), payload.len(), "repeat, then reuse");
    // A take that stops before the bad control bits does not see them.
    assert_eq!(decode(&payload, 3, 2).unwrap(), vec![1.0f64.to_bits(); 2]);
}

#[test]
fn gorilla_window_wider_than_64_bits_is_corrupt() {
    let decode = decoder("gorilla");
    // Control 1 1, 63 leading zeros, 64 meaningful bits: 127 > 64.
    let bits: u64 = 0b11 | (63 << 2) | (63 << 8);
    let mut payload = 1.0f64.to_bits().to_le_bytes().to_vec();
    payload.extend_from_slice(&bits.to_le_bytes());
    payload.extend_from_slice(&[0; 8]);
    assert_corrupt(decode(&payload, 2, 2), payload.len(), "window of 127 bits");
}

#[test]
fn packed_ints_escape_run_too_long_is_corrupt() {
    let decode = decoder("packed_ints");
    // Transform 0 (values), base zz(0), k = 0, then 25 zero bits before a one:
    // one more than the escape, so no encoder wrote it.
    let payload = [0u8, 0, 0, 0, 0, 0, 0b10];
    assert_corrupt(decode(&payload, 1, 1), payload.len(), "unary run of 25");
    // Exactly the escape (24 zeros, a one, 64 raw bits) is valid.
    let mut escaped = vec![0u8, 0, 0, 0, 0, 0, 0b1];
    escaped.extend_from_slice(&[0; 8]);
    assert_eq!(decode(&escaped, 1, 1).unwrap(), vec![0]);
    // The same through the decimal codec, behind its exponent byte.
    let mut decimal = vec![1u8];
    decimal.extend_from_slice(&payload);
    assert_corrupt(decoder("decimal")(&decimal, 1, 1), decimal.len(), "decimal: unary run of 25");
}

#[test]
fn packed_ints_bad_headers_are_errors() {
    let decode = decoder("packed_ints");
    assert_corrupt(decode(&[3, 0, 0xff], 2, 2), 3, "unknown transform");
    assert_corrupt(decode(&[0, 0, 64, 0xff], 1, 1), 4, "rice parameter 64");
    assert_corrupt(decode(&[0, 0, 0xfe, 0xff], 1, 1), 4, "rice parameter 254");
    assert_truncated(decode(&[], 1, 1), 0, "empty");
    assert_truncated(decode(&[2, 0], 3, 3), 2, "heads cut short");
    // Residuals the payload cannot hold: 100 of at least 1 bit in 8 bits.
    assert_truncated(decode(&[0, 0, 0, 0xff], 100, 1), 4, "too few bits for the count");
}

#[test]
fn run_length_runs_must_sum_to_count() {
    let decode = decoder("run_length");
    let mut payload = Vec::new();
    RunLength.encode(&[1.0, 1.0, 2.0], &mut payload).unwrap();
    assert_eq!(decode(&payload, 3, 3).unwrap().len(), 3);
    assert_corrupt(decode(&payload, 4, 4), payload.len(), "runs cover 3 of 4");
    assert_corrupt(decode(&payload, 4, 1), payload.len(), "runs cover 3 of 4, short take");
    assert!(decode(&payload, 2, 2).is_err(), "runs cover more than 2");
    assert_offset(&decode(&payload, 2, 2), payload.len(), "runs cover more than 2");
    // An empty run.
    let mut empty = vec![2u8];
    empty.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
    empty.push(0);
    empty.extend_from_slice(&2.0f64.to_bits().to_le_bytes());
    empty.push(3);
    assert_corrupt(decode(&empty, 3, 3), empty.len(), "empty run");
    // More runs than values.
    assert_corrupt(decode(&[4, 0, 0], 3, 3), 3, "4 runs for 3 values");
}

#[test]
fn decimal_exponent_above_18_is_corrupt() {
    let decode = decoder("decimal");
    let mut payload = Vec::new();
    Decimal::default().encode(&[1.5, 2.25, -3.0], &mut payload).unwrap();
    assert!(payload[0] <= 18);
    assert_eq!(decode(&payload, 3, 3).unwrap().len(), 3);
    for e in [19u8, 20, 100, 255] {
        payload[0] = e;
        let result = decode(&payload, 3, 3);
        assert!(matches!(result, Err(Error::Corrupt { offset: 0, .. })), "exponent {e}: {result:?}");
    }
    assert_truncated(decode(&[], 3, 3), 0, "no exponent");
}

#[test]
fn plain_payload_of_the_wrong_length_is_corrupt() {
    for name in ["plain_i64", "plain_f64"] {
        let decode = decoder(name);
        let payload = [0x11u8; 24];
        assert_eq!(decode(&payload, 3, 3).unwrap().len(), 3);
        assert_corrupt(decode(&payload[..23], 3, 3), 23, name);
        assert_corrupt(decode(&payload[..16], 3, 3), 16, name);
        assert_corrupt(decode(&payload, 2, 2), 24, name);
        assert_corrupt(decode(&payload, 4, 1), 24, name);
        assert_corrupt(decode(&payload[..15], 2, 0), 15, name);
        assert_corrupt(decode(&[0; 8], 0, 0), 8, name);
    }
}

#[test]
fn constant_payload_of_the_wrong_length_is_an_error() {
    let decode = decoder("constant");
    assert_eq!(decode(&[0; 8], 5, 5).unwrap(), vec![0; 5]);
    assert_truncated(decode(&[0; 7], 5, 5), 7, "7 bytes");
    assert_truncated(decode(&[], 5, 5), 0, "no bytes");
    assert_corrupt(decode(&[0; 9], 5, 5), 9, "9 bytes");
}

#[test]
fn short_bit_streams_are_truncated() {
    for name in ["delta_of_delta", "gorilla"] {
        let decode = decoder(name);
        // The first item alone takes 64 bits; each further one at least 1.
        assert_truncated(decode(&[0; 7], 1, 1), 7, name);
        assert_truncated(decode(&[0; 8], 9, 1), 8, name);
        assert_eq!(decode(&[0; 8], 1, 1).unwrap(), vec![0], "{name}");
        assert_eq!(decode(&[0; 9], 9, 9).unwrap(), vec![0; 9], "{name}: zeros are repeats");
    }
}

// ---------------------------------------------------------------------------
// Regressions: bugs these tests once found
// ---------------------------------------------------------------------------

#[test]
fn rice_truncation_offset_is_inside_the_payload() {
    // Transform 0, base 0, k = 0; then 24 zero bits and a one: an escape whose
    // 64 raw bits run past the end, so the next code starts beyond the data.
    let payload = [0u8, 0, 0, 0, 0, 0, 0x01];
    let result = decoder("packed_ints")(&payload, 4, 4);
    assert!(matches!(result, Err(Error::Truncated { .. })), "{result:?}");
    // Once reported Truncated { what: "rice code", offset: 14 } for 7 bytes.
    let err = result.unwrap_err();
    assert!(offset_within(&err, payload.len()), "{err:?} is past the {} payload bytes", payload.len());
}

#[test]
fn huge_counts_are_errors_not_panics() {
    // A count this large never comes from a chunk (MAX_CHUNK_POINTS bounds it),
    // but the decoders are public and document "never a panic".
    // Once, in a debug build: delta_of_delta and gorilla overflowed adding to the
    // count ("attempt to add with overflow"), packed_ints with k = 63 overflows
    // multiplying it, and plain, run_length and packed_ints with k = 0xFF
    // reserve `take` before validating the count ("capacity overflow").
    let payload = [0u8; 16];
    let all_zero = [0u8, 0, 0xff];
    let k63 = [0u8, 0, 63, 0];
    let mut failed = Vec::new();
    for (name, decode) in decoders() {
        if name == "constant" {
            continue; // One value stands for any count: only `take` allocates.
        }
        for p in [&payload[..], &all_zero, &k63] {
            let result = std::panic::catch_unwind(|| decode(p, usize::MAX, usize::MAX));
            if !matches!(result, Ok(Err(_))) {
                failed.push(format!("{name} on {p:?}"));
            }
        }
    }
    assert!(failed.is_empty(), "count usize::MAX panicked or decoded: {failed:#?}");
}
