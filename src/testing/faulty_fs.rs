//! A file system that fails on cue: the Nth write, fsync, rename or
//! directory sync fails (a write may first put part of its bytes down, a
//! torn write), and [`FaultyFs::power_cut`] drops every byte not yet fsynced
//! and fails every later change, as a machine losing power would. The Nth
//! fsync can also be held ([`FaultyFs::hold`]) until the test releases it,
//! to show what goes on while a flush or compaction waits for the disk.
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

#[derive(Debug, Default)]
struct Plan {
    /// (op, nth call counting from 1, how a torn write tears).
    faults: Vec<(Op, usize, Option<Tear>)>,
    calls: HashMap<Op, usize>,
    /// Bytes appended per file, and bytes made durable by fsync.
    written: HashMap<PathBuf, u64>,
    synced: HashMap<PathBuf, u64>,
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
    /// runs, until the returned [`Hold`] releases it. Only `Op::Sync` calls wait.
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

    /// Cuts every file written through this file system back to its last
    /// fsynced length, as a power failure would, and fails every later write,
    /// fsync, rename, removal or truncation.
    pub fn power_cut(&self) -> io::Result<()> {
        let mut plan = self.plan();
        plan.dead = true;
        for (path, &written) in &plan.written {
            let synced = plan.synced.get(path).copied().unwrap_or(0);
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
    path: PathBuf,
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
        *self.plan().written.entry(self.path.clone()).or_default() += keep as u64;
        if fault.is_some() { Err(injected(Op::Write)) } else { Ok(()) }
    }

    fn sync(&self) -> io::Result<()> {
        let (fault, hold) = {
            let mut plan = self.plan();
            (plan.call(Op::Sync), plan.hold(Op::Sync))
        };
        if let Some(hold) = hold {
            hold.block();
        }
        if fault.is_some() {
            return Err(injected(Op::Sync));
        }
        // Read the length before the fsync: bytes appended meanwhile are not covered.
        let len = self.plan().written.get(&self.path).copied().unwrap_or(0);
        self.inner.sync()?;
        let mut plan = self.plan();
        let synced = plan.synced.entry(self.path.clone()).or_default();
        *synced = (*synced).max(len);
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Box<dyn AppendFile>> {
        let inner = self.inner.try_clone()?;
        Ok(Box::new(FaultyFile { inner, path: self.path.clone(), plan: Arc::clone(&self.plan) }))
    }
}

impl Fs for FaultyFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsFs.create_dir_all(dir)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let inner = OsFs.open_append(path)?;
        let mut plan = self.plan();
        // What existed before this file system saw the file counts as durable.
        let written = *plan.written.entry(path.to_path_buf()).or_insert(existing);
        plan.synced.entry(path.to_path_buf()).or_insert(written.min(existing));
        drop(plan);
        Ok(Box::new(FaultyFile { inner, path: path.to_path_buf(), plan: Arc::clone(&self.plan) }))
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
        let mut guard = self.plan();
        let plan = &mut *guard;
        for map in [&mut plan.written, &mut plan.synced] {
            if let Some(v) = map.get_mut(path) {
                *v = (*v).min(len);
            }
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.plan().dead {
            return Err(io::Error::other("the power is off"));
        }
        OsFs.remove(path)?;
        let mut plan = self.plan();
        plan.written.remove(path);
        plan.synced.remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.plan().call(Op::Rename).is_some() {
            return Err(injected(Op::Rename));
        }
        OsFs.rename(from, to)?;
        let mut guard = self.plan();
        let plan = &mut *guard;
        for map in [&mut plan.written, &mut plan.synced] {
            if let Some(v) = map.remove(from) {
                map.insert(to.to_path_buf(), v);
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.plan().call(Op::SyncDir).is_some() {
            return Err(injected(Op::SyncDir));
        }
        OsFs.sync_dir(dir)
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
}
