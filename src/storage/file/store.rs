//! Opening, appending to and rewriting the database file.
//!
//! Open, fast path: check the header, read the footer at the end, the index
//! block it names, and the directory of every listed partition block. Never
//! the chunks.
//!
//! Open, recovery path (the footer or its index is damaged or missing, e.g.
//! a crash between appending blocks and the footer): scan backward for the
//! newest footer whose index is intact, then walk forward block by block from
//! there: a later intact index replaces it, later intact partition blocks are
//! adopted if every id they name is known. A torn tail (a block running past
//! the end of the file) is cut off. Every damaged block found is reported
//! with its offset; the caller writes a fresh index and footer.
//!
//! Commit protocol (the caller's): append partition blocks, the index and the
//! footer with one write, fsync, and only then checkpoint the WAL.
//! Compaction writes a complete new file beside the old one, fsyncs it,
//! renames it over the old one and fsyncs the directory; a crash at any step
//! leaves either the old or the new file, both complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::block::{self, BLOCK_HEADER_LEN, BlockHeader, BlockType, HEADER_LEN};
use super::footer::{self, FOOTER_LEN, Footer};
use super::index_block::{self, BlockRef, Decoded, IndexSnapshot, Manifest};
use super::partition_block::{self, Known, PREFIX_LEN, PartitionBlock, Prefix};
use super::series_block::{self, SeriesBlockRef, SeriesDelta, covered};
use crate::error::{Error, Result};
use crate::fs::{AppendFile, Fs, ReadAt};
use crate::storage::series_index::SeriesIndex;

/// Bytes read per step of the backward footer scan.
const SCAN_WINDOW: u64 = 1 << 20;

/// Damage found while opening, reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileDamage {
    /// The file.
    pub path: PathBuf,
    /// Offset of the damaged block or structure.
    pub offset: u64,
    /// What was wrong and what was done about it.
    pub detail: String,
}

/// A shared handle for reading chunks, valid even after a compaction
/// replaces the file it was opened on.
#[derive(Debug, Clone)]
pub struct FileReader {
    path: Arc<PathBuf>,
    handle: Arc<dyn ReadAt>,
}

impl FileReader {
    /// Reads `len` bytes at `offset`.
    pub fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| self.corrupt(offset, format!("cannot allocate {len} bytes")))?;
        buf.resize(len, 0);
        self.handle.read_exact_at(&mut buf, offset).map_err(Error::io("read", self.path.as_path()))?;
        Ok(buf)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A corruption error at `offset` of this file.
    pub fn corrupt(&self, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corrupt { path: self.path.to_path_buf(), offset, detail: detail.into() }
    }
}

/// The file open for appending.
#[derive(Debug)]
pub struct FileStore {
    fs: Arc<dyn Fs>,
    path: PathBuf,
    file: Box<dyn AppendFile>,
    reader: FileReader,
    len: u64,
}

/// What open found.
#[derive(Debug)]
pub struct Opened {
    /// The store, ready to append.
    pub store: FileStore,
    /// The index in force.
    pub snapshot: IndexSnapshot,
    /// Directories of every readable partition block, in file order.
    pub blocks: Vec<PartitionBlock>,
    /// Damage found and skipped.
    pub damage: Vec<FileDamage>,
    /// Whether the recovery path ran (the caller should write a fresh index).
    pub recovered: bool,
}

/// The path compaction writes before renaming.
pub fn compaction_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".compact");
    path.with_file_name(name)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn empty_snapshot(partition_ns: i64) -> IndexSnapshot {
    IndexSnapshot {
        durable_lsn: 0,
        partition_ns,
        series: SeriesIndex::default(),
        series_blocks: Vec::new(),
        blocks: Vec::new(),
        tombstones: Vec::new(),
    }
}

impl FileStore {
    /// Opens the file at `path`, creating it (with `partition_ns`) if missing.
    pub fn open(fs: Arc<dyn Fs>, path: &Path, partition_ns: i64) -> Result<Opened> {
        let stale = compaction_path(path);
        // A compaction that never reached its rename: the old file is intact.
        fs.remove_if_present(&stale).map_err(Error::io("remove", &stale))?;
        let existing = match fs.open_read(path) {
            Ok(handle) => Some(handle),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("open", path)(e)),
        };
        let len = match &existing {
            Some(h) => h.size().map_err(Error::io("stat", path))?,
            None => 0,
        };
        if len < HEADER_LEN {
            return Self::create(fs, path, existing, len, partition_ns);
        }
        let handle = existing.ok_or_else(|| Error::io("open", path)(std::io::ErrorKind::NotFound.into()))?;
        let reader = FileReader { path: Arc::new(path.to_path_buf()), handle: Arc::from(handle) };
        let mut header = [0u8; HEADER_LEN as usize];
        reader.handle.read_exact_at(&mut header, 0).map_err(Error::io("read", path))?;
        if header != block::file_header() {
            let detail = if header[..8] == block::MAGIC { "unsupported format version" } else { "bad magic" };
            return Err(Error::NotADatabase { path: path.to_path_buf(), detail: detail.into() });
        }
        let file = fs.open_append(path).map_err(Error::io("open", path))?;
        if len == HEADER_LEN {
            // Created but never flushed (e.g. a crash before the first flush): an
            // empty database, not a damaged one; its data, if any, is in the WAL.
            let store = FileStore { fs, path: path.to_path_buf(), file, reader, len };
            let snapshot = empty_snapshot(partition_ns);
            return Ok(Opened { store, snapshot, blocks: Vec::new(), damage: Vec::new(), recovered: false });
        }
        let mut opener = Opener { reader, len, damage: Vec::new() };
        let fast = len.checked_sub(FOOTER_LEN as u64).filter(|&at| at >= HEADER_LEN).and_then(|at| opener.index_at(at));
        let (snapshot, blocks, recovered) = match fast {
            Some(snapshot) => {
                let blocks = opener.directories(&snapshot);
                (snapshot, blocks, false)
            }
            None => {
                let (snapshot, blocks) = opener.recover(&fs, path, partition_ns)?;
                (snapshot, blocks, true)
            }
        };
        let Opener { reader, len, damage } = opener;
        let store = FileStore { fs, path: path.to_path_buf(), file, reader, len };
        Ok(Opened { store, snapshot, blocks, damage, recovered })
    }

    /// Starts a new file, replacing a header torn by a crash during creation.
    fn create(
        fs: Arc<dyn Fs>,
        path: &Path,
        existing: Option<Box<dyn ReadAt>>,
        len: u64,
        partition_ns: i64,
    ) -> Result<Opened> {
        if let Some(handle) = existing {
            let mut head = vec![0u8; len as usize];
            handle.read_exact_at(&mut head, 0).map_err(Error::io("read", path))?;
            if head[..] != block::file_header()[..len as usize] {
                return Err(Error::NotADatabase { path: path.to_path_buf(), detail: "bad magic".into() });
            }
            fs.truncate(path, 0).map_err(Error::io("truncate", path))?;
        }
        let mut file = fs.open_append(path).map_err(Error::io("create", path))?;
        file.write_all(&block::file_header()).map_err(Error::io("write", path))?;
        file.sync().map_err(Error::io("fsync", path))?;
        fs.sync_dir(parent(path)).map_err(Error::io("sync directory", parent(path)))?;
        let handle = fs.open_read(path).map_err(Error::io("open", path))?;
        let reader = FileReader { path: Arc::new(path.to_path_buf()), handle: Arc::from(handle) };
        let store = FileStore { fs, path: path.to_path_buf(), file, reader, len: HEADER_LEN };
        Ok(Opened {
            store,
            snapshot: empty_snapshot(partition_ns),
            blocks: Vec::new(),
            damage: Vec::new(),
            recovered: false,
        })
    }

    /// Bytes in the file; the next append lands here.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// A handle for reading chunks.
    pub fn reader(&self) -> FileReader {
        self.reader.clone()
    }

    /// Appends `bytes` and fsyncs. On error, what reached the disk is
    /// unknown: the caller must stop writing (recovery on reopen sorts it out).
    pub fn append_durably(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(Error::io("append", &self.path))?;
        self.len += bytes.len() as u64;
        self.file.sync().map_err(Error::io("fsync", &self.path))
    }

    /// Starts a compaction: a new file beside this one.
    pub fn rewrite(&self) -> Result<Rewrite> {
        let tmp = compaction_path(&self.path);
        self.fs.remove_if_present(&tmp).map_err(Error::io("remove", &tmp))?;
        let mut file = self.fs.open_append(&tmp).map_err(Error::io("create", &tmp))?;
        file.write_all(&block::file_header()).map_err(Error::io("write", &tmp))?;
        Ok(Rewrite { tmp, file, len: HEADER_LEN })
    }

    /// Finishes a compaction: fsyncs the new file, renames it over this one,
    /// fsyncs the directory, and switches to it.
    pub fn replace_with(&mut self, rewrite: Rewrite) -> Result<()> {
        let Rewrite { tmp, file, len } = rewrite;
        file.sync().map_err(Error::io("fsync", &tmp))?;
        drop(file);
        self.fs.rename(&tmp, &self.path).map_err(Error::io("rename", &tmp))?;
        let dir = parent(&self.path);
        self.fs.sync_dir(dir).map_err(Error::io("sync directory", dir))?;
        self.file = self.fs.open_append(&self.path).map_err(Error::io("open", &self.path))?;
        let handle = self.fs.open_read(&self.path).map_err(Error::io("open", &self.path))?;
        self.reader = FileReader { path: Arc::new(self.path.clone()), handle: Arc::from(handle) };
        self.len = len;
        Ok(())
    }
}

/// A new file being written by compaction.
#[derive(Debug)]
pub struct Rewrite {
    tmp: PathBuf,
    file: Box<dyn AppendFile>,
    len: u64,
}

impl Rewrite {
    /// Bytes written so far; the next append lands here.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends bytes.
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(Error::io("write", &self.tmp))?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// State of one open.
struct Opener {
    reader: FileReader,
    len: u64,
    damage: Vec<FileDamage>,
}

impl Opener {
    fn damaged(&mut self, offset: u64, detail: impl Into<String>) {
        self.damage.push(FileDamage { path: self.reader.path.to_path_buf(), offset, detail: detail.into() });
    }

    fn read(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        let end = offset.checked_add(len)?;
        (end <= self.len).then(|| self.reader.read(offset, usize::try_from(len).ok()?).ok()).flatten()
    }

    fn block_header(&self, offset: u64) -> Option<BlockHeader> {
        let bytes = self.read(offset, BLOCK_HEADER_LEN as u64)?;
        Some(BlockHeader::parse(bytes.as_slice().try_into().ok()?))
    }

    /// The index named by a footer at `at`, if footer and index are intact.
    fn index_at(&mut self, at: u64) -> Option<IndexSnapshot> {
        let f = Footer::parse(&self.read(at, FOOTER_LEN as u64)?)?;
        if f.index_offset.checked_add(f.index_len) != Some(at) {
            self.damaged(at, "footer names an index that does not end at the footer");
            return None;
        }
        self.index_block(f.index_offset)
    }

    /// Reads and decodes the index block at `offset`, reporting damage.
    fn index_block(&mut self, offset: u64) -> Option<IndexSnapshot> {
        let head = self.block_header(offset)?;
        let payload = self.read(offset + BLOCK_HEADER_LEN as u64, u64::from(head.len))?;
        if head.kind != BlockType::Index as u8 || !head.verifies(&payload) {
            self.damaged(offset, "index block fails its checksum; an older index is used");
            return None;
        }
        match index_block::decode(&payload) {
            Ok(Decoded::Whole(snapshot)) => Some(*snapshot),
            Ok(Decoded::Manifest(manifest)) => self.load(manifest),
            Err(e) => {
                self.damaged(offset, format!("index block does not decode: {e}"));
                None
            }
        }
    }

    /// Reads the series blocks an index lists, in order. An index is intact
    /// only if all of them are: otherwise an older index is used, whose
    /// series blocks (superseded by consolidation, still in the file) may be.
    fn load(&mut self, manifest: Manifest) -> Option<IndexSnapshot> {
        let mut series = SeriesIndex::default();
        for (i, b) in manifest.series_blocks.iter().enumerate() {
            let (first, first_field) = covered(&manifest.series_blocks[..i]);
            let delta = self.series_block(b.offset, Some(b.len))?;
            let fits = (delta.first, delta.first_field, delta.series_count() as u64, delta.fields.len() as u64)
                == (first, first_field, b.series, b.fields);
            let applied = if fits {
                delta.apply(&mut series).map_err(|e| e.to_string())
            } else {
                Err("its range is not the one the index lists".into())
            };
            if let Err(why) = applied {
                self.damaged(b.offset, format!("series block skipped: {why}; an older index is used"));
                return None;
            }
        }
        Some(manifest.load(series))
    }

    /// Reads and decodes the series block at `offset` (of length `listed`,
    /// when an index lists it), reporting damage.
    fn series_block(&mut self, offset: u64, listed: Option<u64>) -> Option<SeriesDelta> {
        let payload =
            self.block_header(offset).filter(|h| listed.is_none_or(|len| len == h.block_len())).and_then(|head| {
                let payload = self.read(offset + BLOCK_HEADER_LEN as u64, u64::from(head.len))?;
                (head.kind == BlockType::Series as u8 && head.verifies(&payload)).then_some(payload)
            });
        let Some(payload) = payload else {
            self.damaged(offset, "series block is unreadable or fails its checksum");
            return None;
        };
        series_block::decode(&payload)
            .inspect_err(|e| self.damaged(offset, format!("series block does not decode: {e}")))
            .ok()
    }

    /// Applies a series block found after the newest intact index: it must
    /// start where one of the snapshot's series blocks does (or at the end).
    fn adopt_series(&mut self, snapshot: &mut IndexSnapshot, offset: u64, len: u64) {
        let Some(delta) = self.series_block(offset, None) else { return };
        let r = SeriesBlockRef { offset, len, series: delta.series_count() as u64, fields: delta.fields.len() as u64 };
        let starts = (0..=snapshot.series_blocks.len())
            .find(|&j| covered(&snapshot.series_blocks[..j]) == (delta.first, delta.first_field));
        let Some(j) = starts else {
            self.damaged(offset, "series block does not follow the series known; its series are lost");
            return;
        };
        match delta.apply(&mut snapshot.series) {
            Ok(()) => {
                snapshot.series_blocks.truncate(j);
                snapshot.series_blocks.push(r);
            }
            Err(e) => self.damaged(offset, format!("series block skipped: {e}")),
        }
    }

    /// The directory of the partition block at `offset`, if intact.
    /// The directory of the partition block at `offset`, if intact; on the
    /// fast path `listed` is what the index says of the block.
    fn directory(&mut self, offset: u64, listed: Option<BlockRef>, known: Known) -> Option<PartitionBlock> {
        let Some(head) = self.block_header(offset) else {
            self.damaged(offset, "partition block lies outside the file; its data is unreadable");
            return None;
        };
        let ok = head.kind == BlockType::Partition as u8
            && listed.is_none_or(|b| b.len == head.block_len())
            && offset + head.block_len() <= self.len
            && head.len as usize >= PREFIX_LEN;
        if !ok {
            self.damaged(offset, "partition block header is damaged; its data is unreadable");
            return None;
        }
        let prefix_at = offset + BLOCK_HEADER_LEN as u64;
        let prefix = self.read(prefix_at, PREFIX_LEN as u64).and_then(|b| <[u8; PREFIX_LEN]>::try_from(b).ok());
        let Some(prefix) = prefix.map(|b| Prefix::parse(&b)) else {
            self.damaged(offset, "partition block prefix is unreadable; the block is skipped");
            return None;
        };
        if let Some(b) = listed.filter(|b| b.partition != prefix.partition) {
            let why = format!("partition block holds partition {}, the index says {}", prefix.partition, b.partition);
            self.damaged(offset, why);
            return None;
        }
        let dir_at = prefix_at + PREFIX_LEN as u64;
        let inside = PREFIX_LEN as u64 + u64::from(prefix.dir_len) <= u64::from(head.len);
        let dir = match self.read(dir_at, u64::from(prefix.dir_len)).filter(|_| inside) {
            Some(dir) if crc32fast::hash(&dir) == prefix.dir_crc => dir,
            _ => {
                self.damaged(offset, "partition directory fails its checksum; the block is skipped");
                return None;
            }
        };
        match partition_block::parse_directory(&dir, prefix, offset, head.block_len(), known) {
            Ok(block) => Some(block),
            Err(e) => {
                let e = Error::corrupt_at(self.reader.path(), dir_at, e);
                self.damaged(offset, format!("partition directory skipped: {e}"));
                None
            }
        }
    }

    fn directories(&mut self, snapshot: &IndexSnapshot) -> Vec<PartitionBlock> {
        let known = known(snapshot);
        snapshot.blocks.iter().filter_map(|&b| self.directory(b.offset, Some(b), known)).collect()
    }

    /// The recovery path; see the module docs.
    fn recover(
        &mut self,
        fs: &Arc<dyn Fs>,
        path: &Path,
        partition_ns: i64,
    ) -> Result<(IndexSnapshot, Vec<PartitionBlock>)> {
        self.damaged(self.len, "no intact footer and index at the end of the file; recovering");
        let (mut snapshot, mut pos) = match self.newest_footer() {
            Some((snapshot, end)) => (snapshot, end),
            None => (empty_snapshot(partition_ns), HEADER_LEN),
        };
        // Partition blocks are parsed once the walk is done: the series
        // block of their flush comes after them.
        let mut pending = Vec::new();
        let mut torn_at = None;
        while pos < self.len {
            let Some(head) = self.block_header(pos).filter(|h| pos + h.block_len() <= self.len) else {
                torn_at = Some(pos);
                break;
            };
            match BlockType::from_byte(head.kind) {
                Some(BlockType::Partition) => pending.push(pos),
                Some(BlockType::Series) => self.adopt_series(&mut snapshot, pos, head.block_len()),
                Some(BlockType::Index) => {
                    if let Some(newer) = self.index_block(pos) {
                        snapshot = newer;
                        pending.clear();
                    }
                }
                Some(BlockType::Footer) => {}
                None => {
                    self.damaged(pos, "unknown block type; the rest of the file is skipped");
                    break;
                }
            }
            pos += head.block_len();
        }
        if let Some(at) = torn_at {
            self.damaged(at, format!("torn tail of {} bytes cut off", self.len - at));
            fs.truncate(path, at).map_err(Error::io("truncate", path))?;
            self.len = at;
        }
        let mut blocks = self.directories(&snapshot);
        let known = known(&snapshot);
        let adopted: Vec<PartitionBlock> =
            pending.into_iter().filter_map(|at| self.directory(at, None, known)).collect();
        // The index that listed these blocks' fields is lost: their
        // directories say which fields each measurement has.
        for e in adopted.iter().flat_map(|b| &b.entries) {
            if let Some(m) = snapshot.series.series(e.series).map(|s| s.measurement().to_string()) {
                e.fields.iter().for_each(|&f| snapshot.series.add_field(&m, f));
            }
        }
        blocks.extend(adopted);
        Ok((snapshot, blocks))
    }

    /// The newest footer (scanning backward) whose index is intact, with the
    /// offset just past it.
    fn newest_footer(&mut self) -> Option<(IndexSnapshot, u64)> {
        let mut end = self.len;
        while end > HEADER_LEN {
            let start = end.saturating_sub(SCAN_WINDOW).max(HEADER_LEN);
            let window = self.read(start, end - start)?;
            for i in (0..window.len().saturating_sub(footer::MAGIC.len() - 1)).rev() {
                if window[i..].starts_with(&footer::MAGIC) {
                    let footer_end = start + i as u64 + footer::MAGIC.len() as u64;
                    if let Some(at) = footer_end.checked_sub(FOOTER_LEN as u64).filter(|&at| at >= HEADER_LEN)
                        && let Some(snapshot) = self.index_at(at)
                    {
                        return Some((snapshot, footer_end));
                    }
                }
            }
            // Overlap windows so a magic split across two is still seen.
            end = if start == HEADER_LEN { HEADER_LEN } else { start + footer::MAGIC.len() as u64 - 1 };
        }
        None
    }
}

fn known(snapshot: &IndexSnapshot) -> Known {
    Known {
        series: snapshot.series.len(),
        fields: snapshot.series.field_names().len(),
        partition_ns: snapshot.partition_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;

    /// `bytes` (a file so far) with an index of `index` listing `blocks`, and a footer.
    fn with_index(mut bytes: Vec<u8>, index: &SeriesIndex, blocks: &[BlockRef]) -> Vec<u8> {
        let start = block::begin(&mut bytes, BlockType::Index);
        super::super::index_v1::encode(0, 10, index, blocks, &mut bytes);
        block::finish(&mut bytes, start).expect("fits");
        let footer = Footer { index_offset: start as u64, index_len: (bytes.len() - start) as u64 };
        bytes.extend_from_slice(&footer.encode());
        bytes
    }

    #[test]
    fn blocks_the_index_lists_outside_the_file_or_under_another_partition_are_reported() {
        let dir = std::env::temp_dir().join(format!("chronicle-store-refs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creates");
        let path = dir.join("db");
        let header = block::file_header().to_vec();
        let outside = BlockRef { partition: 0, offset: 1 << 40, len: 100 };
        std::fs::write(&path, with_index(header.clone(), &SeriesIndex::default(), &[outside])).expect("writes");
        let opened = FileStore::open(Arc::new(OsFs), &path, 10).expect("opens");
        assert_eq!(opened.damage.iter().map(|d| d.offset).collect::<Vec<_>>(), vec![1 << 40]);
        // A real block of partition 7, listed as partition 8.
        let mut bytes = header;
        let at = bytes.len() as u64;
        let mut builder = partition_block::PartitionBlockBuilder::new(7);
        builder.add_chunk(&mut Default::default(), 0, &[0], &[75], &[&[1.0]]).expect("adds");
        let len = builder.finish(&mut bytes, at).expect("finishes").len;
        let mut index = SeriesIndex::default();
        index.insert(crate::model::SeriesKey::new("m", Vec::new()));
        index.field_id("f");
        let listed = BlockRef { partition: 8, offset: at, len };
        std::fs::write(&path, with_index(bytes, &index, &[listed])).expect("writes");
        let opened = FileStore::open(Arc::new(OsFs), &path, 10).expect("opens");
        assert!(opened.blocks.is_empty());
        assert_eq!(opened.damage.iter().map(|d| d.offset).collect::<Vec<_>>(), vec![at]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
