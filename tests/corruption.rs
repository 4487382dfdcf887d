//! Damaged files: the database still opens, the damage is reported with its
//! path and offset, and what was not damaged stays readable.
//!
//! The tests build small databases, damage them on disk (a flipped byte, a
//! truncation) at places found by walking the file's blocks or the WAL's
//! records themselves, then open them. To keep data only in the WAL, a
//! database is copied (file and WAL directory) while it is open: dropping or
//! closing it would flush the WAL into the file. After a recovery, a copy
//! taken while the recovered database is open must open clean, which shows
//! the recovery itself wrote a fresh index and footer.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use chronicle::{Config, Db, Error, Point, ScanRequest, SyncPolicy};
use common::TempDir;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// One hour in nanoseconds: the default partition duration.
pub(crate) const H: i64 = 3_600_000_000_000;
/// Points per series and partition in the fixtures.
const N: i64 = 100;
/// Bytes of the database file header.
const FILE_HEADER: u64 = 10;
/// Bytes of a block header: type u8, len u32, crc u32.
const BLOCK_HEADER: u64 = 9;
/// Bytes of a partition payload before its directory: partition i64, dir_len u32, dir_crc u32.
const PARTITION_PREFIX: u64 = 16;
/// Bytes of a whole footer block.
const FOOTER: u64 = 33;
/// Bytes of a WAL segment header.
pub(crate) const SEGMENT_HEADER: u64 = 10;
/// Bytes of a WAL record header: len u32, crc u32, lsn u64.
const RECORD_HEADER: u64 = 16;

const PARTITION: u8 = 1;
const INDEX: u8 = 2;
const FOOTER_TYPE: u8 = 3;
const SERIES: u8 = 4;

pub(crate) fn config() -> Config {
    Config::default().with_sync(SyncPolicy::Always)
}

pub(crate) fn open(path: &Path) -> Db {
    Db::open(path, config()).unwrap()
}

/// The WAL directory of the database at `path`.
pub(crate) fn wal_dir(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".wal");
    PathBuf::from(name)
}

/// Copies the database file and its WAL (not the lock) from `from` to `to`.
pub(crate) fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let (src, dst) = (wal_dir(from), wal_dir(to));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
}

/// The WAL segments of the database at `path`, in log order.
pub(crate) fn segments(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(wal_dir(path))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    out.sort();
    out
}

/// (offset, whole length) of every record of a segment.
pub(crate) fn records(segment: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(segment).unwrap();
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER as usize;
    while at + RECORD_HEADER as usize <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        out.push((at as u64, RECORD_HEADER + len));
        at += (RECORD_HEADER + len) as usize;
    }
    assert_eq!(at, bytes.len(), "{} ends on a record boundary", segment.display());
    out
}

/// One block of the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    offset: u64,
    kind: u8,
    /// The whole block, header included.
    len: u64,
}

impl Block {
    fn end(&self) -> u64 {
        self.offset + self.len
    }

    fn contains(&self, offset: u64) -> bool {
        self.offset <= offset && offset < self.end()
    }
}

/// The blocks of a database file, walked from the header; stops at a block
/// running past the end.
fn blocks(path: &Path) -> Vec<Block> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = FILE_HEADER;
    while at + BLOCK_HEADER <= bytes.len() as u64 {
        let i = at as usize;
        let len = BLOCK_HEADER + u64::from(u32::from_le_bytes(bytes[i + 1..i + 5].try_into().unwrap()));
        if at + len > bytes.len() as u64 {
            break;
        }
        out.push(Block { offset: at, kind: bytes[i], len });
        at += len;
    }
    out
}

fn kinds(blocks: &[Block]) -> Vec<u8> {
    blocks.iter().map(|b| b.kind).collect()
}

/// The directory of a partition block: (offset, length).
fn directory(path: &Path, block: Block) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap();
    let at = (block.offset + BLOCK_HEADER + 8) as usize;
    let dir_len = u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
    (block.offset + BLOCK_HEADER + PARTITION_PREFIX, dir_len)
}

/// Flips every bit of the byte at `offset`.
fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0xFF;
    std::fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// The value of point `i` of `host` in partition `p`.
fn value(host: &str, p: i64, i: i64) -> f64 {
    let h = host.bytes().map(i64::from).sum::<i64>();
    (h * 1_000_000 + p * 1_000 + i) as f64 + 0.25
}

/// `N` points of `host` in partition `p`, one second apart.
pub(crate) fn points(host: &str, p: i64) -> Vec<Point> {
    (0..N).map(|i| Point::new("cpu", value(host, p, i), p * H + i * 1_000_000_000).with_tag("host", host)).collect()
}

/// Every (host, time, value) a scan returns, or its first error.
pub(crate) fn read(db: &Db, req: &ScanRequest) -> Result<Vec<(String, i64, f64)>, Error> {
    let mut out = Vec::new();
    for batch in db.scan(req)? {
        let batch = batch?;
        let times = batch.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
        let hosts = batch.column_by_name("host").unwrap().as_dictionary::<Int32Type>();
        let names = hosts.values().as_string::<i32>();
        let values = batch.column_by_name("value").unwrap().as_primitive::<Float64Type>();
        for r in 0..batch.num_rows() {
            let host = names.value(hosts.key(r).unwrap()).to_string();
            out.push((host, times.value(r), values.value(r)));
        }
    }
    Ok(out)
}

/// What `points(host, p)` wrote, for each (host, p), as `read` returns it.
pub(crate) fn expected(parts: &[(&str, i64)]) -> Vec<(String, i64, f64)> {
    parts
        .iter()
        .flat_map(|&(host, p)| (0..N).map(move |i| (host.to_string(), p * H + i * 1_000_000_000, value(host, p, i))))
        .collect()
}

/// A scan of partition `p` only.
fn partition(p: i64) -> ScanRequest {
    ScanRequest::new("cpu").with_time_range(p * H, (p + 1) * H - 1)
}

pub(crate) fn all() -> ScanRequest {
    ScanRequest::new("cpu")
}

/// Builds a database in `dir` with one flush per entry of `flushes` (each a
/// list of (host, partition)), and returns a copy of it taken while it is
/// open, so the copy ends exactly with the last flush's index and footer.
fn fixture(dir: &TempDir, flushes: &[&[(&str, i64)]]) -> PathBuf {
    let source = dir.path("source");
    let db = open(&source);
    for flush in flushes {
        for &(host, p) in *flush {
            db.write(&points(host, p)).unwrap();
        }
        db.flush().unwrap();
    }
    let copy = dir.path("pristine");
    copy_db(&source, &copy);
    db.close().unwrap();
    copy
}

/// A fresh copy of `pristine` to damage.
fn victim(dir: &TempDir, pristine: &Path, name: &str) -> PathBuf {
    let path = dir.path(name);
    copy_db(pristine, &path);
    path
}

/// Whether the report names `path` at an offset that `at` accepts.
fn reported(db: &Db, path: &Path, at: impl Fn(u64) -> bool) -> bool {
    db.recovery_report().file_damage.iter().any(|d| d.path == path && at(d.offset))
}

/// Checks that what `db` (just recovered) left on disk opens clean with the
/// same data, both as a copy taken now (so recovery itself wrote a fresh
/// index and footer and cut the WAL's damage) and after closing.
fn assert_recovery_is_durable(dir: &TempDir, db: Db, path: &Path) {
    let data = read(&db, &all()).unwrap();
    let snapshot = dir.path(&format!("{}-after", path.file_name().unwrap().to_string_lossy()));
    copy_db(path, &snapshot);
    let copy = open(&snapshot);
    assert!(copy.recovery_report().file_damage.is_empty(), "{:?}", copy.recovery_report());
    assert!(copy.recovery_report().wal.damage.is_empty(), "{:?}", copy.recovery_report());
    assert_eq!(read(&copy, &all()).unwrap(), data, "the copy taken after recovery");
    copy.close().unwrap();
    db.close().unwrap();
    drop(db);
    let db = open(path);
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &all()).unwrap(), data, "reopened after recovery");
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// The WAL
// ---------------------------------------------------------------------------

/// A database whose ten batches (`points("a", 0)` split in ten) are only in
/// its WAL: a copy taken while the writer was open.
pub(crate) fn wal_only(dir: &TempDir) -> PathBuf {
    let source = dir.path("source");
    let db = open(&source);
    for chunk in points("a", 0).chunks(10) {
        db.write(chunk).unwrap();
    }
    let copy = dir.path("copy");
    copy_db(&source, &copy);
    db.close().unwrap();
    assert_eq!(file_len(&copy), FILE_HEADER, "nothing was flushed into the copy");
    copy
}

#[test]
fn a_crash_before_the_first_flush_is_not_damage() {
    let dir = TempDir::new("wal_only");
    let path = wal_only(&dir);
    let db = open(&path);
    assert!(
        db.recovery_report().is_clean(),
        "a file holding only its header is an empty database: {:?}",
        db.recovery_report()
    );
    assert_eq!(db.recovery_report().replayed, 10);
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)]));
    db.close().unwrap();
}

#[test]
fn a_wal_truncated_mid_record_keeps_every_earlier_record() {
    let dir = TempDir::new("wal_truncated");
    let path = wal_only(&dir);
    let segment = segments(&path).into_iter().next_back().unwrap();
    let recs = records(&segment);
    assert_eq!(recs.len(), 10);
    let (last, len) = recs[9];
    truncate(&segment, last + len / 2);

    let db = open(&path);
    let report = db.recovery_report().clone();
    assert_eq!(report.wal.damage.len(), 1, "{report:?}");
    let damage = &report.wal.damage[0];
    assert_eq!((&damage.path, damage.offset, damage.bytes), (&segment, last, len / 2), "{damage:?}");
    assert_eq!(report.replayed, 9);
    assert!(report.file_damage.is_empty(), "the file was never flushed, not damaged: {report:?}");
    assert!(report.unreadable_records.is_empty());
    assert_eq!(file_len(&segment), last, "the torn record is cut off");
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)])[..90]);
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn a_flipped_byte_in_a_wal_record_keeps_the_records_before_it() {
    let dir = TempDir::new("wal_flipped");
    let path = wal_only(&dir);
    let segment = segments(&path).into_iter().next_back().unwrap();
    let recs = records(&segment);
    let (at, len) = recs[4];
    flip(&segment, at + RECORD_HEADER + (len - RECORD_HEADER) / 2);

    let db = open(&path);
    let report = db.recovery_report().clone();
    assert_eq!(report.wal.damage.len(), 1, "{report:?}");
    let damage = &report.wal.damage[0];
    assert_eq!((&damage.path, damage.offset), (&segment, at), "{damage:?}");
    assert!(damage.reason.contains("checksum"), "{damage:?}");
    assert_eq!(report.replayed, 4, "the rest of the damaged segment is dropped");
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)])[..40]);
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn damage_in_an_older_wal_segment_loses_only_that_segments_tail() {
    let dir = TempDir::new("wal_segments");
    // 256 KiB of WAL: 64 KiB segments; 40 batches of about 4 KiB stay below the flush limit.
    let config = config().with_max_wal_bytes(256 << 10);
    let source = dir.path("source");
    let db = Db::open(&source, config.clone()).unwrap();
    let batch = |b: i64| -> Vec<Point> {
        (0..200)
            .map(|i| Point::new("cpu", (b * 200 + i) as f64, (b * 200 + i) * 1_000_000).with_tag("host", "a"))
            .collect()
    };
    for b in 0..40 {
        db.write(&batch(b)).unwrap();
    }
    let path = dir.path("copy");
    copy_db(&source, &path);
    db.close().unwrap();
    assert_eq!(file_len(&path), FILE_HEADER, "nothing was flushed into the copy");
    let segs = segments(&path);
    assert!(segs.len() >= 3, "the log rotated: {segs:?}");
    let first = records(&segs[0]);
    let (at, len) = first[3];
    flip(&segs[0], at + len / 2);
    let first_len = file_len(&segs[0]);

    let db = Db::open(&path, config).unwrap();
    let report = db.recovery_report().clone();
    assert_eq!(report.wal.damage.len(), 1, "{report:?}");
    assert_eq!((&report.wal.damage[0].path, report.wal.damage[0].offset), (&segs[0], at));
    assert_eq!(file_len(&segs[0]), first_len, "only the last segment is truncated");
    let lost = first.len() as i64 - 3;
    assert_eq!(report.replayed as i64, 40 - lost);
    let times: Vec<i64> = read(&db, &all()).unwrap().iter().map(|r| r.1 / 1_000_000).collect();
    let expect: Vec<i64> =
        (0..40).filter(|b| !(3..3 + lost).contains(b)).flat_map(|b| b * 200..b * 200 + 200).collect();
    assert_eq!(times, expect, "batches 3..{} are lost, the later segments kept", 3 + lost);
    db.close().unwrap();
    drop(db);
    let db = open(&path);
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &all()).unwrap().len(), expect.len());
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Partition blocks
// ---------------------------------------------------------------------------

#[test]
fn a_flipped_byte_in_a_chunk_fails_only_scans_of_that_chunk() {
    let dir = TempDir::new("chunk_flipped");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1)]]);
    let path = victim(&dir, &pristine, "victim");
    let layout = blocks(&path);
    assert_eq!(kinds(&layout), [PARTITION, SERIES, INDEX, FOOTER_TYPE, PARTITION, INDEX, FOOTER_TYPE]);
    let p0 = layout[0];
    let (dir_at, dir_len) = directory(&path, p0);
    let chunks_at = dir_at + dir_len;
    let damaged = chunks_at + (p0.end() - chunks_at) / 2;
    flip(&path, damaged);

    let db = open(&path);
    // Opening reads directories, never chunks: the scan that reads the chunk finds the damage.
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    match read(&db, &all()) {
        Err(Error::Corrupt { path: p, offset, detail }) => {
            assert_eq!(p, path, "{detail}");
            assert!(p0.contains(offset), "offset {offset} lies in the damaged block {p0:?}: {detail}");
            assert!(chunks_at <= offset && offset <= damaged, "offset {offset} names the damaged chunk: {detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(read(&db, &partition(0)), Err(Error::Corrupt { .. })));
    assert_eq!(read(&db, &partition(1)).unwrap(), expected(&[("a", 1)]), "the other partition reads");
    db.close().unwrap();
}

#[test]
fn a_flipped_byte_in_a_partition_directory_skips_only_that_block() {
    let dir = TempDir::new("directory_flipped");
    let pristine = fixture(&dir, &[&[("a", 0), ("b", 0)], &[("a", 1), ("b", 1)]]);
    let path = victim(&dir, &pristine, "victim");
    let layout = blocks(&path);
    let p0 = layout[0];
    let (dir_at, dir_len) = directory(&path, p0);
    flip(&path, dir_at + dir_len / 2);

    let db = open(&path);
    assert!(reported(&db, &path, |o| o == p0.offset), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &partition(0)).unwrap(), [], "the block is skipped");
    assert_eq!(read(&db, &partition(1)).unwrap(), expected(&[("a", 1), ("b", 1)]));
    assert_eq!(db.series_count().unwrap(), 2);
    db.close().unwrap();
    drop(db);
    // Closing wrote an index without the damaged block.
    let db = open(&path);
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 1), ("b", 1)]));
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Footer and index
// ---------------------------------------------------------------------------

#[test]
fn any_flipped_byte_in_the_footer_loses_nothing() {
    let dir = TempDir::new("footer_flipped");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1), ("b", 1)]]);
    let len = file_len(&pristine);
    let layout = blocks(&pristine);
    let new_series = [PARTITION, SERIES, INDEX, FOOTER_TYPE];
    assert_eq!(kinds(&layout), [new_series, new_series].concat(), "each flush adds series");
    assert_eq!(layout[7], Block { offset: len - FOOTER, kind: FOOTER_TYPE, len: FOOTER });
    let everything = expected(&[("a", 0), ("a", 1), ("b", 1)]);
    for i in 0..FOOTER {
        let path = victim(&dir, &pristine, &format!("victim{i}"));
        flip(&path, len - FOOTER + i);
        let db = open(&path);
        assert!(reported(&db, &path, |o| o >= len - FOOTER && o <= len), "byte {i}: {:?}", db.recovery_report());
        assert_eq!(read(&db, &all()).unwrap(), everything, "byte {i}: the newest index is found walking forward");
        assert_eq!(db.series_count().unwrap(), 2, "byte {i}");
        assert_recovery_is_durable(&dir, db, &path);
    }
}

#[test]
fn a_damaged_last_index_falls_back_and_adopts_later_blocks_it_can_read() {
    let dir = TempDir::new("index_flipped");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1)]]);
    let layout = blocks(&pristine);
    assert_eq!(kinds(&layout), [PARTITION, SERIES, INDEX, FOOTER_TYPE, PARTITION, INDEX, FOOTER_TYPE]);
    let index = layout[5];
    let path = victim(&dir, &pristine, "victim");
    flip(&path, index.offset + BLOCK_HEADER + (index.len - BLOCK_HEADER) / 2);

    let db = open(&path);
    assert!(reported(&db, &path, |o| o == index.offset), "{:?}", db.recovery_report());
    // The first index, plus the second flush's block: it names only known series.
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0), ("a", 1)]));
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn a_damaged_last_index_loses_no_series_nor_the_block_naming_them() {
    let dir = TempDir::new("index_flipped_new_series");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1), ("b", 1)]]);
    let layout = blocks(&pristine);
    let (p1, series, index) = (layout[4], layout[5], layout[6]);
    assert_eq!((p1.kind, series.kind, index.kind), (PARTITION, SERIES, INDEX));
    let path = victim(&dir, &pristine, "victim");
    flip(&path, index.offset + BLOCK_HEADER + (index.len - BLOCK_HEADER) / 2);

    let db = open(&path);
    let report = db.recovery_report().clone();
    assert!(reported(&db, &path, |o| o == index.offset), "{report:?}");
    assert!(!reported(&db, &path, |o| o == p1.offset || o == series.offset), "{report:?}");
    // Series b is defined by the second flush's series block, which the
    // walk forward from the first index reads.
    assert_eq!(db.series_count().unwrap(), 2);
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0), ("a", 1), ("b", 1)]));
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn a_damaged_series_block_loses_only_its_series() {
    let dir = TempDir::new("series_flipped");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1), ("b", 1)]]);
    let layout = blocks(&pristine);
    let (p1, series) = (layout[4], layout[5]);
    assert_eq!((p1.kind, series.kind), (PARTITION, SERIES));
    let path = victim(&dir, &pristine, "victim");
    flip(&path, series.offset + BLOCK_HEADER + (series.len - BLOCK_HEADER) / 2);

    let db = open(&path);
    let report = db.recovery_report().clone();
    assert!(reported(&db, &path, |o| o == series.offset), "{report:?}");
    assert!(reported(&db, &path, |o| o == p1.offset), "the block naming series b is skipped: {report:?}");
    // The damaged block took in the first one (consolidation), which the
    // first index still lists: series a comes from there.
    assert_eq!(db.series_count().unwrap(), 1, "series a, from the first series block");
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)]));
    assert_recovery_is_durable(&dir, db, &path);
}

// ---------------------------------------------------------------------------
// Torn tails
// ---------------------------------------------------------------------------

#[test]
fn a_torn_last_flush_is_cut_off_and_the_previous_index_used() {
    let dir = TempDir::new("torn_flush");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1)]]);
    let layout = blocks(&pristine);
    let p1 = layout[4];
    assert_eq!(p1.kind, PARTITION);
    let path = victim(&dir, &pristine, "victim");
    truncate(&path, p1.offset + p1.len / 2);

    let db = open(&path);
    assert!(reported(&db, &path, |o| o == p1.offset), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0)]), "the WAL was checkpointed: the last flush is lost");
    let after = blocks(&path);
    assert_eq!(kinds(&after), [PARTITION, SERIES, INDEX, FOOTER_TYPE, INDEX, FOOTER_TYPE], "cut, then a fresh index");
    assert_eq!(&after[..4], &layout[..4]);
    assert_eq!(after[4].offset, p1.offset, "the torn bytes are gone");
    assert_eq!(after[5].end(), file_len(&path));
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn a_torn_last_flush_is_recovered_from_the_wal() {
    let dir = TempDir::new("torn_flush_wal");
    let source = dir.path("source");
    let db = open(&source);
    db.write(&points("a", 0)).unwrap();
    db.flush().unwrap();
    db.write(&points("a", 1)).unwrap();
    db.write(&points("b", 1)).unwrap();
    // The file holds the first flush, the WAL the later writes...
    let path = dir.path("victim");
    copy_db(&source, &path);
    let before = file_len(&path);
    // ...and half of the second flush reached the file before the crash.
    db.flush().unwrap();
    let flushed = std::fs::read(&source).unwrap();
    db.close().unwrap();
    let second = blocks(&source).into_iter().find(|b| b.offset == before).unwrap();
    assert_eq!(second.kind, PARTITION);
    let mut torn = std::fs::read(&path).unwrap();
    torn.extend_from_slice(&flushed[before as usize..(before + second.len / 2) as usize]);
    std::fs::write(&path, torn).unwrap();

    let db = open(&path);
    let report = db.recovery_report().clone();
    assert!(reported(&db, &path, |o| o == before), "{report:?}");
    assert_eq!(report.replayed, 2, "the second flush's writes come back from the WAL");
    assert!(report.wal.damage.is_empty());
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0), ("a", 1), ("b", 1)]));
    let after = blocks(&path);
    // The fresh index's series block holds series b, replayed from the WAL.
    assert_eq!(kinds(&after), [PARTITION, SERIES, INDEX, FOOTER_TYPE, SERIES, INDEX, FOOTER_TYPE]);
    assert_eq!(after[4].offset, before, "the torn bytes are gone");
    assert_recovery_is_durable(&dir, db, &path);
}

#[test]
fn twenty_bytes_of_a_partial_block_after_a_clean_end_are_cut_off() {
    let dir = TempDir::new("torn_tail");
    let pristine = fixture(&dir, &[&[("a", 0)], &[("a", 1)]]);
    let bytes = std::fs::read(&pristine).unwrap();
    let p1 = blocks(&pristine)[4];
    assert_eq!(p1.kind, PARTITION);
    let path = victim(&dir, &pristine, "victim");
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[p1.offset as usize..p1.offset as usize + 20]);
    std::fs::write(&path, torn).unwrap();

    let db = open(&path);
    assert!(reported(&db, &path, |o| o == bytes.len() as u64), "{:?}", db.recovery_report());
    assert_eq!(read(&db, &all()).unwrap(), expected(&[("a", 0), ("a", 1)]), "nothing is lost");
    let now = std::fs::read(&path).unwrap();
    assert_eq!(&now[..bytes.len()], &bytes[..], "the intact file is kept as it was");
    let after = blocks(&path);
    assert_eq!(after[7].offset, bytes.len() as u64, "the fresh index replaces the torn bytes");
    assert_eq!(kinds(&after[7..]), [INDEX, FOOTER_TYPE]);
    assert_recovery_is_durable(&dir, db, &path);
}
