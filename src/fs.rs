//! The file-system operations storage needs, behind one trait.
//!
//! The WAL and the database file reach the disk only through [`Fs`], so tests
//! can swap in a file system that fails the Nth write, fsync or rename, or tears
//! a write in half (`testing::FaultyFs`), and check that nothing acknowledged
//! is lost and nothing panics. [`OsFs`] is the real one.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file opened for appending.
pub trait AppendFile: Send + Sync + Debug {
    /// Appends all of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fsync).
    fn sync(&self) -> io::Result<()>;
    /// A second handle on the same file, so one thread can fsync while another appends.
    fn try_clone(&self) -> io::Result<Box<dyn AppendFile>>;
}

/// A file opened for reading at offsets, shared by concurrent readers.
pub trait ReadAt: Send + Sync + Debug {
    /// Fills `buf` from the bytes at `offset`; fails if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// The file's length in bytes.
    fn size(&self) -> io::Result<u64>;
}

/// Holds an exclusive lock on a file until dropped.
pub trait FileLock: Send + Sync + Debug {}

/// File-system operations, each a thin wrapper over `std::fs` in [`OsFs`].
pub trait Fs: Send + Sync + Debug {
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Opens `path` for reading at offsets.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadAt>>;
    /// Takes an exclusive lock on `path` (created if missing) so a second
    /// process cannot open the same database; fails at once if it is held.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
    /// Reads the whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of `dir`, sorted by name.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Cuts `path` to `len` bytes and makes that durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Removes a file if it is there (a missing file is no error).
    fn remove_if_present(&self, path: &Path) -> io::Result<()> {
        match self.remove(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the entries of `dir` (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(File);

impl AppendFile for OsFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn try_clone(&self) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(OsFile(self.0.try_clone()?)))
    }
}

impl ReadAt for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl FileLock for OsFile {}

/// How long [`OsFs::lock`] waits for a held lock before answering that it
/// is held.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

impl Fs for OsFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        Ok(Box::new(OsFile(OpenOptions::new().create(true).append(true).open(path)?)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(OsFile(File::open(path)?)))
    }

    /// Takes the lock, waiting up to [`LOCK_PATIENCE`] for a holder to let
    /// go: a process this one is spawning holds a copy of every open file
    /// until it execs, so a lock just released here can read as held for
    /// that moment. A lock still held after that belongs to someone else.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Box::new(OsFile(file))),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let held = format!("{} is locked by another process", path.display());
                    return Err(io::Error::new(io::ErrorKind::WouldBlock, held));
                }
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Where [`replace_durably`] writes before renaming over `path`: `path` + `.tmp`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces the file at `path` with `bytes`, atomically and durably: write
/// a temporary file, fsync it, rename it over `path`, fsync the directory.
/// A crash leaves the old file or the new one, never a mix.
pub(crate) fn replace_durably(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> crate::error::Result<()> {
    use crate::error::Error;
    let tmp = temp_path(path);
    fs.remove_if_present(&tmp).map_err(Error::io("remove", &tmp))?;
    let mut file = fs.open_append(&tmp).map_err(Error::io("create", &tmp))?;
    file.write_all(bytes).map_err(Error::io("write", &tmp))?;
    file.sync().map_err(Error::io("fsync", &tmp))?;
    drop(file);
    fs.rename(&tmp, path).map_err(Error::io("rename", &tmp))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs.sync_dir(dir).map_err(Error::io("fsync directory", dir))
}
