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
//! A third database holds the same week with the rollup rule `cpu` every
//! 5 m into `cpu_5m` (every aggregate, every tag). Dialect queries grouping
//! by `time(1h)` over the rolled part of the week (up to the last closed
//! partition) run with `SET chronicle.rollup = 'off'` (raw) and `'on'`
//! (rollup), answers compared.
//!
//! Run: `cargo bench --bench lifecycle_report`. Prints TSV under the header
//! `dataset raw_bytes tiered_bytes rollup_bytes query local_ms tiered_ms ratio`:
//! `raw_bytes` is what the tiered partitions take in the local file,
//! `tiered_bytes` their Parquet files, `rollup_bytes` the 5 m rollup of the
//! week; each query row holds the median wall time over `ITERATIONS` runs
//! after one untimed warm-up, and tiered / local. Then a second table under
//! `query raw_ms rollup_ms ratio` for the `GROUP BY time(1h)` queries.
//! `LIFECYCLE_DAYS=3` writes
//! fewer days (the last one stays local); `TSBS_QUERIES` and
//! `TSBS_ITERATIONS` narrow the query set as for `tsbs_queries`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

#[allow(dead_code, reason = "the one-day loader is the other query benches'")]
mod tsbs_sql;

use std::path::Path;
use std::time::{Duration, Instant};

use chronicle::testing::{HOUR_NS, START_NS, TsbsCpu};
use chronicle::{Config, Db, RollupRule, TierConfig};
use datafusion::arrow::array::RecordBatch;
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

/// Writes `days` of TSBS cpu rows into a new database at `path` opened
/// with `config`, flushed (rollups up to date) and compacted.
fn load(path: &Path, config: Config, days: usize) {
    let started = Instant::now();
    let db = Db::open(path, config).expect("opens");
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

/// The `GROUP BY time(1h)` dialect queries over `[start, end)`.
fn hourly_queries(start: i64, end: i64) -> Vec<(&'static str, String)> {
    let range = format!("time >= {start} AND time < {end}");
    vec![
        ("mean-1h", format!("SELECT mean(usage_user) FROM cpu WHERE {range} GROUP BY time(1h)")),
        (
            "mean-max-min-1h-by-host",
            format!(
                "SELECT mean(usage_user), max(usage_system), min(usage_idle) FROM cpu WHERE {range} \
                 GROUP BY time(1h), hostname"
            ),
        ),
        (
            "max-1h-one-host",
            format!("SELECT max(usage_user) FROM cpu WHERE hostname = 'host_7' AND {range} GROUP BY time(1h)"),
        ),
        (
            "count-sum-1h",
            format!("SELECT count(usage_user), sum(usage_iowait) FROM cpu WHERE {range} GROUP BY time(1h)"),
        ),
        (
            "mean-5-fields-1h-by-host",
            format!(
                "SELECT mean(usage_user), mean(usage_system), mean(usage_idle), mean(usage_nice), mean(usage_iowait) \
                 FROM cpu WHERE {range} GROUP BY time(1h), hostname"
            ),
        ),
    ]
}

/// A dialect query in `ctx`: wall time and answer.
async fn dialect(db: &Db, ctx: &SessionContext, q: &str) -> (Duration, Vec<RecordBatch>) {
    let started = Instant::now();
    let batches = db.query_dialect_in(ctx, q).await.unwrap_or_else(|e| panic!("runs: {e}\n{q}"));
    (started.elapsed(), batches)
}

/// Times the hourly queries on raw data and on the rollup, answers compared.
async fn rollup_table(db: &Db, iterations: usize) {
    let status = db.rollup_status("cpu_5m").expect("reads").expect("the rule exists");
    assert!(status.dirty.is_empty(), "every window is rolled: {status:?}");
    let (raw, rolled) = (db.session_context(), db.session_context());
    raw.sql("SET chronicle.rollup = 'off'").await.expect("sets");
    rolled.sql("SET chronicle.rollup = 'on'").await.expect("sets");
    let end = status.rolled_to.div_euclid(HOUR_NS) * HOUR_NS;
    println!("query\traw_ms\trollup_ms\tratio");
    for (name, q) in hourly_queries(START_NS, end) {
        let plan = db.query_dialect_in(&rolled, &format!("EXPLAIN {q}")).await.expect("explains");
        let plan = datafusion::arrow::util::pretty::pretty_format_batches(&plan).expect("formats").to_string();
        assert!(plan.contains("cpu_5m"), "{name} reads the rollup:\n{plan}");
        let (mut times_raw, mut times_rolled) = (Vec::new(), Vec::new());
        for i in 0..=iterations {
            let (r, u) = if i % 2 == 0 {
                let r = dialect(db, &raw, &q).await;
                (r, dialect(db, &rolled, &q).await)
            } else {
                let u = dialect(db, &rolled, &q).await;
                (dialect(db, &raw, &q).await, u)
            };
            check(name, &q, true, &u.1, ("raw data", &r.1));
            if i > 0 {
                times_raw.push(r.0);
                times_rolled.push(u.0);
            }
        }
        let (r, u) = (median_ms(times_raw), median_ms(times_rolled));
        println!("{name}\t{r:.3}\t{u:.3}\t{:.3}", u / r);
    }
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
    load(&local_path, Config::default(), days);
    let rollup_path = dir.join("rollup.chronicle");
    let rule = RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m");
    load(&rollup_path, Config::default().with_rollup(rule.clone()), days);
    let file_bytes = |path: &Path| std::fs::metadata(path).expect("exists").len();
    let rollup_bytes = file_bytes(&rollup_path).saturating_sub(file_bytes(&local_path));
    let tiered_path = dir.join("tiered.chronicle");
    std::fs::copy(&local_path, &tiered_path).expect("copies the file");

    let local = Db::open(&local_path, Config::default()).expect("opens");
    let tier = TierConfig::new(format!("file://{}", dir.join("cold").display()));
    let tiered = Db::open(&tiered_path, Config::default().with_tier(tier)).expect("opens");
    let end = START_NS + days as i64 * DAY_NS;
    let (raw_bytes, tiered_bytes) = tier_older(&tiered, end - DAY_NS).await;

    println!("dataset\traw_bytes\ttiered_bytes\trollup_bytes\tquery\tlocal_ms\ttiered_ms\tratio");
    let bytes = format!("tsbs_cpu_{HOSTS}x{days}d\t{raw_bytes}\t{tiered_bytes}\t{rollup_bytes}");
    let (l, t) = (local.session_context(), tiered.session_context());
    compare("last12h", &bytes, Span { start: end - 12 * HOUR_NS, len: 12 * HOUR_NS }, &l, &t).await;
    compare("week", &bytes, Span { start: START_NS, len: end - START_NS }, &l, &t).await;

    local.close().expect("closes");
    tiered.close().expect("closes");

    let rollup = Db::open(&rollup_path, Config::default().with_rollup(rule)).expect("opens");
    rollup_table(&rollup, tsbs_sql::timed_runs(ITERATIONS)).await;
    rollup.close().expect("closes");
    let _ = std::fs::remove_dir_all(&dir);
}
