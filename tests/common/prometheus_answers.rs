//! Prometheus's remote-write and query-API wire shapes for the tests that
//! compare Chronicle with a real Prometheus: series built without
//! Chronicle, a remote write, and query answers read into labels -> points
//! and compared as Prometheus's own test harness compares them.

use std::collections::BTreeMap;

use chronicle::ingest::prompb::{Label, Sample, TimeSeries};
use serde_json::Value;

/// One remote-write series of `labels` (with `__name__`) and `samples`.
pub fn series(labels: &[(&str, &str)], samples: Vec<Sample>) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
        samples,
        ..Default::default()
    }
}

/// Posts a snappy-compressed `WriteRequest` to `url`, expecting 204.
pub fn remote_write(url: &str, body: &[u8]) {
    let response = ureq::post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 204, "{url}");
}

/// A result as labels -> points (time ms, value), for comparison.
pub type Answer = BTreeMap<String, Vec<(i64, f64)>>;

/// A sample value as the API writes it (a string; `+Inf`, `-Inf`, `NaN`).
pub fn number(v: &Value) -> f64 {
    match v.as_str().unwrap() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        s => s.parse().unwrap(),
    }
}

fn point(pair: &Value) -> (i64, f64) {
    ((pair[0].as_f64().unwrap() * 1000.0).round() as i64, number(&pair[1]))
}

/// A successful query answer as (result type, labels -> points): an
/// instant vector's samples are one-point series, a scalar or string one
/// series keyed `scalar`.
pub fn answer(body: &Value) -> (String, Answer) {
    assert_eq!(body["status"], "success", "{body}");
    let kind = body["data"]["resultType"].as_str().unwrap().to_owned();
    let result = &body["data"]["result"];
    let mut out = Answer::new();
    match kind.as_str() {
        "scalar" | "string" => {
            out.insert("scalar".into(), vec![point(result)]);
        }
        _ => {
            for s in result.as_array().unwrap() {
                let labels: BTreeMap<&str, &str> =
                    s["metric"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
                let points = match s.get("value") {
                    Some(v) => vec![point(v)],
                    None => s["values"].as_array().unwrap().iter().map(point).collect(),
                };
                out.insert(format!("{labels:?}"), points);
            }
        }
    }
    (kind, out)
}

/// Equal values as Prometheus's harness compares them: NaN equals NaN,
/// else within a relative 1e-6 (sums may add in another order).
pub fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// The same times with [`close`] values.
pub fn same_points(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && close(x.1, y.1))
}

/// The same series with [`same_points`].
pub fn same(a: &Answer, b: &Answer) -> bool {
    a.len() == b.len() && a.iter().all(|(k, pa)| b.get(k).is_some_and(|pb| same_points(pa, pb)))
}
