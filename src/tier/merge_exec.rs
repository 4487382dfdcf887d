//! `TierMergeExec`: the tiered partitions of one measurement, read from
//! both tiers and merged, each (series, time) once.
//!
//! One output partition per tiered time partition: that partition's
//! Parquet file (a `DataSourceExec` over `ParquetSource`, row groups and
//! pages pruned by the time and tag predicates) and the local scan of the
//! same time partition (file chunks and head, if it holds any). Both read
//! the same columns: `time`, every tag of the table, then the fields the
//! query needs. Rows are matched on (time, tags); per field the local value
//! wins where it has one (it was written later, or is the same point), the
//! tiered value fills in otherwise. So a point held by both tiers counts
//! once, a late write overrides the tiered point, and when the local
//! chunks are gone the same rows come out.
//!
//! A partition the local scan holds nothing of (no local scan at all, or
//! one planned without that partition) streams its file's rows as they
//! are: a tier file holds each (series, time) once. Without a local scan
//! the Parquet scan may read any columns and apply any predicate.
//!
//! Invariant: with a local scan, neither input is narrowed by anything but
//! time and tags (both are properties of the row key), so a row dropped on
//! one side is dropped on the other; field predicates run after the merge.

use std::fmt;
use std::sync::Arc;

use arrow_select::concat::concat_batches;
use arrow_select::interleave::interleave;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatchOptions;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::Result as DfResult;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties, common, displayable,
};
use futures::StreamExt;
use object_store::ObjectStore;

use crate::query::ChronicleScanExec;

/// Reads tiered partitions from both tiers; see the module docs.
#[derive(Debug)]
pub struct TierMergeExec {
    /// The local scan of the tiered partitions (the ones holding rows), if
    /// any is merged.
    local: Option<ChronicleScanExec>,
    /// The Parquet scan: output partition `i` reads the file of `partitions[i]`.
    tiered: Arc<dyn ExecutionPlan>,
    /// Time partition numbers, one per output partition.
    partitions: Vec<i64>,
    /// The leading columns that make the row key: `time` and the tags.
    keys: usize,
    /// The tier's store and the name the Parquet scan looks it up by.
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    properties: Arc<PlanProperties>,
}

impl TierMergeExec {
    /// Merges `local` (if any) and `tiered` (same schema, key = the first
    /// `keys` columns); `tiered` has one partition per entry of
    /// `partitions` and reads `store`, registered for it under `store_url`
    /// at execution.
    pub(crate) fn new(
        local: Option<ChronicleScanExec>,
        tiered: Arc<dyn ExecutionPlan>,
        partitions: Vec<i64>,
        keys: usize,
        store_url: &ObjectStoreUrl,
        store: &Arc<dyn ObjectStore>,
    ) -> Self {
        let schema = tiered.schema();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions.len().max(1)),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        let (store_url, store) = (store_url.clone(), Arc::clone(store));
        Self { local, tiered, partitions, keys, store_url, store, properties: Arc::new(properties) }
    }

    /// The time partition numbers it reads, one per output partition.
    pub(crate) fn partitions(&self) -> &[i64] {
        &self.partitions
    }
}

impl DisplayAs for TierMergeExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if t == DisplayFormatType::TreeRender {
            return write!(f, "partitions={}", self.partitions.len());
        }
        write!(
            f,
            "TierMergeExec: partitions={:?}, local=[{}], tiered=[{}]",
            self.partitions,
            self.local.as_ref().map_or_else(|| "none".to_string(), ChronicleScanExec::parameters),
            displayable(self.tiered.as_ref()).one_line().to_string().trim_end()
        )
    }
}

impl ExecutionPlan for TierMergeExec {
    fn name(&self) -> &str {
        "TierMergeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// None: the Parquet scan is held, not a child, so no optimizer
    /// re-partitions it away from one file per output partition.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let schema = self.schema();
        let Some(&p) = self.partitions.get(partition) else {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::empty())));
        };
        let local = self.local.as_ref().and_then(|l| Some((l, l.partitions().iter().position(|&q| q == p)?)));
        context.runtime_env().register_object_store(self.store_url.as_ref(), Arc::clone(&self.store));
        let tiered = self.tiered.execute(partition, Arc::clone(&context))?;
        let Some((local, i)) = local else { return Ok(tiered) };
        let local = local.execute(i, Arc::clone(&context))?;
        let (keys, batch_rows) = (self.keys, context.session_config().batch_size().max(1));
        let out_schema = Arc::clone(&schema);
        let merged = async move {
            let local = common::collect(local).await?;
            let tiered = common::collect(tiered).await?;
            let batch = merge(&out_schema, &local, &tiered, keys)?;
            let slices: Vec<DfResult<RecordBatch>> = (0..batch.num_rows())
                .step_by(batch_rows)
                .map(|at| Ok(batch.slice(at, batch_rows.min(batch.num_rows() - at))))
                .collect();
            Ok::<_, datafusion::error::DataFusionError>(futures::stream::iter(slices))
        };
        let stream = futures::stream::once(merged).map(|r| match r {
            Ok(slices) => slices.left_stream(),
            Err(e) => futures::stream::iter([Err(e)]).right_stream(),
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream.flatten())))
    }
}

/// The rows of `local` and `tiered`, one per key (the first `keys`
/// columns), sorted by key: key columns from the first row with the key,
/// each other column from the first row holding a value there, local rows
/// first.
fn merge(schema: &SchemaRef, local: &[RecordBatch], tiered: &[RecordBatch], keys: usize) -> DfResult<RecordBatch> {
    let sides = [concat_batches(schema, local)?, concat_batches(schema, tiered)?];
    let fields = schema.fields().iter().take(keys).map(|f| {
        SortField::new_with_options(f.data_type().clone(), SortOptions { descending: false, nulls_first: false })
    });
    let converter = RowConverter::new(fields.collect())?;
    let rows: Vec<Rows> =
        sides.iter().map(|b| converter.convert_columns(&b.columns()[..keys])).collect::<Result<_, _>>()?;
    let mut order: Vec<(usize, usize)> =
        sides.iter().enumerate().flat_map(|(s, b)| (0..b.num_rows()).map(move |r| (s, r))).collect();
    // Stable: for equal keys the local row stays first.
    order.sort_by(|&(s, r), &(t, q)| rows[s].row(r).cmp(&rows[t].row(q)));
    let mut groups: Vec<&[(usize, usize)]> = Vec::new();
    let mut rest = order.as_slice();
    while let Some(&(s, r)) = rest.first() {
        let len = rest.iter().take_while(|&&(t, q)| rows[t].row(q) == rows[s].row(r)).count();
        let (group, tail) = rest.split_at(len);
        groups.push(group);
        rest = tail;
    }
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: [&dyn Array; 2] = [sides[0].column(c).as_ref(), sides[1].column(c).as_ref()];
            let pick = |group: &&[(usize, usize)]| {
                let first = group[0];
                if c < keys {
                    first
                } else {
                    group.iter().copied().find(|&(s, r)| arrays[s].is_valid(r)).unwrap_or(first)
                }
            };
            let indices: Vec<(usize, usize)> = groups.iter().map(pick).collect();
            Ok(interleave(&arrays, &indices)?)
        })
        .collect::<DfResult<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(groups.len()));
    Ok(RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use datafusion::arrow::array::{DictionaryArray, Float64Array, TimestampNanosecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

    use super::*;

    fn schema() -> SchemaRef {
        let tag = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        Arc::new(Schema::new(vec![
            Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false),
            Field::new("host", tag, true),
            Field::new("a", DataType::Float64, true),
            Field::new("b", DataType::Float64, true),
        ]))
    }

    /// time, host, a, b.
    type Line<'a> = (i64, Option<&'a str>, Option<f64>, Option<f64>);

    fn batch(rows: &[Line<'_>]) -> RecordBatch {
        let time = TimestampNanosecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()).with_timezone("UTC");
        let host: DictionaryArray<Int32Type> = rows.iter().map(|r| r.1).collect();
        let a = Float64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>());
        let b = Float64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>());
        RecordBatch::try_new(schema(), vec![Arc::new(time), Arc::new(host), Arc::new(a), Arc::new(b)]).unwrap()
    }

    #[test]
    fn each_key_comes_out_once_with_local_values_over_tiered_ones() {
        // Tiered: a full partition. Local: the same points again (not yet
        // dropped), a late overwrite of `a` at (x, 2), a point only local,
        // and a series without the tag.
        let tiered = batch(&[
            (1, Some("x"), Some(1.0), Some(10.0)),
            (2, Some("x"), Some(2.0), Some(20.0)),
            (1, Some("y"), None, Some(30.0)),
            (1, None, Some(4.0), None),
        ]);
        let local = batch(&[
            (1, Some("x"), Some(1.0), Some(10.0)),
            (2, Some("x"), Some(99.0), None),
            (3, Some("x"), Some(3.0), None),
            (1, Some("y"), None, Some(30.0)),
        ]);
        let merged = merge(&schema(), &[local], &[tiered], 2).unwrap();
        let expected = batch(&[
            (1, Some("x"), Some(1.0), Some(10.0)),
            (2, Some("x"), Some(99.0), Some(20.0)),
            (3, Some("x"), Some(3.0), None),
            (1, Some("y"), None, Some(30.0)),
            (1, None, Some(4.0), None),
        ]);
        let lines = |b: &RecordBatch| {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(std::slice::from_ref(b)).unwrap();
            let mut lines: Vec<String> = table.to_string().lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(merged.num_rows(), 5);
        assert_eq!(lines(&merged), lines(&expected));
    }

    #[test]
    fn either_side_may_be_empty() {
        let only = batch(&[(5, Some("x"), Some(1.0), None)]);
        assert_eq!(merge(&schema(), &[], std::slice::from_ref(&only), 2).unwrap().num_rows(), 1);
        assert_eq!(merge(&schema(), &[only], &[], 2).unwrap().num_rows(), 1);
        assert_eq!(merge(&schema(), &[], &[], 2).unwrap().num_rows(), 0);
    }
}
