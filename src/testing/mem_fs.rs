//! A file system in memory: what a fuzz target opens a database in, so each
//! input costs no disk I/O and leaves nothing behind.
//!
//! Files are shared byte vectors. Like POSIX files, a handle keeps its file
//! across a rename and reads see every append at once; `sync` and `sync_dir`
//! do nothing (there is no crash to survive). Locks always succeed: one
//! `MemFs` serves one database.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::fs::{AppendFile, FileLock, Fs, ReadAt};

type Bytes = Arc<Mutex<Vec<u8>>>;

#[derive(Debug, Default)]
struct Tree {
    files: BTreeMap<PathBuf, Bytes>,
    dirs: BTreeSet<PathBuf>,
}

/// See the module docs. Clones share one tree of files.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
}

/// Locks `m`; a thread that panicked holding it already failed its caller.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates (or replaces) the file `path` holding `bytes`, and its directory.
    pub fn put(&self, path: &Path, bytes: Vec<u8>) {
        let mut tree = lock(&self.tree);
        if let Some(dir) = path.parent() {
            tree.dirs.insert(dir.to_path_buf());
        }
        tree.files.insert(path.to_path_buf(), Arc::new(Mutex::new(bytes)));
    }

    fn file(&self, path: &Path) -> io::Result<Bytes> {
        lock(&self.tree).files.get(path).cloned().ok_or_else(|| not_found(path))
    }
}

#[derive(Debug)]
struct MemFile(Bytes);

impl AppendFile for MemFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        lock(&self.0).extend_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(MemFile(Arc::clone(&self.0))))
    }
}

impl ReadAt for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let bytes = lock(&self.0);
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let end = start.checked_add(buf.len()).filter(|&end| end <= bytes.len());
        let end = end.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(&bytes[start..end]);
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(lock(&self.0).len() as u64)
    }
}

#[derive(Debug)]
struct MemLock;

impl FileLock for MemLock {}

impl Fs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.tree).dirs.extend(dir.ancestors().map(Path::to_path_buf));
        Ok(())
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let mut tree = lock(&self.tree);
        let bytes = tree.files.entry(path.to_path_buf()).or_default();
        Ok(Box::new(MemFile(Arc::clone(bytes))))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(MemFile(self.file(path)?)))
    }

    fn lock(&self, _: &Path) -> io::Result<Box<dyn FileLock>> {
        Ok(Box::new(MemLock))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = self.file(path)?;
        Ok(lock(&file).clone())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let tree = lock(&self.tree);
        if !tree.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(tree.files.keys().filter(|p| p.parent() == Some(dir)).cloned().collect())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = self.file(path)?;
        lock(&file).truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        lock(&self.tree).files.remove(path).map(drop).ok_or_else(|| not_found(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut tree = lock(&self.tree);
        let file = tree.files.remove(from).ok_or_else(|| not_found(from))?;
        tree.files.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn sync_dir(&self, _: &Path) -> io::Result<()> {
        Ok(())
    }
}
