//! Compaction: the file rewritten with one block per partition and one
//! series block, the last write of every (series, field, time) kept and
//! superseded blocks, series blocks and index blocks dropped; and the data
//! lifecycle applied: expired partitions ([`super::retention`]), deleted
//! points ([`super::delete`]) and the local chunks of tiered partitions
//! ([`crate::tier`]) are left out ([`Masks`]).
//!
//! It holds the flush mutex ([`super::file_writer`]) throughout, so no
//! flush, delete or tiering record appends to the old file meanwhile and
//! the blocks and tombstones it started from are all there are when it
//! swaps; flushes wait for it, writers and readers do not. It reads the
//! blocks and writes the new file without the state lock (a read lock only
//! to encode the index), then takes the state lock only to swap in the new
//! directories, tombstones and reader. Scans planned before the swap keep
//! reading the old file through their own handle.
//!
//! The new file is written beside the old one, fsynced, renamed over it and
//! the directory fsynced (`FileStore::replace_with`): a crash at any step
//! leaves the old or the new file, both complete, each with its own
//! tombstones in its index. The new index keeps the tombstones still needed:
//! a delete whose head part is not in the file yet (its `lsn` is past
//! `durable_lsn`: replay must apply it again) or that lists a tiered file
//! still there, with its file part done (`file_end` 0). The WAL is
//! untouched: the new index keeps the same `durable_lsn`. A failure from
//! the rename on poisons the database for writes, since the file in place
//! may be the new one.
//!
//! Then, without the flush mutex, the tiered files of expired partitions
//! leave the tier's manifest, and their objects are deleted (best effort).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::encoding::ChunkEncoder;
use crate::error::Result;
use crate::storage::file::index_block::BlockRef;
use crate::storage::file::partition_block::PartitionBlockBuilder;
use crate::storage::file::store::{FileReader, Rewrite};
use crate::storage::merge::FieldSeries;
use crate::storage::scan::read_masked_chunks;
use crate::storage::series_index::{FieldId, SeriesId};
use crate::storage::tombstone::{Tombstone, TombstoneKind};

use super::compaction_policy::{Pace, index_bytes};
use super::file_writer::FileWriter;
use super::flush::{add_series, block_ref, internal};
use super::masks::Masks;
use super::state::Blocks;
use super::{Inner, lock_panicked};

/// Writes one merged block per partition of `blocks` to `rewrite`, the
/// points `masks` covers left out; a partition left empty gets no block.
fn rewrite_blocks(
    reader: &FileReader,
    encoder: &mut ChunkEncoder,
    blocks: &Blocks,
    masks: &Masks,
    rewrite: &mut Rewrite,
    pace: &mut Pace,
) -> Result<Blocks> {
    let mut compacted = Blocks::new();
    let mut out = Vec::new();
    for (&p, blocks) in blocks {
        let series: BTreeSet<SeriesId> = blocks.iter().flat_map(|b| b.entries.iter().map(|e| e.series)).collect();
        let mut builder = PartitionBlockBuilder::new(p);
        for id in series {
            let chunks: Vec<_> =
                blocks.iter().flat_map(|b| b.series_entries(id).iter().map(|e| (b.offset, e))).collect();
            let masked: Vec<Vec<(i64, i64)>> =
                chunks.iter().map(|(block, e)| masks.ranges(id, *block, e.min_time, e.max_time)).collect();
            let fields: BTreeSet<FieldId> = chunks.iter().flat_map(|(_, e)| e.fields.iter().copied()).collect();
            let fields: Vec<FieldId> = fields.into_iter().collect();
            let sources = chunks.iter().zip(&masked).map(|((_, e), m)| (*e, m.as_slice()));
            let sources = read_masked_chunks(reader, sources, &fields, i64::MIN, i64::MAX)?;
            let merged: Vec<(FieldId, FieldSeries)> =
                fields.iter().copied().zip(sources.into_iter().map(FieldSeries::merge)).collect();
            add_series(&mut builder, encoder, id, &merged).map_err(internal)?;
        }
        if builder.is_empty() {
            continue;
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
        let expiry = self.expiry()?;
        let (reader, blocks, masks, tombstones) = {
            let mut st = self.write_lock()?;
            self.writable(&mut st)?;
            let masks = Masks::compaction(&st, &expiry);
            (st.reader.clone(), st.blocks.clone(), masks, st.tombstones.clone())
        };
        let ns = self.config.partition_ns();
        let manifest = self.tier.files()?;
        let still_tiered = |url: &String| {
            manifest
                .iter()
                .any(|f| &f.url == url && !expiry.expired(&f.measurement, f.partition_start.div_euclid(ns), ns))
        };
        let mut rewrite = writer.store.rewrite()?;
        let compacted = rewrite_blocks(&reader, &mut writer.encoder, &blocks, &masks, &mut rewrite, &mut pace)?;
        let refs: Vec<BlockRef> = compacted.values().flatten().map(|b| block_ref(b)).collect();
        let mut out = Vec::new();
        let (series_blocks, kept) = {
            let st = self.state.read().map_err(lock_panicked)?;
            let durable_lsn = st.durable_lsn;
            let kept: Vec<Arc<Tombstone>> = tombstones
                .iter()
                .filter(|t| t.kind == TombstoneKind::Delete)
                .map(|t| Tombstone {
                    file_end: 0,
                    tiered: t.tiered.iter().filter(|u| still_tiered(u)).cloned().collect(),
                    ..Tombstone::clone(t)
                })
                .filter(|t| t.lsn > durable_lsn || !t.tiered.is_empty())
                .map(Arc::new)
                .collect();
            // The new file has no series block yet: one holding every series.
            (st.append_index(&mut out, rewrite.len(), (durable_lsn, &kept), &refs, &[])?, kept)
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
        st.tombstones = kept;
        st.compactions += 1;
        drop(st);
        self.tier.forget_expired(&expiry, ns, || Ok(self.read()?.tombstones.clone()))
    }
}
