//! `ChronicleScanExec`: the physical scan of one measurement.
//!
//! One DataFusion partition per time partition holding matching rows, each
//! streaming the batches of [`crate::Db::scan`] restricted to that partition
//! (planned when the partition starts, so memory holds one series-partition
//! at a time). Only the projected fields are decoded; the pushed conditions
//! (time range, tag matchers, present conditions, field ranges, a condition
//! no row meets) and the limit are applied inside. Field ranges are
//! materialized late: their fields are decoded first, the others only where
//! rows survive (`decoded_first=[..]` in `EXPLAIN`).
//!
//! Invariant: the scan asks for the projected tag and field columns by name
//! (tags in the table's order), so every batch has this plan's schema,
//! whatever tags and fields are written between planning and execution.
//! Each partition's output is sorted by (tags..., time); the plan declares
//! that ordering when every tag column and `time` are projected, and then
//! the scan merges by time the series that only a tag unknown to the table
//! tells apart. In latest mode ([`ChronicleScanExec::latest`]) one
//! partition returns the latest row of each series.

use std::fmt;
use std::sync::{Arc, Mutex};

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
use crate::db::{Db, Generation};
use crate::error::{Error, Result};
use crate::storage::scan::{self, Scan, ScanEstimate, ScanOptions, ScanRequest, TopBuckets};

/// Scans one measurement; see the module docs.
#[derive(Debug, Clone)]
pub struct ChronicleScanExec {
    db: Db,
    /// The whole scan: pushed conditions, the projected tags (in table
    /// order) and fields, limit.
    request: ScanRequest,
    /// What the plan asks beyond the request (a condition no row meets,
    /// latest rows, a cut to top buckets, sorted output).
    options: ScanOptions,
    /// Positions of the output columns in a scan batch.
    batch_projection: Vec<usize>,
    estimate: ScanEstimate,
    /// The scan of the whole request planned for the estimate, kept for
    /// latest mode (whose one partition reads the whole request): taken by
    /// the first execution if the database is still at the generation it
    /// was planned at, so the scan is not planned twice.
    planned: Arc<Mutex<Option<(Scan, Generation)>>>,
    partition_ns: i64,
    properties: Arc<PlanProperties>,
}

impl ChronicleScanExec {
    /// Plans the scan of the table whose schema is `table_schema`:
    /// which partitions hold matching rows, and the statistics. The scan
    /// asks for the projected columns by name, so its batches keep this
    /// plan's schema whatever tags and fields are written meanwhile.
    pub(crate) fn try_new(
        db: Db,
        measurement: String,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        pushdown: Pushdown,
        limit: Option<usize>,
    ) -> Result<Self> {
        let projection = projection.unwrap_or_else(|| (0..table_schema.fields().len()).collect());
        let kind = |i: usize| table_schema.field(i).data_type();
        let is_tag = |i: usize| matches!(kind(i), DataType::Dictionary(_, _));
        let table_tags: Vec<usize> = (0..table_schema.fields().len()).filter(|&i| is_tag(i)).collect();
        let name = |i: usize| table_schema.field(i).name().clone();
        let tags: Vec<String> = table_tags.iter().filter(|i| projection.contains(i)).map(|&i| name(i)).collect();
        let fields: Vec<String> =
            projection.iter().filter(|&&i| kind(i) == &DataType::Float64).map(|&i| name(i)).collect();
        let scan_schema = scan::schema(&tags, &fields);
        let batch_projection = projection
            .iter()
            .map(|&i| scan_schema.index_of(table_schema.field(i).name()).map_err(|e| Error::Internal(e.to_string())))
            .collect::<Result<Vec<usize>>>()?;
        let mut request = ScanRequest::new(measurement).with_tags(tags).with_fields(fields);
        request.matchers = pushdown.matchers;
        (request.start, request.end) = (pushdown.start, pushdown.end);
        request.present = pushdown.present;
        request.field_ranges = pushdown.field_ranges;
        request.limit = limit;
        let ordering = ordering_positions(&projection, &table_tags);
        let options = ScanOptions { never: pushdown.never, sorted: ordering.is_some(), ..ScanOptions::default() };
        let (scan, generation) = db.scan_at(&request, &options)?;
        let estimate = scan.estimate();
        let schema = Arc::new(table_schema.project(&projection).map_err(|e| Error::Internal(e.to_string()))?);
        let properties = plan_properties(schema, ordering, estimate.partitions.len());
        let partition_ns = db.partition_duration_ns()?;
        Ok(Self {
            db,
            request,
            options,
            batch_projection,
            estimate,
            planned: Arc::new(Mutex::new(Some((scan, generation)))),
            partition_ns,
            properties: Arc::new(properties),
        })
    }

    /// The whole scan: pushed conditions, projected fields, limit.
    pub(crate) fn request(&self) -> &ScanRequest {
        &self.request
    }

    /// What the plan asks of the scan beyond its request.
    pub(crate) fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// This scan reading only the rows `top` needs: its time range cut
    /// where the data is now (see [`TopBuckets`]), its partitions re-planned.
    pub(crate) fn with_top_buckets(&self, top: TopBuckets) -> Result<Self> {
        let mut request = self.request.clone();
        let options = ScanOptions { top_buckets: Some(top), ..self.options };
        let planned = self.db.scan_with(&request, &options)?;
        (request.start, request.end) = (planned.start, planned.end);
        let estimate = planned.estimate();
        let partitions = Partitioning::UnknownPartitioning(estimate.partitions.len().max(1));
        let properties = self.properties.as_ref().clone().with_partitioning(partitions);
        // The cut is in the request's range now; the option stays for EXPLAIN.
        let planned = Arc::default();
        Ok(Self { request, options, estimate, planned, properties: Arc::new(properties), ..self.clone() })
    }

    /// This scan returning only the latest row of each series, as one
    /// output partition (the latest row may be in any time partition).
    pub(crate) fn latest(&self) -> Self {
        let mut scan = self.clone();
        scan.options.latest = true;
        scan.options.sorted = false;
        let properties = self.properties.as_ref().clone().with_partitioning(Partitioning::UnknownPartitioning(1));
        scan.properties = Arc::new(properties);
        scan
    }

    /// Whether every series this scan may return (its measurement's series
    /// matching its tag matchers, whether or not they have rows) has a
    /// point in its time range after the time partitions `partitions` (of
    /// the cold tier, say): then none of their rows is a series' latest.
    /// Exact (expired and deleted points do not count), as of now.
    pub(crate) fn has_every_series_after(&self, partitions: impl Iterator<Item = i64>) -> Result<bool> {
        let Some(newest) = partitions.max() else { return Ok(true) };
        let after = newest.saturating_add(1).saturating_mul(self.partition_ns).max(self.request.start);
        let r = &self.request;
        self.db.has_every_series_in(&r.measurement, &r.matchers, after, r.end)
    }

    /// Whether this scan's time range misses every time partition of `partitions`.
    pub(crate) fn reads_none_of(&self, partitions: &[i64]) -> bool {
        let ns = i128::from(self.partition_ns);
        let (start, end) = (i128::from(self.request.start), i128::from(self.request.end));
        partitions.iter().all(|&p| (i128::from(p) + 1) * ns - 1 < start || i128::from(p) * ns > end)
    }

    /// Plans the scan of output partition `partition`: the request restricted
    /// to its time partition (the whole request in latest mode), planned now;
    /// `None` if it holds nothing.
    pub(crate) fn partition_scan(&self, partition: usize) -> Result<Option<Scan>> {
        // Already cut: planning the cut again would only repeat it.
        let options = ScanOptions { top_buckets: None, ..self.options };
        // Only latest mode reads the whole request the kept scan covers;
        // other modes free it at their first partition.
        let kept = self.planned.lock().ok().and_then(|mut slot| slot.take());
        if options.latest {
            if partition != 0 || self.estimate.partitions.is_empty() {
                return Ok(None);
            }
            return match kept {
                Some((scan, at)) if at == self.db.generation()? => Ok(Some(scan.in_latest_mode())),
                _ => self.db.scan_with(&self.request, &options).map(Some),
            };
        }
        let Some(&p) = self.estimate.partitions.get(partition) else { return Ok(None) };
        let ns = i128::from(self.partition_ns);
        let clamp = |t: i128| t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let mut request = self.request.clone();
        request.start = request.start.max(clamp(i128::from(p) * ns));
        request.end = request.end.min(clamp((i128::from(p) + 1) * ns - 1));
        self.db.scan_with(&request, &options).map(Some)
    }

    /// The time partitions read, one per output partition, ascending.
    pub(crate) fn partitions(&self) -> &[i64] {
        &self.estimate.partitions
    }

    /// This scan reading only the time partitions `keep` accepts (the cold
    /// tier reads the others, see [`crate::tier`]).
    pub(crate) fn retain_partitions(&self, keep: impl Fn(i64) -> bool) -> Self {
        let mut scan = self.clone();
        scan.estimate.partitions.retain(|&p| keep(p));
        let partitions = Partitioning::UnknownPartitioning(scan.estimate.partitions.len().max(1));
        scan.properties = Arc::new(self.properties.as_ref().clone().with_partitioning(partitions));
        scan
    }

    /// Every parameter of the scan, as `EXPLAIN` shows them.
    pub(crate) fn parameters(&self) -> String {
        let p = &self.request;
        let time = match (p.start, p.end) {
            (i64::MIN, i64::MAX) => "all".to_string(),
            (s, e) => format!("[{s}, {e}]"),
        };
        let matchers: Vec<String> = p.matchers.iter().map(|m| format!("{} {:?} {:?}", m.key, m.op, m.value)).collect();
        let ranges: Vec<String> =
            p.field_ranges.iter().map(|r| format!("{} in {:?}..{:?}", r.field, r.lower, r.upper)).collect();
        let present = match p.present.as_slice() {
            [] => String::new(),
            clauses => {
                let clauses: Vec<String> = clauses.iter().map(|c| format!("{} is not null", c.join(" or "))).collect();
                format!(", present=[{}]", clauses.join(", "))
            }
        };
        // Late materialization: the ranged fields are decoded and checked
        // before the others, which are decoded only where rows survive.
        let mut ranged: Vec<&str> = Vec::new();
        for r in &p.field_ranges {
            if !ranged.contains(&r.field.as_str()) {
                ranged.push(&r.field);
            }
        }
        let late = if ranged.is_empty() { String::new() } else { format!(", decoded_first=[{}]", ranged.join(", ")) };
        let o = &self.options;
        format!(
            "measurement={}, time={time}, tags=[{}], field_ranges=[{}]{present}{late}, fields=[{}], partitions={}, \
             limit={:?}{}{}{}",
            p.measurement,
            matchers.join(", "),
            ranges.join(", "),
            p.fields.as_deref().unwrap_or_default().join(", "),
            self.estimate.partitions.len(),
            p.limit,
            if o.latest { ", latest row per series".to_string() } else { String::new() },
            o.top_buckets
                .map(|t| format!(
                    ", cut to the {} {} {}",
                    if t.newest { "newest" } else { "oldest" },
                    t.count,
                    t.bucket
                ))
                .unwrap_or_default(),
            if o.never { ", never" } else { "" }
        )
    }

    /// A batch of [`Self::partition_scan`] as this plan's output.
    pub(crate) fn project(&self, batch: &RecordBatch) -> DfResult<RecordBatch> {
        Ok(batch.project(&self.batch_projection)?)
    }
}

/// Where the table's tags, then `time`, are among the output columns, if
/// all of them are: the declared ordering (tags..., time).
fn ordering_positions(projection: &[usize], table_tags: &[usize]) -> Option<Vec<usize>> {
    table_tags.iter().chain([&0]).map(|w| projection.iter().position(|p| p == w)).collect()
}

/// Partitioning (one per time partition) and the ordering within each:
/// (tags..., time) when every tag and `time` are among the output columns.
fn plan_properties(schema: SchemaRef, ordering: Option<Vec<usize>>, partitions: usize) -> PlanProperties {
    let eq = match ordering {
        Some(positions) => {
            let sort = positions.into_iter().map(|i| {
                let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(schema.field(i).name(), i));
                PhysicalSortExpr::new(column, SortOptions { descending: false, nulls_first: false })
            });
            EquivalenceProperties::new_with_orderings(Arc::clone(&schema), [sort.collect::<Vec<_>>()])
        }
        None => EquivalenceProperties::new(schema),
    };
    PlanProperties::new(
        eq,
        Partitioning::UnknownPartitioning(partitions.max(1)),
        EmissionType::Incremental,
        Boundedness::Bounded,
    )
}

impl DisplayAs for ChronicleScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if t == DisplayFormatType::TreeRender {
            return write!(f, "measurement={}", self.request.measurement);
        }
        write!(f, "ChronicleScanExec: {}", self.parameters())
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

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let schema = self.schema();
        let Some(scan) = self.partition_scan(partition).map_err(to_df_error)? else {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::empty())));
        };
        let scan = scan.with_batch_rows(context.session_config().batch_size());
        let projection = self.batch_projection.clone();
        let batches = scan.map(move |b| -> DfResult<RecordBatch> {
            let b = b.map_err(to_df_error)?;
            Ok(b.project(&projection)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter(batches))))
    }

    fn statistics_from_inputs(&self, _inputs: &[Arc<Statistics>], _args: &StatisticsArgs) -> DfResult<Arc<Statistics>> {
        let schema = self.schema();
        let mut stats = Statistics::new_unknown(&schema).with_num_rows(Precision::Inexact(self.estimate.rows));
        if let (Some((lo, hi)), Some(i)) =
            (self.estimate.time_bounds, self.batch_projection.iter().position(|&p| p == 0))
        {
            let ts = |t: i64| ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into()));
            stats.column_statistics[i] = ColumnStatistics::new_unknown()
                .with_min_value(Precision::Inexact(ts(lo)))
                .with_max_value(Precision::Inexact(ts(hi)))
                .with_null_count(Precision::Exact(0));
        }
        Ok(Arc::new(stats))
    }
}
