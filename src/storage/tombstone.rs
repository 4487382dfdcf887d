//! Tombstones: what a delete or a tiering took out of the local file before
//! compaction rewrites it.
//!
//! A [`Tombstone`] names a measurement, tag matchers and a time range, and
//! says which copies of the points it covers:
//! - blocks of the file at offsets below `file_end` (the file as it was when
//!   it was made; blocks appended later hold newer writes);
//! - for a delete, WAL records up to `lsn` (replay applies it to the head
//!   once every such record is applied, so writes after it stay);
//! - for a delete, the cold-tier files `tiered` (by URL) it hides rows of.
//!
//! A [`TombstoneKind::Delete`] hides its points from every read at once and
//! compaction removes them; a [`TombstoneKind::Tiered`] marks the local
//! chunks of a tiered (measurement, partition) that its Parquet file holds:
//! reads go on merging both copies, and compaction drops the local one.
//! Tombstones live in the index block (`index_block`, version 3), so a
//! compaction's new file and the tombstones left after it are renamed in
//! together.
//!
//! ```text
//! tombstone := kind u8 (0 delete, 1 tiered) | str measurement
//!              | varint zz(start) | varint zz(end) | varint lsn | varint file_end
//!              | varint m | m x (str key | op u8 (0 =, 1 !=, 2 =~, 3 !~) | str value)
//!              | varint u | u x str url
//! ```

use crate::encoding::varint::{ByteReader, put_str, put_varint, unzigzag, zigzag};
use crate::encoding::{Error, Result};
use crate::storage::matcher::{MatchOp, TagMatcher};

/// What a tombstone stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TombstoneKind {
    /// Points removed by `Db::delete`: hidden from reads, dropped by compaction.
    Delete,
    /// Local chunks whose points a verified cold-tier file holds: dropped by compaction.
    Tiered,
}

/// One delete or tiering, until compaction has applied it; see the module docs.
#[derive(Debug, Clone)]
pub struct Tombstone {
    /// What it stands for.
    pub kind: TombstoneKind,
    /// The measurement.
    pub measurement: String,
    /// The series of the measurement it covers (all of them if empty).
    pub matchers: Vec<TagMatcher>,
    /// First nanosecond covered.
    pub start: i64,
    /// Last nanosecond covered.
    pub end: i64,
    /// WAL records up to this one are covered (deletes; 0 for tiering).
    pub lsn: u64,
    /// Blocks of the file at offsets below this are covered.
    pub file_end: u64,
    /// Cold-tier files (URLs) whose rows in range it hides (deletes).
    pub tiered: Vec<String>,
}

impl PartialEq for Tombstone {
    fn eq(&self, other: &Self) -> bool {
        let matcher = |m: &TagMatcher| (m.key.clone(), m.op, m.value.clone());
        (self.kind, &self.measurement, self.start, self.end, self.lsn, self.file_end, &self.tiered)
            == (other.kind, &other.measurement, other.start, other.end, other.lsn, other.file_end, &other.tiered)
            && self.matchers.iter().map(matcher).eq(other.matchers.iter().map(matcher))
    }
}

impl Eq for Tombstone {}

impl Tombstone {
    /// Appends its encoding (module docs) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self.kind {
            TombstoneKind::Delete => 0,
            TombstoneKind::Tiered => 1,
        });
        put_str(out, &self.measurement);
        put_varint(out, zigzag(self.start));
        put_varint(out, zigzag(self.end));
        put_varint(out, self.lsn);
        put_varint(out, self.file_end);
        put_varint(out, self.matchers.len() as u64);
        for m in &self.matchers {
            put_str(out, &m.key);
            out.push(match m.op {
                MatchOp::Eq => 0,
                MatchOp::NotEq => 1,
                MatchOp::Regex => 2,
                MatchOp::NotRegex => 3,
            });
            put_str(out, &m.value);
        }
        put_varint(out, self.tiered.len() as u64);
        for url in &self.tiered {
            put_str(out, url);
        }
    }

    /// Reads one tombstone; every count is bounded by what is left of the
    /// payload, and a regex that does not compile is corruption.
    pub fn decode(r: &mut ByteReader<'_>) -> Result<Self> {
        let at = r.offset();
        let kind = match r.u8("tombstone kind")? {
            0 => TombstoneKind::Delete,
            1 => TombstoneKind::Tiered,
            k => return Err(Error::corrupt("tombstone kind", at, format!("unknown kind {k}"))),
        };
        let measurement = r.string("tombstone measurement")?;
        let start = unzigzag(r.varint("tombstone start")?);
        let end = unzigzag(r.varint("tombstone end")?);
        if start > end {
            return Err(Error::corrupt("tombstone range", at, format!("start {start} after end {end}")));
        }
        let lsn = r.varint("tombstone lsn")?;
        let file_end = r.varint("tombstone file end")?;
        let n = r.varint_len(r.remaining().len(), "tombstone matcher count")?;
        let mut matchers = Vec::with_capacity(n);
        for _ in 0..n {
            let key = r.string("matcher key")?;
            let at = r.offset();
            let op = r.u8("matcher op")?;
            let value = r.string("matcher value")?;
            let bad = |e: crate::error::Error| Error::corrupt("matcher", at, e.to_string());
            matchers.push(match op {
                0 => TagMatcher::eq(key, value),
                1 => TagMatcher::not_eq(key, value),
                2 => TagMatcher::regex(key, value).map_err(bad)?,
                3 => TagMatcher::not_regex(key, value).map_err(bad)?,
                op => return Err(Error::corrupt("matcher op", at, format!("unknown op {op}"))),
            });
        }
        let n = r.varint_len(r.remaining().len(), "tombstone file count")?;
        let tiered = (0..n).map(|_| r.string("tiered file url")).collect::<Result<_>>()?;
        Ok(Self { kind, measurement, matchers, start, end, lsn, file_end, tiered })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[test]
    fn tombstones_round_trip_and_damage_is_refused() {
        let t = Tombstone {
            kind: TombstoneKind::Delete,
            measurement: "cpu".into(),
            matchers: vec![
                TagMatcher::eq("host", "a"),
                TagMatcher::not_eq("dc", "x"),
                TagMatcher::regex("rack", "r[0-9]+").unwrap(),
                TagMatcher::not_regex("os", "lin.*").unwrap(),
            ],
            start: -5,
            end: 1 << 40,
            lsn: 77,
            file_end: 4096,
            tiered: vec!["memory://t/cpu/0-1.parquet".into()],
        };
        let mut out = Vec::new();
        t.encode(&mut out);
        let back = Tombstone::decode(&mut ByteReader::new(&out, 0)).unwrap();
        assert_eq!((back.kind, &back.measurement, back.start, back.end), (t.kind, &t.measurement, -5, 1 << 40));
        assert_eq!((back.lsn, back.file_end, &back.tiered), (77, 4096, &t.tiered));
        let ops: Vec<(MatchOp, &str)> = back.matchers.iter().map(|m| (m.op, m.value.as_str())).collect();
        assert_eq!(
            ops,
            [(MatchOp::Eq, "a"), (MatchOp::NotEq, "x"), (MatchOp::Regex, "r[0-9]+"), (MatchOp::NotRegex, "lin.*")]
        );
        assert!(back.matchers[2].matches(Some("r12")) && !back.matchers[2].matches(Some("r1x")));
        for cut in 0..out.len() {
            assert!(Tombstone::decode(&mut ByteReader::new(&out[..cut], 0)).is_err(), "cut at {cut}");
        }
        let mut bad_kind = out.clone();
        bad_kind[0] = 9;
        assert!(Tombstone::decode(&mut ByteReader::new(&bad_kind, 0)).is_err());
    }
}
