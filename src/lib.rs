//! Chronicle: an embedded time-series database built on Apache Arrow and DataFusion.
//!
//! Chronicle stores metrics (a measurement, tags, float fields, a nanosecond
//! timestamp) in one local file with its write-ahead log beside it. A Rust
//! program opens it with one call; every acknowledged point survives a crash.
//!
//! ```text
//!  wire bodies (line protocol, JSON, Prometheus remote write, OTLP, Arrow batches of Flight SQL ingest)
//!     │ ingest: parse to rows, all or nothing, errors name line / item / column
//!     ▼
//!  Db::write(points | rows)
//!     │ model: validate names and tags          db::wal_record: one record per batch
//!     ▼
//!  wal ── append, group commit, fsync per SyncPolicy ──▶ PATH.wal/*.wal
//!     ▼
//!  storage::head ── per partition, series, field: columns in memory
//!     │ flush (partition closed, memory budget, WAL size: on the flush thread, frozen
//!     │ partitions still read; flush(), close(): on the caller's)
//!     ▼
//!  encoding::ChunkEncoder ─▶ storage::file::partition_block ─┐
//!  storage::series_index  ─▶ storage::file::index_block  ────┼─▶ PATH (append-only,
//!                            storage::file::footer ──────────┘    fsync, then WAL checkpoint)
//!
//!  Db::scan ─▶ storage::scan: chunks of the file + head, last write wins ─▶ Arrow RecordBatches
//!
//!  flight (chronicle-flight): Flight SQL statements ─▶ Db::session_context, ingest ─▶ Db::write_rows
//!
//!  SQL (DataFusion) ─▶ query::ChronicleTable (filter pushdown) ─▶ query::ChronicleScanExec
//!                      (one partition per time partition) ─▶ Db::scan;  functions: chronicle-udfs
//! ```
//!
//! ```
//! use chronicle::{Config, Db, Point, ScanRequest, TagMatcher};
//!
//! let dir = std::env::temp_dir().join(format!("chronicle-doc-{}", std::process::id()));
//! let db = Db::open(dir.join("metrics.chronicle"), Config::default())?;
//! let t0 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z in nanoseconds
//! db.write(&[
//!     Point::new("temperature", 21.5, t0).with_tag("room", "kitchen"),
//!     Point::new("temperature", 19.0, t0).with_tag("room", "hall"),
//!     Point::new("temperature", 21.7, t0 + 60_000_000_000).with_tag("room", "kitchen"),
//! ])?;
//! db.flush()?;
//!
//! let scan = db.scan(&ScanRequest::new("temperature").with_matcher(TagMatcher::eq("room", "kitchen")))?;
//! let batches = scan.collect_batches()?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
//! assert_eq!(db.tag_values("room", Some("temperature"), None)?, ["hall", "kitchen"]);
//! db.close()?;
//! # drop(db);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), chronicle::Error>(())
//! ```
//!
//! The column codecs underneath are usable on their own:
//!
//! ```
//! use chronicle::encoding::{Chunk, ChunkEncoder, EncodingPolicy};
//!
//! let times: Vec<i64> = (0..360).map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000).collect();
//! let temps: Vec<f64> = (0..360).map(|i| 20.0 + f64::from(i % 7) / 10.0).collect();
//! let mut bytes = Vec::new();
//! ChunkEncoder::new(EncodingPolicy::Adaptive).encode(&times, &[&temps], &mut bytes)?;
//!
//! let chunk = Chunk::parse(&bytes)?;
//! assert_eq!(chunk.stats(0)?.max, 20.6);
//! let decoded = chunk.decode_range(times[10], times[19], &[0])?;
//! assert_eq!(decoded.timestamps.len(), 10);
//! assert_eq!(decoded.values[0].value(0), temps[10]);
//! # Ok::<(), chronicle::encoding::Error>(())
//! ```

#[cfg(feature = "ballista")]
pub mod ballista;
mod db;
pub mod encoding;
mod error;
#[cfg(feature = "flight")]
pub mod flight;
mod framed_file;
pub mod fs;
#[cfg(feature = "server")]
pub mod http;
pub mod ingest;
mod model;
pub mod promql;
pub mod query;
mod rollup;
mod storage;
#[cfg(feature = "testing")]
pub mod testing;
mod tier;
mod wal;

pub use db::{
    Clock, CompactionPolicy, CompactionReason, Config, Db, EncodingCount, EncodingUsage, ManualClock, PartitionInfo,
    RecoveryReport, Retention, SystemClock,
};
pub use error::{Error, Result};
pub use model::{InvalidInput, Point, Row, SeriesKey, WriteRow, histogram};
pub use query::{ChronicleSchema, ChronicleTable, ExportOptions, ExportSource};
pub use rollup::{RollupAggregate, RollupError, RollupRule, RollupStatus};
pub use storage::file::store::FileDamage;
pub use storage::matcher::{MatchOp, TagMatcher};
pub use storage::scan::{FieldRange, Scan, ScanRequest};
pub use tier::{TierConfig, TierMergeExec, TieredFile};
pub use wal::{Damage as WalDamage, Error as WalError, RecoveryReport as WalRecoveryReport, SyncPolicy};
