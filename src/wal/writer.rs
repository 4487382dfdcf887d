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
//! Rotation never puts an fsync under the log's mutex, which writers take
//! while their owner holds its own lock: the next segment is prepared
//! beforehand ([`Wal::maintain`], [`Wal::checkpoint`]: created as
//! `spare.tmp` with its header fsynced, outside the mutex), and a write
//! that finds the active segment full switches to it by a rename. The old
//! segment becomes `closing` until an fsync covers its end, and the rename
//! is pending until a directory fsync covers it; every sync (the group
//! commit's leader, the interval flusher, [`Wal::sync`]) does both before the
//! active segment, so no record of the new segment is acknowledged before
//! every record before it is durable and the segment's name is. A crash
//! before that leaves `spare.tmp`, whose records were never acknowledged
//! under `Always` (under `Interval` and `None` they were within the loss the
//! policy allows); open removes it.
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

/// Name of the prepared next segment, before its rename.
const SPARE: &str = "spare.tmp";

/// The next segment, created ahead of the switch to it.
#[derive(Debug)]
struct Spare {
    path: PathBuf,
    file: Box<dyn AppendFile>,
    sync_handle: Arc<dyn AppendFile>,
}

/// The segment before the active one, until an fsync covers its end.
#[derive(Debug)]
struct Closing {
    handle: Arc<dyn AppendFile>,
    path: PathBuf,
    /// Bytes of it covered by the last good fsync.
    synced_len: u64,
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
    spare: Option<Spare>,
    closing: Option<Closing>,
    /// Segment switches (renames) so far, and how many a directory fsync covers.
    renames: u64,
    dir_synced: u64,
    poisoned: Option<String>,
    closed: bool,
    frame: Vec<u8>,
}

impl State {
    /// Whether the active segment holds records and every record written
    /// is `<= durable_lsn`.
    fn all_durable(&self, durable_lsn: u64) -> bool {
        durable_lsn >= self.written_lsn && self.segment_len > segment::HEADER_LEN as u64
    }
}

#[derive(Debug)]
struct Shared {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Signalled when the synced LSN moves, the log is poisoned, or it closes.
    changed: Condvar,
    /// Held while the spare segment is prepared, so one is made at a time.
    preparing: Mutex<()>,
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
        let spare = dir.join(SPARE);
        fs.remove_if_present(&spare).map_err(Error::io("remove", &spare))?;
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
            spare: None,
            closing: None,
            renames: 0,
            dir_synced: 0,
            poisoned: None,
            closed: false,
            frame: Vec::new(),
        };
        let shared = Arc::new(Shared {
            fs,
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(state),
            changed: Condvar::new(),
            preparing: Mutex::new(()),
        });
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
        if self.wants_maintenance()? {
            self.maintain()?;
        }
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
            st = shared.switch(st)?;
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

    /// Whether [`Wal::maintain`] has work: a spare segment to prepare, or a
    /// closed segment or a rename not yet durable.
    pub fn wants_maintenance(&self) -> Result<bool> {
        let st = self.shared.lock()?;
        Ok(self.shared.wants_spare(&st) || st.closing.is_some() || st.renames > st.dir_synced)
    }

    /// Prepares the next segment once the active one is half full, and makes
    /// a closed segment and its successor's name durable; the I/O runs
    /// outside the log's mutex, so writers go on meanwhile.
    pub fn maintain(&self) -> Result<()> {
        let st = self.shared.lock()?;
        let (spare, sync) = (self.shared.wants_spare(&st), st.closing.is_some() || st.renames > st.dir_synced);
        drop(st);
        if spare {
            self.shared.prepare_spare()?;
        }
        if sync { self.sync() } else { Ok(()) }
    }

    /// Removes the closed segments whose every record has an LSN <= `durable_lsn`
    /// (the data they hold is durable elsewhere). Returns how many were removed.
    pub fn checkpoint(&self, durable_lsn: u64) -> Result<usize> {
        let shared = &self.shared;
        // Everything written is durable elsewhere: switch to a fresh segment
        // so the active one can go too (skipped while an fsync is in flight;
        // a later checkpoint does it).
        let wanted = shared.lock()?.all_durable(durable_lsn);
        if wanted {
            shared.prepare_spare()?;
        }
        let mut st = shared.lock()?;
        if st.all_durable(durable_lsn) {
            st = shared.switch(st)?;
        }
        let mut removed = Vec::new();
        // Segment i holds LSNs [first_i, first_{i+1}); the active (last) one stays.
        while st.segments.len() > 1 && st.segments[1].first_lsn <= durable_lsn + 1 {
            let old = st.segments.remove(0);
            st.total_bytes = st.total_bytes.saturating_sub(old.bytes);
            // Its records are durable elsewhere: it needs no fsync any more.
            if st.closing.as_ref().is_some_and(|c| c.path == old.path) {
                st.closing = None;
            }
            removed.push(old.path);
        }
        let renames = st.renames;
        let rename_pending = renames > st.dir_synced;
        drop(st);
        for path in &removed {
            shared.fs.remove(path).map_err(Error::io("remove", path))?;
        }
        if !removed.is_empty() || rename_pending {
            shared.fs.sync_dir(&shared.dir).map_err(Error::io("sync directory", &shared.dir))?;
            let mut st = shared.lock()?;
            st.dir_synced = st.dir_synced.max(renames);
        }
        Ok(removed.len())
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
            // No switch runs while this fsync is in flight (a switch waits
            // for it), so `target_len` is a length of this segment, and a
            // closing segment stays the same one.
            let (target, target_len, handle) = (st.written_lsn, st.segment_len, Arc::clone(&st.sync_handle));
            let closing = st.closing.as_ref().map(|c| Arc::clone(&c.handle));
            let renames = st.renames;
            let rename_pending = renames > st.dir_synced;
            drop(st);
            // Oldest first: the closed segment, the active one, then the
            // directory entry naming the active one.
            let synced = closing
                .map_or(Ok(()), |c| c.sync().map_err(|e| ("fsync", e)))
                .and_then(|()| handle.sync().map_err(|e| ("fsync", e)))
                .and_then(|()| {
                    if rename_pending { self.fs.sync_dir(&self.dir).map_err(|e| ("sync directory", e)) } else { Ok(()) }
                });
            st = self.state.lock().map_err(writer_panicked)?;
            st.syncing = false;
            if let Err((op, e)) = synced {
                let cut_to = (self.options.sync == SyncPolicy::Always).then_some(st.synced_len);
                if let Some(closing) = st.closing.as_ref().filter(|_| cut_to.is_some()) {
                    // Best effort, like the cut of the active segment.
                    let _ = self.fs.truncate(&closing.path, closing.synced_len);
                }
                return Err(self.poison(st, op, e, cut_to));
            }
            st.closing = None;
            st.dir_synced = st.dir_synced.max(renames);
            st.synced_lsn = st.synced_lsn.max(target);
            st.synced_len = st.synced_len.max(target_len);
            self.changed.notify_all();
        }
    }

    /// Whether the active segment is half full and no spare is ready.
    fn wants_spare(&self, st: &State) -> bool {
        st.spare.is_none() && st.segment_len >= self.options.segment_bytes / 2
    }

    /// Creates the spare segment if there is none, outside the log's mutex.
    fn prepare_spare(&self) -> Result<()> {
        let _one = self.preparing.lock().map_err(writer_panicked)?;
        if self.lock()?.spare.is_some() {
            return Ok(());
        }
        let path = self.dir.join(SPARE);
        let made = self
            .fs
            .remove_if_present(&path)
            .map_err(Error::io("remove", &path))
            .and_then(|()| segment_file(self.fs.as_ref(), &path));
        let mut st = self.lock()?;
        match made {
            Ok((file, sync_handle)) => {
                st.spare = Some(Spare { path, file, sync_handle });
                Ok(())
            }
            Err(Error::Io { source, .. }) => Err(self.poison(st, "segment rotation", source, None)),
            Err(other) => Err(other),
        }
    }

    /// Makes the spare the active segment, named for the next LSN; the old
    /// one becomes `closing`. Only a rename: the fsyncs follow in the next
    /// sync. Does nothing without a spare, while an fsync is in flight, or
    /// while the previous closed segment is not yet durable; the active
    /// segment then grows past its size a little longer.
    fn switch<'a>(&'a self, mut st: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        if st.syncing || st.closing.is_some() {
            return Ok(st);
        }
        let Some(spare) = st.spare.take() else { return Ok(st) };
        let next = st.next_lsn;
        let path = segment::path(&self.dir, next);
        if let Err(e) = self.fs.rename(&spare.path, &path) {
            return Err(self.poison(st, "segment rotation", e, None));
        }
        let (closed_len, synced_len) = (st.segment_len, st.synced_len);
        let mut closed_path = PathBuf::new();
        if let Some(active) = st.segments.last_mut() {
            active.bytes = closed_len;
            closed_path.clone_from(&active.path);
        }
        let handle = std::mem::replace(&mut st.sync_handle, spare.sync_handle);
        st.closing = Some(Closing { handle, path: closed_path, synced_len });
        st.file = spare.file;
        st.renames += 1;
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
    let (file, handle) = segment_file(fs, &path)?;
    fs.sync_dir(dir).map_err(Error::io("sync directory", dir))?;
    Ok((file, handle, path))
}

/// Creates a segment file at `path` with its header fsynced; returns the
/// append handle and the fsync handle.
fn segment_file(fs: &dyn Fs, path: &Path) -> Result<(Box<dyn AppendFile>, Arc<dyn AppendFile>)> {
    let mut file = fs.open_append(path).map_err(Error::io("create segment", path))?;
    file.write_all(&segment::header()).map_err(Error::io("write segment header", path))?;
    file.sync().map_err(Error::io("fsync", path))?;
    let handle: Arc<dyn AppendFile> = Arc::from(file.try_clone().map_err(Error::io("clone handle", path))?);
    Ok((file, handle))
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
