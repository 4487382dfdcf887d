//! The index block (version 3): where the series blocks and the live
//! partition blocks are, and the tombstones in force, written after every
//! flush, delete, tiering record and compaction.
//!
//! ```text
//! payload      := version u8 (= 3) | varint durable_lsn | varint partition_ns
//!                 | series | measurements | blocks | tombstones
//! series       := varint n | n x (varint offset | varint length | varint series | varint fields)
//!                 series blocks in file order; their ranges chain from id 0
//! measurements := varint n | n x (str name | varint f | f x varint field id)
//! blocks       := varint n | n x (varint zz(partition) | varint offset | varint length)
//! tombstones   := varint n | n x tombstone               (see `storage::tombstone`; absent in version 2)
//! str          := varint length | UTF-8 bytes
//! ```
//! The series live in series blocks (`series_block`), each written by the
//! flush that added them, so a flush writes only the new series, and losing
//! a later index block loses no series: recovery finds the series blocks
//! after the newest intact index. The index lists the series blocks to read
//! on open and the fields of each measurement (which the series blocks do
//! not say). `durable_lsn`: every WAL record up to it is wholly in the blocks
//! listed, so replay skips it. Version 1 blocks (`index_v1`) are still read.
//! Decode trusts nothing: counts are bounded by the payload, `durable_lsn` by
//! the largest LSN, blocks lie after the file header in ascending order
//! without overlapping; version 2 blocks (no tombstones) are still read; names and ids are checked when the series are known
//! ([`Manifest::load`]).

use super::block::HEADER_LEN;
use super::index_v1;
use super::series_block::{SeriesBlockRef, covered};
use crate::encoding::varint::{ByteReader, put_str, put_varint, unzigzag, zigzag};
use crate::encoding::{Error, Result};
use crate::storage::series_index::{FieldId, SeriesIndex};
use crate::storage::tombstone::Tombstone;
use crate::wal::segment::MAX_LSN;

/// Index layout version written.
pub const INDEX_VERSION: u8 = 3;
/// The version before tombstones, still read.
const VERSION_WITHOUT_TOMBSTONES: u8 = 2;

/// Where one partition block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Partition number.
    pub partition: i64,
    /// Offset of the block.
    pub offset: u64,
    /// Length of the whole block.
    pub len: u64,
}

/// The index in force: series, blocks and the WAL position they hold.
#[derive(Debug, Clone)]
pub struct IndexSnapshot {
    /// Every WAL record up to this LSN is in the listed blocks.
    pub durable_lsn: u64,
    /// The partition duration of the file, in nanoseconds.
    pub partition_ns: i64,
    /// The series index.
    pub series: SeriesIndex,
    /// Series blocks holding `series`, chained from id 0 (empty for a
    /// version 1 index, whose series are in the index itself: the next
    /// flush writes them all into a series block).
    pub series_blocks: Vec<SeriesBlockRef>,
    /// Live partition blocks, in file order.
    pub blocks: Vec<BlockRef>,
    /// Tombstones in force.
    pub tombstones: Vec<Tombstone>,
}

/// A version 2 or 3 index block, its series blocks not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Every WAL record up to this LSN is in the listed blocks.
    pub durable_lsn: u64,
    /// The partition duration of the file, in nanoseconds.
    pub partition_ns: i64,
    /// Series blocks, in file order.
    pub series_blocks: Vec<SeriesBlockRef>,
    /// Fields of each measurement that has any.
    pub fields: Vec<(String, Vec<FieldId>)>,
    /// Live partition blocks, in file order.
    pub blocks: Vec<BlockRef>,
    /// Tombstones in force.
    pub tombstones: Vec<Tombstone>,
}

/// What an index block holds.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A version 1 block: everything.
    Whole(Box<IndexSnapshot>),
    /// A version 2 or 3 block: the series are in the series blocks it lists.
    Manifest(Manifest),
}

/// Appends the payload of an index block to `out`: `series_blocks` hold the
/// series of `index` the index covers; fields of a measurement are listed
/// when the blocks cover one of its series and the field.
pub fn encode(
    durable_lsn: u64,
    partition_ns: i64,
    index: &SeriesIndex,
    (series_blocks, blocks): (&[SeriesBlockRef], &[BlockRef]),
    tombstones: &[impl AsRef<Tombstone>],
    out: &mut Vec<u8>,
) {
    let (series, fields) = covered(series_blocks);
    out.push(INDEX_VERSION);
    put_varint(out, durable_lsn);
    put_varint(out, partition_ns as u64);
    put_varint(out, series_blocks.len() as u64);
    for b in series_blocks {
        [b.offset, b.len, b.series, b.fields].into_iter().for_each(|v| put_varint(out, v));
    }
    let listed: Vec<(&String, Vec<FieldId>)> = index
        .measurements()
        .iter()
        .filter(|(_, m)| m.series.first().is_some_and(|&id| u64::from(id) < series))
        .map(|(name, m)| (name, m.fields.iter().copied().filter(|&f| u64::from(f) < fields).collect::<Vec<_>>()))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    put_varint(out, listed.len() as u64);
    for (name, fields) in listed {
        put_str(out, name);
        put_varint(out, fields.len() as u64);
        fields.iter().for_each(|&f| put_varint(out, u64::from(f)));
    }
    put_varint(out, blocks.len() as u64);
    for b in blocks {
        put_varint(out, zigzag(b.partition));
        put_varint(out, b.offset);
        put_varint(out, b.len);
    }
    put_varint(out, tombstones.len() as u64);
    for t in tombstones {
        t.as_ref().encode(out);
    }
}

/// Checks that a listed block lies after the previous one (`end`, starting
/// at the file header), without wrapping, and moves `end` past it.
fn check_extent(at: usize, end: &mut u64, offset: u64, len: u64) -> Result<()> {
    *end = offset
        .checked_add(len)
        .filter(|_| offset >= *end)
        .ok_or_else(|| Error::corrupt("block", at, format!("block of {len} bytes at {offset} overlaps or wraps")))?;
    Ok(())
}

/// Reads the partition block list (the end of every index version).
pub(super) fn read_blocks(r: &mut ByteReader<'_>) -> Result<Vec<BlockRef>> {
    let n = r.varint_len(r.remaining().len(), "block count")?;
    let mut blocks = Vec::with_capacity(n);
    let mut end = HEADER_LEN;
    for _ in 0..n {
        let at = r.offset();
        let partition = unzigzag(r.varint("partition")?);
        let offset = r.varint("block offset")?;
        let len = r.varint("block length")?;
        check_extent(at, &mut end, offset, len)?;
        blocks.push(BlockRef { partition, offset, len });
    }
    Ok(blocks)
}

/// Reads an index payload of either version (checksum already verified).
pub fn decode(payload: &[u8]) -> Result<Decoded> {
    let mut r = ByteReader::new(payload, 0);
    let version = r.u8("index version")?;
    if ![INDEX_VERSION, VERSION_WITHOUT_TOMBSTONES, index_v1::VERSION].contains(&version) {
        return Err(Error::corrupt("index version", 0, format!("unknown version {version}")));
    }
    let at = r.offset();
    let durable_lsn = r.varint("durable lsn")?;
    if durable_lsn > MAX_LSN {
        return Err(Error::corrupt("durable lsn", at, format!("{durable_lsn} exceeds the largest LSN")));
    }
    let at = r.offset();
    let partition_ns = i64::try_from(r.varint("partition duration")?)
        .ok()
        .filter(|&d| d > 0)
        .ok_or_else(|| Error::corrupt("partition duration", at, "not a positive i64"))?;
    if version == index_v1::VERSION {
        return index_v1::decode_rest(r, durable_lsn, partition_ns).map(|s| Decoded::Whole(Box::new(s)));
    }
    let limit = payload.len();
    let n = r.varint_len(limit, "series block count")?;
    let mut series_blocks = Vec::with_capacity(n);
    let mut end = HEADER_LEN;
    for _ in 0..n {
        let at = r.offset();
        let [offset, len, series, fields] = [(); 4].map(|()| r.varint("series block"));
        let b = SeriesBlockRef { offset: offset?, len: len?, series: series?, fields: fields? };
        check_extent(at, &mut end, b.offset, b.len)?;
        series_blocks.push(b);
    }
    let ids_fit = series_blocks
        .iter()
        .try_fold((0u64, 0u64), |(s, f), b| Some((s.checked_add(b.series)?, f.checked_add(b.fields)?)))
        .is_some_and(|(s, f)| s <= u64::from(u32::MAX) && f <= u64::from(u32::MAX));
    if !ids_fit {
        return Err(Error::corrupt("series blocks", r.offset(), "more series or fields than ids"));
    }
    let n = r.varint_len(limit, "measurement count")?;
    let mut measurement_fields = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string("measurement")?;
        let f = r.varint_len(limit, "field count")?;
        let ids = (0..f).map(|_| r.varint_len(u32::MAX as usize, "field id").map(|f| f as FieldId));
        measurement_fields.push((name, ids.collect::<Result<Vec<_>>>()?));
    }
    let blocks = read_blocks(&mut r)?;
    let mut tombstones = Vec::new();
    if version == INDEX_VERSION {
        let n = r.varint_len(r.remaining().len(), "tombstone count")?;
        for _ in 0..n {
            tombstones.push(Tombstone::decode(&mut r)?);
        }
    }
    if !r.remaining().is_empty() {
        return Err(Error::corrupt("index", r.offset(), "trailing bytes"));
    }
    let fields = measurement_fields;
    Ok(Decoded::Manifest(Manifest { durable_lsn, partition_ns, series_blocks, fields, blocks, tombstones }))
}

impl Manifest {
    /// The snapshot of this index once its series blocks are read into
    /// `series`. A field the series blocks do not name is left out.
    pub fn load(self, mut series: SeriesIndex) -> IndexSnapshot {
        let known_fields = series.field_names().len() as u64;
        for (name, fields) in &self.fields {
            for &f in fields.iter().filter(|&&f| u64::from(f) < known_fields) {
                series.add_field(name, f);
            }
        }
        IndexSnapshot {
            durable_lsn: self.durable_lsn,
            partition_ns: self.partition_ns,
            series,
            series_blocks: self.series_blocks,
            blocks: self.blocks,
            tombstones: self.tombstones,
        }
    }
}
