//! The mutable state behind a [`super::Db`]: index, head, frozen
//! partitions, block directories, and applying WAL records to them, under
//! the database's lock. The flush ([`super::flush`]), compaction
//! ([`super::compact`]) and reads ([`super::read`]) are further `impl State`
//! blocks beside this one. The file itself is written by the holder of the
//! database's file writer ([`super::file_writer`]), outside this lock.
//!
//! Invariants: records are applied in LSN order, and only once committed
//! (their sync policy met), so the head never holds a record whose write
//! failed; `last_lsn` is the newest record applied and every record in
//! `pending` is newer. A partition is in `frozen` from the moment a flush
//! takes it out of the head until its block is in `blocks` (or, if the
//! flush fails, until the database is reopened); the head may hold newer
//! points of the same partition, so readers take frozen points as older than
//! head points and newer than blocks. Once `poisoned` is set it stays set
//! until the database is reopened, and nothing changes the file any more.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::ColumnNames;
use crate::storage::file::partition_block::PartitionBlock;
use crate::storage::file::series_block::SeriesBlockRef;
use crate::storage::file::store::FileReader;
use crate::storage::head::{Head, HeadPartition};
use crate::storage::series_index::SeriesIndex;
use crate::storage::tombstone::{Tombstone, TombstoneKind};

use super::wal_record::{self, Prepared};

/// Blocks per partition number, each list in file order.
pub(crate) type Blocks = BTreeMap<i64, Vec<Arc<PartitionBlock>>>;

#[derive(Debug)]
pub(crate) struct State {
    pub index: SeriesIndex,
    pub head: Head,
    /// Head partitions a flush in progress is writing, by number.
    pub frozen: BTreeMap<i64, Arc<HeadPartition>>,
    /// Reads the file `blocks` lie in (replaced by a compaction's swap).
    pub reader: FileReader,
    pub blocks: Blocks,
    /// The series blocks the last index listed (see `State::append_index`).
    pub series_blocks: Vec<SeriesBlockRef>,
    /// Deletes and tierings compaction has not applied yet, oldest first;
    /// every index block lists them ([`crate::storage::tombstone`]).
    pub tombstones: Vec<Arc<Tombstone>>,
    pub partition_ns: i64,
    /// Every WAL record up to here is wholly in the file.
    pub durable_lsn: u64,
    /// The last WAL record applied to the head.
    pub last_lsn: u64,
    /// Records written to the WAL and not yet applied, in LSN order: waiting
    /// for their commit, or refused because it failed. Prepared (checked and
    /// resolved) by their writers before they took the lock.
    pub pending: VecDeque<(u64, Prepared)>,
    /// Every tag key and field per measurement, applied or pending, so a
    /// batch that would make duplicate SQL columns is refused.
    pub names: ColumnNames,
    /// The newest timestamp written so far.
    pub newest_time: Option<i64>,
    /// Partitions up to this number have been closed (flushed once due).
    pub horizon: i64,
    /// Partitions found due and left for the background flush.
    pub due: BTreeSet<i64>,
    pub poisoned: Option<String>,
    pub closed: bool,
    /// Flushes completed since open (for monitoring).
    pub flushes: u64,
    /// Compactions completed since open: a file offset taken before one
    /// means nothing after it.
    pub compactions: u64,
    /// Per measurement, the number of deletes over it since open (a
    /// tiering that read the measurement before one refuses to record).
    pub deletes: std::collections::HashMap<String, u64>,
}

/// What a scan planned now would read, as far as it can change: two equal
/// generations mean no write, delete, flush, compaction or tiering came
/// between them, so a scan planned at the first is the one the second
/// would plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation {
    last_lsn: u64,
    flushes: u64,
    compactions: u64,
    tombstones: usize,
    deletes: u64,
}

impl State {
    /// The state's [`Generation`].
    pub fn generation(&self) -> Generation {
        Generation {
            last_lsn: self.last_lsn,
            flushes: self.flushes,
            compactions: self.compactions,
            tombstones: self.tombstones.len(),
            deletes: self.deletes.values().sum(),
        }
    }

    /// Fails if writes are refused.
    pub fn writable(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        match &self.poisoned {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Refuses every later change to the file until the database is reopened.
    pub fn poison(&mut self, why: String) {
        self.poisoned.get_or_insert(why);
    }

    /// The error for a failed WAL call; a failure of the log (it answers
    /// `Poisoned` once a write, fsync or rotation failed) poisons the state too.
    pub fn wal_failed(&mut self, e: crate::wal::Error) -> Error {
        if let crate::wal::Error::Poisoned(why) = &e {
            self.poison(format!("the WAL failed: {why}"));
        }
        e.into()
    }

    /// Claims the names the index holds (after open and replay).
    pub fn claim_stored_names(&mut self) {
        for (name, m) in self.index.measurements() {
            let fields = m.fields.iter().filter_map(|&f| self.index.field_name(f));
            self.names.add(name, m.postings.keys().map(String::as_str), fields);
        }
    }

    /// Applies every pending record up to `lsn`, in LSN order; the caller
    /// knows they are committed.
    pub fn apply_pending(&mut self, lsn: u64) {
        while let Some((next, record)) = self.pending.pop_front_if(|(next, _)| *next <= lsn) {
            self.apply_prepared(next, record);
        }
    }

    /// Applies WAL record `lsn` to the index and head: all of it, or
    /// nothing if it is malformed (see [`wal_record::apply`]).
    pub fn apply(&mut self, lsn: u64, payload: &[u8]) -> crate::encoding::Result<()> {
        let prepared = wal_record::prepare(payload, &self.index)?;
        self.apply_prepared(lsn, prepared);
        Ok(())
    }

    /// The deletes replay applies to the head, in LSN order.
    pub fn replay_deletes(&self) -> VecDeque<Arc<Tombstone>> {
        let mut deletes: Vec<Arc<Tombstone>> =
            self.tombstones.iter().filter(|t| t.kind == TombstoneKind::Delete).cloned().collect();
        deletes.sort_by_key(|t| t.lsn);
        deletes.into()
    }

    /// Applies to the head the deletes of `deletes` that cover only records
    /// before `lsn` (all of them up to the last: `u64::MAX`).
    pub fn apply_deletes(&mut self, deletes: &mut VecDeque<Arc<Tombstone>>, lsn: u64) {
        while let Some(t) = deletes.pop_front_if(|t| t.lsn < lsn) {
            let series = self.index.select(&t.measurement, &t.matchers);
            self.head.remove(&series, t.start, t.end, self.partition_ns);
        }
    }

    fn apply_prepared(&mut self, lsn: u64, record: Prepared) {
        if let Some(t) = record.apply(lsn, self.partition_ns, &mut self.index, &mut self.head) {
            self.newest_time = Some(self.newest_time.map_or(t, |n| n.max(t)));
        }
        self.last_lsn = self.last_lsn.max(lsn);
    }
}
