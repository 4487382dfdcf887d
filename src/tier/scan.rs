//! The plan of a `ChronicleTable` scan over both tiers.
//!
//! ```text
//! UnionExec
//! ├─ ChronicleScanExec           partitions not tiered: every pushdown, the limit
//! └─ ProjectionExec              the query's columns
//!    └─ FilterExec               the filters the table reports Exact, on merged rows
//!       └─ TierMergeExec         tiered partitions: local scan + Parquet scan, time and tag predicates only
//! ```
//!
//! Without a tiered partition in the query's time range the plan is the
//! plain `ChronicleScanExec`, so every Chronicle optimizer rule still
//! applies; with one, the rules (which read the local file alone) do not
//! match the union, and DataFusion aggregates the merged rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};

use super::deleted;
use super::merge_exec::TierMergeExec;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::ChronicleScanExec;
use crate::query::filter::{self, Columns, Pushdown};

/// The table whose scan is planned.
pub(crate) struct TableScan<'a> {
    pub db: &'a Db,
    pub measurement: &'a str,
    pub schema: &'a SchemaRef,
    pub columns: &'a dyn Columns,
    /// The first nanosecond retention keeps, decided when the table planned
    /// its local scan ([`crate::Db::scan`]): both tiers start there.
    pub live_from: i64,
}

/// The scan of `table` for `projection` and `filters` over both tiers;
/// `local` is the plain scan the table planned (every pushdown applied),
/// returned unchanged when no tiered partition is in the time range.
pub(crate) fn plan_scan(
    table: &TableScan<'_>,
    state: &dyn Session,
    projection: Option<&Vec<usize>>,
    filters: &[Expr],
    local: ChronicleScanExec,
) -> Result<Arc<dyn ExecutionPlan>> {
    let mut pushdown = Pushdown::from_filters(filters, table.columns);
    pushdown.start = pushdown.start.max(table.live_from);
    let ns = table.db.partition_duration_ns()?;
    let files = table.db.tier().files_in(table.measurement, pushdown.start, pushdown.end, ns)?;
    if files.is_empty() || pushdown.never {
        return Ok(Arc::new(local));
    }
    let partitions: Vec<i64> = files.iter().map(|f| f.partition_start.div_euclid(ns)).collect();
    let tiered: BTreeSet<i64> = partitions.iter().copied().collect();

    // Merged columns: time, every tag, the fields projected or filtered on.
    let schema = table.schema;
    let projection: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..schema.fields().len()).collect());
    let referenced: BTreeSet<String> =
        filters.iter().flat_map(|f| f.column_refs().into_iter().map(|c| c.name.clone())).collect();
    let is_tag = |i: usize| matches!(schema.field(i).data_type(), DataType::Dictionary(_, _));
    let is_field = |i: usize| schema.field(i).data_type() == &DataType::Float64;
    let keys: Vec<usize> = (0..schema.fields().len()).filter(|&i| i == 0 || is_tag(i)).collect();
    let needed: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| {
            keys.contains(&i)
                || (is_field(i) && (projection.contains(&i) || referenced.contains(schema.field(i).name())))
        })
        .collect();
    let merged_schema = Arc::new(schema.project(&needed).map_err(|e| Error::Internal(e.to_string()))?);
    let merged_df = DFSchema::try_from(merged_schema.as_ref().clone())?;
    let physical = |exprs: Vec<Expr>| -> Result<Option<Arc<dyn PhysicalExpr>>> {
        conjunction(exprs).map(|e| Ok(state.create_physical_expr(unnormalize_col(e), &merged_df)?)).transpose()
    };

    // Both sides narrowed by time and tags only: properties of the row key.
    let on_key = |f: &&Expr| f.column_refs().iter().all(|c| c.name == "time" || table.columns.is_tag(&c.name));
    let key_filters: Vec<Expr> = filters.iter().filter(on_key).cloned().collect();
    let mut key_pushdown = Pushdown::from_filters(&key_filters, table.columns);
    key_pushdown.start = key_pushdown.start.max(table.live_from);
    let merge_local = ChronicleScanExec::try_new(
        table.db.clone(),
        table.measurement.to_string(),
        Arc::clone(schema),
        Some(needed.clone()),
        key_pushdown,
        None,
    )?
    .retain_partitions(|p| tiered.contains(&p));
    let mut parquet = parquet_scan(table.db, &files, &merged_schema, physical(key_filters)?)?;
    let deletes = table.db.deletes_of(table.measurement)?;
    if let Some(kept) = physical(deleted::kept_rows(&deletes, &files, ns, &merged_schema)?)? {
        parquet = Arc::new(FilterExec::try_new(kept, parquet)?);
    }
    let root = table.db.tier().root("reading tiered partitions")?;
    let merge = TierMergeExec::new(merge_local, parquet, partitions, keys.len(), root.scan_url(), root.store());
    let mut plan: Arc<dyn ExecutionPlan> = Arc::new(merge);

    // What the table told DataFusion it applies, applied to the merged rows.
    let exact: Vec<Expr> = filters
        .iter()
        .filter(|f| filter::support(f, table.columns) == TableProviderFilterPushDown::Exact)
        .cloned()
        .collect();
    if let Some(predicate) = physical(exact)? {
        plan = Arc::new(FilterExec::try_new(predicate, plan)?);
    }
    let columns = projection
        .iter()
        .map(|&i| {
            let at = needed.iter().position(|&n| n == i).ok_or_else(|| Error::Internal("unmerged column".into()))?;
            let name = schema.field(i).name().clone();
            Ok((Arc::new(Column::new(&name, at)) as Arc<dyn PhysicalExpr>, name))
        })
        .collect::<Result<Vec<_>>>()?;
    plan = Arc::new(ProjectionExec::try_new(columns, plan)?);

    let rest = local.retain_partitions(|p| !tiered.contains(&p));
    if rest.partitions().is_empty() {
        return Ok(plan);
    }
    Ok(UnionExec::try_new(vec![Arc::new(rest), plan])?)
}

/// The Parquet scan of `files`, one output partition each, reading
/// `schema`'s columns (a column a file lacks reads as null), its row groups
/// and pages pruned by `predicate`. It finds the tier's store under the
/// root's scan URL, which [`TierMergeExec`] registers before running it.
fn parquet_scan(
    db: &Db,
    files: &[super::TieredFile],
    schema: &SchemaRef,
    predicate: Option<Arc<dyn PhysicalExpr>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let tier = db.tier();
    let root = tier.root("reading tiered partitions")?;
    let mut source = ParquetSource::new(Arc::clone(schema));
    if let Some(predicate) = predicate {
        source = source.with_predicate(predicate);
    }
    let groups = files
        .iter()
        .map(|f| Ok(FileGroup::new(vec![PartitionedFile::new(root.path_of(&f.url)?.to_string(), f.size)])))
        .collect::<Result<Vec<_>>>()?;
    // Order-preserving: each output partition reads exactly its own file
    // (otherwise DataFusion lets partitions steal each other's files, and
    // a file would meet the local rows of another partition).
    let config = FileScanConfigBuilder::new(root.scan_url().clone(), Arc::new(source))
        .with_file_groups(groups)
        .with_preserve_order(true)
        .build();
    Ok(DataSourceExec::from_data_source(config))
}
