//! Codec report: bytes per point and encode / decode speed of Chronicle's
//! adaptive chunks, of its Gorilla-only chunks, and of the `tsz` crate (the
//! reference Gorilla implementation), on 1,000,000 points of each dataset.
//!
//! Run: `cargo bench --bench codecs_report` (release, one thread). Prints TSV:
//! `dataset codec points bytes_per_point encode_mpts decode_mpts`.
//! Every dataset is cut into one chunk per series and 1-hour partition, as the
//! storage engine stores it; Chronicle's bytes include chunk headers, stats and
//! checksums. `tsz` works in integer seconds-or-coarser units with a 14-bit first
//! delta, so it is fed millisecond timestamps. Decoding is checked against the
//! input before any figure is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chronicle::encoding::{Chunk, ChunkEncoder, EncodingPolicy};
use chronicle::testing::{self, HOUR_NS, Series, TsbsCpu};
use tsz::stream::{BufferedReader, BufferedWriter};
use tsz::{DataPoint, Decode, Encode, StdDecoder, StdEncoder};

const POINTS: usize = 1_000_000;
const SEED: u64 = 42;
/// Each measurement is repeated this many times and the fastest run is
/// reported: on a shared machine the slow runs measure the neighbours.
const RUNS: usize = 15;

/// One chunk's worth of points.
struct Piece<'a> {
    timestamps: &'a [i64],
    values: &'a [f64],
}

fn datasets() -> Vec<(&'static str, Vec<Series>)> {
    let hosts = 100;
    let tsbs = TsbsCpu::new(hosts, SEED)
        .generate(POINTS / hosts)
        .into_iter()
        .map(|h| Series { timestamps: h.timestamps, values: h.fields[0].clone() })
        .collect();
    vec![
        ("tsbs_cpu", tsbs),
        ("counter", vec![testing::counter(POINTS, SEED)]),
        ("gauge_1dp", vec![testing::gauge_1dp(POINTS, SEED)]),
        ("random_f64", vec![testing::random_f64(POINTS, SEED)]),
        ("constant", vec![testing::constant(POINTS)]),
        ("irregular_ts", vec![testing::irregular_ts(POINTS, SEED)]),
    ]
}

fn pieces(series: &[Series]) -> Vec<Piece<'_>> {
    series
        .iter()
        .flat_map(|s| {
            testing::partition_ranges(&s.timestamps, HOUR_NS)
                .into_iter()
                .map(|r| Piece { timestamps: &s.timestamps[r.clone()], values: &s.values[r] })
        })
        .collect()
}

fn fastest<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let v = black_box(f());
        best = best.min(start.elapsed());
        out = Some(v);
    }
    (out.unwrap(), best)
}

/// Encoded chunks, their total size, and the encode / decode times.
fn measure_chronicle(pieces: &[Piece<'_>], policy: EncodingPolicy) -> (usize, Duration, Duration) {
    let mut encoder = ChunkEncoder::new(policy);
    let (chunks, encode) = fastest(|| {
        pieces
            .iter()
            .map(|p| {
                let mut out = Vec::new();
                encoder.encode(p.timestamps, &[p.values], &mut out).unwrap();
                out
            })
            .collect::<Vec<_>>()
    });
    let (decoded, decode) =
        fastest(|| chunks.iter().map(|c| Chunk::parse(c).unwrap().decode().unwrap()).collect::<Vec<_>>());
    for (piece, d) in pieces.iter().zip(&decoded) {
        assert_eq!(d.timestamps.values().as_ref(), piece.timestamps);
        assert!(d.values[0].values().iter().zip(piece.values).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    (chunks.iter().map(Vec::len).sum(), encode, decode)
}

fn measure_tsz(pieces: &[Piece<'_>]) -> (usize, Duration, Duration) {
    let millis = |t: i64| (t / 1_000_000) as u64;
    let (chunks, encode) = fastest(|| {
        pieces
            .iter()
            .map(|p| {
                let mut e = StdEncoder::new(millis(p.timestamps[0]), BufferedWriter::new());
                for (&t, &v) in p.timestamps.iter().zip(p.values) {
                    e.encode(DataPoint::new(millis(t), v));
                }
                e.close()
            })
            .collect::<Vec<_>>()
    });
    let (decoded, decode) = fastest(|| {
        chunks
            .iter()
            .map(|c| {
                let mut d = StdDecoder::new(BufferedReader::new(c.clone()));
                let mut out = Vec::new();
                while let Ok(p) = d.next() {
                    out.push(p);
                }
                out
            })
            .collect::<Vec<_>>()
    });
    for (piece, d) in pieces.iter().zip(&decoded) {
        assert_eq!(d.len(), piece.values.len(), "tsz decoded a different count");
    }
    (chunks.iter().map(|c| c.len()).sum(), encode, decode)
}

fn main() {
    println!("dataset\tcodec\tpoints\tbytes_per_point\tencode_mpts\tdecode_mpts");
    for (name, series) in datasets() {
        let pieces = pieces(&series);
        let points: usize = pieces.iter().map(|p| p.values.len()).sum();
        let rows = [
            ("chronicle", measure_chronicle(&pieces, EncodingPolicy::Adaptive)),
            ("gorilla", measure_chronicle(&pieces, EncodingPolicy::Gorilla)),
            ("tsz", measure_tsz(&pieces)),
        ];
        for (codec, (bytes, encode, decode)) in rows {
            let mpts = |d: Duration| points as f64 / d.as_secs_f64() / 1e6;
            println!(
                "{name}\t{codec}\t{points}\t{:.4}\t{:.1}\t{:.1}",
                bytes as f64 / points as f64,
                mpts(encode),
                mpts(decode)
            );
        }
    }
}
