//! Injected I/O failures: the Nth write (whole or torn), fsync, rename or
//! directory sync fails during a workload with flushes and compactions.
//! Whatever fails, no failed write is acknowledged, nothing panics, later
//! writes are refused, and reopening yields a consistent prefix holding every
//! acknowledged batch. A power cut loses only what was never fsynced.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chronicle::testing::{FaultyFs, Op};
use chronicle::{Config, Db, Error, SyncPolicy};
use common::{TempDir, batch, config, verify};

const BATCHES: u64 = 40;
const COMPACT_EVERY: u64 = 15;

/// Runs the workload until the first failed write; returns (acked, attempted, failed).
fn run(db: &Db) -> (BTreeSet<u64>, u64, bool) {
    let mut acked = BTreeSet::new();
    for i in 0..BATCHES {
        if let Err(e) = db.write(&batch(i)) {
            assert!(!matches!(e, Error::InvalidRow { .. }), "{e}");
            let again = db.write(&batch(i + 1));
            assert!(again.is_err(), "writes are refused after a failure (first: {e})");
            return (acked, i + 2, true);
        }
        acked.insert(i);
        // A compaction that fails before its rename leaves the database
        // writable; one that fails after it poisons it, and the next write says so.
        if i % COMPACT_EVERY == COMPACT_EVERY - 1 {
            let _ = db.compact();
        }
    }
    (acked, BATCHES, false)
}

/// How many calls of `op` the workload makes when nothing fails.
fn calls_without_faults(op: Op) -> usize {
    let dir = TempDir::new(&format!("faults-count-{op:?}"));
    let fs = FaultyFs::new();
    let db =
        Db::open(dir.path("db"), config(SyncPolicy::Always).with_fs(std::sync::Arc::new(fs.clone()))).expect("opens");
    let (_, _, failed) = run(&db);
    assert!(!failed);
    db.close().expect("closes");
    fs.calls(op)
}

/// How a planned fault fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The call fails having done nothing.
    Fail,
    /// A write puts down its first n bytes.
    Keep(usize),
    /// A write puts down all but its last n bytes.
    DropLast(usize),
}

/// Fails call `nth` of `op` as `fault` says, then checks the reopened
/// database; returns whether its file needed recovery.
fn fail_once(op: Op, nth: usize, fault: Fault) -> bool {
    let dir = TempDir::new(&format!("faults-{op:?}-{nth}-{fault:?}"));
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(SyncPolicy::Always).with_fs(std::sync::Arc::new(fs.clone()))).expect("opens");
    match fault {
        Fault::Fail => fs.fail(op, nth),
        Fault::Keep(n) => fs.tear_write(nth, n),
        Fault::DropLast(n) => fs.tear_write_end(nth, n),
    }
    let (acked, attempted, _) = run(&db);
    drop(db);
    let (found, report) = verify(&path, &acked, attempted);
    assert!(found.is_superset(&acked));
    !report.file_damage.is_empty()
}

/// Fails about 24 calls of `op` spread over the workload, one per run;
/// returns how many runs needed file recovery on reopen.
fn sweep(op: Op, fault: Fault) -> usize {
    let total = calls_without_faults(op);
    assert!(total > 0, "the workload calls {op:?}");
    let step = (total / 24).max(1);
    (1..=total).step_by(step).filter(|&nth| fail_once(op, nth, fault)).count()
}

#[test]
fn failed_writes_leave_a_consistent_prefix() {
    sweep(Op::Write, Fault::Fail);
}

#[test]
fn torn_writes_leave_a_consistent_prefix() {
    // 20 bytes: inside a WAL record, a block header, or a block's payload.
    sweep(Op::Write, Fault::Keep(20));
}

/// A flush appends its partition blocks, index and footer in one write:
/// cutting its end crashes between the blocks and the footer.
#[test]
fn crashes_between_blocks_and_footer_recover() {
    // 1: a torn footer; 33: no footer (the index is whole); 40: a torn index.
    for drop in [1, 33, 40] {
        assert!(sweep(Op::Write, Fault::DropLast(drop)) > 0, "some runs tore a flush (drop {drop})");
    }
}

#[test]
fn failed_fsyncs_poison_and_leave_a_consistent_prefix() {
    sweep(Op::Sync, Fault::Fail);
}

#[test]
fn failed_renames_during_compaction_keep_the_old_file() {
    sweep(Op::Rename, Fault::Fail);
}

#[test]
fn failed_directory_syncs_leave_old_or_new_file() {
    sweep(Op::SyncDir, Fault::Fail);
}

/// A configuration that never flushes on its own (one long partition), so
/// what a session holds stays in the head and the WAL until close.
fn unflushed(sync: SyncPolicy, fs: &FaultyFs) -> Config {
    Config::default().with_sync(sync).with_fs(Arc::new(fs.clone()))
}

/// The batches a scan of `db` shows.
fn visible(db: &Db) -> BTreeSet<u64> {
    common::stored(db).values().map(|v| *v as u64 / 10).collect()
}

/// Checks a database poisoned by a WAL failure: later writes, flush and
/// compact fail with `Error::Poisoned` and leave the file alone, reads show
/// exactly the `acked` batches, close does not flush, and after a reopen with
/// the fault gone the file holds exactly the `acked` batches of the
/// `attempted` first ones.
fn assert_poisoned(db: Db, path: &Path, acked: &BTreeSet<u64>, attempted: u64) {
    assert!(matches!(db.write(&batch(attempted)), Err(Error::Poisoned(_))), "later writes are refused");
    let len = std::fs::metadata(path).expect("exists").len();
    assert!(matches!(db.flush(), Err(Error::Poisoned(_))), "flush is refused");
    assert!(matches!(db.compact(), Err(Error::Poisoned(_))), "compact is refused");
    assert_eq!(visible(&db), *acked, "reads go on and show exactly the acknowledged batches");
    let _ = db.close();
    assert_eq!(std::fs::metadata(path).expect("exists").len(), len, "nothing reached the file after the failure");
    drop(db);
    let (found, _) = verify(path, acked, attempted + 1);
    assert_eq!(found, *acked, "after reopening, the file holds the acknowledged batches and no refused one");
}

/// Writes batches until one fails; returns the acknowledged ones and the refused one.
fn write_until_refused(db: &Db, limit: u64) -> (BTreeSet<u64>, u64) {
    for i in 0..limit {
        match db.write(&batch(i)) {
            Ok(()) => {}
            Err(e) => {
                assert!(!matches!(e, Error::InvalidRow { .. }), "{e}");
                return ((0..i).collect(), i);
            }
        }
    }
    panic!("no write of {limit} failed");
}

#[test]
fn a_failed_wal_append_poisons_and_the_refused_batch_never_appears() {
    let dir = TempDir::new("faults-wal-append");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, unflushed(SyncPolicy::Always, &fs)).expect("opens");
    // Each write appends one WAL record: the second one fails.
    fs.fail(Op::Write, 2);
    let (acked, refused) = write_until_refused(&db, 10);
    assert_eq!(refused, 1);
    assert_poisoned(db, &path, &acked, refused + 1);
}

#[test]
fn a_failed_wal_fsync_poisons_and_the_refused_batch_never_appears() {
    let dir = TempDir::new("faults-wal-fsync");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, unflushed(SyncPolicy::Always, &fs)).expect("opens");
    // Each write waits for one fsync: the third one fails.
    fs.fail(Op::Sync, 3);
    let (acked, refused) = write_until_refused(&db, 10);
    assert_eq!(refused, 2);
    assert_poisoned(db, &path, &acked, refused + 1);
}

#[test]
fn a_failed_background_sync_poisons_and_keeps_what_was_acknowledged() {
    let dir = TempDir::new("faults-wal-interval");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let interval = Duration::from_millis(20);
    let db = Db::open(&path, unflushed(SyncPolicy::Interval(interval), &fs)).expect("opens");
    fs.fail(Op::Sync, 1);
    db.write(&batch(0)).expect("writes");
    // The background flusher's first fsync fails; wait until it has run.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fs.fired() == 0 {
        assert!(std::time::Instant::now() < deadline, "the background sync ran");
        std::thread::sleep(interval);
    }
    assert_poisoned(db, &path, &BTreeSet::from([0]), 1);
}

#[test]
fn a_failed_segment_rotation_poisons_and_the_refused_batch_never_appears() {
    let dir = TempDir::new("faults-wal-rotation");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    // Segments of 64 KiB; the log's limit of 1 MiB is far away.
    let config = unflushed(SyncPolicy::Always, &fs).with_max_wal_bytes(1 << 20);
    let db = Db::open(&path, config).expect("opens");
    // The first directory sync from now on is the one of the first rotation.
    fs.fail(Op::SyncDir, 1);
    let (acked, refused) = write_until_refused(&db, 2_000);
    assert!(refused > 100, "the first segment held {refused} batches");
    assert_poisoned(db, &path, &acked, refused + 1);
}

#[test]
fn concurrent_writers_see_one_failed_fsync_refuse_exactly_the_unsynced_batches() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 40;
    let dir = TempDir::new("faults-wal-concurrent");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, unflushed(SyncPolicy::Always, &fs)).expect("opens");
    fs.fail(Op::Sync, 25);
    let barrier = Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, barrier) = (db.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut acked = BTreeSet::new();
                for k in 0..PER_THREAD {
                    let i = k * THREADS + t;
                    match db.write(&batch(i)) {
                        Ok(()) => {
                            acked.insert(i);
                        }
                        Err(e) => {
                            assert!(matches!(e, Error::Poisoned(_)), "{e}");
                            return (acked, Some(i));
                        }
                    }
                }
                (acked, None)
            })
        })
        .collect();
    let mut acked = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for t in threads {
        let (a, r) = t.join().expect("joins");
        acked.extend(a);
        refused.extend(r);
    }
    assert!(!refused.is_empty() && !acked.is_empty(), "acked {acked:?}, refused {refused:?}");
    assert_poisoned(db, &path, &acked, THREADS * PER_THREAD);
}

#[test]
fn a_power_cut_loses_only_writes_the_interval_had_not_synced() {
    let dir = TempDir::new("faults-power");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let interval = Duration::from_millis(100);
    let db = Db::open(&path, config(SyncPolicy::Interval(interval)).with_fs(std::sync::Arc::new(fs.clone())))
        .expect("opens");
    let early: BTreeSet<u64> = (0..20).collect();
    for &i in &early {
        db.write(&batch(i)).expect("writes");
    }
    // Three intervals later the background flusher has synced the early batches.
    std::thread::sleep(interval * 3);
    for i in 20..30 {
        db.write(&batch(i)).expect("writes");
    }
    fs.power_cut().expect("cuts");
    assert!(db.write(&batch(30)).is_err(), "nothing is acknowledged after the power is gone");
    drop(db);
    let (found, _) = verify(&path, &early, 31);
    // What survives of the late batches is a prefix of them: the log is cut at one point.
    let late: Vec<u64> = found.iter().copied().filter(|&i| i >= 20).collect();
    assert_eq!(late, (20..20 + late.len() as u64).collect::<Vec<_>>(), "survivors {late:?}");
}

#[test]
fn with_sync_always_a_power_cut_loses_nothing_acknowledged() {
    let dir = TempDir::new("faults-power-always");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(SyncPolicy::Always).with_fs(std::sync::Arc::new(fs.clone()))).expect("opens");
    let acked: BTreeSet<u64> = (0..25).collect();
    for &i in &acked {
        db.write(&batch(i)).expect("writes");
    }
    fs.power_cut().expect("cuts");
    drop(db);
    assert_eq!(verify(&path, &acked, 25).0, acked);
}

/// Writes 20 batches, then compacts with call `nth` of `op` (counted from the
/// start of the compaction) failing; every batch must survive a reopen.
fn compaction_fails_at(op: Op, nth: usize) -> Result<(), Error> {
    let dir = TempDir::new(&format!("faults-compact-{op:?}-{nth}"));
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let db = Db::open(&path, config(SyncPolicy::Always).with_fs(std::sync::Arc::new(fs.clone()))).expect("opens");
    let acked: BTreeSet<u64> = (0..20).collect();
    for &i in &acked {
        db.write(&batch(i)).expect("writes");
    }
    fs.fail(op, nth);
    let compacted = db.compact();
    drop(db);
    let (found, _) = verify(&path, &acked, 20);
    assert_eq!(found, acked, "{op:?} #{nth} during compaction");
    assert!(!path.with_file_name("db.compact").exists(), "a stale compaction file is cleaned up on open");
    compacted
}

/// Crash during compaction at every step: while writing the new file, at its
/// fsync, at the rename, and after the rename before the directory fsync.
#[test]
fn a_compaction_failing_at_any_step_keeps_every_point() {
    for op in [Op::Write, Op::Sync, Op::Rename, Op::SyncDir] {
        let mut nth = 1;
        // Fail the 1st, 2nd, ... call of `op` until a compaction gets through untouched.
        while compaction_fails_at(op, nth).is_err() {
            nth += 1;
            assert!(nth < 100, "compaction keeps failing on {op:?}");
        }
        assert!(nth > 1, "a compaction calls {op:?} at least once");
    }
}
