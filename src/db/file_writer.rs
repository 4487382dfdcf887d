//! The file writer: the one holder of the database file's append handle and
//! the chunk encoder, behind a mutex of its own (the flush mutex).
//!
//! Whoever writes the file holds it: a flush, a compaction, the index
//! rewrite after recovery. So one of them runs at a time, and each does its
//! encoding, appending and fsyncing while holding only this mutex, never the
//! state lock that writers and scan planning take. The state lock is taken
//! only briefly, to freeze what is written and to swap in what was written.

use crate::encoding::ChunkEncoder;
use crate::storage::file::footer::{FOOTER_LEN, Footer};
use crate::storage::file::store::FileStore;

/// The file's append handle and the encoder every block is built with.
#[derive(Debug)]
pub(crate) struct FileWriter {
    pub store: FileStore,
    pub encoder: ChunkEncoder,
    /// Bytes of the index block and footer in force (what compaction
    /// would write again besides the listed blocks).
    pub index_bytes: u64,
}

impl FileWriter {
    /// A writer appending to `store`.
    pub fn new(store: FileStore) -> Self {
        let tail = FOOTER_LEN as u64;
        let footer = store.len().checked_sub(tail).and_then(|at| store.reader().read(at, FOOTER_LEN).ok());
        let index_bytes = footer.and_then(|f| Footer::parse(&f)).map_or(0, |f| f.index_len + tail);
        Self { store, encoder: ChunkEncoder::default(), index_bytes }
    }
}
