//! `ChronicleStatsExec`: simple aggregates of one measurement, answered from
//! chunk statistics where they can be and from decoded rows elsewhere.
//!
//! It stands in for an `AggregateExec` in Partial or Single mode over a
//! [`ChronicleScanExec`] ([`super::stats_rule`] decides when) and produces
//! exactly what that aggregate would: its schema (partial states, or final
//! values), its ordering, one output partition per partition of the scan.
//! There is no logical node: the logical plan is the ordinary aggregate.
//!
//! Per output partition (one time partition):
//! 1. plan the partition's scan, under the read lock, as the scan does, and
//!    run it as a stats scan ([`crate::storage::stats_scan`]): whole chunks
//!    (wholly inside the time range, overlapped by no other source of their
//!    series, so no last-write-wins is left to resolve) come as their stats
//!    when they also lie in one `date_bin` bucket and their stats equal what
//!    the accumulators would compute (below); everything else comes decoded
//!    by the scan's own path;
//! 2. fold the items in the scan's order into DataFusion's own accumulators
//!    for the aggregate (groups accumulators keyed by one DataFusion
//!    `GroupValues`, or plain accumulators without GROUP BY, as
//!    `AggregateExec` does): stats as partial states (`merge_batch`), rows
//!    as input (`update_batch`);
//! 3. emit the states (Partial) or the final values (Single), sorted if the
//!    aggregate declared an output ordering.
//!
//! Invariants: every row of the scan is folded exactly once, from a chunk's
//! stats or decoded, in the scan's order (so even order-sensitive corners,
//! such as how DataFusion's grouped `max` meets a NaN, come out the same).
//! Stats stand for the values only where the result is the same: `count`
//! always; `sum`, `avg`, `min`, `max` only when the chunk's sum is not NaN
//! (it holds no NaN, which DataFusion's `min` / `max` do not skip as the
//! stats do); `min` / `max` only when that stat is not zero (the stats
//! cannot tell -0.0 from 0.0 apart the way DataFusion's comparisons do).
//! Float sums are added chunk by chunk, so, like DataFusion's own partial and
//! final split, they can round differently from one sequential sum; they are
//! identical whenever the partial sums are exact.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array,
    new_empty_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::physical_plan::aggregates::{AggregateMode, AggregateOutputMode, finalize_aggregation};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::sorts::sort::sort_batch;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties, apply_expression_roots,
};

use super::scan_exec::ChronicleScanExec;
use super::to_df_error;
use crate::encoding::stats::ColumnStats;
use crate::storage::stats_scan::{StatsItem, StatsScan, WholeChunk};
pub(crate) use crate::storage::time_bucket::TimeBucket;

/// One group-by expression of the aggregate, in scan terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatsGroup {
    /// A tag column, by name.
    Tag(String),
    /// A time bucket of the `time` column.
    Bucket(TimeBucket),
}

/// The aggregate functions the stats can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatsFunction {
    /// `count(field)`.
    Count,
    /// `sum(field)`.
    Sum,
    /// `min(field)`.
    Min,
    /// `max(field)`.
    Max,
    /// `avg(field)`.
    Avg,
}

impl StatsFunction {
    /// The types of the partial state DataFusion keeps for this function
    /// over a `Float64` column, which `merge_batch` takes from the stats.
    pub(crate) fn state_types(self) -> Vec<DataType> {
        match self {
            Self::Count => vec![DataType::Int64],
            Self::Sum | Self::Min | Self::Max => vec![DataType::Float64],
            Self::Avg => vec![DataType::UInt64, DataType::Float64],
        }
    }

    /// Whether a chunk column with these stats gives the accumulator's answer.
    fn answers(self, s: &ColumnStats) -> bool {
        match self {
            Self::Count => true,
            Self::Sum | Self::Avg => !s.sum.is_nan(),
            Self::Min => !s.sum.is_nan() && s.min != 0.0,
            Self::Max => !s.sum.is_nan() && s.max != 0.0,
        }
    }

    /// The partial state of chunks of `counts` points each, with `stats` for
    /// the field (`None` where a chunk lacks it: a null state, or count 0).
    fn state(self, counts: &[u32], stats: &[Option<ColumnStats>]) -> Vec<ArrayRef> {
        let present = |n: &u32, s: &Option<ColumnStats>| s.map(|_| u64::from(*n));
        let floats = |f: fn(&ColumnStats) -> f64| -> ArrayRef {
            Arc::new(stats.iter().map(|s| s.as_ref().map(f)).collect::<Float64Array>())
        };
        match self {
            Self::Count => {
                let counts = counts.iter().zip(stats).map(|(n, s)| present(n, s).map_or(0, |n| n as i64));
                vec![Arc::new(Int64Array::from_iter_values(counts))]
            }
            Self::Sum => vec![floats(|s| s.sum)],
            Self::Min => vec![floats(|s| s.min)],
            Self::Max => vec![floats(|s| s.max)],
            Self::Avg => {
                let counts: UInt64Array = counts.iter().zip(stats).map(|(n, s)| present(n, s)).collect();
                vec![Arc::new(counts), floats(|s| s.sum)]
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Min => "min",
            Self::Max => "max",
            Self::Avg => "avg",
        }
    }
}

/// One aggregate of the replaced `AggregateExec`.
#[derive(Debug, Clone)]
pub(crate) struct StatsAggregate {
    /// What it computes.
    pub function: StatsFunction,
    /// Its field, by name.
    pub field: String,
    /// Position of the field among the scan's fields.
    pub column: usize,
    /// DataFusion's aggregate: the accumulators and the argument expression.
    pub expr: Arc<AggregateFunctionExpr>,
}

/// What the exec evaluates, shared by its partitions' streams.
#[derive(Debug)]
struct StatsPlan {
    scan: Arc<ChronicleScanExec>,
    /// Expressions between the scan and the aggregate (a projection), with their schema.
    projection: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
    /// The aggregate's group-by expressions over its input, what each is in
    /// scan terms, and the schema of their columns.
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    groups: Vec<StatsGroup>,
    group_schema: SchemaRef,
    aggregates: Vec<StatsAggregate>,
    /// Partial (states) or Single (final values).
    mode: AggregateMode,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

/// Simple aggregates of one measurement from chunk stats; see the module docs.
#[derive(Debug)]
pub struct ChronicleStatsExec {
    plan: Arc<StatsPlan>,
    metrics: ExecutionPlanMetricsSet,
}

/// The parts of the `AggregateExec` being replaced.
pub(crate) struct AggregateParts {
    /// Its group-by expressions over its input.
    pub group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// What each group expression is, in scan terms.
    pub groups: Vec<StatsGroup>,
    /// The schema of the group columns.
    pub group_schema: SchemaRef,
    /// Its aggregates.
    pub aggregates: Vec<StatsAggregate>,
    /// Partial (states) or Single (final values).
    pub mode: AggregateMode,
    /// Its output schema and properties.
    pub properties: Arc<PlanProperties>,
}

impl ChronicleStatsExec {
    /// Stands in for an aggregate (`parts`) over `scan`, with `projection`
    /// (expressions and their schema) between them if there was one.
    pub(crate) fn new(
        scan: Arc<ChronicleScanExec>,
        projection: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
        parts: AggregateParts,
    ) -> Self {
        let partitions = scan.properties().partitioning.partition_count();
        let properties =
            parts.properties.as_ref().clone().with_partitioning(Partitioning::UnknownPartitioning(partitions));
        let plan = StatsPlan {
            scan,
            projection,
            group_exprs: parts.group_exprs,
            groups: parts.groups,
            group_schema: parts.group_schema,
            aggregates: parts.aggregates,
            mode: parts.mode,
            schema: Arc::clone(parts.properties.eq_properties.schema()),
            properties: Arc::new(properties),
        };
        Self { plan: Arc::new(plan), metrics: ExecutionPlanMetricsSet::new() }
    }
}

impl StatsPlan {
    fn bucket(&self) -> Option<TimeBucket> {
        self.groups.iter().find_map(|g| match g {
            StatsGroup::Bucket(b) => Some(*b),
            StatsGroup::Tag(_) => None,
        })
    }

    /// Whether `chunk`'s stats answer every aggregate (see the module docs).
    fn answers(&self, chunk: &WholeChunk) -> bool {
        let one_bucket = self.bucket().is_none_or(|b| match (b.of(chunk.min_time), b.of(chunk.max_time)) {
            (Some(lo), Some(hi)) => lo == hi,
            _ => false,
        });
        one_bucket
            && self.aggregates.iter().all(|a| match chunk.fields.get(a.column) {
                Some(Some(stats)) => a.function.answers(stats),
                Some(None) => true,
                None => false,
            })
    }

    /// The aggregate's input from a scan batch.
    fn input(&self, batch: &RecordBatch) -> DfResult<RecordBatch> {
        let batch = self.scan.project(batch)?;
        let Some((exprs, schema)) = &self.projection else { return Ok(batch) };
        let columns =
            exprs.iter().map(|e| e.evaluate(&batch)?.into_array(batch.num_rows())).collect::<DfResult<_>>()?;
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }

    /// Aggregates output partition `partition`, folding the stats scan's
    /// items in its order (consecutive whole chunks in one step).
    fn run(&self, partition: usize, metrics: &ExecutionPlanMetricsSet) -> DfResult<RecordBatch> {
        let from_stats = MetricBuilder::new(metrics).counter("chunks_from_stats", partition);
        let decoded = MetricBuilder::new(metrics).counter("rows_decoded", partition);
        let mut acc = Accumulators::try_new(self)?;
        if let Some(scan) = self.scan.partition_scan(partition).map_err(to_df_error)? {
            let mut scan = scan.with_stats(|c| self.answers(c));
            let mut chunks = Vec::new();
            while let Some(item) = scan.next() {
                match item.map_err(to_df_error)? {
                    StatsItem::Chunk(chunk) => chunks.push(chunk),
                    StatsItem::Rows(rows) => {
                        acc.fold_stats(self, &chunks, &scan)?;
                        from_stats.add(chunks.len());
                        chunks.clear();
                        let rows = self.input(&rows)?;
                        decoded.add(rows.num_rows());
                        acc.fold_rows(self, &rows)?;
                    }
                }
            }
            acc.fold_stats(self, &chunks, &scan)?;
            from_stats.add(chunks.len());
        }
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), acc.emit(self)?)?;
        match self.properties.output_ordering() {
            Some(ordering) => sort_batch(&batch, ordering, None),
            None => Ok(batch),
        }
    }
}

/// DataFusion's own accumulators for the aggregate, as its `AggregateExec`
/// would use them, fed rows (`update_batch`) and chunk stats as partial
/// states (`merge_batch`). Every batch fed reaches every accumulator whole,
/// with nulls where a chunk lacks the field, as the accumulators assume.
enum Accumulators {
    /// With GROUP BY: the group keys and a groups accumulator per aggregate.
    Grouped { keys: Box<dyn GroupValues>, accumulators: Vec<Box<dyn GroupsAccumulator>>, indices: Vec<usize> },
    /// Without: one plain accumulator per aggregate (DataFusion's
    /// `AggregateStream`; its NaN ordering differs from the groups one).
    Single(Vec<Box<dyn Accumulator>>),
}

impl Accumulators {
    fn try_new(plan: &StatsPlan) -> DfResult<Self> {
        if plan.groups.is_empty() {
            let accumulators = plan.aggregates.iter().map(|a| a.expr.create_accumulator()).collect::<DfResult<_>>()?;
            return Ok(Self::Single(accumulators));
        }
        let keys = new_group_values(Arc::clone(&plan.group_schema), &GroupOrdering::None)?;
        let accumulators =
            plan.aggregates.iter().map(|a| a.expr.create_groups_accumulator()).collect::<DfResult<_>>()?;
        Ok(Self::Grouped { keys, accumulators, indices: Vec::new() })
    }

    /// Folds decoded rows (the aggregate's input) as accumulator input.
    fn fold_rows(&mut self, plan: &StatsPlan, batch: &RecordBatch) -> DfResult<()> {
        let rows = batch.num_rows();
        let evaluate = |exprs: &[Arc<dyn PhysicalExpr>]| -> DfResult<Vec<ArrayRef>> {
            exprs.iter().map(|e| e.evaluate(batch)?.into_array(rows)).collect()
        };
        match self {
            Self::Single(accumulators) => {
                for (acc, agg) in accumulators.iter_mut().zip(&plan.aggregates) {
                    acc.update_batch(&evaluate(&agg.expr.expressions())?)?;
                }
            }
            Self::Grouped { keys, accumulators, indices } => {
                keys.intern(&evaluate(&plan.group_exprs)?, indices)?;
                for (acc, agg) in accumulators.iter_mut().zip(&plan.aggregates) {
                    acc.update_batch(&evaluate(&agg.expr.expressions())?, indices, None, keys.len())?;
                }
            }
        }
        Ok(())
    }

    /// Folds whole chunks' stats as partial states.
    fn fold_stats<F>(&mut self, plan: &StatsPlan, chunks: &[WholeChunk], scan: &StatsScan<F>) -> DfResult<()>
    where
        F: FnMut(&WholeChunk) -> bool,
    {
        if chunks.is_empty() {
            return Ok(());
        }
        let states = |agg: &StatsAggregate| {
            let stats: Vec<Option<ColumnStats>> =
                chunks.iter().map(|c| c.fields.get(agg.column).copied().flatten()).collect();
            let counts: Vec<u32> = chunks.iter().map(|c| c.count).collect();
            agg.function.state(&counts, &stats)
        };
        match self {
            Self::Single(accumulators) => {
                for (acc, agg) in accumulators.iter_mut().zip(&plan.aggregates) {
                    acc.merge_batch(&states(agg))?;
                }
            }
            Self::Grouped { keys, accumulators, indices } => {
                let columns = plan
                    .groups
                    .iter()
                    .zip(plan.group_schema.fields().iter())
                    .map(|(g, field)| group_column(g, field, chunks, scan))
                    .collect::<DfResult<Vec<_>>>()?;
                keys.intern(&columns, indices)?;
                for (acc, agg) in accumulators.iter_mut().zip(&plan.aggregates) {
                    acc.merge_batch(&states(agg), indices, keys.len())?;
                }
            }
        }
        Ok(())
    }

    /// The aggregate's output columns: group keys, then states or values.
    fn emit(self, plan: &StatsPlan) -> DfResult<Vec<ArrayRef>> {
        match self {
            Self::Single(mut accumulators) => finalize_aggregation(&mut accumulators, &plan.mode),
            // No group at all: nothing to emit (and `GroupValues` refuses to).
            Self::Grouped { keys, .. } if keys.is_empty() => {
                Ok(plan.schema.fields().iter().map(|f| new_empty_array(f.data_type())).collect())
            }
            Self::Grouped { mut keys, mut accumulators, .. } => {
                let mut columns = keys.emit(EmitTo::All)?;
                for acc in &mut accumulators {
                    match plan.mode.output_mode() {
                        AggregateOutputMode::Final => columns.push(acc.evaluate(EmitTo::All)?),
                        AggregateOutputMode::Partial => columns.extend(acc.state(EmitTo::All)?),
                    }
                }
                Ok(columns)
            }
        }
    }
}

/// The values of group column `group` (typed as `field`) for each chunk.
fn group_column<F>(group: &StatsGroup, field: &Field, chunks: &[WholeChunk], scan: &StatsScan<F>) -> DfResult<ArrayRef>
where
    F: FnMut(&WholeChunk) -> bool,
{
    match group {
        StatsGroup::Tag(name) => {
            // Scan columns: time, the tags, then the fields.
            let at = scan.schema().index_of(name).ok().and_then(|i| i.checked_sub(1));
            let values: StringArray = chunks
                .iter()
                .map(|c| at.and_then(|i| scan.series_tags(c.series).get(i)).and_then(|v| v.as_deref()))
                .collect();
            Ok(cast(&values, field.data_type())?)
        }
        StatsGroup::Bucket(bucket) => {
            let DataType::Timestamp(TimeUnit::Nanosecond, tz) = field.data_type() else {
                return Err(DataFusionError::Internal(format!("{} is not a nanosecond timestamp", field.name())));
            };
            let starts: TimestampNanosecondArray = chunks.iter().map(|c| bucket.of(c.min_time)).collect();
            Ok(Arc::new(starts.with_timezone_opt(tz.clone())))
        }
    }
}

impl DisplayAs for ChronicleStatsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.plan;
        let groups: Vec<String> = p
            .groups
            .iter()
            .map(|g| match g {
                StatsGroup::Tag(name) => name.clone(),
                StatsGroup::Bucket(b) => b.to_string(),
            })
            .collect();
        let aggs: Vec<String> = p.aggregates.iter().map(|a| format!("{}({})", a.function.name(), a.field)).collect();
        let mode = match p.mode.output_mode() {
            AggregateOutputMode::Final => "single",
            AggregateOutputMode::Partial => "partial",
        };
        if t == DisplayFormatType::TreeRender {
            return write!(f, "group=[{}]\naggs=[{}]", groups.join(", "), aggs.join(", "));
        }
        write!(
            f,
            "ChronicleStatsExec: mode={mode}, group=[{}], aggs=[{}], projection={}, {}",
            groups.join(", "),
            aggs.join(", "),
            p.projection.is_some(),
            p.scan.parameters()
        )
    }
}

impl ExecutionPlan for ChronicleStatsExec {
    fn name(&self) -> &str {
        "ChronicleStatsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.plan.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        let p = &self.plan;
        let projection = p.projection.iter().flat_map(|(exprs, _)| exprs.iter());
        let arguments: Vec<Arc<dyn PhysicalExpr>> = p.aggregates.iter().flat_map(|a| a.expr.expressions()).collect();
        apply_expression_roots(projection.chain(&p.group_exprs).chain(&arguments), f)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let plan = Arc::clone(&self.plan);
        let metrics = self.metrics.clone();
        let batch = futures::stream::once(async move { plan.run(partition, &metrics) });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batch)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn buckets_floor_from_the_origin_and_refuse_overflow() {
        let hour = TimeBucket { stride: 3_600, origin: 0 };
        assert_eq!(
            (hour.of(0), hour.of(3_599), hour.of(3_600), hour.of(-1)),
            (Some(0), Some(0), Some(3_600), Some(-3_600))
        );
        let shifted = TimeBucket { stride: 10, origin: 3 };
        assert_eq!(
            (shifted.of(3), shifted.of(2), shifted.of(12), shifted.of(13)),
            (Some(3), Some(-7), Some(3), Some(13))
        );
        assert_eq!(hour.of(i64::MIN), None, "date_bin fails there, so the chunk is decoded");
        assert_eq!(shifted.to_string(), "date_bin(10ns, origin=3)");
        assert_eq!(TimeBucket { stride: 60_000_000_000, origin: 0 }.to_string(), "date_bin(60s)");
    }

    #[tokio::test]
    async fn buckets_agree_with_datafusion_date_bin() {
        let ctx = datafusion::prelude::SessionContext::new();
        let times = [i64::MIN + 5, -3_601, -1, 0, 1, 3_599, 3_600, 1_767_225_600_000_000_123, i64::MAX - 5];
        for (stride, origin) in
            [(3_600, 0), (7, 3), (60_000_000_000, 946_684_830_000_000_000), (86_400_000_000_000, -1)]
        {
            for t in times {
                let sql = format!(
                    "SELECT CAST(date_bin(INTERVAL '{stride} nanoseconds', to_timestamp_nanos({t}), \
                     to_timestamp_nanos({origin})) AS BIGINT)"
                );
                let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                let column = batches[0].column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                let theirs = column.is_valid(0).then(|| column.value(0));
                assert_eq!(TimeBucket { stride, origin }.of(t), theirs, "{sql}");
            }
        }
    }

    #[test]
    fn stats_stand_for_values_only_where_the_accumulators_agree() {
        let stats = |v: &[f64]| ColumnStats::of(v).expect("non-empty");
        let plain = stats(&[1.0, -2.0, 3.0]);
        assert!(
            [StatsFunction::Count, StatsFunction::Sum, StatsFunction::Min, StatsFunction::Max, StatsFunction::Avg]
                .iter()
                .all(|f| f.answers(&plain))
        );
        let nan = stats(&[1.0, f64::NAN]);
        assert!(StatsFunction::Count.answers(&nan));
        assert!(
            !StatsFunction::Max.answers(&nan) && !StatsFunction::Min.answers(&nan) && !StatsFunction::Sum.answers(&nan)
        );
        let zero = stats(&[0.0, 5.0]);
        assert!(!StatsFunction::Min.answers(&zero) && StatsFunction::Max.answers(&zero));
        let state = StatsFunction::Avg.state(&[3, 4], &[Some(plain), None]);
        assert_eq!(state.iter().map(|a| a.data_type().clone()).collect::<Vec<_>>(), StatsFunction::Avg.state_types());
        assert_eq!((state[0].null_count(), state[1].null_count()), (1, 1), "a chunk lacking the field adds nothing");
        let count = StatsFunction::Count.state(&[3, 4], &[Some(plain), None]);
        assert_eq!(count[0].as_primitive::<datafusion::arrow::datatypes::Int64Type>().values(), &[3, 0]);
    }
}
