//! The flush: head partitions become partition blocks in the file, then the
//! WAL is checkpointed.
//!
//! Protocol: choose the partitions that are due ([`State::due`]); encode each
//! into a partition block ([`add_series`]: fields of a series whose
//! timestamps are identical share one chunk, the timestamps stored once; a
//! field with other timestamps gets its own; chunks hold at most
//! [`MAX_POINTS_PER_CHUNK`] points, so a scan of a short range never decodes
//! much more than it needs); append the blocks, a series block with the
//! series added since the last one, a new index block and a footer with one
//! write; fsync. Only then drop those partitions from the head and
//! checkpoint the WAL up to the last record wholly in the file
//! (`durable_lsn`). A failure before the fsync returns leaves the head intact
//! and poisons the database for writes: what reached the file is unknown,
//! and reopening sorts it out from the file and the WAL.

use std::sync::Arc;

use crate::encoding::ChunkEncoder;
use crate::error::{Error, Result};
use crate::storage::file::block::{self, BlockType};
use crate::storage::file::footer::Footer;
use crate::storage::file::index_block::{self, BlockRef};
use crate::storage::file::partition_block::PartitionBlockBuilder;
use crate::storage::file::series_block::{self, SeriesBlockRef, covered};
use crate::storage::merge::FieldSeries;
use crate::storage::series_index::{FieldId, SeriesId};
use crate::wal::Wal;

use super::state::State;

/// Largest chunk, in points per field.
pub const MAX_POINTS_PER_CHUNK: usize = 16_384;

/// An encoding failure while writing: a bug, not bad input.
pub(super) fn internal(e: crate::encoding::Error) -> Error {
    Error::Internal(format!("encoding failed: {e}"))
}

/// Adds the chunks of one series (fields ascending by id) to `builder`.
pub(super) fn add_series(
    builder: &mut PartitionBlockBuilder,
    encoder: &mut ChunkEncoder,
    series: SeriesId,
    fields: &[(FieldId, FieldSeries)],
) -> crate::encoding::Result<()> {
    // (fields, their shared times, their values)
    type Group<'a> = (Vec<FieldId>, &'a [i64], Vec<&'a [f64]>);
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (field, data) in fields.iter().filter(|(_, d)| !d.is_empty()) {
        match groups.iter_mut().find(|g| g.1 == data.times.as_slice()) {
            Some(g) => {
                g.0.push(*field);
                g.2.push(&data.values);
            }
            None => groups.push((vec![*field], &data.times, vec![&data.values])),
        }
    }
    for (ids, times, columns) in &groups {
        for start in (0..times.len()).step_by(MAX_POINTS_PER_CHUNK) {
            let end = (start + MAX_POINTS_PER_CHUNK).min(times.len());
            let slices: Vec<&[f64]> = columns.iter().map(|c| &c[start..end]).collect();
            builder.add_chunk(encoder, series, ids, &times[start..end], &slices)?;
        }
    }
    Ok(())
}

impl State {
    /// The head partitions that are due for a flush.
    pub fn due(&mut self, late_ns: i64, memory_budget: usize, wal_bytes: u64, max_wal_bytes: u64) -> Vec<i64> {
        if self.head.over_budget(memory_budget) || wal_bytes > max_wal_bytes {
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

    /// Appends to `out` (which starts at file offset `base`) a series block
    /// holding the series and fields `listed` (the file's series blocks)
    /// lack, if any, an index block and a footer. Returns the series blocks
    /// the index lists, for the caller to keep once `out` is durable.
    ///
    /// The series blocks form a binary counter: the new block also takes in
    /// the blocks before it while the last of them holds no more series than
    /// the run merged so far. Each block then holds more series than all
    /// later ones together, so an index lists at most about log2(series)
    /// blocks, and a series is rewritten O(log n) times over the life of the
    /// file: a flush costs in proportion to its new series, amortized.
    pub(super) fn append_index(
        &self,
        out: &mut Vec<u8>,
        base: u64,
        durable_lsn: u64,
        refs: &[BlockRef],
        listed: &[SeriesBlockRef],
    ) -> Result<Vec<SeriesBlockRef>> {
        let mut series_blocks = listed.to_vec();
        let (series, fields) = (self.index.len() as u64, self.index.field_names().len() as u64);
        let (mut first, mut first_field) = covered(&series_blocks);
        if series > first || fields > first_field {
            let mut merged = series.saturating_sub(first);
            while let Some(last) = series_blocks.last().filter(|b| b.series <= merged) {
                merged += last.series;
                series_blocks.pop();
            }
            (first, first_field) = covered(&series_blocks);
            let start = block::begin(out, BlockType::Series);
            series_block::encode(
                &self.index,
                first as usize..series as usize,
                first_field as usize..fields as usize,
                out,
            );
            block::finish(out, start).map_err(Error::InvalidArgument)?;
            let len = (out.len() - start) as u64;
            let offset = base + start as u64;
            series_blocks.push(SeriesBlockRef {
                offset,
                len,
                series: series.saturating_sub(first),
                fields: fields.saturating_sub(first_field),
            });
        }
        let start = block::begin(out, BlockType::Index);
        index_block::encode(durable_lsn, self.partition_ns, &self.index, &series_blocks, refs, out);
        block::finish(out, start).map_err(Error::InvalidArgument)?;
        let footer = Footer { index_offset: base + start as u64, index_len: (out.len() - start) as u64 };
        out.extend_from_slice(&footer.encode());
        Ok(series_blocks)
    }

    /// Appends `out` durably, poisoning the state if that fails.
    fn append_durably(&mut self, out: &[u8]) -> Result<()> {
        self.store.append_durably(out).inspect_err(|e| self.poison(e.to_string()))
    }

    /// Writes a fresh index and footer (after recovery found damage).
    pub fn rewrite_index(&mut self) -> Result<()> {
        let mut out = Vec::new();
        let (base, refs) = (self.store.len(), self.block_refs());
        let series_blocks = self.append_index(&mut out, base, self.durable_lsn, &refs, &self.series_blocks)?;
        self.append_durably(&out)?;
        self.series_blocks = series_blocks;
        Ok(())
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
        // Pending records (written, not yet applied) are all newer than
        // `last_lsn`, so the checkpoint keeps them in the WAL.
        let remaining = self.head.partitions().iter().filter(|(p, _)| !partitions.contains(p));
        let durable = remaining.map(|(_, part)| part.first_lsn - 1).min().unwrap_or(self.last_lsn);
        let mut refs = self.block_refs();
        refs.extend(built.iter().map(|b| BlockRef { partition: b.partition, offset: b.offset, len: b.len }));
        let series_blocks = self.append_index(&mut out, base, durable, &refs, &self.series_blocks)?;
        self.append_durably(&out)?;
        self.series_blocks = series_blocks;
        for block in built {
            self.blocks.entry(block.partition).or_default().push(Arc::new(block));
        }
        for p in partitions {
            self.head.take(*p);
        }
        self.durable_lsn = durable;
        wal.checkpoint(durable)?;
        self.flushes += 1;
        Ok(())
    }

    /// Flushes every head partition.
    pub fn flush_all(&mut self, wal: &Wal) -> Result<()> {
        let all: Vec<i64> = self.head.partitions().keys().copied().collect();
        self.flush(&all, wal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sharing_times_share_a_chunk_and_long_series_split() {
        let mut b = PartitionBlockBuilder::new(0);
        let mut enc = ChunkEncoder::default();
        let n = MAX_POINTS_PER_CHUNK + 5;
        let times: Vec<i64> = (0..n as i64).collect();
        let same = FieldSeries { times: times.clone(), values: vec![1.0; n] };
        let other = FieldSeries { times: vec![3], values: vec![2.0] };
        add_series(&mut b, &mut enc, 7, &[(0, same.clone()), (1, other), (2, same)]).expect("encodes");
        let block = b.finish(&mut Vec::new(), 0).expect("finishes");
        let shapes: Vec<(Vec<FieldId>, u32)> = block.entries.iter().map(|e| (e.fields.to_vec(), e.count)).collect();
        assert_eq!(shapes, vec![(vec![0, 2], MAX_POINTS_PER_CHUNK as u32), (vec![0, 2], 5), (vec![1], 1)]);
    }
}
