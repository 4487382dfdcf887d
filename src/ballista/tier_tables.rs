//! The cold tier as DataFusion listing tables: one Parquet table per
//! measurement over the files of the tier's layout
//! (`<root>/<measurement>/<partition start>-<crc>.parquet`).
//!
//! The tables are built from the tier's objects alone, without the
//! database's manifest, so any machine that reaches the store can register
//! them. Each (measurement, partition) is read from one file: the writer
//! uploads a new version of a partition before it saves the manifest and
//! deletes the old version after, so when a deletion failed and two
//! versions remain, the newest (by the store's modification time) is the
//! one the manifest names. Each table lists its files explicitly, so a
//! plan shipped to other processes reads exactly these files.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::{Error, Result};
use crate::query::ExportOptions;
use crate::tier::{ListedFile, TierRoot};

/// Registers every measurement of the tier at `url` (`file:///dir`, or with
/// the `s3` feature `s3://bucket/prefix` configured by `options` and the
/// `AWS_*` environment) in `ctx` as a Parquet listing table named after the
/// measurement, replacing a table of that name. Returns the names, sorted.
///
/// The table's schema is the union of its files' (a tag or field that only
/// some partitions have reads as null elsewhere). `memory://` tiers live
/// inside their database and are refused.
pub async fn register_tier(ctx: &SessionContext, url: &str, options: &ExportOptions) -> Result<Vec<String>> {
    let root = TierRoot::open(url, options)?;
    if root.store_url().as_str().starts_with("memory://") {
        return Err(Error::InvalidArgument(format!(
            "the tier `{url}` is in memory: only its database reads it; tier to file:// or s3:// to share it"
        )));
    }
    ctx.register_object_store(root.store_url().as_ref(), Arc::clone(root.store()));
    let mut tables: BTreeMap<String, Vec<ListingTableUrl>> = BTreeMap::new();
    for file in current_files(root.list().await?) {
        tables.entry(file.measurement).or_default().push(ListingTableUrl::parse(&file.url)?);
    }
    let state = ctx.state();
    for (measurement, urls) in &tables {
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls.clone())
            .with_listing_options(options)
            .infer_schema(&state)
            .await?;
        ctx.register_table(measurement.as_str(), Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(tables.into_keys().collect())
}

/// One file per (measurement, partition): the newest, ties broken by URL so
/// every process picks the same. Sorted by measurement and partition.
fn current_files(files: Vec<ListedFile>) -> Vec<ListedFile> {
    let mut current: BTreeMap<(String, i64), ListedFile> = BTreeMap::new();
    for file in files {
        let key = (file.measurement.clone(), file.partition_start);
        match current.get(&key) {
            Some(kept) if (kept.last_modified, &kept.url) >= (file.last_modified, &file.url) => {
                tracing::warn!(
                    kept = kept.url,
                    ignored = file.url,
                    "two versions of a tiered partition; reading the newer"
                );
            }
            Some(kept) => {
                tracing::warn!(
                    kept = file.url,
                    ignored = kept.url,
                    "two versions of a tiered partition; reading the newer"
                );
                current.insert(key, file);
            }
            None => {
                current.insert(key, file);
            }
        }
    }
    current.into_values().collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn file(measurement: &str, start: i64, crc: &str, modified_s: u64) -> ListedFile {
        ListedFile {
            measurement: measurement.into(),
            partition_start: start,
            url: format!("file:///cold/{measurement}/{start}-{crc}.parquet"),
            last_modified: UNIX_EPOCH + Duration::from_secs(modified_s),
        }
    }

    #[test]
    fn the_newest_version_of_each_partition_is_read() {
        let files = vec![
            file("cpu", 0, "0000000a", 20),
            file("cpu", 0, "0000000b", 10),
            file("cpu", 3600, "0000000c", 5),
            file("disk", 0, "0000000d", 1),
            file("disk", 0, "0000000e", 1),
        ];
        let kept: Vec<String> = current_files(files).into_iter().map(|f| f.url).collect();
        assert_eq!(
            kept,
            [
                "file:///cold/cpu/0-0000000a.parquet",
                "file:///cold/cpu/3600-0000000c.parquet",
                "file:///cold/disk/0-0000000e.parquet"
            ]
        );
    }
}
