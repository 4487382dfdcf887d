//! `Db::delete`: points removed by measurement, tag matchers and time range
//! are gone from every read path at once (head, file, SQL, the stats and
//! latest-row shortcuts, the series listings), writes after the delete into
//! the same range stay, compaction removes the points physically, and a
//! reopen (or a crash) keeps them deleted. The oracle is a `BTreeMap` of
//! the points written, with the deletes applied by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use chronicle::testing::{FaultyFs, Op};
use chronicle::{Config, Db, Error, Point, ScanRequest, SyncPolicy, TagMatcher};
use common::TempDir;
use futures::TryStreamExt;

/// 10-second partitions, so a few hundred points span several.
const PART: i64 = 10_000_000_000;
const STEP: i64 = 1_000_000_000;

/// (host, dc, time) -> value.
type Oracle = BTreeMap<(String, String, i64), f64>;

fn config() -> Config {
    Config::default()
        .with_partition_duration(Duration::from_nanos(PART as u64))
        .with_late_window(Duration::ZERO)
        .with_sync(SyncPolicy::None)
}

/// Points of hosts h0..h3 (dc `east` for even hosts, `west` for odd) at
/// every `STEP` in `from..to`, valued `base + i`.
fn points(from: i64, to: i64, base: f64, oracle: &mut Oracle) -> Vec<Point> {
    let mut out = Vec::new();
    for h in 0..4 {
        let (host, dc) = (format!("h{h}"), if h % 2 == 0 { "east" } else { "west" });
        for (i, t) in (from..to).step_by(STEP as usize).enumerate() {
            let v = base + (h * 1000 + i) as f64;
            oracle.insert((host.clone(), dc.to_string(), t), v);
            out.push(Point::new("cpu", v, t).with_tag("host", host.clone()).with_tag("dc", dc));
        }
    }
    out
}

/// Every point of `cpu`, from a plain scan.
fn scanned(db: &Db) -> Oracle {
    let mut out = Oracle::new();
    for b in db.scan(&ScanRequest::new("cpu")).unwrap() {
        let b = b.unwrap();
        let times = b.column_by_name("time").unwrap().as_primitive::<arrow_array::types::TimestampNanosecondType>();
        let tag = |name: &str, r: usize| {
            let d = b.column_by_name(name).unwrap().as_dictionary::<arrow_array::types::Int32Type>();
            d.values().as_string::<i32>().value(d.keys().value(r) as usize).to_string()
        };
        let values = b.column_by_name("value").unwrap().as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            out.insert((tag("host", r), tag("dc", r), times.value(r)), values.value(r));
        }
    }
    out
}

async fn sql_rows(db: &Db, sql: &str) -> Vec<arrow_array::RecordBatch> {
    db.query_sql(sql).await.unwrap().try_collect().await.unwrap()
}

/// Per host: count, sum, min, max through SQL (chunk stats answer these
/// where a chunk is whole) and the latest time (the latest-row shortcut).
async fn aggregates(db: &Db) -> Vec<(String, i64, f64, f64, f64, i64)> {
    let sql = "SELECT host, count(value), sum(value), min(value), max(value) FROM cpu GROUP BY host ORDER BY host";
    let latest = "SELECT DISTINCT ON (host) host, CAST(time AS BIGINT) AS t FROM cpu ORDER BY host, time DESC";
    let mut last = BTreeMap::new();
    for b in sql_rows(db, latest).await {
        for r in 0..b.num_rows() {
            last.insert(datafusion_string(b.column(0), r), b.column(1).as_primitive::<Int64Type>().value(r));
        }
    }
    let mut out = Vec::new();
    for b in sql_rows(db, sql).await {
        for r in 0..b.num_rows() {
            let host = datafusion_string(b.column(0), r);
            let f = |c: usize| b.column(c).as_primitive::<Float64Type>().value(r);
            let count = b.column(1).as_primitive::<Int64Type>().value(r);
            out.push((host.clone(), count, f(2), f(3), f(4), last[&host]));
        }
    }
    out
}

fn datafusion_string(column: &arrow_array::ArrayRef, r: usize) -> String {
    datafusion::arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
        .unwrap()
        .value(r)
        .to_string()
}

/// What [`aggregates`] must answer for `oracle`.
fn expected(oracle: &Oracle) -> Vec<(String, i64, f64, f64, f64, i64)> {
    let mut per_host: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for ((host, _, t), v) in oracle {
        per_host.entry(host).or_default().push((*t, *v));
    }
    per_host
        .into_iter()
        .map(|(host, points)| {
            let values = points.iter().map(|p| p.1);
            let (min, max) = (values.clone().fold(f64::INFINITY, f64::min), values.clone().fold(f64::MIN, f64::max));
            (host.to_string(), points.len() as i64, values.sum(), min, max, points.iter().map(|p| p.0).max().unwrap())
        })
        .collect()
}

fn delete_where(oracle: &mut Oracle, keep: impl Fn(&str, &str, i64) -> bool) {
    oracle.retain(|(host, dc, t), _| keep(host, dc, *t));
}

#[tokio::test]
async fn a_delete_with_matchers_hides_head_and_file_points_and_later_writes_stay() {
    let dir = TempDir::new("delete-matchers");
    let path = dir.path("db");
    let db = Db::open(&path, config()).unwrap();
    let mut oracle = Oracle::new();
    // Four partitions in the file (two blocks for the second), one in memory.
    db.write(&points(0, 3 * PART, 0.0, &mut oracle)).unwrap();
    db.flush().unwrap();
    db.write(&points(PART + PART / 2, 4 * PART, 0.5, &mut oracle)).unwrap();
    db.flush().unwrap();
    db.write(&points(4 * PART, 5 * PART, 0.25, &mut oracle)).unwrap();
    assert_eq!(aggregates(&db).await, expected(&oracle), "before any delete");

    // Hosts in `east` other than h2, from the middle of partition 1 into the head.
    let (from, to) = (PART + 3 * STEP, 4 * PART + 4 * STEP);
    let matchers = [TagMatcher::eq("dc", "east"), TagMatcher::not_eq("host", "h2")];
    db.delete("cpu", &matchers, from..=to).unwrap();
    delete_where(&mut oracle, |host, dc, t| !(dc == "east" && host != "h2" && (from..=to).contains(&t)));
    assert_eq!(scanned(&db), oracle, "the scan");
    assert_eq!(aggregates(&db).await, expected(&oracle), "SQL aggregates and the latest row");

    // A regex delete of a whole partition, end exclusive.
    let regex = [TagMatcher::regex("host", "h[13]").unwrap()];
    db.delete("cpu", &regex, 2 * PART..3 * PART).unwrap();
    delete_where(&mut oracle, |host, _, t| !((host == "h1" || host == "h3") && (2 * PART..3 * PART).contains(&t)));
    assert_eq!(aggregates(&db).await, expected(&oracle));

    // Writes after the delete into the deleted range are seen, in memory and flushed.
    let again = Point::new("cpu", -7.0, from + STEP).with_tag("host", "h0").with_tag("dc", "east");
    db.write(std::slice::from_ref(&again)).unwrap();
    oracle.insert(("h0".into(), "east".into(), from + STEP), -7.0);
    assert_eq!(scanned(&db), oracle, "a write after the delete, in memory");
    db.flush().unwrap();
    assert_eq!(scanned(&db), oracle, "a write after the delete, flushed");
    assert_eq!(aggregates(&db).await, expected(&oracle));

    // Listings with a range leave out series whose points there are all gone.
    let in_range: std::collections::BTreeSet<String> =
        oracle.keys().filter(|k| (2 * PART..3 * PART).contains(&k.2)).map(|k| k.0.clone()).collect();
    assert_eq!(in_range.len(), 1, "only h2 keeps points in partition 2");
    let hosts = db.tag_values("host", Some("cpu"), Some((2 * PART, 3 * PART - 1))).unwrap();
    assert_eq!(hosts, in_range.into_iter().collect::<Vec<_>>());

    // Compaction removes the points; the reopened database agrees.
    let file_points = |db: &Db| db.partitions().unwrap().iter().map(|p| p.file_points).sum::<u64>();
    db.compact().unwrap();
    assert_eq!(file_points(&db), oracle.len() as u64, "compaction wrote only the points left");
    assert_eq!(scanned(&db), oracle);
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config()).unwrap();
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    assert_eq!(scanned(&db), oracle, "after compaction and reopen");
    assert_eq!(aggregates(&db).await, expected(&oracle));
    db.close().unwrap();
}

/// The database at `path` on a file system that injects faults, every write fsynced.
fn open_faulty(path: &std::path::Path) -> (Db, FaultyFs) {
    let fs = FaultyFs::new();
    let db = Db::open(path, config().with_sync(SyncPolicy::Always).with_fs(Arc::new(fs.clone()))).unwrap();
    (db, fs)
}

#[test]
fn a_reopen_replays_writes_around_a_delete_in_order() {
    let dir = TempDir::new("delete-replay");
    let path = dir.path("db");
    let (db, fs) = open_faulty(&path);
    let mut oracle = Oracle::new();
    // Nothing flushed: every point is in the WAL only.
    db.write(&points(0, 2 * PART, 0.0, &mut oracle)).unwrap();
    db.delete("cpu", &[TagMatcher::eq("host", "h1")], ..).unwrap();
    delete_where(&mut oracle, |host, _, _| host != "h1");
    let after = Point::new("cpu", 99.0, 5 * STEP).with_tag("host", "h1").with_tag("dc", "west");
    db.write(std::slice::from_ref(&after)).unwrap();
    oracle.insert(("h1".into(), "west".into(), 5 * STEP), 99.0);
    assert_eq!(scanned(&db), oracle);
    // A power cut: only what was fsynced survives, which is all of it.
    fs.power_cut().unwrap();
    drop(db);
    let db = Db::open(&path, config()).unwrap();
    assert_eq!(scanned(&db), oracle, "the delete applies between the writes it came between");
    db.close().unwrap();
}

#[test]
fn a_failed_fsync_during_a_delete_loses_nothing_acknowledged() {
    for (op, torn) in [(Op::Sync, false), (Op::Write, false), (Op::Write, true)] {
        let dir = TempDir::new(&format!("delete-fsync-{op:?}-{torn}"));
        let path = dir.path("db");
        let (db, fs) = open_faulty(&path);
        let mut oracle = Oracle::new();
        db.write(&points(0, 2 * PART, 0.0, &mut oracle)).unwrap();
        db.flush().unwrap();
        db.write(&points(2 * PART, 3 * PART, 0.0, &mut oracle)).unwrap();
        match (op, torn) {
            (Op::Write, true) => fs.tear_write(1, 3),
            _ => fs.fail(op, 1),
        }
        let failed = db.delete("cpu", &[TagMatcher::eq("host", "h0")], ..);
        assert!(failed.is_err(), "{op:?}: the delete reports the failure");
        assert!(matches!(db.write(&points(0, 1, 0.0, &mut Oracle::new())), Err(Error::Poisoned(_))));
        drop(db);
        let db = Db::open(&path, config().with_sync(SyncPolicy::Always)).unwrap();
        let found = scanned(&db);
        // The delete was not acknowledged: it happened wholly or not at all.
        let mut deleted = oracle.clone();
        delete_where(&mut deleted, |host, _, _| host != "h0");
        assert!(found == oracle || found == deleted, "{op:?} torn={torn}: {} points", found.len());
        if torn {
            assert_eq!(found, oracle, "a torn index append leaves the delete undone");
        }
        db.close().unwrap();
    }
}

#[test]
fn bad_deletes_are_typed_errors_and_unknown_names_delete_nothing() {
    let dir = TempDir::new("delete-bad-input");
    let db = Db::open(dir.path("db"), config()).unwrap();
    let mut oracle = Oracle::new();
    db.write(&points(0, PART, 0.0, &mut oracle)).unwrap();
    let (late, early) = (10, 5);
    for bad in [db.delete("cpu", &[], late..=early), db.delete("cpu", &[], late..late)] {
        match bad {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("start is after its end"), "{m}"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
    match TagMatcher::regex("host", "h(") {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("invalid regex"), "{m}"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    db.delete("memory", &[], ..).unwrap();
    db.delete("cpu", &[TagMatcher::eq("host", "nobody")], ..).unwrap();
    assert_eq!(scanned(&db), oracle, "nothing was deleted");
    db.close().unwrap();
}
