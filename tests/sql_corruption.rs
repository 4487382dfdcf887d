//! Damage a query finds while it runs comes back as `Error::Corrupt`, with
//! the file and the byte offset, through every query entry point (SQL, the
//! dialect, the structured `Query`), not as a DataFusion error to downcast.
//!
//! The database holds one flushed partition; a byte in the middle of its
//! chunks is flipped. Opening reads only block directories, so the damage is
//! found by the first query that decodes the chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::ops::Range;
use std::path::{Path, PathBuf};

use chronicle::query::dialect::Aggregate;
use chronicle::query::{Aggregation, Query};
use chronicle::{Config, Db, Error, Point};
use common::TempDir;
use datafusion::arrow::array::RecordBatch;
use futures::TryStreamExt;

/// Bytes of the database file header.
const FILE_HEADER: usize = 10;
/// Bytes of a block header: type u8, len u32, crc u32.
const BLOCK_HEADER: usize = 9;
/// Bytes of a partition payload before its directory: partition i64, dir_len u32, dir_crc u32.
const PARTITION_PREFIX: usize = 16;
/// The type byte of a partition block.
const PARTITION: u8 = 1;

/// A database with two hosts' points in one flushed partition, closed.
fn fixture(dir: &TempDir) -> PathBuf {
    let path = dir.path("db");
    let db = Db::open(&path, Config::default()).unwrap();
    let points: Vec<Point> = (0..200i64)
        .flat_map(|i| ["a", "b"].map(|h| Point::new("cpu", i as f64 + 0.5, i * 1_000_000_000).with_tag("host", h)))
        .collect();
    db.write(&points).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    path
}

/// Flips the middle byte of the chunks of the file's first block (a
/// partition block) and returns the byte range those chunks span.
fn damage_first_chunks(path: &Path) -> Range<u64> {
    let mut bytes = std::fs::read(path).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(bytes[FILE_HEADER], PARTITION, "the first block is the partition");
    let end = FILE_HEADER + BLOCK_HEADER + u32_at(FILE_HEADER + 1);
    let payload = FILE_HEADER + BLOCK_HEADER;
    let chunks = payload + PARTITION_PREFIX + u32_at(payload + 8);
    assert!(chunks < end, "the block holds chunks after its directory");
    bytes[(chunks + end) / 2] ^= 0xFF;
    std::fs::write(path, bytes).unwrap();
    chunks as u64..end as u64
}

/// Checks that `result` failed with the damage at `path` within `chunks`.
fn assert_corrupt<T: std::fmt::Debug>(result: chronicle::Result<T>, path: &Path, chunks: &Range<u64>, what: &str) {
    match result {
        Err(Error::Corrupt { path: p, offset, detail }) => {
            assert_eq!(p, path, "{what}: {detail}");
            assert!(
                chunks.contains(&offset),
                "{what}: offset {offset} lies in the damaged chunks {chunks:?}: {detail}"
            );
        }
        other => panic!("{what}: expected Error::Corrupt, got {other:?}"),
    }
}

/// Runs `sql` through `Db::query_sql` and collects its stream; `?` converts
/// the stream's DataFusion error as any caller's code would.
async fn sql(db: &Db, sql: &str) -> chronicle::Result<Vec<RecordBatch>> {
    let stream = db.query_sql(sql).await?;
    Ok(stream.try_collect().await?)
}

#[tokio::test]
async fn damage_found_by_a_running_query_is_error_corrupt_with_path_and_offset() {
    let dir = TempDir::new("sql_corruption");
    let path = fixture(&dir);
    let chunks = damage_first_chunks(&path);
    let db = Db::open(&path, Config::default()).unwrap();
    assert!(db.recovery_report().is_clean(), "opening reads no chunk: {:?}", db.recovery_report());

    // A plain scan, an aggregate over several partitions of the plan (its
    // error passes through DataFusion's repartitioning), and a sort.
    for query in [
        "SELECT * FROM cpu",
        "SELECT host, avg(value) FROM cpu WHERE value >= 0 GROUP BY host",
        "SELECT host, value FROM cpu ORDER BY value DESC LIMIT 3",
    ] {
        assert_corrupt(sql(&db, query).await, &path, &chunks, query);
    }
    let dialect = "SELECT mean(value) FROM cpu WHERE time >= 0 AND time < 200s GROUP BY time(1m), host";
    assert_corrupt(db.query_dialect(dialect).await, &path, &chunks, dialect);
    let structured = Query::new("cpu").with_aggregation(Aggregation::new(Aggregate::Max, None));
    assert_corrupt(db.query(&structured).await, &path, &chunks, "Query max(value)");
    db.close().unwrap();
}

#[tokio::test]
async fn a_query_error_that_carries_no_chronicle_error_stays_a_query_error() {
    let dir = TempDir::new("sql_corruption_plain");
    let db = Db::open(fixture(&dir), Config::default()).unwrap();
    match sql(&db, "SELECT nope FROM cpu").await {
        Err(Error::Query(e)) => assert!(e.to_string().contains("nope"), "{e}"),
        other => panic!("expected Error::Query, got {other:?}"),
    }
    db.close().unwrap();
}
