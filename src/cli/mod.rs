//! The subcommands of the `chronicle` binary, one file each, over the
//! library's public API only.
//!
//! ```text
//! serve   config (file < env < flags) ─▶ Db::open ─▶ http::Server ─▶ signal ─▶ flush, close
//! query   SQL or dialect ─▶ Db (embedded) | POST /query?format=arrow ─▶ table, CSV, JSON
//! import  line protocol, CSV, Parquet ─▶ rows in batches ─▶ Db::write_rows | POST /write
//! export  Db::export_parquet_with ─▶ a path or s3://
//! inspect partitions, series, points, bytes/point, encodings, recovery report
//! ballista scheduler, executor, query over the cold tier (feature `ballista`)
//! ```
//! Every failure is a [`CliError`], printed once by `main` with its exit
//! code (2: usage and settings, 1: the work failed).

#[cfg(feature = "ballista")]
pub mod ballista;
pub mod config;
pub mod data_dir;
mod error;
pub mod export;
pub mod import;
pub mod inspect;
pub mod logging;
pub mod query;
pub mod remote;
pub mod serve;
pub mod units;

pub use error::CliError;
