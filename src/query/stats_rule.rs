//! `ChronicleStatsRule`: hands simple aggregates over a Chronicle scan to
//! [`ChronicleStatsExec`], which answers whole chunks from their stats.
//!
//! The rule replaces an `AggregateExec` when all of this holds, and leaves
//! the plan alone otherwise:
//! - mode Partial, or Single over a scan of one partition;
//! - its input is a [`ChronicleScanExec`], possibly under one `ProjectionExec`,
//!   a `CooperativeExec` and (Partial only) a round-robin `RepartitionExec`;
//! - the scan applies every filter itself (no field ranges: those come from
//!   inexact filters, which leave a filter above the scan) and has no limit;
//! - plain `GROUP BY` (no grouping sets, no group limit) of tag columns and
//!   at most one `date_bin(<interval>, time[, <timestamp>])` whose interval is
//!   a fixed, positive number of nanoseconds (no months);
//! - every aggregate is `count`, `sum`, `min`, `max` or `avg` of one `Float64`
//!   field, without DISTINCT, FILTER, ORDER BY or IGNORE NULLS, with a groups
//!   accumulator whose partial state has the layout the exec writes.
//!
//! Invariant: the replacement feeds the aggregate's own accumulators the same
//! rows (some as per-chunk partial states), so results do not change; see
//! [`super::stats_exec`] for when a chunk's stats stand for its values.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::Result as DfResult;
use datafusion::common::config::ConfigOptions;
use datafusion::functions_aggregate::average::Avg;
use datafusion::functions_aggregate::count::Count;
use datafusion::functions_aggregate::min_max::{Max, Min};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};

use super::scan_input::{Input, Source, rewrite_up};
use super::stats_exec::{AggregateParts, ChronicleStatsExec, StatsAggregate, StatsFunction, StatsGroup};

/// Replaces simple aggregates over a Chronicle scan by [`ChronicleStatsExec`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ChronicleStatsRule;

impl ChronicleStatsRule {
    /// The rule.
    pub fn new() -> Self {
        Self
    }
}

impl PhysicalOptimizerRule for ChronicleStatsRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> DfResult<Arc<dyn ExecutionPlan>> {
        rewrite_up(plan, stats_exec_for)
    }

    fn name(&self) -> &str {
        "chronicle_stats"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The function of `expr` if the stats can feed its accumulator.
fn function(expr: &AggregateFunctionExpr) -> Option<StatsFunction> {
    if expr.is_distinct() || expr.ignore_nulls() || !expr.order_bys().is_empty() || !expr.groups_accumulator_supported()
    {
        return None;
    }
    let f = expr.fun().inner();
    let function = if f.is::<Count>() {
        StatsFunction::Count
    } else if f.is::<Sum>() {
        StatsFunction::Sum
    } else if f.is::<Min>() {
        StatsFunction::Min
    } else if f.is::<Max>() {
        StatsFunction::Max
    } else if f.is::<Avg>() {
        StatsFunction::Avg
    } else {
        return None;
    };
    let state: Vec<DataType> = expr.state_fields().ok()?.iter().map(|f| f.data_type().clone()).collect();
    (state == function.state_types()).then_some(function)
}

/// The [`ChronicleStatsExec`] that can replace `node`, if any.
fn stats_exec_for(node: &Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else { return Ok(None) };
    let mode = *aggregate.mode();
    let final_values = match mode {
        AggregateMode::Partial => false,
        AggregateMode::Single => true,
        _ => return Ok(None),
    };
    let group_by = aggregate.group_expr();
    if !group_by.is_single()
        || aggregate.limit_options().is_some()
        || aggregate.filter_expr().iter().any(Option::is_some)
    {
        return Ok(None);
    }
    let Some(input) = Input::under(aggregate) else { return Ok(None) };
    let scan = input.scan();
    let request = scan.request();
    let partitions = scan.properties().partitioning.partition_count();
    if !request.field_ranges.is_empty() || request.limit.is_some() || (final_values && partitions != 1) {
        return Ok(None);
    }
    let mut groups = Vec::new();
    for (expr, _) in group_by.expr() {
        match input.resolve(expr) {
            Some(Source::Tag(name)) => groups.push(StatsGroup::Tag(name)),
            Some(Source::Bucket(b)) if !groups.iter().any(|g| matches!(g, StatsGroup::Bucket(_))) => {
                groups.push(StatsGroup::Bucket(b))
            }
            _ => return Ok(None),
        }
    }
    let fields = request.fields.as_deref().unwrap_or_default();
    let mut aggregates = Vec::new();
    for expr in aggregate.aggr_expr() {
        let Some(function) = function(expr) else { return Ok(None) };
        let Some(Source::Field(field)) = expr.expressions().first().and_then(|a| input.resolve(a)) else {
            return Ok(None);
        };
        let Some(column) = fields.iter().position(|f| *f == field) else { return Ok(None) };
        if expr.expressions().len() != 1 {
            return Ok(None);
        }
        aggregates.push(StatsAggregate { function, field, column, expr: Arc::clone(expr) });
    }
    let input_schema: Arc<Schema> = aggregate.input_schema();
    let parts = AggregateParts {
        group_exprs: group_by.input_exprs(),
        groups,
        group_schema: group_by.group_schema(&input_schema)?,
        aggregates,
        mode,
        properties: Arc::clone(aggregate.properties()),
    };
    let projection = input.projection.map(|p| (p.expr().iter().map(|e| Arc::clone(&e.expr)).collect(), p.schema()));
    Ok(Some(Arc::new(ChronicleStatsExec::new(Arc::new(scan.clone()), projection, parts))))
}
