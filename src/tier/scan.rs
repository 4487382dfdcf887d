//! The plan of a `ChronicleTable` scan over both tiers.
//!
//! ```text
//! UnionExec
//! ├─ ChronicleScanExec           partitions not tiered: every pushdown, the limit
//! ├─ ProjectionExec              the query's columns
//! │  └─ FilterExec               the filters the table reports Exact, on merged rows
//! │     └─ TierMergeExec         tiered partitions with local rows: local scan + Parquet
//! │                              scan, time and tag predicates only, every tag read
//! └─ ProjectionExec
//!    └─ FilterExec               deletes, the Exact filters
//!       └─ TierMergeExec         tiered partitions the local file holds nothing of:
//!                                Parquet alone, the query's columns, every predicate
//! ```
//!
//! Branches without partitions are left out (a union of one is its input).
//! Without a tiered partition in the query's time range the plan is the
//! plain `ChronicleScanExec`, so every Chronicle optimizer rule still
//! applies; with one, the rules (which read the local file alone) do not
//! match the union, and DataFusion aggregates the rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
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
use super::manifest::TieredFile;
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
    let tiered: BTreeSet<i64> = files.iter().map(|f| f.partition_start.div_euclid(ns)).collect();
    let projection: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..table.schema.fields().len()).collect());
    let planner = Planner { table, state, filters, projection, ns };

    // Local rows of tiered partitions (late writes, or chunks compaction
    // has not dropped yet), narrowed by time and tags only: properties of
    // the row key, so the merge sees the same keys on both sides.
    let on_key = |f: &&Expr| f.column_refs().iter().all(|c| c.name == "time" || table.columns.is_tag(&c.name));
    let key_filters: Vec<Expr> = filters.iter().filter(on_key).cloned().collect();
    let mut key_pushdown = Pushdown::from_filters(&key_filters, table.columns);
    key_pushdown.start = key_pushdown.start.max(table.live_from);
    let merge_local = ChronicleScanExec::try_new(
        table.db.clone(),
        table.measurement.to_string(),
        Arc::clone(table.schema),
        Some(planner.merged_columns()),
        key_pushdown,
        None,
    )?
    .retain_partitions(|p| tiered.contains(&p));
    let with_local: BTreeSet<i64> = merge_local.partitions().iter().copied().collect();
    let (merged, alone): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| with_local.contains(&f.partition_start.div_euclid(ns)));

    let mut inputs: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
    let rest = local.retain_partitions(|p| !tiered.contains(&p));
    if !rest.partitions().is_empty() {
        inputs.push(Arc::new(rest));
    }
    if !merged.is_empty() {
        inputs.push(planner.merge(&merged, merge_local, key_filters)?);
    }
    if !alone.is_empty() {
        inputs.push(planner.parquet_only(&alone)?);
    }
    Ok(match inputs.len() {
        1 => inputs.remove(0),
        _ => UnionExec::try_new(inputs)?,
    })
}

/// Plans the tiered inputs of one table scan.
struct Planner<'a> {
    table: &'a TableScan<'a>,
    state: &'a dyn Session,
    filters: &'a [Expr],
    /// The query's columns, as table positions.
    projection: Vec<usize>,
    /// The partition duration.
    ns: i64,
}

impl Planner<'_> {
    fn is_tag(&self, i: usize) -> bool {
        matches!(self.table.schema.field(i).data_type(), DataType::Dictionary(_, _))
    }

    /// The columns the filters name.
    fn referenced(&self) -> BTreeSet<String> {
        self.filters.iter().flat_map(|f| f.column_refs().into_iter().map(|c| c.name.clone())).collect()
    }

    /// What a merge reads: `time`, every tag (the row key), then the fields
    /// projected or filtered on.
    fn merged_columns(&self) -> Vec<usize> {
        let schema = self.table.schema;
        let referenced = self.referenced();
        (0..schema.fields().len())
            .filter(|&i| {
                i == 0
                    || self.is_tag(i)
                    || (schema.field(i).data_type() == &DataType::Float64
                        && (self.projection.contains(&i) || referenced.contains(schema.field(i).name())))
            })
            .collect()
    }

    /// `exprs` (over table columns) as one physical predicate over `schema`.
    fn physical(&self, exprs: Vec<Expr>, schema: &SchemaRef) -> Result<Option<Arc<dyn PhysicalExpr>>> {
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        conjunction(exprs).map(|e| Ok(self.state.create_physical_expr(unnormalize_col(e), &df_schema)?)).transpose()
    }

    /// The table's `columns`, as a schema.
    fn schema_of(&self, columns: &[usize]) -> Result<SchemaRef> {
        Ok(Arc::new(self.table.schema.project(columns).map_err(|e| Error::Internal(e.to_string()))?))
    }

    /// Keeps the rows of `files` no delete covers, then those of the
    /// filters the table reports Exact (what it told DataFusion it applies),
    /// then projects the query's columns out of `read` (the columns of
    /// `plan`, as table positions).
    fn finish(
        &self,
        mut plan: Arc<dyn ExecutionPlan>,
        files: &[TieredFile],
        read: &[usize],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = plan.schema();
        let deletes = self.table.db.deletes_of(self.table.measurement)?;
        let mut kept = deleted::kept_rows(&deletes, files, self.ns, &schema)?;
        let exact = self
            .filters
            .iter()
            .filter(|f| filter::support(f, self.table.columns) == TableProviderFilterPushDown::Exact)
            .cloned();
        kept.extend(exact);
        if let Some(predicate) = self.physical(kept, &schema)? {
            plan = Arc::new(FilterExec::try_new(predicate, plan)?);
        }
        let columns = self
            .projection
            .iter()
            .map(|&i| {
                let at = read.iter().position(|&n| n == i).ok_or_else(|| Error::Internal("unread column".into()))?;
                let name = self.table.schema.field(i).name().clone();
                Ok((Arc::new(Column::new(&name, at)) as Arc<dyn PhysicalExpr>, name))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(columns, plan)?))
    }

    /// Tiered partitions with local rows too: both read and merged, each
    /// (series, time) once, the local value winning. Deletes listing a
    /// file drop its rows before the merge; the local rows they cover are
    /// gone already.
    fn merge(
        &self,
        files: &[TieredFile],
        local: ChronicleScanExec,
        key_filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let read = self.merged_columns();
        let schema = self.schema_of(&read)?;
        let keys = read.iter().filter(|&&i| i == 0 || self.is_tag(i)).count();
        let mut parquet = parquet_scan(self.table.db, files, &schema, self.physical(key_filters, &schema)?)?;
        let deletes = self.table.db.deletes_of(self.table.measurement)?;
        if let Some(kept) = self.physical(deleted::kept_rows(&deletes, files, self.ns, &schema)?, &schema)? {
            parquet = Arc::new(FilterExec::try_new(kept, parquet)?);
        }
        let partitions = files.iter().map(|f| f.partition_start.div_euclid(self.ns)).collect();
        let root = self.table.db.tier().root("reading tiered partitions")?;
        let merge = TierMergeExec::new(Some(local), parquet, partitions, keys, root.scan_url(), root.store());
        self.finish(Arc::new(merge), &[], &read)
    }

    /// Tiered partitions the local file holds nothing of: their Parquet
    /// files alone, each row once already. Only the columns the query
    /// needs are read, and every filter prunes row groups and pages and
    /// filters rows as they are decoded.
    fn parquet_only(&self, files: &[TieredFile]) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.table.schema;
        let referenced = self.referenced();
        let deletes = self.table.db.deletes_of(self.table.measurement)?;
        let deleted_tags: BTreeSet<&str> =
            deletes.iter().flat_map(|t| t.matchers.iter().map(|m| m.key.as_str())).collect();
        let read: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                let name = schema.field(i).name().as_str();
                i == 0 || self.projection.contains(&i) || referenced.contains(name) || deleted_tags.contains(name)
            })
            .collect();
        let read_schema = self.schema_of(&read)?;
        let predicate = self.physical(self.filters.to_vec(), &read_schema)?;
        let parquet = parquet_scan(self.table.db, files, &read_schema, predicate)?;
        let partitions = files.iter().map(|f| f.partition_start.div_euclid(self.ns)).collect();
        let root = self.table.db.tier().root("reading tiered partitions")?;
        let alone = TierMergeExec::new(None, parquet, partitions, 0, root.scan_url(), root.store());
        self.finish(Arc::new(alone), files, &read)
    }
}

/// The Parquet scan of `files`, one output partition each, reading
/// `schema`'s columns (a column a file lacks reads as null), its row groups
/// and pages pruned by `predicate` and its rows filtered by it as they are
/// decoded. It finds the tier's store under the root's scan URL, which
/// [`TierMergeExec`] registers before running it; footers and page indexes
/// come from the tier's cache.
fn parquet_scan(
    db: &Db,
    files: &[TieredFile],
    schema: &SchemaRef,
    predicate: Option<Arc<dyn PhysicalExpr>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let tier = db.tier();
    let root = tier.root("reading tiered partitions")?;
    let footers = CachedParquetFileReaderFactory::new(Arc::clone(root.store()), tier.footers());
    let mut source = ParquetSource::new(Arc::clone(schema))
        .with_parquet_file_reader_factory(Arc::new(footers))
        .with_pushdown_filters(true);
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
