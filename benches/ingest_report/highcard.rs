//! The datasets written by two threads: `highcard_1m` (1,000,000 series of
//! 10 points at 10 s, 100,000 hosts x 10 measurements with the ten TSBS host
//! tags, field `value`; both threads write every step, each its half of the
//! hosts, time first) and `tsbs_cpu_100x1d_2w` (the TSBS day of the main
//! dataset, hosts split between two threads, each writing batches of 1,000
//! rows: 50 hosts x 20 steps).
//!
//! Each dataset runs in a child process (this binary, named dataset as its
//! argument), so `peak_rss_mb` (VmHWM) is that dataset's alone. Rows are views
//! borrowing their tags (`WriteRow`), so building a batch costs next to
//! nothing and `seconds` is wall time from the threads' start to the end of
//! `close`. For `highcard_1m` the generator holds one batch per thread; for
//! `tsbs_cpu_100x1d_2w` the day's values (76 MB) are generated up front.
//! After reopening, the label queries are timed (index only: no chunk is
//! read) and printed in a second table, `dataset query results ms`: tag
//! keys and values, and the series listing of one measurement as the
//! Prometheus API answers it.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use chronicle::testing::{CPU_FIELDS, HIGHCARD_MEASUREMENTS, Highcard, TsbsCpu};
use chronicle::{Config, Db, ScanRequest, SyncPolicy, promql};

const DATASETS: [&str; 2] = ["tsbs_cpu_100x1d_2w", "highcard_1m"];
const WRITERS: usize = 2;
const LABEL_PREFIX: &str = "label\t";

fn config() -> Config {
    Config::default().with_sync(SyncPolicy::Interval(Duration::from_secs(1)))
}

/// Runs the dataset named on the command line, if any; returns whether it did.
pub fn run_named() -> bool {
    let Some(name) = std::env::args().skip(1).find(|a| DATASETS.contains(&a.as_str())) else { return false };
    let dir = std::env::temp_dir().join(format!("chronicle-ingest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    match name.as_str() {
        "highcard_1m" => highcard(&dir, 1_000_000),
        _ => tsbs_2w(&dir),
    }
    let _ = std::fs::remove_dir_all(&dir);
    true
}

/// Runs every dataset of this file in a child process and prints its rows,
/// then the label query table.
pub fn run_all() {
    let exe = std::env::current_exe().expect("knows itself");
    let mut labels = Vec::new();
    for name in DATASETS {
        let out = Command::new(&exe).arg(name).output().expect("runs the dataset");
        assert!(out.status.success(), "{name} failed: {}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            match line.strip_prefix(LABEL_PREFIX) {
                Some(label) => labels.push(label.to_string()),
                None => println!("{line}"),
            }
        }
    }
    println!("dataset\tquery\tresults\tms");
    labels.iter().for_each(|l| println!("{l}"));
}

/// Writes with `WRITERS` threads, `write(t)` being thread `t`'s work, then
/// closes; returns the wall seconds.
fn write_in_threads(db: &Db, write: impl Fn(usize, &Db) + Sync) -> f64 {
    let started = Instant::now();
    thread::scope(|s| {
        for t in 0..WRITERS {
            let write = &write;
            s.spawn(move || write(t, db));
        }
    });
    db.close().expect("closes");
    started.elapsed().as_secs_f64()
}

/// Reopens the closed database at `path`, timed.
fn reopen(path: &Path) -> (Db, f64) {
    let started = Instant::now();
    let db = Db::open(path, config()).expect("reopens");
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    (db, open_ms)
}

fn rows_of(db: &Db, measurement: &str) -> usize {
    let scan = db.scan(&ScanRequest::new(measurement)).expect("scans");
    scan.map(|b| b.expect("reads").num_rows()).sum()
}

fn print_row(name: &str, points: usize, seconds: f64, file_bytes: u64, open_ms: f64) {
    println!(
        "{name}\t{points}\t{seconds:.3}\t{:.0}\t{file_bytes}\t{:.4}\t{open_ms:.2}\t{:.1}",
        points as f64 / seconds,
        file_bytes as f64 / points as f64,
        super::peak_rss_mb()
    );
}

fn highcard(dir: &Path, series: usize) {
    const STEPS: usize = 10;
    const HOSTS_PER_BATCH: usize = 100;
    let name = "highcard_1m";
    let path = dir.join("highcard.chronicle");
    let generator = Highcard::new(series, 7);
    let db = Db::open(&path, config()).expect("opens");
    let hosts = generator.hosts();
    let seconds = write_in_threads(&db, |t, db| {
        let mine = hosts * t / WRITERS..hosts * (t + 1) / WRITERS;
        for batch in generator.batches(mine, STEPS, HOSTS_PER_BATCH) {
            db.write_views(&batch.rows()).expect("writes");
        }
    });
    drop(db);
    let file_bytes = super::disk_bytes(dir);
    let (db, open_ms) = reopen(&path);
    assert_eq!(db.series_count().expect("counts"), series);
    assert_eq!(rows_of(&db, "cpu"), hosts * STEPS, "every point of cpu is back after reopening");
    let timed = |query: &str, run: &dyn Fn() -> usize| {
        let started = Instant::now();
        let results = run();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        println!("{LABEL_PREFIX}{name}\t{query}\t{results}\t{ms:.2}");
    };
    let tag_values = |key: &str| db.tag_values(key, Some(HIGHCARD_MEASUREMENTS[0]), None).expect("lists").len();
    timed("tag_values(cpu, hostname)", &|| tag_values("hostname"));
    timed("tag_values(cpu, region)", &|| tag_values("region"));
    timed("tag_keys(cpu)", &|| db.tag_keys(Some("cpu")).expect("lists").len());
    // What Prometheus's `/api/v1/series?match[]=cpu` answers: every label set of one measurement.
    let selector = [HIGHCARD_MEASUREMENTS[0].to_string()];
    timed("series(cpu)", &|| promql::labels::series(&db, &selector, None).expect("lists").len());
    db.close().expect("closes");
    drop(db);
    print_row(name, series * STEPS, seconds, file_bytes, open_ms);
}

fn tsbs_2w(dir: &Path) {
    const HOSTS: usize = 100;
    const STEPS: usize = 8_640;
    const STEPS_PER_BATCH: usize = 20;
    let path = dir.join("tsbs.chronicle");
    let hosts = TsbsCpu::new(HOSTS, 42).generate(STEPS);
    let db = Db::open(&path, config()).expect("opens");
    let seconds = write_in_threads(&db, |t, db| {
        let mine: Vec<_> = hosts.iter().skip(t).step_by(WRITERS).collect();
        for first in (0..STEPS).step_by(STEPS_PER_BATCH) {
            let steps = first..(first + STEPS_PER_BATCH).min(STEPS);
            let rows: Vec<_> = steps.flat_map(|s| mine.iter().map(move |h| h.row(s))).collect();
            db.write_views(&rows).expect("writes");
        }
    });
    drop(db);
    let file_bytes = super::disk_bytes(dir);
    let (db, open_ms) = reopen(&path);
    assert_eq!(rows_of(&db, "cpu"), HOSTS * STEPS, "every row is back after reopening");
    db.close().expect("closes");
    drop(db);
    print_row("tsbs_cpu_100x1d_2w", HOSTS * STEPS * CPU_FIELDS.len(), seconds, file_bytes, open_ms);
}
