//! [`Db::delete`]: points removed by measurement, tag matchers and time range.
//!
//! A delete is a tombstone ([`crate::storage::tombstone`]) written into a
//! fresh index block appended to the file and fsynced before it returns, so
//! it is durable whatever the WAL's sync policy, and a crash before the
//! fsync completes leaves the delete undone. It runs under the flush mutex
//! (no flush is between freeze and swap, so nothing is frozen) and the state
//! lock (no write is applied meanwhile); then:
//! - the file: blocks at offsets below the tombstone's `file_end` are read
//!   with its points masked out, until compaction rewrites them without;
//! - the head: the points go at once; the tombstone's `lsn` is the last WAL
//!   record applied, and replay after a crash applies the tombstone to the
//!   head right after that record, so records after it (writes after the
//!   delete, or writes still waiting for their fsync while it ran) stay;
//! - the cold tier: rows of the tiered files it lists are filtered out of
//!   their Parquet scan ([`crate::tier`]).
//!
//! A delete over the source of rollup rules recomputes the windows it
//! reaches (`db/rollup_step.rs`, [`Db::delete_rolled`]).
//!
//! Points written after the delete into its range are visible: they are in
//! the head or in blocks past `file_end`. Compaction applies the tombstone
//! and keeps it only while a tiered file it lists is still in the manifest.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use super::{Db, lock_panicked};
use crate::error::{Error, Result};
use crate::storage::matcher::TagMatcher;
use crate::storage::tombstone::{Tombstone, TombstoneKind};

/// `range` as first and last nanosecond; an empty or inverted range is an error.
fn inclusive(range: &impl RangeBounds<i64>) -> Result<(i64, i64)> {
    let start = match range.start_bound() {
        Bound::Included(&s) => Some(s),
        Bound::Excluded(&s) => s.checked_add(1),
        Bound::Unbounded => Some(i64::MIN),
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => Some(e),
        Bound::Excluded(&e) => e.checked_sub(1),
        Bound::Unbounded => Some(i64::MAX),
    };
    match (start, end) {
        (Some(s), Some(e)) if s <= e => Ok((s, e)),
        _ => Err(Error::InvalidArgument(format!(
            "delete time range {:?}..{:?} holds no nanosecond (its start is after its end)",
            range.start_bound(),
            range.end_bound()
        ))),
    }
}

impl Db {
    /// Deletes the points of `measurement`'s series matching every one of
    /// `matchers` (none: every series) with times in `range` (nanoseconds;
    /// `a..b`, `a..=b`, `..` ...). Durable when it returns, and hidden from
    /// every read from then on; points written later into the range are
    /// kept. An unknown measurement, or no matching series, deletes
    /// nothing. An empty or inverted range is an [`Error::InvalidArgument`]
    /// (so is an invalid regex, when the [`TagMatcher`] is built). See
    /// `docs/design.md`, "Deletes".
    ///
    /// The rollups of `measurement` ([`crate::RollupRule`]) follow: their
    /// windows the delete reaches are recomputed from the points left. A
    /// delete over tiered partitions also rewrites the tier's manifest
    /// mirror, so readers without the database stop seeing the points.
    pub fn delete(&self, measurement: &str, matchers: &[TagMatcher], range: impl RangeBounds<i64>) -> Result<()> {
        let (start, end) = inclusive(&range)?;
        let rolled = self.inner.rollups.rules().iter().any(|r| r.source() == measurement);
        let tiered = if rolled {
            self.delete_rolled(measurement, matchers, start, end)?
        } else {
            self.delete_points(measurement, matchers, start, end)?
        };
        if tiered && let Err(e) = crate::tier::block_on(self.write_tier_mirror()) {
            tracing::warn!(error = %e, "the cold tier's manifest mirror does not show a delete yet");
        }
        Ok(())
    }

    /// The delete itself (module docs), rollups aside; returns whether it
    /// reached tiered files.
    pub(super) fn delete_points(
        &self,
        measurement: &str,
        matchers: &[TagMatcher],
        start: i64,
        end: i64,
    ) -> Result<bool> {
        let inner = &self.inner;
        let mut writer = inner.writer.lock().map_err(lock_panicked)?;
        let ns = self.partition_duration_ns()?;
        let tiered: Vec<String> =
            inner.tier.files_in(measurement, start, end, ns)?.into_iter().map(|f| f.url).collect();
        let mut st = inner.write_lock()?;
        inner.writable(&mut st)?;
        let series = st.index.select(measurement, matchers);
        if series.is_empty() {
            return Ok(false);
        }
        let reached_tier = !tiered.is_empty();
        let tombstone = Tombstone {
            kind: TombstoneKind::Delete,
            measurement: measurement.to_string(),
            matchers: matchers.to_vec(),
            start,
            end,
            lsn: st.last_lsn,
            file_end: writer.store.len(),
            tiered,
        };
        st.tombstones.push(Arc::new(tombstone));
        if let Err(e) = st.rewrite_index(&mut writer) {
            // Poisoned by now: the file may or may not hold the tombstone,
            // and a reopen reads whichever it does.
            st.tombstones.pop();
            return Err(e);
        }
        st.head.remove(&series, start, end, ns);
        *st.deletes.entry(measurement.to_string()).or_default() += 1;
        Ok(reached_tier)
    }
}

impl Db {
    /// The deletes over `measurement` in force.
    pub(crate) fn deletes_of(&self, measurement: &str) -> Result<Vec<Arc<Tombstone>>> {
        let st = self.read()?;
        let of = |t: &&Arc<Tombstone>| t.kind == TombstoneKind::Delete && t.measurement == measurement;
        Ok(st.tombstones.iter().filter(of).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_inclusive_bounds_and_empty_ones_are_refused() {
        assert_eq!(inclusive(&(5..10)).ok(), Some((5, 9)));
        assert_eq!(inclusive(&(5..=10)).ok(), Some((5, 10)));
        assert_eq!(inclusive(&(..)).ok(), Some((i64::MIN, i64::MAX)));
        assert_eq!(inclusive(&(..=i64::MIN)).ok(), Some((i64::MIN, i64::MIN)));
        let (late, early) = (9, 3);
        for bad in [inclusive(&(late..late)), inclusive(&(late..=early)), inclusive(&(..i64::MIN))] {
            assert!(matches!(bad, Err(Error::InvalidArgument(m)) if m.contains("start is after its end")));
        }
    }
}
