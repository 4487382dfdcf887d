//! Golden files (`tests/slt/*.slt`, sqllogictest format) for SQL, the
//! Chronicle dialect and EXPLAIN output, each file run against a fresh
//! database holding the dataset below.
//!
//! A query starting with `DIALECT ` runs through `Db::query_dialect`; any
//! other through `Db::session_context()`. Values print as Arrow displays
//! them (`NULL` for null); EXPLAIN prints one plan line per row.
//! `CHRONICLE_SLT_UPDATE=1 cargo test --test integration slt::` rewrites the expected
//! results from the actual ones (review the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use async_trait::async_trait;
use chronicle::{Config, Db, Row};
use common::TempDir;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{DBOutput, DefaultColumnType};

const MINUTE: i64 = 60_000_000_000;

/// Every slt file's data, the same each run:
/// - `cpu`: host `a` (tag `dc=x`) every minute from 0 to 9m with fields
///   `usage = i` and `idle = 100 - i`; host `b` (no `dc`) at each minute + 30s
///   with `usage = 10 i` only; minutes 4 and 5 missing for both. Minutes 0..6
///   are flushed to the file, the rest stay in memory.
/// - `mem`: host `a`, `used` 1..=4 at 0, 1m, 2m, 3m (a counter reset at 3m: 1, 3, 6, 2).
fn load(db: &Db) {
    let mut rows = Vec::new();
    for i in (0..10i64).filter(|i| !(4..=5).contains(i)) {
        rows.push(
            Row::new("cpu", i * MINUTE)
                .with_tag("host", "a")
                .with_tag("dc", "x")
                .with_field("usage", i as f64)
                .with_field("idle", 100.0 - i as f64),
        );
        rows.push(Row::new("cpu", i * MINUTE + MINUTE / 2).with_tag("host", "b").with_field("usage", 10.0 * i as f64));
    }
    let (early, late): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.timestamp < 6 * MINUTE);
    db.write_rows(&early).unwrap();
    db.flush().unwrap();
    db.write_rows(&late).unwrap();
    let mem: Vec<Row> = [1.0, 3.0, 6.0, 2.0]
        .iter()
        .enumerate()
        .map(|(i, v)| Row::new("mem", i as i64 * MINUTE).with_tag("host", "a").with_field("used", *v))
        .collect();
    db.write_rows(&mem).unwrap();
}

struct Chronicle {
    db: Db,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

#[async_trait]
impl sqllogictest::AsyncDB for Chronicle {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let err = |e: &dyn std::fmt::Display| SltError(e.to_string());
        let batches = match sql.trim_start().strip_prefix("DIALECT ") {
            Some(text) => self.db.query_dialect(text).await.map_err(|e| err(&e))?,
            None => {
                let frame = self.db.session_context().sql(sql).await.map_err(|e| err(&e))?;
                frame.collect().await.map_err(|e| err(&e))?
            }
        };
        let query = sql.trim_start().strip_prefix("DIALECT ").unwrap_or(sql).trim_start();
        let explain = query.get(..7).is_some_and(|w| w.eq_ignore_ascii_case("EXPLAIN"));
        Ok(if explain { plan_rows(&batches) } else { rows(&batches) })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "chronicle"
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        t if t.is_floating() => DefaultColumnType::FloatingPoint,
        t if t.is_integer() => DefaultColumnType::Integer,
        _ => DefaultColumnType::Text,
    }
}

fn rows(batches: &[RecordBatch]) -> DBOutput<DefaultColumnType> {
    let options = FormatOptions::default().with_null("NULL");
    let types = batches.first().map(|b| b.schema().fields().iter().map(|f| column_type(f.data_type())).collect());
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<ArrayFormatter> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..b.num_rows() {
            out.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
        }
    }
    DBOutput::Rows { types: types.unwrap_or_default(), rows: out }
}

/// EXPLAIN output: the plan type, then one row per plan line.
fn plan_rows(batches: &[RecordBatch]) -> DBOutput<DefaultColumnType> {
    let DBOutput::Rows { rows: table, .. } = rows(batches) else { unreachable!() };
    let mut out = Vec::new();
    for row in table {
        out.push(vec![row[0].clone()]);
        out.extend(row[1].lines().filter(|l| !l.trim().is_empty()).map(|l| vec![l.to_string()]));
    }
    DBOutput::Rows { types: vec![DefaultColumnType::Text], rows: out }
}

async fn run_file(path: &Path) {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let dir = TempDir::new(&format!("slt-{name}"));
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    load(&db);
    let conn = db.clone();
    let mut runner = sqllogictest::Runner::new(move || {
        let db = conn.clone();
        async move { Ok(Chronicle { db }) }
    });
    if std::env::var_os("CHRONICLE_SLT_UPDATE").is_some() {
        runner
            .update_test_file(
                path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .unwrap();
    } else if let Err(e) = runner.run_file_async(path).await {
        panic!("{}: {}", path.display(), e.display(true));
    }
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    assert!(files.len() >= 3, "the golden files are missing from {}", dir.display());
    for file in &files {
        run_file(file).await;
    }
}
