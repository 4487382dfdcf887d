//! `ChronicleScanExec`: the physical scan of one measurement.
//!
//! One DataFusion partition per time partition holding matching rows, each
//! streaming the batches of [`crate::Db::scan`] restricted to that partition
//! (planned when the partition starts, so memory holds one series-partition
//! at a time). Only the projected fields are decoded; the pushed conditions
//! (time range, tag matchers, field ranges) and the limit are applied inside.
//! Each partition's output is sorted by (tags..., time); the plan declares
//! that ordering when every tag column and `time` are projected.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, Result as DfResult, ScalarValue, Statistics};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties, StatisticsArgs,
};

use super::filter::Pushdown;
use super::to_df_error;
use crate::db::Db;
use crate::error::Result;
use crate::storage::scan::{ScanEstimate, ScanRequest};

/// Scans one measurement; see the module docs.
#[derive(Debug)]
pub struct ChronicleScanExec {
    db: Db,
    measurement: String,
    /// The table's schema and the projection of it this plan outputs.
    table_schema: SchemaRef,
    projection: Vec<usize>,
    pushdown: Pushdown,
    limit: Option<usize>,
    /// Fields to decode (the projected ones).
    fields: Vec<String>,
    estimate: ScanEstimate,
    partition_ns: i64,
    properties: Arc<PlanProperties>,
}

impl ChronicleScanExec {
    /// Plans the scan: which partitions hold matching rows, and the statistics.
    pub fn try_new(
        db: Db,
        measurement: String,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        pushdown: Pushdown,
        limit: Option<usize>,
    ) -> Result<Self> {
        let projection = projection.unwrap_or_else(|| (0..table_schema.fields().len()).collect());
        let fields: Vec<String> = projection
            .iter()
            .map(|&i| table_schema.field(i))
            .filter(|f| f.data_type() == &DataType::Float64)
            .map(|f| f.name().clone())
            .collect();
        let mut exec = Self {
            db,
            measurement,
            table_schema,
            projection,
            pushdown,
            limit,
            fields,
            estimate: ScanEstimate::default(),
            partition_ns: 1,
            properties: Arc::new(PlanProperties::new(
                EquivalenceProperties::new(Arc::new(datafusion::arrow::datatypes::Schema::empty())),
                Partitioning::UnknownPartitioning(1),
                EmissionType::Incremental,
                Boundedness::Bounded,
            )),
        };
        exec.partition_ns = exec.db.partition_duration_ns()?;
        exec.estimate = if exec.pushdown.never {
            ScanEstimate::default()
        } else {
            exec.db.scan(&exec.request(exec.pushdown.start, exec.pushdown.end))?.estimate()
        };
        exec.properties = Arc::new(exec.plan_properties()?);
        Ok(exec)
    }

    fn request(&self, start: i64, end: i64) -> ScanRequest {
        ScanRequest {
            measurement: self.measurement.clone(),
            matchers: self.pushdown.matchers.clone(),
            fields: Some(self.fields.clone()),
            start,
            end,
            field_ranges: self.pushdown.field_ranges.clone(),
            limit: self.limit,
        }
    }

    fn output_schema(&self) -> DfResult<SchemaRef> {
        Ok(Arc::new(self.table_schema.project(&self.projection)?))
    }

    fn plan_properties(&self) -> DfResult<PlanProperties> {
        let schema = self.output_schema()?;
        let mut eq = EquivalenceProperties::new(Arc::clone(&schema));
        // Sorted by (tags..., time) within a partition, if all are projected.
        let tag_count = self.table_schema.fields().iter().filter(|f| f.data_type() != &DataType::Float64).count() - 1;
        let wanted: Vec<usize> = (1..=tag_count).chain([0]).collect();
        let positions: Option<Vec<usize>> =
            wanted.iter().map(|w| self.projection.iter().position(|p| p == w)).collect();
        if let Some(positions) = positions {
            let sort: Vec<PhysicalSortExpr> = positions
                .iter()
                .map(|&i| {
                    let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(schema.field(i).name(), i));
                    PhysicalSortExpr::new(column, SortOptions { descending: false, nulls_first: false })
                })
                .collect();
            eq = EquivalenceProperties::new_with_orderings(Arc::clone(&schema), [sort]);
        }
        let partitions = self.estimate.partitions.len().max(1);
        Ok(PlanProperties::new(
            eq,
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ))
    }

    /// The positions of the projected columns in a scan batch (time, every
    /// tag, then the decoded fields in order).
    fn batch_projection(&self) -> Vec<usize> {
        let tag_count = self.table_schema.fields().iter().filter(|f| f.data_type() != &DataType::Float64).count() - 1;
        let mut next_field = 1 + tag_count;
        self.projection
            .iter()
            .map(|&i| {
                if i <= tag_count {
                    i
                } else {
                    next_field += 1;
                    next_field - 1
                }
            })
            .collect()
    }
}

impl DisplayAs for ChronicleScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.pushdown;
        let time = match (p.start, p.end) {
            (i64::MIN, i64::MAX) => "all".to_string(),
            (s, e) => format!("[{s}, {e}]"),
        };
        let matchers: Vec<String> = p.matchers.iter().map(|m| format!("{} {:?} {:?}", m.key, m.op, m.value)).collect();
        let ranges: Vec<String> =
            p.field_ranges.iter().map(|r| format!("{} in {:?}..{:?}", r.field, r.lower, r.upper)).collect();
        if t == DisplayFormatType::TreeRender {
            return write!(f, "measurement={}", self.measurement);
        }
        write!(
            f,
            "ChronicleScanExec: measurement={}, time={time}, tags=[{}], field_ranges=[{}], fields=[{}], partitions={}, limit={:?}{}",
            self.measurement,
            matchers.join(", "),
            ranges.join(", "),
            self.fields.join(", "),
            self.estimate.partitions.len(),
            self.limit,
            if p.never { ", never" } else { "" }
        )
    }
}

impl ExecutionPlan for ChronicleScanExec {
    fn name(&self) -> &str {
        "ChronicleScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

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

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let schema = self.output_schema()?;
        let Some(&p) = self.estimate.partitions.get(partition) else {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::empty())));
        };
        // This partition's slice of the time range.
        let ns = i128::from(self.partition_ns);
        let clamp = |t: i128| t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let start = self.pushdown.start.max(clamp(i128::from(p) * ns));
        let end = self.pushdown.end.min(clamp((i128::from(p) + 1) * ns - 1));
        let scan = self.db.scan(&self.request(start, end)).map_err(to_df_error)?;
        let projection = self.batch_projection();
        let batches = scan.map(move |b| -> DfResult<RecordBatch> {
            let b = b.map_err(to_df_error)?;
            Ok(b.project(&projection)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter(batches))))
    }

    fn statistics_from_inputs(&self, _inputs: &[Arc<Statistics>], _args: &StatisticsArgs) -> DfResult<Arc<Statistics>> {
        let schema = self.output_schema()?;
        let mut stats = Statistics::new_unknown(&schema).with_num_rows(Precision::Inexact(self.estimate.rows));
        if let (Some((lo, hi)), Some(i)) = (self.estimate.time_bounds, self.projection.iter().position(|&p| p == 0)) {
            let ts = |t: i64| ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into()));
            stats.column_statistics[i] = ColumnStatistics::new_unknown()
                .with_min_value(Precision::Inexact(ts(lo)))
                .with_max_value(Precision::Inexact(ts(hi)))
                .with_null_count(Precision::Exact(0));
        }
        Ok(Arc::new(stats))
    }
}
