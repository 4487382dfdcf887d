//! Compaction: the file rewritten with one block per partition and one
//! series block, the last write of every (series, field, time) kept and
//! superseded blocks, series blocks and index blocks dropped.
//!
//! The new file is written beside the old one, fsynced, renamed over it and
//! the directory fsynced (`FileStore::replace_with`): a crash at any step
//! leaves the old or the new file, both complete. The WAL is untouched: the
//! new index keeps the same `durable_lsn`. A failure from the rename on
//! poisons the database for writes, since the file in place may be the new one.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::Result;
use crate::storage::file::index_block::BlockRef;
use crate::storage::file::partition_block::PartitionBlockBuilder;
use crate::storage::merge::FieldSeries;
use crate::storage::scan::read_chunks;
use crate::storage::series_index::{FieldId, SeriesId};

use super::flush::{add_series, internal};
use super::state::{Blocks, State};

impl State {
    /// Rewrites the file with one block per partition; see the module docs.
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
        // The new file has no series block yet: one holding every series.
        let series_blocks = self.append_index(&mut out, rewrite.len(), self.durable_lsn, &refs, &[])?;
        rewrite.append(&out)?;
        // From the rename on, the file may be the new one: on failure, stop writing.
        self.store.replace_with(rewrite).inspect_err(|e| self.poison(e.to_string()))?;
        self.blocks = compacted;
        self.series_blocks = series_blocks;
        Ok(())
    }
}
