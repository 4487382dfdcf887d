//! The log writer: appends with group commit, rotates segments, checkpoints.
//!
//! Protocol (`SyncPolicy::Always`): a writer appends its framed record under
//! the lock, then waits until the synced LSN covers it. The first waiter finds
//! no fsync in flight, becomes the leader, and fsyncs everything written so far
//! outside the lock while later writers keep appending; when it finishes, every
//! writer it covered returns. So concurrent writers share one fsync.
//!
//! Invariants: an LSN is acknowledged only after a successful fsync that covers
//! it (`Always`), or after its write (`Interval`, `None`). A failed write,
//! fsync or segment rotation poisons the log: what reached the disk is
//! unknown, so every later call fails with [`Error::Poisoned`] until the log
//! is reopened and replayed.
//!
//! What a failure leaves behind: a failed write is cut off the segment (its
//! record was never acknowledged). Under `Always`, a failed fsync cuts the
//! segment back to the end of the last record a good fsync covered: no record
//! after it was acknowledged, so none of them may come back on replay. Under
//! `Interval` and `None` the records after it were acknowledged and stay;
//! replay keeps whatever of them reached the disk. Cutting is best effort: if
//! it fails too, replay may find records whose writers got an error, which is
//! what an error means after a failed fsync (the outcome is unknown).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::error::{Error, Result};
use super::recovery::{self, Replay, SegmentFile};
use super::segment;
use crate::fs::{AppendFile, Fs};

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before acknowledging each append (shared by concurrent writers).
    Always,
    /// fsync in the background at this interval: a crash loses at most that long.
    Interval(Duration),
    /// Never fsync; the operating system writes back when it likes.
    None,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Interval(Duration::from_secs(1))
    }
}

/// Tuning of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// When appends are made durable.
    pub sync: SyncPolicy,
    /// A segment is closed and a new one started once it holds this many bytes.
    pub segment_bytes: u64,
    /// The smallest LSN the next append may get. The owner of the log passes
    /// one more than the last LSN it holds durably elsewhere, so LSNs keep
    /// growing even if every segment was lost.
    pub min_next_lsn: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self { sync: SyncPolicy::default(), segment_bytes: 64 << 20, min_next_lsn: 1 }
    }
}

#[derive(Debug)]
struct State {
    file: Box<dyn AppendFile>,
    /// A second handle on the active segment, fsynced outside the lock.
    sync_handle: Arc<dyn AppendFile>,
    segment_len: u64,
    /// Bytes of the active segment covered by the last good fsync.
    synced_len: u64,
    /// Closed and active segments, oldest first (the active one's `bytes` is stale).
    segments: Vec<SegmentFile>,
    /// Bytes of every closed segment plus the active one.
    total_bytes: u64,
    next_lsn: u64,
    written_lsn: u64,
    synced_lsn: u64,
    syncing: bool,
    poisoned: Option<String>,
    closed: bool,
    frame: Vec<u8>,
}

#[derive(Debug)]
struct Shared {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Signalled when the synced LSN moves, the log is poisoned, or it closes.
    changed: Condvar,
}

/// A write-ahead log in a directory of segment files.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir`, replays it, handing each
    /// intact record to `visit` as it is read (see [`recovery::replay`]), and
    /// starts a new segment for appends. Returns the log and what replay found.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: WalOptions,
        visit: impl FnMut(u64, &[u8]),
    ) -> Result<(Wal, Replay)> {
        fs.create_dir_all(dir).map_err(Error::io("create directory", dir))?;
        let replay = recovery::replay(fs.as_ref(), dir, visit)?;
        let last = replay.last_lsn;
        let next = replay.segments.last().map_or(1, |s| s.first_lsn).max(last + 1).max(options.min_next_lsn);
        let last = last.max(next - 1);
        let mut segments = replay.segments.clone();
        // A segment already named `next` holds no accepted record: empty it
        // and start it afresh (emptied, not removed, so a crash here never
        // leaves the log without a segment naming where LSNs stand).
        if let Some(pos) = segments.iter().position(|s| s.first_lsn == next) {
            let stale = segments.remove(pos);
            fs.truncate(&stale.path, 0).map_err(Error::io("truncate", &stale.path))?;
        }
        let (file, sync_handle, path) = new_segment(fs.as_ref(), dir, next)?;
        let header_len = segment::HEADER_LEN as u64;
        let total_bytes = segments.iter().map(|s| s.bytes).sum::<u64>() + header_len;
        segments.push(SegmentFile { first_lsn: next, path, bytes: header_len });
        let state = State {
            file,
            sync_handle,
            segment_len: segment::HEADER_LEN as u64,
            synced_len: segment::HEADER_LEN as u64,
            segments,
            total_bytes,
            next_lsn: next,
            written_lsn: last,
            synced_lsn: last,
            syncing: false,
            poisoned: None,
            closed: false,
            frame: Vec::new(),
        };
        let shared =
            Arc::new(Shared { fs, dir: dir.to_path_buf(), options, state: Mutex::new(state), changed: Condvar::new() });
        let flusher = match options.sync {
            SyncPolicy::Interval(every) => {
                let shared = Arc::clone(&shared);
                Some(std::thread::spawn(move || shared.flush_every(every)))
            }
            _ => None,
        };
        Ok((Wal { shared, flusher }, replay))
    }

    /// Appends one record and returns its LSN once the sync policy is satisfied.
    #[cfg(any(test, feature = "testing"))]
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        let lsn = self.write(payload)?;
        self.commit(lsn)?;
        Ok(lsn)
    }

    /// Writes one record without waiting for the sync policy; returns its LSN.
    /// Not acknowledged until [`Wal::commit`] returns for it, so a caller can
    /// apply records in LSN order under its own lock and wait outside it.
    pub fn write(&self, payload: &[u8]) -> Result<u64> {
        if payload.len() > segment::MAX_RECORD_LEN {
            return Err(Error::RecordTooLarge { len: payload.len(), limit: segment::MAX_RECORD_LEN });
        }
        let shared = &self.shared;
        let mut st = shared.lock()?;
        if st.segment_len >= shared.options.segment_bytes {
            st = shared.rotate(st)?;
        }
        let lsn = st.next_lsn;
        if lsn > segment::MAX_LSN {
            return Err(Error::LsnExhausted(segment::MAX_LSN));
        }
        let mut frame = std::mem::take(&mut st.frame);
        frame.clear();
        segment::frame(lsn, payload, &mut frame);
        if let Err(e) = st.file.write_all(&frame) {
            let cut_to = st.segment_len;
            return Err(shared.poison(st, "append", e, Some(cut_to)));
        }
        st.segment_len += frame.len() as u64;
        st.total_bytes = st.total_bytes.saturating_add(frame.len() as u64);
        st.frame = frame;
        st.next_lsn += 1;
        st.written_lsn = lsn;
        Ok(lsn)
    }

    /// Returns once record `lsn` satisfies the sync policy: under
    /// [`SyncPolicy::Always`], once an fsync covers it (shared with concurrent
    /// writers); otherwise at once.
    pub fn commit(&self, lsn: u64) -> Result<()> {
        if self.shared.options.sync != SyncPolicy::Always {
            return Ok(());
        }
        let st = self.shared.lock()?;
        self.shared.sync_to(st, lsn).map(drop)
    }

    /// Fails with [`Error::Poisoned`] once a write, fsync or rotation has
    /// failed (a background sync included), or with [`Error::Closed`].
    pub fn check(&self) -> Result<()> {
        self.shared.lock().map(drop)
    }

    /// Bytes in every segment on disk.
    pub fn size(&self) -> Result<u64> {
        Ok(self.shared.lock()?.total_bytes)
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> Result<()> {
        let st = self.shared.lock()?;
        let target = st.written_lsn;
        self.shared.sync_to(st, target).map(drop)
    }

    /// Removes the closed segments whose every record has an LSN <= `durable_lsn`
    /// (the data they hold is durable elsewhere). Returns how many were removed.
    pub fn checkpoint(&self, durable_lsn: u64) -> Result<usize> {
        let shared = &self.shared;
        let mut st = shared.lock()?;
        // Everything written is durable elsewhere: start a fresh segment so
        // the active one can go too.
        if durable_lsn >= st.written_lsn && st.segment_len > segment::HEADER_LEN as u64 {
            st = shared.rotate(st)?;
        }
        let mut removed = 0;
        // Segment i holds LSNs [first_i, first_{i+1}); the active (last) one stays.
        while st.segments.len() > 1 && st.segments[1].first_lsn <= durable_lsn + 1 {
            let old = st.segments.remove(0);
            shared.fs.remove(&old.path).map_err(Error::io("remove", &old.path))?;
            st.total_bytes = st.total_bytes.saturating_sub(old.bytes);
            removed += 1;
        }
        if removed > 0 {
            shared.fs.sync_dir(&shared.dir).map_err(Error::io("sync directory", &shared.dir))?;
        }
        Ok(removed)
    }

    /// Syncs everything and stops the background flusher.
    #[cfg(test)]
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let synced = self.sync();
        if let Ok(mut st) = self.shared.state.lock() {
            st.closed = true;
        }
        self.shared.changed.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        match synced {
            Err(Error::Closed) => Ok(()),
            other => other,
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Best effort: a failure here was or will be reported by the calls that hit it.
        let _ = self.shutdown();
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        let st = self.state.lock().map_err(writer_panicked)?;
        if let Some(why) = &st.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        if st.closed {
            return Err(Error::Closed);
        }
        Ok(st)
    }

    /// Marks the log poisoned by a failed `op`, first cutting the active
    /// segment back to `cut_to` bytes if given (see the module docs), and
    /// wakes every waiter.
    fn poison(&self, mut st: MutexGuard<'_, State>, op: &'static str, e: std::io::Error, cut_to: Option<u64>) -> Error {
        let mut why = format!("{op} failed: {e}");
        if let (Some(len), Some(active)) = (cut_to, st.segments.last()) {
            match self.fs.truncate(&active.path, len) {
                Ok(()) => st.segment_len = len,
                Err(e) => {
                    why.push_str(&format!("; cutting {} back to {len} bytes failed too: {e}", active.path.display()))
                }
            }
        }
        st.poisoned = Some(why.clone());
        drop(st);
        self.changed.notify_all();
        Error::Poisoned(why)
    }

    /// Waits until `lsn` is durable, leading the fsync if none is in flight;
    /// returns with the lock held again.
    fn sync_to<'a>(&'a self, mut st: MutexGuard<'a, State>, lsn: u64) -> Result<MutexGuard<'a, State>> {
        loop {
            // Durable before a later failure: acknowledged all the same.
            if st.synced_lsn >= lsn {
                return Ok(st);
            }
            if let Some(why) = &st.poisoned {
                return Err(Error::Poisoned(why.clone()));
            }
            if st.syncing {
                st = self.changed.wait(st).map_err(writer_panicked)?;
                continue;
            }
            st.syncing = true;
            // No rotation runs while this fsync is in flight (a rotation first
            // waits for it), so `target_len` is a length of this segment.
            let (target, target_len, handle) = (st.written_lsn, st.segment_len, Arc::clone(&st.sync_handle));
            drop(st);
            let synced = handle.sync();
            st = self.state.lock().map_err(writer_panicked)?;
            st.syncing = false;
            if let Err(e) = synced {
                let cut_to = (self.options.sync == SyncPolicy::Always).then_some(st.synced_len);
                return Err(self.poison(st, "fsync", e, cut_to));
            }
            st.synced_lsn = st.synced_lsn.max(target);
            st.synced_len = st.synced_len.max(target_len);
            self.changed.notify_all();
        }
    }

    /// Closes the active segment (durably) and opens the next.
    fn rotate<'a>(&'a self, mut st: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        // Everything in the old segment must be durable before it is left
        // behind; writers may append while the fsync runs, so repeat until the
        // lock is held with nothing unsynced.
        while st.synced_lsn < st.written_lsn {
            let target = st.written_lsn;
            st = self.sync_to(st, target)?;
        }
        let next = st.next_lsn;
        let (file, sync_handle, path) = match new_segment(self.fs.as_ref(), &self.dir, next) {
            Ok(opened) => opened,
            Err(Error::Io { source, .. }) => return Err(self.poison(st, "segment rotation", source, None)),
            Err(other) => return Err(other),
        };
        let closed_len = st.segment_len;
        if let Some(active) = st.segments.last_mut() {
            active.bytes = closed_len;
        }
        st.file = file;
        st.sync_handle = sync_handle;
        st.segment_len = segment::HEADER_LEN as u64;
        st.synced_len = st.segment_len;
        st.total_bytes += st.segment_len;
        let bytes = st.segment_len;
        st.segments.push(SegmentFile { first_lsn: next, path, bytes });
        Ok(st)
    }

    /// The background flusher of `SyncPolicy::Interval`.
    fn flush_every(&self, every: Duration) {
        let Ok(mut st) = self.state.lock() else { return };
        loop {
            let Ok((guard, _)) = self.changed.wait_timeout(st, every) else { return };
            st = guard;
            if st.closed || st.poisoned.is_some() {
                return;
            }
            if st.written_lsn > st.synced_lsn && !st.syncing {
                let target = st.written_lsn;
                match self.sync_to(st, target) {
                    Ok(guard) => st = guard,
                    Err(_) => return,
                }
            }
        }
    }
}

/// The error for a lock poisoned by a writer that panicked while holding it.
fn writer_panicked<T>(_: T) -> Error {
    Error::Poisoned("a WAL writer panicked".into())
}

/// A freshly created segment: the append handle, the fsync handle, its path.
type NewSegment = (Box<dyn AppendFile>, Arc<dyn AppendFile>, PathBuf);

/// Creates segment `first_lsn` with its header, durably (file and directory).
fn new_segment(fs: &dyn Fs, dir: &Path, first_lsn: u64) -> Result<NewSegment> {
    let path = segment::path(dir, first_lsn);
    let mut file = fs.open_append(&path).map_err(Error::io("create segment", &path))?;
    file.write_all(&segment::header()).map_err(Error::io("write segment header", &path))?;
    file.sync().map_err(Error::io("fsync", &path))?;
    fs.sync_dir(dir).map_err(Error::io("sync directory", dir))?;
    let handle: Arc<dyn AppendFile> = Arc::from(file.try_clone().map_err(Error::io("clone handle", &path))?);
    Ok((file, handle, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chronicle-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// What replay found, with the records it handed over.
    struct Replayed {
        records: Vec<(u64, Vec<u8>)>,
        report: crate::wal::RecoveryReport,
    }

    fn open(dir: &Path, options: WalOptions) -> (Wal, Replayed) {
        let mut records = Vec::new();
        let (wal, replay) =
            Wal::open(Arc::new(OsFs), dir, options, |lsn, p| records.push((lsn, p.to_vec()))).expect("opens");
        (wal, Replayed { records, report: replay.report })
    }

    #[test]
    fn appends_replay_in_order_across_reopens_and_rotation() {
        let dir = temp_dir("order");
        let options = WalOptions { sync: SyncPolicy::Always, segment_bytes: 64, ..WalOptions::default() };
        let (wal, replay) = open(&dir, options);
        assert!(replay.records.is_empty());
        for i in 0..20u32 {
            assert_eq!(wal.append(&i.to_le_bytes()).expect("appends"), u64::from(i) + 1);
        }
        wal.close().expect("closes");
        let (wal, replay) = open(&dir, options);
        assert_eq!(replay.records.len(), 20);
        assert!(replay.report.segments > 2, "small segments rotate: {}", replay.report.segments);
        assert!(replay.records.iter().enumerate().all(|(i, (lsn, p))| *lsn == i as u64 + 1 && p[0] == i as u8));
        assert_eq!(wal.append(b"next").expect("appends"), 21);
        // Everything up to 15 is durable elsewhere: the segments wholly before it go.
        assert!(wal.checkpoint(15).expect("checkpoints") > 0);
        drop(wal);
        let (_, replay) = open(&dir, options);
        assert!(replay.records.first().is_some_and(|r| r.0 <= 16), "LSN 16 onwards is kept");
        assert_eq!(replay.records.last().map(|r| r.0), Some(21));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_and_reported() {
        let dir = temp_dir("torn");
        let options = WalOptions { sync: SyncPolicy::None, ..WalOptions::default() };
        let (wal, _) = open(&dir, options);
        for i in 0..5u8 {
            wal.append(&[i; 100]).expect("appends");
        }
        wal.close().expect("closes");
        let path = segment::path(&dir, 1);
        let len = std::fs::metadata(&path).expect("exists").len();
        OsFs.truncate(&path, len - 30).expect("truncates");
        let (wal, replay) = open(&dir, options);
        assert_eq!(replay.records.len(), 4);
        let damage = &replay.report.damage[0];
        assert_eq!((damage.path.clone(), damage.reason.as_str()), (path.clone(), "torn write"));
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), damage.offset, "the torn tail is cut");
        assert_eq!(wal.append(b"after").expect("appends"), 5, "LSNs continue after the last intact record");
        drop(wal);
        assert_eq!(open(&dir, options).1.records.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_writers_lose_nothing_and_get_distinct_lsns() {
        let dir = temp_dir("group");
        let options = WalOptions { sync: SyncPolicy::Always, ..WalOptions::default() };
        let (wal, _) = open(&dir, options);
        let wal = Arc::new(wal);
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let wal = Arc::clone(&wal);
                std::thread::spawn(move || (0..50).map(|_| wal.append(&[t; 16]).expect("appends")).collect::<Vec<_>>())
            })
            .collect();
        let mut lsns: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("joins")).collect();
        lsns.sort_unstable();
        assert_eq!(lsns, (1..=400).collect::<Vec<_>>());
        drop(wal);
        assert_eq!(open(&dir, options).1.records.len(), 400);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lsns_never_fall_below_the_owners_floor() {
        let dir = temp_dir("floor");
        let options = WalOptions { sync: SyncPolicy::Always, min_next_lsn: 100, ..WalOptions::default() };
        let (wal, _) = open(&dir, options);
        assert_eq!(wal.append(b"a").expect("appends"), 100, "an empty log starts at the floor");
        drop(wal);
        // Every segment lost: LSNs still continue from the floor, never from 1.
        std::fs::remove_dir_all(&dir).expect("removes");
        let (wal, replay) = open(&dir, WalOptions { min_next_lsn: 101, ..options });
        assert!(replay.records.is_empty());
        assert_eq!(wal.append(b"b").expect("appends"), 101);
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lsns_read_from_disk_never_overflow() {
        let dir = temp_dir("max-lsn");
        std::fs::create_dir_all(&dir).expect("creates");
        let mut bytes = segment::header().to_vec();
        segment::frame(segment::MAX_LSN, b"last", &mut bytes);
        segment::frame(u64::MAX, b"beyond", &mut bytes);
        std::fs::write(segment::path(&dir, 1), &bytes).expect("writes");
        let (wal, replay) = open(&dir, WalOptions { sync: SyncPolicy::None, ..WalOptions::default() });
        assert_eq!(replay.records.iter().map(|r| r.0).collect::<Vec<_>>(), vec![segment::MAX_LSN]);
        assert_eq!(replay.report.damage.len(), 1, "the record beyond the largest LSN is damage");
        assert!(matches!(wal.append(b"x"), Err(Error::LsnExhausted(_))));
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
