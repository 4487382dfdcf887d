//! A file system that fails on cue: the Nth write, fsync, rename or
//! directory sync fails (a write may first put part of its bytes down, a
//! torn write), and [`FaultyFs::power_cut`] drops every byte not yet fsynced,
//! undoes every rename no directory sync covers, and fails every later
//! change, as a machine losing power would. The Nth fsync or directory sync
//! can also be held ([`FaultyFs::hold`]) until the test releases it, to show
//! what goes on while a flush or compaction waits for the disk, or to cut
//! the power right then.
//!
//! Bytes are counted per file, not per name: a file renamed while open
//! (the WAL's next segment) keeps its counts under its new name. A rename
//! over an existing file survives a power cut (the file it replaced is
//! gone); creations and removals always do.
//!
//! Wraps [`OsFs`], so what survives a fault is real bytes in real files, and
//! reopening with `OsFs` sees exactly what a crash at that moment would leave
//! (for `power_cut`: a machine losing its page cache).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use crate::fs::{AppendFile, FileLock, Fs, OsFs, ReadAt};

/// The operations faults can be planned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `AppendFile::write_all`.
    Write,
    /// `AppendFile::sync`.
    Sync,
    /// `Fs::rename`.
    Rename,
    /// `Fs::sync_dir`.
    SyncDir,
}

/// How much of a torn write reaches the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tear {
    /// The first n bytes.
    Keep(usize),
    /// All but the last n bytes.
    DropLast(usize),
}

/// Bytes appended to one file, and bytes of it made durable by fsync.
#[derive(Debug, Default, Clone, Copy)]
struct Lengths {
    written: u64,
    synced: u64,
}

/// A rename no directory sync covers yet.
#[derive(Debug)]
struct Rename {
    from: PathBuf,
    to: PathBuf,
}

#[derive(Debug, Default)]
struct Plan {
    /// (op, nth call counting from 1, how a torn write tears).
    faults: Vec<(Op, usize, Option<Tear>)>,
    calls: HashMap<Op, usize>,
    /// The file each name holds now, and the lengths of each file.
    names: HashMap<PathBuf, u64>,
    files: HashMap<u64, Lengths>,
    next_file: u64,
    /// Renames to a new name, oldest first, until a sync of their directory.
    unsynced_renames: Vec<Rename>,
    fired: usize,
    /// (op, nth call counting from 1, the hold it waits on).
    holds: Vec<(Op, usize, Arc<HoldState>)>,
    /// Set by a power cut: every later change fails.
    dead: bool,
}

/// Whether a held call has started, and whether it may go on.
#[derive(Debug, Default)]
struct HoldState {
    flags: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl HoldState {
    fn set(&self, set: impl FnOnce(&mut (bool, bool))) {
        let mut flags = self.flags.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set(&mut flags);
        self.changed.notify_all();
    }

    fn wait_until(&self, done: impl Fn(&(bool, bool)) -> bool) {
        let mut flags = self.flags.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while !done(&flags) {
            flags = self.changed.wait(flags).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Called by the held operation: says it started, waits for the release.
    fn block(&self) {
        self.set(|f| f.0 = true);
        self.wait_until(|f| f.1);
    }
}

/// A planned call held until [`Hold::release`] (or until the `Hold` is
/// dropped, so a failing test never leaves a thread blocked).
#[derive(Debug)]
pub struct Hold(Arc<HoldState>);

impl Hold {
    /// Waits until the held call has started (and is blocked).
    pub fn wait_reached(&self) {
        self.0.wait_until(|f| f.0);
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.0.set(|f| f.1 = true);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release();
    }
}

impl Plan {
    /// Counts a call of `op`; returns the fault planned for it, if any (a
    /// dead file system fails everything).
    fn call(&mut self, op: Op) -> Option<Option<Tear>> {
        if self.dead {
            return Some(None);
        }
        let n = self.calls.entry(op).or_default();
        *n += 1;
        let n = *n;
        let pos = self.faults.iter().position(|f| f.0 == op && f.1 == n)?;
        self.fired += 1;
        Some(self.faults.remove(pos).2)
    }

    /// The hold planned for the call of `op` just counted, if any.
    fn hold(&mut self, op: Op) -> Option<Arc<HoldState>> {
        let n = self.calls.get(&op).copied().unwrap_or(0);
        let pos = self.holds.iter().position(|h| h.0 == op && h.1 == n)?;
        Some(self.holds.remove(pos).2)
    }

    /// The lengths of file `id`.
    fn lengths(&mut self, id: u64) -> &mut Lengths {
        self.files.entry(id).or_default()
    }

    /// Moves the file named `from` to the name `to`.
    fn rename(&mut self, from: &Path, to: &Path) {
        if let Some(replaced) = self.names.remove(to) {
            self.files.remove(&replaced);
        }
        if let Some(id) = self.names.remove(from) {
            self.names.insert(to.to_path_buf(), id);
        }
    }
}

/// Waits on `hold` if there is one; fails if the power was cut meanwhile.
fn wait_on(hold: Option<Arc<HoldState>>, plan: &Mutex<Plan>, op: Op) -> io::Result<()> {
    if let Some(hold) = hold {
        hold.block();
        if plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).dead {
            return Err(injected(op));
        }
    }
    Ok(())
}

/// See the module docs. Clones share one plan.
#[derive(Debug, Clone, Default)]
pub struct FaultyFs {
    plan: Arc<Mutex<Plan>>,
}

fn injected(op: Op) -> io::Error {
    io::Error::other(format!("injected {op:?} failure"))
}

impl FaultyFs {
    /// A file system with no fault planned.
    pub fn new() -> Self {
        Self::default()
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        // A test thread that panicked holding the plan already failed the test.
        self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fails the `nth` call (from 1, counted from now on) of `op`.
    pub fn fail(&self, op: Op, nth: usize) {
        let mut plan = self.plan();
        let base = plan.calls.get(&op).copied().unwrap_or(0);
        plan.faults.push((op, base + nth, None));
    }

    /// Holds the `nth` call (from 1, counted from now on) of `op` before it
    /// runs, until the returned [`Hold`] releases it; it fails if the power
    /// was cut meanwhile. Only `Op::Sync` and `Op::SyncDir` calls wait.
    pub fn hold(&self, op: Op, nth: usize) -> Hold {
        let mut plan = self.plan();
        let base = plan.calls.get(&op).copied().unwrap_or(0);
        let state = Arc::new(HoldState::default());
        plan.holds.push((op, base + nth, Arc::clone(&state)));
        Hold(state)
    }

    /// Makes the `nth` write from now on put down only its first `keep` bytes, then fail.
    pub fn tear_write(&self, nth: usize, keep: usize) {
        self.tear(nth, Tear::Keep(keep));
    }

    /// Makes the `nth` write from now on put down all but its last `drop` bytes, then fail.
    pub fn tear_write_end(&self, nth: usize, drop: usize) {
        self.tear(nth, Tear::DropLast(drop));
    }

    fn tear(&self, nth: usize, tear: Tear) {
        let mut plan = self.plan();
        let base = plan.calls.get(&Op::Write).copied().unwrap_or(0);
        plan.faults.push((Op::Write, base + nth, Some(tear)));
    }

    /// Calls of `op` so far.
    pub fn calls(&self, op: Op) -> usize {
        self.plan().calls.get(&op).copied().unwrap_or(0)
    }

    /// How many planned faults have fired.
    pub fn fired(&self) -> usize {
        self.plan().fired
    }

    /// Undoes every rename to a new name that no directory sync covers,
    /// newest first, cuts every file written through this file system back
    /// to its last fsynced length, as a power failure would, and fails every
    /// later write, fsync, rename, removal or truncation.
    pub fn power_cut(&self) -> io::Result<()> {
        let mut guard = self.plan();
        let plan = &mut *guard;
        plan.dead = true;
        while let Some(Rename { from, to }) = plan.unsynced_renames.pop() {
            if to.exists() {
                OsFs.rename(&to, &from)?;
                plan.rename(&to, &from);
            }
        }
        for (path, id) in &plan.names {
            let Lengths { written, synced } = plan.files.get(id).copied().unwrap_or_default();
            if synced < written && path.exists() {
                OsFs.truncate(path, synced)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn AppendFile>,
    /// Which file this is, whatever its name now.
    id: u64,
    plan: Arc<Mutex<Plan>>,
}

impl FaultyFile {
    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AppendFile for FaultyFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let fault = self.plan().call(Op::Write);
        let keep = match fault {
            None => buf.len(),
            Some(None) => return Err(injected(Op::Write)),
            Some(Some(Tear::Keep(keep))) => keep.min(buf.len()),
            Some(Some(Tear::DropLast(drop))) => buf.len().saturating_sub(drop),
        };
        self.inner.write_all(&buf[..keep])?;
        self.plan().lengths(self.id).written += keep as u64;
        if fault.is_some() { Err(injected(Op::Write)) } else { Ok(()) }
    }

    fn sync(&self) -> io::Result<()> {
        let (fault, hold) = {
            let mut plan = self.plan();
            (plan.call(Op::Sync), plan.hold(Op::Sync))
        };
        wait_on(hold, &self.plan, Op::Sync)?;
        if fault.is_some() {
            return Err(injected(Op::Sync));
        }
        // Read the length before the fsync: bytes appended meanwhile are not covered.
        let len = self.plan().lengths(self.id).written;
        self.inner.sync()?;
        let mut plan = self.plan();
        let lengths = plan.lengths(self.id);
        lengths.synced = lengths.synced.max(len);
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Box<dyn AppendFile>> {
        let inner = self.inner.try_clone()?;
        Ok(Box::new(FaultyFile { inner, id: self.id, plan: Arc::clone(&self.plan) }))
    }
}

impl Fs for FaultyFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsFs.create_dir_all(dir)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let inner = OsFs.open_append(path)?;
        let mut guard = self.plan();
        let plan = &mut *guard;
        let id = match plan.names.get(path) {
            Some(&id) => id,
            None => {
                let id = plan.next_file;
                plan.next_file += 1;
                plan.names.insert(path.to_path_buf(), id);
                // What existed before this file system saw the file counts as durable.
                plan.files.insert(id, Lengths { written: existing, synced: existing });
                id
            }
        };
        drop(guard);
        Ok(Box::new(FaultyFile { inner, id, plan: Arc::clone(&self.plan) }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadAt>> {
        OsFs.open_read(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        OsFs.lock(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsFs.read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        OsFs.list(dir)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        if self.plan().dead {
            return Err(io::Error::other("the power is off"));
        }
        OsFs.truncate(path, len)?;
        let mut plan = self.plan();
        if let Some(&id) = plan.names.get(path) {
            let lengths = plan.lengths(id);
            lengths.written = lengths.written.min(len);
            lengths.synced = lengths.synced.min(len);
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.plan().dead {
            return Err(io::Error::other("the power is off"));
        }
        OsFs.remove(path)?;
        let mut plan = self.plan();
        if let Some(id) = plan.names.remove(path) {
            plan.files.remove(&id);
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.plan().call(Op::Rename).is_some() {
            return Err(injected(Op::Rename));
        }
        let new_name = !to.exists();
        OsFs.rename(from, to)?;
        let mut plan = self.plan();
        plan.rename(from, to);
        if new_name {
            plan.unsynced_renames.push(Rename { from: from.to_path_buf(), to: to.to_path_buf() });
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let (fault, hold) = {
            let mut plan = self.plan();
            (plan.call(Op::SyncDir), plan.hold(Op::SyncDir))
        };
        wait_on(hold, &self.plan, Op::SyncDir)?;
        if fault.is_some() {
            return Err(injected(Op::SyncDir));
        }
        OsFs.sync_dir(dir)?;
        self.plan().unsynced_renames.retain(|r| r.to.parent() != Some(dir));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_faults_fire_once_and_power_cuts_drop_unsynced_bytes() {
        let dir = std::env::temp_dir().join(format!("chronicle-faulty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fs = FaultyFs::new();
        let path = dir.join("f");
        let mut f = fs.open_append(&path).unwrap();
        f.write_all(b"abc").unwrap();
        f.sync().unwrap();
        fs.tear_write(1, 2);
        assert!(f.write_all(b"defg").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"abcde", "a torn write keeps its prefix");
        fs.fail(Op::Sync, 1);
        assert!(f.sync().is_err());
        f.write_all(b"h").unwrap();
        assert_eq!(fs.fired(), 2);
        fs.power_cut().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        assert!(f.write_all(b"i").is_err(), "nothing changes after a power cut");
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_power_cut_undoes_unsynced_renames_and_follows_renamed_files() {
        let dir = std::env::temp_dir().join(format!("chronicle-faulty-rename-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fs = FaultyFs::new();
        let (tmp, kept, lost) = (dir.join("tmp"), dir.join("kept"), dir.join("lost"));
        let mut f = fs.open_append(&tmp).unwrap();
        f.write_all(b"ab").unwrap();
        f.sync().unwrap();
        fs.rename(&tmp, &kept).unwrap();
        fs.sync_dir(&dir).unwrap();
        // Bytes written after the rename count for the renamed file.
        f.write_all(b"cd").unwrap();
        // A new file under the old name, renamed without a directory sync.
        let mut g = fs.open_append(&tmp).unwrap();
        g.write_all(b"xy").unwrap();
        g.sync().unwrap();
        fs.rename(&tmp, &lost).unwrap();
        g.write_all(b"z").unwrap();
        fs.power_cut().unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), b"ab", "the unsynced bytes of the renamed file are dropped");
        assert!(!lost.exists(), "a rename no directory sync covered is undone");
        assert_eq!(std::fs::read(&tmp).unwrap(), b"xy");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
