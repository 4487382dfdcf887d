//! Scale-out SQL over the cold tier on Apache Ballista (cargo feature
//! `ballista`): the tier's Parquet files are the data set every machine
//! shares, a Ballista scheduler splits a query into stages and executors
//! scan the files.
//!
//! ```text
//! client   connect(df://host:port) ─▶ register_tier(ctx, tier URL): the manifest mirror's files,
//!            one listing table per measurement (a view hiding deleted rows where deletes apply)
//!            └─ SQL ─▶ logical plan (datafusion-proto) ─▶ scheduler
//! scheduler  session with Chronicle's functions ─▶ physical plan ─▶ stages ─▶ executors
//! executor   function registry with Chronicle's functions ─▶ Parquet scans of the tier, shuffles
//! ```
//!
//! Invariants:
//! - The client, the scheduler and every executor register the same
//!   functions (DataFusion's, Ballista's and `chronicle-udfs`'s, see
//!   [`with_chronicle_functions`]). Plans carry a function by its name and
//!   each process resolves the name in its own registry, so a process
//!   without Chronicle's functions refuses a plan that calls one.
//! - The plans are made of listing tables and DataFusion's own operators:
//!   no Chronicle plan node reaches Ballista (those read the local database
//!   file, which a cluster does not have), so Ballista's default codecs
//!   serialise every plan and Chronicle needs no codec of its own.
//! - A tier table holds the tiered partitions only: partitions not tiered
//!   yet live in the database file and are not part of the shared data set.

mod cluster;
mod tier_tables;

pub use cluster::{
    ExecutorOptions, SchedulerOptions, connect, function_registry, run_executor, run_scheduler, spawn_executor,
    spawn_scheduler, with_chronicle_functions,
};
pub use tier_tables::register_tier;

/// What the Ballista integration can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No Ballista scheduler answered at `url`.
    #[error("the Ballista scheduler at {url} is unreachable: {detail}")]
    Unreachable {
        /// The scheduler as given.
        url: String,
        /// Why the connection failed.
        detail: String,
    },
    /// An argument was refused: a malformed scheduler URL, an unusable tier.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The scheduler or an executor failed to start or stopped with an error.
    #[error("Ballista {role} failed: {source}")]
    Ballista {
        /// `scheduler` or `executor`.
        role: &'static str,
        /// Ballista's error.
        source: ballista_core::error::BallistaError,
    },
    /// The tier could not be read.
    #[error(transparent)]
    Tier(#[from] crate::Error),
    /// Planning a table or a query failed.
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

/// Result of the Ballista integration.
pub type Result<T, E = Error> = std::result::Result<T, E>;
