//! The workload shared by the crash and fault tests, and its checker.
//!
//! Batch `i` writes five points of measurement `m` (series `host=h0..h2`)
//! at times unique to that batch, so every stored point names the batch that
//! wrote it and the value it must have. Every seventh batch is late: its
//! times fall in partitions flushed long before. With a 1 µs partition
//! duration the workload flushes every few batches.
#![allow(dead_code, reason = "each test binary uses part of the shared helpers")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

#[cfg(feature = "server")]
pub mod http_client;
pub mod influxd;
pub mod mixed_cpu;
pub mod moto;
pub mod prometheus;
#[cfg(feature = "server")]
pub mod prometheus_answers;
pub mod rollup_data;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "cli")]
pub mod serving;
pub mod tiered_cpu;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use chronicle::{Config, Db, Point, RecoveryReport, Scan, ScanRequest, SyncPolicy};

/// Points per batch.
pub const POINTS: u64 = 5;

/// A directory of its own per test, removed when the test ends.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory for `test`, never shared: tests running at
    /// once under the same name get directories of their own.
    pub fn new(test: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chronicle-{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates the test directory");
        Self(dir)
    }

    /// The directory itself.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path of `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The configuration the workload runs under.
pub fn config(sync: SyncPolicy) -> Config {
    Config::default().with_sync(sync).with_partition_duration(Duration::from_micros(1)).with_late_window(Duration::ZERO)
}

/// (series, time) of point `j` of batch `i`.
fn coordinates(i: u64, j: u64) -> (String, i64) {
    let time = if i % 7 == 6 { (i / 2) * 200 + 100 + j } else { i * 200 + j };
    (format!("h{}", j % 3), time as i64)
}

/// The points of batch `i`.
pub fn batch(i: u64) -> Vec<Point> {
    (0..POINTS)
        .map(|j| {
            let (host, time) = coordinates(i, j);
            Point::new("m", (i * 10 + j) as f64, time).with_tag("host", host)
        })
        .collect()
}

/// Every point of measurement `m` as (host, time) -> value; fails on a
/// duplicated (host, time).
pub fn stored(db: &Db) -> BTreeMap<(String, i64), f64> {
    scanned(db.scan(&ScanRequest::new("m")).expect("scans"))
}

/// Every point a scan of measurement `m` returns, as [`stored`] gives them.
pub fn scanned(scan: Scan) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    for b in scan {
        let b = b.expect("reads");
        let times = b.column_by_name("time").expect("time").as_primitive::<TimestampNanosecondType>();
        let hosts = b.column_by_name("host").expect("host").as_dictionary::<Int32Type>();
        let names = hosts.values().as_string::<i32>();
        let values = b.column_by_name("value").expect("value").as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            let host = names.value(hosts.keys().value(r) as usize).to_string();
            let previous = out.insert((host.clone(), times.value(r)), values.value(r));
            assert!(previous.is_none(), "({host}, {}) returned twice", times.value(r));
        }
    }
    out
}

/// Checks the database at `path` after a crash: every acknowledged batch is
/// whole, every stored point belongs to a batch below `attempted` with its
/// exact value, and every batch is all or nothing. Returns the batches found
/// and what recovery reported.
pub fn verify(path: &Path, acked: &BTreeSet<u64>, attempted: u64) -> (BTreeSet<u64>, RecoveryReport) {
    let db = Db::open(path, config(SyncPolicy::None)).expect("reopens after the crash");
    let report = db.recovery_report().clone();
    let points = stored(&db);
    let mut per_batch: BTreeMap<u64, u64> = BTreeMap::new();
    for ((host, time), value) in &points {
        let i = (*value as u64) / 10;
        let j = (*value as u64) % 10;
        assert!(i < attempted && j < POINTS, "({host}, {time}) = {value} was never written");
        assert_eq!(coordinates(i, j), (host.clone(), *time), "value {value} is at the wrong place");
        *per_batch.entry(i).or_default() += 1;
    }
    for (i, n) in &per_batch {
        assert_eq!(*n, POINTS, "batch {i} is torn: {n} of {POINTS} points");
    }
    for i in acked {
        assert!(per_batch.contains_key(i), "acknowledged batch {i} is lost");
    }
    db.close().expect("closes");
    (per_batch.into_keys().collect(), report)
}
