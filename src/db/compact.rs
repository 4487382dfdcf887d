//! Compaction: the file rewritten with one block per partition and one
//! series block, the last write of every (series, field, time) kept and
//! superseded blocks, series blocks and index blocks dropped.
//!
//! It holds the flush mutex ([`super::file_writer`]) throughout, so no
//! flush appends to the old file meanwhile and the blocks it started from
//! are all the blocks there are when it swaps; flushes wait for it, writers
//! and readers do not. It reads the blocks and writes the new file without
//! the state lock (a read lock only to encode the index), then takes the
//! state lock only to swap in the new directories and reader. Scans planned
//! before the swap keep reading the old file through their own handle.
//!
//! The new file is written beside the old one, fsynced, renamed over it and
//! the directory fsynced (`FileStore::replace_with`): a crash at any step
//! leaves the old or the new file, both complete. The WAL is untouched: the
//! new index keeps the same `durable_lsn`. A failure from the rename on
//! poisons the database for writes, since the file in place may be the new one.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::encoding::ChunkEncoder;
use crate::error::Result;
use crate::storage::file::index_block::BlockRef;
use crate::storage::file::partition_block::PartitionBlockBuilder;
use crate::storage::file::store::{FileReader, Rewrite};
use crate::storage::merge::FieldSeries;
use crate::storage::scan::read_chunks;
use crate::storage::series_index::{FieldId, SeriesId};

use super::compaction_policy::{Pace, index_bytes};
use super::file_writer::FileWriter;
use super::flush::{add_series, block_ref, internal};
use super::state::Blocks;
use super::{Inner, lock_panicked};

/// Writes one merged block per partition of `blocks` to `rewrite`.
fn rewrite_blocks(
    reader: &FileReader,
    encoder: &mut ChunkEncoder,
    blocks: &Blocks,
    rewrite: &mut Rewrite,
    pace: &mut Pace,
) -> Result<Blocks> {
    let mut compacted = Blocks::new();
    let mut out = Vec::new();
    for (&p, blocks) in blocks {
        let series: BTreeSet<SeriesId> = blocks.iter().flat_map(|b| b.entries.iter().map(|e| e.series)).collect();
        let mut builder = PartitionBlockBuilder::new(p);
        for id in series {
            let chunks: Vec<_> = blocks.iter().flat_map(|b| b.series_entries(id)).collect();
            let fields: BTreeSet<FieldId> = chunks.iter().flat_map(|e| e.fields.iter().copied()).collect();
            let fields: Vec<FieldId> = fields.into_iter().collect();
            let sources = read_chunks(reader, chunks, &fields, i64::MIN, i64::MAX)?;
            let merged: Vec<(FieldId, FieldSeries)> =
                fields.iter().copied().zip(sources.into_iter().map(FieldSeries::merge)).collect();
            add_series(&mut builder, encoder, id, &merged).map_err(internal)?;
        }
        out.clear();
        let block = builder.finish(&mut out, rewrite.len()).map_err(internal)?;
        rewrite.append(&out)?;
        pace.wrote(out.len() as u64);
        compacted.insert(p, vec![Arc::new(block)]);
    }
    Ok(compacted)
}

impl Inner {
    /// Rewrites the file with one block per partition, as fast as it can;
    /// see the module docs.
    pub(super) fn compact(&self) -> Result<()> {
        let mut writer = self.writer.lock().map_err(lock_panicked)?;
        self.compact_with(&mut writer, Pace::new(None))
    }

    /// Compacts, holding the flush mutex (`writer`), writing at `pace`.
    pub(super) fn compact_with(&self, writer: &mut FileWriter, mut pace: Pace) -> Result<()> {
        let (reader, blocks) = {
            let mut st = self.write_lock()?;
            self.writable(&mut st)?;
            (st.reader.clone(), st.blocks.clone())
        };
        let mut rewrite = writer.store.rewrite()?;
        let compacted = rewrite_blocks(&reader, &mut writer.encoder, &blocks, &mut rewrite, &mut pace)?;
        let refs: Vec<BlockRef> = compacted.values().flatten().map(|b| block_ref(b)).collect();
        let mut out = Vec::new();
        let series_blocks = {
            let st = self.state.read().map_err(lock_panicked)?;
            // The new file has no series block yet: one holding every series.
            st.append_index(&mut out, rewrite.len(), st.durable_lsn, &refs, &[])?
        };
        rewrite.append(&out)?;
        writer.index_bytes = index_bytes(&out);
        // From the rename on, the file may be the new one: on failure, stop writing.
        let replaced = writer.store.replace_with(rewrite);
        let mut st = self.write_lock()?;
        replaced.inspect_err(|e| st.poison(e.to_string()))?;
        st.blocks = compacted;
        st.reader = writer.store.reader();
        st.series_blocks = series_blocks;
        Ok(())
    }
}
