//! The compaction policy: the database compacts on its own when closed
//! partitions gather late blocks or the file fills with bytes no index
//! lists, not before, not in a loop, and a failing background compaction
//! loses nothing acknowledged. Expected points are built by hand as they
//! are written; block counts and file sizes come from the directory.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::testing::{FaultyFs, Op};
use chronicle::{CompactionPolicy, CompactionReason, Config, Db, Point, SyncPolicy};
use common::{TempDir, stored};

const HOUR: i64 = 3_600_000_000_000;
const SECOND: i64 = 1_000_000_000;

type Points = BTreeMap<(String, i64), f64>;

/// One-hour partitions closed as soon as a write passes their end, with `policy`.
fn config(policy: CompactionPolicy) -> Config {
    Config::default().with_sync(SyncPolicy::None).with_late_window(Duration::ZERO).with_compaction(policy)
}

/// A policy the flush thread never acts on by itself within a test.
fn by_call(policy: CompactionPolicy) -> CompactionPolicy {
    policy.with_check_interval(Duration::from_secs(3600))
}

fn write(db: &Db, expected: &mut Points, host: &str, times: impl IntoIterator<Item = i64>, value: f64) {
    let points: Vec<Point> = times
        .into_iter()
        .map(|t| {
            expected.insert((host.to_string(), t), value);
            Point::new("m", value, t).with_tag("host", host)
        })
        .collect();
    db.write(&points).expect("writes");
}

/// Partition 0 written and closed (a point of partition 1 passes its end),
/// then `late` flushes each adding a block of overwrites to partition 0.
fn with_late_blocks(db: &Db, expected: &mut Points, late: usize) {
    write(db, expected, "a", (0..600).map(|i| i * SECOND), 1.0);
    write(db, expected, "a", [HOUR], 1.0);
    db.flush().expect("flushes");
    for round in 0..late {
        let times = (0..600).skip(round).step_by(7).map(|i| i * SECOND);
        write(db, expected, "b", times.clone(), round as f64);
        write(db, expected, "a", times, 10.0 + round as f64);
        db.flush().expect("flushes");
    }
}

fn blocks_of_partition_0(db: &Db) -> usize {
    db.partitions().expect("lists")[0].blocks
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("exists").len()
}

#[test]
fn late_blocks_make_a_compaction_due_at_the_threshold_and_not_before() {
    let dir = TempDir::new("policy-late-blocks");
    let path = dir.path("db");
    let db = Db::open(&path, config(by_call(CompactionPolicy::default().with_late_blocks(3)))).expect("opens");
    let mut expected = Points::new();
    with_late_blocks(&db, &mut expected, 2);
    assert_eq!(blocks_of_partition_0(&db), 3);
    assert_eq!(db.compact_if_due().expect("checks"), None, "two late blocks are under the threshold");
    with_late_blocks(&db, &mut expected, 1);
    // Partition 1 is still open: only partition 0's extra blocks count.
    let late = blocks_of_partition_0(&db) - 1;
    assert!(late >= 3, "{late}");
    assert_eq!(db.compact_if_due().expect("compacts"), Some(CompactionReason::LateBlocks { blocks: late }));
    assert_eq!(blocks_of_partition_0(&db), 1);
    assert_eq!(db.compact_if_due().expect("checks"), None, "nothing is due right after");
    assert_eq!(stored(&db), expected, "the last write of every point survives");
    db.close().expect("closes");
    drop(db);
    let db = Db::open(&path, Config::default()).expect("reopens");
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    assert_eq!(stored(&db), expected);
    db.close().expect("closes");
}

#[test]
fn the_flush_thread_compacts_on_its_own_once_late_blocks_pile_up() {
    let dir = TempDir::new("policy-background");
    let path = dir.path("db");
    let policy = CompactionPolicy::default().with_late_blocks(2).with_check_interval(Duration::from_millis(20));
    let db = Db::open(&path, config(policy)).expect("opens");
    let mut expected = Points::new();
    with_late_blocks(&db, &mut expected, 3);
    // No call here compacts: the flush thread looks every 20 ms.
    let deadline = Instant::now() + Duration::from_secs(120);
    while blocks_of_partition_0(&db) > 1 {
        assert!(Instant::now() < deadline, "the flush thread never compacted");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(stored(&db), expected);
    db.close().expect("closes");
}

#[test]
fn a_disabled_policy_never_compacts() {
    let dir = TempDir::new("policy-disabled");
    let db = Db::open(dir.path("db"), config(CompactionPolicy::disabled().with_late_blocks(1))).expect("opens");
    let mut expected = Points::new();
    with_late_blocks(&db, &mut expected, 3);
    assert_eq!(db.compact_if_due().expect("checks"), None);
    assert_eq!(blocks_of_partition_0(&db), 4);
    db.close().expect("closes");
}

#[test]
fn superseded_index_bytes_make_a_compaction_due_once_and_it_reclaims_them() {
    let dir = TempDir::new("policy-garbage");
    let path = dir.path("db");
    let policy = by_call(CompactionPolicy::default().with_garbage(0.5, 0).with_late_blocks(usize::MAX));
    let db = Db::open(&path, config(policy)).expect("opens");
    let mut expected = Points::new();
    // Each flush adds a series and lists it in a new index: the older
    // indexes and series blocks stay in the file, listed by nothing.
    let mut flushes = 0;
    while db.compact_if_due().expect("checks").is_none() {
        flushes += 1;
        assert!(flushes < 200, "200 index rewrites never made a compaction due");
        write(&db, &mut expected, &format!("h{flushes}"), [flushes * SECOND], flushes as f64);
        db.flush().expect("flushes");
        assert_eq!(blocks_of_partition_0(&db), flushes as usize, "one block per flush");
    }
    assert!(flushes >= 2, "a single flush leaves nothing superseded");
    assert_eq!(stored(&db), expected);
    let compacted = file_len(&path);
    assert_eq!(db.compact_if_due().expect("checks"), None, "a compacted file is not due again");
    // Compacting again by hand leaves a file of the same size: nothing more to reclaim.
    db.compact().expect("compacts");
    assert_eq!(file_len(&path), compacted);
    db.close().expect("closes");
}

#[test]
fn a_failed_fsync_of_a_policy_compaction_loses_nothing_acknowledged() {
    let dir = TempDir::new("policy-fsync-fails");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let policy = by_call(CompactionPolicy::default().with_late_blocks(2));
    let db = Db::open(&path, config(policy).with_fs(Arc::new(fs.clone()))).expect("opens");
    let mut expected = Points::new();
    with_late_blocks(&db, &mut expected, 2);
    // The compaction's first fsync is the new file's, before its rename.
    fs.fail(Op::Sync, 1);
    assert!(db.compact_if_due().is_err());
    assert_eq!(fs.fired(), 1);
    assert_eq!(stored(&db), expected, "reads go on");
    let _ = db.close();
    drop(db);
    let db = Db::open(&path, Config::default()).expect("reopens");
    assert_eq!(stored(&db), expected, "every acknowledged point is there after reopening");
    db.close().expect("closes");
}
