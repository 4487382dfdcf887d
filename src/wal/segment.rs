//! Segment files: the byte layout of the log and the framing of its records.
//!
//! ```text
//! segment  := header record*
//! header   := magic "CHRNWAL\0" (8 bytes) | version u16 LE (= 1)
//! record   := len u32 LE | crc u32 LE | lsn u64 LE | payload (len bytes)
//! ```
//! `crc` is CRC-32 (IEEE) of the lsn bytes and the payload. A segment is named
//! after the first log sequence number (LSN) it may hold, zero-padded to 20
//! digits, with extension `.wal`, so names sort in log order. LSNs start at 1
//! and grow by one per record across segments, and never exceed [`MAX_LSN`]:
//! a record or segment name beyond it is damage, so LSN arithmetic never
//! overflows whatever the bytes on disk say.

use std::path::{Path, PathBuf};

/// First bytes of every segment.
pub const MAGIC: [u8; 8] = *b"CHRNWAL\0";
/// Layout version written by this build.
pub const VERSION: u16 = 1;
/// Bytes of the segment header.
pub const HEADER_LEN: usize = 10;
/// Bytes of a record header (len, crc, lsn).
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest payload one record may carry.
pub const MAX_RECORD_LEN: usize = 1 << 30;
/// Largest LSN: 2^63 - 1, more records than any log will hold.
pub const MAX_LSN: u64 = i64::MAX as u64;

/// The segment header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Appends one framed record to `out`.
pub fn frame(lsn: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&lsn.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The path of the segment whose first LSN is `first_lsn`.
pub fn path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:020}.wal"))
}

/// The first LSN a segment path names, if it is a segment.
pub fn first_lsn(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".wal")?;
    (stem.len() == 20).then(|| stem.parse().ok()).flatten().filter(|&lsn| lsn <= MAX_LSN)
}

/// Why reading a segment stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The bytes end inside a record header or payload: a torn write.
    Torn,
    /// A record's checksum, length or LSN is wrong.
    Corrupt(String),
}

/// Records read from one segment, and where and why reading stopped early.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
pub struct Parsed {
    /// (LSN, payload) in order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Offset of the first byte not accepted and why, if reading stopped early.
    pub stop: Option<(u64, Stop)>,
}

/// Reads every intact record of a segment's bytes, stopping at the first
/// damaged one. `after` is the LSN every record must exceed.
#[cfg(any(test, feature = "testing"))]
pub fn parse(bytes: &[u8], after: u64) -> Parsed {
    let mut records = Vec::new();
    let stop = parse_each(bytes, after, |lsn, payload| records.push((lsn, payload.to_vec())));
    Parsed { records, stop }
}

/// Hands every intact record of a segment's bytes to `visit` as it is
/// read, stopping at the first damaged one; returns where and why reading
/// stopped early, if it did. `after` is the LSN every record must exceed.
pub fn parse_each(bytes: &[u8], mut after: u64, mut visit: impl FnMut(u64, &[u8])) -> Option<(u64, Stop)> {
    if bytes.len() < HEADER_LEN {
        return Some((0, Stop::Torn));
    }
    if bytes[..HEADER_LEN] != header() {
        return Some((0, Stop::Corrupt("bad segment header (magic or version)".into())));
    }
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + RECORD_HEADER_LEN) else {
            return Some((at as u64, Stop::Torn));
        };
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (len, crc) = (word(0) as usize, word(4));
        let mut lsn_bytes = [0u8; 8];
        lsn_bytes.copy_from_slice(&head[8..16]);
        let lsn = u64::from_le_bytes(lsn_bytes);
        if len > MAX_RECORD_LEN {
            return Some((at as u64, Stop::Corrupt(format!("record length {len} exceeds the limit"))));
        }
        let Some(payload) = bytes.get(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len) else {
            return Some((at as u64, Stop::Torn));
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&lsn_bytes);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return Some((at as u64, Stop::Corrupt("record checksum mismatch".into())));
        }
        if lsn <= after || lsn > MAX_LSN {
            return Some((at as u64, Stop::Corrupt(format!("LSN {lsn} does not follow {after}"))));
        }
        after = lsn;
        visit(lsn, payload);
        at += RECORD_HEADER_LEN + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut bytes = header().to_vec();
        for (lsn, p) in records {
            frame(*lsn, p, &mut bytes);
        }
        bytes
    }

    #[test]
    fn frames_round_trip_and_damage_stops_reading() {
        let bytes = segment(&[(1, b"one"), (2, b""), (3, b"three")]);
        let parsed = parse(&bytes, 0);
        assert_eq!(parsed.records.len(), 3);
        assert!(parsed.stop.is_none());
        // A torn last record keeps the two before it.
        let torn = parse(&bytes[..bytes.len() - 2], 0);
        assert_eq!(torn.records.len(), 2);
        assert!(matches!(torn.stop, Some((_, Stop::Torn))));
        // A flipped payload byte is a checksum failure at that record.
        let mut flipped = bytes.clone();
        let at = HEADER_LEN + RECORD_HEADER_LEN + 1;
        flipped[at] ^= 1;
        let p = parse(&flipped, 0);
        assert_eq!((p.records.len(), p.stop.map(|s| s.0)), (0, Some(HEADER_LEN as u64)));
        // LSNs must grow.
        assert!(matches!(parse(&segment(&[(5, b"a"), (5, b"b")]), 0).stop, Some((_, Stop::Corrupt(_)))));
        assert!(matches!(parse(b"NOTAWAL\0\x01\x00", 0).stop, Some((0, Stop::Corrupt(_)))));
    }

    #[test]
    fn lsns_beyond_the_largest_are_damage() {
        let p = parse(&segment(&[(MAX_LSN, b"last"), (u64::MAX, b"beyond")]), 0);
        assert_eq!(p.records.len(), 1);
        assert!(matches!(p.stop, Some((_, Stop::Corrupt(_)))));
        assert_eq!(first_lsn(&path(Path::new("/w"), MAX_LSN)), Some(MAX_LSN));
        assert_eq!(first_lsn(Path::new("/w/18446744073709551615.wal")), None);
    }

    #[test]
    fn names_sort_in_log_order() {
        let p = path(Path::new("/w"), 42);
        assert_eq!(p, Path::new("/w/00000000000000000042.wal"));
        assert_eq!(first_lsn(&p), Some(42));
        assert_eq!(first_lsn(Path::new("/w/42.wal")), None);
    }
}
