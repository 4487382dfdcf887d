//! Gap filling: the plan operator behind the dialect's `fill()`, the logical
//! [`GapFillNode`] (`GapFill` in `EXPLAIN`) and its [`GapFillExec`].
//!
//! Its input is an aggregate's output: group columns, a bucket-start `time`
//! column and value columns. For every group (series) it emits one row per
//! bucket start `first, first + every, ..., last`, inserting the buckets the
//! input lacks, then fills null values column by column: with a number, with
//! the previous value of the group, or by linear interpolation in time between
//! the group's neighbouring values (leading and trailing nulls stay null).
//! A group with no input rows emits nothing. Input rows off the bucket grid
//! are kept where they fall.
//!
//! The logical node and the exec live here together; the session's
//! [`super::ChronicleQueryPlanner`] routes the node to its exec
//! ([`GapFillNode::to_exec`]). The exec needs its input in one partition,
//! sorted by (groups..., time): it declares that requirement and the
//! optimizer adds the sort.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{SortOptions, cast, concat_batches, partition, take};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result as DfResult, internal_err, plan_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    EquivalenceProperties, LexRequirement, OrderingRequirements, PhysicalSortExpr, PhysicalSortRequirement,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
};
use futures::TryStreamExt;

/// How the nulls of one value column are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub enum ColumnFill {
    /// Left null.
    Null,
    /// Replaced by this number (its `f64` bit pattern, so the node is `Eq`).
    Value(u64),
    /// Replaced by the previous non-null value of the group.
    Previous,
    /// Interpolated in time between the neighbouring non-null values of the group.
    Linear,
}

impl ColumnFill {
    /// Filling with `v`.
    pub fn value(v: f64) -> Self {
        ColumnFill::Value(v.to_bits())
    }
}

/// The bucket grid: starts `first, first + every, ..., last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub struct Buckets {
    /// The first bucket start.
    pub first: i64,
    /// The last bucket start (`first + k * every`).
    pub last: i64,
    /// The bucket width, > 0.
    pub every: i64,
}

/// The logical node; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct GapFillNode {
    input: LogicalPlan,
    groups: Vec<String>,
    time: String,
    buckets: Buckets,
    fills: Vec<(String, ColumnFill)>,
}

impl GapFillNode {
    /// Fills `input`'s `fills` columns over `buckets` of its `time` column, per `groups`.
    pub fn try_new(
        input: LogicalPlan,
        groups: Vec<String>,
        time: String,
        buckets: Buckets,
        fills: Vec<(String, ColumnFill)>,
    ) -> DfResult<Self> {
        if buckets.every <= 0 || buckets.last < buckets.first {
            return plan_err!("GapFill: bad bucket grid {buckets:?}");
        }
        let schema = input.schema();
        for name in groups.iter().chain([&time]).chain(fills.iter().map(|(n, _)| n)) {
            if schema.index_of_column_by_name(None, name).is_none() {
                return plan_err!("GapFill: no column {name:?} in its input");
            }
        }
        Ok(Self { input, groups, time, buckets, fills })
    }

    /// The node as a logical plan.
    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(datafusion::logical_expr::Extension { node: Arc::new(self) })
    }

    /// The exec of this node over `input`, the physical plan of its input:
    /// the columns named here become `input`'s column indices.
    pub fn to_exec(&self, input: Arc<dyn ExecutionPlan>) -> DfResult<GapFillExec> {
        let schema = input.schema();
        let index = |name: &str| schema.index_of(name).map_err(Into::into);
        let groups = self.groups.iter().map(|g| index(g)).collect::<DfResult<Vec<_>>>()?;
        let time = index(&self.time)?;
        let fills = self.fills.iter().map(|(n, c)| Ok((index(n)?, *c))).collect::<DfResult<Vec<_>>>()?;
        Ok(GapFillExec::new(input, groups, time, self.buckets, fills))
    }
}

impl UserDefinedLogicalNodeCore for GapFillNode {
    fn name(&self) -> &str {
        "GapFill"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "GapFill: groups=[{}], time={}, ", self.groups.join(", "), self.time)?;
        fmt_grid(&self.buckets, &self.fills, f)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        let Some(input) = inputs.pop() else { return internal_err!("GapFill takes one input") };
        Self::try_new(input, self.groups.clone(), self.time.clone(), self.buckets, self.fills.clone())
    }
}

fn fmt_grid(b: &Buckets, fills: &[(String, ColumnFill)], f: &mut fmt::Formatter) -> fmt::Result {
    let fills: Vec<String> = fills
        .iter()
        .map(|(n, c)| match c {
            ColumnFill::Value(bits) => format!("{n}={}", f64::from_bits(*bits)),
            other => format!("{n}={other:?}"),
        })
        .collect();
    write!(f, "buckets=[{}, {}] every {}ns, fill=[{}]", b.first, b.last, b.every, fills.join(", "))
}

/// Executes the dialect's gap-filling node (`GapFillNode`); see the module docs.
#[derive(Debug)]
pub struct GapFillExec {
    input: Arc<dyn ExecutionPlan>,
    groups: Vec<usize>,
    time: usize,
    buckets: Buckets,
    fills: Vec<(usize, ColumnFill)>,
    properties: Arc<PlanProperties>,
}

impl GapFillExec {
    /// Fills `input` (column indices for the groups, the time and the filled values).
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        groups: Vec<usize>,
        time: usize,
        buckets: Buckets,
        fills: Vec<(usize, ColumnFill)>,
    ) -> Self {
        let schema = input.schema();
        let ordering = order(&schema, &groups, time).map(|(column, options)| PhysicalSortExpr::new(column, options));
        let properties = PlanProperties::new(
            EquivalenceProperties::new_with_orderings(Arc::clone(&schema), [ordering.collect::<Vec<_>>()]),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self { input, groups, time, buckets, fills, properties: Arc::new(properties) }
    }
}

/// The order GapFill needs and keeps: the groups (a missing tag first), then time.
fn order<'a>(
    schema: &'a SchemaRef,
    groups: &'a [usize],
    time: usize,
) -> impl Iterator<Item = (Arc<dyn PhysicalExpr>, SortOptions)> + 'a {
    groups.iter().copied().chain([time]).map(move |i| {
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(schema.field(i).name(), i));
        (column, SortOptions { descending: false, nulls_first: i != time })
    })
}

impl DisplayAs for GapFillExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = self.input.schema();
        let names: Vec<&str> = self.groups.iter().map(|&i| schema.field(i).name().as_str()).collect();
        let fills: Vec<(String, ColumnFill)> =
            self.fills.iter().map(|(i, c)| (schema.field(*i).name().clone(), *c)).collect();
        write!(f, "GapFillExec: groups=[{}], time={}, ", names.join(", "), schema.field(self.time).name())?;
        fmt_grid(&self.buckets, &fills, f)
    }
}

impl ExecutionPlan for GapFillExec {
    fn name(&self) -> &str {
        "GapFillExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let schema = self.input.schema();
        let sort =
            order(&schema, &self.groups, self.time).map(|(c, options)| PhysicalSortRequirement::new(c, Some(options)));
        vec![LexRequirement::new(sort).map(OrderingRequirements::new)]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop() else { return internal_err!("GapFillExec takes one input") };
        Ok(Arc::new(Self::new(input, self.groups.clone(), self.time, self.buckets, self.fills.clone())))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("GapFillExec has one partition, asked for {partition}");
        }
        let input = self.input.execute(0, context)?;
        let schema = self.schema();
        let job = Filler {
            schema: Arc::clone(&schema),
            groups: self.groups.clone(),
            time: self.time,
            buckets: self.buckets,
            fills: self.fills.clone(),
        };
        let output = futures::stream::once(async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            job.fill(&concat_batches(&job.schema, &batches)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }
}

/// The filling itself, over the whole (sorted) input.
struct Filler {
    schema: SchemaRef,
    groups: Vec<usize>,
    time: usize,
    buckets: Buckets,
    fills: Vec<(usize, ColumnFill)>,
}

impl Filler {
    fn fill(&self, input: &RecordBatch) -> DfResult<RecordBatch> {
        let times = cast(input.column(self.time), &DataType::Int64)?;
        let times = times.as_primitive::<Int64Type>();
        let ranges = if self.groups.is_empty() {
            std::iter::once(0..input.num_rows()).filter(|r| !r.is_empty()).collect()
        } else {
            let keys: Vec<ArrayRef> = self.groups.iter().map(|&g| Arc::clone(input.column(g))).collect();
            partition(&keys)?.ranges()
        };
        // Output rows: the input row they take their values from (None: an
        // inserted bucket), the row their group columns come from, their time.
        let (mut rows, mut group_rows, mut out_times, mut segments) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for range in ranges {
            let start = out_times.len();
            let mut i = range.start;
            let mut bucket = Some(self.buckets.first);
            let mut emit = |row: Option<usize>, t: i64| {
                rows.push(row.map(|r| r as u32));
                group_rows.push(range.start as u32);
                out_times.push(t);
            };
            let after = |b: i64| b.checked_add(self.buckets.every).filter(|n| *n <= self.buckets.last);
            loop {
                let next = (i < range.end).then(|| times.value(i));
                match (next, bucket) {
                    (None, None) => break,
                    (Some(t), Some(b)) if t == b => {
                        emit(Some(i), t);
                        i += 1;
                        bucket = after(b);
                    }
                    (Some(t), b) if b.is_none_or(|b| t < b) => {
                        emit(Some(i), t);
                        i += 1;
                    }
                    (_, Some(b)) => {
                        emit(None, b);
                        bucket = after(b);
                    }
                    (Some(_), None) => break,
                }
            }
            segments.push(start..out_times.len());
        }
        let rows = UInt32Array::from(rows);
        let group_rows = UInt32Array::from(group_rows);
        let out_times: ArrayRef = Arc::new(Int64Array::from(out_times));
        let mut columns = Vec::with_capacity(input.num_columns());
        for (i, column) in input.columns().iter().enumerate() {
            let out = if i == self.time {
                cast(&out_times, column.data_type())?
            } else if self.groups.contains(&i) {
                take(column, &group_rows, None)?
            } else {
                let taken = take(column, &rows, None)?;
                match self.fills.iter().find(|(c, _)| *c == i) {
                    Some((_, ColumnFill::Null)) | None => taken,
                    Some((_, fill)) => fill_column(&taken, *fill, out_times.as_primitive::<Int64Type>(), &segments)?,
                }
            };
            columns.push(out);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// `column` with its nulls filled by `fill` within each segment (a group's rows, by time).
fn fill_column(
    column: &ArrayRef,
    fill: ColumnFill,
    times: &Int64Array,
    segments: &[std::ops::Range<usize>],
) -> DfResult<ArrayRef> {
    let floats = cast(column, &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    let mut out: Vec<Option<f64>> = floats.iter().collect();
    for segment in segments {
        let values = &mut out[segment.clone()];
        match fill {
            ColumnFill::Null => {}
            ColumnFill::Value(bits) => {
                values.iter_mut().filter(|v| v.is_none()).for_each(|v| *v = Some(f64::from_bits(bits)))
            }
            ColumnFill::Previous => {
                let mut previous = None;
                for v in values.iter_mut() {
                    match v {
                        Some(x) => previous = Some(*x),
                        None => *v = previous,
                    }
                }
            }
            ColumnFill::Linear => {
                let known: Vec<usize> = (0..values.len()).filter(|&j| values[j].is_some()).collect();
                for pair in known.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    let (Some(va), Some(vb)) = (values[a], values[b]) else { continue };
                    let (ta, tb) = (times.value(segment.start + a) as f64, times.value(segment.start + b) as f64);
                    for (j, v) in values.iter_mut().enumerate().take(b).skip(a + 1) {
                        let t = times.value(segment.start + j) as f64;
                        *v = Some(va + (vb - va) * (t - ta) / (tb - ta));
                    }
                }
            }
        }
    }
    let filled: ArrayRef = Arc::new(Float64Array::from(out));
    Ok(cast(&filled, column.data_type())?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn run(fill: ColumnFill) -> Vec<(Option<String>, i64, Option<f64>)> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("time", DataType::Int64, false),
            Field::new("v", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), Some("a"), Some("b")])),
                Arc::new(Int64Array::from(vec![10, 40, 20])),
                Arc::new(Float64Array::from(vec![Some(1.0), Some(4.0), None])),
            ],
        )
        .unwrap();
        let filler = Filler {
            schema,
            groups: vec![0],
            time: 1,
            buckets: Buckets { first: 0, last: 50, every: 10 },
            fills: vec![(2, fill)],
        };
        let out = filler.fill(&batch).unwrap();
        let host = out.column(0).as_string::<i32>();
        let time = out.column(1).as_primitive::<Int64Type>();
        let v = out.column(2).as_primitive::<Float64Type>();
        (0..out.num_rows())
            .map(|i| {
                (host.is_valid(i).then(|| host.value(i).to_string()), time.value(i), v.is_valid(i).then(|| v.value(i)))
            })
            .collect()
    }

    #[test]
    fn inserts_every_missing_bucket_per_group() {
        let out = run(ColumnFill::Null);
        let times: Vec<i64> = out.iter().map(|r| r.1).collect();
        assert_eq!(times, vec![0, 10, 20, 30, 40, 50, 0, 10, 20, 30, 40, 50]);
        assert!(out[..6].iter().all(|r| r.0.as_deref() == Some("a")));
        assert!(out[6..].iter().all(|r| r.0.as_deref() == Some("b")));
        assert_eq!(out[1].2, Some(1.0));
        assert_eq!(out[4].2, Some(4.0));
        assert_eq!(out.iter().filter(|r| r.2.is_some()).count(), 2);
    }

    #[test]
    fn fills_by_value_previous_and_linear_within_a_group() {
        let values = |fill| run(fill).into_iter().map(|r| r.2).collect::<Vec<_>>();
        assert_eq!(
            values(ColumnFill::value(-1.0))[..6],
            [Some(-1.0), Some(1.0), Some(-1.0), Some(-1.0), Some(4.0), Some(-1.0)]
        );
        let previous = values(ColumnFill::Previous);
        assert_eq!(previous[..6], [None, Some(1.0), Some(1.0), Some(1.0), Some(4.0), Some(4.0)]);
        assert!(previous[6..].iter().all(Option::is_none), "the previous value never crosses groups");
        assert_eq!(values(ColumnFill::Linear)[..6], [None, Some(1.0), Some(2.0), Some(3.0), Some(4.0), None]);
    }
}
