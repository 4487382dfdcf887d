//! InfluxDB 1.x compatibility of `/query`, against a real `influxd` 1.6
//! holding the same data (written as line protocol to it, as rows to
//! Chronicle): the raw HTTP JSON of SHOW statements and InfluxQL queries,
//! and what the `influx` 1.x CLI prints for `SHOW MEASUREMENTS` and a
//! `SELECT mean(...) ... GROUP BY time(1m)` in its JSON, CSV and column
//! formats, must be the same from both servers.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::fmt::Write as _;
use std::process::Command;

use chronicle::Row;
use common::TempDir;
use common::influxd::InfluxD;
use common::server::TestServer;
use serde_json::Value;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;
const S: i64 = 1_000_000_000;
const DB: &str = "compat";
/// Ten minutes from T0: every query asks for this window.
const WINDOW: &str = "time >= 1767225600000000000 AND time < 1767226200000000000";

/// `cpu` (tags host, region; host b has no region; fields usage, idle, idle
/// missing every third point) every 20 s, `mem` (tag host; field used) every
/// 50 s. Values are multiples of 0.25, so sums and means are exact in any
/// order and both servers print the same digits.
fn dataset() -> Vec<Row> {
    let mut rows = Vec::new();
    for (h, host) in ["a", "b"].into_iter().enumerate() {
        for i in 0..30i64 {
            let mut row = Row::new("cpu", T0 + i * 20 * S + h as i64 * S).with_tag("host", host);
            if host == "a" {
                row = row.with_tag("region", "us");
            }
            row = row.with_field("usage", ((i * 7 + h as i64 * 5) % 41) as f64 * 0.25);
            if i % 3 != 2 {
                row = row.with_field("idle", 100.0 - (i % 11) as f64 * 1.5);
            }
            rows.push(row);
        }
        for i in 0..12i64 {
            let used = 1000.0 + ((i * 13 + h as i64) % 17) as f64 * 0.75;
            rows.push(Row::new("mem", T0 + i * 50 * S).with_tag("host", host).with_field("used", used));
        }
    }
    rows
}

/// The rows as line protocol, written here without Chronicle.
fn line_protocol(rows: &[Row]) -> String {
    let mut out = String::new();
    for (h, host) in ["a", "b"].into_iter().enumerate() {
        for i in 0..30i64 {
            let region = if host == "a" { ",region=us" } else { "" };
            let usage = ((i * 7 + h as i64 * 5) % 41) as f64 * 0.25;
            let idle = if i % 3 != 2 { format!(",idle={}", 100.0 - (i % 11) as f64 * 1.5) } else { String::new() };
            let _ = writeln!(out, "cpu,host={host}{region} usage={usage}{idle} {}", T0 + i * 20 * S + h as i64 * S);
        }
        for i in 0..12i64 {
            let used = 1000.0 + ((i * 13 + h as i64) % 17) as f64 * 0.75;
            let _ = writeln!(out, "mem,host={host} used={used} {}", T0 + i * 50 * S);
        }
    }
    assert_eq!(out.lines().count(), rows.len());
    out
}

/// Both servers holding the dataset.
struct Pair {
    _dir: TempDir,
    influxd: InfluxD,
    influxd_url: String,
    chronicle: TestServer,
}

fn pair(name: &str) -> Pair {
    let dir = TempDir::new(name);
    let influxd = InfluxD::start(dir.as_path());
    influxd.create_database(DB);
    let rows = dataset();
    influxd.write(DB, &line_protocol(&rows));
    let chronicle = TestServer::start(name);
    chronicle.db.write_rows(&rows).unwrap();
    let influxd_url = influxd.base_url().to_owned();
    Pair { _dir: dir, influxd, influxd_url, chronicle }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

/// GET /query with `params`: status and parsed body.
fn query(base: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let mut request = agent().get(format!("{base}/query"));
    for (k, v) in params {
        request = request.query(*k, *v);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{params:?}: not JSON ({e}): {body}")))
}

/// Equal JSON, numbers within 1e-12 relative.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn raw_http_json_matches_influxd() {
    let pair = pair("influx_compat_http");
    let mean = format!("SELECT mean(usage) FROM cpu WHERE {WINDOW} GROUP BY time(1m)");
    let by_tags = format!("SELECT mean(usage), max(idle) FROM cpu WHERE {WINDOW} GROUP BY time(2m), host, region");
    let raw = format!("SELECT usage, idle FROM cpu WHERE host = 'a' AND {WINDOW} LIMIT 8");
    let two = format!("SHOW MEASUREMENTS; SELECT max(used) FROM mem WHERE {WINDOW} GROUP BY time(5m), host");
    let missing = format!("SELECT mean(usage) FROM nothing WHERE {WINDOW}");
    // As Grafana's InfluxQL data source writes a panel's query.
    let grafana = "SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1767225600000ms and time <= 1767226199999ms \
                   GROUP BY time(30s), \"host\" fill(null)";
    let cases: Vec<(String, Option<&str>)> = vec![
        ("SHOW MEASUREMENTS".into(), None),
        ("SHOW TAG KEYS".into(), None),
        ("SHOW TAG KEYS FROM cpu".into(), None),
        ("SHOW TAG VALUES WITH KEY = host".into(), None),
        ("SHOW TAG VALUES FROM \"cpu\" WITH KEY IN (host, region)".into(), None),
        ("SHOW FIELD KEYS".into(), None),
        ("SHOW FIELD KEYS FROM mem".into(), None),
        ("SHOW SERIES".into(), None),
        ("SHOW SERIES FROM cpu".into(), None),
        (mean.clone(), None),
        (mean, Some("ns")),
        (by_tags.clone(), Some("ms")),
        (by_tags, None),
        (raw.clone(), None),
        (raw, Some("s")),
        (two, Some("u")),
        (missing, None),
        (grafana.into(), Some("ms")),
        ("SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"region\"".into(), None),
        ("SHOW MEASUREMENTS LIMIT 1".into(), None),
    ];
    for (q, epoch) in &cases {
        let mut params = vec![("db", DB), ("q", q.as_str())];
        if let Some(epoch) = epoch {
            params.push(("epoch", epoch));
        }
        let (want_status, want) = query(&pair.influxd_url, &params);
        let (status, got) = query(&pair.chronicle.url(""), &params);
        assert_eq!((status, want_status), (200, 200), "{q}: {got} vs {want}");
        assert!(same(&got, &want), "{q} (epoch {epoch:?}):\nchronicle {got}\ninfluxd   {want}");
    }
    // A statement that does not parse fails the request in both.
    for q in ["SELECT FROM", "SHOW TAG VALUES FROM cpu WITH KEY"] {
        let (want_status, want) = query(&pair.influxd_url, &[("db", DB), ("q", q)]);
        let (status, got) = query(&pair.chronicle.url(""), &[("db", DB), ("q", q)]);
        assert_eq!((status, want_status), (400, 400), "{q}: {got} vs {want}");
        assert!(got["error"].as_str().unwrap().starts_with("error parsing query: "), "{got}");
        assert!(want["error"].as_str().unwrap().starts_with("error parsing query: "), "{want}");
    }
    // What Grafana asks first, answered in InfluxDB's shape.
    let (status, got) = query(&pair.chronicle.url(""), &[("db", DB), ("q", "SHOW RETENTION POLICIES ON compat")]);
    assert_eq!(status, 200);
    let (_, want) = query(&pair.influxd_url, &[("db", DB), ("q", "SHOW RETENTION POLICIES ON compat")]);
    assert_eq!(got["results"][0]["series"][0]["columns"], want["results"][0]["series"][0]["columns"]);
    assert_eq!(got["results"][0]["series"][0]["values"][0][0], "autogen");
    // A form body, as Grafana posts it, and an error that stops the rest.
    let mut response = agent()
        .post(pair.chronicle.url("/query"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("db={DB}&q=SELECT+mean%28nope%29+FROM+cpu%3B+SHOW+MEASUREMENTS"))
        .unwrap();
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert!(body["results"][0]["error"].as_str().unwrap().contains("nope"), "{body}");
    assert_eq!(body["results"][1], serde_json::json!({"statement_id": 1, "error": "not executed"}));
    drop(pair.influxd);
}

/// Runs the `influx` CLI against `host:port`; its standard output.
fn influx(addr: &str, format: &str, precision: Option<&str>, q: &str) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut command = Command::new("influx");
    command.args(["-host", host, "-port", port, "-database", DB, "-format", format, "-execute", q]);
    if let Some(precision) = precision {
        command.args(["-precision", precision]);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!("the influx CLI does not run ({e}): run scripts/install-test-deps.sh (Debian influxdb-client)")
    });
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "influx {q} at {addr}: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_influx_cli_prints_the_same_from_both() {
    let pair = pair("influx_compat_cli");
    let influxd = pair.influxd_url.trim_start_matches("http://").to_owned();
    let chronicle = pair.chronicle.addr.to_string();
    let mean = format!("SELECT mean(usage) FROM cpu WHERE {WINDOW} GROUP BY time(1m)");
    let by_host = format!("SELECT mean(usage) FROM cpu WHERE {WINDOW} GROUP BY time(1m), host");
    let cases = [
        ("csv", None, "SHOW MEASUREMENTS"),
        ("json", None, "SHOW MEASUREMENTS"),
        ("column", None, "SHOW MEASUREMENTS"),
        ("json", None, mean.as_str()),
        ("csv", Some("rfc3339"), mean.as_str()),
        ("column", Some("rfc3339"), by_host.as_str()),
        ("csv", Some("s"), by_host.as_str()),
    ];
    for (format, precision, q) in cases {
        let want = influx(&influxd, format, precision, q);
        let got = influx(&chronicle, format, precision, q);
        assert!(want.contains("cpu"), "influxd printed no result for {q}: {want}");
        assert_eq!(got, want, "influx -format {format} -precision {precision:?} -execute {q:?}");
    }
}
