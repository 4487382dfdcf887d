//! SQL over Chronicle: DataFusion tables, scans and sessions.
//!
//! ```text
//! SQL ─▶ DataFusion planner ─▶ ChronicleTable::supports_filters_pushdown (filter)
//!                            ─▶ ChronicleTable::scan ─▶ ChronicleScanExec (scan_exec)
//!                                                        └─ Db::scan per time partition
//! ```
//! [`crate::Db::session_context`] gives a `SessionContext` whose default
//! schema is [`ChronicleSchema`] (every measurement, found at query time),
//! with the system tables of [`SystemSchema`] as schema `chronicle` and
//! `information_schema` on. Any DataFusion application can instead
//! register [`crate::Db::table`] itself.

mod catalog;
mod date_trunc_rewrite;
pub mod dialect;
mod export;
mod export_destination;
pub(crate) mod filter;
mod gap_fill;
mod latest_exec;
mod latest_rule;
mod query_planner;
mod rollup_setting;
mod scan_exec;
mod scan_input;
mod session;
mod stats_exec;
mod stats_rule;
mod structured;
mod system;
mod table;
mod top_buckets_rule;

pub use catalog::ChronicleSchema;
pub use date_trunc_rewrite::DateTruncRewrite;
pub use export::ExportSource;
pub use export_destination::ExportOptions;
#[cfg(feature = "s3")]
pub(crate) use export_destination::s3_builder;
pub use gap_fill::GapFillExec;
pub use latest_exec::ChronicleLatestExec;
pub use latest_rule::ChronicleLatestRule;
pub use query_planner::ChronicleQueryPlanner;
pub use rollup_setting::{ChronicleSettings, RollupMode};
pub use scan_exec::ChronicleScanExec;
pub use stats_exec::ChronicleStatsExec;
pub use stats_rule::ChronicleStatsRule;
pub use structured::{Aggregation, Query};
pub use system::SystemSchema;
pub use table::ChronicleTable;
pub use top_buckets_rule::ChronicleTopBucketsRule;

use datafusion::error::DataFusionError;

/// A database error at the DataFusion boundary.
pub(crate) fn to_df_error(e: crate::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
