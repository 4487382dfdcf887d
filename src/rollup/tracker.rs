//! [`RollupTracker`]: the rules of a database and their progress in memory,
//! kept in step with the progress file ([`super::progress`]).
//!
//! Two callers change it: a flush ([`RollupTracker::note_flush`]: partitions
//! closed, windows made dirty by late points) and a rollup step
//! ([`RollupTracker::begin`] .. [`RollupTracker::finish`]: windows
//! computed). A step snapshots its work and, when done, clears only the
//! dirty marks that were not set again meanwhile (each mark carries the
//! number of the flush that set it), so a late point flushed while a step
//! reads its window is recomputed by the next step. Steps run one at a
//! time ([`RollupTracker::step_lock`]); the tracker's own lock is held only
//! to read or update it and to save the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::progress::{Progress, RuleProgress};
use super::rule::RollupRule;
use crate::error::{Error, Result};
use crate::fs::Fs;

/// One rule's progress, with the flush that last marked each dirty window.
#[derive(Debug, Clone)]
struct Tracked {
    rolled_to: i64,
    dirty: BTreeMap<i64, u64>,
}

#[derive(Debug)]
struct Tracking {
    closed_to: i64,
    rules: Vec<Tracked>,
    /// Numbers the flushes that mark windows dirty.
    marks: u64,
}

/// The work of one rollup step for one rule.
#[derive(Debug, Clone)]
pub(crate) struct RuleWork {
    /// Roll the windows in `start..end` (partition-aligned), if any.
    pub range: Option<(i64, i64)>,
    /// Recompute these windows (by start), with the mark each carried.
    pub dirty: Vec<(i64, u64)>,
}

/// The work of one rollup step, rule by rule.
#[derive(Debug, Clone)]
pub(crate) struct StepWork {
    pub closed_to: i64,
    pub rules: Vec<RuleWork>,
}

/// How far the rollup of a rule has come ([`crate::Db::rollup_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RollupStatus {
    /// The rule.
    pub rule: RollupRule,
    /// Every window ending at or before this time is rolled, except those
    /// in `dirty` (`i64::MIN`: nothing rolled yet).
    pub rolled_to: i64,
    /// Windows (by start) whose raw data changed since they were rolled,
    /// waiting to be recomputed.
    pub dirty: BTreeSet<i64>,
}

/// The rules of a database and their progress.
#[derive(Debug)]
pub(crate) struct RollupTracker {
    rules: Vec<RollupRule>,
    fs: Arc<dyn Fs>,
    path: PathBuf,
    tracking: Mutex<Tracking>,
    step: Mutex<()>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Poisoned("a thread panicked while holding the rollup lock".into())
}

impl RollupTracker {
    /// The tracker of `rules` (validated), with the progress saved at `path`.
    pub fn open(rules: Vec<RollupRule>, fs: Arc<dyn Fs>, path: &Path) -> Result<Self> {
        let progress = if rules.is_empty() { Progress::fresh(&rules) } else { Progress::load(&*fs, path, &rules)? };
        let tracked = progress
            .rules
            .into_iter()
            .map(|p| Tracked { rolled_to: p.rolled_to, dirty: p.dirty.into_iter().map(|w| (w, 0)).collect() })
            .collect();
        let tracking = Tracking { closed_to: progress.closed_to, rules: tracked, marks: 0 };
        Ok(Self { rules, fs, path: path.to_path_buf(), tracking: Mutex::new(tracking), step: Mutex::new(()) })
    }

    /// The rules.
    pub fn rules(&self) -> &[RollupRule] {
        &self.rules
    }

    /// Held by the one rollup step running.
    pub fn step_lock(&self) -> Result<MutexGuard<'_, ()>> {
        self.step.lock().map_err(poisoned)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tracking>> {
        self.tracking.lock().map_err(poisoned)
    }

    /// Partitions ending at or before this time are known closed. A point
    /// older than this that a flush writes is late: its window is (or is
    /// about to be) rolled already.
    pub fn closed_to(&self) -> Result<i64> {
        Ok(self.lock()?.closed_to)
    }

    /// Records what a flush is about to make durable: partitions closed up to
    /// `closed_to`, and per rule the windows its late points fall in. Saves
    /// the progress file if that changed anything; the caller does this
    /// before the WAL checkpoint that drops those points from the log.
    pub fn note_flush(&self, closed_to: i64, late: Vec<BTreeSet<i64>>) -> Result<()> {
        let mut t = self.lock()?;
        let mut changed = closed_to > t.closed_to;
        t.closed_to = t.closed_to.max(closed_to);
        t.marks += 1;
        let mark = t.marks;
        for (rule, windows) in t.rules.iter_mut().zip(late) {
            changed |= !windows.is_empty();
            rule.dirty.extend(windows.into_iter().map(|w| (w, mark)));
        }
        if changed { self.save(&t) } else { Ok(()) }
    }

    /// What a rollup step has to do; `None` if nothing.
    pub fn begin(&self) -> Result<Option<StepWork>> {
        let t = self.lock()?;
        let rules: Vec<RuleWork> = t
            .rules
            .iter()
            .map(|r| RuleWork {
                range: (r.rolled_to < t.closed_to).then_some((r.rolled_to, t.closed_to)),
                dirty: r.dirty.iter().map(|(&w, &m)| (w, m)).collect(),
            })
            .collect();
        let idle = rules.iter().all(|r| r.range.is_none() && r.dirty.is_empty());
        Ok((!idle).then_some(StepWork { closed_to: t.closed_to, rules }))
    }

    /// Records `work` as done (its rows durable in the WAL) and saves.
    pub fn finish(&self, work: &StepWork) -> Result<()> {
        let mut t = self.lock()?;
        for (rule, done) in t.rules.iter_mut().zip(&work.rules) {
            if done.range.is_some() {
                rule.rolled_to = rule.rolled_to.max(work.closed_to);
            }
            for (w, mark) in &done.dirty {
                if rule.dirty.get(w) == Some(mark) {
                    rule.dirty.remove(w);
                }
            }
        }
        self.save(&t)
    }

    /// How far the rollup into `target` has come; `None` for no such rule.
    pub fn status(&self, target: &str) -> Result<Option<RollupStatus>> {
        let Some(i) = self.rules.iter().position(|r| r.target() == target) else { return Ok(None) };
        let t = self.lock()?;
        let r = &t.rules[i];
        Ok(Some(RollupStatus {
            rule: self.rules[i].clone(),
            rolled_to: r.rolled_to,
            dirty: r.dirty.keys().copied().collect(),
        }))
    }

    fn save(&self, t: &Tracking) -> Result<()> {
        let rules = t
            .rules
            .iter()
            .map(|r| RuleProgress { rolled_to: r.rolled_to, dirty: r.dirty.keys().copied().collect() })
            .collect();
        Progress { closed_to: t.closed_to, rules }.save(&*self.fs, &self.path, &self.rules)
    }
}
