//! The mutable state behind a [`super::Db`]: index, head, file and block
//! directories, and the operations that change them under its lock.
//!
//! Flush protocol: encode the chosen head partitions into partition blocks,
//! append them with a new index block and footer in one write, fsync; only
//! then drop those partitions from the head and checkpoint the WAL up to the
//! last record wholly in the file (`durable_lsn`). A failure before the fsync
//! returns leaves the head intact and poisons the database for writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::encoding::ChunkEncoder;
use crate::error::{Error, Result};
use crate::model::SeriesKey;
use crate::storage::file::block::{self, BlockType};
use crate::storage::file::footer::Footer;
use crate::storage::file::index_block::{self, BlockRef};
use crate::storage::file::partition_block::{PartitionBlock, PartitionBlockBuilder};
use crate::storage::file::store::FileStore;
use crate::storage::head::Head;
use crate::storage::merge::FieldSeries;
use crate::storage::scan::read_chunks;
use crate::storage::series_index::{FieldId, SeriesId, SeriesIndex};
use crate::wal::Wal;

use super::flush::add_series;
use super::wal_record::Record;

/// Blocks per partition number, each list in file order.
pub(crate) type Blocks = BTreeMap<i64, Vec<Arc<PartitionBlock>>>;

#[derive(Debug)]
pub(crate) struct State {
    pub index: SeriesIndex,
    pub head: Head,
    pub store: FileStore,
    pub blocks: Blocks,
    pub partition_ns: i64,
    /// Every WAL record up to here is wholly in the file.
    pub durable_lsn: u64,
    /// The last WAL record applied to the head.
    pub last_lsn: u64,
    /// The newest timestamp written so far.
    pub newest_time: Option<i64>,
    /// Partitions up to this number have been closed (flushed once due).
    pub horizon: i64,
    pub poisoned: Option<String>,
    pub closed: bool,
    pub encoder: ChunkEncoder,
}

fn internal(e: crate::encoding::Error) -> Error {
    Error::InvalidArgument(format!("encoding failed: {e}"))
}

impl State {
    /// Fails if writes are refused.
    pub fn writable(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        match &self.poisoned {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Applies WAL record `lsn` to the index and head.
    pub fn apply(&mut self, lsn: u64, payload: &[u8]) -> crate::encoding::Result<()> {
        let record = Record::parse(payload)?;
        let mut series = Vec::with_capacity(record.keys.len());
        for key in &record.keys {
            let id = match self.index.lookup(key) {
                Some(id) => id,
                None => self.index.insert(SeriesKey::decode(key)?),
            };
            series.push(id);
        }
        let fields: Vec<FieldId> = record.fields.iter().map(|f| self.index.field_id(f)).collect();
        let (ns, head) = (self.partition_ns, &mut self.head);
        let mut new_fields: Vec<(SeriesId, FieldId)> = Vec::new();
        let mut row = Vec::new();
        let mut newest = self.newest_time.unwrap_or(i64::MIN);
        record.for_each_row(|key, time, values| {
            row.clear();
            row.extend(values.iter().map(|&(f, v)| (fields[f], v)));
            let id = series[key];
            head.push_row(time.div_euclid(ns), lsn, id, time, &row, |f| new_fields.push((id, f)));
            newest = newest.max(time);
        })?;
        for (id, f) in new_fields {
            if let Some(m) = self.index.key(id).map(|k| k.measurement.clone()) {
                self.index.add_field(&m, f);
            }
        }
        self.newest_time = Some(newest);
        self.last_lsn = self.last_lsn.max(lsn);
        Ok(())
    }

    /// The head partitions that are due for a flush.
    pub fn due(&mut self, late_ns: i64, memory_budget: usize, wal_bytes: u64, max_wal_bytes: u64) -> Vec<i64> {
        if self.head.bytes() > memory_budget || wal_bytes > max_wal_bytes {
            return self.head.partitions().keys().copied().collect();
        }
        let Some(newest) = self.newest_time else { return Vec::new() };
        // Partition p is closed once newest >= (p + 1) * ns + late.
        let horizon = newest.saturating_sub(late_ns).div_euclid(self.partition_ns).saturating_sub(1);
        if horizon <= self.horizon {
            return Vec::new();
        }
        self.horizon = horizon;
        self.head.partitions().range(..=horizon).map(|(&p, _)| p).collect()
    }

    /// The refs of every live block, in file order.
    fn block_refs(&self) -> Vec<BlockRef> {
        let mut refs: Vec<BlockRef> = self
            .blocks
            .values()
            .flatten()
            .map(|b| BlockRef { partition: b.partition, offset: b.offset, len: b.len })
            .collect();
        refs.sort_by_key(|b| b.offset);
        refs
    }

    /// Appends an index block and a footer to `out`, which starts at file offset `base`.
    fn append_index(&self, out: &mut Vec<u8>, base: u64, durable_lsn: u64, refs: &[BlockRef]) -> Result<()> {
        let start = block::begin(out, BlockType::Index);
        index_block::encode(durable_lsn, self.partition_ns, &self.index, refs, out);
        block::finish(out, start).map_err(Error::InvalidArgument)?;
        let footer = Footer { index_offset: base + start as u64, index_len: (out.len() - start) as u64 };
        out.extend_from_slice(&footer.encode());
        Ok(())
    }

    /// Appends `out` durably, poisoning the state if that fails.
    fn commit(&mut self, out: &[u8]) -> Result<()> {
        self.store.append_durably(out).inspect_err(|e| self.poisoned = Some(e.to_string()))
    }

    /// Writes a fresh index and footer (after recovery found damage).
    pub fn rewrite_index(&mut self) -> Result<()> {
        let mut out = Vec::new();
        self.append_index(&mut out, self.store.len(), self.durable_lsn, &self.block_refs())?;
        self.commit(&out)
    }

    /// Flushes head partitions `partitions` to the file, then checkpoints the WAL.
    pub fn flush(&mut self, partitions: &[i64], wal: &Wal) -> Result<()> {
        self.writable()?;
        let base = self.store.len();
        let mut out = Vec::new();
        let mut built = Vec::new();
        for p in partitions {
            let Some(part) = self.head.partitions().get(p) else { continue };
            let mut builder = PartitionBlockBuilder::new(*p);
            let mut ids: Vec<SeriesId> = part.series.keys().copied().collect();
            ids.sort_unstable();
            for id in ids {
                let mut columns: Vec<(FieldId, FieldSeries)> =
                    part.series[&id].iter().map(|c| (c.field, c.resolved())).collect();
                columns.sort_by_key(|c| c.0);
                add_series(&mut builder, &mut self.encoder, id, &columns).map_err(internal)?;
            }
            if !builder.is_empty() {
                let at = base + out.len() as u64;
                built.push(builder.finish(&mut out, at).map_err(internal)?);
            }
        }
        let remaining = self.head.partitions().iter().filter(|(p, _)| !partitions.contains(p));
        let durable = remaining.map(|(_, part)| part.first_lsn - 1).min().unwrap_or(self.last_lsn);
        let mut refs = self.block_refs();
        refs.extend(built.iter().map(|b| BlockRef { partition: b.partition, offset: b.offset, len: b.len }));
        self.append_index(&mut out, base, durable, &refs)?;
        self.commit(&out)?;
        for block in built {
            self.blocks.entry(block.partition).or_default().push(Arc::new(block));
        }
        for p in partitions {
            self.head.take(*p);
        }
        self.durable_lsn = durable;
        wal.checkpoint(durable)?;
        Ok(())
    }

    /// Flushes every head partition.
    pub fn flush_all(&mut self, wal: &Wal) -> Result<()> {
        let all: Vec<i64> = self.head.partitions().keys().copied().collect();
        self.flush(&all, wal)
    }

    /// Rewrites the file with one block per partition, the last write of
    /// every (series, field, time) kept; see `FileStore::replace_with`.
    pub fn compact(&mut self) -> Result<()> {
        self.writable()?;
        let reader = self.store.reader();
        let mut rewrite = self.store.rewrite()?;
        let mut compacted = Blocks::new();
        let mut out = Vec::new();
        for (&p, blocks) in &self.blocks {
            let series: BTreeSet<SeriesId> = blocks.iter().flat_map(|b| b.entries.iter().map(|e| e.series)).collect();
            let mut builder = PartitionBlockBuilder::new(p);
            for id in series {
                let chunks: Vec<_> = blocks.iter().flat_map(|b| b.series_entries(id)).collect();
                let fields: BTreeSet<FieldId> = chunks.iter().flat_map(|e| e.fields.iter().copied()).collect();
                let fields: Vec<FieldId> = fields.into_iter().collect();
                let sources = read_chunks(&reader, chunks, &fields, i64::MIN, i64::MAX)?;
                let merged: Vec<(FieldId, FieldSeries)> =
                    fields.iter().copied().zip(sources.into_iter().map(FieldSeries::merge)).collect();
                add_series(&mut builder, &mut self.encoder, id, &merged).map_err(internal)?;
            }
            out.clear();
            let block = builder.finish(&mut out, rewrite.len()).map_err(internal)?;
            rewrite.append(&out)?;
            compacted.insert(p, vec![Arc::new(block)]);
        }
        let refs: Vec<BlockRef> = compacted
            .values()
            .flatten()
            .map(|b| BlockRef { partition: b.partition, offset: b.offset, len: b.len })
            .collect();
        out.clear();
        self.append_index(&mut out, rewrite.len(), self.durable_lsn, &refs)?;
        rewrite.append(&out)?;
        // From the rename on, the file may be the new one: on failure, stop writing.
        self.store.replace_with(rewrite).inspect_err(|e| self.poisoned = Some(e.to_string()))?;
        self.blocks = compacted;
        Ok(())
    }
}
