//! Retention by age (database-wide and per measurement) and by size, with a
//! clock the test sets: expired partitions are never returned, whole
//! partitions only, from the instant they expire; size retention drops the
//! oldest first; compaction removes them from the file and the cold tier,
//! and a reopen does not bring them back. The oracle is the list of points
//! written, filtered by partition ends computed here.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use chronicle::{Config, Db, ManualClock, Point, Retention, ScanRequest, SyncPolicy, TierConfig};
use common::TempDir;
use futures::TryStreamExt;

const HOUR: i64 = 3_600_000_000_000;
const MINUTE: i64 = HOUR / 60;
/// 2026-01-01T00:00:00Z, a partition start.
const T0: i64 = 1_767_225_600_000_000_000;

fn config(clock: &ManualClock, retention: Retention) -> Config {
    Config::default().with_sync(SyncPolicy::None).with_clock(Arc::new(clock.clone())).with_retention(retention)
}

/// A point of `measurement` every 10 minutes over `hours` hours from T0.
fn points(measurement: &str, hours: i64) -> Vec<Point> {
    (0..hours * 6).map(|i| Point::new(measurement, i as f64, T0 + i * 10 * MINUTE).with_tag("host", "a")).collect()
}

/// The last nanosecond of the (one-hour) partition holding `t`.
fn partition_end(t: i64) -> i64 {
    t - t.rem_euclid(HOUR) + (HOUR - 1)
}

/// Times of `points` whose partition ends at or after `cutoff`.
fn live(points: &[Point], cutoff: i64) -> Vec<i64> {
    points.iter().map(|p| p.timestamp).filter(|&t| partition_end(t) >= cutoff).collect()
}

async fn times(db: &Db, measurement: &str) -> Vec<i64> {
    let sql = format!("SELECT CAST(time AS BIGINT) AS t FROM {measurement} ORDER BY t");
    let batches: Vec<_> = db.query_sql(&sql).await.unwrap().try_collect().await.unwrap();
    batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect()
}

fn scanned_times(db: &Db, measurement: &str) -> Vec<i64> {
    let batches = db.scan(&ScanRequest::new(measurement)).unwrap().collect_batches().unwrap();
    let mut out: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<arrow_array::types::TimestampNanosecondType>().values().to_vec())
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test]
async fn per_measurement_ages_expire_whole_partitions_at_their_instant() {
    let dir = TempDir::new("retention-age");
    let clock = ManualClock::new(T0);
    let retention =
        Retention::new().max_age(Duration::from_secs(3 * 3600)).measurement("debug", Duration::from_secs(3600));
    let db = Db::open(dir.path("db"), config(&clock, retention)).unwrap();
    let (cpu, debug) = (points("cpu", 5), points("debug", 5));
    db.write(&cpu).unwrap();
    db.write(&debug).unwrap();
    db.flush().unwrap();
    // Half the data in memory: expiry does not depend on where points are.
    db.write(&[Point::new("cpu", 9.0, T0 + 4 * HOUR + 5 * MINUTE).with_tag("host", "a")]).unwrap();
    let mut cpu_times = live(&cpu, i64::MIN);
    cpu_times.push(T0 + 4 * HOUR + 5 * MINUTE);
    cpu_times.sort_unstable();

    for now in [T0 + 4 * HOUR - 1, T0 + 4 * HOUR, T0 + 5 * HOUR - 1, T0 + 5 * HOUR, T0 + 6 * HOUR + 30 * MINUTE] {
        clock.set(now);
        let cpu_live: Vec<i64> = cpu_times.iter().copied().filter(|&t| partition_end(t) >= now - 3 * HOUR).collect();
        assert_eq!(times(&db, "cpu").await, cpu_live, "cpu at now = T0 + {} ns", now - T0);
        assert_eq!(scanned_times(&db, "cpu"), cpu_live, "Db::scan at now = T0 + {} ns", now - T0);
        assert_eq!(times(&db, "debug").await, live(&debug, now - HOUR), "debug at now = T0 + {} ns", now - T0);
    }
    // At the expiry instant of partition T0 (its end + the age) all of it is
    // there; one nanosecond later none of it, whatever the query's range.
    clock.set(T0 + HOUR - 1 + 3 * HOUR);
    let count = "SELECT count(*) FROM cpu WHERE time >= '2026-01-01T00:30:00Z' AND time < '2026-01-01T01:00:00Z'";
    let counted = |db: &Db| {
        let db = db.clone();
        async move {
            let b: Vec<_> = db.query_sql(count).await.unwrap().try_collect().await.unwrap();
            b[0].column(0).as_primitive::<Int64Type>().value(0)
        }
    };
    assert_eq!(counted(&db).await, 3);
    clock.advance(1);
    assert_eq!(counted(&db).await, 0);
    db.close().unwrap();
}

#[tokio::test]
async fn size_retention_drops_the_oldest_partitions_first_and_compaction_removes_them() {
    let dir = TempDir::new("retention-size");
    let path = dir.path("db");
    let clock = ManualClock::new(T0);
    let unlimited = Db::open(&path, config(&clock, Retention::new())).unwrap();
    let cpu = points("cpu", 6);
    for hour in 0..6 {
        unlimited.write(&cpu[hour * 6..hour * 6 + 6]).unwrap();
        unlimited.flush().unwrap();
    }
    let sizes: Vec<u64> = unlimited.partitions().unwrap().iter().map(|p| p.file_bytes).collect();
    assert_eq!(sizes.len(), 6);
    unlimited.close().unwrap();
    drop(unlimited);
    // Room for the newest three partitions and a bit.
    let max: u64 = sizes[3..].iter().sum::<u64>() + sizes[0] / 2;
    let db = Db::open(&path, config(&clock, Retention::new().max_bytes(max))).unwrap();
    let mut total: u64 = sizes.iter().sum();
    let mut first_live = 0;
    while total > max {
        total -= sizes[first_live];
        first_live += 1;
    }
    assert_eq!(first_live, 3, "the oldest three go");
    let expected = live(&cpu, T0 + first_live as i64 * HOUR);
    assert_eq!(times(&db, "cpu").await, expected);
    let hosts = db.tag_values("host", Some("cpu"), Some((T0, T0 + 3 * HOUR - 1))).unwrap();
    assert!(hosts.is_empty(), "series only in expired partitions are not listed for that range: {hosts:?}");

    db.compact().unwrap();
    let left: Vec<i64> = db.partitions().unwrap().iter().map(|p| p.start).collect();
    assert_eq!(left, [T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR], "the file holds only live partitions");
    assert_eq!(times(&db, "cpu").await, expected, "compaction shrank the file, nothing came back");
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config(&clock, Retention::new())).unwrap();
    assert_eq!(times(&db, "cpu").await, expected, "a reopen without retention does not bring them back");
    db.close().unwrap();
}

#[tokio::test]
async fn compaction_deletes_the_tiered_files_of_expired_partitions() {
    let dir = TempDir::new("retention-tier");
    let cold = dir.path("cold");
    let url = format!("file://{}", cold.display());
    let clock = ManualClock::new(T0);
    let retention = Retention::new().max_age(Duration::from_secs(2 * 3600));
    let db = Db::open(dir.path("db"), config(&clock, retention).with_tier(TierConfig::new(&url))).unwrap();
    let cpu = points("cpu", 4);
    db.write(&cpu).unwrap();
    db.flush().unwrap();
    for hour in 0..3 {
        assert_eq!(db.tier_partition(T0 + hour * HOUR).await.unwrap().len(), 1);
    }
    let objects = || std::fs::read_dir(cold.join("cpu")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(objects(), 3);
    // Partitions T0 and T0 + 1h expire.
    clock.set(T0 + 2 * HOUR + 2 * HOUR);
    assert_eq!(times(&db, "cpu").await, live(&cpu, T0 + 2 * HOUR), "tiered copies of expired partitions are not read");
    db.compact().unwrap();
    let tiered: Vec<i64> = db.tiered_files().unwrap().iter().map(|f| f.partition_start).collect();
    assert_eq!(tiered, [T0 + 2 * HOUR], "the manifest lists only the live tiered partition");
    assert_eq!(objects(), 1, "the expired partitions' files were deleted from the store");
    assert_eq!(times(&db, "cpu").await, live(&cpu, T0 + 2 * HOUR));
    db.close().unwrap();
}
