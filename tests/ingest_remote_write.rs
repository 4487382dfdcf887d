//! Prometheus remote write and read bodies: requests built with prost and
//! compressed with snap, decoded back to rows; the snappy bomb, damaged
//! snappy, invalid protobuf and UTF-8, and every refused series.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use chronicle::histogram::{CounterResetHint, FloatHistogram, Span};
use chronicle::ingest::prompb::{
    BucketSpan, Exemplar, Histogram, Label, LabelMatcher, MatcherType, MetricMetadata, Query, QueryResult, ReadRequest,
    ReadResponse, ResponseType, Sample, TimeSeries, WriteRequest,
};
use chronicle::ingest::remote_write::{STALE_NAN_BITS, parse};
use chronicle::ingest::{Error, remote_read, snappy};
use chronicle::{MatchOp, Row};
use prost::Message;

use crate::common;

const LIMIT: usize = 1 << 20;

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect()
}

fn series(pairs: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels(pairs),
        samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
        ..Default::default()
    }
}

fn body(request: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap()
}

fn parse_series(timeseries: Vec<TimeSeries>) -> Result<Vec<Row>, Error> {
    parse(&body(&WriteRequest { timeseries, metadata: vec![] }), LIMIT)
}

#[track_caller]
fn assert_item(result: Result<Vec<Row>, Error>, at: &str, needle: &str) {
    match result {
        Err(Error::Item { at: a, message }) => {
            assert_eq!(a, at, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected an error at {at}, got {other:?}"),
    }
}

#[test]
fn samples_become_rows_of_field_value() {
    let request = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "up"), ("job", "node"), ("instance", "h:9100")],
                &[(1.0, 1_700_000_000_000), (0.0, 1_700_000_015_000)],
            ),
            TimeSeries {
                exemplars: vec![Exemplar { labels: labels(&[("trace_id", "abc")]), value: 0.5, timestamp: 1 }],
                ..series(&[("job", "api"), ("__name__", "http_requests_total"), ("empty", "")], &[(42.0, -5)])
            },
            series(&[("__name__", "no_samples")], &[]),
        ],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "h".into(),
            unit: String::new(),
        }],
    };
    let rows = parse(&body(&request), LIMIT).unwrap();
    let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let value = |v: f64| vec![("value".to_string(), v)];
    assert_eq!(
        rows,
        [
            Row {
                measurement: "up".into(),
                tags: tags(&[("job", "node"), ("instance", "h:9100")]),
                fields: value(1.0),
                timestamp: 1_700_000_000_000_000_000
            },
            Row {
                measurement: "up".into(),
                tags: tags(&[("job", "node"), ("instance", "h:9100")]),
                fields: value(0.0),
                timestamp: 1_700_000_015_000_000_000
            },
            // The empty label is no label, as in Prometheus.
            Row {
                measurement: "http_requests_total".into(),
                tags: tags(&[("job", "api")]),
                fields: value(42.0),
                timestamp: -5_000_000
            },
        ]
    );
}

#[test]
fn staleness_markers_keep_their_bits() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let other_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    // (-0.0 cannot travel: proto3 encoders, prost's and Prometheus's, skip a
    // double equal to 0.0, so it arrives as +0.0.)
    let rows =
        parse_series(vec![series(&[("__name__", "up")], &[(stale, 1), (other_nan, 2), (f64::INFINITY, 3)])]).unwrap();
    let bits: Vec<u64> = rows.iter().map(|r| r.fields[0].1.to_bits()).collect();
    assert_eq!(bits, [STALE_NAN_BITS, 0x7ff8_0000_0000_0001, f64::INFINITY.to_bits()]);
}

#[test]
fn refused_series_are_named() {
    assert_item(parse_series(vec![series(&[("job", "a")], &[(1.0, 1)])]), "timeseries[0].labels", "no __name__");
    assert_item(
        parse_series(vec![series(&[("__name__", "up")], &[]), series(&[("__name__", "")], &[(1.0, 1)])]),
        "timeseries[1].labels[0]",
        "invalid measurement name \"\": empty",
    );
    assert_item(
        parse_series(vec![series(&[("__name__", "up"), ("job", "a"), ("job", "b")], &[(1.0, 1)])]),
        "timeseries[0].labels[2]",
        "duplicate label name \"job\"",
    );
    assert_item(
        parse_series(vec![series(&[("__name__", "up"), ("__name__", "down")], &[(1.0, 1)])]),
        "timeseries[0].labels[1]",
        "duplicate label name \"__name__\"",
    );
    assert_item(
        parse_series(vec![series(&[("__name__", "up"), ("__tenant__", "evil")], &[(1.0, 1)])]),
        "timeseries[0].labels[1]",
        "reserved",
    );
    assert_item(
        parse_series(vec![series(&[("__name__", "up"), ("a-b", "x")], &[(1.0, 1)])]),
        "timeseries[0].labels[1]",
        "invalid tag key",
    );
    assert_item(
        parse_series(vec![series(&[("__name__", "up")], &[(1.0, 1), (1.0, i64::MAX / 1000)])]),
        "timeseries[0].samples[1].timestamp",
        "overflows",
    );
    assert_item(
        parse_series(vec![TimeSeries {
            histograms: vec![Histogram {
                count_int: Some(3),
                positive_spans: vec![BucketSpan { offset: 0, length: 3 }],
                positive_deltas: vec![1, 1],
                timestamp: 1,
                ..Histogram::default()
            }],
            ..series(&[("__name__", "h")], &[])
        }]),
        "timeseries[0].histograms[0].positive_spans",
        "spans hold 3 buckets but 2 counts",
    );
    assert_item(
        parse_series(vec![TimeSeries {
            histograms: vec![Histogram { schema: 9, timestamp: 1, ..Histogram::default() }],
            ..series(&[("__name__", "h")], &[])
        }]),
        "timeseries[0].histograms[0].schema",
        "schema 9",
    );
}

/// An integer histogram (bucket deltas) and a float one, sent beside a
/// float sample of the same series, read back by PromQL with absolute
/// counts built by hand.
#[test]
fn native_histograms_are_stored_and_read_back_by_promql() {
    let integer = Histogram {
        count_int: Some(9),
        sum: 21.5,
        schema: 1,
        zero_threshold: 0.001,
        zero_count_int: Some(1),
        positive_spans: vec![BucketSpan { offset: -1, length: 2 }, BucketSpan { offset: 2, length: 1 }],
        positive_deltas: vec![2, 1, -3],
        negative_spans: vec![BucketSpan { offset: 0, length: 1 }],
        negative_deltas: vec![3],
        reset_hint: 2,
        timestamp: 60_000,
        ..Histogram::default()
    };
    let float = Histogram {
        count_float: Some(2.5),
        sum: 4.0,
        schema: -53,
        positive_spans: vec![BucketSpan { offset: 0, length: 2 }],
        positive_counts: vec![0.5, 2.0],
        custom_values: vec![10.0],
        timestamp: 120_000,
        ..Histogram::default()
    };
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            histograms: vec![integer, float],
            ..series(&[("__name__", "lat"), ("job", "a")], &[(7.0, 0)])
        }],
        metadata: vec![],
    };
    let dir = common::TempDir::new("remote-write-histograms");
    let db = chronicle::Db::open(dir.path("db"), chronicle::Config::default()).unwrap();
    db.write_rows(&parse(&body(&request), LIMIT).unwrap()).unwrap();
    let options = chronicle::promql::PromOptions::default();
    let at = |t: i64| match db.promql_instant("lat", t, &options).unwrap().value {
        chronicle::promql::PromValue::Vector(samples) => {
            assert_eq!(samples.len(), 1, "{samples:?}");
            samples.into_iter().next().unwrap()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!((at(30_000).v, at(30_000).h), (7.0, None), "the float sample");
    let h = at(60_000).h.expect("a histogram at 60 s");
    let want = FloatHistogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 1.0,
        count: 9.0,
        sum: 21.5,
        positive_spans: vec![Span { offset: -1, length: 2 }, Span { offset: 2, length: 1 }],
        positive_buckets: vec![2.0, 3.0, 0.0],
        negative_spans: vec![Span { offset: 0, length: 1 }],
        negative_buckets: vec![3.0],
        custom_values: vec![],
    };
    assert_eq!(h, want);
    let h = at(150_000).h.expect("a histogram at 120 s");
    assert_eq!(
        (h.schema, h.count, h.positive_buckets.clone(), h.custom_values.clone()),
        (-53, 2.5, vec![0.5, 2.0], vec![10.0])
    );
}

#[test]
fn a_snappy_bomb_is_refused_before_allocating() {
    // A block header claiming 4,000,000,000 bytes (varint), then 45 bytes of junk:
    // refused from the header alone.
    let mut bomb = Vec::new();
    let mut n: u64 = 4_000_000_000;
    while n >= 0x80 {
        bomb.push((n as u8) | 0x80);
        n >>= 7;
    }
    bomb.push(n as u8);
    bomb.resize(50, 0xAB);
    assert_eq!(parse(&bomb, 10 << 20), Err(Error::TooLarge { len: 4_000_000_000, limit: 10 << 20 }));
    assert!(parse(&bomb, 10 << 20).unwrap_err().to_string().contains("4000000000 bytes is over the limit of 10485760"));
    // The limit is exact: a body of exactly the limit passes.
    let ok = body(&WriteRequest { timeseries: vec![series(&[("__name__", "up")], &[(1.0, 1)])], metadata: vec![] });
    let len = snap::raw::decompress_len(&ok).unwrap();
    assert_eq!(parse(&ok, len).unwrap().len(), 1);
    assert!(matches!(parse(&ok, len - 1), Err(Error::TooLarge { .. })));
}

#[test]
fn damaged_bodies_are_refused() {
    // Not snappy: a header claiming 5 bytes, then a copy referring before the start.
    assert!(matches!(parse(&[5, 0b0000_0010, 0xff, 0xff], LIMIT), Err(Error::Snappy(_))));
    assert!(matches!(parse(&[], LIMIT), Err(Error::Snappy(_))));
    // Truncated: the header claims more than the block holds.
    let good = body(&WriteRequest { timeseries: vec![series(&[("__name__", "up")], &[(1.0, 1)])], metadata: vec![] });
    assert!(matches!(parse(&good[..good.len() - 3], LIMIT), Err(Error::Snappy(_))));
    // Snappy fine, protobuf not: field 1 (length-delimited) claiming 100 bytes.
    let junk = snap::raw::Encoder::new().compress_vec(&[0x0a, 100, 1, 2]).unwrap();
    let err = parse(&junk, LIMIT).unwrap_err();
    assert!(matches!(&err, Error::Syntax { format: "protobuf", .. }), "{err:?}");
    // Invalid UTF-8 in a label value: a Label {name: "a", value: 0xff}.
    let label = [0x0a, 1, b'a', 0x12, 1, 0xff];
    let series = [&[0x0a, label.len() as u8][..], &label].concat();
    let request = [&[0x0a, series.len() as u8][..], &series].concat();
    let err = parse(&snap::raw::Encoder::new().compress_vec(&request).unwrap(), LIMIT).unwrap_err();
    assert!(matches!(&err, Error::Syntax { format: "protobuf", message } if message.contains("UTF-8")), "{err:?}");
}

#[test]
fn remote_read_round_trip() {
    let request = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 1_000,
            end_timestamp_ms: 2_000,
            matchers: vec![
                LabelMatcher { r#type: MatcherType::Eq as i32, name: "__name__".into(), value: "up".into() },
                LabelMatcher { r#type: MatcherType::Re as i32, name: "job".into(), value: "no.*".into() },
                LabelMatcher { r#type: MatcherType::Nre as i32, name: "env".into(), value: "dev".into() },
                LabelMatcher { r#type: MatcherType::Neq as i32, name: "dc".into(), value: "x".into() },
            ],
            hints: None,
        }],
        accepted_response_types: vec![ResponseType::StreamedXorChunks as i32, ResponseType::Samples as i32],
    };
    let compressed = snappy::compress(&request.encode_to_vec()).unwrap();
    let decoded = remote_read::decode_request(&compressed, LIMIT).unwrap();
    assert_eq!(decoded, request);
    assert!(remote_read::accepts_samples(&decoded));
    assert!(remote_read::accepts_samples(&ReadRequest::default()));
    assert!(!remote_read::accepts_samples(&ReadRequest {
        accepted_response_types: vec![ResponseType::StreamedXorChunks as i32],
        ..Default::default()
    }));

    let matchers: Vec<_> = decoded.queries[0]
        .matchers
        .iter()
        .enumerate()
        .map(|(j, m)| remote_read::tag_matcher(0, j, m).unwrap())
        .collect();
    assert_eq!(
        matchers.iter().map(|m| m.op).collect::<Vec<_>>(),
        [MatchOp::Eq, MatchOp::Regex, MatchOp::NotRegex, MatchOp::NotEq]
    );
    assert!(matchers[1].matches(Some("node")) && !matchers[1].matches(Some("xnode")));
    let bad_regex = LabelMatcher { r#type: MatcherType::Re as i32, name: "job".into(), value: "(".into() };
    assert!(
        matches!(remote_read::tag_matcher(2, 3, &bad_regex), Err(Error::Item { at, .. }) if at == "queries[2].matchers[3]")
    );
    let bad_type = LabelMatcher { r#type: 9, name: "job".into(), value: "a".into() };
    assert!(remote_read::tag_matcher(0, 0, &bad_type).unwrap_err().to_string().contains("unknown matcher type 9"));

    let tags = vec![("job".to_string(), "node".to_string()), ("Zone".to_string(), "a".to_string())];
    let labels = remote_read::series_labels("up", &tags);
    assert_eq!(labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Zone", "__name__", "job"]);
    let response = ReadResponse {
        results: vec![QueryResult {
            timeseries: vec![TimeSeries {
                labels,
                samples: vec![Sample { value: f64::from_bits(STALE_NAN_BITS), timestamp: 1_500 }],
                ..Default::default()
            }],
        }],
    };
    let encoded = remote_read::encode_response(&response).unwrap();
    let back = ReadResponse::decode(snap::raw::Decoder::new().decompress_vec(&encoded).unwrap().as_slice()).unwrap();
    assert_eq!(back.results[0].timeseries[0].labels, response.results[0].timeseries[0].labels);
    assert_eq!(back.results[0].timeseries[0].samples[0].value.to_bits(), STALE_NAN_BITS);
}

/// The rows prost's decoding of `request` gives, built here without the
/// in-place reader: the oracle for it.
fn rows_via_prost(request: &WriteRequest) -> Vec<Row> {
    let mut out = Vec::new();
    for series in &request.timeseries {
        let name = series.labels.iter().find(|l| l.name == "__name__").map(|l| l.value.clone()).unwrap();
        let tags: Vec<(String, String)> = series
            .labels
            .iter()
            .filter(|l| l.name != "__name__" && !l.value.is_empty())
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        for s in &series.samples {
            out.push(Row {
                measurement: name.clone(),
                tags: tags.clone(),
                fields: vec![("value".into(), s.value)],
                timestamp: s.timestamp * 1_000_000,
            });
        }
    }
    out
}

proptest::proptest! {
    /// The in-place protobuf reader reads what prost writes, field for
    /// field (extra exemplars and metadata skipped), and a truncated body
    /// is an error, never a panic or a partial answer.
    #[test]
    fn the_in_place_reader_agrees_with_prost(
        shape in proptest::collection::vec(
            (0usize..4, proptest::collection::vec((proptest::num::f64::ANY, -1_000_000_000_000i64..1_000_000_000_000), 0..4), proptest::bool::ANY),
            1..6,
        ),
        cut in 1usize..64,
    ) {
        let timeseries: Vec<TimeSeries> = shape
            .iter()
            .enumerate()
            .map(|(i, (tags, samples, exemplar))| {
                let mut labels = vec![Label { name: "__name__".into(), value: format!("m{}", i % 3) }];
                labels.extend((0..*tags).map(|t| Label { name: format!("t{t}"), value: if t == 1 { String::new() } else { format!("v{i}é{t}") } }));
                TimeSeries {
                    labels,
                    samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
                    exemplars: if *exemplar { vec![Default::default()] } else { vec![] },
                    ..Default::default()
                }
            })
            .collect();
        let request = WriteRequest { timeseries, metadata: vec![Default::default()] };
        let encoded = request.encode_to_vec();
        let got = parse(&snap::raw::Encoder::new().compress_vec(&encoded).unwrap(), 1 << 20).unwrap();
        // What prost reads back (it leaves out fields equal to their
        // default, -0.0 among them).
        let expected = rows_via_prost(&<WriteRequest as Message>::decode(encoded.as_slice()).unwrap());
        proptest::prop_assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            proptest::prop_assert_eq!((&g.measurement, &g.tags, g.timestamp), (&e.measurement, &e.tags, e.timestamp));
            proptest::prop_assert_eq!(g.fields[0].1.to_bits(), e.fields[0].1.to_bits());
        }
        // Cut inside the message: prost refuses it, and so must the reader.
        let short = &encoded[..encoded.len().saturating_sub(cut)];
        if <WriteRequest as Message>::decode(short).is_err() {
            let body = snap::raw::Encoder::new().compress_vec(short).unwrap();
            proptest::prop_assert!(parse(&body, 1 << 20).is_err());
        }
    }
}
