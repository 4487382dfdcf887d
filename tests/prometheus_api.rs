//! Chronicle's Prometheus query API side by side with a real Prometheus
//! 2.42: the same remote-write body goes to both, then the same queries
//! (instant and range, dashboard style: rate, sum by, topk, quantiles over
//! classic histograms, binary operators with matching, offset, subqueries)
//! and the label APIs go to both, and the answers must agree (values
//! within a relative 1e-6). Then `promtool query` prints the same against
//! both. Bad requests get Prometheus's error shape.
//!
//! Samples sit at 15 s + 7 s offsets and queries at whole minutes, so no
//! sample lies on a window's edge, where Prometheus 2 (closed windows) and
//! 3 (left-open windows, which Chronicle follows) differ.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::ingest::prompb::{Sample, WriteRequest};
use common::TempDir;
use common::prometheus::prometheus;
use common::prometheus_answers::{answer, close, remote_write, same, series};
use common::server::TestServer;
use prost::Message;
use serde_json::Value;

/// Seconds between samples.
const INTERVAL_S: i64 = 15;
/// Samples per series.
const SAMPLES: i64 = 200;

/// Counters with resets, gauges, and a classic histogram, over the last
/// 50 minutes, built here without Chronicle.
fn data(start_ms: i64) -> WriteRequest {
    let at = |i: i64| start_ms + i * INTERVAL_S * 1000;
    let mut timeseries = Vec::new();
    for (job, speed) in [("api", 3.0), ("web", 5.0)] {
        for instance in ["a", "b", "c"] {
            for code in ["200", "500"] {
                let rate = speed * if code == "200" { 10.0 } else { 1.0 } * if instance == "b" { 2.0 } else { 1.0 };
                let mut value = 0.0;
                let samples = (0..SAMPLES)
                    .map(|i| {
                        // A reset every 70 samples on instance c.
                        if instance == "c" && i % 70 == 69 {
                            value = 0.0;
                        }
                        value += rate * (1.0 + (i % 7) as f64 / 10.0);
                        Sample { value, timestamp: at(i) }
                    })
                    .collect();
                timeseries.push(series(
                    &[("__name__", "http_requests_total"), ("job", job), ("instance", instance), ("code", code)],
                    samples,
                ));
            }
        }
    }
    for room in ["kitchen", "hall", "cellar"] {
        let base = room.len() as f64;
        let samples = (0..SAMPLES)
            .map(|i| Sample { value: base * 3.0 + ((i * 37 + room.len() as i64) % 11) as f64 / 4.0, timestamp: at(i) })
            .collect();
        timeseries.push(series(&[("__name__", "temperature_celsius"), ("room", room)], samples));
    }
    let bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for job in ["api", "web"] {
        let mut counts = [0.0; 7];
        let mut per_bucket = Vec::new();
        for i in 0..SAMPLES {
            for (b, count) in counts.iter_mut().enumerate() {
                *count += ((i + b as i64 * 3) % 5 + b as i64) as f64 + if job == "web" { 2.0 } else { 0.0 };
            }
            // Cumulative over the bounds.
            let mut running = 0.0;
            per_bucket.push(counts.map(|c| {
                running += c;
                running
            }));
        }
        for (b, le) in bounds.iter().enumerate() {
            let samples =
                per_bucket.iter().enumerate().map(|(i, c)| Sample { value: c[b], timestamp: at(i as i64) }).collect();
            timeseries.push(series(&[("__name__", "request_seconds_bucket"), ("job", job), ("le", le)], samples));
        }
        let samples =
            per_bucket.iter().enumerate().map(|(i, c)| Sample { value: c[6], timestamp: at(i as i64) }).collect();
        timeseries.push(series(&[("__name__", "request_seconds_count"), ("job", job)], samples));
    }
    WriteRequest { timeseries, metadata: vec![] }
}

fn get(base: &str, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    let mut request = agent.get(format!("{base}{path}"));
    for (k, v) in params {
        request = request.query(*k, *v);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}")))
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "http_requests_total{job=\"api\",code!=\"500\"}",
    "http_requests_total{instance=~\"a|c\"} offset 5m",
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[2m])",
    "increase(http_requests_total{instance=\"c\"}[10m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "sum without (instance) (rate(http_requests_total[5m]))",
    "topk(3, rate(http_requests_total[5m]))",
    "bottomk(2, sum by (instance) (rate(http_requests_total[5m])))",
    "count by (code) (http_requests_total)",
    "avg(temperature_celsius)",
    "max_over_time(temperature_celsius[10m])",
    "avg_over_time(temperature_celsius[10m]) - min_over_time(temperature_celsius[10m])",
    "quantile(0.9, temperature_celsius)",
    "stddev(temperature_celsius)",
    "delta(temperature_celsius[15m])",
    "deriv(temperature_celsius[15m])",
    "changes(temperature_celsius[10m])",
    "resets(http_requests_total[30m])",
    "histogram_quantile(0.9, sum by (le) (rate(request_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(request_seconds_bucket[10m]))",
    "sum by (job) (rate(http_requests_total{code=\"500\"}[5m])) / ignoring(code) sum by (job) (rate(http_requests_total[5m]))",
    "rate(http_requests_total{code=\"500\"}[5m]) / ignoring(code) group_left rate(http_requests_total{code=\"200\"}[5m])",
    "http_requests_total > 2000",
    "http_requests_total > bool 2000",
    "temperature_celsius * on(room) group_left temperature_celsius",
    "rate(http_requests_total[5m]) and on(instance) http_requests_total{instance=\"b\"}",
    "http_requests_total{code=\"200\"} unless on(instance) http_requests_total{instance=\"a\"}",
    "max_over_time(rate(http_requests_total[2m])[10m:1m])",
    "abs(delta(temperature_celsius[5m])) + 1",
    "clamp_max(temperature_celsius, 10)",
    "round(temperature_celsius, 0.5)",
    "label_replace(temperature_celsius, \"place\", \"$1\", \"room\", \"(.*)en\")",
    "sort_desc(sum by (instance) (http_requests_total))",
    "count(http_requests_total) * 2 - 1",
    "time() - timestamp(temperature_celsius)",
    "absent(nonexistent_metric{job=\"x\"})",
    "predict_linear(temperature_celsius[15m], 600)",
    "scalar(sum(temperature_celsius)) / 3",
    "vector(1) + 1",
    "sum(rate(request_seconds_count[5m])) by (job)",
];

#[test]
fn answers_equal_a_real_prometheus() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    // The first sample 7 s past a whole minute, 50 minutes ago.
    let start = (now - SAMPLES * INTERVAL_S * 1000) / 60_000 * 60_000 + 7_000;
    let body = snap::raw::Encoder::new().compress_vec(&data(start).encode_to_vec()).unwrap();

    let dir = TempDir::new("prometheus-api-peer");
    let (_prometheus, prom) = prometheus(
        "prometheus",
        dir.as_path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver"],
    );
    let server = TestServer::start("prometheus-api");
    let ours = format!("http://{}", server.addr);
    remote_write(&format!("{prom}/api/v1/write"), &body);
    remote_write(&format!("{ours}/api/v1/write"), &body);

    // Whole minutes inside the data: the last is 7 s before the last sample.
    let first_minute = (start / 60_000 + 16) * 60;
    let last_minute = (start + (SAMPLES - 1) * INTERVAL_S * 1000) / 60_000 * 60;
    let mut compared = 0;
    let mut failures = Vec::new();
    for query in QUERIES {
        for time in [first_minute, (first_minute + last_minute) / 2 / 60 * 60, last_minute] {
            let time = time.to_string();
            let params = [("query", *query), ("time", time.as_str())];
            let (status_p, body_p) = get(&prom, "/api/v1/query", &params);
            let (status_c, body_c) = get(&ours, "/api/v1/query", &params);
            assert_eq!(status_p, 200, "{query}: {body_p}");
            if status_c != 200 {
                failures.push(format!("{query} @{time}: status {status_c}: {body_c}"));
                continue;
            }
            let (kind_p, ans_p) = answer(&body_p);
            let (kind_c, ans_c) = answer(&body_c);
            if kind_p != kind_c || !same(&ans_p, &ans_c) {
                failures.push(format!(
                    "{query} @{time}:\n  prometheus {kind_p} {ans_p:?}\n  chronicle  {kind_c} {ans_c:?}"
                ));
            }
            compared += 1;
        }
        let range = [
            ("query", *query),
            ("start", &first_minute.to_string()),
            ("end", &last_minute.to_string()),
            ("step", "60"),
        ]
        .map(|(k, v)| (k, v.to_owned()));
        let params: Vec<(&str, &str)> = range.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status_p, body_p) = get(&prom, "/api/v1/query_range", &params);
        let (status_c, body_c) = get(&ours, "/api/v1/query_range", &params);
        assert_eq!(status_p, 200, "{query}: {body_p}");
        if status_c != 200 {
            failures.push(format!("{query} range: status {status_c}: {body_c}"));
            continue;
        }
        let (kind_p, ans_p) = answer(&body_p);
        let (kind_c, ans_c) = answer(&body_c);
        if kind_p != kind_c || !same(&ans_p, &ans_c) {
            failures.push(format!("{query} range:\n  prometheus {kind_p} {ans_p:?}\n  chronicle  {kind_c} {ans_c:?}"));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{} of {compared} answers differ:\n{}", failures.len(), failures.join("\n"));

    // The label APIs, with and without match[] and a time range.
    let window = [("start", first_minute.to_string()), ("end", last_minute.to_string())];
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("/api/v1/labels", vec![]),
        ("/api/v1/labels", vec![("match[]", "temperature_celsius".into())]),
        ("/api/v1/label/job/values", vec![]),
        ("/api/v1/label/__name__/values", vec![]),
        ("/api/v1/label/instance/values", vec![("match[]", "http_requests_total{code=\"500\"}".into())]),
        ("/api/v1/series", vec![("match[]", "http_requests_total{instance=\"b\"}".into())]),
        // No name: every metric's series; two selectors: the union.
        ("/api/v1/series", vec![("match[]", "{job=\"web\"}".into())]),
        (
            "/api/v1/series",
            vec![("match[]", "temperature_celsius".into()), ("match[]", "http_requests_total{code=\"500\"}".into())],
        ),
        (
            "/api/v1/series",
            vec![("match[]", "{__name__=~\"request_.*\",job=\"web\"}".into()), window[0].clone(), window[1].clone()],
        ),
    ];
    for (path, params) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (sp, bp) = get(&prom, path, &params);
        let (sc, bc) = get(&ours, path, &params);
        assert_eq!((sp, sc), (200, 200), "{path} {params:?}: {bp} / {bc}");
        let sorted = |v: &Value| {
            let mut items: Vec<String> = v["data"].as_array().unwrap().iter().map(|x| x.to_string()).collect();
            items.sort();
            items
        };
        assert_eq!(sorted(&bc), sorted(&bp), "{path} {params:?}");
    }

    // promtool prints the same against both: lines `labels => value @[time]`
    // (for `query range`, `value @[time]` lines under each series), values
    // within 1e-6 (Prometheus 2.42 sums without compensation, Chronicle
    // with it), everything else exactly.
    let promtool = |args: &[&str]| {
        let out = Command::new("promtool").args(["query"]).args(args).output().expect("promtool runs");
        assert!(out.status.success(), "promtool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let t = last_minute.to_string();
    let (s, e) = (first_minute.to_string(), last_minute.to_string());
    for args in [
        vec!["instant", "--time", &t, "URL", "sum by (job) (http_requests_total)"],
        vec!["range", "--start", &s, "--end", &e, "--step", "5m", "URL", "max(temperature_celsius)"],
        vec!["series", "--match", "temperature_celsius", "URL"],
        vec!["labels", "URL", "room"],
    ] {
        let with = |base: &str| -> Vec<String> {
            let args: Vec<&str> = args.iter().map(|a| if *a == "URL" { base } else { a }).collect();
            let mut lines: Vec<String> = promtool(&args).lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        let (expected, got) = (with(&prom), with(&ours));
        assert!(!expected.is_empty(), "promtool {args:?} prints something against Prometheus");
        assert_eq!(got.len(), expected.len(), "promtool {args:?}: {got:?} vs {expected:?}");
        for (g, x) in got.iter().zip(&expected) {
            let value = |line: &str| -> Option<(String, f64, String)> {
                let (head, rest) = line.rsplit_once(" @[")?;
                let (labels, value) = head.rsplit_once(' ')?;
                Some((labels.to_owned(), value.parse().ok()?, rest.to_owned()))
            };
            match (value(g), value(x)) {
                (Some((lg, vg, tg)), Some((lx, vx, tx))) => {
                    assert!(lg == lx && tg == tx && close(vg, vx), "promtool {args:?}: {g:?} vs {x:?}")
                }
                _ => assert_eq!(g, x, "promtool {args:?}"),
            }
        }
    }
}

#[test]
fn bad_requests_get_prometheus_errors() {
    let server = TestServer::start("prometheus-api-errors");
    let base = format!("http://{}", server.addr);
    // (path, parameters, status, errorType, what the message says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
    let cases: [Case; 6] = [
        ("/api/v1/query", vec![("query", "sum(")], 400, "bad_data", "unclosed left parenthesis"),
        ("/api/v1/query", vec![], 400, "bad_data", "invalid parameter \"query\""),
        ("/api/v1/query", vec![("query", "up"), ("time", "yesterday")], 400, "bad_data", "invalid parameter \"time\""),
        (
            "/api/v1/query_range",
            vec![("query", "up"), ("start", "10"), ("end", "20"), ("step", "0")],
            400,
            "bad_data",
            "zero or negative",
        ),
        (
            "/api/v1/query_range",
            vec![("query", "up"), ("start", "20"), ("end", "10"), ("step", "1")],
            400,
            "bad_data",
            "end",
        ),
        ("/api/v1/series", vec![], 400, "bad_data", "match[]"),
    ];
    for (path, params, status, kind, says) in cases {
        let (got, body) = get(&base, path, &params);
        assert_eq!(got, status, "{path} {params:?}: {body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], kind, "{body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{path} {params:?}: {body}");
    }
    // A 100,000-deep expression is refused at once, and the server lives on.
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    let mut response = agent.post(format!("{base}/api/v1/query")).send_form([("query", deep.as_str())]).unwrap();
    assert_eq!(response.status().as_u16(), 400, "{}", response.body_mut().read_to_string().unwrap());
    let (status, body) = get(&base, "/api/v1/query", &[("query", "1 + 1"), ("time", "100")]);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["result"], serde_json::json!([100, "2"]), "times are written as Prometheus writes them");
}
