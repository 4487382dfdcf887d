//! Replay on open: read every segment in order, hand every intact record to
//! the caller as it is read, and cut a damaged tail off so appends continue
//! on clean bytes. Memory is bounded by one segment: records are not
//! collected.
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

/// What reading the log found.
#[derive(Debug, Default)]
pub struct Replay {
    /// The LSN of the last intact record (0 if none).
    pub last_lsn: u64,
    /// What was kept and dropped.
    pub report: RecoveryReport,
    /// Segments found, in order.
    pub segments: Vec<SegmentFile>,
}

/// Reads the log in `dir`, handing every intact record to `visit` as (LSN,
/// payload) in LSN order, and truncating a damaged tail of its last segment.
pub fn replay(fs: &dyn Fs, dir: &Path, mut visit: impl FnMut(u64, &[u8])) -> Result<Replay> {
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
        let stop = segment::parse_each(&bytes, last_lsn, |lsn, payload| {
            out.report.records += 1;
            last_lsn = lsn;
            visit(lsn, payload);
        });
        out.report.segments += 1;
        if let Some((offset, stop)) = stop {
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
    out.last_lsn = last_lsn;
    Ok(out)
}
