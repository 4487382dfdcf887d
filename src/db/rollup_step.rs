//! The database side of downsampling ([`crate::rollup`]): what a flush
//! tells the rollup tracker before its WAL checkpoint, and the rollup step
//! that follows every flush.
//!
//! The step holds no state lock while it computes: it plans each scan under
//! the read lock, like any reader, and writes its rows through the normal
//! write path, like any writer; the one step running at a time holds only
//! the tracker's step lock, which writers never take.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use super::state::State;
use super::{Db, Inner};
use crate::error::Result;
use crate::model::Row;
use crate::rollup::{RollupRule, StepWork, WindowAggregates};
use crate::storage::head::HeadPartition;
use crate::storage::matcher::TagMatcher;
use crate::storage::scan::{Scan, ScanRequest};
use crate::storage::series_index::SeriesId;

/// Rows written per batch by a rollup step.
const ROWS_PER_WRITE: usize = 10_000;

impl State {
    /// Partitions ending at or before this time are closed (`i64::MIN`: none known).
    fn closed_to(&self) -> i64 {
        if self.horizon == i64::MIN {
            i64::MIN
        } else {
            self.horizon.saturating_add(1).saturating_mul(self.partition_ns)
        }
    }

    /// Partition numbers holding data (file, frozen, head) in `start..end`.
    fn partitions_with_data(&self, start: i64, end: i64) -> BTreeSet<i64> {
        let ns = self.partition_ns;
        let (first, last) = (start.div_euclid(ns), (end - 1).div_euclid(ns));
        let mut out: BTreeSet<i64> = self.blocks.range(first..=last).map(|(&p, _)| p).collect();
        out.extend(self.frozen.range(first..=last).map(|(&p, _)| p));
        out.extend(self.head.partitions().range(first..=last).map(|(&p, _)| p));
        out
    }
}

/// The windows of `rule` that points of `series` older than `before` fall in.
fn late_windows(
    rule: &RollupRule,
    series: &HashSet<SeriesId>,
    partitions: &[(i64, Arc<HeadPartition>)],
    before: i64,
) -> BTreeSet<i64> {
    let mut windows = BTreeSet::new();
    for (_, part) in partitions.iter().filter(|(_, part)| part.time_bounds.0 < before) {
        for (_, columns) in part.series.iter().filter(|(id, _)| series.contains(id)) {
            for c in columns {
                windows.extend(c.times.iter().filter(|&&t| t < before).map(|&t| rule.window_of(t)));
            }
        }
    }
    windows
}

impl Inner {
    /// Tells the tracker what the flush of `partitions` makes durable: the
    /// partitions now closed, and the windows late points change. Runs
    /// before the flush writes the file, so before its WAL checkpoint.
    pub(super) fn note_rollup_flush(&self, partitions: &[(i64, Arc<HeadPartition>)]) -> Result<()> {
        let rules = self.rollups.rules();
        if rules.is_empty() {
            return Ok(());
        }
        let before = self.rollups.closed_to()?;
        let any_late = partitions.iter().any(|(_, part)| part.time_bounds.0 < before);
        let (closed_to, sources) = {
            let st = self.read()?;
            let sources: Vec<HashSet<SeriesId>> = rules
                .iter()
                .map(|r| match st.index.measurement(r.source()) {
                    Some(m) if any_late => m.series.iter().copied().collect(),
                    _ => HashSet::new(),
                })
                .collect();
            (st.closed_to(), sources)
        };
        let late = rules.iter().zip(&sources).map(|(r, ids)| late_windows(r, ids, partitions, before)).collect();
        self.rollups.note_flush(closed_to, late)
    }

    /// Brings every rollup up to date: rolls the partitions closed since the
    /// last step and recomputes the dirty windows, writes the rows, makes
    /// them durable, and records the step done. One step at a time.
    pub(super) fn roll_up(&self) -> Result<()> {
        if self.rollups.rules().is_empty() {
            return Ok(());
        }
        let _step = self.rollups.step_lock()?;
        let Some(work) = self.rollups.begin()? else { return Ok(()) };
        self.run_step(&work)?;
        self.wal.sync()?;
        self.rollups.finish(&work)
    }

    /// Rolls the closed partitions and recomputes the dirty windows. A
    /// dirty window can be in a tiered partition (a late point written into
    /// it), whose other points may be in the tier alone: it reads through
    /// [`Db::scan`], both tiers, as a user's scan would.
    fn run_step(&self, work: &StepWork) -> Result<()> {
        let ns = self.read()?.partition_ns;
        let db = self.handle()?;
        for (rule, todo) in self.rollups.rules().iter().zip(&work.rules) {
            if let Some((start, end)) = todo.range {
                let partitions = self.read()?.partitions_with_data(start, end);
                for p in partitions {
                    let from = start.max(p.saturating_mul(ns));
                    let to = end.min(p.saturating_add(1).saturating_mul(ns));
                    self.roll_range(rule, (from, to), &[], |r| db.scan(r))?;
                }
            }
            for &(window, _) in &todo.dirty {
                let window = (window, window.saturating_add(rule.window_ns()));
                self.roll_range(rule, window, &[], |r| db.scan(r))?;
            }
        }
        Ok(())
    }

    /// Computes the windows of `rule` in `start..end` for the series of its
    /// source meeting `matchers` from all the raw data `scan` reads there,
    /// and writes them.
    fn roll_range(
        &self,
        rule: &RollupRule,
        (start, end): (i64, i64),
        matchers: &[TagMatcher],
        scan: impl Fn(&ScanRequest) -> Result<Scan>,
    ) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let mut request = ScanRequest::new(rule.source()).with_time_range(start, end - 1);
        request.matchers = matchers.to_vec();
        let scan = scan(&request)?;
        let mut windows = WindowAggregates::new(rule);
        for batch in scan {
            windows.add(&batch?)?;
        }
        let rows: Vec<Row> = windows.into_rows();
        for chunk in rows.chunks(ROWS_PER_WRITE) {
            self.write_batch(chunk)?;
        }
        Ok(())
    }
}

impl Db {
    /// [`Db::delete`] over the source of rollup rules. Under the step lock
    /// (no step writes rows of the doomed points meanwhile): the rolled
    /// windows the delete reaches are marked dirty and saved (a crash from
    /// here on recomputes them at open), the rows of the matching series in
    /// them are deleted from each target (every tag of a series is kept
    /// there, so the same matchers select them), the points are deleted,
    /// and the windows are recomputed for those series from the points
    /// left, both tiers read. A window left without points keeps no row.
    /// Returns whether the delete reached tiered files.
    pub(super) fn delete_rolled(
        &self,
        measurement: &str,
        matchers: &[TagMatcher],
        start: i64,
        end: i64,
    ) -> Result<bool> {
        let inner = &self.inner;
        let rules = inner.rollups.rules();
        let _step = inner.rollups.step_lock()?;
        let closed_to = inner.rollups.closed_to()?;
        let ns = self.partition_duration_ns()?;
        // Partitions holding data, local or tiered, bound the windows.
        let mut held = inner.read()?.partitions_with_data(start, end.saturating_add(1));
        held.extend(
            self.tier().files_in(measurement, start, end, ns)?.iter().map(|f| f.partition_start.div_euclid(ns)),
        );
        let (Some(&first), Some(&last)) = (held.first(), held.last()) else {
            return self.delete_points(measurement, matchers, start, end);
        };
        let spans: Vec<Option<(i64, i64)>> = rules
            .iter()
            .map(|r| {
                let lo = r.window_of(start.max(first.saturating_mul(ns)));
                let last_ns = last.saturating_add(1).saturating_mul(ns).saturating_sub(1);
                let hi = r.window_of(end.min(last_ns)).saturating_add(r.window_ns()).min(closed_to);
                (r.source() == measurement && lo < hi).then_some((lo, hi))
            })
            .collect();
        let windows = rules
            .iter()
            .zip(&spans)
            .map(|(r, span)| {
                let Some((lo, hi)) = *span else { return BTreeSet::new() };
                let starts = std::iter::successors(Some(lo), |w| w.checked_add(r.window_ns()));
                starts.take_while(|&w| w < hi).filter(|w| held.contains(&w.div_euclid(ns))).collect()
            })
            .collect();
        inner.rollups.note_flush(i64::MIN, windows)?;
        for (rule, span) in rules.iter().zip(&spans) {
            if let Some((lo, hi)) = *span {
                self.delete_points(rule.target(), matchers, lo, hi - 1)?;
            }
        }
        let tiered = self.delete_points(measurement, matchers, start, end)?;
        for (rule, span) in rules.iter().zip(&spans) {
            if let Some(span) = *span {
                inner.roll_range(rule, span, matchers, |r| self.scan(r))?;
            }
        }
        Ok(tiered)
    }

    /// The downsampling rules, as configured.
    pub fn rollup_rules(&self) -> &[RollupRule] {
        self.inner.rollups.rules()
    }

    /// How far the rollup into `target` has come; `None` if no rule writes it.
    pub fn rollup_status(&self, target: &str) -> Result<Option<crate::RollupStatus>> {
        self.inner.rollups.status(target)
    }
}
