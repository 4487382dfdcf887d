//! The Python OpenTelemetry SDK exports a counter, a gauge and a histogram
//! over OTLP/HTTP protobuf to `/v1/metrics` (tests/python/otlp_export.py);
//! the values arrive under the names Prometheus's OTLP translation gives
//! them, with the resource as `job`, `instance` and underscored tags.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use common::http_client::stored;
use common::server::TestServer;

/// The one value of `measurement` per series (tags as `k=v,...`), whatever its time.
fn values(server: &TestServer, measurement: &str) -> BTreeMap<String, f64> {
    assert!(server.db.has_measurement(measurement).unwrap(), "{measurement} arrived: {:?}", server.db.measurements());
    stored(&server.db, measurement, "value").into_iter().map(|((tags, _), v)| (tags, v)).collect()
}

#[test]
fn sdk_counter_gauge_and_histogram_arrive() {
    let server = TestServer::start("otlp_python_sdk");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otlp_export.py");
    let out = Command::new("python3").arg(script).arg(server.url("")).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the SDK's export failed (missing packages? run scripts/install-test-deps.sh): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let resource = "deployment_environment=test,instance=i-1,job=checkout";

    assert_eq!(values(&server, "orders_total"), BTreeMap::from([(format!("{resource},shop=north"), 7.0)]));
    assert_eq!(values(&server, "room_temperature_celsius"), BTreeMap::from([(format!("{resource},room=lab"), 21.5)]));

    // The SDK's default buckets, cumulative, for 3, 7 and 120 ms.
    let series = |extra: &str| format!("{resource},{extra}route=/pay");
    let expected_buckets: BTreeMap<String, f64> = [
        ("0", 0.0),
        ("5", 1.0),
        ("10", 2.0),
        ("25", 2.0),
        ("50", 2.0),
        ("75", 2.0),
        ("100", 2.0),
        ("250", 3.0),
        ("500", 3.0),
        ("750", 3.0),
        ("1000", 3.0),
        ("2500", 3.0),
        ("5000", 3.0),
        ("7500", 3.0),
        ("10000", 3.0),
        ("+Inf", 3.0),
    ]
    .into_iter()
    .map(|(le, n)| (format!("{resource},le={le},route=/pay"), n))
    .collect();
    assert_eq!(values(&server, "http_latency_milliseconds_bucket"), expected_buckets);
    assert_eq!(values(&server, "http_latency_milliseconds_sum"), BTreeMap::from([(series(""), 130.0)]));
    assert_eq!(values(&server, "http_latency_milliseconds_count"), BTreeMap::from([(series(""), 3.0)]));
}
