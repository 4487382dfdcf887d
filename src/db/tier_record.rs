//! What the database file records of a tiering: which local chunks the
//! verified Parquet files hold, so compaction can drop them.
//!
//! A tiering takes a [`TierStart`] before it reads the partition (the file's
//! length, and the compactions and deletes so far), and commits under the
//! flush mutex once its files are verified ([`Db::commit_tiering`]):
//! - if a delete over one of its measurements ran since it started, the
//!   files may hold deleted points: it records nothing and fails (the next
//!   tiering exports again, without them);
//! - otherwise the caller saves the tier's manifest, and a
//!   [`TombstoneKind::Tiered`] tombstone per file (blocks below the start's
//!   file length, which the export read whole) goes into a fresh index,
//!   appended durably, unless a compaction ran since (its offsets then mean
//!   nothing: the local chunks stay until a later tiering records them).
//!
//! Deletes take the flush mutex too and read the manifest under it, so a
//! delete either lists a tiered file or ran before the tiering committed.

use std::sync::Arc;

use super::{Db, lock_panicked};
use crate::error::{Error, Result};
use crate::storage::tombstone::{Tombstone, TombstoneKind};
use crate::tier::TieredFile;

/// The database as a tiering found it before reading a partition.
#[derive(Debug, Clone)]
pub(crate) struct TierStart {
    file_len: u64,
    compactions: u64,
    deletes: std::collections::HashMap<String, u64>,
}

impl Db {
    /// Where a tiering starts from; see the module docs.
    pub(crate) fn tier_start(&self) -> Result<TierStart> {
        let writer = self.inner.writer.lock().map_err(lock_panicked)?;
        let st = self.read()?;
        Ok(TierStart { file_len: writer.store.len(), compactions: st.compactions, deletes: st.deletes.clone() })
    }

    /// Commits a tiering of `files` (one partition, `start..=end`) begun at
    /// `since`: `save` saves the manifest naming them; see the module docs.
    pub(crate) fn commit_tiering(
        &self,
        since: &TierStart,
        (start, end): (i64, i64),
        files: &[TieredFile],
        save: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let inner = &self.inner;
        let mut writer = inner.writer.lock().map_err(lock_panicked)?;
        let mut st = inner.write_lock()?;
        inner.writable(&mut st)?;
        if let Some(f) = files.iter().find(|f| st.deletes.get(&f.measurement) != since.deletes.get(&f.measurement)) {
            return Err(Error::InvalidArgument(format!(
                "a delete over `{}` ran while its partition at {start} was tiered; nothing was recorded, tier it again",
                f.measurement
            )));
        }
        save()?;
        if st.compactions != since.compactions || files.is_empty() {
            return Ok(());
        }
        let tiered = files.iter().map(|f| Tombstone {
            kind: TombstoneKind::Tiered,
            measurement: f.measurement.clone(),
            matchers: Vec::new(),
            start,
            end,
            lsn: 0,
            file_end: since.file_len,
            tiered: Vec::new(),
        });
        let before = st.tombstones.len();
        st.tombstones.extend(tiered.map(Arc::new));
        if let Err(e) = st.rewrite_index(&mut writer) {
            st.tombstones.truncate(before);
            // The manifest is saved: the partition reads from both copies.
            tracing::warn!(error = %e, "recording tiered chunks in the file failed");
        }
        Ok(())
    }
}
