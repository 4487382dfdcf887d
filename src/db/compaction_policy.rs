//! When the database compacts on its own, and how fast.
//!
//! The flush thread ([`super::flusher`]) asks [`Inner::compact_if_due`]
//! after every background flush and every [`CompactionPolicy::check_interval`].
//! A compaction is due when closed partitions carry enough late blocks
//! that a scan of them reads several blocks where one would do; when the
//! file holds data a compaction drops (points a delete or a tiering left
//! masked, whose tombstones still reach into the file, or chunks of
//! expired partitions); or when it holds enough bytes no index lists any
//! more (superseded index and series blocks). Each is measured from the
//! directory under the flush mutex, so what is measured is what the
//! compaction then rewrites, and none holds right after a compaction
//! (kept tombstones no longer reach into the new file), so it never loops.
//! Finding expired chunks walks the directory entries of the partitions
//! older than the newest retention cut, and only with retention set.
//!
//! A background compaction writes at most
//! [`CompactionPolicy::max_write_bytes_per_sec`]: it sleeps between
//! partitions when ahead of that rate. Writers never wait for it; flushes
//! wait (the head absorbs writes meanwhile, as during any flush).

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::storage::file::block::HEADER_LEN;
use crate::storage::file::footer::{FOOTER_LEN, Footer};

use super::Expiry;
use super::file_writer::FileWriter;
use super::state::State;
use super::{Inner, lock_panicked};

/// When the database compacts in the background. The defaults suit most
/// uses; [`CompactionPolicy::disabled`] leaves compaction to
/// [`crate::Db::compact`] calls.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompactionPolicy {
    /// Whether the database compacts on its own (default true).
    pub enabled: bool,
    /// Compact once bytes no index lists make up this share of the file
    /// (default 0.5: the file is twice what a compaction would leave)...
    pub garbage_ratio: f64,
    /// ...and at least this many bytes (default 4 MiB), so small files are left alone.
    pub min_garbage_bytes: u64,
    /// Compact once closed partitions hold this many blocks beyond one each
    /// (late data; default 8).
    pub late_blocks: usize,
    /// A background compaction's write rate limit in bytes per second
    /// (default 128 MiB/s); `None` writes as fast as the disk takes it.
    pub max_write_bytes_per_sec: Option<u64>,
    /// How often the flush thread looks, besides after every flush (default 60 s).
    pub check_interval: Duration,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            garbage_ratio: 0.5,
            min_garbage_bytes: 4 << 20,
            late_blocks: 8,
            max_write_bytes_per_sec: Some(128 << 20),
            check_interval: Duration::from_secs(60),
        }
    }
}

impl CompactionPolicy {
    /// No background compaction.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// Sets the share of unlisted bytes, and the least number of them, that make a compaction due.
    pub fn with_garbage(mut self, ratio: f64, min_bytes: u64) -> Self {
        self.garbage_ratio = ratio;
        self.min_garbage_bytes = min_bytes;
        self
    }

    /// Sets the number of late blocks that make a compaction due.
    pub fn with_late_blocks(mut self, blocks: usize) -> Self {
        self.late_blocks = blocks;
        self
    }

    /// Sets the background write rate limit (`None`: unlimited).
    pub fn with_max_write_bytes_per_sec(mut self, rate: Option<u64>) -> Self {
        self.max_write_bytes_per_sec = rate;
        self
    }

    /// Sets how often the flush thread looks for due work.
    pub fn with_check_interval(mut self, every: Duration) -> Self {
        self.check_interval = every;
        self
    }

    /// Why a compaction of the file as `writer` and `st` hold it is due,
    /// with `expiry` deciding what has expired, if it is.
    fn due(&self, writer: &FileWriter, st: &State, expiry: &Expiry) -> Option<CompactionReason> {
        let late_blocks = st.late_blocks();
        if late_blocks >= self.late_blocks.max(1) {
            return Some(CompactionReason::LateBlocks { blocks: late_blocks });
        }
        let tombstones = st.tombstones.iter().filter(|t| t.file_end > 0).count();
        if tombstones > 0 {
            return Some(CompactionReason::Masked { tombstones });
        }
        if let Some(partition_start) = st.first_expired_partition(expiry) {
            return Some(CompactionReason::Expired { partition_start });
        }
        let file = writer.store.len();
        let garbage = file.saturating_sub(st.live_bytes() + writer.index_bytes + HEADER_LEN);
        let share = garbage as f64 / file.max(1) as f64;
        (garbage >= self.min_garbage_bytes && share >= self.garbage_ratio)
            .then_some(CompactionReason::Garbage { bytes: garbage, file_bytes: file })
    }
}

/// Why a compaction ran, as [`crate::Db::compact_if_due`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactionReason {
    /// The file held `bytes` of its `file_bytes` that no index lists.
    Garbage {
        /// Bytes no index lists.
        bytes: u64,
        /// The file's size.
        file_bytes: u64,
    },
    /// Closed partitions held `blocks` blocks beyond one each.
    LateBlocks {
        /// Blocks beyond the first, over every closed partition.
        blocks: usize,
    },
    /// Deletes or tierings left points of the file masked.
    Masked {
        /// Tombstones reaching into the file.
        tombstones: usize,
    },
    /// The file held chunks of expired partitions.
    Expired {
        /// The start of the oldest partition holding some.
        partition_start: i64,
    },
}

impl fmt::Display for CompactionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Garbage { bytes, file_bytes } => {
                write!(f, "{bytes} of the file's {file_bytes} bytes are no longer listed")
            }
            Self::LateBlocks { blocks } => write!(f, "closed partitions hold {blocks} late blocks"),
            Self::Masked { tombstones } => write!(f, "{tombstones} deletes or tierings mask points of the file"),
            Self::Expired { partition_start } => {
                write!(f, "the partition starting at {partition_start} holds expired chunks")
            }
        }
    }
}

/// Paces a background compaction's writes to a rate.
#[derive(Debug)]
pub(super) struct Pace {
    rate: Option<u64>,
    started: Instant,
    written: u64,
}

impl Pace {
    /// At most `rate` bytes per second, or unpaced.
    pub fn new(rate: Option<u64>) -> Self {
        Self { rate, started: Instant::now(), written: 0 }
    }

    /// Counts `bytes` written, sleeping while ahead of the rate.
    pub fn wrote(&mut self, bytes: u64) {
        self.written += bytes;
        if let Some(ahead) = self.ahead(self.started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }

    /// How far ahead of the rate the bytes written are, `elapsed` after the start.
    fn ahead(&self, elapsed: Duration) -> Option<Duration> {
        let rate = self.rate.filter(|&r| r > 0)?;
        Duration::from_secs_f64(self.written as f64 / rate as f64).checked_sub(elapsed).filter(|d| !d.is_zero())
    }
}

/// The bytes of the index block and footer that end `out`, a flush's or a
/// compaction's appended bytes (or a whole file's tail): what the index in
/// force occupies.
pub(super) fn index_bytes(tail: &[u8]) -> u64 {
    tail.len()
        .checked_sub(FOOTER_LEN)
        .and_then(|at| Footer::parse(&tail[at..]))
        .map_or(0, |f| f.index_len + FOOTER_LEN as u64)
}

impl State {
    /// Blocks beyond the first of every closed partition.
    fn late_blocks(&self) -> usize {
        self.blocks.range(..=self.horizon).map(|(_, b)| b.len().saturating_sub(1)).sum()
    }

    /// The start of the oldest partition of the file holding chunks of a
    /// series whose measurement's part of it expired.
    fn first_expired_partition(&self, expiry: &Expiry) -> Option<i64> {
        let ns = self.partition_ns;
        let newest_cut = self.index.measurements().keys().map(|m| expiry.live_from(m)).max()?;
        let old = self.blocks.iter().take_while(|(p, _)| p.saturating_mul(ns) < newest_cut);
        old.filter(|(p, blocks)| {
            blocks
                .iter()
                .flat_map(|b| &b.entries)
                .any(|e| self.index.series(e.series).is_some_and(|s| expiry.expired(s.measurement(), **p, ns)))
        })
        .map(|(p, _)| p.saturating_mul(ns))
        .next()
    }

    /// Bytes of the partition and series blocks the index lists.
    fn live_bytes(&self) -> u64 {
        let blocks: u64 = self.blocks.values().flatten().map(|b| b.len).sum();
        blocks + self.series_blocks.iter().map(|b| b.len).sum::<u64>()
    }
}

impl Inner {
    /// Compacts if the policy finds it due, paced to its rate; returns why
    /// it did. A closed database, or a disabled policy, does nothing.
    pub(super) fn compact_if_due(&self) -> Result<Option<CompactionReason>> {
        let policy = &self.config.compaction;
        if !policy.enabled {
            return Ok(None);
        }
        let mut writer = self.writer.lock().map_err(lock_panicked)?;
        let reason = {
            let st = self.state.read().map_err(lock_panicked)?;
            if st.closed || st.poisoned.is_some() {
                return Ok(None);
            }
            let c = &self.config;
            let expiry = st.expiry(&c.retention, c.clock.now_ns(), &self.tier, &self.size_floor)?;
            policy.due(&writer, &st, &expiry)
        };
        let Some(reason) = reason else { return Ok(None) };
        tracing::info!(reason = %reason, "compacting");
        self.compact_with(&mut writer, Pace::new(policy.max_write_bytes_per_sec))?;
        Ok(Some(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_tail_is_read_from_the_footer_and_anything_shorter_is_none() {
        let footer = Footer { index_offset: 100, index_len: 40 };
        let mut tail = vec![0u8; 40];
        tail.extend_from_slice(&footer.encode());
        assert_eq!(index_bytes(&tail), 40 + FOOTER_LEN as u64);
        assert_eq!(index_bytes(&tail[..FOOTER_LEN - 1]), 0);
        assert_eq!(index_bytes(&[]), 0);
    }

    #[test]
    fn an_unpaced_writer_is_never_ahead_and_a_paced_one_waits_out_its_lead() {
        let mut free = Pace::new(None);
        free.written = u64::MAX / 2;
        assert_eq!(free.ahead(Duration::ZERO), None);
        let mut paced = Pace::new(Some(1000));
        paced.written = 50;
        assert_eq!(
            paced.ahead(Duration::from_millis(20)),
            Some(Duration::from_millis(30)),
            "50 bytes at 1000 B/s take 50 ms"
        );
        assert_eq!(paced.ahead(Duration::from_millis(50)), None);
        assert_eq!(paced.ahead(Duration::from_secs(1)), None, "behind the rate: no wait");
    }
}
