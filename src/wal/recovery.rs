//! Replay on open: read every segment in order, keep every intact record,
//! and cut a damaged tail off so appends continue on clean bytes.
//!
//! Rules: records are accepted in LSN order until the first damaged one in a
//! segment (a torn write, a bad checksum, a length or LSN out of place). The
//! rest of that segment is dropped and reported, never fatal. Later segments
//! are still read, so damage in the middle of the log loses only what it
//! touched. The last segment is truncated at its first damaged byte.

use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::segment::{self, Stop};
use crate::fs::Fs;

/// Bytes dropped from one segment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Damage {
    /// The segment file.
    pub path: PathBuf,
    /// Offset of the first dropped byte.
    pub offset: u64,
    /// Bytes dropped from there to the segment's end.
    pub bytes: u64,
    /// What was wrong there.
    pub reason: String,
}

/// What replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Segments read.
    pub segments: usize,
    /// Records kept.
    pub records: usize,
    /// Damaged tails dropped (and truncated, for the last segment).
    pub damage: Vec<Damage>,
}

/// One segment file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// The first LSN it may hold (its name).
    pub first_lsn: u64,
    /// Its path.
    pub path: PathBuf,
    /// Its length in bytes (after any truncation).
    pub bytes: u64,
}

/// The records of the log and the report of reading them.
#[derive(Debug, Default)]
pub struct Replay {
    /// (LSN, payload) of every intact record, in LSN order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// What was kept and dropped.
    pub report: RecoveryReport,
    /// Segments found, in order.
    pub segments: Vec<SegmentFile>,
}

/// Reads the log in `dir`, truncating a damaged tail of its last segment.
pub fn replay(fs: &dyn Fs, dir: &Path) -> Result<Replay> {
    let segments: Vec<SegmentFile> = fs
        .list(dir)
        .map_err(Error::io("list", dir))?
        .into_iter()
        .filter_map(|path| segment::first_lsn(&path).map(|first_lsn| SegmentFile { first_lsn, path, bytes: 0 }))
        .collect();
    let mut out = Replay { segments, ..Replay::default() };
    let mut last_lsn = 0;
    let count = out.segments.len();
    for (i, file) in out.segments.iter_mut().enumerate() {
        let path = &file.path;
        let bytes = fs.read(path).map_err(Error::io("read", path))?;
        file.bytes = bytes.len() as u64;
        let parsed = segment::parse(&bytes, last_lsn);
        out.report.segments += 1;
        out.report.records += parsed.records.len();
        if let Some(&(lsn, _)) = parsed.records.last() {
            last_lsn = lsn;
        }
        out.records.extend(parsed.records);
        if let Some((offset, stop)) = parsed.stop {
            let reason = match stop {
                Stop::Torn => "torn write".to_string(),
                Stop::Corrupt(why) => why,
            };
            let bytes_dropped = bytes.len() as u64 - offset;
            if i + 1 == count {
                fs.truncate(path, offset).map_err(Error::io("truncate", path))?;
                file.bytes = offset;
            }
            out.report.damage.push(Damage { path: path.clone(), offset, bytes: bytes_dropped, reason });
        }
    }
    Ok(out)
}
