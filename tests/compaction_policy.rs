//! The compaction policy: the database compacts on its own when closed
//! partitions gather late blocks or the file fills with bytes no index
//! lists, or deletes, tierings or retention leave data it would drop; not
//! before, not in a loop; and a failing background compaction loses
//! nothing acknowledged. Expected points are built by hand as they
//! are written; block counts and file sizes come from the directory.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::testing::{FaultyFs, Op};
use chronicle::{
    CompactionPolicy, CompactionReason, Config, Db, ManualClock, Point, Retention, SyncPolicy, TagMatcher, TierConfig,
};
use common::{TempDir, stored};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, UInt64Type};
use futures::TryStreamExt;

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

/// Points of `host` at `times`, recorded in `expected`.
fn points(expected: &mut Points, host: &str, times: impl IntoIterator<Item = i64>, value: f64) -> Vec<Point> {
    times
        .into_iter()
        .map(|t| {
            // Values that vary, so fewer points take fewer bytes.
            let v = value + (t / SECOND) as f64 * 0.37;
            expected.insert((host.to_string(), t), v);
            Point::new("m", v, t).with_tag("host", host)
        })
        .collect()
}

fn write(db: &Db, expected: &mut Points, host: &str, times: impl IntoIterator<Item = i64>, value: f64) {
    db.write(&points(expected, host, times, value)).expect("writes");
}

/// Partition 0 written and closed (a point of partition 1 passes its end),
/// then `late` flushes each adding a block of overwrites to partition 0.
fn with_late_blocks(db: &Db, expected: &mut Points, late: usize) {
    write(db, expected, "a", (0..600).map(|i| i * SECOND), 1.0);
    write(db, expected, "a", [HOUR], 1.0);
    db.flush().expect("flushes");
    for round in 0..late {
        let times = (0..600).skip(round).step_by(7).map(|i| i * SECOND);
        // One write: the flush thread may flush a closed partition's late
        // points between two writes, which would make two blocks.
        let mut late = points(expected, "b", times.clone(), round as f64);
        late.extend(points(expected, "a", times, 10.0 + round as f64));
        db.write(&late).expect("writes");
        db.flush().expect("flushes");
    }
}

fn blocks_of_partition_0(db: &Db) -> usize {
    db.partitions().expect("lists")[0].blocks
}

/// `(state, tiered_files)` of every partition, as `chronicle.partitions` shows them.
async fn states(db: &Db) -> Vec<(String, u64)> {
    let sql = "SELECT state, tiered_files FROM chronicle.partitions ORDER BY start";
    let batches: Vec<RecordBatch> = db.query_sql(sql).await.expect("queries").try_collect().await.expect("runs");
    let mut out = Vec::new();
    for b in &batches {
        let state = b.column(0).as_string::<i32>();
        let files = b.column(1).as_primitive::<UInt64Type>();
        out.extend((0..b.num_rows()).map(|i| (state.value(i).to_string(), files.value(i))));
    }
    out
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
    // No call here compacts: the flush thread looks every 20 ms. Without it
    // partition 0 keeps 4 blocks; it may compact after the second late
    // block already, leaving the third alone (one late block is not due).
    let deadline = Instant::now() + Duration::from_secs(120);
    while blocks_of_partition_0(&db) > 2 {
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

#[tokio::test(flavor = "multi_thread")]
async fn deletes_and_tierings_make_a_compaction_due_that_drops_what_they_mask() {
    let dir = TempDir::new("policy-masked");
    let policy = by_call(CompactionPolicy::default());
    // Partitions stay open (no background flush, so no background check races these calls).
    let config = config(policy).with_late_window(Duration::from_secs(86_400));
    let db = Db::open(dir.path("db"), config.with_tier(TierConfig::new("memory://policy"))).expect("opens");
    let mut expected = Points::new();
    write(&db, &mut expected, "a", (0..600).map(|i| i * SECOND), 1.0);
    write(&db, &mut expected, "b", (0..600).map(|i| i * SECOND), 2.0);
    db.flush().expect("flushes");
    assert_eq!(db.compact_if_due().expect("checks"), None);

    db.delete("m", &[TagMatcher::eq("host", "b")], 0..=99 * SECOND).expect("deletes");
    expected.retain(|(host, t), _| !(host == "b" && *t < 100 * SECOND));
    let bytes_before = db.partitions().expect("lists")[0].file_bytes;
    assert_eq!(db.compact_if_due().expect("compacts"), Some(CompactionReason::Masked { tombstones: 1 }));
    assert!(db.partitions().expect("lists")[0].file_bytes < bytes_before, "the deleted points left the file");
    assert_eq!(db.compact_if_due().expect("checks"), None, "nothing is due right after");
    assert_eq!(stored(&db), expected);

    db.tier_partition(0).await.expect("tiers partition 0");
    assert_eq!(states(&db).await, [("tiered_local".to_string(), 1)]);
    assert_eq!(db.compact_if_due().expect("compacts"), Some(CompactionReason::Masked { tombstones: 1 }));
    assert_eq!(states(&db).await, [("tiered".to_string(), 1)], "listed though only the tier holds it");
    let local_bytes =
        |db: &Db| db.partitions().expect("lists").iter().filter(|p| p.start == 0).map(|p| p.file_bytes).sum::<u64>();
    assert_eq!(local_bytes(&db), 0, "the tiered partition's chunks left the local file");
    assert_eq!(db.compact_if_due().expect("checks"), None);
    // `Db::scan` reads the local file and memory; SQL reads both tiers.
    let batches = db.query_sql("SELECT count(value) AS n, sum(value) AS s FROM m").await.expect("queries");
    let batches: Vec<RecordBatch> = batches.try_collect().await.expect("runs");
    let column = |name: &str| -> f64 {
        let c = cast(batches[0].column_by_name(name).expect("column"), &DataType::Float64).expect("casts");
        c.as_primitive::<Float64Type>().value(0)
    };
    assert_eq!(column("n"), expected.len() as f64, "every point still read once, from the tier");
    let sum: f64 = expected.values().sum();
    assert!((column("s") - sum).abs() <= 1e-9 * sum.abs(), "{} vs {sum}", column("s"));
    db.close().expect("closes");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_partitions_make_a_compaction_due_that_drops_them() {
    let dir = TempDir::new("policy-expired");
    let clock = ManualClock::new(0);
    let policy = by_call(CompactionPolicy::default());
    let config = config(policy)
        .with_late_window(Duration::from_secs(86_400))
        .with_retention(Retention::new().max_age(Duration::from_secs(2 * 3600)))
        .with_clock(Arc::new(clock.clone()));
    let db = Db::open(dir.path("db"), config).expect("opens");
    let mut expected = Points::new();
    for p in 0..3 {
        write(&db, &mut expected, "a", (0..60).map(|i| p * HOUR + i * SECOND), p as f64);
    }
    db.flush().expect("flushes");
    // Partition 0 ends at 1 h - 1 ns: expired once that is more than 2 h ago.
    clock.set(3 * HOUR - 1);
    assert_eq!(db.compact_if_due().expect("checks"), None, "partition 0 ended exactly 2 h ago: not expired yet");
    clock.set(3 * HOUR);
    let shown: Vec<String> = states(&db).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(shown, ["expired", "file", "file"]);
    assert_eq!(db.compact_if_due().expect("compacts"), Some(CompactionReason::Expired { partition_start: 0 }));
    let starts: Vec<i64> = db.partitions().expect("lists").iter().map(|p| p.start).collect();
    assert_eq!(starts, [HOUR, 2 * HOUR], "partition 0 left the file");
    assert_eq!(db.compact_if_due().expect("checks"), None);
    expected.retain(|(_, t), _| *t >= HOUR);
    assert_eq!(stored(&db), expected);
    db.close().expect("closes");
}
