//! PromQL: Prometheus's query language over Chronicle's measurements.
//!
//! Each (measurement, field) is a metric: named `measurement` when the field
//! is `value`, else `measurement_field`, with the tags as labels. A query is
//! parsed by `promql-parser`, planned as a DataFusion logical plan of
//! PromQL nodes and run with Prometheus's semantics (lookback delta,
//! staleness markers, offset and `@`, subqueries, vector matching,
//! extrapolation in `rate`), every node evaluating all the steps of the
//! query at once.
//!
//! ```text
//!  text ─▶ guard (depth) ─▶ renamed functions ─▶ promql_parser ─▶ Expr
//!  Expr ─▶ planner ─▶ LogicalPlan of PromNodes (one operator each):
//!          PromSeriesScan (selector.rs: the measurement tables, matchers
//!          and time window pushed down), PromInstant, PromSubquery,
//!          PromRangeFunction (calling the `prom_*` scalar functions),
//!          PromFunction, PromAggregate, PromBinary,
//!          PromNegate, PromLiteral; PromRows on top for Arrow rows
//!       ─▶ ChronicleQueryPlanner ─▶ PromExecs, passing series batches
//!       ─▶ QueryResult (scalar, string, vector, matrix + warnings/infos)
//!          or Arrow rows (time, one column per label, value)
//! ```
//!
//! Times are milliseconds since the Unix epoch, as in Prometheus.

mod aggregate;
mod aggregate_reduce;
mod binary;
mod context;
mod dates;
mod engine;
mod error;
mod format;
mod functions;
mod guard;
mod histogram;
mod instant;
pub mod labels;
mod literal;
mod negate;
mod node;
mod options;
mod planner;
mod range_functions;
mod range_histograms;
mod renamed_functions;
mod rows;
mod selector;
mod series;
mod series_batch;
mod stack;
mod subquery;
mod table_function;
mod value;

pub use error::{PromError, Result};
pub use format::format_query;
pub use functions::valid_label_name;
pub(crate) use node::as_prom_node;
pub use node::{PromExec, PromNode};
pub use options::PromOptions;
pub use rows::{TIME_COLUMN, VALUE_COLUMN};
#[cfg(feature = "server")]
pub(crate) use selector::{Metric, catalog};
pub use table_function::PromqlTableFunction;
pub use value::{Labels, METRIC_NAME, PromValue, QueryResult, Sample, Series, format_value};

use datafusion::arrow::array::RecordBatch;

use crate::db::Db;
use series::Range;

impl Db {
    /// Evaluation reads the database synchronously: call it from a blocking
    /// thread in async code.
    ///
    /// Evaluates `expr` at one time (`time_ms`, milliseconds since the
    /// epoch), as Prometheus's `/api/v1/query` does.
    pub fn promql_instant(&self, expr: &str, time_ms: i64, options: &PromOptions) -> Result<QueryResult> {
        let range = Range { start: time_ms, end: time_ms, step: 0 };
        stack::on_query_thread(|| engine::evaluate(self, expr, range, true, options))
    }

    /// Evaluates `expr` at every `step_ms` from `start_ms` to `end_ms`
    /// inclusive, as Prometheus's `/api/v1/query_range` does: the answer is
    /// a matrix (a scalar becomes one series without labels).
    pub fn promql_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        options: &PromOptions,
    ) -> Result<QueryResult> {
        let range = range(start_ms, end_ms, step_ms)?;
        stack::on_query_thread(|| engine::evaluate(self, expr, range, false, options))
    }

    /// Evaluates `expr` at every `step_ms` from `start_ms` to `end_ms`
    /// inclusive (milliseconds since the epoch) and returns Arrow rows:
    /// `time` (`Timestamp(Nanosecond, "UTC")`), one nullable `Utf8` column
    /// per label the answer's series can carry (sorted), and `value`
    /// (`Float64`); one row per series and step with a value, series sorted
    /// by labels, each in time order. Synchronous, like
    /// [`Db::promql_range`]; default [`PromOptions`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use datafusion::arrow::array::{AsArray, Float64Array};
    /// use chronicle::{Config, Db, Point};
    ///
    /// let dir = std::env::temp_dir().join(format!("chronicle-doc-promql-{}", std::process::id()));
    /// let db = Db::open(dir.join("db"), Config::default())?;
    /// // Times in nanoseconds: 0 s, 60 s, 120 s.
    /// db.write(&[
    ///     Point::new("requests", 1.0, 0).with_tag("host", "a"),
    ///     Point::new("requests", 4.0, 60_000_000_000).with_tag("host", "a"),
    ///     Point::new("requests", 9.0, 120_000_000_000).with_tag("host", "a"),
    /// ])?;
    /// // Times in milliseconds: steps at 60 s and 120 s.
    /// let batches = db.query_promql("requests * 2", 60_000, 120_000, 60_000)?;
    /// let batch = &batches[0];
    /// assert_eq!(batch.schema().field(1).name(), "host");
    /// let values: &Float64Array = batch.column_by_name("value").unwrap().as_primitive();
    /// assert_eq!(values.values().to_vec(), vec![8.0, 18.0]);
    /// # db.close()?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn query_promql(&self, expr: &str, start_ms: i64, end_ms: i64, step_ms: i64) -> Result<Vec<RecordBatch>> {
        self.promql_rows(expr, range(start_ms, end_ms, step_ms)?)
    }

    /// Evaluates `expr` at one time (`time_ms`, milliseconds since the
    /// epoch) and returns Arrow rows, shaped as [`Db::query_promql`]'s.
    pub fn query_promql_instant(&self, expr: &str, time_ms: i64) -> Result<Vec<RecordBatch>> {
        self.promql_rows(expr, Range { start: time_ms, end: time_ms, step: 0 })
    }

    /// The plan of `expr` over a range query's steps, as `EXPLAIN` shows
    /// it: one line per node, indented under its parent, with every
    /// parameter (tables, matchers, time windows, steps, lookback, offset,
    /// `@`, operators, matching, grouping).
    pub fn explain_promql(&self, expr: &str, start_ms: i64, end_ms: i64, step_ms: i64) -> Result<String> {
        let range = range(start_ms, end_ms, step_ms)?;
        stack::on_query_thread(|| {
            let (ctx, planned) = engine::plan(self, expr, range, &PromOptions::default())?;
            let plan = engine::plan_rows(&ctx, planned)?;
            Ok(plan.display_indent().to_string())
        })
    }

    fn promql_rows(&self, expr: &str, range: Range) -> Result<Vec<RecordBatch>> {
        stack::on_query_thread(|| {
            let (ctx, planned) = engine::plan(self, expr, range, &PromOptions::default())?;
            engine::run(&engine::plan_rows(&ctx, planned)?)
        })
    }
}

/// The steps of a range query, checked as Prometheus checks them.
fn range(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<Range> {
    if step_ms <= 0 {
        return Err(PromError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if end_ms < start_ms {
        return Err(PromError::BadData("end timestamp must not be before start time".into()));
    }
    Ok(Range { start: start_ms, end: end_ms, step: step_ms })
}
