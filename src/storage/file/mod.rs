//! The single database file: append-only blocks, an index, a footer.
//!
//! [`block`] frames every block and the file header; [`partition_block`]
//! holds encoded chunks with their directory; [`series_block`] the series a
//! flush adds; [`index_block`] the list of series and partition blocks;
//! [`footer`] points at the latest index. [`store`]
//! opens the file (fast path: footer, index and directories only; recovery
//! path: the newest intact index plus any later intact blocks), appends
//! flushes, and rewrites the file on compaction. `docs/design.md` has every
//! byte and the commit protocol.

pub mod block;
pub mod footer;
pub mod index_block;
pub mod index_v1;
pub mod partition_block;
pub mod series_block;
pub mod store;
