//! The SQL entry points of [`Db`]: sessions, tables and `query_sql`.

use std::sync::Arc;

use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{FunctionRegistry, SendableRecordBatchStream};
use datafusion::prelude::{SessionConfig, SessionContext};

use super::catalog::ChronicleSchema;
use super::date_trunc_rewrite::DateTruncRewrite;
use super::latest_rule::ChronicleLatestRule;
use super::query_planner::ChronicleQueryPlanner;
use super::rollup_setting::ChronicleSettings;
use super::stats_rule::ChronicleStatsRule;
use super::system::SystemSchema;
use super::table::ChronicleTable;
use super::top_buckets_rule::ChronicleTopBucketsRule;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::promql::PromqlTableFunction;

/// The default catalog and schema of a Chronicle session.
const CATALOG: &str = "datafusion";
const SCHEMA: &str = "public";
/// The schema of the system tables.
const SYSTEM_SCHEMA: &str = "chronicle";

impl Db {
    /// A DataFusion session with every measurement as a table of the default
    /// schema (new measurements appear without re-registering), the system
    /// tables `chronicle.measurements`, `chronicle.series` and
    /// `chronicle.partitions`, `information_schema` enabled, the
    /// time-series functions of `chronicle-udfs` and the table function
    /// `promql('expr', start, end, step)` registered, and the
    /// operators of the dialect (gap filling) planned. Simple aggregates
    /// over whole chunks are answered from chunk statistics
    /// ([`super::ChronicleStatsRule`]), and latest-row aggregates from the
    /// latest row of each series ([`super::ChronicleLatestRule`]), and
    /// `ORDER BY` a time bucket with `LIMIT` reads only the buckets it needs
    /// ([`super::ChronicleTopBucketsRule`]); `date_trunc` buckets of fixed
    /// length are `date_bin` buckets for both ([`super::DateTruncRewrite`]).
    /// Chronicle's settings
    /// ([`super::ChronicleSettings`], such as `SET chronicle.rollup = 'off'`)
    /// are registered.
    pub fn session_context(&self) -> SessionContext {
        let config =
            SessionConfig::new().with_information_schema(true).with_option_extension(ChronicleSettings::default());
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_query_planner(Arc::new(ChronicleQueryPlanner))
            .with_physical_optimizer_rule(Arc::new(ChronicleTopBucketsRule))
            .with_physical_optimizer_rule(Arc::new(ChronicleStatsRule))
            .with_physical_optimizer_rule(Arc::new(ChronicleLatestRule))
            .build();
        let mut ctx = SessionContext::new_with_state(state);
        // Cannot fail: the session state only adds it to its analyzer.
        let _ = ctx.register_function_rewrite(Arc::new(DateTruncRewrite));
        chronicle_udfs::register_all(&ctx);
        ctx.register_udtf("promql", Arc::new(PromqlTableFunction::new(self.clone())));
        if let Some(catalog) = ctx.catalog(CATALOG) {
            // Registering schemas cannot fail for the in-memory catalog.
            let _ = catalog.register_schema(SCHEMA, Arc::new(ChronicleSchema::new(self.clone())));
            let _ = catalog.register_schema(SYSTEM_SCHEMA, Arc::new(SystemSchema::new(self.clone())));
        }
        ctx
    }

    /// The table of `measurement`, to register in any DataFusion session.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use datafusion::prelude::SessionContext;
    /// use chronicle::{Config, Db, Point};
    ///
    /// let dir = std::env::temp_dir().join(format!("chronicle-doc-table-{}", std::process::id()));
    /// let db = Db::open(dir.join("db"), Config::default())?;
    /// db.write(&[Point::new("cpu", 0.5, 1_000).with_tag("host", "a"), Point::new("cpu", 0.7, 2_000).with_tag("host", "b")])?;
    ///
    /// let ctx = SessionContext::new();
    /// ctx.register_table("cpu", Arc::new(db.table("cpu")?))?;
    /// let rows = ctx.sql("SELECT host, value FROM cpu WHERE value > 0.6").await?.collect().await?;
    /// assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    /// # db.close()?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn table(&self, measurement: &str) -> Result<ChronicleTable> {
        ChronicleTable::try_new(self, measurement)
    }

    /// Runs a SQL statement in a fresh [`Db::session_context`] and streams its result.
    ///
    /// Errors of the running stream are DataFusion's; converting one into an
    /// [`Error`] (`Error::from`, as `?` does in a function returning
    /// [`Result`]) gives back the Chronicle error it carries, e.g.
    /// [`Error::Corrupt`] with the file and offset of damage a scan found.
    pub async fn query_sql(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        let ctx = self.session_context();
        let frame = ctx.sql(sql).await.map_err(Error::from)?;
        frame.execute_stream().await.map_err(Error::from)
    }
}
