//! A real Prometheus 2.42 scraping a real node_exporter every second and
//! remote-writing to Chronicle; then every sample Prometheus itself stored
//! in a window (asked over its HTTP API) must be in Chronicle with the same
//! series, time and value, and nothing more. Then a second Prometheus with
//! an empty TSDB and `remote_read` to Chronicle answers the same queries
//! from Chronicle's data alone, and its answers must equal the first's.
//!
//! Programs come from Debian (`prometheus`, `prometheus-node-exporter`);
//! a machine without them fails, saying to run scripts/install-test-deps.sh.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chronicle::ingest::remote_write::STALE_NAN_BITS;
use common::TempDir;
use common::http_client::stored;
use common::prometheus::{Process, free_port, prometheus};
use common::server::TestServer;

/// How long Prometheus scrapes and remote-writes.
const RUN: Duration = Duration::from_secs(18);
/// The range selector of the comparison, longer than the whole run.
const WINDOW_S: i64 = 120;

/// A series (name, then `k=v` labels sorted) -> time in ms -> value bits.
type Samples = BTreeMap<String, BTreeMap<i64, u64>>;

/// Every raw sample Prometheus at `base` returns for `selector[WINDOW_S]`
/// at `at_ms` (stale markers are not returned by Prometheus).
fn ask(base: &str, selector: &str, at_ms: i64) -> Samples {
    let query = format!("{selector}[{WINDOW_S}s]");
    let time = format!("{}.{:03}", at_ms / 1000, at_ms % 1000);
    let mut response =
        ureq::get(format!("{base}/api/v1/query")).query("query", &query).query("time", &time).call().unwrap();
    let answer: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(answer["status"], "success", "{query}: {answer}");
    assert_eq!(answer["data"]["resultType"], "matrix");
    let mut out = Samples::new();
    for series in answer["data"]["result"].as_array().unwrap() {
        let metric = series["metric"].as_object().unwrap();
        let name = metric["__name__"].as_str().unwrap();
        let mut labels: Vec<String> = metric
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        labels.sort();
        let samples = out.entry(format!("{name}{{{}}}", labels.join(","))).or_default();
        for pair in series["values"].as_array().unwrap() {
            let t_ms = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
            let value: f64 = match pair[1].as_str().unwrap() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap(),
            };
            samples.insert(t_ms, value.to_bits());
        }
    }
    out
}

/// What Chronicle holds in the same window, read with `Db::scan`; stale
/// markers are left out as Prometheus leaves them out of its answers.
fn held(server: &TestServer, at_ms: i64) -> (Samples, usize) {
    let (lo, hi) = ((at_ms - WINDOW_S * 1000) * 1_000_000, at_ms * 1_000_000);
    let mut out = Samples::new();
    let mut stale = 0;
    for measurement in server.db.measurements().unwrap() {
        for ((tags, t_ns), value) in stored(&server.db, &measurement, "value") {
            if t_ns <= lo || t_ns > hi {
                continue;
            }
            if value.to_bits() == STALE_NAN_BITS {
                stale += 1;
                continue;
            }
            out.entry(format!("{measurement}{{{tags}}}")).or_default().insert(t_ns / 1_000_000, value.to_bits());
        }
    }
    (out, stale)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Samples that differ between two answers, for a readable failure.
fn differences(a: &Samples, b: &Samples) -> Vec<String> {
    let mut out = Vec::new();
    for (series, samples) in a {
        match b.get(series) {
            None => out.push(format!("{series}: only in the first ({} samples)", samples.len())),
            Some(other) if other != samples => out.push(format!("{series}: {samples:?} vs {other:?}")),
            Some(_) => {}
        }
    }
    out.extend(b.keys().filter(|s| !a.contains_key(*s)).map(|s| format!("{s}: only in the second")));
    out.truncate(10);
    out
}

#[test]
fn prometheus_remote_writes_what_it_stores_and_reads_it_back() {
    let server = TestServer::start("remote_write_prometheus");
    let dir = TempDir::new("remote_write_prometheus_peers");

    let exporter_port = free_port();
    let mut exporter = Process::start(
        "node_exporter",
        "prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{exporter_port}")],
        dir.as_path(),
    );
    exporter.wait_ready(&format!("http://127.0.0.1:{exporter_port}/metrics"));

    // One shard, so samples reach Chronicle in the order Prometheus
    // appended them: a sample past a time means all before it arrived.
    let scraper_config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
remote_write:
  - url: "{}"
    queue_config:
      min_shards: 1
      max_shards: 1
      batch_send_deadline: 1s
"#,
        server.url("/api/v1/write")
    );
    let (scraper, scraper_base) = prometheus("prometheus", dir.as_path(), &scraper_config, &[]);
    std::thread::sleep(RUN);
    let at_ms = now_ms();

    // Wait until Chronicle holds an `up` sample newer than the window's end.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let newest = if server.db.has_measurement("up").unwrap() {
            stored(&server.db, "up", "value").keys().map(|(_, t)| *t).max().unwrap_or(i64::MIN)
        } else {
            i64::MIN
        };
        if newest > at_ms * 1_000_000 {
            break;
        }
        assert!(Instant::now() < deadline, "remote write stalled; Prometheus log:\n{}", scraper.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    let everything = r#"{__name__=~".+"}"#;
    let expected = ask(&scraper_base, everything, at_ms);
    drop(scraper);
    drop(exporter);
    let (got, stale) = held(&server, at_ms);
    let samples = |s: &Samples| s.values().map(BTreeMap::len).sum::<usize>();
    println!(
        "window of {WINDOW_S} s ending {at_ms} ms: Prometheus {} series, {} samples; Chronicle {} series, {} samples (+{stale} stale markers)",
        expected.len(),
        samples(&expected),
        got.len(),
        samples(&got)
    );
    assert!(expected.len() > 100, "node_exporter gives hundreds of series: {}", expected.len());
    assert!(samples(&expected) > 10 * expected.len(), "at least ten scrapes were stored");
    assert_eq!(got.len(), expected.len(), "series counts differ: {:?}", differences(&expected, &got));
    assert_eq!(samples(&got), samples(&expected), "sample counts differ: {:?}", differences(&expected, &got));
    assert!(got == expected, "samples differ: {:?}", differences(&expected, &got));

    // A Prometheus with nothing of its own reads Chronicle through remote read.
    let reader_config = format!(
        r#"global:
  scrape_interval: 1m
remote_read:
  - url: "{}"
    read_recent: true
"#,
        server.url("/api/v1/read")
    );
    let (reader, reader_base) = prometheus("prometheus-reader", dir.as_path(), &reader_config, &[]);
    let read = ask(&reader_base, everything, at_ms);
    assert!(read == expected, "remote read differs: {:?}", differences(&expected, &read));
    // Every matcher type, against the same selection made locally.
    let selector = r#"{__name__=~"node_cpu_seconds_total|up", mode!="idle", job="node", cpu!~"[1-9][0-9]*"}"#;
    let read = ask(&reader_base, selector, at_ms);
    let local: Samples = expected
        .iter()
        .filter(|(series, _)| {
            let cpu = series.starts_with("node_cpu_seconds_total{")
                && series.contains("cpu=0,")
                && !series.contains("mode=idle");
            series.starts_with("up{") || cpu
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(!local.is_empty() && local.len() < expected.len());
    assert!(read == local, "remote read with matchers differs: {:?}", differences(&local, &read));
    drop(reader);
}
