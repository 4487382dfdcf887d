//! Parquet export: `Db::export_parquet` and SQL `COPY ... TO`, read back by
//! DataFusion and by DuckDB in Python (the file a user hands to other tools).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use chronicle::{Config, Db, ExportSource, Row};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const T0: i64 = 1_767_225_600_000_000_000;
const MINUTE: i64 = 60_000_000_000;

fn load(dir: &std::path::Path) -> Db {
    let db = Db::open(dir.join("db"), Config::default()).unwrap();
    let rows: Vec<Row> = (0..240i64)
        .flat_map(|m| {
            ["b", "a"].map(|h| {
                Row::new("cpu", T0 + m * MINUTE)
                    .with_tag("host", h)
                    .with_field("usage", (m % 50) as f64 + if h == "a" { 0.5 } else { 0.25 })
            })
        })
        .collect();
    db.write_rows(&rows).unwrap();
    db.flush().unwrap();
    db
}

/// Runs DuckDB in Python on `sql`; returns its printed result.
fn duckdb(sql: &str) -> String {
    let script = format!("import duckdb; print(duckdb.sql({sql:?}).fetchall())");
    let out = Command::new("python3").args(["-c", &script]).output().expect("python3 runs");
    assert!(out.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_measurement_exports_sorted_zstd_dictionary_parquet_that_duckdb_reads() {
    let dir = std::env::temp_dir().join(format!("chronicle-parquet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = load(&dir);
    let file = dir.join("cpu.parquet");
    let path = file.to_str().unwrap();
    let rows = db.export_parquet(ExportSource::Measurement("cpu"), Some((T0, T0 + 120 * MINUTE - 1)), path).await;
    assert_eq!(rows.unwrap(), 240, "two hosts x 120 minutes");

    let ctx = SessionContext::new();
    let back = ctx.read_parquet(path, ParquetReadOptions::default()).await.unwrap().collect().await.unwrap();
    let usage: Vec<f64> = back
        .iter()
        .flat_map(|b| b.column_by_name("usage").unwrap().as_primitive::<Float64Type>().values().to_vec())
        .collect();
    assert_eq!(usage.len(), 240);
    assert_eq!(usage[0], 0.5, "sorted by host then time: host a first");

    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let row_group = reader.metadata().row_group(0);
    for c in row_group.columns() {
        assert!(matches!(c.compression(), Compression::ZSTD(_)), "{:?}", c.compression());
    }
    let host = row_group.columns().iter().find(|c| c.column_path().string() == "host").unwrap();
    assert!(host.dictionary_page_offset().is_some(), "tags are dictionary-encoded");

    let expected: f64 = (0..120).map(|m| 2.0 * (m % 50) as f64 + 0.75).sum();
    let duck = duckdb(&format!("SELECT count(*), sum(usage), min(host) FROM '{path}'"));
    assert_eq!(duck, format!("[(240, {expected:?}, 'a')]"));
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn copy_to_and_query_exports_work_and_bad_ranges_are_refused() {
    let dir = std::env::temp_dir().join(format!("chronicle-parquet-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = load(&dir);
    let copy = dir.join("a.parquet");
    let sql = format!("COPY (SELECT time, usage FROM cpu WHERE host = 'a') TO '{}'", copy.display());
    db.session_context().sql(&sql).await.unwrap().collect().await.unwrap();
    assert_eq!(duckdb(&format!("SELECT count(*) FROM '{}'", copy.display())), "[(240,)]");

    let out = dir.join("max.parquet");
    let query = ExportSource::Query("SELECT host, max(usage) AS peak FROM cpu GROUP BY host ORDER BY host");
    assert_eq!(db.export_parquet(query, None, out.to_str().unwrap()).await.unwrap(), 2);
    assert_eq!(duckdb(&format!("SELECT host, peak FROM '{}'", out.display())), "[('a', 49.5), ('b', 49.25)]");
    let no_time = db.export_parquet(query, Some((0, 1)), out.to_str().unwrap()).await;
    assert!(matches!(no_time, Err(chronicle::Error::InvalidArgument(_))));
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
