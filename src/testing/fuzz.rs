//! Fuzz entry points: one function per decoder, taking arbitrary bytes.
//!
//! The cargo-fuzz targets in `fuzz/` are thin callers of these, and
//! `tests/fuzz_corpus.rs` replays the committed corpus (`fuzz/corpus/<target>/`)
//! through them, so CI runs every input without libFuzzer.
//!
//! Each returns `Ok` for input it accepts and `Err` for input it refuses;
//! either is fine. A panic (an assertion below, an overflow, an index out of
//! range) is a bug. Beyond not panicking, each checks what must hold of what
//! it accepted: records apply all or nothing, frames account for every byte,
//! decoded indexes and footers encode back to what decodes the same, and
//! directory entries lie inside their block and partition.

use std::path::Path;
use std::sync::Arc;

use crate::db::wal_record;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::storage::file::block::{BLOCK_HEADER_LEN, HEADER_LEN};
use crate::storage::file::footer::Footer;
use crate::storage::file::index_block::{self, Decoded};
use crate::storage::file::index_v1;
use crate::storage::file::partition_block::{self, Known, PREFIX_LEN, Prefix};
use crate::storage::head::Head;
use crate::storage::matcher::TagMatcher;
use crate::storage::scan::ScanRequest;
use crate::storage::series_index::SeriesIndex;
use crate::wal::segment::{self, MAX_LSN, RECORD_HEADER_LEN};
use crate::wal::{SyncPolicy, Wal, WalOptions};
use crate::{Config, Db, Point};

use super::{HOUR_NS, MemFs};

/// A decoder's refusal as the database reports damage.
fn corrupt(e: crate::encoding::Error) -> Error {
    Error::corrupt_at("fuzz input", 0, e)
}

/// A WAL record payload, applied to an empty index and head: all or nothing,
/// and a record that applied once applies again without new series or fields.
pub fn wal_record(data: &[u8]) -> Result<()> {
    let (mut index, mut head) = (SeriesIndex::default(), Head::default());
    match wal_record::apply(data, 1, HOUR_NS, &mut index, &mut head) {
        Ok(newest) => {
            assert_eq!(newest.is_some(), !head.is_empty(), "rows reach the head");
            let ids = head.partitions().values().flat_map(|p| p.series.keys());
            assert!(ids.copied().all(|id| index.key(id).is_some()), "every series in the head is in the index");
            let known = (index.len(), index.field_names().len());
            let again = wal_record::apply(data, 2, HOUR_NS, &mut index, &mut head);
            assert!(again.is_ok(), "a record that applied once applies again: {again:?}");
            assert_eq!((index.len(), index.field_names().len()), known, "and names nothing new");
            Ok(())
        }
        Err(e) => {
            let untouched = index.is_empty() && index.field_names().is_empty() && head.is_empty();
            assert!(untouched, "a refused record changed nothing ({e})");
            Err(corrupt(e))
        }
    }
}

/// A WAL segment file: read as replay reads it, its frames accounting for
/// every byte up to where reading stopped; then opened as the log of a
/// database (damaged tail cut, appends continuing after the last LSN, a
/// reopen finding the same records plus the new one), each record applied
/// to an empty index and head.
pub fn wal_segment(data: &[u8]) -> Result<()> {
    let parsed = segment::parse(data, 0);
    let mut end = segment::HEADER_LEN as u64;
    let mut last = 0;
    for (lsn, payload) in &parsed.records {
        assert!(last < *lsn && *lsn <= MAX_LSN, "LSN {lsn} after {last}");
        last = *lsn;
        end += (RECORD_HEADER_LEN + payload.len()) as u64;
    }
    match &parsed.stop {
        Some((at, _)) => assert!(*at == end || (*at == 0 && parsed.records.is_empty()), "stopped at {at}, not {end}"),
        None => assert_eq!(end, data.len() as u64, "every byte is a frame"),
    }
    let (mut index, mut head) = (SeriesIndex::default(), Head::default());
    for (lsn, payload) in &parsed.records {
        let _ = wal_record::apply(payload, *lsn, HOUR_NS, &mut index, &mut head);
    }
    let fs = MemFs::new();
    let dir = Path::new("/db.wal");
    fs.put(&segment::path(dir, 1), data.to_vec());
    let fs: Arc<dyn Fs> = Arc::new(fs);
    let options = WalOptions { sync: SyncPolicy::None, ..WalOptions::default() };
    let mut replayed = Vec::new();
    let (wal, _) = Wal::open(Arc::clone(&fs), dir, options, |lsn, p| replayed.push((lsn, p.to_vec())))?;
    assert_eq!(replayed, parsed.records, "replay reads what parsing read");
    let next = wal.append(b"next")?;
    assert!(next > last, "LSN {next} follows {last}");
    drop(wal);
    let (_, again) = Wal::open(fs, dir, options, |_, _| {})?;
    assert_eq!(again.report.records, parsed.records.len() + 1, "the cut log replays clean, with the new record");
    assert!(again.report.damage.is_empty(), "{:?}", again.report.damage);
    match parsed.stop {
        Some((at, stop)) => Err(Error::Corrupt { path: dir.into(), offset: at, detail: format!("{stop:?}") }),
        None => Ok(()),
    }
}

/// An index block payload: decoded, encoded again and decoded to the same
/// index; every measurement's series and postings are what selecting them
/// through the index returns.
pub fn index_block(data: &[u8]) -> Result<()> {
    // A version 2 index holds lists only, checked by decoding; the series
    // and postings checked below are those of version 1.
    let Decoded::Whole(snapshot) = index_block::decode(data).map_err(corrupt)? else { return Ok(()) };
    let (index, blocks) = (&snapshot.series, &snapshot.blocks);
    let mut out = Vec::new();
    index_v1::encode(snapshot.durable_lsn, snapshot.partition_ns, index, blocks, &mut out);
    let again = match index_block::decode(&out) {
        Ok(Decoded::Whole(again)) => *again,
        Ok(Decoded::Manifest(_)) => panic!("a version 1 index encodes to a version 2 one"),
        Err(e) => panic!("a decoded index encodes to one that does not decode: {e}"),
    };
    assert_eq!((again.durable_lsn, again.partition_ns), (snapshot.durable_lsn, snapshot.partition_ns));
    assert_eq!((again.series.keys(), again.series.field_names()), (index.keys(), index.field_names()));
    assert_eq!((again.series.measurements(), &again.blocks), (index.measurements(), blocks));
    for (name, m) in index.measurements() {
        assert_eq!(index.select(name, &[]), m.series, "{name}");
        for (key, values) in &m.postings {
            for (value, ids) in values {
                assert_eq!(&index.select(name, &[TagMatcher::eq(key, value)]), ids, "{name} {key}={value}");
            }
        }
    }
    Ok(())
}

/// A partition block directory. The first 8 bytes set the scene: series
/// known (u16 LE), fields known (u8), partition duration (u16 LE, at least
/// 1), partition number (i8), chunk bytes after the directory (u16 LE); the
/// rest is the directory. Accepted entries lie inside the block and the
/// partition, back to back, with known, ascending ids.
pub fn partition_directory(data: &[u8]) -> Result<()> {
    let Some((scene, dir)) = data.split_first_chunk::<8>() else { return Ok(()) };
    let word = |i: usize| u16::from_le_bytes([scene[i], scene[i + 1]]);
    let known =
        Known { series: usize::from(word(0)), fields: usize::from(scene[2]), partition_ns: i64::from(word(3).max(1)) };
    let prefix = Prefix { partition: i64::from(scene[5] as i8), dir_len: dir.len() as u32, dir_crc: 0 };
    let chunks_at = (BLOCK_HEADER_LEN + PREFIX_LEN + dir.len()) as u64;
    let block_len = chunks_at + u64::from(word(6));
    let block = partition_block::parse_directory(dir, prefix, HEADER_LEN, block_len, known).map_err(corrupt)?;
    let first = i128::from(prefix.partition) * i128::from(known.partition_ns);
    let mut next = HEADER_LEN + chunks_at;
    let mut series = 0;
    for e in &block.entries {
        assert!(series <= e.series && (e.series as usize) < known.series, "series {} after {series}", e.series);
        series = e.series;
        assert!(!e.fields.is_empty() && e.fields.len() == e.stats.len());
        assert!(e.fields.windows(2).all(|w| w[0] < w[1]) && e.fields.iter().all(|&f| (f as usize) < known.fields));
        assert!(e.count > 0 && e.min_time <= e.max_time);
        let (min, max) = (i128::from(e.min_time), i128::from(e.max_time));
        assert!(first <= min && max < first + i128::from(known.partition_ns), "times outside the partition");
        assert_eq!(e.offset, next, "chunks lie back to back");
        next += u64::from(e.len);
    }
    assert!(next <= HEADER_LEN + block_len, "chunks end inside the block");
    Ok(())
}

/// A footer: accepted only as exactly the bytes it encodes to.
pub fn footer(data: &[u8]) -> Result<()> {
    let Some(footer) = Footer::parse(data) else {
        return Err(Error::Corrupt { path: "fuzz input".into(), offset: 0, detail: "not a footer".into() });
    };
    assert_eq!(footer.encode(), data, "a footer is its own encoding");
    Ok(())
}

/// A whole database: the first 4 bytes (u32 LE) give the length of the
/// database file, which follows; the rest is its WAL's one segment. The
/// database is opened (footer, index, directories, recovery, WAL replay),
/// read through every listing and a scan of every measurement, written to,
/// flushed, compacted and closed. Errors anywhere are fine; panics are not.
pub fn database(data: &[u8]) -> Result<()> {
    let (len, rest) = match data.split_first_chunk::<4>() {
        Some((len, rest)) => (u32::from_le_bytes(*len) as usize, rest),
        None => (0, data),
    };
    let (file, wal) = rest.split_at(len.min(rest.len()));
    let fs = MemFs::new();
    let path = Path::new("/db");
    fs.put(path, file.to_vec());
    if !wal.is_empty() {
        fs.put(&segment::path(Path::new("/db.wal"), 1), wal.to_vec());
    }
    let db = Db::open(path, Config::default().with_sync(SyncPolicy::None).with_fs(Arc::new(fs)))?;
    for m in db.measurements()? {
        db.fields(&m)?;
        db.tag_keys(Some(&m))?;
        if let Ok(scan) = db.scan(&ScanRequest::new(m)) {
            scan.for_each(drop);
        }
    }
    db.partitions()?;
    db.series()?;
    db.write(&[Point::new("fuzz", 1.0, 0)])?;
    db.flush()?;
    db.compact()?;
    db.close()
}

/// A query of the Chronicle dialect (bytes that are not UTF-8 replaced):
/// parsing gives a query or an error.
pub fn dialect(data: &[u8]) -> Result<()> {
    crate::query::dialect::parse(&String::from_utf8_lossy(data)).map(drop)
}
