//! Chronicle: an embedded time-series database built on Apache Arrow and DataFusion.
//!
//! Chronicle stores metrics (a measurement, tags, float fields, a nanosecond
//! timestamp) in one local file and answers SQL, its InfluxQL-like dialect and
//! PromQL about them. This crate is being built bottom up; what exists today is
//! the column codec layer every stored batch sits on:
//!
//! ```text
//!  points of one series        encoding::ChunkEncoder            bytes on disk
//!  (timestamps, fields) ──▶ time scale ─▶ PackedInts | DeltaOfDelta ──┐
//!                           per field ─▶ Constant | Decimal | RunLength ├─▶ chunk
//!                                        | GorillaXor | Plain, + stats ┘  (+CRC)
//!  Arrow arrays  ◀── encoding::Chunk::decode_range ◀──────────────────────┘
//! ```
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

pub mod encoding;
pub mod fs;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wal;
