//! The embedded database: [`Db::open`], writes, flushes, scans, listings.
//!
//! ```text
//! write -> validate + encode (wal_record) -> WAL write, queue as pending   (under the state lock)
//!       -> wait for the sync policy (outside it, so writers share an fsync)
//!       -> apply every pending record up to ours to the head, in LSN order (under the lock again)
//! flush -> partition blocks + index + footer, fsync -> WAL checkpoint   (flush)
//! scan  -> plan under the read lock (read) -> decode and merge without it
//! ```
//! A record reaches the head only once its commit succeeded, so a batch whose
//! write failed is never read nor flushed. Any failure of the WAL (a write,
//! an fsync, a rotation, a background sync) or of the file poisons the
//! database: writes, flush and compact fail with [`Error::Poisoned`] until it
//! is reopened; reads go on, and close does not flush.
//! On disk, a database at `PATH` is the file `PATH`, the WAL directory
//! `PATH.wal/`, and the lock file `PATH.lock` that keeps a second process out.

mod compact;
mod config;
mod encodings;
mod flush;
mod read;
mod state;
pub(crate) mod wal_record;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use config::Config;
pub use encodings::{EncodingCount, EncodingUsage};

use crate::encoding::ChunkEncoder;
use crate::error::{Error, Result};
use crate::fs::FileLock;
use crate::model::{Point, Row, SeriesKey, WriteRow};
use crate::storage::file::store::{FileDamage, FileStore};
use crate::storage::head::Head;
use crate::storage::scan::{Scan, ScanOptions, ScanRequest};
use crate::tier::Tier;
use crate::wal::{self, SyncPolicy, Wal, WalOptions};
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
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    config: Config,
    wal: Wal,
    state: RwLock<State>,
    report: RecoveryReport,
    /// Held from open to close.
    lock: Mutex<Option<Box<dyn FileLock>>>,
    /// The cold tier and its manifest, `PATH.tier`.
    tier: Tier,
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
        let min_next_lsn = opened.snapshot.durable_lsn + 1;
        let options = WalOptions { sync: config.sync, segment_bytes: config.wal_segment_bytes(), min_next_lsn };
        let (wal, replay) = Wal::open(Arc::clone(&fs), &sibling(&path, ".wal"), options)?;
        let snapshot = opened.snapshot;
        let mut blocks = Blocks::new();
        for block in opened.blocks {
            blocks.entry(block.partition).or_default().push(Arc::new(block));
        }
        let mut state = State {
            index: snapshot.series,
            head: Head::default(),
            store: opened.store,
            blocks,
            partition_ns: snapshot.partition_ns,
            durable_lsn: snapshot.durable_lsn,
            last_lsn: snapshot.durable_lsn,
            pending: Default::default(),
            names: Default::default(),
            newest_time: None,
            horizon: i64::MIN,
            poisoned: None,
            closed: false,
            encoder: ChunkEncoder::default(),
            flushes: 0,
        };
        let mut report = RecoveryReport { wal: replay.report, file_damage: opened.damage, ..Default::default() };
        for (lsn, payload) in replay.records.iter().filter(|(lsn, _)| *lsn > snapshot.durable_lsn) {
            match state.apply(*lsn, payload) {
                Ok(()) => report.replayed += 1,
                Err(e) => report.unreadable_records.push((*lsn, e.to_string())),
            }
        }
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
            state.rewrite_index()?;
        }
        let tier = Tier::open(config.tier.as_ref(), Arc::clone(&fs), &sibling(&path, ".tier"))?;
        let inner = Inner { path, config, wal, state: RwLock::new(state), report, lock: Mutex::new(Some(lock)), tier };
        let db = Db { inner: Arc::new(inner) };
        db.flush_due()?;
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
        let st = self.inner.state.read().map_err(lock_panicked)?;
        if st.closed {
            return Err(Error::Closed);
        }
        Ok(st)
    }

    fn write_lock(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.inner.state.write().map_err(lock_panicked)
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

    /// Fails if changes are refused: the database is closed, or poisoned by a
    /// failure of the file or of the WAL (a background sync may have failed
    /// since the last call).
    fn writable(&self, st: &mut State) -> Result<()> {
        st.writable()?;
        self.inner.wal.check().map_err(|e| st.wal_failed(e))
    }

    /// Writes rows given as views borrowing their names (the server's
    /// remote-write path), with the guarantees of [`Db::write_rows`].
    #[cfg(feature = "server")]
    pub(crate) fn write_views<R: WriteRow>(&self, rows: &[R]) -> Result<()> {
        self.write_batch(rows)
    }

    fn write_batch<R: WriteRow>(&self, rows: &[R]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let record = wal_record::encode(rows)?;
        let inner = &self.inner;
        let mut st = self.write_lock()?;
        self.writable(&mut st)?;
        // Checked and claimed under the lock that orders WAL writes, so a
        // batch sees the names of every batch written before it, applied or not.
        st.names.check(&record.names)?;
        let lsn = inner.wal.write(&record.bytes).map_err(|e| st.wal_failed(e))?;
        st.names.claim(&record.names);
        st.pending.push_back((lsn, record.bytes));
        if inner.config.sync == SyncPolicy::Always {
            drop(st);
            // Outside the lock, so concurrent writers share one fsync.
            let committed = inner.wal.commit(lsn);
            st = self.write_lock()?;
            committed.map_err(|e| st.wal_failed(e))?;
        }
        // Committed: whichever writer gets here first applies every record
        // up to its own, so the head follows LSN order as replay does.
        st.apply_pending(lsn)?;
        // The batch is acknowledged from here on: a failing flush poisons the
        // database for the next call but does not make this write fail.
        if self.writable(&mut st).is_ok()
            && let Err(e) = self.flush_due_locked(&mut st)
        {
            tracing::warn!(error = %e, "flush after a write failed");
        }
        Ok(())
    }

    fn flush_due(&self) -> Result<()> {
        let mut st = self.write_lock()?;
        self.flush_due_locked(&mut st)
    }

    fn flush_due_locked(&self, st: &mut State) -> Result<()> {
        let c = &self.inner.config;
        let due = st.due(c.late_ns(), c.memory_budget, self.inner.wal.size()?, c.max_wal_bytes);
        if due.is_empty() { Ok(()) } else { st.flush(&due, &self.inner.wal) }
    }

    /// Flushes everything in memory to the file.
    pub fn flush(&self) -> Result<()> {
        let mut st = self.write_lock()?;
        self.writable(&mut st)?;
        st.flush_all(&self.inner.wal)
    }

    /// Rewrites the file with one block per partition, dropping overwritten
    /// points and superseded index blocks; atomic (see `FileStore::replace_with`).
    pub fn compact(&self) -> Result<()> {
        let mut st = self.write_lock()?;
        self.writable(&mut st)?;
        st.compact()
    }

    /// Flushes and closes; later calls on any clone fail with [`Error::Closed`],
    /// and the database may be opened again. Dropping the last clone closes
    /// too, ignoring errors. A poisoned database is closed without a flush
    /// (what it holds in memory is in the WAL) and the poisoning is returned.
    pub fn close(&self) -> Result<()> {
        let mut st = self.write_lock()?;
        if st.closed {
            return Ok(());
        }
        let flushed = match self.writable(&mut st) {
            Ok(()) => st.flush_all(&self.inner.wal),
            Err(e) => Err(e),
        };
        st.closed = true;
        drop(st);
        let synced = match self.inner.wal.sync() {
            Ok(()) | Err(wal::Error::Closed) => flushed,
            Err(e) => flushed.and(Err(e.into())),
        };
        if let Ok(mut lock) = self.inner.lock.lock() {
            lock.take();
        }
        synced
    }

    /// Starts a scan; see [`ScanRequest`] and [`Scan`].
    pub fn scan(&self, req: &ScanRequest) -> Result<Scan> {
        self.scan_with(req, &ScanOptions::default())
    }

    /// Starts a scan with what only the SQL planner asks of it.
    pub(crate) fn scan_with(&self, req: &ScanRequest, options: &ScanOptions) -> Result<Scan> {
        self.read()?.plan_scan(req, options)
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
    /// series with points in `start..=end`, sorted.
    pub fn tag_values(&self, key: &str, measurement: Option<&str>, range: Option<(i64, i64)>) -> Result<Vec<String>> {
        self.read()?.tag_values(key, measurement, range)
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
        Ok(st.index.keys().iter().enumerate().map(|(id, k)| (id as u32, k.clone())).collect())
    }

    /// The series with at least one point in `start..=end` (nanoseconds,
    /// inclusive), or every series when `range` is `None`; from the index
    /// and the partition directory (chunks that straddle the range are
    /// checked).
    pub fn series_keys(&self, range: Option<(i64, i64)>) -> Result<Vec<SeriesKey>> {
        let st = self.read()?;
        let keys = st.index.keys();
        Ok(match range {
            None => keys.to_vec(),
            Some((start, end)) => {
                let mut live: Vec<u32> = st.series_in_range(start, end)?.into_iter().collect();
                live.sort_unstable();
                live.into_iter().filter_map(|id| keys.get(id as usize).cloned()).collect()
            }
        })
    }

    /// What each time partition holds, in the file and in memory, by start time.
    pub fn partitions(&self) -> Result<Vec<PartitionInfo>> {
        Ok(self.read()?.partition_infos())
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

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort: errors were or will be reported to the calls that hit them.
        if let Ok(mut st) = self.state.write()
            && !st.closed
            && st.poisoned.is_none()
            && self.wal.check().is_ok()
        {
            let _ = st.flush_all(&self.wal);
            st.closed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
