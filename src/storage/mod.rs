//! The storage engine below [`crate::Db`]: the series index, the in-memory
//! head, the single database file, and scans that merge them (or hand whole
//! chunks over as their statistics, for aggregates).

pub mod file;
pub mod head;
pub mod matcher;
pub mod merge;
pub mod scan;
pub mod series_index;
pub(crate) mod stats_scan;
pub mod time_bucket;
pub mod tombstone;
