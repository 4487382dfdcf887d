//! The committed seed corpus of the ingest fuzz targets (`fuzz/corpus/`)
//! holds what its file names say: each valid seed parses to rows, each
//! invalid one is refused. Seeds that silently stopped parsing would leave
//! the fuzzer starting from nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::path::Path;

use chronicle::ingest::{Precision, json, line_protocol, otlp, remote_read, remote_write, snappy};

const NOW: i64 = 1_767_225_600_000_000_000;

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target).join(name)).unwrap()
}

/// A remote-write seed as its target reads it: mode byte, then protobuf
/// (compressed here) or a raw snappy body.
fn remote_body(name: &str) -> Vec<u8> {
    let data = seed("ingest_remote_write", name);
    let (mode, rest) = data.split_first().unwrap();
    if mode % 2 == 0 { snappy::compress(rest).unwrap() } else { rest.to_vec() }
}

#[test]
fn seeds_parse_or_fail_as_named() {
    let lp = |name| line_protocol::parse(&seed("ingest_line_protocol", name), Precision::Milliseconds, NOW);
    assert_eq!(lp("tsbs").unwrap()[0].fields.len(), 10);
    assert_eq!(lp("types_and_escapes").unwrap().len(), 2);
    for bad in ["string_field", "bad_utf8", "bad_timestamp"] {
        assert!(lp(bad).is_err(), "{bad}");
    }

    assert_eq!(remote_write::parse(&remote_body("write_request"), 1 << 16).unwrap().len(), 2);
    for bad in ["stale_and_dup", "snappy_bomb"] {
        assert!(remote_write::parse(&remote_body(bad), 1 << 16).is_err(), "{bad}");
    }
    // A native histogram sample: stored as the fields of a histogram row.
    let histogram = remote_write::parse(&remote_body("histogram_series"), 1 << 16).unwrap();
    assert!(histogram.iter().any(|r| r.fields.iter().any(|(n, _)| n == "__hist_count")), "{histogram:?}");
    let stale = remote_write::parse(&remote_body("stale_and_dup"), 1 << 16);
    assert!(stale.unwrap_err().to_string().contains("duplicate label name"));
    let read = remote_read::decode_request(&remote_body("read_request"), 1 << 16).unwrap();
    assert_eq!(read.queries[0].matchers[0].name, "job");
    assert_eq!(snappy::decompress(&remote_body("snappy_literal"), 100).unwrap(), b"hello snappy");

    let rows = otlp::parse_protobuf(&seed("ingest_otlp_protobuf", "gauge_sum_histogram"), NOW).unwrap();
    assert_eq!(rows.len(), 1 + 1 + 3 + 2);
    assert!(otlp::parse_protobuf(&seed("ingest_otlp_protobuf", "delta_sum"), NOW).is_err());
    assert!(otlp::parse_protobuf(&seed("ingest_otlp_protobuf", "truncated"), NOW).is_err());

    assert_eq!(otlp::parse_json(&seed("ingest_otlp_json", "example"), NOW).unwrap().len(), 2 + 4);
    assert_eq!(otlp::parse_json(&seed("ingest_otlp_json", "exponential_summary"), NOW).unwrap().len(), 6 + 3);
    assert!(otlp::parse_json(&seed("ingest_otlp_json", "not_json"), NOW).is_err());

    assert_eq!(json::parse(&seed("ingest_json", "points"), NOW).unwrap().len(), 2);
    for bad in ["unknown_key", "bad_value"] {
        assert!(json::parse(&seed("ingest_json", bad), NOW).is_err(), "{bad}");
    }
}
