//! Where the cold tier keeps its files and what each file says about itself.
//!
//! A tier is rooted at one URL (`file:///srv/cold`, `memory://tier`,
//! `s3://bucket/prefix`); a tiered (measurement, partition) is the object
//!
//! ```text
//! <root>/<measurement>/<partition start ns>-<CRC-32 of the file, 8 hex digits>.parquet
//! ```
//!
//! The checksum in the name makes every version of a partition's file a new
//! object: re-tiering never overwrites the file the manifest names, so a
//! crash between upload and manifest leaves the old entry readable. Each
//! file's Parquet key-value metadata names the measurement, the partition
//! (first and last nanosecond) and [`SCHEMA_VERSION`], so a file read
//! without the manifest still says what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::error::{Error, Result};
use crate::query::ExportOptions;

/// Version of the column layout of tier files: `time`, tags, fields as
/// `ChronicleTable` shows them.
pub(crate) const SCHEMA_VERSION: &str = "1";
/// Key-value metadata: the measurement.
pub(crate) const KEY_MEASUREMENT: &str = "chronicle.measurement";
/// Key-value metadata: the partition's first nanosecond.
pub(crate) const KEY_PARTITION_START: &str = "chronicle.partition_start";
/// Key-value metadata: the partition's last nanosecond.
pub(crate) const KEY_PARTITION_END: &str = "chronicle.partition_end";
/// Key-value metadata: [`SCHEMA_VERSION`].
pub(crate) const KEY_SCHEMA_VERSION: &str = "chronicle.schema_version";

/// How long an object-store request is retried before the error is
/// reported: a store that is down fails a query or a tiering within
/// seconds instead of object_store's default minutes.
const RETRY_TIMEOUT: Duration = Duration::from_secs(5);

/// The root of a tier: its store and where under it the files go.
#[derive(Debug, Clone)]
pub(crate) struct TierRoot {
    /// The root as configured.
    url: String,
    /// Scheme and authority: the store's identity.
    store_url: ObjectStoreUrl,
    /// The root's path inside the store.
    prefix: Path,
    store: Arc<dyn ObjectStore>,
    /// The name the store is registered under in the sessions that scan
    /// it: unique to this root, so it never replaces a store of the
    /// session's own (DataFusion's Parquet scan finds stores by name).
    scan_url: ObjectStoreUrl,
}

impl TierRoot {
    /// The root at `url`: `file://` (or a local path), `memory://`, or with
    /// the `s3` feature `s3://bucket/prefix` configured from the `AWS_*`
    /// environment and `options`. A `memory://` store lives as long as the
    /// database handle.
    pub(crate) fn open(url: &str, options: &ExportOptions) -> Result<Self> {
        let refuse = |detail: String| Error::InvalidArgument(format!("cold tier URL `{url}`: {detail}"));
        let parsed = ListingTableUrl::parse(url).map_err(|e| refuse(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "file" => Arc::new(LocalFileSystem::new()),
            "memory" => Arc::new(InMemory::new()),
            "s3" => s3(&parsed, options).map_err(refuse)?,
            other => {
                let supported =
                    if cfg!(feature = "s3") { "file://, memory:// or s3://" } else { "file:// or memory://" };
                return Err(refuse(format!("unsupported scheme `{other}://`; supported are {supported}")));
            }
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let scan_url = ObjectStoreUrl::parse(format!("chronicle-tier://{}", NEXT.fetch_add(1, Ordering::Relaxed)))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let prefix = parsed.prefix().clone();
        Ok(Self { url: url.to_string(), store_url: parsed.object_store(), prefix, store, scan_url })
    }

    /// The store all of the tier's files are in.
    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    #[cfg(feature = "ballista")]
    /// The store's own URL (scheme and authority), as other engines name it.
    pub(crate) fn store_url(&self) -> &ObjectStoreUrl {
        &self.store_url
    }

    /// The name scans register and find the store under.
    pub(crate) fn scan_url(&self) -> &ObjectStoreUrl {
        &self.scan_url
    }

    /// Where the file of `measurement`'s partition starting at `start`
    /// with checksum `crc` goes.
    pub(crate) fn object_path(&self, measurement: &str, start: i64, crc: u32) -> Path {
        self.prefix.clone().join(measurement).join(format!("{start}-{crc:08x}.parquet"))
    }

    /// The full URL of `path` in this store, as the manifest records it.
    pub(crate) fn url_of(&self, path: &Path) -> String {
        format!("{}{path}", self.store_url.as_str())
    }

    /// Where the manifest's mirror goes ([`super::mirror`]).
    pub(crate) fn mirror_path(&self) -> Path {
        self.prefix.clone().join(super::mirror::MIRROR_NAME)
    }

    /// The path inside this store of a URL the manifest records; an error
    /// for a URL in another store (the tier was moved or reconfigured).
    pub(crate) fn path_of(&self, url: &str) -> Result<Path> {
        url.strip_prefix(self.store_url.as_str()).map(Path::from).ok_or_else(|| Error::Tier {
            op: "read",
            url: url.to_string(),
            detail: format!("the tier is configured at `{}`, another store", self.url),
        })
    }
}

/// The S3 client of `url`'s bucket, retrying for [`RETRY_TIMEOUT`] at most.
#[cfg(feature = "s3")]
fn s3(url: &ListingTableUrl, options: &ExportOptions) -> Result<Arc<dyn ObjectStore>, String> {
    let bucket = url.get_url().host_str().filter(|b| !b.is_empty()).ok_or("names no bucket (s3://bucket/prefix)")?;
    let retry = object_store::RetryConfig { max_retries: 2, retry_timeout: RETRY_TIMEOUT, ..Default::default() };
    let builder = crate::query::s3_builder(bucket, options)?.with_retry(retry);
    Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
}

/// Refuses `s3://`: this build has no S3 client.
#[cfg(not(feature = "s3"))]
fn s3(_: &ListingTableUrl, _: &ExportOptions) -> Result<Arc<dyn ObjectStore>, String> {
    let _ = RETRY_TIMEOUT;
    Err("this build of Chronicle lacks S3 support (built without the `s3` cargo feature)".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[test]
    fn object_urls_round_trip_to_paths_under_the_root() {
        let root = TierRoot::open("memory://cold/archive", &ExportOptions::new()).unwrap();
        let path = root.object_path("cpu", 3_600_000_000_000, 0xab);
        assert_eq!(path.as_ref(), "archive/cpu/3600000000000-000000ab.parquet");
        let url = root.url_of(&path);
        assert_eq!(url, "memory://cold/archive/cpu/3600000000000-000000ab.parquet");
        assert_eq!(root.path_of(&url).unwrap(), path);
        let other = root.path_of("memory://elsewhere/cpu/1-0.parquet").unwrap_err().to_string();
        assert!(other.contains("memory://cold/archive"), "{other}");
    }

    #[test]
    fn unsupported_schemes_are_refused_naming_the_url() {
        let message = TierRoot::open("gs://b/x", &ExportOptions::new()).unwrap_err().to_string();
        assert!(message.contains("gs://b/x") && message.contains("`gs://`"), "{message}");
    }
}
