//! `/query` in Chronicle's form over real HTTP: every output format decoded
//! by its own reader (serde_json, Arrow's CSV, IPC and Parquet readers) and
//! compared with the rows the test wrote; a JSON result of more than one
//! batch streamed; the language found without `lang`; bad queries refused
//! with where they went wrong; the query timeout cancelling a query; the
//! concurrency limit; read tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chronicle::http::{AuthConfig, Scope, ServerConfig, Token};
use chronicle::{Config, Row};
use common::server::TestServer;
use datafusion::arrow::compute::cast;
use serde_json::Value;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;
const S: i64 = 1_000_000_000;
/// Rows per host: three hosts make more rows than one batch (8192).
const N: i64 = 4000;
const HOSTS: [&str; 3] = ["a", "b", "c"];
/// Each host's offset from the whole second, so times need fractions.
const OFFSETS: [i64; 3] = [0, 1_000_000, 1_000];

/// One row as the test expects it back.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    time: i64,
    /// `time` as RFC 3339, worked out here by hand.
    text: String,
    host: String,
    region: Option<String>,
    usage: f64,
    idle: Option<f64>,
}

/// The rows written: host a alone has a region; idle on even rows only.
fn expected() -> Vec<Expected> {
    let mut out = Vec::new();
    for (h, host) in HOSTS.iter().enumerate() {
        for i in 0..N {
            let seconds = i * 10;
            let fraction = [".", ".001", ".000001"][h].trim_end_matches('.');
            out.push(Expected {
                time: T0 + seconds * S + OFFSETS[h],
                text: format!(
                    "2026-01-01T{:02}:{:02}:{:02}{fraction}Z",
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60
                ),
                host: (*host).to_owned(),
                region: (h == 0).then(|| "eu".to_owned()),
                usage: ((i * 7 + h as i64 * 3) % 101) as f64 * 0.5,
                idle: (i % 2 == 0).then_some(100.0 - (i % 13) as f64),
            });
        }
    }
    out
}

/// Tests of this file run one at a time: the timeout test measures the CPU
/// time of the whole process, which another test's queries would spend.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start(name: &str, server: ServerConfig) -> (TestServer, Vec<Expected>) {
    let server = TestServer::start_with(name, Config::default(), server);
    let rows = expected();
    let written: Vec<Row> = rows
        .iter()
        .map(|e| {
            let mut row = Row::new("cpu", e.time).with_tag("host", &e.host).with_field("usage", e.usage);
            if let Some(region) = &e.region {
                row = row.with_tag("region", region);
            }
            if let Some(idle) = e.idle {
                row = row.with_field("idle", idle);
            }
            row
        })
        .collect();
    server.db.write_rows(&written).unwrap();
    (server, rows)
}

const ALL: &str = "SELECT time, host, region, usage, idle FROM cpu ORDER BY host, time";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error in {}", self.json())).to_owned()
    }
}

fn answer(sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = sent.unwrap();
    let headers =
        response.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
    Answer { status, headers, body }
}

fn post(server: &TestServer, path: &str, body: Value) -> Answer {
    answer(agent().post(server.url(path)).content_type("application/json").send(body.to_string()))
}

fn get(server: &TestServer, path: &str, params: &[(&str, &str)]) -> Answer {
    let mut request = agent().get(server.url(path));
    for (k, v) in params {
        request = request.query(*k, *v);
    }
    answer(request.call())
}

/// Decoded batches as rows, every tag column cast to text.
fn rows_of(batches: &[RecordBatch]) -> Vec<Expected> {
    let mut out = Vec::new();
    for b in batches {
        let text = |name: &str| cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
        let (host, region) = (text("host"), text("region"));
        let (host, region) = (host.as_string::<i32>(), region.as_string::<i32>());
        let time = b.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
        let usage = b.column_by_name("usage").unwrap().as_primitive::<Float64Type>();
        let idle = b.column_by_name("idle").unwrap().as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            out.push(Expected {
                time: time.value(r),
                text: String::new(),
                host: host.value(r).to_owned(),
                region: (!region.is_null(r)).then(|| region.value(r).to_owned()),
                usage: usage.value(r),
                idle: (!idle.is_null(r)).then(|| idle.value(r)),
            });
        }
    }
    out
}

fn without_text(rows: &[Expected]) -> Vec<Expected> {
    rows.iter().cloned().map(|e| Expected { text: String::new(), ..e }).collect()
}

#[test]
fn every_format_returns_the_rows_written() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (server, rows) = start("http_query_formats", ServerConfig::default());

    // JSON, from the body's query: more rows than a batch, streamed
    // (chunked, no length known in advance).
    let json = post(&server, "/query", serde_json::json!({"query": ALL, "lang": "sql"}));
    assert_eq!(json.status, 200, "{}", String::from_utf8_lossy(&json.body));
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.header("transfer-encoding"), Some("chunked"), "{:?}", json.headers);
    assert!(json.header("content-length").is_none());
    let doc = json.json();
    assert_eq!(doc["columns"], serde_json::json!(["time", "host", "region", "usage", "idle"]));
    let got = doc["rows"].as_array().unwrap();
    assert_eq!(got.len(), rows.len());
    assert!(rows.len() > 8192, "the result spans several batches");
    for (row, e) in got.iter().zip(&rows) {
        let got = (
            row[0].as_str().unwrap(),
            row[1].as_str().unwrap(),
            row[2].as_str(),
            row[3].as_f64().unwrap(),
            row[4].as_f64(),
        );
        assert_eq!(got, (e.text.as_str(), e.host.as_str(), e.region.as_deref(), e.usage, e.idle));
        assert!(row[4].is_f64() || row[4].is_u64() || row[4].is_null(), "{row}");
    }

    // CSV, from GET with `format`: a header row, RFC 3339 times, empty nulls.
    let csv = get(&server, "/query", &[("q", ALL), ("format", "csv")]);
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = String::from_utf8(csv.body.clone()).unwrap();
    assert_eq!(text.lines().next(), Some("time,host,region,usage,idle"));
    let schema = Arc::new(Schema::new(vec![
        Field::new("time", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, true),
        Field::new("usage", DataType::Float64, false),
        Field::new("idle", DataType::Float64, true),
    ]));
    let reader =
        datafusion::arrow::csv::ReaderBuilder::new(schema).with_header(true).build(Cursor::new(csv.body)).unwrap();
    let mut parsed = Vec::new();
    for batch in reader {
        let b = batch.unwrap();
        let col = |i: usize| b.column(i).clone();
        let (time, host, region) = (col(0), col(1), col(2));
        let (time, host, region) = (time.as_string::<i32>(), host.as_string::<i32>(), region.as_string::<i32>());
        let (usage, idle) = (col(3), col(4));
        let (usage, idle) = (usage.as_primitive::<Float64Type>(), idle.as_primitive::<Float64Type>());
        for r in 0..b.num_rows() {
            parsed.push((
                time.value(r).to_owned(),
                host.value(r).to_owned(),
                (!region.is_null(r) && !region.value(r).is_empty()).then(|| region.value(r).to_owned()),
                usage.value(r),
                (!idle.is_null(r)).then(|| idle.value(r)),
            ));
        }
    }
    let want: Vec<_> =
        rows.iter().map(|e| (e.text.clone(), e.host.clone(), e.region.clone(), e.usage, e.idle)).collect();
    assert_eq!(parsed, want);

    // Arrow IPC, as `chronicle query --server` asks: POST ?format=arrow.
    let arrow = post(&server, "/query?format=arrow", serde_json::json!({"query": ALL}));
    assert_eq!(arrow.status, 200);
    assert_eq!(arrow.header("content-type"), Some("application/vnd.apache.arrow.stream"));
    let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(Cursor::new(arrow.body), None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert!(batches.len() > 1, "a batch per batch of the result");
    assert_eq!(rows_of(&batches), without_text(&rows));

    // Parquet, by the Accept header.
    let parquet = answer(
        agent()
            .post(server.url("/query"))
            .header("Accept", "application/vnd.apache.parquet")
            .send(serde_json::json!({"query": ALL}).to_string()),
    );
    assert_eq!(parquet.status, 200);
    assert_eq!(parquet.header("content-type"), Some("application/vnd.apache.parquet"));
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        axum::body::Bytes::from(parquet.body),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(rows_of(&batches), without_text(&rows));

    // An empty result still has its columns.
    let empty = get(&server, "/query", &[("q", "SELECT host, usage FROM cpu WHERE usage < 0")]);
    assert_eq!(empty.json(), serde_json::json!({"columns": ["host", "usage"], "rows": []}));

    let metrics = String::from_utf8(get(&server, "/metrics", &[]).body).unwrap();
    assert!(metrics.contains("chronicle_query_duration_seconds_count{lang=\"sql\"} 5\n"), "{metrics}");
}

#[test]
fn the_dialect_is_found_without_lang() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (server, rows) = start("http_query_dialect", ServerConfig::default());
    let minute = 60 * S;
    let q = format!(
        "SELECT mean(usage) FROM cpu WHERE time >= {T0} AND time < {} GROUP BY time(1m), host",
        T0 + 3 * minute
    );
    let doc = get(&server, "/query", &[("q", &q)]);
    assert_eq!(doc.status, 200, "{}", String::from_utf8_lossy(&doc.body));
    let doc = doc.json();
    assert_eq!(doc["columns"], serde_json::json!(["time", "host", "mean"]));
    let mut want = Vec::new();
    for host in HOSTS {
        for m in 0..3 {
            let values: Vec<f64> =
                rows.iter().filter(|e| e.host == host && (e.time - T0) / minute == m).map(|e| e.usage).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let time = format!("2026-01-01T00:{m:02}:00Z");
            want.push((time, host.to_owned(), mean));
        }
    }
    let got: Vec<(String, String, f64)> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_str().unwrap().to_owned(), r[2].as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g.0, &g.1), (&w.0, &w.1));
        assert!((g.2 - w.2).abs() <= 1e-9 * w.2.abs(), "{g:?} vs {w:?}");
    }
    // A text that parses as SQL is run as SQL.
    let sql = get(&server, "/query", &[("q", "SELECT count(*) AS n FROM cpu")]);
    assert_eq!(sql.json()["rows"], serde_json::json!([[rows.len()]]));
}

#[test]
fn bad_queries_are_refused_saying_where() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (server, rows) = start("http_query_bad", ServerConfig::default());
    let refused = |a: Answer| {
        assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(&a.body));
        a.error()
    };
    let e = refused(post(&server, "/query", serde_json::json!({"query": "SELECT (1 FROM cpu", "lang": "sql"})));
    assert!(e.contains("Line: 1, Column: 11"), "{e}");
    let e = refused(post(
        &server,
        "/query",
        serde_json::json!({"query": "SELECT mean(usage) FROM cpu GROUP BY time(1m) fill(", "lang": "chronicle"}),
    ));
    assert!(e.contains("line 1, column"), "{e}");
    let e = refused(post(
        &server,
        "/query",
        serde_json::json!({"query": "SELECT mean(nope) FROM cpu GROUP BY time(1m)", "lang": "chronicle"}),
    ));
    assert!(e.contains("nope"), "{e}");
    let e = refused(get(&server, "/query", &[("q", "SELECT * FROM missing_table")]));
    assert!(e.contains("missing_table"), "{e}");
    let e = refused(get(&server, "/query", &[("q", "SELECT 1"), ("format", "xml")]));
    assert!(e.contains("unknown format \"xml\""), "{e}");
    let e = refused(get(&server, "/query", &[("q", "SELECT make_array(1, 2) AS list"), ("format", "csv")]));
    assert!(e.contains("cannot be written as csv"), "{e}");
    let e = refused(get(&server, "/query", &[("q", "SELECT 1"), ("lang", "promql")]));
    assert!(e.contains("unknown lang \"promql\""), "{e}");
    let e = refused(post(&server, "/query", serde_json::json!({"sql": "SELECT 1"})));
    assert!(e.contains("\"query\""), "{e}");
    let e = refused(get(&server, "/query", &[]));
    assert!(e.contains("missing the query"), "{e}");
    // SQL over HTTP reads only: no files written or read on the server.
    let target = server.dir.path("stolen.csv");
    let copy = format!("COPY (SELECT * FROM cpu) TO '{}'", target.display());
    let e = refused(post(&server, "/query", serde_json::json!({"query": copy, "lang": "sql"})));
    assert!(e.to_lowercase().contains("dml"), "{e}");
    assert!(!target.exists());
    let e = refused(post(
        &server,
        "/query",
        serde_json::json!({"query": "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'", "lang": "sql"}),
    ));
    assert!(e.to_lowercase().contains("ddl"), "{e}");
    // A failure while running (not while planning) is 422.
    let failing =
        post(&server, "/query", serde_json::json!({"query": "SELECT CAST(host AS INT) FROM cpu", "lang": "sql"}));
    assert_eq!(failing.status, 422, "{}", String::from_utf8_lossy(&failing.body));
    assert!(failing.error().contains("Cannot cast"), "{}", failing.error());

    // The server still answers and the data is intact.
    let count = get(&server, "/query", &[("q", "SELECT count(*) FROM cpu")]);
    assert_eq!(count.json()["rows"], serde_json::json!([[rows.len()]]));
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in clock ticks of 1/100 s (USER_HZ).
    Duration::from_millis(ticks * 10)
}

/// A query that would run for hours: a cross join of 10^10 * 12000 rows,
/// whose operator makes thousands of batches per batch it reads.
const ENDLESS: &str = "SELECT sum(r.value * c.usage) FROM cpu c CROSS JOIN range(10000000000) r";

#[test]
fn a_query_past_the_timeout_is_cancelled() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut config = ServerConfig::default();
    config.limits.query_timeout = Duration::from_secs(1);
    let (server, rows) = start("http_query_timeout", config);
    let slow = post(&server, "/query", serde_json::json!({"query": ENDLESS, "lang": "sql"}));
    assert_eq!(slow.status, 503, "{}", String::from_utf8_lossy(&slow.body));
    assert!(slow.error().contains("query timeout of 1s"), "{}", slow.error());
    // Cancelled: the process stops spending CPU on it (a running cross
    // join keeps every core busy) and the next query is answered.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_time() - before;
    assert!(spent < Duration::from_millis(500), "the process used {spent:?} of CPU in 2 s after the timeout");
    let count = get(&server, "/query", &[("q", "SELECT count(*) FROM cpu")]);
    assert_eq!(count.json()["rows"], serde_json::json!([[rows.len()]]));
}

#[test]
fn queries_beyond_the_limit_wait_for_a_slot() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut config = ServerConfig::default();
    config.limits.query_timeout = Duration::from_secs(2);
    config.limits.max_concurrent_queries = 1;
    let (server, _) = start("http_query_slots", config);
    let server = Arc::new(server);
    let started = Instant::now();
    let slow = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            let a = post(&server, "/query", serde_json::json!({"query": ENDLESS, "lang": "sql"}));
            (a.status, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // The one slot is taken: a quick query waits until the slow one is cancelled.
    let quick = get(&server, "/query", &[("q", "SELECT 1 AS one")]);
    let quick_done = started.elapsed();
    let (slow_status, slow_done) = slow.join().unwrap();
    assert_eq!(slow_status, 503);
    assert_eq!(quick.status, 200, "{}", String::from_utf8_lossy(&quick.body));
    assert!(quick_done >= slow_done.saturating_sub(Duration::from_millis(50)), "{quick_done:?} vs {slow_done:?}");
    assert!(quick_done >= Duration::from_secs(2), "the quick query waited for the slot: {quick_done:?}");
}

#[test]
fn a_read_token_queries_and_none_is_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut auth = AuthConfig::default();
    auth.tokens.push(Token::new("reader", "r-secret", Scope::Read));
    let mut config = ServerConfig::default();
    config.auth = auth;
    let (server, rows) = start("http_query_auth", config);
    let anonymous = get(&server, "/query", &[("q", "SELECT count(*) FROM cpu")]);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.error().contains("token"), "{}", anonymous.error());
    let reader = answer(
        agent()
            .get(server.url("/query"))
            .query("q", "SELECT count(*) FROM cpu")
            .header("Authorization", "Bearer r-secret")
            .call(),
    );
    assert_eq!(reader.status, 200);
    assert_eq!(reader.json()["rows"], serde_json::json!([[rows.len()]]));
}

#[test]
fn a_failure_after_the_first_rows_ends_the_body_saying_so() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut config = ServerConfig::default();
    config.limits.query_timeout = Duration::from_secs(1);
    let (server, _) = start("http_query_late_failure", config);
    // Rows come at once and never stop: the timeout strikes mid-body.
    let q = "SELECT r.value, c.usage FROM cpu c CROSS JOIN range(10000000000) r";
    let json = get(&server, "/query", &[("q", q), ("lang", "sql")]);
    assert_eq!(json.status, 200, "the first rows were sent: {}", String::from_utf8_lossy(&json.body));
    let doc = json.json();
    assert!(!doc["rows"].as_array().unwrap().is_empty());
    assert!(doc["error"].as_str().unwrap().contains("query timeout of 1s"), "{}", doc["error"]);
    // CSV cannot say it: the body is cut short, which the client sees.
    let mut csv = agent().get(server.url("/query")).query("q", q).query("format", "csv").call().unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.body_mut().with_config().limit(1 << 30).read_to_vec().is_err(), "a cut body reads as an error");
}
