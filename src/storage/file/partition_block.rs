//! Partition blocks: the encoded chunks of one time partition, led by their
//! directory so open can read the directory without the chunks.
//!
//! ```text
//! payload   := partition i64 LE | dir_len u32 LE | dir_crc u32 LE | directory | chunks
//! directory := version u8 (= 1) | varint n | n x entry
//! entry     := varint series id delta (from the previous entry; the first is absolute)
//!              | varint field count f | f x varint field id
//!              | varint point count | varint zz(min_time) | varint (max_time - min_time)
//!              | varint chunk length | f x column stats (encoding::stats layout)
//! chunks    := the chunks (encoding::chunk layout), in entry order, back to back
//! ```
//! `partition` is the partition number `floor(time / partition duration)`.
//! `dir_crc` is CRC-32 of the directory bytes. Entries are sorted by series
//! id; chunk offsets are implicit (the running sum of lengths).
//! Each chunk holds one series' timestamps once and the fields that share
//! them; the stats repeat the chunk's so scans can prune and aggregate
//! without reading the chunk.

use std::sync::Arc;

use crate::encoding::stats::ColumnStats;
use crate::encoding::varint::{ByteReader, put_varint, zigzag};
use crate::encoding::{ChunkEncoder, Error, Result};
use crate::storage::series_index::{FieldId, SeriesId};

use super::block::{self, BLOCK_HEADER_LEN, BlockType};

/// Bytes of the payload before the directory.
pub const PREFIX_LEN: usize = 16;
/// Directory layout version.
pub const DIRECTORY_VERSION: u8 = 1;

/// Where one chunk is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkEntry {
    /// The series.
    pub series: SeriesId,
    /// The fields, in column order (shared: scans copy entries).
    pub fields: Arc<[FieldId]>,
    /// Points per field.
    pub count: u32,
    /// Earliest timestamp.
    pub min_time: i64,
    /// Latest timestamp.
    pub max_time: i64,
    /// Absolute file offset of the chunk.
    pub offset: u64,
    /// Chunk length in bytes.
    pub len: u32,
    /// Stats per field, in column order (shared: scans copy entries).
    pub stats: Arc<[ColumnStats]>,
}

/// The directory of one partition block.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionBlock {
    /// Partition number.
    pub partition: i64,
    /// Offset of the block in the file.
    pub offset: u64,
    /// Length of the whole block.
    pub len: u64,
    /// Chunks, sorted by series id.
    pub entries: Vec<ChunkEntry>,
}

impl PartitionBlock {
    /// The entries of `series`.
    pub fn series_entries(&self, series: SeriesId) -> &[ChunkEntry] {
        let lo = self.entries.partition_point(|e| e.series < series);
        let hi = self.entries.partition_point(|e| e.series <= series);
        &self.entries[lo..hi]
    }
}

/// Builds one partition block, series by series.
#[derive(Debug)]
pub struct PartitionBlockBuilder {
    partition: i64,
    chunks: Vec<u8>,
    entries: Vec<ChunkEntry>,
}

impl PartitionBlockBuilder {
    /// An empty block for partition number `partition`.
    pub fn new(partition: i64) -> Self {
        Self { partition, chunks: Vec::new(), entries: Vec::new() }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encodes one chunk: `fields` share `times` (ascending, distinct); `columns`
    /// are their values. Series must be added in ascending order.
    pub fn add_chunk(
        &mut self,
        encoder: &mut ChunkEncoder,
        series: SeriesId,
        fields: &[FieldId],
        times: &[i64],
        columns: &[&[f64]],
    ) -> Result<()> {
        if self.entries.last().is_some_and(|e| e.series > series) {
            return Err(Error::Unencodable(format!("series {series} added out of order")));
        }
        let (Some(&min_time), Some(&max_time)) = (times.first(), times.last()) else {
            return Ok(());
        };
        let start = self.chunks.len();
        encoder.encode(times, columns, &mut self.chunks)?;
        let len =
            u32::try_from(self.chunks.len() - start).map_err(|_| Error::Unencodable("a chunk exceeds 4 GiB".into()))?;
        let stats: Vec<ColumnStats> = columns.iter().filter_map(|c| ColumnStats::of(c)).collect();
        let fields = shared_fields(self.entries.last(), fields);
        self.entries.push(ChunkEntry {
            series,
            fields,
            count: times.len() as u32,
            min_time,
            max_time,
            offset: start as u64,
            len,
            stats: stats.into(),
        });
        Ok(())
    }

    /// Appends the framed block to `out`, whose first byte will sit at file
    /// offset `file_offset`; returns its directory with absolute offsets.
    pub fn finish(self, out: &mut Vec<u8>, file_offset: u64) -> Result<PartitionBlock> {
        let mut dir = vec![DIRECTORY_VERSION];
        put_varint(&mut dir, self.entries.len() as u64);
        let mut previous = 0;
        for e in &self.entries {
            put_varint(&mut dir, u64::from(e.series - previous));
            previous = e.series;
            put_varint(&mut dir, e.fields.len() as u64);
            e.fields.iter().for_each(|&f| put_varint(&mut dir, u64::from(f)));
            put_varint(&mut dir, u64::from(e.count));
            put_varint(&mut dir, zigzag(e.min_time));
            put_varint(&mut dir, e.max_time.wrapping_sub(e.min_time) as u64);
            put_varint(&mut dir, u64::from(e.len));
            e.stats.iter().for_each(|s| s.encode(&mut dir));
        }
        let dir_len = u32::try_from(dir.len()).map_err(|_| Error::Unencodable("directory exceeds 4 GiB".into()))?;
        let start = out.len();
        block::begin(out, BlockType::Partition);
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.extend_from_slice(&dir_len.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&dir).to_le_bytes());
        out.extend_from_slice(&dir);
        out.extend_from_slice(&self.chunks);
        block::finish(out, start).map_err(Error::Unencodable)?;
        let chunk_base = file_offset + (BLOCK_HEADER_LEN + PREFIX_LEN) as u64 + u64::from(dir_len);
        let mut entries = self.entries;
        entries.iter_mut().for_each(|e| e.offset += chunk_base);
        Ok(PartitionBlock { partition: self.partition, offset: file_offset, len: (out.len() - start) as u64, entries })
    }
}

/// `fields` as an entry's field list, shared with `previous` when equal:
/// most entries of a block hold the same fields, so a directory of millions
/// of entries keeps a handful of lists, not one allocation each.
fn shared_fields(previous: Option<&ChunkEntry>, fields: &[FieldId]) -> Arc<[FieldId]> {
    match previous {
        Some(e) if *e.fields == *fields => Arc::clone(&e.fields),
        _ => fields.into(),
    }
}

/// The fixed prefix of a partition payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Partition number.
    pub partition: i64,
    /// Directory length.
    pub dir_len: u32,
    /// Directory checksum.
    pub dir_crc: u32,
}

impl Prefix {
    /// Reads the prefix.
    pub fn parse(bytes: &[u8; PREFIX_LEN]) -> Self {
        let mut p = [0u8; 8];
        p.copy_from_slice(&bytes[..8]);
        let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Self { partition: i64::from_le_bytes(p), dir_len: word(8), dir_crc: word(12) }
    }
}

/// The first and last nanosecond of partition `partition` (wider than `i64`
/// at the ends of time, so no timestamp is out of range by overflow).
fn partition_bounds(partition: i64, partition_ns: i64) -> (i128, i128) {
    let first = i128::from(partition) * i128::from(partition_ns);
    (first, first + i128::from(partition_ns) - 1)
}

/// Limits a directory is checked against: ids the index knows, and the
/// file's partition duration.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Number of series.
    pub series: usize,
    /// Number of fields.
    pub fields: usize,
    /// Partition duration in nanoseconds (positive).
    pub partition_ns: i64,
}

/// Reads a directory (checksum already verified) of the block at
/// `block_offset` of length `block_len`. A valid checksum only says the bytes
/// are the ones written, so every entry is checked before use: series ids
/// known to the index and ascending (their deltas summed without overflow),
/// field ids known, distinct and ascending, counts non-zero and within `u32`,
/// time bounds ordered and inside the partition, chunks within the block.
/// Errors carry offsets relative to the directory's start.
pub fn parse_directory(
    dir: &[u8],
    prefix: Prefix,
    block_offset: u64,
    block_len: u64,
    known: Known,
) -> Result<PartitionBlock> {
    let mut r = ByteReader::new(dir, 0);
    let version = r.u8("directory version")?;
    if version != DIRECTORY_VERSION {
        return Err(Error::corrupt("directory version", 0, format!("version {version} is not {DIRECTORY_VERSION}")));
    }
    let n = r.varint_len(dir.len(), "entry count")?;
    let chunk_base = (BLOCK_HEADER_LEN + PREFIX_LEN) as u64 + dir.len() as u64;
    let mut next = chunk_base;
    let mut entries: Vec<ChunkEntry> = Vec::with_capacity(n);
    let mut fields: Vec<FieldId> = Vec::new();
    let mut series = 0u64;
    let (first, last) = partition_bounds(prefix.partition, known.partition_ns);
    for _ in 0..n {
        let at = r.offset();
        series = series.saturating_add(r.varint("series id")?);
        let f = r.varint_len(known.fields.max(1), "field count")?;
        fields.clear();
        for _ in 0..f {
            let at = r.offset();
            let id = r.varint("field id")?;
            let id = u32::try_from(id)
                .ok()
                .filter(|&id| (id as usize) < known.fields && fields.last().is_none_or(|&last| last < id))
                .ok_or_else(|| Error::corrupt("field id", at, format!("field {id} unknown or out of order")))?;
            fields.push(id);
        }
        let count = r.varint("point count")?;
        let min_time = r.varint_i64("min time")?;
        let max_time = i64::try_from(i128::from(min_time) + i128::from(r.varint("time span")?)).ok();
        let len = r.varint("chunk length")?;
        let stats = (0..f).map(|_| ColumnStats::decode(&mut r)).collect::<Result<Vec<_>>>()?;
        if series >= known.series as u64 {
            return Err(Error::corrupt("series id", at, format!("unknown series {series}")));
        }
        if f == 0 || count == 0 || count > u64::from(u32::MAX) {
            return Err(Error::corrupt("directory entry", at, "an entry without fields or points"));
        }
        let max_time = max_time
            .filter(|&max| first <= i128::from(min_time) && i128::from(max) <= last)
            .ok_or_else(|| Error::corrupt("time bounds", at, "times outside the block's partition"))?;
        let end = next.checked_add(len).filter(|&end| end <= block_len && len <= u64::from(u32::MAX));
        let Some(end) = end else {
            return Err(Error::corrupt("chunk length", at, format!("chunk of {len} bytes runs past the block")));
        };
        entries.push(ChunkEntry {
            series: series as SeriesId,
            fields: shared_fields(entries.last(), &fields),
            count: count as u32,
            min_time,
            max_time,
            offset: block_offset + next,
            len: len as u32,
            stats: stats.into(),
        });
        next = end;
    }
    if !r.remaining().is_empty() {
        return Err(Error::corrupt("directory", r.offset(), "trailing bytes"));
    }
    Ok(PartitionBlock { partition: prefix.partition, offset: block_offset, len: block_len, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Chunk;

    #[test]
    fn a_block_round_trips_through_its_directory() {
        let mut enc = ChunkEncoder::default();
        let mut b = PartitionBlockBuilder::new(3);
        let times = [310, 320, 330];
        b.add_chunk(&mut enc, 0, &[0, 1], &times, &[&[1.0, 2.0, 3.0], &[0.5, 0.25, 0.125]]).expect("adds");
        b.add_chunk(&mut enc, 3, &[1], &[305], &[&[-0.0]]).expect("adds");
        b.add_chunk(&mut enc, 5, &[1], &[301, 302], &[&[4.0, 5.0]]).expect("adds");
        let mut out = vec![0u8; 100];
        let block = b.finish(&mut out, 100).expect("finishes");
        let prefix_at = 100 + BLOCK_HEADER_LEN;
        let prefix = Prefix::parse(out[prefix_at..prefix_at + PREFIX_LEN].try_into().expect("16 bytes"));
        assert_eq!(prefix.partition, 3);
        let dir = &out[prefix_at + PREFIX_LEN..prefix_at + PREFIX_LEN + prefix.dir_len as usize];
        assert_eq!(crc32fast::hash(dir), prefix.dir_crc);
        let known = Known { series: 6, fields: 2, partition_ns: 100 };
        let parsed = parse_directory(dir, prefix, 100, block.len, known).expect("parses");
        assert_eq!(parsed, block);
        for entries in [&block.entries, &parsed.entries] {
            assert!(!Arc::ptr_eq(&entries[0].fields, &entries[1].fields), "different lists");
            assert!(Arc::ptr_eq(&entries[1].fields, &entries[2].fields), "equal lists are shared");
        }
        let e = &parsed.series_entries(3)[0];
        let chunk = Chunk::parse(&out[e.offset as usize..(e.offset + u64::from(e.len)) as usize]).expect("chunk");
        assert_eq!(chunk.decode().expect("decodes").values[0].value(0).to_bits(), (-0.0f64).to_bits());
        assert!(parse_directory(dir, prefix, 100, block.len, Known { series: 3, ..known }).is_err());
        assert!(parse_directory(dir, prefix, 100, block.len, Known { partition_ns: 50, ..known }).is_err());
    }

    /// A directory entry built by hand: series id delta, field ids, point
    /// count, time bounds as (min, span), chunk length.
    type Entry<'a> = (u64, &'a [u64], u64, (i64, u64), u64);

    /// Appends `entry`, with stats for each field, to `dir`.
    fn entry(dir: &mut Vec<u8>, (delta, fields, count, (min, span), len): Entry<'_>) {
        put_varint(dir, delta);
        put_varint(dir, fields.len() as u64);
        fields.iter().for_each(|&f| put_varint(dir, f));
        put_varint(dir, count);
        put_varint(dir, zigzag(min));
        put_varint(dir, span);
        put_varint(dir, len);
        for _ in fields {
            ColumnStats::of(&[1.0]).expect("stats").encode(dir);
        }
    }

    #[test]
    fn crafted_directories_are_refused_without_overflow() {
        let known = Known { series: 2, fields: 2, partition_ns: 100 };
        let prefix = Prefix { partition: 0, dir_len: 0, dir_crc: 0 };
        let parse = |entries: &[Entry<'_>]| {
            let mut dir = vec![DIRECTORY_VERSION];
            put_varint(&mut dir, entries.len() as u64);
            entries.iter().for_each(|&e| entry(&mut dir, e));
            parse_directory(&dir, prefix, 1000, 10_000, known)
        };
        let ok = (1, &[0, 1][..], 3, (10, 5), 40);
        parse(&[ok, (0, &[1], 1, (0, 99), 40)]).expect("a good directory parses");
        let cases: [(&str, Entry<'_>); 9] = [
            ("series ids summing past u64", (u64::MAX, &[0], 1, (0, 0), 1)),
            ("an unknown series", (1, &[0], 1, (0, 0), 1)),
            ("an unknown field", (0, &[2], 1, (0, 0), 1)),
            ("fields out of order", (0, &[1, 0], 1, (0, 0), 1)),
            ("a field twice", (0, &[1, 1], 1, (0, 0), 1)),
            ("no point", (0, &[0], 0, (0, 0), 1)),
            ("times before the partition", (0, &[0], 1, (-1, 0), 1)),
            ("a time span past i64", (0, &[0], 1, (50, u64::MAX), 1)),
            ("a chunk length past u64", (0, &[0], 1, (0, 0), u64::MAX)),
        ];
        for (why, bad) in cases {
            assert!(parse(&[ok, bad]).is_err(), "{why}");
        }
        assert!(parse(&[ok, (0, &[0], 1, (0, 0), 9_990)]).is_err(), "chunks running past the block");
    }
}
