//! The manifest's mirror in the tier root, for readers without the
//! database: `<root>/chronicle-tier.json` names exactly the files a reader
//! must read, and the deletes that hide rows of them, so a tool that
//! reaches the store (Ballista's `register_tier` in `crate::ballista`, a
//! script) never reads a file the manifest no longer lists: a replaced
//! version, an expired partition, the leftover of a failed upload.
//!
//! ```text
//! { "format": "chronicle-tier-manifest", "version": 1,
//!   "partition_duration_ns": 3600000000000,
//!   "files":   [ { "measurement", "partition_start", "url", "size", "crc32", "rows" } ],
//!   "deletes": [ { "measurement", "start", "end",                  (nanoseconds, inclusive)
//!                  "matchers": [ { "key", "op": "=" | "!=" | "=~" | "!~", "value" } ],
//!                  "files": [ url ] } ] }
//! ```
//!
//! A delete hides, in each file it names, the rows of that file's partition
//! within `start..=end` whose tags meet every matcher (a missing tag is
//! `""`; regexes are anchored). Files not named keep their rows (they were
//! written after the delete, without its points).
//!
//! Protocol: the mirror is rewritten after every change of what a reader
//! sees, computed from the state of that moment under one lock (so the
//! last write is the newest state): a tiering (after its files are
//! verified and the manifest saved, before the versions it replaced are
//! deleted), an expiry (after the manifest, before the files go), a delete
//! over tiered files (once the delete is durable). One PUT replaces the
//! object whole (`file://` writes a temporary file and renames it), so a
//! reader sees the old mirror or the new one, and a file is deleted only
//! after a mirror that no longer names it was written: every file a mirror
//! names exists. If writing it fails or a crash comes first, the mirror
//! names the previous state (whose files are kept: the replaced versions
//! are then not deleted) until the next write; [`crate::Db::tier_due`]
//! writes it whenever the last write may be missing (as after an open).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::TieredFile;
use super::layout::TierRoot;
use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::storage::matcher::MatchOp;
use crate::storage::tombstone::{Tombstone, TombstoneKind};

/// The mirror's name under the root.
pub(crate) const MIRROR_NAME: &str = "chronicle-tier.json";
const FORMAT: &str = "chronicle-tier-manifest";
const VERSION: u32 = 1;

/// The mirror's content; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mirror {
    format: String,
    version: u32,
    /// The database's partition duration.
    pub partition_duration_ns: i64,
    /// Every file to read, by measurement and partition.
    pub files: Vec<TieredFile>,
    /// The deletes that hide rows of them.
    pub deletes: Vec<MirroredDelete>,
}

/// A delete over tiered files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MirroredDelete {
    measurement: String,
    start: i64,
    end: i64,
    matchers: Vec<MirroredMatcher>,
    files: Vec<String>,
}

/// A tag matcher as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MirroredMatcher {
    key: String,
    op: String,
    value: String,
}

impl Mirror {
    /// The mirror of `manifest` with the `deletes` (tombstones) that name
    /// files it lists, for partitions of `ns`.
    pub(crate) fn of(manifest: &Manifest, deletes: &[Arc<Tombstone>], ns: i64) -> Self {
        let listed = |url: &String| manifest.files.values().any(|f| &f.url == url);
        let deletes = deletes
            .iter()
            .filter(|t| t.kind == TombstoneKind::Delete)
            .filter_map(|t| {
                let files: Vec<String> = t.tiered.iter().filter(|u| listed(u)).cloned().collect();
                let matchers = t.matchers.iter().map(|m| MirroredMatcher {
                    key: m.key.clone(),
                    op: op_text(m.op).to_string(),
                    value: m.value.clone(),
                });
                (!files.is_empty()).then(|| MirroredDelete {
                    measurement: t.measurement.clone(),
                    start: t.start,
                    end: t.end,
                    matchers: matchers.collect(),
                    files,
                })
            })
            .collect();
        Self {
            format: FORMAT.into(),
            version: VERSION,
            partition_duration_ns: ns,
            files: manifest.files.values().cloned().collect(),
            deletes,
        }
    }

    /// Parses the mirror read from `url`.
    #[cfg(any(feature = "ballista", test))]
    pub(crate) fn parse(bytes: &[u8], url: &str) -> Result<Self> {
        let corrupt = |detail: String| Error::Tier { op: "read the manifest mirror", url: url.into(), detail };
        let mirror: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if mirror.format != FORMAT || mirror.version != VERSION {
            return Err(corrupt(format!(
                "format {:?} version {}; this build reads {FORMAT:?} version {VERSION}",
                mirror.format, mirror.version
            )));
        }
        if mirror.partition_duration_ns <= 0 {
            return Err(corrupt(format!("partition duration {} ns", mirror.partition_duration_ns)));
        }
        Ok(mirror)
    }

    /// The deletes as tombstones over the files they name.
    #[cfg(any(feature = "ballista", test))]
    pub(crate) fn tombstones(&self) -> Result<Vec<Arc<Tombstone>>> {
        self.deletes
            .iter()
            .map(|d| {
                use crate::storage::matcher::TagMatcher;
                let matchers = d.matchers.iter().map(|m| match m.op.as_str() {
                    "=" => Ok(TagMatcher::eq(&m.key, &m.value)),
                    "!=" => Ok(TagMatcher::not_eq(&m.key, &m.value)),
                    "=~" => TagMatcher::regex(&m.key, &m.value),
                    "!~" => TagMatcher::not_regex(&m.key, &m.value),
                    other => Err(Error::InvalidArgument(format!("manifest mirror: unknown matcher op {other:?}"))),
                });
                Ok(Arc::new(Tombstone {
                    kind: TombstoneKind::Delete,
                    measurement: d.measurement.clone(),
                    matchers: matchers.collect::<Result<_>>()?,
                    start: d.start,
                    end: d.end,
                    lsn: 0,
                    file_end: 0,
                    tiered: d.files.clone(),
                }))
            })
            .collect()
    }
}

fn op_text(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Eq => "=",
        MatchOp::NotEq => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

/// Writes the mirror, one writer at a time, and remembers whether the last
/// attempt may have left the store's copy behind the database.
#[derive(Debug)]
pub(crate) struct MirrorWriter {
    one_at_a_time: futures::lock::Mutex<()>,
    /// The store's mirror may not show the current state.
    stale: AtomicBool,
}

impl MirrorWriter {
    /// A writer that does not know what the store holds yet.
    pub(crate) fn new() -> Self {
        Self { one_at_a_time: futures::lock::Mutex::new(()), stale: AtomicBool::new(true) }
    }

    /// Whether the store's mirror may be behind.
    pub(crate) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    /// Writes the mirror that `state` computes when the lock is taken.
    pub(crate) async fn write(&self, root: &TierRoot, state: impl FnOnce() -> Result<Mirror>) -> Result<()> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        self.stale.store(true, Ordering::Release);
        let mirror = state()?;
        let bytes = serde_json::to_vec_pretty(&mirror).map_err(|e| Error::Internal(e.to_string()))?;
        let path = root.mirror_path();
        root.store().put(&path, PutPayload::from(bytes)).await.map_err(|e| Error::Tier {
            op: "write the manifest mirror",
            url: root.url_of(&path),
            detail: e.to_string(),
        })?;
        self.stale.store(false, Ordering::Release);
        Ok(())
    }
}

/// Reads the mirror of the tier at `root`.
#[cfg(feature = "ballista")]
pub(crate) async fn read(root: &TierRoot) -> Result<Mirror> {
    let path = root.mirror_path();
    let url = root.url_of(&path);
    let missing = |detail: String| Error::Tier { op: "read the manifest mirror", url: url.clone(), detail };
    let bytes = match root.store().get(&path).await {
        Ok(found) => found.bytes().await.map_err(|e| missing(e.to_string()))?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(missing(
                "not found: no Chronicle database has tiered here yet (the database writes it with every tiering)"
                    .into(),
            ));
        }
        Err(e) => return Err(missing(e.to_string())),
    };
    Mirror::parse(&bytes, &url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use crate::storage::matcher::TagMatcher;

    #[test]
    fn a_mirror_keeps_the_files_and_the_deletes_that_name_them() {
        let mut manifest = Manifest::default();
        let file = TieredFile {
            measurement: "cpu".into(),
            partition_start: 0,
            url: "file:///t/cpu/0-0000000a.parquet".into(),
            size: 10,
            crc32: 10,
            rows: 3,
        };
        manifest.files.insert(("cpu".into(), 0), file.clone());
        let delete = |tiered: &[&str]| {
            Arc::new(Tombstone {
                kind: TombstoneKind::Delete,
                measurement: "cpu".into(),
                matchers: vec![TagMatcher::regex("host", "a|b").unwrap(), TagMatcher::not_eq("dc", "")],
                start: 5,
                end: 9,
                lsn: 3,
                file_end: 100,
                tiered: tiered.iter().map(|s| s.to_string()).collect(),
            })
        };
        let deletes = [delete(&[&file.url, "file:///t/cpu/0-0000000b.parquet"]), delete(&[]), delete(&["gone"])];
        let mirror = Mirror::of(&manifest, &deletes, 3600);
        let text = serde_json::to_vec(&mirror).unwrap();
        let back = Mirror::parse(&text, "x").unwrap();
        assert_eq!(back, mirror);
        assert_eq!(back.files, std::slice::from_ref(&file));
        let tombstones = back.tombstones().unwrap();
        assert_eq!(tombstones.len(), 1, "only deletes naming a listed file");
        assert_eq!(tombstones[0].tiered, std::slice::from_ref(&file.url));
        let ops: Vec<_> = tombstones[0].matchers.iter().map(|m| (m.op, m.value.as_str())).collect();
        assert_eq!(ops, [(MatchOp::Regex, "a|b"), (MatchOp::NotEq, "")]);
        assert!(tombstones[0].matchers[0].matches(Some("b")) && !tombstones[0].matchers[0].matches(Some("ab")));
        let wrong = String::from_utf8(text).unwrap().replace("\"version\":1", "\"version\":7");
        assert!(Mirror::parse(wrong.as_bytes(), "x").unwrap_err().to_string().contains("version 7"));
    }
}
