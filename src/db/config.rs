//! Database configuration, with documented defaults and a builder.

use std::sync::Arc;
use std::time::Duration;

use super::CompactionPolicy;
use super::clock::{Clock, SystemClock};
use super::retention::Retention;
use crate::fs::{Fs, OsFs};
use crate::rollup::RollupRule;
use crate::tier::TierConfig;
use crate::wal::SyncPolicy;

/// How a database behaves. `Config::default()` is what `Db::open` users
/// normally want; each `with_*` method changes one setting.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Time span of one partition (default 1 hour). Applies to new files; an
    /// existing file keeps the duration it was created with.
    pub partition_duration: Duration,
    /// When WAL appends are made durable (default `Interval(1 s)`).
    pub sync: SyncPolicy,
    /// Head size that triggers a flush of every open partition (default 64 MiB),
    /// beyond an allowance of 16 points per field column held (see `Head::over_budget`).
    pub memory_budget: usize,
    /// WAL size that triggers a flush of every open partition (default 256 MiB).
    /// Past it by a segment (a quarter of it, 64 KiB to 64 MiB), a write
    /// returns only after a flush: the log stays bounded when flushes fall behind.
    pub max_wal_bytes: u64,
    /// How long after a partition's end it stays open for late points before
    /// it is flushed (default 5 minutes). Later points are still accepted;
    /// they are flushed as a further block of that partition.
    pub late_window: Duration,
    /// The file system (default: the operating system's). Tests inject faults here.
    pub fs: Arc<dyn Fs>,
    /// The cold tier partitions move to (default none).
    pub tier: Option<TierConfig>,
    /// When the database compacts on its own (default: see [`CompactionPolicy`]).
    pub compaction: CompactionPolicy,
    /// Downsampling rules (default none), checked by `Db::open`.
    pub rollups: Vec<RollupRule>,
    /// How long data is kept and how much (default: forever, any size).
    pub retention: Retention,
    /// Where "now" comes from for retention and `tier_due` (default: the system clock).
    pub clock: Arc<dyn Clock>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            partition_duration: Duration::from_secs(3600),
            sync: SyncPolicy::default(),
            memory_budget: 64 << 20,
            max_wal_bytes: 256 << 20,
            late_window: Duration::from_secs(300),
            fs: Arc::new(OsFs),
            tier: None,
            compaction: CompactionPolicy::default(),
            rollups: Vec::new(),
            retention: Retention::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Config {
    /// Sets the partition duration.
    pub fn with_partition_duration(mut self, d: Duration) -> Self {
        self.partition_duration = d;
        self
    }

    /// Sets the WAL sync policy.
    pub fn with_sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the head's memory budget in bytes.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets the WAL size that forces a flush.
    pub fn with_max_wal_bytes(mut self, bytes: u64) -> Self {
        self.max_wal_bytes = bytes;
        self
    }

    /// Sets how long partitions stay open after their end.
    pub fn with_late_window(mut self, d: Duration) -> Self {
        self.late_window = d;
        self
    }

    /// Sets the file system.
    pub fn with_fs(mut self, fs: Arc<dyn Fs>) -> Self {
        self.fs = fs;
        self
    }

    /// Sets the cold tier.
    pub fn with_tier(mut self, tier: TierConfig) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Sets the background compaction policy.
    pub fn with_compaction(mut self, policy: CompactionPolicy) -> Self {
        self.compaction = policy;
        self
    }

    /// Adds a downsampling rule; see [`RollupRule`]. `Db::open` refuses bad
    /// rules with [`crate::Error::Rollup`].
    pub fn with_rollup(mut self, rule: RollupRule) -> Self {
        self.rollups.push(rule);
        self
    }

    /// Sets the retention.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The partition duration in nanoseconds (at least 1).
    pub(crate) fn partition_ns(&self) -> i64 {
        i64::try_from(self.partition_duration.as_nanos()).unwrap_or(i64::MAX).max(1)
    }

    /// The late window in nanoseconds.
    pub(crate) fn late_ns(&self) -> i64 {
        i64::try_from(self.late_window.as_nanos()).unwrap_or(i64::MAX)
    }

    /// WAL segment size: small enough that a checkpoint frees space well
    /// before the WAL reaches its maximum.
    pub(crate) fn wal_segment_bytes(&self) -> u64 {
        (self.max_wal_bytes / 4).clamp(1 << 16, 64 << 20)
    }
}
