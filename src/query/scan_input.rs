//! What sits under an aggregate, in Chronicle scan terms: the
//! [`ChronicleScanExec`] feeding it and what its expressions compute
//! (`time`, a tag, a field, or a `date_bin` of `time`). Shared by the
//! physical optimizer rules that rewrite aggregates over a scan.
//!
//! A table with tiered partitions in range plans a union of its scan of
//! the other partitions and the cold tier's plans ([`crate::tier`]); a rule
//! that can tell the tiered rows do not matter to its answer looks through
//! that union ([`Tiers::Through`]) and replaces it whole.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::functions::datetime::date_bin::DateBinFunc;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, PhysicalExpr};

use super::scan_exec::ChronicleScanExec;
use super::stats_exec::TimeBucket;
use crate::tier::TierMergeExec;

/// Nanoseconds in a day, for day intervals.
const DAY_NS: i64 = 86_400_000_000_000;

/// What an expression over the aggregate's input is, in scan terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Time,
    Tag(String),
    Field(String),
    Bucket(TimeBucket),
}

/// Whether a rule looks through a union of a scan with tiered partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tiers {
    /// Only a plain scan matches.
    Stop,
    /// A union of one scan with the cold tier's plans matches too.
    Through,
}

/// The scan under an aggregate and the projection between them, if any.
pub(crate) struct Input<'a> {
    scan: &'a ChronicleScanExec,
    pub(crate) projection: Option<&'a ProjectionExec>,
    /// The union holding the scan and the tiered partitions' plans, if the
    /// scan was found in one.
    union: Option<&'a Arc<dyn ExecutionPlan>>,
}

impl<'a> Input<'a> {
    /// The scan feeding `aggregate`, through at most one `ProjectionExec`,
    /// `CooperativeExec`s and (for a Partial aggregate) round-robin
    /// `RepartitionExec`s, none of which change which rows reach it.
    pub(crate) fn under(aggregate: &'a AggregateExec) -> Option<Self> {
        Self::under_with(aggregate, Tiers::Stop)
    }

    /// [`Input::under`], also finding the scan in a union with the tiered
    /// partitions' plans when `tiers` says so.
    fn under_with(aggregate: &'a AggregateExec, tiers: Tiers) -> Option<Self> {
        let partial = *aggregate.mode() == AggregateMode::Partial;
        let (mut below, mut projection) = (aggregate.input(), None);
        loop {
            if let Some(r) = below.downcast_ref::<RepartitionExec>()
                && partial
                && matches!(r.partitioning(), Partitioning::RoundRobinBatch(_))
            {
                below = r.input();
            } else if let Some(c) = below.downcast_ref::<CooperativeExec>() {
                below = c.input();
            } else if let Some(p) = below.downcast_ref::<ProjectionExec>()
                && projection.is_none()
            {
                projection = Some(p);
                below = p.input();
            } else {
                break;
            }
        }
        if let Some(scan) = below.downcast_ref::<ChronicleScanExec>() {
            return Some(Self { scan, projection, union: None });
        }
        let union = below.downcast_ref::<UnionExec>().filter(|_| tiers == Tiers::Through)?;
        let (scans, tiered): (Vec<_>, Vec<_>) =
            union.inputs().iter().partition(|c| c.downcast_ref::<ChronicleScanExec>().is_some());
        let ([scan], false) = (scans.as_slice(), tiered.is_empty()) else { return None };
        let scan = scan.downcast_ref::<ChronicleScanExec>()?;
        Some(Self { scan, projection, union: Some(below) })
    }

    /// The time partitions the tiered plans beside the scan read (none
    /// without a union).
    pub(crate) fn tiered_partitions(&self) -> Vec<i64> {
        let Some(union) = self.union else { return Vec::new() };
        let mut partitions = Vec::new();
        let mut pending: Vec<&Arc<dyn ExecutionPlan>> = union.children();
        while let Some(node) = pending.pop() {
            if let Some(merge) = node.downcast_ref::<TierMergeExec>() {
                partitions.extend_from_slice(merge.partitions());
            }
            pending.extend(node.children());
        }
        partitions
    }

    /// `input` (an aggregate's input subtree) with the scan, or the union
    /// holding it, replaced by `scan`.
    pub(crate) fn replace(
        &self,
        input: &Arc<dyn ExecutionPlan>,
        scan: Arc<dyn ExecutionPlan>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let Some(union) = self.union else { return replace_scan(input, scan) };
        let replaced = Arc::clone(input).transform_down(|node| {
            Ok(if std::ptr::addr_eq(Arc::as_ptr(&node), Arc::as_ptr(union)) {
                Transformed::new(Arc::clone(&scan), true, TreeNodeRecursion::Jump)
            } else {
                Transformed::no(node)
            })
        })?;
        Ok(replaced.data)
    }

    /// The scan.
    pub(crate) fn scan(&self) -> &'a ChronicleScanExec {
        self.scan
    }

    /// What `expr`, over the aggregate's input, computes.
    pub(crate) fn resolve(&self, expr: &Arc<dyn PhysicalExpr>) -> Option<Source> {
        match self.projection {
            Some(p) => resolve(expr, &|i| p.expr().get(i).and_then(|e| resolve(&e.expr, &|i| self.column(i)))),
            None => resolve(expr, &|i| self.column(i)),
        }
    }

    /// What scan column `i` is: `time`, a tag or a field, told by its type.
    fn column(&self, i: usize) -> Option<Source> {
        let schema = self.scan.schema();
        let field = schema.fields().get(i)?;
        match field.data_type() {
            DataType::Timestamp(_, _) if field.name() == "time" => Some(Source::Time),
            DataType::Dictionary(_, _) => Some(Source::Tag(field.name().clone())),
            DataType::Float64 => Some(Source::Field(field.name().clone())),
            _ => None,
        }
    }
}

/// The Partial aggregate under a Final one, through repartitioning.
fn partial_under(aggregate: &AggregateExec) -> Option<&AggregateExec> {
    let mut below = aggregate.input();
    loop {
        if let Some(r) = below.downcast_ref::<RepartitionExec>() {
            below = r.input();
        } else if let Some(c) = below.downcast_ref::<CoalescePartitionsExec>() {
            below = c.input();
        } else if let Some(c) = below.downcast_ref::<CooperativeExec>() {
            below = c.input();
        } else {
            break;
        }
    }
    below.downcast_ref::<AggregateExec>().filter(|p| *p.mode() == AggregateMode::Partial)
}

/// The aggregate reading rows for `top`: its Partial under a Final one,
/// or itself when Single.
fn reading_aggregate(top: &AggregateExec) -> Option<&AggregateExec> {
    match top.mode() {
        AggregateMode::Final | AggregateMode::FinalPartitioned => partial_under(top),
        AggregateMode::Single | AggregateMode::SinglePartitioned => Some(top),
        _ => None,
    }
}

/// For an aggregate `top` (Final or Single): the aggregate reading its rows
/// and its input, when that is a plain `GROUP BY` (no grouping sets, no
/// group limit) straight over a Chronicle scan (or, as `tiers` says, a
/// union of one with tiered partitions) that applies every filter itself
/// (no field ranges), with no limit and not in latest mode.
pub(crate) fn exact_scan_under(top: &AggregateExec, tiers: Tiers) -> Option<(&AggregateExec, Input<'_>)> {
    let reading = reading_aggregate(top)?;
    if !reading.group_expr().is_single() || reading.limit_options().is_some() || top.limit_options().is_some() {
        return None;
    }
    let input = Input::under_with(reading, tiers)?;
    let request = input.scan().request();
    let exact = request.field_ranges.is_empty() && request.limit.is_none() && !input.scan().options().latest;
    exact.then_some((reading, input))
}

/// A node's replacement, if a rule rewrites it.
pub(crate) type Rewrite = fn(&Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>>;

/// `plan` with every node that `rewrite` rewrites replaced, bottom up.
pub(crate) fn rewrite_up(plan: Arc<dyn ExecutionPlan>, rewrite: Rewrite) -> DfResult<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match rewrite(&node)? {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}

/// `input` (an aggregate's input subtree) with its Chronicle scan replaced by `scan`.
fn replace_scan(input: &Arc<dyn ExecutionPlan>, scan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
    let replaced = Arc::clone(input).transform_down(|node| {
        Ok(if node.downcast_ref::<ChronicleScanExec>().is_some() {
            Transformed::yes(Arc::clone(&scan))
        } else {
            Transformed::no(node)
        })
    })?;
    Ok(replaced.data)
}

/// `expr` in terms of `column` (what each input column is): a column, or a
/// `date_bin` of `time` with literal stride and origin.
fn resolve(expr: &Arc<dyn PhysicalExpr>, column: &dyn Fn(usize) -> Option<Source>) -> Option<Source> {
    if let Some(c) = expr.downcast_ref::<Column>() {
        return column(c.index());
    }
    let date_bin = ScalarFunctionExpr::try_downcast_func::<DateBinFunc>(expr.as_ref())?;
    let (stride, time, origin) = match date_bin.args() {
        [stride, time] => (stride, time, None),
        [stride, time, origin] => (stride, time, Some(origin)),
        _ => return None,
    };
    if resolve(time, column)? != Source::Time {
        return None;
    }
    let stride = stride_ns(literal(stride)?).filter(|&s| s > 0)?;
    let origin = match origin.map(literal) {
        None => 0,
        Some(Some(ScalarValue::TimestampNanosecond(Some(t), _))) => *t,
        Some(_) => return None,
    };
    Some(Source::Bucket(TimeBucket { stride, origin }))
}

fn literal(expr: &Arc<dyn PhysicalExpr>) -> Option<&ScalarValue> {
    expr.downcast_ref::<Literal>().map(Literal::value)
}

/// A fixed interval in nanoseconds, as `date_bin` converts it; `None` for
/// intervals with months (variable length) or out of range.
fn stride_ns(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            i64::from(i.days).checked_mul(DAY_NS)?.checked_add(i.nanoseconds)
        }
        ScalarValue::IntervalDayTime(Some(i)) => {
            i64::from(i.days).checked_mul(DAY_NS)?.checked_add(i64::from(i.milliseconds) * 1_000_000)
        }
        _ => None,
    }
}
