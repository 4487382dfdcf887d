//! SQL over a Chronicle database through DataFusion: results, pushdown
//! (visible in EXPLAIN), SQL NULL semantics of tag filters, dynamic tables,
//! limits, declared ordering, and chunk pruning that never resurrects an
//! overwritten value.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use chronicle::{Config, Db, Point, Row};
use futures::StreamExt;

const H: i64 = 3_600_000_000_000;
const T0: i64 = 1_767_225_600_000_000_000;

fn temp_db(name: &str) -> (std::path::PathBuf, Db) {
    let dir = std::env::temp_dir().join(format!("chronicle-sql-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("db"), Config::default()).expect("opens");
    (dir, db)
}

/// cpu: hosts a and b in dc x, host c without dc; three hours, a point a minute.
fn load(db: &Db) {
    let mut rows = Vec::new();
    for minute in 0..180i64 {
        for (host, dc) in [("a", Some("x")), ("b", Some("x")), ("c", None)] {
            let mut row = Row::new("cpu", T0 + minute * 60_000_000_000).with_tag("host", host);
            if let Some(dc) = dc {
                row = row.with_tag("dc", dc);
            }
            let base = match host {
                "a" => 10.0,
                "b" => 20.0,
                _ => 30.0,
            };
            rows.push(row.with_field("usage", base + (minute % 10) as f64).with_field("idle", 100.0 - base));
        }
    }
    db.write_rows(&rows).expect("writes");
    db.flush().expect("flushes");
}

async fn sql(db: &Db, query: &str) -> Vec<RecordBatch> {
    db.session_context().sql(query).await.expect(query).collect().await.expect(query)
}

async fn explain(db: &Db, query: &str) -> String {
    let batches = sql(db, &format!("EXPLAIN {query}")).await;
    datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
}

fn f64s(batches: &[RecordBatch], column: usize) -> Vec<f64> {
    batches.iter().flat_map(|b| b.column(column).as_primitive::<Float64Type>().values().to_vec()).collect()
}

fn i64s(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(column).as_primitive::<Int64Type>().values().to_vec()).collect()
}

#[tokio::test]
async fn aggregates_match_the_data_written() {
    let (dir, db) = temp_db("agg");
    load(&db);
    let out = sql(&db, "SELECT host, count(*), avg(usage), max(idle) FROM cpu GROUP BY host ORDER BY host").await;
    assert_eq!(i64s(&out, 1), vec![180, 180, 180]);
    assert_eq!(f64s(&out, 2), vec![14.5, 24.5, 34.5]);
    assert_eq!(f64s(&out, 3), vec![90.0, 80.0, 70.0]);
    // The time-series aggregates of chronicle-udfs are registered.
    let out = sql(&db, "SELECT spread(usage), percentile(usage, 50) FROM cpu WHERE host = 'a'").await;
    assert_eq!((f64s(&out, 0), f64s(&out, 1)), (vec![9.0], vec![14.0]));
    let hour = format!(
        "SELECT count(*) FROM cpu WHERE time >= to_timestamp_nanos({}) AND time < to_timestamp_nanos({}) AND host = 'a'",
        T0 + H,
        T0 + 2 * H
    );
    assert_eq!(i64s(&sql(&db, &hour).await, 0), vec![60]);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn exact_filters_are_pushed_and_leave_no_filter_behind() {
    let (dir, db) = temp_db("explain");
    load(&db);
    let q = format!("SELECT usage FROM cpu WHERE host = 'a' AND time >= to_timestamp_nanos({}) ", T0 + H);
    let plan = explain(&db, &q).await;
    assert!(plan.contains("ChronicleScanExec: measurement=cpu"), "{plan}");
    assert!(plan.contains("host Eq \"a\""), "{plan}");
    assert!(plan.contains(&format!("time=[{}, {}]", T0 + H, i64::MAX)), "{plan}");
    assert!(!plan.contains("FilterExec"), "exact filters are applied by the scan: {plan}");
    let plan = explain(&db, "SELECT usage FROM cpu WHERE usage > 18").await;
    assert!(plan.contains("FilterExec"), "a field predicate is inexact: {plan}");
    assert!(plan.contains("field_ranges=[usage in Some((18.0, false))..None]"), "{plan}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tag_filters_keep_sql_null_semantics() {
    let (dir, db) = temp_db("nulls");
    load(&db);
    let count = |q: &'static str| {
        let db = db.clone();
        async move { i64s(&sql(&db, q).await, 0)[0] }
    };
    assert_eq!(count("SELECT count(*) FROM cpu WHERE dc != 'y'").await, 360, "host c (no dc) fails dc != 'y'");
    assert_eq!(count("SELECT count(*) FROM cpu WHERE dc IS NULL").await, 180);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE dc IS NOT NULL").await, 360);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE host ~ '^[ab]'").await, 360);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE host !~ 'a'").await, 360);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE host IN ('a', 'c')").await, 360);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE dc NOT IN ('x')").await, 0);
    assert_eq!(count("SELECT count(*) FROM cpu WHERE host = ''").await, 0);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn new_measurements_appear_and_query_sql_streams() {
    let (dir, db) = temp_db("dynamic");
    load(&db);
    let ctx = db.session_context();
    db.write(&[Point::new("temperature", 21.5, T0).with_tag("room", "hall")]).unwrap();
    let tables = ctx
        .sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let names: Vec<String> =
        tables.iter().flat_map(|b| b.column(0).as_string::<i32>().iter().map(|s| s.unwrap().to_string())).collect();
    assert_eq!(names, vec!["cpu", "temperature"]);
    let mut stream = db.query_sql("SELECT room, value FROM temperature").await.unwrap();
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.unwrap().num_rows();
    }
    assert_eq!(rows, 1, "the head is queryable before any flush");
    assert!(db.query_sql("SELECT * FROM nope").await.is_err());
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn limits_and_declared_ordering() {
    let (dir, db) = temp_db("order");
    let points: Vec<Point> = (0..300i64)
        .flat_map(|i| ["b", "a"].map(|h| Point::new("m", i as f64, T0 + i * 60_000_000_000).with_tag("host", h)))
        .collect();
    db.write(&points).unwrap();
    db.flush().unwrap();
    assert_eq!(sql(&db, "SELECT * FROM m LIMIT 7").await.iter().map(|b| b.num_rows()).sum::<usize>(), 7);
    let plan = explain(&db, "SELECT host, time, value FROM m ORDER BY host, time").await;
    assert!(!plan.contains("SortExec"), "the scan's declared order needs no sort: {plan}");
    let out = sql(&db, "SELECT host, time, value FROM m ORDER BY host, time").await;
    let values = f64s(&out, 2);
    assert_eq!(values.len(), 600);
    assert!(values[..300].windows(2).all(|w| w[0] < w[1]) && values[300..].windows(2).all(|w| w[0] < w[1]));
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn pruning_by_stats_never_shows_an_overwritten_value() {
    let (dir, db) = temp_db("prune");
    db.write(&[Point::new("m", 95.0, T0), Point::new("m", 1.0, T0 + 1)]).unwrap();
    db.flush().unwrap();
    // Overwrite the 95 with 10 in a later block of the same partition.
    db.write(&[Point::new("m", 10.0, T0)]).unwrap();
    db.flush().unwrap();
    let out = sql(&db, "SELECT value FROM m WHERE value > 90").await;
    assert!(f64s(&out, 0).is_empty(), "the old 95 must not come back");
    let out = sql(&db, "SELECT value FROM m WHERE value < 5").await;
    assert_eq!(f64s(&out, 0), vec![1.0]);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn field_filters_compare_floats_as_sql_does() {
    // NaN and signed zeros: chunk pruning (min/max skip NaN, a zero bound
    // may be either zero) and the scan's row filter must answer as
    // DataFusion does over the same rows in memory.
    let (dir, db) = temp_db("float-order");
    let points = [
        Point::new("m", 1.0, T0).with_tag("s", "nan"),
        Point::new("m", f64::NAN, T0 + 1).with_tag("s", "nan"),
        Point::new("m", -0.0, T0).with_tag("s", "zero"),
        Point::new("m", 5.0, T0 + 1).with_tag("s", "zero"),
        Point::new("m", 0.0, T0).with_tag("s", "plus"),
    ];
    db.write(&points).unwrap();
    db.flush().unwrap();
    let rows = sql(&db, "SELECT * FROM m").await;
    let memory = datafusion::prelude::SessionContext::new();
    let table = datafusion::datasource::MemTable::try_new(rows[0].schema(), vec![rows]).unwrap();
    memory.register_table("m", std::sync::Arc::new(table)).unwrap();
    for predicate in ["value > 90", "value >= 5", "value < 0", "value = 0", "value <= 0 AND value > -1", "value > -1"] {
        let q = format!("SELECT s, value FROM m WHERE {predicate} ORDER BY s, time");
        let expected = memory.sql(&q).await.unwrap().collect().await.unwrap();
        let pretty = |b: &[RecordBatch]| datafusion::arrow::util::pretty::pretty_format_batches(b).unwrap().to_string();
        assert_eq!(pretty(&sql(&db, &q).await), pretty(&expected), "{q}");
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn system_tables_describe_the_database() {
    let (dir, db) = temp_db("system");
    load(&db);
    db.write(&[Point::new("temperature", 21.5, T0 + 10 * H).with_tag("room", "hall")]).unwrap();
    let m =
        sql(&db, "SELECT measurement, series, fields, tag_keys FROM chronicle.measurements ORDER BY measurement").await;
    let text = |b: &RecordBatch, c: usize| -> Vec<String> {
        b.column(c).as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect()
    };
    assert_eq!(text(&m[0], 0), ["cpu", "temperature"]);
    assert_eq!(m[0].column(1).as_primitive::<arrow_array::types::UInt64Type>().values().to_vec(), [3, 1]);
    assert_eq!(text(&m[0], 2), ["idle,usage", "value"]);
    assert_eq!(text(&m[0], 3), ["dc,host", "room"]);
    let s = sql(&db, "SELECT tags FROM chronicle.series WHERE measurement = 'cpu' ORDER BY tags").await;
    assert_eq!(text(&s[0], 0), ["dc=x,host=a", "dc=x,host=b", "host=c"]);
    let p = sql(&db, "SELECT blocks, file_points, memory_points FROM chronicle.partitions ORDER BY start").await;
    let n = |c: usize| p[0].column(c).as_primitive::<arrow_array::types::UInt64Type>().values().to_vec();
    // Three flushed hours of 3 series x 60 minutes x 2 fields, then the unflushed temperature.
    assert_eq!(n(0), [1, 1, 1, 0]);
    assert_eq!(n(1), [360, 360, 360, 0]);
    assert_eq!(n(2), [0, 0, 0, 1]);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
