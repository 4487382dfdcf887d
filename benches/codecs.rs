//! Criterion benches of the codec hot loops: whole-chunk encode and decode
//! (adaptive and Gorilla) on one TSBS cpu field, and the bit-level decoders.
//!
//! Run: `cargo bench --bench codecs`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;

use chronicle::encoding::{Chunk, ChunkEncoder, Codec, EncodingPolicy, GorillaXor, PackedInts};
use chronicle::testing::TsbsCpu;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// One hour of one TSBS host field: 360 points, the size of a stored chunk.
fn tsbs_hour() -> (Vec<i64>, Vec<f64>) {
    let host = TsbsCpu::new(1, 42).host(0, 360);
    (host.timestamps, host.fields[0].clone())
}

fn chunks(c: &mut Criterion) {
    let (times, values) = tsbs_hour();
    let mut group = c.benchmark_group("chunk");
    group.throughput(Throughput::Elements(times.len() as u64));
    for (name, policy) in [("adaptive", EncodingPolicy::Adaptive), ("gorilla", EncodingPolicy::Gorilla)] {
        let mut encoder = ChunkEncoder::new(policy);
        let mut out = Vec::new();
        encoder.encode(&times, &[&values], &mut out).unwrap();
        group.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| {
                out.clear();
                encoder.encode(black_box(&times), &[black_box(&values)], &mut out).unwrap();
            })
        });
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| Chunk::parse(black_box(&out)).unwrap().decode().unwrap())
        });
    }
    group.finish();
}

fn decoders(c: &mut Criterion) {
    let (_, values) = tsbs_hour();
    let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    let mut group = c.benchmark_group("decoder");
    group.throughput(Throughput::Elements(values.len() as u64));
    let mut packed = Vec::new();
    PackedInts::default().encode(&ints, &mut packed).unwrap();
    group.bench_function("packed_ints_rice", |b| {
        let mut out = Vec::with_capacity(ints.len());
        b.iter(|| {
            out.clear();
            PackedInts::default().decode(black_box(&packed), ints.len(), ints.len(), &mut out).unwrap();
        })
    });
    let mut gorilla = Vec::new();
    GorillaXor.encode(&values, &mut gorilla).unwrap();
    group.bench_function("gorilla_xor", |b| {
        let mut out = Vec::with_capacity(values.len());
        b.iter(|| {
            out.clear();
            GorillaXor.decode(black_box(&gorilla), values.len(), values.len(), &mut out).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, chunks, decoders);
criterion_main!(benches);
