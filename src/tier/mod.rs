//! The cold tier: closed partitions as Parquet files on object storage,
//! read back by the same `ChronicleTable` scan as the local file.
//!
//! ```text
//! Db::tier_partition / tier_due (writer)
//!   └─ per measurement: Parquet export into memory ─▶ CRC-32 ─▶ upload ─▶ read back, compare size + CRC
//!        └─ all verified: manifest PATH.tier rewritten (temp + fsync + rename) ─▶ mirror ─▶ old versions deleted
//! ChronicleTable::scan (scan)
//!   ├─ partitions not in the manifest: ChronicleScanExec as before
//!   └─ tiered partitions: TierMergeExec(local chunks + head, Parquet file) ─▶ filter ─▶ projection
//! Db::scan (request_scan), PromQL, remote read, series and label listings
//!   └─ a tiered partition in range: the request as filters over ChronicleTable, in the tier's runtime
//! ```
//!
//! The manifest is mirrored into the tier root (`chronicle-tier.json`,
//! [`mirror`]) after every change, before any file it stops naming is
//! deleted, for readers without the database (Ballista).
//!
//! Invariant: a (measurement, partition) is in the manifest only once its
//! file was read back whole and matched, and a read of a tiered partition
//! merges that file with whatever the local file and head hold for it, the
//! local value winning per (series, time, field). So until the local chunks
//! are dropped both copies are read and each point counts once, and after
//! they are dropped (or when a late write lands) the same read gives the
//! same rows. See `docs/design.md`, "Cold tier".

mod deleted;
mod file_options;
mod layout;
mod manifest;
mod merge_exec;
mod mirror;
mod request_scan;
mod runtime;
mod scan;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use manifest::TieredFile;
pub use merge_exec::TierMergeExec;
pub(crate) use request_scan::scan_request;
pub(crate) use runtime::run as block_on;
pub(crate) use scan::{TableScan, plan_scan};

use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::execution::cache::default_cache::DefaultCache;

use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::query::ExportOptions;
use crate::storage::tombstone::Tombstone;
#[cfg(feature = "ballista")]
pub(crate) use deleted::kept_rows;
pub(crate) use layout::TierRoot;
use manifest::Manifest;
#[cfg(feature = "ballista")]
pub(crate) use mirror::read as read_mirror;
use mirror::{Mirror, MirrorWriter};

/// Memory the parsed footers of tier files may take: a file of a few dozen
/// columns has a footer and page index of some kilobytes, so thousands fit.
const FOOTER_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Where and when partitions move to the cold tier.
///
/// ```
/// use std::time::Duration;
/// use chronicle::{Config, TierConfig};
///
/// let config = Config::default()
///     .with_tier(TierConfig::new("file:///srv/chronicle-cold").with_older_than(Duration::from_secs(7 * 86_400)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TierConfig {
    /// The root URL: `file:///dir` (or a local path), `memory://name` (lives
    /// as long as the database handle; for tests) or, with the `s3` cargo
    /// feature, `s3://bucket/prefix`.
    pub url: String,
    /// [`crate::Db::tier_due`] tiers the partitions that ended at least this
    /// long ago; `None` (the default) leaves tiering to explicit calls.
    pub older_than: Option<Duration>,
    /// Object-store options over the `AWS_*` environment (see
    /// [`ExportOptions`]).
    pub options: ExportOptions,
}

impl TierConfig {
    /// A tier at `url`, tiered by explicit calls only.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), older_than: None, options: ExportOptions::new() }
    }

    /// Tiers partitions that ended at least `age` ago, on [`crate::Db::tier_due`].
    pub fn with_older_than(mut self, age: Duration) -> Self {
        self.older_than = Some(age);
        self
    }

    /// Sets the object-store options.
    pub fn with_options(mut self, options: ExportOptions) -> Self {
        self.options = options;
        self
    }
}

/// A database's cold tier: its store (if configured) and its manifest.
#[derive(Debug)]
pub(crate) struct Tier {
    root: Option<TierRoot>,
    older_than: Option<Duration>,
    fs: Arc<dyn Fs>,
    manifest_path: PathBuf,
    /// The manifest as saved; readers take a snapshot.
    manifest: RwLock<Arc<Manifest>>,
    /// One tiering at a time: each saves the manifest it read plus its files.
    writer: futures::lock::Mutex<()>,
    /// The manifest's mirror in the store, for readers without the database.
    mirror: MirrorWriter,
    /// Parsed footers and page indexes of the files scans opened, by path:
    /// a file's name carries its checksum, so a path never holds other bytes.
    footers: Arc<FileMetadataCache>,
}

impl Tier {
    /// The tier of the database whose manifest is at `manifest_path`.
    pub(crate) fn open(config: Option<&TierConfig>, fs: Arc<dyn Fs>, manifest_path: &Path) -> Result<Self> {
        let root = config.map(|c| TierRoot::open(&c.url, &c.options)).transpose()?;
        let manifest = Manifest::load(fs.as_ref(), manifest_path)?;
        Ok(Self {
            root,
            older_than: config.and_then(|c| c.older_than),
            fs,
            manifest_path: manifest_path.to_path_buf(),
            manifest: RwLock::new(Arc::new(manifest)),
            writer: futures::lock::Mutex::new(()),
            mirror: MirrorWriter::new(),
            footers: Arc::new(DefaultCache::new(FOOTER_CACHE_BYTES).with_name("chronicle tier footers")),
        })
    }

    /// The cache of parsed footers and page indexes that scans share.
    pub(crate) fn footers(&self) -> Arc<FileMetadataCache> {
        Arc::clone(&self.footers)
    }

    /// The manifest as last saved.
    fn snapshot(&self) -> Result<Arc<Manifest>> {
        let manifest =
            self.manifest.read().map_err(|_| Error::Internal("the tier manifest lock was poisoned".into()))?;
        Ok(Arc::clone(&manifest))
    }

    /// The configured root, or an error saying `what` needs one.
    fn root(&self, what: &str) -> Result<&TierRoot> {
        self.root.as_ref().ok_or_else(|| {
            Error::InvalidArgument(format!("{what} needs a cold tier: none is configured (Config::with_tier)"))
        })
    }

    /// The bytes of tiered files per partition number (partitions of `ns`).
    pub(crate) fn partition_bytes(&self, ns: i64) -> Result<Vec<(i64, u64)>> {
        let manifest = self.snapshot()?;
        Ok(manifest.files.values().map(|f| (f.partition_start.div_euclid(ns), f.size)).collect())
    }

    /// Every tiered file.
    pub(crate) fn files(&self) -> Result<Vec<TieredFile>> {
        Ok(self.snapshot()?.files.values().cloned().collect())
    }

    /// Rewrites the manifest's mirror in the store ([`mirror`]) from the
    /// manifest and the tombstones `deletes` gives (both taken under the
    /// mirror's lock, so the last write shows the newest state); nothing
    /// without a configured tier.
    pub(crate) async fn write_mirror(
        &self,
        ns: i64,
        deletes: impl FnOnce() -> Result<Vec<Arc<Tombstone>>>,
    ) -> Result<()> {
        let Some(root) = &self.root else { return Ok(()) };
        self.mirror.write(root, || Ok(Mirror::of(self.snapshot()?.as_ref(), &deletes()?, ns))).await
    }

    /// Whether the store's mirror may be behind the manifest (a write
    /// failed, or none was made since the database opened).
    pub(crate) fn mirror_is_stale(&self) -> bool {
        self.root.is_some() && self.mirror.is_stale()
    }

    /// Removes the files of partitions (of `ns`) expired by `expiry` from
    /// the manifest, rewrites the mirror (with the tombstones `deletes`
    /// gives), then deletes the files from the store (best effort: nothing
    /// names them any more; kept if the mirror could not be written, as it
    /// may still name them). Skipped while a tiering runs (it holds the
    /// manifest): they are read as expired until the next call.
    pub(crate) fn forget_expired(
        &self,
        expiry: &crate::db::Expiry,
        ns: i64,
        deletes: impl FnOnce() -> Result<Vec<Arc<Tombstone>>> + Send,
    ) -> Result<()> {
        let expired = |f: &TieredFile| expiry.expired(&f.measurement, f.partition_start.div_euclid(ns), ns);
        let (Some(root), Some(_one_at_a_time)) = (&self.root, self.writer.try_lock()) else { return Ok(()) };
        let old = self.snapshot()?;
        if !old.files.values().any(expired) {
            return Ok(());
        }
        let mut manifest = Manifest::clone(&old);
        manifest.files.retain(|_, f| !expired(f));
        manifest.save(self.fs.as_ref(), &self.manifest_path)?;
        *self.manifest.write().map_err(|_| Error::Internal("the tier manifest lock was poisoned".into()))? =
            Arc::new(manifest);
        let gone: Vec<&str> = old.files.values().filter(|f| expired(f)).map(|f| f.url.as_str()).collect();
        runtime::run(async {
            match self.write_mirror(ns, deletes).await {
                Ok(()) => writer::delete_all(root, &gone).await,
                Err(e) => {
                    tracing::warn!(error = %e, "expired cold-tier files kept: the manifest mirror was not written")
                }
            }
            Ok(())
        })
    }

    /// The tiered files of `measurement` whose partitions (of `ns`) overlap
    /// `start..=end`, by partition start.
    pub(crate) fn files_in(&self, measurement: &str, start: i64, end: i64, ns: i64) -> Result<Vec<TieredFile>> {
        let mut files = self.files_of(measurement)?;
        files.retain(|f| f.partition_start <= end && f.partition_start.saturating_add(ns - 1) >= start);
        Ok(files)
    }

    /// The tiered files of `measurement`, by partition start.
    pub(crate) fn files_of(&self, measurement: &str) -> Result<Vec<TieredFile>> {
        let manifest = self.snapshot()?;
        let range = (measurement.to_string(), i64::MIN)..=(measurement.to_string(), i64::MAX);
        Ok(manifest.files.range(range).map(|(_, f)| f.clone()).collect())
    }
}
