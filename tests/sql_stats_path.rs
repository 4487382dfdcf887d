//! Simple aggregates answered from chunk statistics (`ChronicleStatsExec`):
//! each query must show the operator in EXPLAIN and give exactly what the
//! same SQL gives over a `MemTable` of the rows written (built by
//! `chronicle::testing::Reference`, never through Chronicle), on data whose chunks are whole hours, partly covered by the time
//! range, overwritten across flushes and by the head, holding NaN, ±Inf,
//! zeros and missing fields. Queries the stats cannot answer keep the plain
//! aggregate.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use chronicle::testing::{CPU_FIELDS, Reference, TsbsCpu, cpu_row_batches};
use chronicle::{Config, Db};
use common::TempDir;
use common::mixed_cpu::{HOUR, MINUTE, T0, load_mixed, reference_session, run, ts};
use datafusion::prelude::SessionContext;

/// Five TSBS hosts over two hours, flushed: every chunk a whole hour.
/// Returns the rows kept by a reference.
fn load_tsbs(db: &Db) -> Reference {
    let hosts = TsbsCpu::new(5, 7).generate(720);
    let mut reference = Reference::new();
    for batch in cpu_row_batches(&hosts, 1_000) {
        db.write_rows(&batch).unwrap();
        reference.write(&batch);
    }
    db.flush().unwrap();
    reference
}

/// (chunks answered from stats, rows decoded) by the stats operator, from EXPLAIN ANALYZE.
async fn metrics(ctx: &SessionContext, sql: &str) -> (usize, usize) {
    let report = run(ctx, &format!("EXPLAIN ANALYZE {sql}")).await;
    let line = report.lines().find(|l| l.contains("ChronicleStatsExec")).expect("the stats operator ran");
    let metric = |name: &str| -> usize {
        let at = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {line}")) + name.len() + 1;
        line[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
    };
    (metric("chunks_from_stats"), metric("rows_decoded"))
}

/// Asserts the stats operator plans `sql` and that it gives what the
/// reference gives; returns the chunk and row counts it used.
async fn same_as_reference(db: &Db, reference: &SessionContext, sql: &str) -> (usize, usize) {
    let ctx = db.session_context();
    let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
    assert!(plan.contains("ChronicleStatsExec"), "{sql}\n{plan}");
    assert_eq!(run(&ctx, sql).await, run(reference, sql).await, "{sql}\n{plan}");
    metrics(&ctx, sql).await
}

const ALL_AGGREGATES: &str = "count(usage_user) AS n, sum(usage_user) AS s, min(usage_user) AS lo, \
     max(usage_user) AS hi, avg(usage_user) AS mean, count(usage_system) AS n_sys, max(usage_system) AS hi_sys";

#[tokio::test]
async fn grouped_by_tags_and_hour_mixing_stats_and_decoded_chunks() {
    let dir = TempDir::new("stats-hour");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let sql = format!(
        "SELECT host, date_bin(INTERVAL '1 hour', time) AS hour, {ALL_AGGREGATES} FROM cpu GROUP BY host, hour ORDER BY host, hour"
    );
    let (from_stats, decoded) = same_as_reference(&db, &reference, &sql).await;
    // Whole and clean: (a, 0), (a, 2) and (b, 0), and host b's hours 1 and 2
    // as two chunks each (usage_user, and usage_system at other times),
    // which hold different fields. Everything else is decoded.
    assert_eq!(from_stats, 7, "{sql}");
    assert!(decoded > 0);
    // The overwrite shows: host a's hour 1 holds the rewritten maximum.
    let out = run(&db.session_context(), &sql).await;
    assert!(out.contains("| 209.5 "), "last write wins:\n{out}");

    // max(usage_user) alone can also use (c, 1), whose zero only matters to
    // min; host b's usage_system chunks of hours 1 and 2 add rows (their
    // groups) but no value, so they come as stats too, undecoded.
    let max_only = "SELECT host, date_bin(INTERVAL '1 hour', time) AS hour, max(usage_user) FROM cpu \
                    GROUP BY host, hour ORDER BY host, hour";
    let (from_stats, decoded) = same_as_reference(&db, &reference, max_only).await;
    assert_eq!((from_stats, decoded), (8, 3 * 60), "decoded: a1 (two blocks), c0 (a NaN), c2 (rewritten in memory)");
    db.close().unwrap();
}

#[tokio::test]
async fn groupings_none_tags_and_buckets_match_the_reference() {
    let dir = TempDir::new("stats-groupings");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let queries = [
        format!("SELECT {ALL_AGGREGATES} FROM cpu"),
        format!("SELECT host, dc, {ALL_AGGREGATES} FROM cpu GROUP BY host, dc ORDER BY host, dc"),
        format!("SELECT dc, {ALL_AGGREGATES} FROM cpu GROUP BY dc ORDER BY dc"),
        // Half-hour buckets split every chunk: all decoded, same answer.
        format!("SELECT date_bin(INTERVAL '30 minutes', time) AS b, {ALL_AGGREGATES} FROM cpu GROUP BY b ORDER BY b"),
        // Hour buckets starting at half past: chunks straddle them.
        format!(
            "SELECT host, date_bin(INTERVAL '1 hour', time, TIMESTAMP '2000-01-01T00:30:00Z') AS b, {ALL_AGGREGATES} \
             FROM cpu GROUP BY host, b ORDER BY host, b"
        ),
        // Day buckets hold whole chunks; the group order is the buckets' first.
        format!(
            "SELECT date_bin(INTERVAL '1 day', time) AS d, host, {ALL_AGGREGATES} FROM cpu GROUP BY d, host ORDER BY d, host"
        ),
        // A range that covers hour 1 wholly and hours 0 and 2 in part, and tag filters.
        format!(
            "SELECT host, date_bin(INTERVAL '1 hour', time) AS hour, {ALL_AGGREGATES} FROM cpu \
             WHERE time >= {} AND time < {} AND host != 'c' GROUP BY host, hour ORDER BY host, hour",
            ts(T0 + 30 * MINUTE),
            ts(T0 + 150 * MINUTE)
        ),
        format!(
            "SELECT {ALL_AGGREGATES} FROM cpu WHERE host = 'a' AND time BETWEEN {} AND {}",
            ts(T0),
            ts(T0 + HOUR - 1)
        ),
        // Every tag and time grouped: the scan's order makes the partial
        // aggregate declare a sorted output, which the stats operator keeps.
        format!(
            "SELECT dc, host, date_bin(INTERVAL '1 hour', time) AS hour, {ALL_AGGREGATES} FROM cpu \
             GROUP BY dc, host, hour ORDER BY dc, host, hour"
        ),
        // A projection between the scan and the aggregate.
        "SELECT b, h, max(u), count(u), sum(u) FROM (SELECT date_bin(INTERVAL '1 hour', time) AS b, host AS h, \
         usage_user AS u FROM cpu) GROUP BY b, h ORDER BY b, h"
            .to_string(),
        // Nothing in range: one row of empty aggregates without GROUP BY, none with it.
        format!("SELECT {ALL_AGGREGATES} FROM cpu WHERE time < {}", ts(T0)),
        format!("SELECT host, {ALL_AGGREGATES} FROM cpu WHERE time < {} GROUP BY host", ts(T0)),
    ];
    let mut from_stats = 0;
    for sql in &queries {
        from_stats += same_as_reference(&db, &reference, sql).await.0;
    }
    assert!(from_stats > 0, "some chunks were answered from their stats");
    db.close().unwrap();
}

#[tokio::test]
async fn single_mode_aggregates_one_partition() {
    let dir = TempDir::new("stats-single");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    reference.sql("SET datafusion.execution.target_partitions = 1").await.unwrap();
    let ctx = db.session_context();
    ctx.sql("SET datafusion.execution.target_partitions = 1").await.unwrap();
    let sql = format!(
        "SELECT host, {ALL_AGGREGATES} FROM cpu WHERE time >= {} AND time < {} GROUP BY host ORDER BY host",
        ts(T0),
        ts(T0 + HOUR)
    );
    let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
    assert!(plan.contains("ChronicleStatsExec: mode=single"), "{plan}");
    assert_eq!(run(&ctx, &sql).await, run(&reference, &sql).await);
    assert_eq!(metrics(&ctx, &sql).await.0, 2, "(a, 0) and (b, 0)");
    db.close().unwrap();
}

#[tokio::test]
async fn whole_hour_chunks_are_never_decoded() {
    let dir = TempDir::new("stats-tsbs");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_tsbs(&db));
    let sql = "SELECT hostname, date_bin(INTERVAL '1 hour', time) AS hour, max(usage_user), count(usage_idle), \
               sum(usage_system), avg(usage_nice) FROM cpu GROUP BY hostname, hour ORDER BY hostname, hour";
    let plan = run(&db.session_context(), &format!("EXPLAIN {sql}")).await;
    assert!(
        plan.contains("ChronicleStatsExec: mode=partial, group=[hostname, date_bin(3600s)], aggs=[max(usage_user), count(usage_idle), sum(usage_system), avg(usage_nice)]"),
        "{plan}"
    );
    // 5 hosts x 2 hours, all from stats.
    assert_eq!(same_as_reference(&db, &reference, sql).await, (10, 0));
    assert_eq!(CPU_FIELDS.len(), 10);
    db.close().unwrap();
}

#[tokio::test]
async fn queries_the_stats_cannot_answer_keep_the_plain_aggregate() {
    let dir = TempDir::new("stats-not");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let ctx = db.session_context();
    for sql in [
        "SELECT host, median(usage_user) FROM cpu GROUP BY host ORDER BY host",
        // An inexact filter: the rows still need filtering.
        "SELECT host, max(usage_user) FROM cpu WHERE usage_user > 20 GROUP BY host ORDER BY host",
        "SELECT host, count(*) FROM cpu GROUP BY host ORDER BY host",
        "SELECT count(DISTINCT usage_user) FROM cpu",
        "SELECT max(usage_user) FILTER (WHERE host = 'a') FROM cpu",
        "SELECT date_bin(INTERVAL '1 month', time) AS m, max(usage_user) FROM cpu GROUP BY m",
        "SELECT usage_system, max(usage_user) FROM cpu GROUP BY usage_system ORDER BY usage_system",
        "SELECT host, max(usage_user * 2) FROM cpu GROUP BY host ORDER BY host",
        "SELECT h, max(u) FROM (SELECT host AS h, usage_user + 0 AS u FROM cpu) GROUP BY h ORDER BY h",
    ] {
        let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains("AggregateExec") && !plan.contains("ChronicleStatsExec"), "{sql}\n{plan}");
        assert_eq!(run(&ctx, sql).await, run(&reference, sql).await, "{sql}");
    }
    db.close().unwrap();
}
