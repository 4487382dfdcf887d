//! Downsampling: rules that aggregate a measurement per series and time
//! window into another measurement, kept up to date as partitions close.
//!
//! ```text
//! flush of partitions ─▶ RollupTracker::note_flush: closed_to, dirty windows ─▶ PATH.rollup (before the WAL checkpoint)
//!                     ─▶ rollup step (db::rollup_step, after the flush, one at a time):
//!                        scan raw (file + frozen + head) per partition / dirty window
//!                        ─▶ WindowAggregates ─▶ rows of the target ─▶ normal write path (WAL)
//!                        ─▶ WAL fsync ─▶ RollupTracker::finish ─▶ PATH.rollup
//! ```
//! A rule ([`RollupRule`]) writes, per series of its source and window,
//! one row at the window's start into its target, with every tag of the
//! series and the fields `<field>_<aggregate>` for every float field that
//! has values in the window. Windows are aligned to the epoch and divide the
//! partition duration, so a partition holds whole windows.
//!
//! When: a partition is rolled once it is closed (the newest point is past
//! its end plus the late window, the moment it falls due for its first
//! flush), by the step that follows that flush, from all the raw data of its
//! windows wherever it lies. A later point for an already closed partition
//! marks its window dirty when it is flushed; the step after that flush
//! recomputes the window from all its raw data. Rows are rewritten whole at
//! the same (series, time), so the last write wins and recomputation is
//! idempotent.
//!
//! Crash safety: the progress file is saved, with the new `closed_to` and
//! dirty windows, before the flush's WAL checkpoint; a step's rows are
//! fsynced in the WAL before the step records itself done. A crash anywhere
//! in between leaves work recorded as not done, and `Db::open` redoes it
//! (the recomputation is idempotent). Without a progress file every rule
//! rolls from the first data, so a rule added to an existing database fills
//! in its past.

mod error;
mod progress;
mod rule;
mod tracker;
mod window_aggregates;

pub use error::RollupError;
pub(crate) use rule::validate_rules;
pub use rule::{RollupAggregate, RollupRule};
pub use tracker::RollupStatus;
pub(crate) use tracker::{RollupTracker, StepWork};
pub(crate) use window_aggregates::WindowAggregates;
