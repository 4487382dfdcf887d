//! Data lifecycle report: what the cold tier costs in bytes and in query
//! time, on TSBS cpu-only (100 hosts at 10 s) over a week.
//!
//! The week is written to a database and compacted ("local"); a copy of
//! that file gets a `file://` cold tier, its first six days are tiered and
//! compacted away from the local file ("tiered"). The TSBS devops query
//! set runs on both, in the same run, twice: with its windows drawn in the
//! last 12 hours (local on both) and over the whole week (mostly Parquet on
//! the tiered one). Every answer of the tiered database is checked against
//! the local one's: a mismatch aborts the run.
//!
//! Run: `cargo bench --bench lifecycle_report`. Prints TSV under the header
//! `dataset raw_bytes tiered_bytes rollup_bytes query local_ms tiered_ms ratio`:
//! `raw_bytes` is what the tiered partitions take in the local file,
//! `tiered_bytes` their Parquet files, `rollup_bytes` the 5 m rollup of the
//! week; each query row holds the median wall time over `ITERATIONS` runs
//! after one untimed warm-up, and tiered / local. `LIFECYCLE_DAYS=3` writes
//! fewer days (the last one stays local); `TSBS_QUERIES` and
//! `TSBS_ITERATIONS` narrow the query set as for `tsbs_queries`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

#[allow(dead_code, reason = "the one-day loader is the other query benches'")]
mod tsbs_sql;

use std::path::Path;
use std::time::Instant;

use chronicle::testing::{HOUR_NS, START_NS, TsbsCpu};
use chronicle::{Config, Db, TierConfig};
use datafusion::prelude::SessionContext;
use tsbs_sql::{HOSTS, Span, check, median_ms, run};

/// Timed runs per query type and database, unless `TSBS_ITERATIONS` says otherwise.
const ITERATIONS: usize = 10;
const DAY_NS: i64 = 24 * HOUR_NS;
const STEPS_PER_DAY: usize = 8_640;
const BATCH_ROWS: usize = 10_000;
const SEED: u64 = 42;

fn date_bin(unit: &str) -> String {
    format!("date_bin(INTERVAL '1 {unit}', time)")
}

/// Writes `days` of TSBS cpu rows into a new database at `path`, flushed and compacted.
fn load(path: &Path, days: usize) {
    let started = Instant::now();
    let db = Db::open(path, Config::default()).expect("opens");
    for batch in TsbsCpu::new(HOSTS, SEED).row_batches(days * STEPS_PER_DAY, BATCH_ROWS) {
        db.write_rows(&batch).expect("writes");
    }
    db.flush().expect("flushes");
    db.compact().expect("compacts");
    db.close().expect("closes");
    eprintln!("wrote {} rows in {:.1} s", HOSTS * days * STEPS_PER_DAY, started.elapsed().as_secs_f64());
}

/// Tiers every partition that starts before `until`, then compacts; returns
/// the bytes those partitions took in the local file and in the tier.
async fn tier_older(db: &Db, until: i64) -> (u64, u64) {
    let started = Instant::now();
    let partitions: Vec<_> = db.partitions().expect("lists").into_iter().filter(|p| p.start < until).collect();
    let raw: u64 = partitions.iter().map(|p| p.file_bytes).sum();
    let mut tiered = 0;
    for p in &partitions {
        tiered += db.tier_partition(p.start).await.expect("tiers").iter().map(|f| f.size).sum::<u64>();
    }
    db.compact().expect("compacts");
    eprintln!("tiered {} partitions in {:.1} s", partitions.len(), started.elapsed().as_secs_f64());
    (raw, tiered)
}

/// Times the TSBS set with windows in `span` on both sessions, checking
/// every tiered answer against the local one; prints one row per query type.
async fn compare(prefix: &str, bytes: &str, span: Span, local: &SessionContext, tiered: &SessionContext) {
    for (name, shape, statements) in tsbs_sql::statements_in(date_bin, ITERATIONS, span) {
        let (mut times_l, mut times_t) = (Vec::new(), Vec::new());
        for (i, sql) in statements.iter().enumerate() {
            let (l, t) = if i % 2 == 0 {
                let l = run(local, sql).await;
                (l, run(tiered, sql).await)
            } else {
                let t = run(tiered, sql).await;
                (run(local, sql).await, t)
            };
            check(name, sql, shape.ordered(), &t.1, ("the local database", &l.1));
            if i > 0 {
                times_l.push(l.0);
                times_t.push(t.0);
            }
        }
        let (l, t) = (median_ms(times_l), median_ms(times_t));
        println!("{bytes}\t{prefix}/{name}\t{l:.3}\t{t:.3}\t{:.3}", t / l);
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let days: usize =
        std::env::var("LIFECYCLE_DAYS").ok().map_or(7, |v| v.parse().expect("LIFECYCLE_DAYS is a number"));
    assert!(days >= 2, "at least two days: all but the last are tiered");
    let dir = std::env::temp_dir().join(format!("chronicle-lifecycle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates");
    let local_path = dir.join("local.chronicle");
    load(&local_path, days);
    let tiered_path = dir.join("tiered.chronicle");
    std::fs::copy(&local_path, &tiered_path).expect("copies the file");

    let local = Db::open(&local_path, Config::default()).expect("opens");
    let tier = TierConfig::new(format!("file://{}", dir.join("cold").display()));
    let tiered = Db::open(&tiered_path, Config::default().with_tier(tier)).expect("opens");
    let end = START_NS + days as i64 * DAY_NS;
    let (raw_bytes, tiered_bytes) = tier_older(&tiered, end - DAY_NS).await;
    let rollup_bytes = "-";

    println!("dataset\traw_bytes\ttiered_bytes\trollup_bytes\tquery\tlocal_ms\ttiered_ms\tratio");
    let bytes = format!("tsbs_cpu_{HOSTS}x{days}d\t{raw_bytes}\t{tiered_bytes}\t{rollup_bytes}");
    let (l, t) = (local.session_context(), tiered.session_context());
    compare("last12h", &bytes, Span { start: end - 12 * HOUR_NS, len: 12 * HOUR_NS }, &l, &t).await;
    compare("week", &bytes, Span { start: START_NS, len: end - START_NS }, &l, &t).await;

    local.close().expect("closes");
    tiered.close().expect("closes");
    let _ = std::fs::remove_dir_all(&dir);
}
