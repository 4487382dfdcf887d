//! OTLP metrics: requests built with the opentelemetry-proto types, sent as
//! protobuf and as OTLP/JSON, translated to the rows Prometheus's OTLP
//! translation gives; and every refusal with its path.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::collections::BTreeMap;

use chronicle::Row;
use chronicle::ingest::remote_write::STALE_NAN_BITS;
use chronicle::ingest::{Error, otlp};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, metric::Data,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

const NOW: i64 = 1_767_225_600_000_000_000;
const T: u64 = 1_767_225_610_000_000_000;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn number(value: number_data_point::Value, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint { attributes, time_unix_nano: T, value: Some(value), ..Default::default() }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric { name: name.into(), unit: unit.into(), data: Some(data), ..Default::default() }
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
}

/// Rows as `name{k=v,...} value @t`, tags sorted, for readable comparisons.
fn render(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let tags: BTreeMap<_, _> = r.tags.iter().cloned().collect();
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            assert_eq!(r.fields.len(), 1);
            assert_eq!(r.fields[0].0, "value");
            format!("{}{{{}}} {} @{}", r.measurement, tags.join(","), r.fields[0].1, r.timestamp)
        })
        .collect()
}

fn every_kind() -> ExportMetricsServiceRequest {
    use number_data_point::Value::{AsDouble, AsInt};
    request(
        vec![
            kv("service.name", s("api")),
            kv("service.namespace", s("shop")),
            kv("service.instance.id", s("host-1:8080")),
            kv("host.name", s("h1")),
            kv("cpu.count", Value::IntValue(8)),
            kv("debug", Value::BoolValue(false)),
            kv("tags", Value::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(s("a")) }] })),
            kv("empty", s("")),
        ],
        vec![
            metric(
                "system.memory.usage",
                "By",
                Data::Gauge(Gauge {
                    data_points: vec![number(AsInt(5), vec![kv("state", s("used")), kv("host.name", s("h2"))])],
                }),
            ),
            metric(
                "http.requests",
                "{request}",
                Data::Sum(Sum {
                    data_points: vec![number(AsDouble(7.0), vec![kv("http.method", s("GET"))])],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }),
            ),
            metric(
                "queue.size",
                "",
                Data::Sum(Sum {
                    data_points: vec![number(AsInt(-3), vec![])],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: false,
                }),
            ),
            metric(
                "http.server.duration",
                "ms",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: T,
                        count: 6,
                        sum: Some(70.0),
                        bucket_counts: vec![1, 2, 3],
                        explicit_bounds: vec![5.0, 10.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
            metric(
                "latency",
                "s",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: T,
                        count: 3,
                        sum: Some(4.5),
                        scale: 0,
                        zero_count: 1,
                        positive: Some(Buckets { offset: 0, bucket_counts: vec![1, 1] }),
                        ..Default::default()
                    }],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
            metric(
                "rpc.duration",
                "",
                Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        time_unix_nano: T,
                        count: 4,
                        sum: 10.0,
                        quantile_values: vec![
                            ValueAtQuantile { quantile: 0.5, value: 1.0 },
                            ValueAtQuantile { quantile: 0.99, value: 2.0 },
                        ],
                        ..Default::default()
                    }],
                }),
            ),
        ],
    )
}

#[test]
fn every_metric_kind_translates_as_prometheus_does() {
    let body = every_kind().encode_to_vec();
    let rows = otlp::parse_protobuf(&body, NOW).unwrap();
    let (pre, post) = ("cpu_count=8,debug=false", "instance=host-1:8080,job=shop/api");
    let t = T;
    let expected: Vec<String> = [
        format!("system_memory_usage_bytes{{{pre},host_name=h2,{post},state=used,tags=[\"a\"]}} 5 @{t}"),
        format!("http_requests_total{{{pre},host_name=h1,http_method=GET,{post},tags=[\"a\"]}} 7 @{t}"),
        format!("queue_size{{{pre},host_name=h1,{post},tags=[\"a\"]}} -3 @{t}"),
        format!("http_server_duration_milliseconds_bucket{{{pre},host_name=h1,{post},le=5,tags=[\"a\"]}} 1 @{t}"),
        format!("http_server_duration_milliseconds_bucket{{{pre},host_name=h1,{post},le=10,tags=[\"a\"]}} 3 @{t}"),
        format!("http_server_duration_milliseconds_bucket{{{pre},host_name=h1,{post},le=+Inf,tags=[\"a\"]}} 6 @{t}"),
        format!("http_server_duration_milliseconds_sum{{{pre},host_name=h1,{post},tags=[\"a\"]}} 70 @{t}"),
        format!("http_server_duration_milliseconds_count{{{pre},host_name=h1,{post},tags=[\"a\"]}} 6 @{t}"),
        format!("latency_seconds_bucket{{{pre},host_name=h1,{post},le=0,tags=[\"a\"]}} 1 @{t}"),
        format!("latency_seconds_bucket{{{pre},host_name=h1,{post},le=2,tags=[\"a\"]}} 2 @{t}"),
        format!("latency_seconds_bucket{{{pre},host_name=h1,{post},le=4,tags=[\"a\"]}} 3 @{t}"),
        format!("latency_seconds_bucket{{{pre},host_name=h1,{post},le=+Inf,tags=[\"a\"]}} 3 @{t}"),
        format!("latency_seconds_sum{{{pre},host_name=h1,{post},tags=[\"a\"]}} 4.5 @{t}"),
        format!("latency_seconds_count{{{pre},host_name=h1,{post},tags=[\"a\"]}} 3 @{t}"),
        format!("rpc_duration{{{pre},host_name=h1,{post},quantile=0.5,tags=[\"a\"]}} 1 @{t}"),
        format!("rpc_duration{{{pre},host_name=h1,{post},quantile=0.99,tags=[\"a\"]}} 2 @{t}"),
        format!("rpc_duration_sum{{{pre},host_name=h1,{post},tags=[\"a\"]}} 10 @{t}"),
        format!("rpc_duration_count{{{pre},host_name=h1,{post},tags=[\"a\"]}} 4 @{t}"),
    ]
    .into();
    assert_eq!(render(&rows), expected);
}

#[test]
fn json_and_protobuf_give_the_same_rows() {
    let request = every_kind();
    let json = serde_json::to_vec(&request).unwrap();
    assert_eq!(otlp::decode_json(&json).unwrap(), request);
    assert_eq!(otlp::parse_json(&json, NOW).unwrap(), otlp::parse_protobuf(&request.encode_to_vec(), NOW).unwrap());
}

#[test]
fn otlp_json_as_exporters_send_it() {
    // The shape of the OTLP/JSON specification's example: camelCase keys,
    // 64-bit integers as strings, enums as numbers, hex ids in exemplars.
    let body = r#"{"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}},
                                    {"key": "pid", "value": {"intValue": "4242"}}]},
        "scopeMetrics": [{
            "scope": {"name": "my.library", "version": "1.0.0"},
            "metrics": [
                {"name": "my.counter", "unit": "1", "description": "I am a Counter",
                 "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                         "dataPoints": [{"asDouble": 5, "startTimeUnixNano": "1544712660300000000",
                                         "timeUnixNano": "1544712660300000000",
                                         "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "some value"}}],
                                         "exemplars": [{"asDouble": 1, "timeUnixNano": "1544712660300000000",
                                                        "spanId": "eee19b7ec3c1b174", "traceId": "5b8efff798038103d269b633813fc60c"}]}]}},
                {"name": "my.gauge", "unit": "1",
                 "gauge": {"dataPoints": [{"asInt": "10", "timeUnixNano": "1544712660300000000"}]}},
                {"name": "my.histogram", "unit": "ms",
                 "histogram": {"aggregationTemporality": 2,
                               "dataPoints": [{"timeUnixNano": "1544712660300000000", "count": "2", "sum": 2,
                                               "bucketCounts": ["1", "1"], "explicitBounds": [1], "min": 0, "max": 2}]}}
            ]}]}]}"#;
    let rows = otlp::parse_json(body.as_bytes(), NOW).unwrap();
    let t = 1_544_712_660_300_000_000_i64;
    assert_eq!(
        render(&rows),
        [
            format!("my_counter_total{{job=my.service,my_counter_attr=some value,pid=4242}} 5 @{t}"),
            format!("my_gauge_ratio{{job=my.service,pid=4242}} 10 @{t}"),
            format!("my_histogram_milliseconds_bucket{{job=my.service,le=1,pid=4242}} 1 @{t}"),
            format!("my_histogram_milliseconds_bucket{{job=my.service,le=+Inf,pid=4242}} 2 @{t}"),
            format!("my_histogram_milliseconds_sum{{job=my.service,pid=4242}} 2 @{t}"),
            format!("my_histogram_milliseconds_count{{job=my.service,pid=4242}} 2 @{t}"),
        ]
    );
}

#[test]
fn stale_points_default_times_and_point_attributes_win() {
    use number_data_point::Value::AsDouble;
    let stale = NumberDataPoint { flags: 1, ..number(AsDouble(3.0), vec![]) };
    let unset_time = NumberDataPoint { time_unix_nano: 0, ..number(AsDouble(4.0), vec![kv("job", s("override"))]) };
    let no_value = NumberDataPoint { value: None, ..number(AsDouble(0.0), vec![kv("x", s("1"))]) };
    let histogram = HistogramDataPoint { time_unix_nano: T, count: 1, flags: 1, ..Default::default() };
    let req = request(
        vec![kv("service.name", s("svc"))],
        vec![
            metric("g", "", Data::Gauge(Gauge { data_points: vec![stale, unset_time, no_value] })),
            metric(
                "h",
                "",
                Data::Histogram(Histogram { data_points: vec![histogram], aggregation_temporality: CUMULATIVE }),
            ),
        ],
    );
    let rows = otlp::rows(&req, NOW).unwrap();
    assert_eq!(rows[0].fields[0].1.to_bits(), STALE_NAN_BITS);
    assert_eq!((rows[1].timestamp, rows[1].tags.clone()), (NOW, vec![("job".to_string(), "override".to_string())]));
    assert_eq!(rows[2].fields[0].1, 0.0);
    // A stale histogram point marks every series it makes (+Inf bucket, count; no sum).
    assert_eq!(render(&rows[3..]).len(), 2);
    assert!(rows[3..].iter().all(|r| r.fields[0].1.to_bits() == STALE_NAN_BITS));
}

#[test]
fn refusals_name_the_metric_or_point() {
    use number_data_point::Value::AsDouble;
    let at = "resourceMetrics[0].scopeMetrics[0].metrics[0]";
    let delta = Data::Sum(Sum {
        data_points: vec![number(AsDouble(1.0), vec![])],
        aggregation_temporality: AggregationTemporality::Delta as i32,
        is_monotonic: true,
    });
    let bad_buckets = Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            time_unix_nano: T,
            bucket_counts: vec![1, 2],
            explicit_bounds: vec![1.0, 2.0],
            ..Default::default()
        }],
        aggregation_temporality: CUMULATIVE,
    });
    let bad_scale = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint { scale: 21, ..Default::default() }],
        aggregation_temporality: CUMULATIVE,
    });
    let far_future = Data::Gauge(Gauge {
        data_points: vec![NumberDataPoint { time_unix_nano: u64::MAX, ..number(AsDouble(1.0), vec![]) }],
    });
    let reserved = Data::Gauge(Gauge { data_points: vec![number(AsDouble(1.0), vec![kv("__tenant__", s("t"))])] });
    let cases: Vec<(Metric, Vec<KeyValue>, String, &str)> = vec![
        (
            metric("c", "", delta),
            vec![],
            format!("{at}.aggregationTemporality"),
            "AGGREGATION_TEMPORALITY_DELTA temporality is not stored",
        ),
        (Metric { name: "nothing".into(), ..Default::default() }, vec![], at.into(), "has no data"),
        (metric("", "", far_future.clone()), vec![], format!("{at}.name"), "empty metric name"),
        (metric("...", "", far_future.clone()), vec![], format!("{at}.name"), "invalid measurement name"),
        (
            metric("h", "", bad_buckets),
            vec![],
            format!("{at}.dataPoints[0].bucketCounts"),
            "2 bucket counts for 2 bounds",
        ),
        (metric("e", "", bad_scale), vec![], format!("{at}.dataPoints[0].scale"), "scale 21 is outside"),
        (metric("g", "", far_future), vec![], format!("{at}.dataPoints[0].timeUnixNano"), "past the largest"),
        (metric("g", "", reserved.clone()), vec![], format!("{at}.dataPoints[0].attributes[0]"), "reserved"),
        (
            metric("g", "", reserved),
            vec![kv("a", s("1")), kv("bad key!", s("x")), kv("__x", s("y"))],
            "resourceMetrics[0].resource.attributes[2]".into(),
            "reserved",
        ),
    ];
    for (metric, resource, path, needle) in cases {
        match otlp::rows(&request(resource, vec![metric]), NOW) {
            Err(Error::Item { at, message }) => {
                assert_eq!(at, path, "{message}");
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
            other => panic!("expected an error at {path}, got {other:?}"),
        }
    }
}

#[test]
fn undecodable_bodies() {
    let err = otlp::parse_protobuf(&[0x0a, 0x05, 0x01], NOW).unwrap_err();
    assert!(matches!(err, Error::Syntax { format: "OTLP protobuf", .. }), "{err:?}");
    for body in [&b"{\"resourceMetrics\": 5}"[..], b"{", b"\xff"] {
        let err = otlp::parse_json(body, NOW).unwrap_err();
        assert!(matches!(err, Error::Syntax { format: "OTLP JSON", .. }), "{err:?}");
    }
    assert_eq!(otlp::parse_json(b"{}", NOW).unwrap(), []);
    // serde drops a metric's data that fails to decode (its oneof is a
    // flattened Option): the metric then has no data, which is refused.
    let bad_time = br#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": "x"}]}}]}]}]}"#;
    let err = otlp::parse_json(bad_time, NOW).unwrap_err();
    assert!(err.to_string().contains("metrics[0]: metric \"g\" has no data"), "{err}");
}
