//! Flushes and compactions run beside writers and readers: a write completes
//! while a flush or a compaction is held in its fsync, scans planned before
//! their swap return exactly the data (no duplicates, no gaps), and a failed
//! fsync of a background flush poisons the database without losing anything
//! acknowledged. Faults and holds come from `FaultyFs`; the expected points
//! are built by hand as they are written.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chronicle::testing::{FaultyFs, Op};
use chronicle::{Config, Db, Error, Point, ScanRequest, SyncPolicy};
use common::{TempDir, scanned, stored};

const HOUR: i64 = 3_600_000_000_000;
const SECOND: i64 = 1_000_000_000;

type Points = BTreeMap<(String, i64), f64>;

/// One-hour partitions closed as soon as a write passes their end; the WAL
/// never fsyncs, so every fsync after open is the file's.
fn config(fs: &FaultyFs) -> Config {
    Config::default().with_sync(SyncPolicy::None).with_late_window(Duration::ZERO).with_fs(Arc::new(fs.clone()))
}

/// Writes `value` for hosts h0..h2 at each of `times`, recording them in `expected`.
fn write(db: &Db, expected: &mut Points, times: impl IntoIterator<Item = i64>, value: f64) {
    let mut points = Vec::new();
    for t in times {
        for h in 0..3 {
            let host = format!("h{h}");
            points.push(Point::new("m", value + h as f64, t).with_tag("host", host.clone()));
            expected.insert((host, t), value + h as f64);
        }
    }
    db.write(&points).expect("writes");
}

fn reopened(path: &Path) -> Points {
    let db = Db::open(path, Config::default()).expect("reopens");
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    let points = stored(&db);
    db.close().expect("closes");
    points
}

#[test]
fn writes_complete_while_a_flush_waits_for_its_fsync_and_scans_span_the_swap() {
    let dir = TempDir::new("background-flush-held");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(&fs)).expect("opens");
    let mut expected = Points::new();
    write(&db, &mut expected, (0..100).map(|i| i * SECOND), 1.0);
    let hold = fs.hold(Op::Sync, 1);
    // Past partition 0's end: it falls due and the flush thread takes it.
    write(&db, &mut expected, [HOUR + SECOND], 2.0);
    hold.wait_reached();
    // The flush holds its fsync; writers go on into a new head, a late
    // point of the frozen partition included (it must win over the frozen one).
    write(&db, &mut expected, (1..50).map(|i| HOUR + i * SECOND), 3.0);
    write(&db, &mut expected, [5 * SECOND], 4.0);
    assert_eq!(db.flush_count().expect("counts"), 0, "the held flush has not swapped");
    assert_eq!(stored(&db), expected, "reads see frozen and head points, the newest write winning");
    let planned_before = db.scan(&ScanRequest::new("m")).expect("plans");
    let at_plan = expected.clone();
    hold.release();
    // An explicit flush waits for the one in progress, then flushes the rest.
    db.flush().expect("flushes");
    assert!(db.flush_count().expect("counts") >= 2);
    assert_eq!(scanned(planned_before), at_plan, "a scan planned before the swap");
    assert_eq!(stored(&db), expected, "after the swap");
    db.close().expect("closes");
    drop(db);
    assert_eq!(reopened(&path), expected);
}

#[test]
fn writes_complete_while_a_compaction_waits_for_its_fsync_and_scans_span_the_swap() {
    let dir = TempDir::new("background-compaction-held");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(&fs)).expect("opens");
    let mut expected = Points::new();
    write(&db, &mut expected, (0..100).map(|i| i * SECOND), 1.0);
    db.flush().expect("flushes");
    // Overwrites in a second block of the same partition.
    write(&db, &mut expected, (0..100).step_by(3).map(|i| i * SECOND), 2.0);
    db.flush().expect("flushes");
    assert_eq!(db.partitions().expect("lists")[0].blocks, 2);
    // The compaction's first fsync is the new file's, before its rename.
    let hold = fs.hold(Op::Sync, 1);
    let compactor = {
        let db = db.clone();
        std::thread::spawn(move || db.compact())
    };
    hold.wait_reached();
    let planned_before = db.scan(&ScanRequest::new("m")).expect("plans");
    let at_plan = expected.clone();
    write(&db, &mut expected, (0..10).map(|i| HOUR + i * SECOND), 3.0);
    write(&db, &mut expected, [7 * SECOND], 4.0);
    assert_eq!(stored(&db), expected, "reads go on during the compaction");
    hold.release();
    compactor.join().expect("joins").expect("compacts");
    assert_eq!(db.partitions().expect("lists")[0].blocks, 1, "partition 0 is one block");
    assert_eq!(scanned(planned_before), at_plan, "a scan planned before the swap reads the old file");
    assert_eq!(stored(&db), expected, "after the swap");
    db.close().expect("closes");
    drop(db);
    assert_eq!(reopened(&path), expected);
}

#[test]
fn a_failed_fsync_of_a_background_flush_poisons_and_loses_nothing_acknowledged() {
    let dir = TempDir::new("background-flush-fails");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(&fs)).expect("opens");
    let mut expected = Points::new();
    fs.fail(Op::Sync, 1);
    write(&db, &mut expected, (0..100).map(|i| i * SECOND), 1.0);
    write(&db, &mut expected, [HOUR + SECOND], 2.0);
    // Whichever runs the failing flush, the background thread or this call
    // (which first waits for one in progress), it fails and poisons.
    assert!(db.flush().is_err());
    assert!(matches!(db.flush(), Err(Error::Poisoned(_))));
    assert_eq!(fs.fired(), 1);
    assert!(matches!(db.write(&[Point::new("m", 0.0, 2 * HOUR)]), Err(Error::Poisoned(_))));
    assert_eq!(stored(&db), expected, "reads go on, frozen points included");
    assert!(db.close().is_err(), "close reports the poisoning");
    drop(db);
    assert_eq!(reopened_after_damage(&path), expected, "every acknowledged point is back from the WAL");
}

/// The points after reopening a database whose last flush failed (its file
/// may need recovery, so the report is not required clean).
fn reopened_after_damage(path: &Path) -> Points {
    let db = Db::open(path, Config::default()).expect("reopens");
    let points = stored(&db);
    db.close().expect("closes");
    points
}
