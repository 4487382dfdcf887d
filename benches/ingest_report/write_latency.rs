//! The `write_latency` mode of the ingest report: TSBS cpu rows (100 hosts,
//! one batch per 10 s step, 1,000 points) written at a steady rate of
//! [`BATCHES_PER_SEC`] batches per second for [`STEPS`] steps (half a day of
//! data: a partition closes, and flushes, every 360 batches), while a second
//! thread compacts the file halfway through. Every `write_rows` call is
//! timed; the schedule is fixed in advance, so a stalled call makes the
//! next ones late rather than stretching the run.
//!
//! Run: `cargo bench --bench ingest_report -- write_latency`. Prints one TSV
//! line under the header `dataset p50_us p99_us max_us` (section
//! `write_latency`), plus the flushes completed and whether the compaction
//! ran (stderr).

use std::time::{Duration, Instant};

use chronicle::testing::TsbsCpu;
use chronicle::{Config, Db, ScanRequest, SyncPolicy};

const HOSTS: usize = 100;
const STEPS: usize = 4_320;
const BATCHES_PER_SEC: u64 = 400;
const SEED: u64 = 7;

/// The value at quantile `q` of ascending `sorted`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Runs the mode and prints its section.
pub fn run() {
    let dir = std::env::temp_dir().join(format!("chronicle-write-latency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("steady.chronicle");
    let config = Config::default().with_sync(SyncPolicy::Interval(Duration::from_secs(1)));
    let db = Db::open(&path, config).expect("opens");
    let every = Duration::from_nanos(1_000_000_000 / BATCHES_PER_SEC);
    let mut latencies = Vec::with_capacity(STEPS);
    let mut compaction = None;
    let start = Instant::now();
    for (k, batch) in TsbsCpu::new(HOSTS, SEED).row_batches(STEPS, HOSTS).enumerate() {
        if let Some(wait) = (start + every * k as u32).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if k == STEPS / 2 {
            let db = db.clone();
            compaction = Some(std::thread::spawn(move || db.compact().expect("compacts")));
        }
        let began = Instant::now();
        db.write_rows(&batch).expect("writes");
        latencies.push(began.elapsed());
    }
    compaction.expect("started").join().expect("compaction thread");
    let flushes = db.flush_count().expect("counts");
    db.close().expect("closes");
    drop(db);
    let db = Db::open(&path, Config::default()).expect("reopens");
    let rows: usize = db.scan(&ScanRequest::new("cpu")).expect("scans").map(|b| b.expect("reads").num_rows()).sum();
    assert_eq!(rows, HOSTS * STEPS, "every row is back after reopening");
    db.close().expect("closes");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);

    latencies.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    eprintln!("write_latency: {} writes, {flushes} flushes, one compaction", latencies.len());
    println!("write_latency");
    println!("dataset\tp50_us\tp99_us\tmax_us");
    println!(
        "steady_tsbs\t{:.0}\t{:.0}\t{:.0}",
        us(quantile(&latencies, 0.5)),
        us(quantile(&latencies, 0.99)),
        us(latencies[latencies.len() - 1])
    );
}
