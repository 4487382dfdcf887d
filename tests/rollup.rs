//! Downsampling rules: the rollup a rule writes is exact against an oracle
//! computed here from the raw points (every aggregate, per series and
//! window, every tag kept), late points recompute their windows, progress
//! survives a reopen and a crash at any fsync, and bad rules are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chronicle::testing::{FaultyFs, Op};
use chronicle::{Config, Db, Error, RollupAggregate, RollupError, RollupRule, SyncPolicy, TierConfig};
use common::TempDir;
use common::rollup_data::{
    HOUR, MINUTE, RawPoint, assert_rollup_eq, expected_rollup, generate, rows, series, stored_rollup,
};

const WINDOW: i64 = 5 * MINUTE;

fn rule() -> RollupRule {
    RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m")
}

fn config() -> Config {
    Config::default().with_sync(SyncPolicy::None).with_rollup(rule())
}

/// A point far enough ahead that the partitions before `hours` close
/// (1 h partitions, 5 min late window), in a series of its own.
fn closing(hours: i64) -> RawPoint {
    RawPoint { tags: vec![("host".into(), "z".into())], field: "usage", time: hours * HOUR + 10 * MINUTE, value: 1.0 }
}

/// Writes `points` and the closing point for `hours`, then flushes (which
/// waits for the rollup step). Returns every point written.
fn write_and_close(db: &Db, mut points: Vec<RawPoint>, hours: i64) -> Vec<RawPoint> {
    db.write_rows(&rows(&points)).unwrap();
    let close = closing(hours);
    db.write_rows(&rows(std::slice::from_ref(&close))).unwrap();
    db.flush().unwrap();
    points.push(close);
    points
}

#[test]
fn every_aggregate_of_every_series_and_window_matches_the_oracle() {
    let dir = TempDir::new("rollup-exact");
    let db = Db::open(dir.path("db"), config()).unwrap();
    let points = write_and_close(&db, generate(1, 0, 3 * HOUR), 4);
    let stored = stored_rollup(&db, "cpu_5m");
    // Partitions up to 4 h are closed; the closing point's own is not rolled.
    assert_rollup_eq(&stored, &expected_rollup(&points, WINDOW, 4 * HOUR));
    assert_eq!(stored.len(), 3 * 36, "three series, 36 windows each");
    let c_rows = stored.keys().filter(|(tags, _)| tags == &series()[2]).count();
    assert_eq!(c_rows, 36, "the series without a region keeps only its host tag");
    let status = db.rollup_status("cpu_5m").unwrap().unwrap();
    assert_eq!((status.rolled_to, status.dirty.len()), (4 * HOUR, 0));
    // SQL sees the target as an ordinary measurement.
    assert_eq!(db.tag_keys(Some("cpu_5m")).unwrap(), ["host", "region"]);
    db.close().unwrap();
}

#[test]
fn a_rule_computes_only_its_aggregates() {
    let dir = TempDir::new("rollup-some");
    let config = Config::default()
        .with_sync(SyncPolicy::None)
        .with_rollup(rule().with_aggregates([RollupAggregate::Max, RollupAggregate::Count]));
    let db = Db::open(dir.path("db"), config).unwrap();
    let points = write_and_close(&db, generate(2, 0, HOUR), 2);
    let mut expected = expected_rollup(&points, WINDOW, 2 * HOUR);
    for fields in expected.values_mut() {
        fields.retain(|name, _| name.ends_with("_max") || name.ends_with("_count"));
    }
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected);
    assert_eq!(db.fields("cpu_5m").unwrap(), ["idle_count", "idle_max", "usage_count", "usage_max"]);
    db.close().unwrap();
}

#[test]
fn late_points_recompute_their_windows_and_the_last_write_wins() {
    let dir = TempDir::new("rollup-late");
    let db = Db::open(dir.path("db"), config()).unwrap();
    let mut points = write_and_close(&db, generate(3, 0, 3 * HOUR), 4);
    let a = series()[0].clone();
    let existing = points.iter().find(|p| p.tags == a && p.field == "usage" && p.time > HOUR).unwrap().clone();
    let late = vec![
        // A new point in an old window.
        RawPoint { tags: a.clone(), field: "usage", time: HOUR + 7 * MINUTE + 1, value: 1e6 },
        // An overwrite of a stored point.
        RawPoint { value: -1e6, ..existing },
        // A series new to an old window, with a tag of its own.
        RawPoint {
            tags: vec![("dc".into(), "x".into()), ("host".into(), "d".into())],
            field: "idle",
            time: 2 * MINUTE,
            value: 4.0,
        },
    ];
    db.write_rows(&rows(&late)).unwrap();
    assert!(
        db.rollup_status("cpu_5m").unwrap().unwrap().dirty.is_empty(),
        "nothing is dirty before the late points are flushed"
    );
    db.flush().unwrap();
    points.extend(late);
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 4 * HOUR));
    assert!(db.rollup_status("cpu_5m").unwrap().unwrap().dirty.is_empty());
    db.close().unwrap();
}

#[test]
fn late_points_in_a_tiered_and_compacted_partition_recompute_from_both_tiers() {
    let dir = TempDir::new("rollup-late-tiered");
    let tier = TierConfig::new(format!("file://{}", dir.path("tier").display()));
    let db = Db::open(dir.path("db"), config().with_tier(tier)).unwrap();
    let mut points = write_and_close(&db, generate(11, 0, 3 * HOUR), 4);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for partition in [0, HOUR] {
        runtime.block_on(db.tier_partition(partition)).unwrap();
    }
    // The compaction drops the tiered partitions' chunks: their points are
    // in the tier alone.
    db.compact().unwrap();
    assert!(db.partitions().unwrap().iter().filter(|p| p.start < 2 * HOUR).all(|p| p.blocks == 0));
    let a = series()[0].clone();
    let existing = points.iter().find(|p| p.tags == a && p.field == "usage" && p.time > HOUR).unwrap().clone();
    let late = vec![
        RawPoint { tags: a.clone(), field: "usage", time: 7 * MINUTE + 1, value: 1e6 },
        RawPoint { value: -1e6, ..existing },
    ];
    db.write_rows(&rows(&late)).unwrap();
    db.flush().unwrap();
    points.extend(late);
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 4 * HOUR));
    db.close().unwrap();
}

#[test]
fn progress_survives_a_reopen_and_new_partitions_roll_on() {
    let dir = TempDir::new("rollup-reopen");
    let path = dir.path("db");
    let db = Db::open(&path, config()).unwrap();
    let mut points = write_and_close(&db, generate(4, 0, 2 * HOUR), 3);
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config()).unwrap();
    assert_eq!(db.rollup_status("cpu_5m").unwrap().unwrap().rolled_to, 3 * HOUR);
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 3 * HOUR));
    points = write_and_close(&db, [points, generate(5, 3 * HOUR, 5 * HOUR)].concat(), 6);
    assert_eq!(db.rollup_status("cpu_5m").unwrap().unwrap().rolled_to, 6 * HOUR);
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 6 * HOUR));
    db.close().unwrap();
}

#[test]
fn a_rule_added_later_rolls_the_past_when_a_partition_next_closes() {
    let dir = TempDir::new("rollup-added");
    let path = dir.path("db");
    let plain = Config::default().with_sync(SyncPolicy::None);
    let db = Db::open(&path, plain).unwrap();
    let points = write_and_close(&db, generate(6, 0, 2 * HOUR), 3);
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config()).unwrap();
    let points = write_and_close(&db, points, 4);
    assert_rollup_eq(&stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 4 * HOUR));
    db.close().unwrap();
}

/// A power cut at each fsync of the flush and rollup that a closing write
/// starts (the progress file, the database file, the WAL): after reopening
/// and settling, the rollup is exact over every acknowledged point.
#[test]
fn a_crash_at_any_fsync_of_flush_and_rollup_leaves_an_exact_rollup_after_reopen() {
    let raw = generate(7, 0, 2 * HOUR);
    let mut crash_points = 0;
    for nth in 1.. {
        let dir = TempDir::new(&format!("rollup-crash-{nth}"));
        let path = dir.path("db");
        let fs = Arc::new(FaultyFs::new());
        let faulty = Config::default().with_sync(SyncPolicy::Always).with_fs(fs.clone()).with_rollup(rule());
        let db = Db::open(&path, faulty).unwrap();
        db.write_rows(&rows(&raw)).unwrap();
        fs.fail(Op::Sync, nth);
        let close = closing(3);
        let acked = db.write_rows(&rows(std::slice::from_ref(&close))).is_ok();
        let _ = db.flush();
        let fired = fs.fired() > 0;
        fs.power_cut().unwrap();
        drop(db);
        let db = Db::open(&path, Config::default().with_sync(SyncPolicy::None).with_rollup(rule())).unwrap();
        db.flush().unwrap();
        let mut points = raw.clone();
        // The raw points alone close the first hour (they reach 2 h); the
        // closing point, durable only if acknowledged (a power cut drops
        // what was not fsynced), closes the second as well.
        let closed_to = if acked { 3 * HOUR } else { HOUR };
        if acked {
            points.push(close);
        }
        let stored = stored_rollup(&db, "cpu_5m");
        assert_rollup_eq(&stored, &expected_rollup(&points, WINDOW, closed_to));
        assert_eq!(db.rollup_status("cpu_5m").unwrap().unwrap().rolled_to, closed_to, "crash at fsync {nth}");
        db.close().unwrap();
        if !fired {
            break;
        }
        crash_points += 1;
    }
    assert!(crash_points >= 4, "the closing write, progress, file and WAL fsyncs were each failed: {crash_points}");
}

#[test]
fn bad_rules_are_refused_at_open_with_their_reason() {
    let dir = TempDir::new("rollup-bad");
    let open = |rules: Vec<RollupRule>| {
        let config = rules.into_iter().fold(Config::default(), Config::with_rollup);
        Db::open(dir.path("db"), config).map(|db| db.close())
    };
    let seven = RollupRule::new("cpu", Duration::from_secs(7 * 60), "cpu_7m");
    assert!(matches!(
        open(vec![seven]),
        Err(Error::Rollup(RollupError::WindowNotDividingPartition { partition_ns, .. })) if partition_ns == HOUR
    ));
    let own = RollupRule::new("cpu", Duration::from_secs(300), "cpu");
    assert!(matches!(open(vec![own]), Err(Error::Rollup(RollupError::TargetIsSource { .. }))));
    assert!(matches!(open(vec![rule().with_aggregates([])]), Err(Error::Rollup(RollupError::NoAggregates { .. }))));
    let zero = RollupRule::new("cpu", Duration::ZERO, "cpu_0");
    assert!(matches!(open(vec![zero]), Err(Error::Rollup(RollupError::ZeroWindow { .. }))));
    let twice = RollupRule::new("mem", Duration::from_secs(60), "cpu_5m");
    assert!(matches!(open(vec![rule(), twice]), Err(Error::Rollup(RollupError::DuplicateTarget { .. }))));
    let chained = RollupRule::new("cpu_5m", Duration::from_secs(3600), "cpu_1h");
    let refused = open(vec![rule(), chained]).unwrap_err();
    assert!(refused.to_string().contains("cpu_5m is the target of one rule and the source of another"), "{refused}");
    // The partition duration of an existing file, not of the config, decides.
    let path = dir.path("short");
    let short = Db::open(&path, Config::default().with_partition_duration(Duration::from_secs(600))).unwrap();
    short.write_rows(&rows(&generate(9, 0, MINUTE))).unwrap();
    short.close().unwrap();
    let hourly = RollupRule::new("cpu", Duration::from_secs(3600), "cpu_1h");
    assert!(matches!(
        Db::open(&path, Config::default().with_rollup(hourly)),
        Err(Error::Rollup(RollupError::WindowNotDividingPartition { .. }))
    ));
    assert!(open(vec![rule()]).unwrap().is_ok());
}
