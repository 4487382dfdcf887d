//! The WAL's prepared next segment, `spare.tmp`, left behind by a crash.
//!
//! The log creates its next segment ahead of time as `spare.tmp` (header
//! fsynced) and switches to it by a rename. A crash can leave that file in
//! any state: empty or with half a header (a crash while preparing it),
//! garbage, or holding records (switched to, but the rename never became
//! durable, so none of its records was acknowledged under `SyncPolicy::Always`),
//! or a stale spare of an earlier log. Whatever it holds, opening must keep
//! exactly the records of the named segments, invent none from the spare,
//! and go on accepting writes through later rotations. A power cut between
//! the switch and the directory sync that makes it durable leaves exactly
//! such a spare.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common::{TempDir, batch, verify};
use crate::corruption::{
    SEGMENT_HEADER, all, config, copy_db, expected, open, points, read, records, segments, wal_dir, wal_only,
};

use std::collections::BTreeSet;
use std::sync::Arc;

use chronicle::testing::{FaultyFs, Op};
use chronicle::{Db, Point};

/// Name of the prepared next segment in the WAL directory.
const SPARE: &str = "spare.tmp";

/// What a crash left as `spare.tmp`.
#[derive(Debug, Clone, Copy)]
enum Leftover {
    /// Created, nothing written.
    Empty,
    /// Half of the segment header.
    HalfHeader,
    /// Bytes that are no segment at all.
    Garbage,
    /// A header and half of a record following the log's last one.
    TornRecord,
    /// Switched to, the rename lost: records following the log's last one.
    Unrenamed,
    /// A whole segment of another log, its LSNs overlapping this log's.
    Stale,
}

const LEFTOVERS: [Leftover; 6] = [
    Leftover::Empty,
    Leftover::HalfHeader,
    Leftover::Garbage,
    Leftover::TornRecord,
    Leftover::Unrenamed,
    Leftover::Stale,
];

/// The one segment of a log holding `points("a", 0)` then `points("b", 0)`,
/// each in ten records: LSNs 1-10 are what `wal_only` holds, 11-20 host b.
fn log_of_a_then_b(dir: &TempDir) -> Vec<u8> {
    let source = dir.path("a_then_b");
    let db = open(&source);
    for host in ["a", "b"] {
        for chunk in points(host, 0).chunks(10) {
            db.write(chunk).unwrap();
        }
    }
    let copy = dir.path("a_then_b_copy");
    copy_db(&source, &copy);
    db.close().unwrap();
    let segs = segments(&copy);
    assert_eq!(segs.len(), 1, "{segs:?}");
    std::fs::read(&segs[0]).unwrap()
}

/// The bytes of `leftover`, cut from `log` (see [`log_of_a_then_b`]).
fn spare_bytes(leftover: Leftover, log: &[u8], recs: &[(u64, u64)]) -> Vec<u8> {
    let header = &log[..SEGMENT_HEADER as usize];
    let from_11 = recs[10].0 as usize;
    match leftover {
        Leftover::Empty => Vec::new(),
        Leftover::HalfHeader => header[..header.len() / 2].to_vec(),
        Leftover::Garbage => {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
        Leftover::TornRecord => [header, &log[from_11..from_11 + recs[10].1 as usize / 2]].concat(),
        Leftover::Unrenamed => [header, &log[from_11..]].concat(),
        Leftover::Stale => log.to_vec(),
    }
}

/// Batch `b` of host c: 200 points of about 20 bytes each, times unique to it.
fn batch_c(b: i64) -> Vec<Point> {
    (0..200)
        .map(|i| Point::new("cpu", (b * 200 + i) as f64 + 0.5, (b * 200 + i) * 1_000_000).with_tag("host", "c"))
        .collect()
}

/// Every (host, time, value) of host a's partition 0 and of `batches` batches of host c, sorted.
fn a_and_c(batches: i64) -> Vec<(String, i64, f64)> {
    let mut rows = expected(&[("a", 0)]);
    rows.extend((0..batches).flat_map(batch_c).map(|p| ("c".to_string(), p.timestamp, p.value)));
    rows.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
    rows
}

fn sorted(mut rows: Vec<(String, i64, f64)>) -> Vec<(String, i64, f64)> {
    rows.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
    rows
}

#[test]
fn a_leftover_spare_segment_neither_loses_nor_invents_records() {
    let dir = TempDir::new("wal_spare");
    let log = log_of_a_then_b(&dir);
    let recs = {
        let path = dir.path("a_then_b.segment");
        std::fs::write(&path, &log).unwrap();
        records(&path)
    };
    assert_eq!(recs.len(), 20);
    // 64 KiB segments: forty batches of about 4 KiB rotate the log a few times.
    let small_segments = config().with_max_wal_bytes(256 << 10);
    for leftover in LEFTOVERS {
        let case = TempDir::new(&format!("wal_spare_{leftover:?}"));
        let path = wal_only(&case);
        let spare = wal_dir(&path).join(SPARE);
        std::fs::write(&spare, spare_bytes(leftover, &log, &recs)).unwrap();

        let db = Db::open(&path, small_segments.clone()).unwrap();
        let report = db.recovery_report().clone();
        assert_eq!(report.replayed, 10, "{leftover:?}: the ten records of the named segment: {report:?}");
        assert!(report.is_clean(), "{leftover:?}: a leftover spare is not damage: {report:?}");
        assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)]), "{leftover:?}: nothing from the spare");

        // Writes go on, through rotations to freshly prepared spares.
        for b in 0..40 {
            db.write(&batch_c(b)).unwrap();
        }
        let crashed = case.path("crashed");
        copy_db(&path, &crashed);
        db.close().unwrap();
        drop(db);
        assert!(segments(&crashed).len() >= 3, "{leftover:?}: the log rotated: {:?}", segments(&crashed));

        let db = Db::open(&crashed, small_segments.clone()).unwrap();
        let report = db.recovery_report().clone();
        assert!(report.is_clean(), "{leftover:?}: {report:?}");
        assert_eq!(report.replayed, 50, "{leftover:?}: a's ten records and c's forty");
        assert_eq!(sorted(read(&db, &all()).unwrap()), a_and_c(40), "{leftover:?}: after a crash");
        db.close().unwrap();
        drop(db);

        let db = open(&path);
        assert!(db.recovery_report().is_clean(), "{leftover:?}: {:?}", db.recovery_report());
        assert_eq!(sorted(read(&db, &all()).unwrap()), a_and_c(40), "{leftover:?}: after a clean close");
        db.close().unwrap();
    }
}

/// Writes `common::batch`es until one is refused; returns the acknowledged ones and the refused one.
fn write_until_refused(db: &Db) -> (BTreeSet<u64>, u64) {
    (0..100_000).find(|&i| db.write(&batch(i)).is_err()).map(|i| ((0..i).collect(), i)).expect("a write is refused")
}

#[test]
fn a_power_cut_before_a_switch_is_durable_loses_nothing_acknowledged() {
    let dir = TempDir::new("wal_spare_power_cut");
    let path = dir.path("db");
    let fs = FaultyFs::new();
    let config = config().with_max_wal_bytes(256 << 10).with_fs(Arc::new(fs.clone()));
    let db = Db::open(&path, config).unwrap();
    // The first directory sync from now on is the one making the first switch durable.
    let hold = fs.hold(Op::SyncDir, 1);
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || write_until_refused(&db))
    };
    hold.wait_reached();
    fs.power_cut().unwrap();
    hold.release();
    let (acked, refused) = writer.join().unwrap();
    assert!(acked.len() > 100, "the first segment held {} batches", acked.len());
    let spare = std::fs::metadata(wal_dir(&path).join(SPARE)).unwrap().len();
    assert!(spare > SEGMENT_HEADER, "the switch is undone: the refused batch's record is in the spare again");
    drop(db);
    let (found, report) = verify(&path, &acked, refused + 1);
    assert_eq!(found, acked, "every acknowledged batch and nothing from the spare");
    assert!(report.wal.damage.is_empty(), "{report:?}");
}
