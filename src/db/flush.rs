//! The flush: head partitions become partition blocks in the file, then the
//! WAL is checkpointed. Writers never wait for it: it runs on the
//! database's flush thread ([`super::flusher`]) when partitions fall due,
//! and on the caller's thread for [`super::Db::flush`] and `close`.
//!
//! Protocol, under the flush mutex ([`FileWriter`]) throughout:
//! 1. Freeze (state lock, short): take the partitions out of the head into
//!    `frozen` (shared, so readers keep seeing them) and fix `durable_lsn`
//!    = (smallest first LSN of the partitions left in the head) - 1, or the
//!    last LSN applied. Writers go on into fresh head partitions, whose
//!    records are all newer.
//! 2. Tell the rollups what the flush makes durable (no lock;
//!    [`super::rollup_step`]: partitions closed, windows late points
//!    change), saved before the checkpoint that drops those points from the WAL.
//!    Encode the frozen partitions (no lock): each into a partition block
//!    ([`add_series`]: fields of a series whose timestamps are identical
//!    share one chunk, the timestamps stored once; a field with other
//!    timestamps gets its own; chunks hold at most [`MAX_POINTS_PER_CHUNK`]
//!    points, so a scan of a short range never decodes much more than it
//!    needs).
//! 3. Add a series block with the series added since the last one, the
//!    index block and the footer (state read lock, for the index).
//! 4. Append blocks, index and footer with one write, then one fsync (no lock).
//! 5. Swap (state lock, short): the blocks join the directory, the frozen
//!    partitions go, `durable_lsn` moves. Then checkpoint the WAL.
//!
//! A failure from step 2 on poisons the database for writes: what reached
//! the file is unknown, the frozen partitions stay readable, and the WAL
//! still holds them (its checkpoint comes last), so reopening sorts it out.

use std::sync::Arc;

use crate::encoding::ChunkEncoder;
use crate::error::{Error, Result};
use crate::storage::file::block::{self, BlockType};
use crate::storage::file::footer::Footer;
use crate::storage::file::index_block::{self, BlockRef};
use crate::storage::file::partition_block::{PartitionBlock, PartitionBlockBuilder};
use crate::storage::file::series_block::{self, SeriesBlockRef, covered};
use crate::storage::head::HeadPartition;
use crate::storage::merge::FieldSeries;
use crate::storage::series_index::{FieldId, SeriesId};
use crate::storage::tombstone::Tombstone;

use super::compaction_policy::index_bytes;
use super::file_writer::FileWriter;
use super::state::State;
use super::{Inner, lock_panicked};
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

/// Which head partitions a flush writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    /// Those found due by writes since the last flush.
    Due,
    /// Every one.
    All,
}

/// Partitions taken out of the head by a flush, and the WAL position the
/// file covers once they are in it.
struct Freeze {
    partitions: Vec<(i64, Arc<HeadPartition>)>,
    durable_lsn: u64,
}

/// Where block `b` lies, as the index lists it.
pub(super) fn block_ref(b: &PartitionBlock) -> BlockRef {
    BlockRef { partition: b.partition, offset: b.offset, len: b.len }
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
    pub(super) fn block_refs(&self) -> Vec<BlockRef> {
        let mut refs: Vec<BlockRef> = self.blocks.values().flatten().map(|b| block_ref(b)).collect();
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
        (durable_lsn, tombstones): (u64, &[Arc<Tombstone>]),
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
        index_block::encode(durable_lsn, self.partition_ns, &self.index, (&series_blocks, refs), tombstones, out);
        block::finish(out, start).map_err(Error::InvalidArgument)?;
        let footer = Footer { index_offset: base + start as u64, index_len: (out.len() - start) as u64 };
        out.extend_from_slice(&footer.encode());
        Ok(series_blocks)
    }

    /// Writes a fresh index and footer (after recovery found damage).
    pub fn rewrite_index(&mut self, writer: &mut FileWriter) -> Result<()> {
        let mut out = Vec::new();
        let (base, refs) = (writer.store.len(), self.block_refs());
        let index = (self.durable_lsn, self.tombstones.as_slice());
        let series_blocks = self.append_index(&mut out, base, index, &refs, &self.series_blocks)?;
        writer.store.append_durably(&out).inspect_err(|e| self.poison(e.to_string()))?;
        writer.index_bytes = index_bytes(&out);
        self.series_blocks = series_blocks;
        Ok(())
    }

    /// Takes `partitions` out of the head into `frozen`; `None` if the head
    /// holds none of them.
    fn freeze(&mut self, partitions: &[i64]) -> Option<Freeze> {
        let taken: Vec<(i64, Arc<HeadPartition>)> =
            partitions.iter().filter_map(|&p| Some((p, Arc::new(self.head.take(p)?)))).collect();
        if taken.is_empty() {
            return None;
        }
        // Pending records (written, not yet applied) are all newer than
        // `last_lsn`, and so are records applied after this freeze: the
        // checkpoint keeps them in the WAL.
        let remaining = self.head.partitions().values().map(|part| part.first_lsn - 1).min();
        let durable_lsn = remaining.unwrap_or(self.last_lsn);
        self.frozen.extend(taken.iter().map(|(p, part)| (*p, Arc::clone(part))));
        Some(Freeze { partitions: taken, durable_lsn })
    }
}

/// Encodes `partitions` into partition blocks appended to `out`, whose first
/// byte lands at file offset `base`.
fn encode(
    encoder: &mut ChunkEncoder,
    partitions: &[(i64, Arc<HeadPartition>)],
    base: u64,
    out: &mut Vec<u8>,
) -> Result<Vec<PartitionBlock>> {
    let mut built = Vec::new();
    for (p, part) in partitions {
        let mut builder = PartitionBlockBuilder::new(*p);
        let mut ids: Vec<SeriesId> = part.series.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let mut columns: Vec<(FieldId, FieldSeries)> =
                part.series[&id].iter().map(|c| (c.field, c.resolved())).collect();
            columns.sort_by_key(|c| c.0);
            add_series(&mut builder, encoder, id, &columns).map_err(internal)?;
        }
        if !builder.is_empty() {
            let at = base + out.len() as u64;
            built.push(builder.finish(out, at).map_err(internal)?);
        }
    }
    Ok(built)
}

impl Inner {
    /// Flushes the head partitions `which` picks to the file, then
    /// checkpoints the WAL; see the module docs. Then runs the rollup step
    /// ([`super::rollup_step`]). Returns once done; a database that is
    /// poisoned or closed refuses.
    pub(super) fn flush(&self, which: Which) -> Result<()> {
        self.flush_partitions(which)?;
        self.roll_up()
    }

    fn flush_partitions(&self, which: Which) -> Result<()> {
        let mut writer = self.writer.lock().map_err(lock_panicked)?;
        let freeze = {
            let mut st = self.write_lock()?;
            self.writable(&mut st)?;
            let partitions: Vec<i64> = match which {
                Which::Due => std::mem::take(&mut st.due).into_iter().collect(),
                Which::All => st.head.partitions().keys().copied().collect(),
            };
            match st.freeze(&partitions) {
                Some(freeze) => freeze,
                None => return Ok(()),
            }
        };
        let writer = &mut *writer;
        let base = writer.store.len();
        let mut out = Vec::new();
        let written = self
            .note_rollup_flush(&freeze.partitions)
            .and_then(|()| encode(&mut writer.encoder, &freeze.partitions, base, &mut out));
        let written = written.and_then(|built| {
            let st = self.state.read().map_err(lock_panicked)?;
            let mut refs = st.block_refs();
            refs.extend(built.iter().map(block_ref));
            let index = (freeze.durable_lsn, st.tombstones.as_slice());
            let series_blocks = st.append_index(&mut out, base, index, &refs, &st.series_blocks)?;
            drop(st);
            writer.store.append_durably(&out)?;
            writer.index_bytes = index_bytes(&out);
            Ok((built, series_blocks))
        });
        let mut st = self.write_lock()?;
        let (built, series_blocks) = written.inspect_err(|e| st.poison(format!("a flush failed: {e}")))?;
        st.series_blocks = series_blocks;
        for block in built {
            st.blocks.entry(block.partition).or_default().push(Arc::new(block));
        }
        for (p, _) in &freeze.partitions {
            st.frozen.remove(p);
        }
        st.durable_lsn = freeze.durable_lsn;
        st.flushes += 1;
        drop(st);
        self.wal.checkpoint(freeze.durable_lsn)?;
        Ok(())
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
