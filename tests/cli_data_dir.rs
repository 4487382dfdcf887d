//! The one-shot commands on a data directory, as a real process: `query`
//! (each format, SQL and the dialect, and against a server's Arrow
//! stream), `import` (line protocol, CSV, Parquet; bad lines named by file
//! and line), `export` (read back with the `parquet` crate) and `inspect`.
//! Expected values come from the rows the test wrote, never from
//! Chronicle's own output.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use chronicle::{Config, Db, Row, ScanRequest};
use common::TempDir;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
const MINUTE: i64 = 60_000_000_000;

fn chronicle(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("CHRONICLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("chronicle runs")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn failed(out: Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// 2 hosts x 90 minutes of cpu: usage = minute/4 (+0.5 on b), idle on host a only.
fn cpu_rows() -> Vec<Row> {
    (0..90i64)
        .flat_map(|m| {
            let a = Row::new("cpu", T0 + m * MINUTE)
                .with_tag("host", "a")
                .with_field("usage", m as f64 / 4.0)
                .with_field("idle", 100.0 - m as f64);
            let b = Row::new("cpu", T0 + m * MINUTE).with_tag("host", "b").with_field("usage", m as f64 / 4.0 + 0.5);
            [a, b]
        })
        .collect()
}

fn load(dir: &Path) {
    let db = Db::open(dir.join("data/chronicle.db"), Config::default()).unwrap();
    db.write_rows(&cpu_rows()).unwrap();
    db.close().unwrap();
}

/// Every row of `measurement` as (tags, time) -> fields, read with the library.
type Stored = BTreeMap<(Vec<(String, String)>, i64), BTreeMap<String, f64>>;

fn stored(data_dir: &Path, measurement: &str) -> Stored {
    let db = Db::open(data_dir.join("chronicle.db"), Config::default()).unwrap();
    let tags = db.tag_keys(Some(measurement)).unwrap();
    let fields = db.fields(measurement).unwrap();
    let mut out = Stored::new();
    for batch in db.scan(&ScanRequest::new(measurement)).unwrap() {
        let batch = batch.unwrap();
        let time = batch.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
        for r in 0..batch.num_rows() {
            let key_tags: Vec<(String, String)> = tags
                .iter()
                .filter_map(|t| {
                    let col = batch.column_by_name(t).unwrap();
                    let col = datafusion::arrow::compute::cast(col, &arrow_schema::DataType::Utf8).unwrap();
                    let col = col.as_string::<i32>();
                    col.is_valid(r).then(|| (t.clone(), col.value(r).to_owned()))
                })
                .collect();
            let values = fields
                .iter()
                .filter_map(|f| {
                    let col = batch.column_by_name(f).unwrap().as_primitive::<Float64Type>();
                    col.is_valid(r).then(|| (f.clone(), col.value(r)))
                })
                .collect();
            out.insert((key_tags, time.value(r)), values);
        }
    }
    db.close().unwrap();
    out
}

/// `rows` as [`Stored`].
fn expected(rows: &[Row]) -> Stored {
    rows.iter()
        .map(|r| {
            let mut tags = r.tags.clone();
            tags.sort();
            ((tags, r.timestamp), r.fields.iter().cloned().collect())
        })
        .collect()
}

#[test]
fn query_prints_each_format_with_the_values_written() {
    let dir = TempDir::new("cli-query-formats");
    load(dir.as_path());
    let sql = "SELECT time, host, usage FROM cpu WHERE time < '2026-01-01T00:03:00Z' ORDER BY host, time";
    let want: Vec<(String, &str, f64)> = ["a", "b"]
        .iter()
        .flat_map(|h| {
            (0..3).map(move |m| {
                (format!("2026-01-01T00:0{m}:00Z"), *h, m as f64 / 4.0 + if *h == "b" { 0.5 } else { 0.0 })
            })
        })
        .collect();

    let csv = ok(chronicle(dir.as_path(), &["query", "--format", "csv", sql]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,host,usage"));
    let got: Vec<(String, String, f64)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_owned(), cells[1].to_owned(), cells[2].parse().unwrap())
        })
        .collect();
    assert_eq!(got, want.iter().map(|(t, h, v)| (t.clone(), h.to_string(), *v)).collect::<Vec<_>>());

    let json: serde_json::Value =
        serde_json::from_str(&ok(chronicle(dir.as_path(), &["query", "--format", "json", sql]))).unwrap();
    let got: Vec<(String, String, f64)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["time"].as_str().unwrap().to_owned(),
                o["host"].as_str().unwrap().to_owned(),
                o["usage"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want.iter().map(|(t, h, v)| (t.clone(), h.to_string(), *v)).collect::<Vec<_>>());

    let table = ok(chronicle(dir.as_path(), &["query", sql]));
    assert!(table.lines().nth(1).unwrap().contains("| time") && table.contains("| host |"), "{table}");
    for (t, h, v) in &want {
        assert!(
            table.lines().any(|l| l.contains(t.as_str())
                && l.contains(&format!("| {h}    |"))
                && l.contains(&format!("| {v:?}"))),
            "{t} {h} {v} in\n{table}"
        );
    }

    // The dialect, detected: per-hour means of usage on host b.
    let text = "SELECT mean(usage) FROM cpu WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(1h)";
    let csv = ok(chronicle(dir.as_path(), &["query", "--format", "csv", text]));
    let mean =
        |range: std::ops::Range<i64>| range.clone().map(|m| m as f64 / 4.0 + 0.5).sum::<f64>() / range.count() as f64;
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "time,mean".to_owned(),
            format!("2026-01-01T00:00:00Z,{:?}", mean(0..60)),
            format!("2026-01-01T01:00:00Z,{:?}", mean(60..90))
        ]
    );
    // The same text forced to SQL is not SQL DataFusion accepts.
    let e = failed(chronicle(dir.as_path(), &["query", "--lang", "sql", text]), 1);
    assert!(e.contains("error:"), "{e}");
}

#[test]
fn query_errors_are_clear() {
    let dir = TempDir::new("cli-query-errors");
    let e = failed(chronicle(dir.as_path(), &["query", "SELECT 1"]), 1);
    assert!(e.contains("no database in data") && e.contains("chronicle.db does not exist"), "{e}");
    assert!(!dir.path("data").exists(), "a query creates nothing");
    load(dir.as_path());
    let e = failed(chronicle(dir.as_path(), &["query", "--lang", "sql", "SELECT nosuch FROM cpu"]), 1);
    assert!(e.contains("nosuch"), "{e}");
    let e = failed(chronicle(dir.as_path(), &["query", "--format", "xml", "SELECT 1"]), 2);
    assert!(e.contains("xml"), "{e}");
    // Data intact after the failures.
    assert_eq!(stored(&dir.path("data"), "cpu"), expected(&cpu_rows()));
}

/// A one-request HTTP server answering `status` with `body`; returns its
/// URL and a handle giving back the request it received (head and body).
fn fake_server(
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut request_body = vec![0; length];
        reader.read_exact(&mut request_body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        (head, request_body)
    });
    (url, handle)
}

#[test]
fn query_against_a_server_decodes_its_arrow_stream() {
    let dir = TempDir::new("cli-query-server");
    // The answer, built with arrow alone.
    let batch = RecordBatch::try_from_iter([
        ("host", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
        ("usage", Arc::new(Float64Array::from(vec![1.25, 7.5])) as ArrayRef),
    ])
    .unwrap();
    let mut body = Vec::new();
    let mut writer = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut body, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    let (url, request) = fake_server("200 OK", "application/vnd.apache.arrow.stream", body);
    let csv = ok(chronicle(
        dir.as_path(),
        &[
            "query",
            "--server",
            &url,
            "--token",
            "t0ken",
            "--lang",
            "sql",
            "--format",
            "csv",
            "SELECT host, usage FROM cpu",
        ],
    ));
    assert_eq!(csv, "host,usage\na,1.25\nb,7.5\n");
    let (head, body) = request.join().unwrap();
    assert!(head.starts_with("POST /query?format=arrow HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains("authorization: bearer t0ken"), "{head}");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, serde_json::json!({"query": "SELECT host, usage FROM cpu", "lang": "sql"}));

    // A refusal quotes the server's message and status.
    let (url, _) = fake_server(
        "400 Bad Request",
        "application/json",
        br#"{"status":"error","errorType":"bad_data","error":"line 1: no such table"}"#.to_vec(),
    );
    let e = failed(chronicle(dir.as_path(), &["query", "--server", &url, "SELECT 1"]), 1);
    assert!(e.contains("400") && e.contains("line 1: no such table"), "{e}");
}

#[test]
fn import_line_protocol_in_batches_and_name_the_bad_line() {
    let dir = TempDir::new("cli-import-lp");
    let text = "# cpu, two hosts\ncpu,host=a usage=1.5,idle=90i 1767225600000000000\n\ncpu,host=b usage=2.5 1767225600000000000\n\
                cpu,host=a usage=3,idle=80i 1767225660000000000\nmem,host=a used=true 1767225600000000000\n";
    std::fs::write(dir.path("good.lp"), text).unwrap();
    let out = chronicle(dir.as_path(), &["import", "--batch-size", "2", "good.lp"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("imported 4 rows (6 points) from 1 file(s)"), "{stderr}");
    let rows = [
        Row::new("cpu", T0).with_tag("host", "a").with_field("usage", 1.5).with_field("idle", 90.0),
        Row::new("cpu", T0).with_tag("host", "b").with_field("usage", 2.5),
        Row::new("cpu", T0 + MINUTE).with_tag("host", "a").with_field("usage", 3.0).with_field("idle", 80.0),
    ];
    assert_eq!(stored(&dir.path("data"), "cpu"), expected(&rows));
    assert_eq!(
        stored(&dir.path("data"), "mem"),
        expected(&[Row::new("mem", T0).with_tag("host", "a").with_field("used", 1.0)])
    );

    // Line 7 of the file is bad, in the fourth batch of two lines.
    let mut bad = String::new();
    for m in 0..6 {
        bad.push_str(&format!("disk,host=a free={m} {}\n", T0 + m * MINUTE));
    }
    bad.push_str("disk,host=a free=\"full\" 1767226000000000000\n");
    std::fs::write(dir.path("bad.txt"), bad).unwrap();
    let e = failed(chronicle(dir.as_path(), &["import", "--batch-size", "2", "bad.txt"]), 1);
    assert!(e.contains("bad.txt: line 7: column ") && e.contains("free"), "{e}");
    assert!(e.contains("imported before: 6 rows"), "{e}");
    let disk = stored(&dir.path("data"), "disk");
    assert_eq!(disk.len(), 6, "the batches before the bad line are stored");
    assert_eq!(stored(&dir.path("data"), "cpu"), expected(&rows), "earlier data intact");

    // Precision and a format forced for an unknown extension.
    std::fs::write(dir.path("seconds.data"), "net,host=a rx=5 1767225600\n").unwrap();
    let e = failed(chronicle(dir.as_path(), &["import", "seconds.data"]), 2);
    assert!(e.contains("seconds.data: unknown extension"), "{e}");
    ok(chronicle(dir.as_path(), &["import", "--format", "lp", "--precision", "s", "seconds.data"]));
    assert_eq!(
        stored(&dir.path("data"), "net"),
        expected(&[Row::new("net", T0).with_tag("host", "a").with_field("rx", 5.0)])
    );
}

#[test]
fn import_to_a_server_posts_line_protocol_that_parses_back_to_the_rows() {
    let dir = TempDir::new("cli-import-server");
    std::fs::write(
        dir.path("w.csv"),
        "time,site,temp\n2026-01-01T00:00:00Z,north pole,-30.5\n1767225660000000000,x=y,2\n",
    )
    .unwrap();
    let (url, request) = fake_server("204 No Content", "text/plain", Vec::new());
    ok(chronicle(dir.as_path(), &["import", "--server", &url, "--token", "w", "--tags", "site", "w.csv"]));
    let (head, body) = request.join().unwrap();
    assert!(head.starts_with("POST /write?precision=ns HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains("authorization: bearer w"), "{head}");
    // Parsed by the same parser the server's /write uses.
    let rows = chronicle::ingest::line_protocol::parse(&body, chronicle::ingest::Precision::Nanoseconds, 0).unwrap();
    assert_eq!(
        rows,
        [
            Row::new("w", T0).with_tag("site", "north pole").with_field("temp", -30.5),
            Row::new("w", T0 + MINUTE).with_tag("site", "x=y").with_field("temp", 2.0),
        ],
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(!dir.path("data").exists(), "nothing written locally");

    let (url, _) = fake_server("400 Bad Request", "application/json", br#"{"error":"line 1: reserved tag"}"#.to_vec());
    let e = failed(chronicle(dir.as_path(), &["import", "--server", &url, "--tags", "site", "w.csv"]), 1);
    assert!(e.contains("400") && e.contains("line 1: reserved tag"), "{e}");
}

#[test]
fn import_csv_with_tags_and_both_time_forms() {
    let dir = TempDir::new("cli-import-csv");
    std::fs::write(
        dir.path("weather.csv"),
        "time,station,temp,humidity\n2026-01-01T00:00:00Z,oslo,-3.5,80\n1767225660000000000,oslo,-3.25,\n\
         2026-01-01T01:00:00+01:00,bergen,4,91\n",
    )
    .unwrap();
    ok(chronicle(dir.as_path(), &["import", "--tags", "station", "weather.csv"]));
    let rows = [
        Row::new("weather", T0).with_tag("station", "oslo").with_field("temp", -3.5).with_field("humidity", 80.0),
        Row::new("weather", T0 + MINUTE).with_tag("station", "oslo").with_field("temp", -3.25),
        Row::new("weather", T0).with_tag("station", "bergen").with_field("temp", 4.0).with_field("humidity", 91.0),
    ];
    assert_eq!(stored(&dir.path("data"), "weather"), expected(&rows));

    std::fs::write(
        dir.path("bad.csv"),
        "time,station,temp\n2026-01-01T00:00:00Z,oslo,1\n2026-01-01T00:01:00Z,oslo,warm\n",
    )
    .unwrap();
    let e = failed(chronicle(dir.as_path(), &["import", "--tags", "station", "--measurement", "w2", "bad.csv"]), 1);
    assert!(e.contains("bad.csv: line 3: column \"temp\": \"warm\" is not a number"), "{e}");
    std::fs::write(dir.path("badtime.csv"), "time,temp\nnoon,1\n").unwrap();
    let e = failed(chronicle(dir.as_path(), &["import", "badtime.csv"]), 1);
    assert!(e.contains("badtime.csv: line 2: column \"time\""), "{e}");
    let e = failed(chronicle(dir.as_path(), &["import", "--tags", "city", "weather.csv"]), 1);
    assert!(e.contains("weather.csv: line 1: no tag column \"city\""), "{e}");
    assert_eq!(stored(&dir.path("data"), "weather"), expected(&rows), "earlier data intact");
}

#[test]
fn import_parquet_written_by_arrow() {
    let dir = TempDir::new("cli-import-parquet");
    let batch = RecordBatch::try_from_iter([
        (
            "time",
            Arc::new(TimestampMillisecondArray::from(vec![T0 / 1_000_000, T0 / 1_000_000 + 60_000, T0 / 1_000_000]))
                as ArrayRef,
        ),
        ("host", Arc::new(StringArray::from(vec![Some("a"), Some("a"), None])) as ArrayRef),
        ("requests", Arc::new(Int64Array::from(vec![Some(10), None, Some(7)])) as ArrayRef),
        ("latency", Arc::new(Float64Array::from(vec![0.25, 0.5, 0.125])) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(dir.path("http.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    ok(chronicle(dir.as_path(), &["import", "http.parquet"]));
    let rows = [
        Row::new("http", T0).with_tag("host", "a").with_field("requests", 10.0).with_field("latency", 0.25),
        Row::new("http", T0 + MINUTE).with_tag("host", "a").with_field("latency", 0.5),
        Row::new("http", T0).with_field("requests", 7.0).with_field("latency", 0.125),
    ];
    assert_eq!(stored(&dir.path("data"), "http"), expected(&rows));

    std::fs::write(dir.path("junk.parquet"), b"not parquet at all").unwrap();
    let e = failed(chronicle(dir.as_path(), &["import", "junk.parquet"]), 1);
    assert!(e.contains("junk.parquet: not a readable Parquet file"), "{e}");
}

#[test]
fn export_a_time_range_then_read_it_with_parquet_and_import_it_back() {
    let dir = TempDir::new("cli-export");
    load(dir.as_path());
    let out = chronicle(
        dir.as_path(),
        &[
            "export",
            "--measurement",
            "cpu",
            "--start",
            "2026-01-01T00:10:00Z",
            "--end",
            &(T0 + 19 * MINUTE).to_string(),
            "cpu.parquet",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("exported 20 rows"), "{stderr}");

    let file = std::fs::File::open(dir.path("cpu.parquet")).unwrap();
    let mut got = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap() {
        let batch = batch.unwrap();
        let time = batch.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
        let host =
            datafusion::arrow::compute::cast(batch.column_by_name("host").unwrap(), &arrow_schema::DataType::Utf8)
                .unwrap();
        let usage = batch.column_by_name("usage").unwrap().as_primitive::<Float64Type>();
        for r in 0..batch.num_rows() {
            got.push((host.as_string::<i32>().value(r).to_owned(), time.value(r), usage.value(r)));
        }
    }
    let want: Vec<(String, i64, f64)> = cpu_rows()
        .into_iter()
        .filter(|r| (T0 + 10 * MINUTE..=T0 + 19 * MINUTE).contains(&r.timestamp))
        .map(|r| (r.tags[0].1.clone(), r.timestamp, r.fields[0].1))
        .collect::<Vec<_>>();
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut want = want;
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, got_sorted, "sorted by tags, then time");
    assert_eq!(got, want);

    // The exported file imports into a fresh directory as the same rows.
    ok(chronicle(dir.as_path(), &["import", "--data-dir", "copy", "cpu.parquet"]));
    let copy = stored(&dir.path("copy"), "cpu");
    let original: Stored = stored(&dir.path("data"), "cpu")
        .into_iter()
        .filter(|((_, t), _)| (T0 + 10 * MINUTE..=T0 + 19 * MINUTE).contains(t))
        .collect();
    assert_eq!(copy, original);

    let e = failed(chronicle(dir.as_path(), &["export", "--measurement", "nope", "x.parquet"]), 1);
    assert!(e.contains("no measurement \"nope\""), "{e}");
    let e =
        failed(chronicle(dir.as_path(), &["export", "--measurement", "cpu", "--start", "tomorrow", "x.parquet"]), 2);
    assert!(e.contains("tomorrow") && e.contains("RFC 3339"), "{e}");
    let e = failed(chronicle(dir.as_path(), &["export", "--measurement", "cpu", "ftp://host/x.parquet"]), 1);
    assert!(e.contains("ftp://"), "{e}");
}

#[test]
fn inspect_reports_what_was_written_and_what_recovery_found() {
    let dir = TempDir::new("cli-inspect");
    load(dir.as_path());
    let json: serde_json::Value = serde_json::from_str(&ok(chronicle(dir.as_path(), &["inspect", "--json"]))).unwrap();
    let rows = cpu_rows();
    let points: usize = rows.iter().map(|r| r.fields.len()).sum();
    assert_eq!(json["series"], 2);
    assert_eq!(json["points"], points as u64, "{json:#}");
    assert_eq!(json["file_points"], points as u64, "close flushed everything");
    assert_eq!(json["measurements"][0]["name"], "cpu");
    assert_eq!(json["measurements"][0]["fields"], serde_json::json!(["idle", "usage"]));
    let partitions = json["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 2, "90 minutes over two 1 h partitions");
    assert_eq!(partitions[0]["start"], "2026-01-01T00:00:00Z");
    let block_bytes = json["block_bytes"].as_u64().unwrap();
    let bpp = json["bytes_per_point"].as_f64().unwrap();
    assert!((bpp - block_bytes as f64 / points as f64).abs() < 0.001 && bpp > 0.0, "{json:#}");
    let values: u64 =
        json["encodings"]["values"].as_array().unwrap().iter().map(|e| e["values"].as_u64().unwrap()).sum();
    assert_eq!(values, points as u64, "every stored value is in one codec's count");
    assert_eq!(json["recovery"]["clean"], true);

    let text = ok(chronicle(dir.as_path(), &["inspect"]));
    for needle in [
        "series              2",
        &format!("points              {points} "),
        "partition duration  1h",
        "recovery            clean",
        "value encodings",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }

    // A torn WAL tail: inspect shows what recovery dropped (and, having
    // truncated it, finds the log clean the next time).
    let tear = || {
        let wal =
            std::fs::read_dir(dir.path("data/chronicle.db.wal")).unwrap().map(|e| e.unwrap().path()).max().unwrap();
        std::fs::OpenOptions::new().append(true).open(&wal).unwrap().write_all(&[0xAB; 7]).unwrap();
    };
    tear();
    let text = ok(chronicle(dir.as_path(), &["inspect"]));
    assert!(text.contains("DAMAGE FOUND") && text.contains("wal damage"), "{text}");
    tear();
    let json: serde_json::Value = serde_json::from_str(&ok(chronicle(dir.as_path(), &["inspect", "--json"]))).unwrap();
    assert_eq!(json["recovery"]["clean"], false, "{json:#}");
    assert_eq!(json["recovery"]["wal_damage"][0]["bytes"], 7, "{json:#}");
    assert_eq!(json["points"], points as u64, "the data is intact");
    let json: serde_json::Value = serde_json::from_str(&ok(chronicle(dir.as_path(), &["inspect", "--json"]))).unwrap();
    assert_eq!(json["recovery"]["clean"], true, "{json:#}");
}
