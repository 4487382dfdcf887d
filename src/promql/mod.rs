//! PromQL: Prometheus's query language over Chronicle's measurements.
//!
//! Each (measurement, field) is a metric: named `measurement` when the field
//! is `value`, else `measurement_field`, with the tags as labels. A query is
//! parsed by `promql-parser` and evaluated at the steps of its time range
//! with Prometheus's semantics (lookback delta, staleness markers, offset and
//! `@`, subqueries, vector matching, extrapolation in `rate`).
//!
//! ```text
//!  text ─▶ guard (depth) ─▶ promql_parser ─▶ Expr
//!  Expr ─▶ evaluator: selectors read the measurement tables (matchers and
//!          the time window pushed down), then functions, aggregations and
//!          binary operators over series at each step
//!       ─▶ PromValue (scalar, string, vector, matrix) + warnings/infos
//! ```
//!
//! Times are milliseconds since the Unix epoch, as in Prometheus.

mod aggregate;
mod binary;
mod dates;
mod engine;
mod error;
mod functions;
mod guard;
mod histogram;
pub mod labels;
mod options;
mod range_functions;
mod selector;
mod value;

pub use error::{PromError, Result};
pub use functions::valid_label_name;
pub use options::PromOptions;
#[cfg(feature = "server")]
pub(crate) use selector::{Metric, catalog};
pub use value::{Labels, METRIC_NAME, PromValue, QueryResult, Sample, Series, format_value};

use crate::db::Db;

impl Db {
    /// Evaluation reads the database synchronously: call it from a blocking
    /// thread in async code.
    ///
    /// Evaluates `expr` at one time (`time_ms`, milliseconds since the
    /// epoch), as Prometheus's `/api/v1/query` does.
    pub fn promql_instant(&self, expr: &str, time_ms: i64, options: &PromOptions) -> Result<QueryResult> {
        engine::evaluate(self, expr, engine::Range { start: time_ms, end: time_ms, step: 0 }, true, options)
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
        if step_ms <= 0 {
            return Err(PromError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(PromError::BadData("end timestamp must not be before start time".into()));
        }
        engine::evaluate(self, expr, engine::Range { start: start_ms, end: end_ms, step: step_ms }, false, options)
    }
}
