//! The cold tier changes no answer: the same writes go to a database that
//! never tiers and to one that tiers partitions to `memory://` or
//! `file://`, and every query of `common::tiered_cpu::QUERIES` answers
//! the same on both: after tiering, after late writes and overwrites into
//! tiered partitions, after re-tiering, after a compaction that drops the
//! tiered partitions' local chunks, after late writes and a delete (head,
//! file and Parquet alike) into them, and after a reopen. `SELECT *` is
//! also checked against rows built by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use chronicle::{Config, Db, Error, TagMatcher, TierConfig};
use common::TempDir;
use common::tiered_cpu::{HOUR, MINUTE, Model, T0, answer, assert_same_answers, initial, late, rows, select_all};

/// Points (field values) of partition `start` in the file.
fn file_points(db: &Db, start: i64) -> u64 {
    db.partitions().unwrap().iter().find(|p| p.start == start).map_or(0, |p| p.file_points)
}

/// Runs the scenario with the tier at `url`; reopens the tiered database
/// when `durable` (a `memory://` tier lives as long as its handle).
async fn scenario(dir: &TempDir, url: &str, durable: bool) {
    let tier = || Config::default().with_tier(TierConfig::new(url));
    let local = Db::open(dir.path("local"), Config::default()).unwrap();
    let mut tiered = Db::open(dir.path("tiered"), tier()).unwrap();
    let mut model = Model::default();
    model.apply(&initial());
    for db in [&local, &tiered] {
        db.write_rows(&rows(&initial())).unwrap();
        db.flush().unwrap();
    }

    let first = tiered.tier_partition(T0).await.unwrap();
    assert_eq!(first.len(), 1, "one file for the one measurement: {first:?}");
    assert_eq!((first[0].measurement.as_str(), first[0].partition_start, first[0].rows), ("cpu", T0, 18));
    assert!(first[0].url.starts_with(url.trim_end_matches('/')), "{} under {url}", first[0].url);
    tiered.tier_partition(T0 + HOUR).await.unwrap();
    assert_eq!(tiered.tiered_files().unwrap().len(), 2);
    assert_eq!(select_all(&tiered).await, model.select_all(), "tiered, as built by hand");
    assert_same_answers(&local, &tiered).await;

    // Late writes into both tiered partitions: the local values win.
    model.apply(&late());
    for db in [&local, &tiered] {
        db.write_rows(&rows(&late())).unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "late points in memory");
    assert_same_answers(&local, &tiered).await;
    for db in [&local, &tiered] {
        db.flush().unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "late points flushed");
    assert_same_answers(&local, &tiered).await;

    // Tiered again with the late points: the file is replaced.
    let again = tiered.tier_partition(T0).await.unwrap();
    assert_eq!(again[0].rows, 18 + 2, "a new time of c and a new series d");
    assert_ne!(again[0].url, first[0].url, "a new version, a new name");
    assert_eq!(tiered.tiered_files().unwrap().len(), 2);
    assert_same_answers(&local, &tiered).await;

    // Compaction drops the local chunks the Parquet files hold: all of
    // T0's (tiered again after the late flush), and of T0 + 1h all but the
    // late block flushed after it was tiered (b at 60' with two fields, d
    // at 70' with one).
    let untiered = file_points(&tiered, T0 + 2 * HOUR);
    for db in [&local, &tiered] {
        db.compact().unwrap();
    }
    assert_eq!((file_points(&tiered, T0), file_points(&tiered, T0 + HOUR)), (0, 3));
    assert_eq!(file_points(&tiered, T0 + 2 * HOUR), untiered, "a partition not tiered keeps its chunks");
    assert!(file_points(&local, T0) > 0);
    assert_eq!(select_all(&tiered).await, model.select_all(), "local chunks of tiered partitions dropped");
    assert_same_answers(&local, &tiered).await;

    // A late write after that still wins over the Parquet copy, in memory and flushed.
    let later = [("a", T0 + 30 * MINUTE, Some(77.0), Some(0.5)), ("c", T0 + 40 * MINUTE, None, Some(9.0))];
    model.apply(&later);
    for db in [&local, &tiered] {
        db.write_rows(&rows(&later)).unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "a late write over a dropped chunk");
    for db in [&local, &tiered] {
        db.flush().unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "the late write flushed");
    assert_same_answers(&local, &tiered).await;

    // A delete over the Parquet copy, the late block and the head at once.
    let unflushed = [("d", T0 + 50 * MINUTE, Some(5.0), None)];
    model.apply(&unflushed);
    for db in [&local, &tiered] {
        db.write_rows(&rows(&unflushed)).unwrap();
    }
    let (from, to) = (T0 + 15 * MINUTE, T0 + 75 * MINUTE);
    model.delete(&["a", "d"], from, to);
    let hosts = TagMatcher::regex("host", "a|d").unwrap();
    for db in [&local, &tiered] {
        db.delete("cpu", std::slice::from_ref(&hosts), from..=to).unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "deleted from every copy");
    assert_same_answers(&local, &tiered).await;
    for db in [&local, &tiered] {
        db.compact().unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "deleted, then compacted");
    assert_same_answers(&local, &tiered).await;

    if durable {
        tiered.close().unwrap();
        drop(tiered);
        tiered = Db::open(dir.path("tiered"), tier()).unwrap();
        assert_eq!(tiered.tiered_files().unwrap().len(), 2, "the manifest outlives the handle");
        assert_eq!(file_points(&tiered, T0), 1, "a's late write at 30' was deleted; c's at 40' is all T0 holds");
        assert_eq!(select_all(&tiered).await, model.select_all(), "after reopen");
        assert_same_answers(&local, &tiered).await;
    }
    tiered.close().unwrap();
    local.close().unwrap();
}

#[tokio::test]
async fn tiering_to_memory_changes_no_answer() {
    let dir = TempDir::new("tier-differential-memory");
    scenario(&dir, "memory://cold/chronicle", false).await;
}

#[tokio::test]
async fn tiering_to_a_directory_changes_no_answer_and_survives_a_reopen() {
    let dir = TempDir::new("tier-differential-file");
    let url = format!("file://{}", dir.path("cold").display());
    scenario(&dir, &url, true).await;
    let files: Vec<_> = std::fs::read_dir(dir.path("cold").join("cpu")).unwrap().collect();
    assert_eq!(files.len(), 2, "the replaced version was deleted: {files:?}");
}

#[tokio::test]
async fn tiering_needs_a_configured_tier_and_a_partition_start() {
    let dir = TempDir::new("tier-refusals");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let message = db.tier_partition(T0).await.unwrap_err().to_string();
    assert!(message.contains("no cold tier") || message.contains("none is configured"), "{message}");
    let db2 = Db::open(dir.path("db2"), Config::default().with_tier(TierConfig::new("memory://t"))).unwrap();
    match db2.tier_partition(T0 + 1).await {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("not the start of a partition"), "{m}"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    assert!(db2.tier_partition(T0).await.unwrap().is_empty(), "an empty partition writes no file");
}

#[tokio::test]
async fn tier_due_moves_every_partition_past_the_age_once() {
    let dir = TempDir::new("tier-due");
    let tier = TierConfig::new("memory://due").with_older_than(std::time::Duration::from_secs(3600));
    let db = Db::open(dir.path("db"), Config::default().with_tier(tier)).unwrap();
    db.write_rows(&rows(&initial())).unwrap();
    db.flush().unwrap();
    let starts: Vec<i64> = db.tier_due().await.unwrap().iter().map(|f| f.partition_start).collect();
    assert_eq!(starts, [T0, T0 + HOUR, T0 + 2 * HOUR], "the data set's three hours are long past");
    assert!(db.tier_due().await.unwrap().is_empty(), "nothing is tiered twice");
    let never = Db::open(dir.path("never"), Config::default().with_tier(TierConfig::new("memory://n"))).unwrap();
    never.write_rows(&rows(&initial())).unwrap();
    assert!(never.tier_due().await.unwrap().is_empty(), "without an age, only explicit calls tier");
}

#[tokio::test]
async fn files_read_alone_keep_deletes_and_yield_to_late_writes() {
    // Both tiered partitions lose their local chunks, so their files are
    // read without a merge; a delete over them names a tag most queries
    // do not select, then a late write brings back a merge for one.
    let dir = TempDir::new("tier-alone");
    let local = Db::open(dir.path("local"), Config::default()).unwrap();
    let tiered = Db::open(dir.path("tiered"), Config::default().with_tier(TierConfig::new("memory://alone"))).unwrap();
    let mut model = Model::default();
    model.apply(&initial());
    for db in [&local, &tiered] {
        db.write_rows(&rows(&initial())).unwrap();
        db.flush().unwrap();
    }
    for start in [T0, T0 + HOUR] {
        tiered.tier_partition(start).await.unwrap();
    }
    for db in [&local, &tiered] {
        db.compact().unwrap();
    }
    assert_eq!((file_points(&tiered, T0), file_points(&tiered, T0 + HOUR)), (0, 0));
    assert_eq!(select_all(&tiered).await, model.select_all(), "files alone");
    assert_same_answers(&local, &tiered).await;

    let (from, to) = (T0 + 20 * MINUTE, T0 + 70 * MINUTE);
    model.delete(&["b"], from, to);
    for db in [&local, &tiered] {
        db.delete("cpu", &[TagMatcher::eq("host", "b")], from..=to).unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "deleted from files read alone");
    assert_same_answers(&local, &tiered).await;

    let later = [("a", T0 + 30 * MINUTE, Some(77.0), None), ("b", T0 + 40 * MINUTE, None, Some(1.5))];
    model.apply(&later);
    for db in [&local, &tiered] {
        db.write_rows(&rows(&later)).unwrap();
    }
    assert_eq!(select_all(&tiered).await, model.select_all(), "a late write over a file read alone");
    assert_same_answers(&local, &tiered).await;
}

/// A database of [`initial`] and a copy whose first two hours are tiered
/// (to memory) and compacted away from its file.
async fn first_two_hours_tiered(dir: &TempDir) -> (Db, Db) {
    let local = Db::open(dir.path("local"), Config::default()).unwrap();
    let tiered = Db::open(dir.path("tiered"), Config::default().with_tier(TierConfig::new("memory://two"))).unwrap();
    for db in [&local, &tiered] {
        db.write_rows(&rows(&initial())).unwrap();
        db.flush().unwrap();
    }
    for start in [T0, T0 + HOUR] {
        tiered.tier_partition(start).await.unwrap();
    }
    tiered.compact().unwrap();
    (local, tiered)
}

#[tokio::test]
async fn the_latest_rows_skip_the_files_only_while_every_series_is_newer_locally() {
    let lastpoint = "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC";
    let plan = |db: &Db| {
        let db = db.clone();
        async move { answer(&db, &format!("EXPLAIN {lastpoint}")).await }
    };
    let dir = TempDir::new("tier-latest");
    let (local, tiered) = first_two_hours_tiered(&dir).await;
    let explained = plan(&tiered).await;
    assert!(explained.contains("ChronicleLatestExec") && !explained.contains("TierMergeExec"), "{explained}");
    assert_eq!(answer(&tiered, lastpoint).await, answer(&local, lastpoint).await);

    // A late write into a tiered partition is older than a's local points.
    let late = [("a", T0 + 30 * MINUTE, Some(77.0), None)];
    for db in [&local, &tiered] {
        db.write_rows(&rows(&late)).unwrap();
    }
    assert!(!plan(&tiered).await.contains("TierMergeExec"));
    assert_eq!(answer(&tiered, lastpoint).await, answer(&local, lastpoint).await);

    // Deleting c's untiered points leaves its latest in a file; a new
    // series only in a tiered partition has its latest there too.
    for db in [&local, &tiered] {
        db.delete("cpu", &[TagMatcher::eq("host", "c")], T0 + 2 * HOUR..=T0 + 3 * HOUR).unwrap();
    }
    let explained = plan(&tiered).await;
    assert!(explained.contains("TierMergeExec"), "{explained}");
    assert_eq!(answer(&tiered, lastpoint).await, answer(&local, lastpoint).await);
    let only_tiered = [("d", T0 + 20 * MINUTE, Some(42.0), Some(4.2))];
    for db in [&local, &tiered] {
        db.delete("cpu", &[TagMatcher::eq("host", "c")], T0..=T0 + 3 * HOUR).unwrap();
        db.write_rows(&rows(&only_tiered)).unwrap();
    }
    assert!(plan(&tiered).await.contains("TierMergeExec"));
    assert_eq!(answer(&tiered, lastpoint).await, answer(&local, lastpoint).await);
}

#[tokio::test]
async fn the_newest_buckets_skip_the_files_only_when_local_rows_fill_them() {
    let dir = TempDir::new("tier-top-buckets");
    let (local, tiered) = first_two_hours_tiered(&dir).await;
    // The third hour, not tiered, holds six 10-minute buckets.
    let top = |order: &str, k: usize| {
        format!(
            "SELECT date_bin(INTERVAL '10 minutes', time) AS b, max(usage_user) FROM cpu \
             GROUP BY b ORDER BY b {order} LIMIT {k}"
        )
    };
    let cases = [(top("DESC", 3), false), (top("DESC", 6), false), (top("DESC", 7), true), (top("ASC", 3), true)];
    for (sql, reads_files) in cases {
        let explained = answer(&tiered, &format!("EXPLAIN {sql}")).await;
        assert_eq!(explained.contains("TierMergeExec"), reads_files, "{sql}\n{explained}");
        assert_eq!(answer(&tiered, &sql).await, answer(&local, &sql).await, "{sql}");
    }
    // A late write into a tiered partition changes nothing for the newest buckets.
    let late = [("b", T0 + HOUR + 50 * MINUTE, Some(99.0), None)];
    for db in [&local, &tiered] {
        db.write_rows(&rows(&late)).unwrap();
    }
    for sql in [top("DESC", 6), top("DESC", 7)] {
        assert_eq!(answer(&tiered, &sql).await, answer(&local, &sql).await, "{sql}");
    }
}
