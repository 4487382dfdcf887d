//! The requests Grafana 10/11's Prometheus data source sends for a
//! dashboard, as it writes them on the wire (Go's `net/http` client:
//! `Host`, `User-Agent`, `Content-Length`, the other headers sorted by
//! name, then `Accept-Encoding: gzip`; form bodies from Go's
//! `url.Values.Encode`, keys sorted, `QueryEscape`d), sent byte for byte to
//! Chronicle and to a real Prometheus 2.42 holding the same data, and the
//! answers compared:
//!
//! - "Save & test": an instant `1+1` at time 4 (Grafana's health check
//!   queries the range 1 s to 4 s);
//! - the version check, `/api/v1/status/buildinfo`;
//! - panels: POST `/api/v1/query_range` and `/api/v1/query` with
//!   Grafana's interval variables already replaced by Go's duration
//!   spelling (`[1m0s]`), and `/api/v1/query_exemplars`;
//! - the query editor's metric and label browsers: `/api/v1/labels`
//!   (POST), `/api/v1/label/__name__/values` and `/api/v1/label/job/values`
//!   with `start`/`end` (and `match[]`), `/api/v1/series` (GET and POST),
//!   `/api/v1/metadata`.
//!
//! Samples sit 7 s past multiples of 15 s and queries at multiples of 15 s,
//! off every window's edge (where Prometheus 2 and 3 differ).
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::ingest::prompb::{Sample, WriteRequest};
use common::TempDir;
use common::prometheus::prometheus;
use common::prometheus_answers::{answer, remote_write, same_points, series};
use common::server::TestServer;
use prost::Message;
use serde_json::Value;

/// Seconds between samples.
const INTERVAL_S: i64 = 15;
/// Samples per series: 50 minutes.
const SAMPLES: i64 = 200;
/// The `User-Agent` Grafana's data source client sends.
const USER_AGENT: &str = "Grafana/11.3.0";

/// Go's `url.QueryEscape`: everything but ASCII letters, digits and
/// `-_.~` percent-encoded, spaces as `+`.
fn go_query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: sorted by key, `k=v` joined by `&`.
fn go_form(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort_by_key(|(k, _)| *k);
    pairs.iter().map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v))).collect::<Vec<_>>().join("&")
}

/// A request as Grafana's Go client writes it.
fn grafana_request(method: &str, host: &str, path: &str, form: Option<&str>) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n");
    if let Some(body) = form {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    // What Grafana adds for the panel a query comes from, sorted by name
    // as Go writes headers.
    head.push_str(
        "X-Dashboard-Uid: a1b2c3d4\r\nX-Datasource-Uid: chronicle\r\nX-Grafana-Org-Id: 1\r\nX-Panel-Id: 2\r\n",
    );
    head.push_str("Accept-Encoding: gzip\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(form.unwrap_or_default().as_bytes());
    bytes
}

/// An answer: the status, the body's text (un-gzipped if the server
/// compressed it, as Go's client does) and its JSON.
struct Answer {
    status: u16,
    text: String,
    json: Value,
}

/// Sends `request` over a fresh connection.
fn send(base: &str, request: &[u8]) -> Answer {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream.write_all(request).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        panic!("{host}: not an HTTP status line: {status_line:?}");
    });
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let mut body = Vec::new();
    if let Some(length) = headers.get("content-length") {
        body.resize(length.parse().unwrap(), 0);
        reader.read_exact(&mut body).unwrap();
    } else {
        assert_eq!(headers.get("transfer-encoding").map(String::as_str), Some("chunked"), "{host}: {headers:?}");
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    if headers.get("content-encoding").is_some_and(|e| e == "gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain).unwrap();
        body = plain;
    }
    let text = String::from_utf8(body).unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{host}: not JSON: {text}"));
    Answer { status, text, json }
}

/// A node_exporter-like CPU counter per instance and mode, and a classic
/// histogram per job, built here without Chronicle.
fn data(start_ms: i64) -> WriteRequest {
    let at = |i: i64| start_ms + i * INTERVAL_S * 1000;
    let mut timeseries = Vec::new();
    for (n, instance) in ["node-a:9100", "node-b:9100"].iter().enumerate() {
        for (m, mode) in ["idle", "user", "system"].iter().enumerate() {
            let share = [0.7, 0.2, 0.1][m] + n as f64 * 0.01;
            let samples = (0..SAMPLES)
                .map(|i| Sample {
                    value: 1000.0 + (i as f64 * INTERVAL_S as f64 * share * 100.0).round() / 100.0,
                    timestamp: at(i),
                })
                .collect();
            timeseries.push(series(
                &[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", "0"),
                    ("instance", instance),
                    ("job", "node"),
                    ("mode", mode),
                ],
                samples,
            ));
        }
    }
    let bounds = ["0.1", "0.5", "1", "+Inf"];
    for (j, job) in ["api", "web"].iter().enumerate() {
        let mut cumulative = Vec::new();
        let mut counts = [0.0; 4];
        for i in 0..SAMPLES {
            for (b, count) in counts.iter_mut().enumerate() {
                *count += ((i * 7 + b as i64 * 3 + j as i64) % 5 + 2 * b as i64 + 1) as f64;
            }
            let mut running = 0.0;
            cumulative.push(counts.map(|c| {
                running += c;
                running
            }));
        }
        for (b, le) in bounds.iter().enumerate() {
            let samples =
                cumulative.iter().enumerate().map(|(i, c)| Sample { value: c[b], timestamp: at(i as i64) }).collect();
            timeseries.push(series(
                &[("__name__", "http_request_duration_seconds_bucket"), ("job", job), ("le", le)],
                samples,
            ));
        }
        let samples =
            cumulative.iter().enumerate().map(|(i, c)| Sample { value: c[3], timestamp: at(i as i64) }).collect();
        timeseries.push(series(&[("__name__", "http_request_duration_seconds_count"), ("job", job)], samples));
    }
    WriteRequest { timeseries, metadata: vec![] }
}

/// Asserts that our query answer `c` is Prometheus's `p` (same type, same
/// series, same times, values within a relative 1e-6: sums may add in
/// another order) and that Prometheus found data.
fn assert_same_answer(c: &Value, p: &Value, what: &str) {
    let ((kind_c, got), (kind_p, want)) = (answer(c), answer(p));
    assert_eq!(kind_c, kind_p, "{what}");
    assert!(!want.is_empty(), "{what}: Prometheus finds data");
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}");
    for (labels, w) in &want {
        assert!(same_points(&got[labels], w), "{what} {labels}: {:?} vs {w:?}", got[labels]);
    }
}

/// `data` of a list answer, sorted (servers list in their own order where
/// Prometheus does not promise one).
fn sorted_list(body: &Value) -> Vec<String> {
    let mut items: Vec<String> = body["data"].as_array().unwrap().iter().map(Value::to_string).collect();
    items.sort();
    items
}

#[test]
fn grafana_requests_get_the_answers_prometheus_gives() {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    // The first sample 7 s past a multiple of 15 s, 50 minutes ago.
    let start_ms = (now_ms - SAMPLES * INTERVAL_S * 1000) / 15_000 * 15_000 + 7_000;
    let body = snap::raw::Encoder::new().compress_vec(&data(start_ms).encode_to_vec()).unwrap();

    let dir = TempDir::new("grafana-requests-peer");
    let (_prometheus, prom) = prometheus(
        "prometheus",
        dir.as_path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let server = TestServer::start("grafana-requests");
    let ours = format!("http://{}", server.addr);
    remote_write(&format!("{prom}/api/v1/write"), &body);
    remote_write(&format!("{ours}/api/v1/write"), &body);

    // A dashboard's time range, the last 30 minutes of the data, aligned to
    // the step as Grafana aligns it.
    let step = 15;
    let end = (start_ms + (SAMPLES - 1) * INTERVAL_S * 1000) / 1000 / step * step;
    let (from, to) = ((end - 1800).to_string(), end.to_string());
    let step = step.to_string();

    // Both servers answer the request; returns (ours, Prometheus's), both 200.
    let answers = |method: &str, path: &str, form: Option<&str>| -> (Answer, Answer) {
        let ask = |base: &str| send(base, &grafana_request(method, base.trim_start_matches("http://"), path, form));
        let (c, p) = (ask(&ours), ask(&prom));
        assert_eq!(p.status, 200, "{method} {path} {form:?}: Prometheus answers {}", p.text);
        assert_eq!(c.status, 200, "{method} {path} {form:?}: {}", c.text);
        assert_eq!(c.json["status"], "success", "{}", c.text);
        (c, p)
    };
    let both = |method: &str, path: &str, form: Option<&str>| -> (Value, Value) {
        let (c, p) = answers(method, path, form);
        (c.json, p.json)
    };

    // "Save & test", to the byte.
    let (c, p) = answers("POST", "/api/v1/query", Some(&go_form(&[("query", "1+1"), ("time", "4")])));
    assert_eq!(c.text, p.text, "the health check");
    assert_eq!(c.json["data"], serde_json::json!({ "resultType": "scalar", "result": [4, "2"] }));

    // The version check: Prometheus's fields, a version Grafana reads as a
    // Prometheus 2.x or later (it gates the label APIs' match[] on >= 2.24).
    let (c, p) = both("GET", "/api/v1/status/buildinfo", None);
    let keys = |v: &Value| v["data"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&c), keys(&p));
    let version: Vec<u64> =
        c["data"]["version"].as_str().unwrap().split('.').map(|n| n.parse().unwrap()).collect::<Vec<_>>();
    assert!(version.len() == 3 && (version[0], version[1]) >= (2, 24), "{c}");

    // Panels.
    let panels = [
        "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[1m0s]))",
        "1 - avg by (instance) (irate(node_cpu_seconds_total{mode=\"idle\"}[4m0s]))",
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m0s])))",
        "sum(increase(http_request_duration_seconds_count[5m])) by (job)",
        "node_cpu_seconds_total{instance=~\"node-a:9100|node-b:9100\", mode=\"user\"}",
    ];
    for expr in panels {
        let range = go_form(&[("query", expr), ("start", &from), ("end", &to), ("step", &step)]);
        let (c, p) = both("POST", "/api/v1/query_range", Some(&range));
        assert_eq!(c["data"]["resultType"], "matrix", "{expr}");
        assert_same_answer(&c, &p, expr);
        let instant = go_form(&[("query", expr), ("time", &to)]);
        let (c, p) = both("POST", "/api/v1/query", Some(&instant));
        assert_eq!(c["data"]["resultType"], "vector", "{expr}");
        assert_same_answer(&c, &p, &format!("{expr} at {to}"));
    }
    // A panel with a timeout, as Grafana sends when the data source sets one.
    let form = go_form(&[
        ("query", "sum(node_cpu_seconds_total)"),
        ("start", &from),
        ("end", &to),
        ("step", "60"),
        ("timeout", "30s"),
    ]);
    let (c, p) = both("POST", "/api/v1/query_range", Some(&form));
    assert_same_answer(&c, &p, "with a timeout");
    // Exemplars: neither holds any.
    let form = go_form(&[("query", "http_request_duration_seconds_bucket"), ("start", &from), ("end", &to)]);
    let (c, p) = both("POST", "/api/v1/query_exemplars", Some(&form));
    assert_eq!(c["data"], p["data"], "exemplars");

    // The metric and label browsers.
    let window = format!("start={from}&end={to}");
    let matcher = go_query_escape("{job=\"node\"}");
    let lists = [
        ("POST", "/api/v1/labels".to_owned(), Some(go_form(&[("start", &from), ("end", &to)]))),
        ("GET", format!("/api/v1/labels?{window}"), None),
        ("GET", format!("/api/v1/label/__name__/values?{window}"), None),
        ("GET", format!("/api/v1/label/__name__/values?match%5B%5D={matcher}&{window}"), None),
        ("GET", format!("/api/v1/label/job/values?{window}"), None),
        ("GET", format!("/api/v1/label/mode/values?match%5B%5D={matcher}&{window}"), None),
        ("GET", format!("/api/v1/series?match%5B%5D={matcher}&{window}"), None),
        (
            "POST",
            "/api/v1/series".to_owned(),
            Some(go_form(&[("match[]", "http_request_duration_seconds_count"), ("start", &from), ("end", &to)])),
        ),
    ];
    for (method, path, form) in &lists {
        let (c, p) = answers(method, path, form.as_deref());
        assert!(!sorted_list(&p.json).is_empty(), "{method} {path}: Prometheus lists something");
        assert_eq!(sorted_list(&c.json), sorted_list(&p.json), "{method} {path} {form:?}");
        // Names and values come sorted, so the bodies are the same bytes.
        if path.contains("/label") {
            assert_eq!(c.text, p.text, "{method} {path} {form:?}");
        }
    }

    // Metadata: Prometheus keeps only what it scraped (so nothing here);
    // Chronicle lists every metric as of unknown type. Both in
    // Prometheus's shape, which Grafana reads for its hints.
    for path in ["/api/v1/metadata", "/api/v1/metadata?limit=2", "/api/v1/metadata?metric=node_cpu_seconds_total"] {
        let (c, p) = both("GET", path, None);
        assert!(p["data"].is_object(), "{p}");
        let metrics = c["data"].as_object().unwrap_or_else(|| panic!("{path}: {c}"));
        for (name, entries) in metrics {
            let entry = &entries[0];
            assert!(
                entry["type"].is_string() && entry["help"].is_string() && entry["unit"].is_string(),
                "{path} {name}: {entries}"
            );
        }
        match path.split_once('?').map(|(_, q)| q) {
            None => assert_eq!(metrics.len(), 3, "{c}"),
            Some("limit=2") => assert_eq!(metrics.len(), 2, "{c}"),
            Some(_) => assert_eq!(metrics.keys().collect::<Vec<_>>(), ["node_cpu_seconds_total"], "{c}"),
        }
    }
}
