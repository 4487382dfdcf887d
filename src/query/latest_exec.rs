//! `ChronicleLatestExec`: per group, the latest row's values, from a scan
//! returning the latest row of each series ([`ChronicleScanExec::latest`]).
//!
//! It stands for a whole latest-row aggregate (see [`super::latest_rule`]):
//! its input holds one row per series, few enough to gather in memory; it
//! keeps, per group (the values of the group expressions), the row with the
//! largest time (the first seen on a tie) and evaluates each aggregate's
//! argument on it. Without group expressions there is one group, which
//! yields a row of nulls when the input is empty, as an aggregate does.
//!
//! [`ChronicleScanExec::latest`]: super::ChronicleScanExec::latest

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array, new_null_array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties, apply_expression_roots,
    common,
};

/// The latest row of each group; see the module docs.
#[derive(Debug, Clone)]
pub struct ChronicleLatestExec {
    /// One partition, one row per series.
    input: Arc<dyn ExecutionPlan>,
    /// Group expressions over the input.
    groups: Vec<Arc<dyn PhysicalExpr>>,
    /// The time of an input row.
    time: Arc<dyn PhysicalExpr>,
    /// Per output value column: what to evaluate on the latest row.
    values: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ChronicleLatestExec {
    /// Output `schema`: the groups, then the values. `input` has one partition.
    pub(crate) fn new(
        input: Arc<dyn ExecutionPlan>,
        groups: Vec<Arc<dyn PhysicalExpr>>,
        time: Arc<dyn PhysicalExpr>,
        values: Vec<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self { input, groups, time, values, schema, properties: Arc::new(properties) }
    }

    /// The output rows for the gathered input `batch`.
    fn latest_rows(&self, batch: &RecordBatch) -> DfResult<RecordBatch> {
        let n = batch.num_rows();
        let evaluate = |e: &Arc<dyn PhysicalExpr>| e.evaluate(batch).and_then(|v| v.into_array(n));
        let times = evaluate(&self.time)?;
        let Some(times) = times.as_any().downcast_ref::<TimestampNanosecondArray>() else {
            return internal_err!("the time of a latest-row aggregate is not a nanosecond timestamp");
        };
        let groups: Vec<ArrayRef> = self.groups.iter().map(evaluate).collect::<DfResult<_>>()?;
        let later =
            |i: usize, than: usize| times.is_valid(i) && (times.is_null(than) || times.value(i) > times.value(than));
        let mut picked: Vec<usize> = Vec::new();
        if groups.is_empty() {
            if n == 0 {
                let nulls = self.schema.fields().iter().map(|f| new_null_array(f.data_type(), 1)).collect();
                return Ok(RecordBatch::try_new(Arc::clone(&self.schema), nulls)?);
            }
            picked.push((1..n).fold(0, |best, i| if later(i, best) { i } else { best }));
        } else {
            let converter = RowConverter::new(groups.iter().map(|g| SortField::new(g.data_type().clone())).collect())?;
            let rows = converter.convert_columns(&groups)?;
            let mut slots = HashMap::with_capacity(n);
            for i in 0..n {
                let slot = *slots.entry(rows.row(i)).or_insert_with(|| {
                    picked.push(i);
                    picked.len() - 1
                });
                if later(i, picked[slot]) {
                    picked[slot] = i;
                }
            }
        }
        let indices = UInt32Array::from_iter_values(picked.iter().map(|&i| i as u32));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for array in groups.into_iter().map(Ok).chain(self.values.iter().map(evaluate)) {
            columns.push(take(array?.as_ref(), &indices, None)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl DisplayAs for ChronicleLatestExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |exprs: &[Arc<dyn PhysicalExpr>]| exprs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        write!(
            f,
            "ChronicleLatestExec: groups=[{}], time={}, values=[{}]",
            list(&self.groups),
            self.time,
            list(&self.values)
        )
    }
}

impl ExecutionPlan for ChronicleLatestExec {
    fn name(&self) -> &str {
        "ChronicleLatestExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        apply_expression_roots(self.groups.iter().chain([&self.time]).chain(&self.values), f)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let (Some(input), true) = (children.pop(), children.is_empty()) else {
            return internal_err!("ChronicleLatestExec has one child");
        };
        Ok(Arc::new(Self { input, ..self.as_ref().clone() }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("ChronicleLatestExec has one partition, asked for {partition}");
        }
        let input = self.input.execute(0, context)?;
        let this = self.clone();
        let answer = async move {
            let batches = common::collect(input).await?;
            let gathered = concat_batches(&this.input.schema(), &batches)?;
            this.latest_rows(&gathered)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), futures::stream::once(answer))))
    }
}
