//! Tiering a partition: each measurement's rows in it written as one
//! Parquet file by the export's writer, uploaded, read back and checked,
//! then recorded in the manifest.
//!
//! Order (each step only after the one before succeeded):
//! 1. export the (measurement, partition) into memory: sorted by tags then
//!    time, encoded as [`super::file_options`] says, key-value metadata
//!    ([`super::layout`]);
//! 2. upload it under a name carrying its CRC-32, never the name of a file
//!    the manifest lists with other bytes;
//! 3. read it back: size and CRC-32 must match what was exported;
//! 4. once every measurement of the partition passed, save the manifest
//!    (temp + fsync + rename) and record in the database file which local
//!    chunks the files hold (`db::tier_record`: refused if a delete over
//!    the measurement ran meanwhile), so compaction drops them;
//! 5. rewrite the manifest's mirror in the store ([`super::mirror`]), then
//!    delete the versions the new entries replaced (best effort; kept if
//!    the mirror could not be written, since it may still name them).
//!
//! A failure before 4 records nothing: the partition stays local and is
//! read as before; uploaded objects of the failed attempt are deleted best
//! effort and otherwise ignored (no manifest entry names them). The local
//! chunks are not touched here: compaction drops them.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::catalog::TableProvider;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::file_options::tier_file_options;
use super::layout::{
    KEY_MEASUREMENT, KEY_PARTITION_END, KEY_PARTITION_START, KEY_SCHEMA_VERSION, SCHEMA_VERSION, TierRoot,
};
use super::manifest::{Manifest, TieredFile};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::ExportSource;

/// Where a file is exported to before upload, in a store of its own.
const STAGING_URL: &str = "memory://chronicle-tier-staging/";
const STAGING_FILE: &str = "partition.parquet";

impl Db {
    /// Writes every measurement's rows in the partition starting at
    /// `partition_start` (a multiple of the partition duration) to the
    /// configured cold tier, one verified Parquet file each, and records
    /// them in the tiering manifest. A partition tiered before is written
    /// again (late points included) and its old files replaced. Returns the
    /// files recorded; measurements without rows there get none.
    ///
    /// The local copy stays until the next [`Db::compact`]; queries read
    /// the partition from both, each point once, the local value winning.
    pub async fn tier_partition(&self, partition_start: i64) -> Result<Vec<TieredFile>> {
        let ns = self.partition_duration_ns()?;
        if partition_start.rem_euclid(ns) != 0 {
            return Err(Error::InvalidArgument(format!(
                "{partition_start} is not the start of a partition (a multiple of {ns} ns)"
            )));
        }
        let measurements = self.measurements()?;
        self.tier_measurements(partition_start, &measurements).await
    }

    /// Tiers, as [`Db::tier_partition`] does, each partition that ended at
    /// least [`crate::TierConfig::older_than`] ago and each measurement in
    /// it not tiered yet. Without an age configured this tiers nothing.
    /// Also rewrites the manifest's mirror in the store when its last write
    /// failed or none was made since the database opened.
    pub async fn tier_due(&self) -> Result<Vec<TieredFile>> {
        let tier = self.tier();
        let Some(age) = tier.older_than else { return Ok(Vec::new()) };
        tier.root("tiering")?;
        let cutoff = self.now_ns().saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
        let mut done = Vec::new();
        for partition in self.partitions()?.into_iter().filter(|p| p.end < cutoff) {
            let tiered = tier.snapshot()?;
            let measurements: Vec<String> = self
                .measurements()?
                .into_iter()
                .filter(|m| !tiered.files.contains_key(&(m.clone(), partition.start)))
                .collect();
            if !measurements.is_empty() {
                done.extend(self.tier_measurements(partition.start, &measurements).await?);
            }
        }
        if tier.mirror_is_stale() {
            self.write_tier_mirror().await?;
        }
        Ok(done)
    }

    /// Every file of the tiering manifest, by measurement and partition.
    pub fn tiered_files(&self) -> Result<Vec<TieredFile>> {
        Ok(self.tier().snapshot()?.files.values().cloned().collect())
    }

    /// Steps 1 to 5 of the module docs for `measurements` in one partition.
    async fn tier_measurements(&self, start: i64, measurements: &[String]) -> Result<Vec<TieredFile>> {
        let tier = self.tier();
        let root = tier.root("tiering")?;
        let _one_at_a_time = tier.writer.lock().await;
        let end = start.saturating_add(self.partition_duration_ns()? - 1);
        let since = self.tier_start()?;
        let mut uploaded = Vec::new();
        for measurement in measurements {
            match self.tier_one(root, measurement, start, end).await {
                Ok(Some(file)) => uploaded.push(file),
                Ok(None) => {}
                Err(e) => {
                    delete_all(root, &urls_of(&uploaded)).await;
                    return Err(e);
                }
            }
        }
        let old = tier.snapshot()?;
        let mut manifest = Manifest::clone(&old);
        let mut replaced = Vec::new();
        for file in &uploaded {
            let key = (file.measurement.clone(), start);
            if let Some(previous) = manifest.files.insert(key, file.clone()).filter(|p| p.url != file.url) {
                replaced.push(previous.url);
            }
        }
        let save = || {
            manifest.save(tier.fs.as_ref(), &tier.manifest_path)?;
            *tier.manifest.write().map_err(|_| Error::Internal("the tier manifest lock was poisoned".into()))? =
                Arc::new(manifest);
            Ok(())
        };
        if let Err(e) = self.commit_tiering(&since, (start, end), &uploaded, save) {
            delete_all(root, &urls_of(&uploaded)).await;
            return Err(e);
        }
        // The mirror first: a file is deleted only once no mirror names it.
        match self.write_tier_mirror().await {
            Ok(()) => delete_all(root, &replaced.iter().map(String::as_str).collect::<Vec<_>>()).await,
            Err(e) => tracing::warn!(error = %e, "replaced cold-tier files kept: the manifest mirror was not written"),
        }
        Ok(uploaded)
    }

    /// Steps 1 to 3 for one measurement; `None` if it has no rows there.
    async fn tier_one(&self, root: &TierRoot, measurement: &str, start: i64, end: i64) -> Result<Option<TieredFile>> {
        let staging = Arc::new(InMemory::new());
        let ctx = self.session_context();
        let staging_url = datafusion::execution::object_store::ObjectStoreUrl::parse(STAGING_URL)?;
        ctx.register_object_store(staging_url.as_ref(), Arc::clone(&staging) as Arc<dyn ObjectStore>);
        let metadata = [
            (KEY_MEASUREMENT, measurement.to_string()),
            (KEY_PARTITION_START, start.to_string()),
            (KEY_PARTITION_END, end.to_string()),
            (KEY_SCHEMA_VERSION, SCHEMA_VERSION.to_string()),
        ];
        let destination = format!("{STAGING_URL}{STAGING_FILE}");
        let source = ExportSource::Measurement(measurement);
        let options = tier_file_options(&self.table(measurement)?.schema(), &metadata);
        let rows = self.write_parquet_in(&ctx, source, Some((start, end)), &destination, options).await?;
        if rows == 0 {
            return Ok(None);
        }
        let staged = Path::from(STAGING_FILE);
        let bytes = read_all(staging.as_ref(), &staged).await.map_err(|e| Error::Internal(e.to_string()))?;
        let crc32 = crc32fast::hash(&bytes);
        let size = bytes.len() as u64;
        let path = root.object_path(measurement, start, crc32);
        let url = root.url_of(&path);
        let failed = |op: &'static str| {
            let url = url.clone();
            move |e: object_store::Error| Error::Tier { op, url, detail: e.to_string() }
        };
        root.store().put(&path, PutPayload::from(bytes)).await.map_err(failed("upload"))?;
        let stored = root.store().head(&path).await.map_err(failed("verify (head)"))?;
        let back = read_all(root.store().as_ref(), &path).await.map_err(failed("verify (read back)"))?;
        if stored.size != size || back.len() as u64 != size || crc32fast::hash(&back) != crc32 {
            let detail = format!(
                "wrote {size} bytes with CRC-32 {crc32:08x}; the store holds {} bytes, read back {} with CRC-32 {:08x}",
                stored.size,
                back.len(),
                crc32fast::hash(&back)
            );
            delete_all(root, &[url.as_str()]).await;
            return Err(Error::Tier { op: "verify", url, detail });
        }
        let measurement = measurement.to_string();
        Ok(Some(TieredFile { measurement, partition_start: start, url, size, crc32, rows }))
    }
}

/// The whole object at `path`.
async fn read_all(store: &dyn ObjectStore, path: &Path) -> object_store::Result<Bytes> {
    store.get(path).await?.bytes().await
}

/// The URLs of `files`, as a slice: a future holding an iterator of
/// closures over them across an await would not be `Send`.
fn urls_of(files: &[TieredFile]) -> Vec<&str> {
    files.iter().map(|f| f.url.as_str()).collect()
}

/// Deletes the objects at `urls`, ignoring failures: nothing names them,
/// so a leftover costs space, never correctness.
pub(super) async fn delete_all(root: &TierRoot, urls: &[&str]) {
    for &url in urls {
        if let Ok(path) = root.path_of(url)
            && let Err(e) = root.store().delete(&path).await
        {
            tracing::warn!(url, error = %e, "could not delete an unreferenced cold-tier file");
        }
    }
}
