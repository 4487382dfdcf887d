//! Deletes reach the rollups: after `Db::delete` over a rolled-up range,
//! the rollup of the source holds exactly the aggregates of the raw points
//! left (an oracle computed here from them), including windows a delete
//! emptied for a series or for every series, after the next flush's step
//! and after a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::time::Duration;

use chronicle::{Config, Db, RollupRule, SyncPolicy, TagMatcher};
use common::TempDir;
use common::rollup_data::{HOUR, MINUTE, RawPoint, assert_rollup_eq, expected_rollup, generate, rows, series};

const WINDOW: i64 = 5 * MINUTE;

fn config() -> Config {
    Config::default().with_sync(SyncPolicy::None).with_rollup(RollupRule::new(
        "cpu",
        Duration::from_secs(300),
        "cpu_5m",
    ))
}

/// A point of a series of its own that closes the partitions before `hours`.
fn closing(hours: i64) -> RawPoint {
    RawPoint { tags: vec![("host".into(), "z".into())], field: "usage", time: hours * HOUR + 10 * MINUTE, value: 1.0 }
}

fn host(p: &RawPoint) -> &str {
    p.tags.iter().find(|(k, _)| k == "host").map_or("", |(_, v)| v.as_str())
}

#[test]
fn a_delete_over_rolled_windows_recomputes_them_from_the_points_left() {
    let dir = TempDir::new("rollup-delete");
    let mut db = Db::open(dir.path("db"), config()).unwrap();
    let mut points = generate(7, 0, 3 * HOUR);
    points.push(closing(4));
    db.write_rows(&rows(&points)).unwrap();
    db.flush().unwrap();
    let stored = |db: &Db| common::rollup_data::stored_rollup(db, "cpu_5m");
    assert_rollup_eq(&stored(&db), &expected_rollup(&points, WINDOW, 4 * HOUR));
    assert!(stored(&db).keys().any(|(tags, w)| tags == &series()[0] && *w == 50 * MINUTE), "a's window at 50'");

    // Host a from 42'17" to 1h35': windows cut in part and whole ones, two partitions.
    let (from, to) = (42 * MINUTE + 17_000_000_000, 95 * MINUTE);
    db.delete("cpu", &[TagMatcher::eq("host", "a")], from..=to).unwrap();
    points.retain(|p| !(host(p) == "a" && (from..=to).contains(&p.time)));
    // Every series from 2h10' to 2h20': two windows with no point left at all.
    db.delete("cpu", &[], 130 * MINUTE..140 * MINUTE).unwrap();
    points.retain(|p| !(130 * MINUTE..140 * MINUTE).contains(&p.time));
    let expected = expected_rollup(&points, WINDOW, 4 * HOUR);
    assert!(!expected.keys().any(|(tags, w)| tags == &series()[0] && *w == 50 * MINUTE), "the oracle lost it");
    assert_rollup_eq(&stored(&db), &expected);

    // The next step (recomputing what the delete marked) and a reopen agree.
    db.write_rows(&rows(&[closing(5)])).unwrap();
    points.push(closing(5));
    db.flush().unwrap();
    assert_rollup_eq(&stored(&db), &expected_rollup(&points, WINDOW, 5 * HOUR));
    db.close().unwrap();
    drop(db);
    db = Db::open(dir.path("db"), config()).unwrap();
    assert_rollup_eq(&stored(&db), &expected_rollup(&points, WINDOW, 5 * HOUR));
    let status = db.rollup_status("cpu_5m").unwrap().unwrap();
    assert!(status.dirty.is_empty(), "{status:?}");
    db.close().unwrap();
}

#[test]
fn a_delete_in_a_partition_not_rolled_yet_leaves_the_rollup_to_its_step() {
    let dir = TempDir::new("rollup-delete-open");
    let db = Db::open(dir.path("db"), config()).unwrap();
    let mut points = generate(8, 0, 2 * HOUR);
    db.write_rows(&rows(&points)).unwrap();
    db.delete("cpu", &[TagMatcher::regex("host", "b|c").unwrap()], 10 * MINUTE..70 * MINUTE).unwrap();
    points.retain(|p| !(matches!(host(p), "b" | "c") && (10 * MINUTE..70 * MINUTE).contains(&p.time)));
    points.push(closing(3));
    db.write_rows(&rows(&[closing(3)])).unwrap();
    db.flush().unwrap();
    assert_rollup_eq(&common::rollup_data::stored_rollup(&db, "cpu_5m"), &expected_rollup(&points, WINDOW, 3 * HOUR));
    db.close().unwrap();
}
