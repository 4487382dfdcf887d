//! [`Masks`]: which points of the file's chunks are gone before compaction
//! rewrites them: deleted, expired, or held by the cold tier.
//!
//! A mask covers the points of some series within a time range, in blocks
//! at file offsets below a bound (a delete's or a tiering's `file_end`:
//! blocks appended later hold newer writes). Reads mask deletes only
//! (expiry is cut at planning, tiered chunks are merged with their Parquet
//! copy); compaction masks all three and writes what is left.

use std::collections::HashSet;

use super::retention::Expiry;
use super::state::State;
use crate::storage::series_index::SeriesId;
use crate::storage::tombstone::TombstoneKind;

#[derive(Debug)]
struct Mask {
    start: i64,
    end: i64,
    file_end: u64,
    series: HashSet<SeriesId>,
}

/// Points gone from the file's chunks; see the module docs.
#[derive(Debug, Default)]
pub(super) struct Masks {
    masks: Vec<Mask>,
}

impl Masks {
    /// The deletes of `st` over `measurement` (every measurement: `None`).
    pub fn deletes(st: &State, measurement: Option<&str>) -> Self {
        let mut masks = Self::default();
        masks.add(st, TombstoneKind::Delete, measurement);
        masks
    }

    /// Everything compaction leaves out under `expiry`: deleted points,
    /// expired partitions and the local chunks of tiered ones.
    pub fn compaction(st: &State, expiry: &Expiry) -> Self {
        let mut masks = Self::deletes(st, None);
        masks.add(st, TombstoneKind::Tiered, None);
        for name in st.index.measurements().keys() {
            let live_from = expiry.live_from(name);
            if live_from > i64::MIN {
                let series = st.index.select(name, &[]).into_iter().collect();
                masks.masks.push(Mask { start: i64::MIN, end: live_from - 1, file_end: u64::MAX, series });
            }
        }
        masks
    }

    fn add(&mut self, st: &State, kind: TombstoneKind, measurement: Option<&str>) {
        let of = |t: &&std::sync::Arc<crate::storage::tombstone::Tombstone>| {
            t.kind == kind && measurement.is_none_or(|m| m == t.measurement)
        };
        for t in st.tombstones.iter().filter(of) {
            let series = st.index.select(&t.measurement, &t.matchers).into_iter().collect();
            self.masks.push(Mask { start: t.start, end: t.end, file_end: t.file_end, series });
        }
    }

    /// The time ranges masked in a chunk of `series` spanning `min..=max`,
    /// in a block at file offset `block`.
    pub fn ranges(&self, series: SeriesId, block: u64, min: i64, max: i64) -> Vec<(i64, i64)> {
        self.masks
            .iter()
            .filter(|m| block < m.file_end && m.start <= max && m.end >= min && m.series.contains(&series))
            .map(|m| (m.start, m.end))
            .collect()
    }
}
