//! Native histograms side by side with a real Prometheus 2.42 (native
//! histograms enabled): the same remote-write body of integer histograms
//! (exponential, with a zero bucket, negative buckets, a schema change and
//! a counter reset, built here without Chronicle) goes to both, then raw
//! selectors (instant, range selector, range query) and their sum go to
//! both query APIs,
//! and every histogram must agree: count, sum and each bucket's bounds,
//! boundary rule and count (within a relative 1e-6).
//!
//! Samples sit 7 s past 15 s marks and queries at whole minutes, so no
//! sample lies on a window's edge (see `prometheus_api.rs`).
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::ingest::prompb::{BucketSpan, Histogram, WriteRequest};
use common::TempDir;
use common::prometheus::prometheus;
use common::prometheus_answers::{close, number, remote_write, series};
use common::server::TestServer;
use prost::Message;
use serde_json::Value;

const INTERVAL_S: i64 = 15;
const SAMPLES: i64 = 80;

/// Sample `i` of a request-latency histogram that grows by `speed`
/// observations a step: schema 1 until half-way, then schema 0 (a
/// resolution change), reset to small counts at 3/4.
fn latency(i: i64, speed: u64, t: i64) -> Histogram {
    let n = if i >= SAMPLES * 3 / 4 { (i - SAMPLES * 3 / 4) as u64 + 1 } else { i as u64 + 1 };
    let buckets = [n * speed, n * speed * 2, 0, n];
    let zero = n;
    let negative = n / 2;
    let count = buckets.iter().sum::<u64>() + zero + negative;
    let deltas = |counts: &[u64]| -> Vec<i64> {
        let mut previous = 0i64;
        counts
            .iter()
            .map(|&c| std::mem::replace(&mut previous, c as i64))
            .zip(counts)
            .map(|(p, &c)| c as i64 - p)
            .collect()
    };
    Histogram {
        count_int: Some(count),
        sum: count as f64 * 0.75 - negative as f64 * 3.0,
        schema: if i < SAMPLES / 2 { 1 } else { 0 },
        zero_threshold: 0.001,
        zero_count_int: Some(zero),
        positive_spans: vec![BucketSpan { offset: -1, length: 2 }, BucketSpan { offset: 3, length: 2 }],
        positive_deltas: deltas(&buckets),
        negative_spans: vec![BucketSpan { offset: 2, length: 1 }],
        negative_deltas: deltas(&[negative]),
        timestamp: t,
        ..Histogram::default()
    }
}

fn data(start_ms: i64) -> WriteRequest {
    let at = |i: i64| start_ms + i * INTERVAL_S * 1000;
    let timeseries = [("api", 3), ("web", 5)]
        .into_iter()
        .map(|(job, speed)| {
            let mut s = series(&[("__name__", "request_latency_seconds"), ("job", job)], Vec::new());
            s.histograms = (0..SAMPLES).map(|i| latency(i, speed, at(i))).collect();
            s
        })
        .collect();
    WriteRequest { timeseries, metadata: vec![] }
}

/// A histogram as the API writes it: count, sum, buckets (rule, lower, upper, count).
#[derive(Debug)]
struct Hist {
    count: f64,
    sum: f64,
    buckets: Vec<(u64, f64, f64, f64)>,
}

impl Hist {
    fn of(v: &Value) -> Hist {
        let buckets = v["buckets"].as_array().map_or_else(Vec::new, |bs| {
            bs.iter().map(|b| (b[0].as_u64().unwrap(), number(&b[1]), number(&b[2]), number(&b[3]))).collect()
        });
        Hist { count: number(&v["count"]), sum: number(&v["sum"]), buckets }
    }

    fn same(&self, other: &Hist) -> bool {
        close(self.count, other.count)
            && close(self.sum, other.sum)
            && self.buckets.len() == other.buckets.len()
            && self
                .buckets
                .iter()
                .zip(&other.buckets)
                .all(|(a, b)| a.0 == b.0 && close(a.1, b.1) && close(a.2, b.2) && close(a.3, b.3))
    }
}

/// Labels -> (time ms, histogram) of a vector or matrix answer.
fn histograms(body: &Value) -> BTreeMap<String, Vec<(i64, Hist)>> {
    assert_eq!(body["status"], "success", "{body}");
    let mut out = BTreeMap::new();
    for s in body["data"]["result"].as_array().unwrap() {
        let points: Vec<&Value> = match (&s["histogram"], &s["histograms"]) {
            (Value::Array(_), _) => vec![&s["histogram"]],
            (_, Value::Array(list)) => list.iter().collect(),
            _ => Vec::new(),
        };
        let points = points.into_iter().map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, Hist::of(&p[1])));
        out.insert(s["metric"].to_string(), points.collect());
    }
    out
}

fn get(base: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let mut request = ureq::get(&format!("{base}{path}"));
    for (k, v) in params {
        request = request.query(*k, *v);
    }
    let body = request.call().unwrap().body_mut().read_to_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

#[test]
fn raw_native_histograms_equal_a_real_prometheus() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let start = (now - SAMPLES * INTERVAL_S * 1000) / 60_000 * 60_000 + 7_000;
    let body = snap::raw::Encoder::new().compress_vec(&data(start).encode_to_vec()).unwrap();

    let dir = TempDir::new("native-histograms-peer");
    let (_prometheus, prom) = prometheus(
        "prometheus",
        dir.as_path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-remote-write-receiver", "--enable-feature=native-histograms"],
    );
    let server = TestServer::start("native-histograms");
    let ours = format!("http://{}", server.addr);
    remote_write(&format!("{prom}/api/v1/write"), &body);
    remote_write(&format!("{ours}/api/v1/write"), &body);

    let first = (start / 60_000 + 1) * 60;
    let last = (start + (SAMPLES - 1) * INTERVAL_S * 1000) / 60_000 * 60;
    let mid = (first + last) / 2 / 60 * 60;
    let mut requests: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
    for t in [first, mid, last] {
        for q in ["request_latency_seconds", "request_latency_seconds{job=\"web\"}[2m]", "sum(request_latency_seconds)"]
        {
            requests.push(("/api/v1/query", vec![("query", q.to_owned()), ("time", t.to_string())]));
        }
    }
    requests.push((
        "/api/v1/query_range",
        vec![
            ("query", "request_latency_seconds".to_owned()),
            ("start", first.to_string()),
            ("end", last.to_string()),
            ("step", "60".to_owned()),
        ],
    ));
    let mut compared = 0;
    for (path, params) in &requests {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (p, c) = (histograms(&get(&prom, path, &params)), histograms(&get(&ours, path, &params)));
        assert!(!p.is_empty() && p.values().all(|points| !points.is_empty()), "{params:?}: Prometheus has data");
        assert_eq!(p.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>(), "{params:?}: series");
        for (labels, points) in &p {
            let ours = &c[labels];
            let same = points.len() == ours.len() && points.iter().zip(ours).all(|(a, b)| a.0 == b.0 && a.1.same(&b.1));
            assert!(same, "{params:?} {labels}:\n  prometheus {points:?}\n  chronicle  {ours:?}");
            compared += points.len();
        }
    }
    assert!(compared > 50, "{compared} histograms compared");
}
