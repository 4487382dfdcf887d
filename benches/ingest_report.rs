//! Ingest report: TSBS cpu-only (100 hosts, 1 day at 10 s: 864,000 rows of 10
//! fields, 8,640,000 points) written through the embedded API in batches of
//! 1,000 rows with `SyncPolicy::Interval(1 s)` on one thread, then closed,
//! reopened and checked.
//!
//! Run: `cargo bench --bench ingest_report`. Prints one TSV line under the
//! header `dataset points seconds points_per_sec file_bytes bytes_per_point
//! open_ms peak_rss_mb`. `seconds` is the time spent in `write_rows` and
//! `close` (building the rows is not counted); `file_bytes` is everything on
//! disk after close (file and WAL); `open_ms` is `Db::open` of the closed
//! database; `peak_rss_mb` is the process's high-water mark (VmHWM), with
//! the rows generated batch by batch as they are written (the data set is
//! never whole in memory), so it is the database's own memory and one batch.
//!
//! `cargo bench --bench ingest_report -- write_latency` runs the steady-rate
//! write latency mode instead (`ingest_report/write_latency.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

#[path = "ingest_report/write_latency.rs"]
mod write_latency;

use std::path::Path;
use std::time::{Duration, Instant};

use chronicle::testing::{CPU_FIELDS, TsbsCpu};
use chronicle::{Config, Db, ScanRequest, SyncPolicy};

#[path = "ingest_report/highcard.rs"]
mod highcard;

const HOSTS: usize = 100;
const STEPS: usize = 8_640;
const BATCH_ROWS: usize = 1_000;
const SEED: u64 = 42;

fn disk_bytes(path: &Path) -> u64 {
    let meta = std::fs::metadata(path).expect("exists");
    if meta.is_dir() {
        std::fs::read_dir(path).expect("lists").map(|e| disk_bytes(&e.expect("entry").path())).sum()
    } else {
        meta.len()
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

fn main() {
    if highcard::run_named() {
        return;
    }
    if std::env::args().any(|a| a == "write_latency") {
        return write_latency::run();
    }
    let dir = std::env::temp_dir().join(format!("chronicle-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tsbs.chronicle");
    let config = Config::default().with_sync(SyncPolicy::Interval(Duration::from_secs(1)));
    let db = Db::open(&path, config.clone()).expect("opens");

    let total_rows = HOSTS * STEPS;
    let mut spent = Duration::ZERO;
    for batch in TsbsCpu::new(HOSTS, SEED).row_batches(STEPS, BATCH_ROWS) {
        let started = Instant::now();
        db.write_rows(&batch).expect("writes");
        spent += started.elapsed();
    }
    let started = Instant::now();
    db.close().expect("closes");
    spent += started.elapsed();
    drop(db);
    let file_bytes = disk_bytes(&dir);

    let started = Instant::now();
    let db = Db::open(&path, config).expect("reopens");
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    let mut rows = 0;
    for batch in db.scan(&ScanRequest::new("cpu")).expect("scans") {
        let batch = batch.expect("reads");
        assert_eq!(batch.num_columns(), 1 + 10 + 10);
        rows += batch.num_rows();
    }
    assert_eq!(rows, total_rows, "every row is back after reopening");
    db.close().expect("closes");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);

    let points = total_rows * CPU_FIELDS.len();
    let seconds = spent.as_secs_f64();
    println!("dataset\tpoints\tseconds\tpoints_per_sec\tfile_bytes\tbytes_per_point\topen_ms\tpeak_rss_mb");
    println!(
        "tsbs_cpu_100x1d\t{points}\t{seconds:.3}\t{:.0}\t{file_bytes}\t{:.4}\t{open_ms:.2}\t{:.1}",
        points as f64 / seconds,
        file_bytes as f64 / points as f64,
        peak_rss_mb()
    );
    highcard::run_all();
}
