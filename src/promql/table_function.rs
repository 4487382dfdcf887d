//! The SQL table function `promql('expr', start, end, step)`: a PromQL
//! range query as a table (`time`, one column per label, `value`; see
//! [`super::rows`]) that SQL can filter, aggregate and join with the
//! measurement tables:
//!
//! ```sql
//! SELECT p.host, p.value, c.usage_idle
//! FROM promql('rate(cpu_usage_user[5m])', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', '1m') p
//! JOIN cpu c ON c.host = p.host AND c.time = p.time
//! ```
//!
//! `start` and `end` are RFC 3339 strings, timestamps, or numbers of
//! seconds since the epoch; `step` is a duration string (`'30s'`, `'1m'`)
//! or a number of seconds. Arguments are constant expressions (folded
//! before use, so `now() - INTERVAL '1 hour'` works). The query is planned
//! when SQL is planned (its label columns make the table's schema); the
//! scan runs the PromQL plan. A bad argument is a planning error naming it,
//! and so is an expression nested deeper than the runtime's threads can
//! run ([`MAX_SQL_DEPTH`]).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result as DfResult, ScalarValue, plan_datafusion_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

use super::options::PromOptions;
use super::{engine, range, stack};
use crate::db::Db;

/// The `promql` table function of [`Db::session_context`]; see the module docs.
pub struct PromqlTableFunction {
    db: Db,
}

impl PromqlTableFunction {
    /// The function over `db`.
    pub fn new(db: Db) -> Self {
        PromqlTableFunction { db }
    }
}

impl fmt::Debug for PromqlTableFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PromqlTableFunction")
    }
}

impl TableFunctionImpl for PromqlTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let [expr, start, end, step] = args.exprs() else {
            return plan_err!("promql(expr, start, end, step) takes 4 arguments, got {}", args.exprs().len());
        };
        let simplifier = ExprSimplifier::new(SimplifyContext::builder().with_current_time().build());
        let constant = |e: &Expr, name: &str| -> DfResult<ScalarValue> {
            match simplifier.simplify(e.clone())? {
                Expr::Literal(v, _) if !v.is_null() => Ok(v),
                other => plan_err!("promql(): argument {name} must be a constant, got {other}"),
            }
        };
        let text = match constant(expr, "expr")? {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => s,
            other => return plan_err!("promql(): argument expr must be a PromQL string, got {other}"),
        };
        let start = time_ms(constant(start, "start")?, "start")?;
        let end = time_ms(constant(end, "end")?, "end")?;
        let step = step_ms(constant(step, "step")?)?;
        let prom = |e: super::PromError| plan_datafusion_err!("promql(): {e}");
        let range = range(start, end, step).map_err(prom)?;
        let plan = stack::on_query_thread(|| {
            let (ctx, planned) = engine::plan(&self.db, &text, range, &PromOptions::default())?;
            engine::plan_rows(&ctx, planned)
        })
        .map_err(prom)?;
        let depth = depth(&plan);
        if depth > MAX_SQL_DEPTH {
            return plan_err!(
                "promql(): the expression nests {depth} operators deep; in SQL at most {MAX_SQL_DEPTH} are run \
                 (Db::query_promql and the Prometheus API run deeper ones)"
            );
        }
        let schema = Arc::clone(plan.schema().inner());
        Ok(Arc::new(PromqlTable { plan, schema }))
    }
}

/// The deepest PromQL plan the table function runs. Its execs run on the
/// session's runtime, whose threads have ordinary stacks, and its streams
/// nest once per level; the synchronous entry points have a thread of their
/// own for deeper ones ([`super::stack`]).
const MAX_SQL_DEPTH: usize = 64;

/// The number of nodes on the longest path from the root of `plan` to a
/// leaf, counted without recursing.
fn depth(plan: &LogicalPlan) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(plan, 1)];
    while let Some((node, level)) = pending.pop() {
        deepest = deepest.max(level);
        pending.extend(node.inputs().into_iter().map(|input| (input, level + 1)));
    }
    deepest
}

/// Milliseconds since the epoch of a `start` / `end` argument.
fn time_ms(v: ScalarValue, name: &str) -> DfResult<i64> {
    let bad = |v: &ScalarValue| {
        plan_datafusion_err!(
            "promql(): argument {name} must be an RFC 3339 time, a timestamp or seconds since the epoch, got {v}"
        )
    };
    match &v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            match datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(s) {
                Ok(ns) => Ok(ns.div_euclid(1_000_000)),
                Err(_) => match s.trim().parse::<f64>() {
                    Ok(seconds) if seconds.is_finite() => Ok((seconds * 1000.0).round() as i64),
                    _ => Err(bad(&v)),
                },
            }
        }
        ScalarValue::Float64(Some(_))
        | ScalarValue::Float32(Some(_))
        | ScalarValue::Int64(Some(_))
        | ScalarValue::Int32(Some(_))
        | ScalarValue::UInt64(Some(_))
        | ScalarValue::UInt32(Some(_)) => {
            let seconds = match v.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(s)) if s.is_finite() => s,
                _ => return Err(bad(&v)),
            };
            Ok((seconds * 1000.0).round() as i64)
        }
        ScalarValue::TimestampSecond(..)
        | ScalarValue::TimestampMillisecond(..)
        | ScalarValue::TimestampMicrosecond(..)
        | ScalarValue::TimestampNanosecond(..) => {
            match v.cast_to(&DataType::Timestamp(TimeUnit::Millisecond, None))? {
                ScalarValue::TimestampMillisecond(Some(ms), _) => Ok(ms),
                _ => Err(bad(&v)),
            }
        }
        _ => Err(bad(&v)),
    }
}

/// Milliseconds of the `step` argument.
fn step_ms(v: ScalarValue) -> DfResult<i64> {
    let bad = |v: &ScalarValue| {
        plan_datafusion_err!(
            "promql(): argument step must be a duration such as '30s' or '1m', or a number of seconds, got {v}"
        )
    };
    match &v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            if let Ok(seconds) = s.trim().parse::<f64>() {
                return if seconds.is_finite() { Ok((seconds * 1000.0).round() as i64) } else { Err(bad(&v)) };
            }
            promql_parser::util::parse_duration(s.trim())
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .map_err(|_| bad(&v))
        }
        ScalarValue::Float64(Some(_))
        | ScalarValue::Float32(Some(_))
        | ScalarValue::Int64(Some(_))
        | ScalarValue::Int32(Some(_))
        | ScalarValue::UInt64(Some(_))
        | ScalarValue::UInt32(Some(_)) => match v.cast_to(&DataType::Float64)? {
            ScalarValue::Float64(Some(s)) if s.is_finite() => Ok((s * 1000.0).round() as i64),
            _ => Err(bad(&v)),
        },
        _ => Err(bad(&v)),
    }
}

/// One call of the function: the planned query.
#[derive(Debug)]
struct PromqlTable {
    plan: LogicalPlan,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for PromqlTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let exec = engine::physical_plan(&self.plan).await.map_err(super::node::into_df)?;
        match projection {
            Some(columns) => {
                let exprs = columns.iter().map(|&i| {
                    let field = self.schema.field(i);
                    let column: Arc<dyn datafusion::physical_plan::PhysicalExpr> =
                        Arc::new(datafusion::physical_expr::expressions::Column::new(field.name(), i));
                    (column, field.name().clone())
                });
                Ok(Arc::new(ProjectionExec::try_new(exprs, exec)?))
            }
            None => Ok(exec),
        }
    }
}
