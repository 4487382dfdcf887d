//! The embedded database: [`Db::open`], writes, flushes, scans, listings.
//!
//! ```text
//! write -> validate + encode (wal_record), resolve series ids  (read lock: writers in parallel)
//!       -> WAL write, queue as pending                       (under the state lock)
//!       -> wait for the sync policy (outside it, so writers share an fsync)
//!       -> apply every pending record up to ours to the head, in LSN order (under the lock again)
//! flush -> freeze due partitions (lock) -> encode, append, fsync (flush thread, no lock)
//!       -> swap frozen for blocks (lock) -> WAL checkpoint                      (flush)
//!       -> rollup step: closed partitions, dirty windows -> rows written   (rollup_step)
//! scan  -> plan under the read lock (read) -> decode and merge without it
//! ```
//! Writers never wait for a flush or a compaction: a write that finds
//! partitions due hands them to the database's flush thread (flusher), and
//! both hold the state lock only to freeze and to swap.
//! A record reaches the head only once its commit succeeded, so a batch whose
//! write failed is never read nor flushed. Any failure of the WAL (a write,
//! an fsync, a rotation, a background sync) or of the file poisons the
//! database: writes, flush and compact fail with [`Error::Poisoned`] until it
//! is reopened; reads go on, and close does not flush.
//! On disk, a database at `PATH` is the file `PATH`, the WAL directory
//! `PATH.wal/`, and the lock file `PATH.lock` that keeps a second process out.

mod clock;
mod compact;
mod compaction_policy;
mod config;
mod delete;
mod encodings;
mod file_writer;
mod flush;
mod flusher;
mod masks;
mod read;
mod retention;
mod rollup_step;
mod state;
mod tier_mirror;
mod tier_record;
mod tiered_series;
pub(crate) mod wal_record;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use clock::{Clock, ManualClock, SystemClock};
pub use compaction_policy::{CompactionPolicy, CompactionReason};
pub use config::Config;
pub use encodings::{EncodingCount, EncodingUsage};
pub(crate) use retention::Expiry;
pub use retention::Retention;

use crate::error::{Error, Result};
use crate::fs::FileLock;
use crate::model::{Point, Row, SeriesKey, WriteRow};
use crate::rollup::RollupTracker;
use crate::storage::file::store::{FileDamage, FileStore};
use crate::storage::head::Head;
use crate::storage::matcher::TagMatcher;
use crate::storage::scan::{Scan, ScanOptions, ScanRequest};
use crate::storage::series_index::SeriesView;
use crate::tier::Tier;
use crate::wal::{self, SyncPolicy, Wal, WalOptions};
use file_writer::FileWriter;
use flush::Which;
use flusher::{FlushBell, Flusher};
pub(crate) use state::Generation;
use state::{Blocks, State};

/// What opening the database found and repaired.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// What WAL replay kept and dropped.
    pub wal: wal::RecoveryReport,
    /// WAL records applied to the head (those not yet wholly in the file).
    pub replayed: usize,
    /// WAL records that could not be applied, with why.
    pub unreadable_records: Vec<(u64, String)>,
    /// Damaged parts of the database file, skipped.
    pub file_damage: Vec<FileDamage>,
}

impl RecoveryReport {
    /// Whether anything was damaged.
    pub fn is_clean(&self) -> bool {
        self.wal.damage.is_empty() && self.unreadable_records.is_empty() && self.file_damage.is_empty()
    }
}

/// An open database. Cheap to clone; every clone is the same database, and
/// it is `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
    /// The flush thread, stopped when the last clone holding it is dropped;
    /// `None` in a handle the database makes for its own work
    /// ([`Inner::handle`]), which must not keep that thread alive.
    _flusher: Option<Arc<Flusher>>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    config: Config,
    wal: Wal,
    state: RwLock<State>,
    /// The flush mutex: whoever writes the file holds it ([`file_writer`]).
    writer: Mutex<FileWriter>,
    /// Wakes the flush thread.
    bell: FlushBell,
    report: RecoveryReport,
    /// Held from open to close.
    lock: Mutex<Option<Box<dyn FileLock>>>,
    /// The cold tier and its manifest, `PATH.tier`.
    tier: Tier,
    /// Downsampling rules and their progress, `PATH.rollup`.
    rollups: RollupTracker,
    /// Where size retention has cut so far ([`retention`]).
    size_floor: retention::SizeFloor,
    /// This database, for [`Inner::handle`].
    me: std::sync::Weak<Inner>,
}

impl Inner {
    /// A handle on this database for its own work (a reader that needs a
    /// [`Db`], such as a scan reaching the cold tier), holding no share of
    /// the flush thread: the thread may run it, and closing stays the
    /// users' handles' business.
    fn handle(&self) -> Result<Db> {
        let inner = self.me.upgrade().ok_or(Error::Closed)?;
        Ok(Db { inner, _flusher: None })
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn lock_panicked<T>(_: T) -> Error {
    Error::Poisoned("a thread panicked while holding the database lock".into())
}

impl Db {
    /// Opens the database at `path` (a file; created if missing), replaying
    /// its WAL. Damage is repaired where possible and reported in
    /// [`Db::recovery_report`]; it is fatal only if the file is not a database.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Db> {
        let path = path.as_ref().to_path_buf();
        if path.file_name().is_none() {
            return Err(Error::InvalidArgument(format!("{} does not name a file", path.display())));
        }
        let fs = Arc::clone(&config.fs);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs.create_dir_all(dir).map_err(Error::io("create directory", dir))?;
        }
        let lock_path = sibling(&path, ".lock");
        let lock = fs.lock(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::Locked(path.clone()),
            _ => Error::io("lock", &lock_path)(e),
        })?;
        let opened = FileStore::open(Arc::clone(&fs), &path, config.partition_ns())?;
        let snapshot = opened.snapshot;
        crate::rollup::validate_rules(&config.rollups, snapshot.partition_ns)?;
        let mut blocks = Blocks::new();
        for block in opened.blocks {
            blocks.entry(block.partition).or_default().push(Arc::new(block));
        }
        let durable_lsn = snapshot.durable_lsn;
        let mut writer = FileWriter::new(opened.store);
        let mut state = State {
            index: snapshot.series,
            head: Head::default(),
            frozen: Default::default(),
            reader: writer.store.reader(),
            blocks,
            series_blocks: snapshot.series_blocks,
            tombstones: snapshot.tombstones.into_iter().map(Arc::new).collect(),
            partition_ns: snapshot.partition_ns,
            durable_lsn,
            last_lsn: durable_lsn,
            pending: Default::default(),
            names: Default::default(),
            newest_time: None,
            horizon: i64::MIN,
            due: Default::default(),
            poisoned: None,
            closed: false,
            flushes: 0,
            compactions: 0,
            deletes: Default::default(),
        };
        let mut report = RecoveryReport { file_damage: opened.damage, ..Default::default() };
        let options =
            WalOptions { sync: config.sync, segment_bytes: config.wal_segment_bytes(), min_next_lsn: durable_lsn + 1 };
        // A delete applies to the head right after the last record it
        // covers, as it did when it ran ([`delete`]).
        let mut deletes = state.replay_deletes();
        // Records are applied as replay reads them, so memory holds one
        // segment at a time, never the whole log.
        let apply = |lsn: u64, payload: &[u8]| {
            if lsn > durable_lsn {
                state.apply_deletes(&mut deletes, lsn);
                match state.apply(lsn, payload) {
                    Ok(()) => report.replayed += 1,
                    Err(e) => report.unreadable_records.push((lsn, e.to_string())),
                }
            }
        };
        let (wal, replay) = Wal::open(Arc::clone(&fs), &sibling(&path, ".wal"), options, apply)?;
        report.wal = replay.report;
        state.apply_deletes(&mut deletes, u64::MAX);
        state.claim_stored_names();
        for d in &report.wal.damage {
            tracing::warn!(path = %d.path.display(), offset = d.offset, bytes = d.bytes, reason = %d.reason, "WAL tail dropped");
        }
        for d in &report.file_damage {
            tracing::warn!(path = %d.path.display(), offset = d.offset, detail = %d.detail, "database file damage");
        }
        for (lsn, why) in &report.unreadable_records {
            tracing::warn!(lsn, why = %why, "WAL record skipped");
        }
        // After recovery, or once a damaged block is skipped, a fresh index
        // makes the next open take the fast path and stop reporting it.
        if opened.recovered || !report.file_damage.is_empty() {
            state.rewrite_index(&mut writer)?;
        }
        let tier = Tier::open(config.tier.as_ref(), Arc::clone(&fs), &sibling(&path, ".tier"))?;
        let rollups = RollupTracker::open(config.rollups.clone(), Arc::clone(&fs), &sibling(&path, ".rollup"))?;
        let inner = Arc::new_cyclic(|me| Inner {
            path,
            config,
            wal,
            state: RwLock::new(state),
            writer: Mutex::new(writer),
            bell: FlushBell::default(),
            report,
            lock: Mutex::new(Some(lock)),
            tier,
            rollups,
            size_floor: Default::default(),
            me: me.clone(),
        });
        let flusher = Flusher::start(&inner).map_err(Error::io("start the flush thread", &inner.path))?;
        let db = Db { inner, _flusher: Some(Arc::new(flusher)) };
        // What replay brought back may already be due.
        let mut st = db.inner.write_lock()?;
        db.inner.request_due_flush(&mut st)?;
        drop(st);
        // Rollup work a crash interrupted (recorded, not done) is redone now.
        db.inner.roll_up()?;
        Ok(db)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The cold tier.
    pub(crate) fn tier(&self) -> &Tier {
        &self.inner.tier
    }

    /// What opening found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.inner.read()
    }

    /// Writes points (field `value`). All or nothing: an invalid point fails
    /// the whole batch with [`Error::InvalidRow`]. Returns once the batch
    /// satisfies the sync policy.
    pub fn write(&self, points: &[Point]) -> Result<()> {
        self.write_batch(points)
    }

    /// Writes multi-field rows, like [`Db::write`].
    pub fn write_rows(&self, rows: &[Row]) -> Result<()> {
        self.write_batch(rows)
    }

    /// Writes rows given as views borrowing their names (the server's
    /// remote-write path, or an embedder's own row type), with the
    /// guarantees of [`Db::write_rows`].
    pub fn write_views<R: WriteRow>(&self, rows: &[R]) -> Result<()> {
        self.write_batch(rows)
    }

    fn write_batch<R: WriteRow>(&self, rows: &[R]) -> Result<()> {
        self.inner.write_batch(rows)?;
        // Users' writes only: the rollup step writes while it holds its own
        // lock, which the flush here would take again.
        self.inner.hold_back_when_behind();
        Ok(())
    }

    /// Flushes everything in memory to the file; returns once it is there
    /// (waiting for a background flush in progress first) and the rollups
    /// are up to date (their new rows are written like any write: to the
    /// WAL and memory).
    pub fn flush(&self) -> Result<()> {
        self.inner.flush(Which::All)
    }

    /// Rewrites the file with one block per partition, dropping overwritten
    /// points and superseded index blocks; atomic (see `FileStore::replace_with`).
    /// Returns once done; writes and reads go on meanwhile, flushes wait.
    pub fn compact(&self) -> Result<()> {
        self.inner.compact()
    }

    /// Compacts if [`Config::compaction`] finds it due (as the flush thread
    /// does on its own after flushes and every `check_interval`), at the
    /// policy's pace; returns why it compacted, or `None`.
    pub fn compact_if_due(&self) -> Result<Option<CompactionReason>> {
        self.inner.compact_if_due()
    }

    /// Flushes and closes; later calls on any clone fail with [`Error::Closed`],
    /// and the database may be opened again. Dropping the last clone closes
    /// too, ignoring errors. A poisoned database is closed without a flush
    /// (what it holds in memory is in the WAL) and the poisoning is returned.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }

    /// Starts a scan; see [`ScanRequest`] and [`Scan`]. Expired partitions
    /// ([`Config::retention`]) are left out, as decided when it starts.
    /// Tiered partitions ([`Config::with_tier`]) are read from both tiers,
    /// as SQL reads them (a late local write wins over the tiered point,
    /// deletes hide tiered rows): when the range holds one, the whole
    /// request is answered by the measurement's SQL table before this
    /// returns, sorted as a local scan's series are.
    pub fn scan(&self, req: &ScanRequest) -> Result<Scan> {
        let mut req = req.clone();
        req.start = req.start.max(self.expiry()?.live_from(&req.measurement));
        let ns = self.partition_duration_ns()?;
        if self.tier().files_in(&req.measurement, req.start, req.end, ns)?.is_empty() {
            return self.scan_with(&req, &ScanOptions::default());
        }
        // The local scan's schema, with nothing to read of its own.
        let scan = self.scan_with(&req, &ScanOptions { never: true, ..ScanOptions::default() })?;
        let rows = crate::tier::scan_request(self, &req, &scan.schema())?;
        Ok(scan.with_rows(rows))
    }

    /// Starts a scan with what only the SQL planner asks of it.
    pub(crate) fn scan_with(&self, req: &ScanRequest, options: &ScanOptions) -> Result<Scan> {
        self.read()?.plan_scan(req, options)
    }

    /// [`Self::scan_with`], and the [`Generation`] it was planned at.
    pub(crate) fn scan_at(&self, req: &ScanRequest, options: &ScanOptions) -> Result<(Scan, Generation)> {
        let st = self.read()?;
        Ok((st.plan_scan(req, options)?, st.generation()))
    }

    /// The database's [`Generation`] now.
    pub(crate) fn generation(&self) -> Result<Generation> {
        Ok(self.read()?.generation())
    }

    /// Every measurement, sorted.
    pub fn measurements(&self) -> Result<Vec<String>> {
        Ok(self.read()?.index.measurements().keys().cloned().collect())
    }

    /// Whether `measurement` has any series.
    pub fn has_measurement(&self, measurement: &str) -> Result<bool> {
        Ok(self.read()?.index.measurement(measurement).is_some())
    }

    /// The fields of `measurement`, sorted.
    pub fn fields(&self, measurement: &str) -> Result<Vec<String>> {
        let st = self.read()?;
        let m = st.index.measurement(measurement);
        let mut names: Vec<String> =
            m.into_iter().flat_map(|m| &m.fields).filter_map(|&f| st.index.field_name(f)).map(String::from).collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Tag keys, of one measurement or of all, sorted.
    pub fn tag_keys(&self, measurement: Option<&str>) -> Result<Vec<String>> {
        let st = self.read()?;
        let keys: std::collections::BTreeSet<&String> = st
            .index
            .measurements()
            .iter()
            .filter(|(name, _)| measurement.is_none_or(|m| m == name.as_str()))
            .flat_map(|(_, m)| m.postings.keys())
            .collect();
        Ok(keys.into_iter().cloned().collect())
    }

    /// Values of tag `key`, optionally within one measurement and among
    /// series with points in `start..=end` (expired and deleted points do
    /// not count), sorted. Without a range: of every series the index
    /// holds, which keeps series whose points all expired or were deleted.
    pub fn tag_values(&self, key: &str, measurement: Option<&str>, range: Option<(i64, i64)>) -> Result<Vec<String>> {
        let live = range.map(|(start, end)| self.live_series(measurement, start, end)).transpose()?;
        self.read()?.tag_values(key, measurement, live.as_ref())
    }

    /// The series (of `measurement`, or of all) with a point in
    /// `start..=end`, in either tier.
    fn live_series(&self, measurement: Option<&str>, start: i64, end: i64) -> Result<std::collections::HashSet<u32>> {
        let expiry = self.expiry()?;
        let mut live = self.tiered_series(measurement, start, end)?;
        live.extend(self.read()?.series_in_range(start, end, &expiry)?);
        Ok(live)
    }

    /// The partition duration of the file, in nanoseconds.
    pub fn partition_duration_ns(&self) -> Result<i64> {
        Ok(self.read()?.partition_ns)
    }

    /// Number of series.
    pub fn series_count(&self) -> Result<usize> {
        Ok(self.read()?.index.len())
    }

    /// Bytes of WAL segments on disk: what a restart would replay, at most.
    pub fn wal_bytes(&self) -> Result<u64> {
        // Fails like every reader once the database is closed.
        drop(self.read()?);
        Ok(self.inner.wal.size()?)
    }

    /// Flushes of memory to the file completed since open.
    pub fn flush_count(&self) -> Result<u64> {
        Ok(self.read()?.flushes)
    }

    /// Every series as (id, key), by id.
    pub fn series(&self) -> Result<Vec<(u32, SeriesKey)>> {
        let st = self.read()?;
        Ok((0..st.index.len() as u32).filter_map(|id| st.index.key(id).map(|k| (id, k))).collect())
    }

    /// The series with at least one point in `start..=end` (nanoseconds,
    /// inclusive; expired and deleted points do not count), or every series
    /// the index holds when `range` is `None` (the index keeps series whose
    /// points all expired or were deleted); from the index and the
    /// partition directory (chunks that straddle the range or lost points
    /// to a delete are checked).
    pub fn series_keys(&self, range: Option<(i64, i64)>) -> Result<Vec<SeriesKey>> {
        self.keys_of(None, range)
    }

    /// [`Db::series_keys`] of one measurement, from its own entry in the
    /// index: the cost is its series', whatever else the database holds.
    pub fn measurement_series_keys(&self, measurement: &str, range: Option<(i64, i64)>) -> Result<Vec<SeriesKey>> {
        self.keys_of(Some(measurement), range)
    }

    fn keys_of(&self, measurement: Option<&str>, range: Option<(i64, i64)>) -> Result<Vec<SeriesKey>> {
        let measurements: Vec<&str> = measurement.into_iter().collect();
        let which = measurement.map(|_| measurements.as_slice());
        self.with_series(which, range, |views| views.into_iter().map(SeriesView::to_key).collect())
    }

    /// `f` of the index's views of the series of `measurements` (of every
    /// measurement for `None`) with a point in `range` (nanoseconds,
    /// inclusive; all time for `None`), by id, under the read lock: what a
    /// listing reads without copying a name.
    pub(crate) fn with_series<T>(
        &self,
        measurements: Option<&[&str]>,
        range: Option<(i64, i64)>,
        f: impl FnOnce(Vec<SeriesView<'_>>) -> T,
    ) -> Result<T> {
        let live = match (range, measurements) {
            (None, _) => None,
            (Some((start, end)), Some([one])) => Some(self.live_series(Some(one), start, end)?),
            (Some((start, end)), _) => Some(self.live_series(None, start, end)?),
        };
        let st = self.read()?;
        let mut ids: Vec<u32> = match measurements {
            None => (0..st.index.len() as u32).collect(),
            Some(names) => {
                names.iter().filter_map(|m| st.index.measurement(m)).flat_map(|m| m.series.iter().copied()).collect()
            }
        };
        if let Some(live) = live {
            ids.retain(|id| live.contains(id));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(f(ids.into_iter().filter_map(|id| st.index.series(id)).collect()))
    }

    /// Whether every series of `measurement` matching `matchers` (the
    /// index's, including series whose points all expired or were
    /// deleted) has a point in `start..=end`, as [`Db::series_keys`] counts.
    pub(crate) fn has_every_series_in(
        &self,
        measurement: &str,
        matchers: &[TagMatcher],
        start: i64,
        end: i64,
    ) -> Result<bool> {
        let expiry = self.expiry()?;
        let st = self.read()?;
        let live = st.series_in_range(start, end, &expiry)?;
        Ok(st.index.select(measurement, matchers).iter().all(|id| live.contains(id)))
    }

    /// What each time partition holds, in the file and in memory, by start time.
    pub fn partitions(&self) -> Result<Vec<PartitionInfo>> {
        Ok(self.read()?.partition_infos())
    }
}

impl PartitionInfo {
    /// A partition starting at `start` (of `ns` nanoseconds) that only the
    /// cold tier holds.
    pub(crate) fn tiered_only(start: i64, ns: i64) -> Self {
        let end = start.saturating_add(ns - 1);
        Self { start, end, blocks: 0, chunks: 0, file_points: 0, file_bytes: 0, memory_points: 0 }
    }
}

/// One time partition, as the `chronicle.partitions` table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionInfo {
    /// First nanosecond of the partition.
    pub start: i64,
    /// Last nanosecond of the partition.
    pub end: i64,
    /// Blocks of the file holding it.
    pub blocks: usize,
    /// Chunks in those blocks.
    pub chunks: usize,
    /// Points (values of any field) in those chunks.
    pub file_points: u64,
    /// Bytes of those blocks.
    pub file_bytes: u64,
    /// Points of it still in memory.
    pub memory_points: u64,
}

impl Inner {
    fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        let st = self.state.read().map_err(lock_panicked)?;
        if st.closed {
            return Err(Error::Closed);
        }
        Ok(st)
    }

    fn write_lock(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(lock_panicked)
    }

    /// Fails if changes are refused: the database is closed, or poisoned by a
    /// failure of the file or of the WAL (a background sync may have failed
    /// since the last call).
    fn writable(&self, st: &mut State) -> Result<()> {
        st.writable()?;
        self.wal.check().map_err(|e| st.wal_failed(e))
    }

    /// See [`Db::write_rows`].
    fn write_batch<R: WriteRow>(&self, rows: &[R]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let record = wal_record::encode(rows)?;
        // Resolved against the index under the read lock, so concurrent
        // writers do this in parallel; the write lock below only logs the
        // record and applies what is already resolved.
        let prepared = wal_record::prepare(&record.bytes, &self.read()?.index)
            .map_err(|e| Error::Internal(format!("a record the write path encoded does not decode: {e}")))?;
        let mut st = self.write_lock()?;
        self.writable(&mut st)?;
        // Checked and claimed under the lock that orders WAL writes, so a
        // batch sees the names of every batch written before it, applied or not.
        st.names.check(&record.names)?;
        let lsn = self.wal.write(&record.bytes).map_err(|e| st.wal_failed(e))?;
        st.names.claim(&record.names);
        st.pending.push_back((lsn, prepared));
        if self.config.sync == SyncPolicy::Always {
            drop(st);
            // Outside the lock, so concurrent writers share one fsync.
            let committed = self.wal.commit(lsn);
            st = self.write_lock()?;
            committed.map_err(|e| st.wal_failed(e))?;
        }
        // Committed: whichever writer gets here first applies every record
        // up to its own, so the head follows LSN order as replay does.
        st.apply_pending(lsn);
        // The batch is acknowledged from here on: a failing flush poisons the
        // database for the next call but does not make this write fail.
        if self.writable(&mut st).is_ok()
            && let Err(e) = self.request_due_flush(&mut st)
        {
            tracing::warn!(error = %e, "checking for a due flush after a write failed");
        }
        drop(st);
        // Segment rotation's fsyncs run on the flush thread, not here.
        if self.wal.wants_maintenance().unwrap_or(false) {
            self.bell.ring_wal();
        }
        Ok(())
    }

    /// Backpressure: a WAL past its limit by a whole segment means the
    /// flush thread is behind the writers (a slow disk, a busy machine), so
    /// a writer flushes too before its write returns, and the log (and what a
    /// restart replays) stays bounded. The batch is acknowledged already: a
    /// failing flush poisons the database for the next call, as a
    /// background one does.
    fn hold_back_when_behind(&self) {
        let limit = self.config.max_wal_bytes.saturating_add(self.config.wal_segment_bytes());
        if self.wal.size().is_ok_and(|bytes| bytes > limit)
            && let Err(e) = self.flush(Which::All)
        {
            tracing::warn!(error = %e, "a flush for a WAL over its limit failed");
        }
    }

    /// Hands the partitions now due to the flush thread.
    fn request_due_flush(&self, st: &mut State) -> Result<()> {
        let c = &self.config;
        let due = st.due(c.late_ns(), c.memory_budget, self.wal.size()?, c.max_wal_bytes);
        if !due.is_empty() {
            st.due.extend(due);
            self.bell.ring_flush();
        }
        Ok(())
    }

    /// See [`Db::close`]. Marks the state closed under the flush mutex, so
    /// no background flush starts after it.
    fn close(&self) -> Result<()> {
        if self.write_lock()?.closed {
            return Ok(());
        }
        let flushed = self.flush(Which::All);
        let writer = self.writer.lock().map_err(lock_panicked)?;
        let mut st = self.write_lock()?;
        if st.closed {
            return flushed;
        }
        st.closed = true;
        drop(st);
        drop(writer);
        let synced = match self.wal.sync() {
            Ok(()) | Err(wal::Error::Closed) => flushed,
            Err(e) => flushed.and(Err(e.into())),
        };
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
        synced
    }

    /// Closes when the last handle goes, unless closed or poisoned already;
    /// errors were or will be reported to the calls that hit them.
    fn close_quietly(&self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::ChunkEncoder;
    use std::time::Duration;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn db_and_scans_cross_threads() {
        send_sync::<Db>();
        fn send<T: Send>() {}
        send::<Scan>();
    }

    #[test]
    fn the_wal_size_limit_forces_flushes_and_bounds_the_log() {
        let dir = std::env::temp_dir().join(format!("chronicle-db-wal-limit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("db");
        // One long partition, so only the WAL limit can trigger a flush.
        let config = Config::default()
            .with_partition_duration(Duration::from_secs(86_400))
            .with_max_wal_bytes(256 << 10)
            .with_sync(wal::SyncPolicy::None);
        let db = Db::open(&path, config.clone()).expect("opens");
        for i in 0..400i64 {
            let points: Vec<Point> =
                (0..50).map(|j| Point::new("m", ((i * 50 + j) as f64).sqrt(), i * 50 + j).with_tag("k", "v")).collect();
            db.write(&points).expect("writes");
            let wal_bytes = db.inner.wal.size().expect("size");
            assert!(wal_bytes <= (256 << 10) + (64 << 10) + 4096, "the log stays near its limit: {wal_bytes}");
        }
        // 20,000 square roots take about 7 bytes each in Gorilla chunks.
        assert!(std::fs::metadata(&path).expect("exists").len() > 50_000, "flushes happened before close");
        drop(db);
        let db = Db::open(&path, config).expect("reopens");
        let rows: usize = db.scan(&ScanRequest::new("m")).expect("scans").map(|b| b.expect("reads").num_rows()).sum();
        assert_eq!(rows, 20_000);
        db.close().expect("closes");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_with_a_version_1_index_opens_and_gets_series_blocks_from_then_on() {
        use crate::storage::file::block::{self, BlockType};
        use crate::storage::file::footer::Footer;
        use crate::storage::file::index_block::BlockRef;
        use crate::storage::file::index_v1;
        use crate::storage::file::partition_block::PartitionBlockBuilder;
        use crate::storage::series_index::SeriesIndex;

        let dir = std::env::temp_dir().join(format!("chronicle-db-index-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates");
        let path = dir.join("db");
        // A file as version 1 wrote it: a block of series cpu,host=a, a
        // version 1 index naming it, a footer.
        let mut bytes = block::file_header().to_vec();
        let at = bytes.len() as u64;
        let mut builder = PartitionBlockBuilder::new(0);
        builder.add_chunk(&mut ChunkEncoder::default(), 0, &[0], &[10, 20], &[&[1.5, 2.5]]).expect("adds");
        let len = builder.finish(&mut bytes, at).expect("finishes").len;
        let mut index = SeriesIndex::default();
        index.insert(SeriesKey::new("cpu", vec![("host".into(), "a".into())]));
        let value = index.field_id("value");
        index.add_field("cpu", value);
        let start = block::begin(&mut bytes, BlockType::Index);
        index_v1::encode(0, 3_600_000_000_000, &index, &[BlockRef { partition: 0, offset: at, len }], &mut bytes);
        block::finish(&mut bytes, start).expect("fits");
        let footer = Footer { index_offset: start as u64, index_len: (bytes.len() - start) as u64 };
        bytes.extend_from_slice(&footer.encode());
        std::fs::write(&path, &bytes).expect("writes");

        let config = Config::default().with_sync(wal::SyncPolicy::None);
        let db = Db::open(&path, config.clone()).expect("opens a version 1 file");
        assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
        assert_eq!(db.fields("cpu").expect("lists"), ["value"]);
        db.write(&[Point::new("cpu", 3.5, 30).with_tag("host", "b")]).expect("writes");
        db.close().expect("closes");
        drop(db);
        let db = Db::open(&path, config).expect("reopens");
        assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
        assert_eq!(db.tag_values("host", Some("cpu"), None).expect("lists"), ["a", "b"]);
        let rows: usize = db.scan(&ScanRequest::new("cpu")).expect("scans").map(|b| b.expect("reads").num_rows()).sum();
        assert_eq!(rows, 3, "the old block and the new one");
        let listed: Vec<u64> = db.read().expect("reads").series_blocks.iter().map(|b| b.series).collect();
        assert_eq!(listed, [2], "the first flush after the upgrade wrote every series into a series block");
        db.close().expect("closes");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flushes_write_only_new_series_and_list_about_log2_series_blocks() {
        let dir = std::env::temp_dir().join(format!("chronicle-db-series-blocks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("db");
        let config = Config::default().with_sync(wal::SyncPolicy::None);
        let db = Db::open(&path, config.clone()).expect("opens");
        let listed =
            |db: &Db| -> Vec<u64> { db.read().expect("reads").series_blocks.iter().map(|b| b.series).collect() };
        for i in 0..40u64 {
            db.write(&[Point::new("m", 1.0, i as i64).with_tag("k", format!("v{i}"))]).expect("writes");
            db.flush().expect("flushes");
            // One series a flush: the blocks are the binary digits of the count.
            let digits: Vec<u64> = (0..64).rev().map(|b| 1u64 << b).filter(|b| (i + 1) & b != 0).collect();
            assert_eq!(listed(&db), digits, "after {} series", i + 1);
        }
        let file_before = std::fs::metadata(&path).expect("exists").len();
        // A point of a series the file already has.
        db.write(&[Point::new("m", 2.0, 100).with_tag("k", "v0")]).expect("writes");
        db.flush().expect("flushes");
        assert_eq!(listed(&db), [32, 8], "a flush without new series writes no series block");
        let bytes = std::fs::read(&path).expect("reads");
        let at = file_before as usize;
        assert_eq!(bytes[at], 1, "the flush appended its partition block first");
        let len = u32::from_le_bytes(bytes[at + 1..at + 5].try_into().expect("4 bytes")) as usize;
        let next = at + crate::storage::file::block::BLOCK_HEADER_LEN + len;
        assert_eq!(bytes[next], 2, "then an index block (type 2), no series block");
        db.close().expect("closes");
        drop(db);
        let db = Db::open(&path, config).expect("reopens");
        assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
        assert_eq!(db.series_count().expect("counts"), 40);
        let expected: std::collections::BTreeSet<String> = (0..40).map(|i| format!("v{i}")).collect();
        let values: std::collections::BTreeSet<String> =
            db.tag_values("k", Some("m"), None).expect("lists").into_iter().collect();
        assert_eq!(values, expected);
        db.compact().expect("compacts");
        assert_eq!(listed(&db), [40], "compaction writes one series block");
        db.close().expect("closes");
        drop(db);
        let db = Db::open(&path, Config::default()).expect("reopens after compaction");
        assert_eq!(db.series_count().expect("counts"), 40);
        db.close().expect("closes");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
