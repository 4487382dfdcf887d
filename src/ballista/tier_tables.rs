//! The cold tier as DataFusion tables: one Parquet listing table per
//! measurement over exactly the files the tier's manifest mirror names
//! (`<root>/chronicle-tier.json`, see `crate::tier`'s `mirror.rs`), so any
//! machine that reaches the store registers the database's tier as the
//! database reads it, without the database: a file the manifest no longer
//! lists (a replaced version, an expired partition, a failed upload's
//! leftover) is never read, and each table names its files explicitly, so
//! a plan shipped to other processes reads exactly these. Where deletes
//! hide rows of a measurement's files, its table is a view filtering them
//! out (the same predicate the database's own Parquet scan applies), which
//! DataFusion inlines before the plan leaves the client.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::logical_expr::utils::conjunction;
use datafusion::prelude::SessionContext;

use super::{Error, Result};
use crate::query::ExportOptions;
use crate::tier::{TierRoot, TieredFile, kept_rows, read_mirror};

/// Registers every measurement of the tier at `url` (`file:///dir`, or with
/// the `s3` feature `s3://bucket/prefix` configured by `options` and the
/// `AWS_*` environment) in `ctx` as a table named after the measurement,
/// replacing a table of that name. Returns the names, sorted.
///
/// The tables read the files the tier's manifest mirror names, and no
/// other; a tier without a mirror (no database tiered there yet) is an
/// error naming it. A table's schema is the union of its files' (a tag or
/// field that only some partitions have reads as null elsewhere).
/// `memory://` tiers live inside their database and are refused.
pub async fn register_tier(ctx: &SessionContext, url: &str, options: &ExportOptions) -> Result<Vec<String>> {
    let root = TierRoot::open(url, options)?;
    if root.store_url().as_str().starts_with("memory://") {
        return Err(Error::InvalidArgument(format!(
            "the tier `{url}` is in memory: only its database reads it; tier to file:// or s3:// to share it"
        )));
    }
    ctx.register_object_store(root.store_url().as_ref(), Arc::clone(root.store()));
    let mirror = read_mirror(&root).await?;
    let deletes = mirror.tombstones()?;
    let mut tables: BTreeMap<String, Vec<TieredFile>> = BTreeMap::new();
    for file in mirror.files {
        tables.entry(file.measurement.clone()).or_default().push(file);
    }
    let state = ctx.state();
    for (measurement, files) in &tables {
        let urls = files.iter().map(|f| ListingTableUrl::parse(&f.url)).collect::<Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config =
            ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).infer_schema(&state).await?;
        let listing = Arc::new(ListingTable::try_new(config)?);
        let schema = listing.schema();
        let of_measurement: Vec<_> = deletes.iter().filter(|t| &t.measurement == measurement).cloned().collect();
        let kept = kept_rows(&of_measurement, files, mirror.partition_duration_ns, &schema)?;
        let table: Arc<dyn TableProvider> = match conjunction(kept) {
            None => listing,
            Some(kept) => {
                let plan = LogicalPlanBuilder::scan(measurement.as_str(), provider_as_source(listing), None)?
                    .filter(kept)?
                    .build()?;
                Arc::new(ViewTable::new(plan, None))
            }
        };
        ctx.register_table(measurement.as_str(), table)?;
    }
    Ok(tables.into_keys().collect())
}
