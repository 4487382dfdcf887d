//! `ChronicleLatestRule`: answers "the latest row of each group" from the
//! latest row of each series, instead of every row.
//!
//! `SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC` (TSBS's
//! lastpoint) plans as an aggregate of `first_value(.. ORDER BY host, time
//! DESC)` per host. Such an aggregate only ever reads the latest row of each
//! group, and the latest row of a group of series is the latest row of one
//! of them. So the rule replaces the aggregate (Single, or Final over its
//! Partial) by [`ChronicleLatestExec`] over a scan returning one row per
//! series ([`ChronicleScanExec::latest`]) when all of this holds:
//! - plain `GROUP BY` of tag columns (or none), no group limit, no FILTER;
//! - the (Partial) aggregate's input is a Chronicle scan (as
//!   [`Input::under`] finds it) that applies every filter itself (no field
//!   ranges) and has no limit;
//! - if that scan is in a union with tiered partitions (see
//!   [`crate::tier`]), every series the scan may return has a point after
//!   the newest of them ([`ChronicleScanExec::has_every_series_after`]):
//!   then no tiered row is any series' latest, and the union is replaced by
//!   the scan alone, so the Parquet files are not read;
//! - every aggregate is `first_value` ordered by `time DESC` or `last_value`
//!   ordered by `time ASC` (besides group tags, constant in a group), without
//!   IGNORE NULLS or DISTINCT, or `max(time)`.
//!
//! The replacement keeps the aggregate's output schema and partitioning
//! (hash-repartitioning its single partition when the aggregate had more).
//! Invariant: every group gets its latest row; between rows of equal time
//! the pick is unspecified, as it is for the aggregate.
//!
//! [`ChronicleScanExec::latest`]: super::ChronicleScanExec::latest
//! [`ChronicleScanExec::has_every_series_after`]: super::ChronicleScanExec::has_every_series_after

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::common::config::ConfigOptions;
use datafusion::functions_aggregate::first_last::{FirstValue, LastValue};
use datafusion::functions_aggregate::min_max::Max;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, PhysicalExpr};

use super::latest_exec::ChronicleLatestExec;
use super::scan_input::{Input, Source, Tiers, exact_scan_under, rewrite_up};
use super::to_df_error;

/// Answers latest-row aggregates from one row per series; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChronicleLatestRule;

impl PhysicalOptimizerRule for ChronicleLatestRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> DfResult<Arc<dyn ExecutionPlan>> {
        rewrite_up(plan, latest_for)
    }

    fn name(&self) -> &str {
        "chronicle_latest"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` answered by [`ChronicleLatestExec`], if it may be.
fn latest_for(node: &Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(top) = node.downcast_ref::<AggregateExec>() else { return Ok(None) };
    let Some((reading, input)) = exact_scan_under(top, Tiers::Through) else { return Ok(None) };
    if reading.filter_expr().iter().any(Option::is_some) {
        return Ok(None);
    }
    let scan = input.scan();
    let tiered = input.tiered_partitions();
    if !tiered.is_empty() && !scan.has_every_series_after(tiered.iter().copied()).map_err(to_df_error)? {
        return Ok(None);
    }
    let mut tags = Vec::new();
    for (expr, _) in reading.group_expr().expr() {
        match input.resolve(expr) {
            Some(Source::Tag(name)) => tags.push(name),
            _ => return Ok(None),
        }
    }
    let mut time = None;
    let mut values = Vec::new();
    for expr in reading.aggr_expr() {
        let Some((t, value)) = latest_row_value(expr, &input, &tags) else { return Ok(None) };
        time.get_or_insert(t);
        values.push(value);
    }
    let Some(time) = time else { return Ok(None) };

    let mut rows = input.replace(reading.input(), Arc::new(scan.latest()))?;
    if rows.properties().partitioning.partition_count() > 1 {
        rows = Arc::new(CoalescePartitionsExec::new(rows));
    }
    let groups = reading.group_expr().input_exprs();
    let latest: Arc<dyn ExecutionPlan> = Arc::new(ChronicleLatestExec::new(rows, groups, time, values, top.schema()));
    Ok(Some(match &top.properties().partitioning {
        p if p.partition_count() <= 1 => latest,
        Partitioning::Hash(exprs, n) => {
            Arc::new(RepartitionExec::try_new(latest, Partitioning::Hash(exprs.clone(), *n))?)
        }
        p => Arc::new(RepartitionExec::try_new(latest, Partitioning::RoundRobinBatch(p.partition_count()))?),
    }))
}

/// For an aggregate that only needs the latest row of its group (whose
/// tags are `groups`): the time expression it orders by and the expression
/// it takes from that row.
fn latest_row_value(
    expr: &AggregateFunctionExpr,
    input: &Input<'_>,
    groups: &[String],
) -> Option<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)> {
    if expr.is_distinct() || expr.ignore_nulls() {
        return None;
    }
    let args = expr.expressions();
    let [arg] = args.as_slice() else { return None };
    let f = expr.fun().inner();
    if f.is::<Max>() {
        let is_time = expr.order_bys().is_empty() && input.resolve(arg) == Some(Source::Time);
        return is_time.then(|| (Arc::clone(arg), Arc::clone(arg)));
    }
    let newest_first = if f.is::<FirstValue>() {
        true
    } else if f.is::<LastValue>() {
        false
    } else {
        return None;
    };
    let constant = |source: Option<Source>| matches!(source, Some(Source::Tag(t)) if groups.contains(&t));
    let varying: Vec<_> = expr.order_bys().iter().filter(|s| !constant(input.resolve(&s.expr))).collect();
    let [by] = varying.as_slice() else { return None };
    let by_time = input.resolve(&by.expr) == Some(Source::Time) && by.options.descending == newest_first;
    by_time.then(|| (Arc::clone(&by.expr), Arc::clone(arg)))
}
