//! Simple aggregates answered from chunk statistics, measured against the
//! decoding path: TSBS cpu-only (100 hosts, one day at 10 s: 864,000 rows of
//! ten fields), flushed, queried through two DataFusion sessions that differ
//! only in `ChronicleStatsRule`. Each query runs once to warm up, then seven
//! times per session; the median wall time (planning included) is printed,
//! and the two sessions' results are checked to be equal.
//!
//! Run: `cargo run --release --example stats_aggregates`. Prints one TSV
//! line per query under the header `query decode_ms stats_ms speedup`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measurement program: failing loudly is right")]

use std::sync::Arc;
use std::time::Instant;

use chronicle::query::ChronicleStatsRule;
use chronicle::testing::{TsbsCpu, cpu_row_batches};
use chronicle::{Config, Db};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;

const HOSTS: usize = 100;
const STEPS: usize = 8_640;
const RUNS: usize = 7;

const QUERIES: [(&str, &str); 3] = [
    (
        "max_by_host_hour",
        "SELECT hostname, max(usage_user) FROM cpu GROUP BY hostname, date_bin(INTERVAL '1 hour', time) \
         ORDER BY 1, 2",
    ),
    (
        "five_aggs_by_host",
        "SELECT hostname, count(usage_user), sum(usage_user), min(usage_user), max(usage_user), avg(usage_user) \
         FROM cpu GROUP BY hostname ORDER BY 1",
    ),
    ("max_all", "SELECT max(usage_user), count(usage_idle) FROM cpu"),
];

fn session(db: &Db, stats: bool) -> SessionContext {
    let mut builder = SessionStateBuilder::new().with_default_features();
    if stats {
        builder = builder.with_physical_optimizer_rule(Arc::new(ChronicleStatsRule::new()));
    }
    let ctx = SessionContext::new_with_state(builder.build());
    ctx.register_table("cpu", Arc::new(db.table("cpu").unwrap())).unwrap();
    ctx
}

async fn timed(ctx: &SessionContext, sql: &str) -> (f64, String) {
    let started = Instant::now();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    (started.elapsed().as_secs_f64() * 1e3, pretty_format_batches(&batches).unwrap().to_string())
}

async fn median_ms(ctx: &SessionContext, sql: &str) -> (f64, String) {
    let (_, out) = timed(ctx, sql).await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        times.push(timed(ctx, sql).await.0);
    }
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], out)
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("chronicle-stats-aggregates-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("tsbs.chronicle"), Config::default()).unwrap();
    let hosts = TsbsCpu::new(HOSTS, 42).generate(STEPS);
    for batch in cpu_row_batches(&hosts, 1_000) {
        db.write_rows(&batch).unwrap();
    }
    db.flush().unwrap();
    let (decoding, stats) = (session(&db, false), session(&db, true));
    println!("query\tdecode_ms\tstats_ms\tspeedup");
    for (name, sql) in QUERIES {
        let plan = timed(&stats, &format!("EXPLAIN {sql}")).await.1;
        assert!(plan.contains("ChronicleStatsExec"), "{plan}");
        let (decode_ms, expected) = median_ms(&decoding, sql).await;
        let (stats_ms, got) = median_ms(&stats, sql).await;
        assert_eq!(got, expected, "{sql}");
        println!("{name}\t{decode_ms:.2}\t{stats_ms:.2}\t{:.1}", decode_ms / stats_ms);
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
