//! The plan rules that read less than every row: latest-row aggregates
//! (`ChronicleLatestExec` over one row per series), a TopK of time
//! buckets (the scan cut to the buckets it needs) and late materialization
//! (the fields of a value filter decoded first, the others where rows pass). Each query must show the
//! rule in EXPLAIN and give exactly what the same SQL gives over a
//! `MemTable` of the rows written (built by `chronicle::testing::Reference`,
//! never through Chronicle), on data with overwrites across
//! flushes and in the head, missing fields and a missing tag. Queries the
//! rules must not touch keep their plain plan.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use chronicle::{Config, Db};
use common::TempDir;
use common::mixed_cpu::{MINUTE, T0, load_mixed, reference_session, run, ts};
use datafusion::prelude::SessionContext;

/// Asserts `sql` plans with `marker` in EXPLAIN (or without it when
/// `applies` is false) and answers as the reference does.
async fn same_as_reference(ctx: &SessionContext, reference: &SessionContext, sql: &str, marker: &str, applies: bool) {
    let plan = run(ctx, &format!("EXPLAIN {sql}")).await;
    assert_eq!(plan.contains(marker), applies, "{marker} in the plan of {sql}\n{plan}");
    assert_eq!(run(ctx, sql).await, run(reference, sql).await, "{sql}\n{plan}");
}

#[tokio::test]
async fn latest_row_aggregates_match_the_reference() {
    let dir = TempDir::new("plan-latest");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let ctx = db.session_context();
    let rewritten = [
        // TSBS's lastpoint. Host c's latest point is rewritten in the head.
        "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC".to_string(),
        "SELECT host, max(time) AS t FROM cpu GROUP BY host ORDER BY host".to_string(),
        // Groups of several series, and the group of series without dc.
        "SELECT dc, first_value(usage_user ORDER BY time DESC) AS u, last_value(usage_system ORDER BY time) AS s, \
         max(time) AS t FROM cpu GROUP BY dc ORDER BY dc"
            .to_string(),
        // Host a's last hour has no usage_system: its latest row holds a null.
        "SELECT DISTINCT ON (host) host, time, usage_user, usage_system FROM cpu ORDER BY host, time DESC".to_string(),
        // A range ending inside the chunks: the stats' last value is not it.
        format!(
            "SELECT DISTINCT ON (host) host, time, usage_user FROM cpu WHERE time < {} ORDER BY host, time DESC",
            ts(T0 + 90 * MINUTE + 1)
        ),
        format!(
            "SELECT host, max(time) FROM cpu WHERE host != 'b' AND time BETWEEN {} AND {} GROUP BY host ORDER BY host",
            ts(T0),
            ts(T0 + 150 * MINUTE)
        ),
        // One group; and no row at all, which still gives one row of nulls.
        "SELECT first_value(usage_user ORDER BY time DESC), max(time) FROM cpu".to_string(),
        format!("SELECT first_value(usage_user ORDER BY time DESC), max(time) FROM cpu WHERE time < {}", ts(T0)),
    ];
    for sql in &rewritten {
        same_as_reference(&ctx, &reference, sql, "ChronicleLatestExec", true).await;
    }
    let untouched = [
        // Ordered by a value, not by time.
        "SELECT host, first_value(time ORDER BY usage_user DESC) FROM cpu GROUP BY host ORDER BY host",
        // A field filter leaves a filter above the scan: its latest rows are not the answer.
        "SELECT DISTINCT ON (host) host, time, usage_user FROM cpu WHERE usage_user < 20 ORDER BY host, time DESC",
        // Another aggregate beside the latest row.
        "SELECT host, max(time), count(usage_user) FROM cpu GROUP BY host ORDER BY host",
    ];
    for sql in untouched {
        same_as_reference(&ctx, &reference, sql, "ChronicleLatestExec", false).await;
    }
    db.close().unwrap();
}

#[tokio::test]
async fn a_topk_of_time_buckets_reads_only_those_buckets() {
    let dir = TempDir::new("plan-top-buckets");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let ctx = db.session_context();
    let cut = [
        ("SELECT date_bin(INTERVAL '1 minute', time) AS m, max(usage_user) FROM cpu GROUP BY m ORDER BY m DESC LIMIT 5"
            .to_string(), "cut to the newest 5 date_bin(60s)"),
        ("SELECT date_bin(INTERVAL '1 minute', time) AS m, count(usage_system) FROM cpu GROUP BY m ORDER BY m LIMIT 3"
            .to_string(), "cut to the oldest 3 date_bin(60s)"),
        // More group columns than the bucket, and a second sort key.
        ("SELECT date_bin(INTERVAL '10 minutes', time) AS m, host, avg(usage_user) FROM cpu GROUP BY m, host \
          ORDER BY m DESC, host LIMIT 4"
            .to_string(), "cut to the newest 4 date_bin(600s)"),
        (format!(
            "SELECT date_bin(INTERVAL '1 minute', time) AS m, min(usage_user) FROM cpu WHERE time < {} AND host = 'c' \
             GROUP BY m ORDER BY m DESC LIMIT 5",
            ts(T0 + 131 * MINUTE)
        ), "cut to the newest 5"),
        // More buckets asked than there are: nothing to cut, the same answer.
        ("SELECT date_bin(INTERVAL '1 hour', time) AS h, max(usage_user) FROM cpu GROUP BY h ORDER BY h DESC LIMIT 50"
            .to_string(), "cut to the newest 50"),
    ];
    for (sql, marker) in &cut {
        same_as_reference(&ctx, &reference, sql, marker, true).await;
    }
    // The newest five minutes are minutes 175 to 179: only they are read.
    let plan = run(&ctx, &format!("EXPLAIN {}", cut[0].0)).await;
    assert!(plan.contains(&format!("time=[{}, ", T0 + 175 * MINUTE)) && plan.contains("partitions=1"), "{plan}");
    let untouched = [
        // A HAVING filter sits between the TopK and the aggregate.
        "SELECT date_bin(INTERVAL '1 minute', time) AS m, max(usage_user) AS u FROM cpu GROUP BY m HAVING max(usage_user) > 30 \
         ORDER BY m DESC LIMIT 5",
        // Ordered by the aggregate, not the bucket.
        "SELECT date_bin(INTERVAL '1 minute', time) AS m, max(usage_user) AS u FROM cpu GROUP BY m ORDER BY u DESC, m LIMIT 5",
        // A field filter: known rows may not pass it.
        "SELECT date_bin(INTERVAL '1 minute', time) AS m, max(usage_user) FROM cpu WHERE usage_user < 20 GROUP BY m \
         ORDER BY m DESC LIMIT 5",
    ];
    for sql in untouched {
        same_as_reference(&ctx, &reference, sql, "cut to the", false).await;
    }
    db.close().unwrap();
}

#[tokio::test]
async fn value_filters_decode_their_fields_first_and_answer_exactly() {
    let dir = TempDir::new("plan-late-materialization");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    let reference = reference_session(&load_mixed(&db));
    let ctx = db.session_context();
    let late = [
        // Only host a's overwriting block (hour 1), +Inf, the NaN and
        // host c's point rewritten in the head pass: a chunk whose stats
        // pass may hold rows an overwrite replaced.
        ("SELECT * FROM cpu WHERE usage_user > 90", "decoded_first=[usage_user]"),
        ("SELECT host, time, usage_system FROM cpu WHERE usage_user >= 30 AND usage_user < 31", "[usage_user]"),
        // A sparse field: no value in some chunks, every other minute in others.
        ("SELECT * FROM cpu WHERE usage_system > 6", "decoded_first=[usage_system]"),
        ("SELECT * FROM cpu WHERE usage_user > 90 AND usage_system < 0", "decoded_first=[usage_user, usage_system]"),
        // Zeros of both signs and -Inf.
        ("SELECT * FROM cpu WHERE usage_user <= 0", "decoded_first=[usage_user]"),
        ("SELECT time, usage_system FROM cpu WHERE usage_user > 1e9 AND host = 'c'", "decoded_first=[usage_user]"),
        ("SELECT * FROM cpu WHERE usage_user > 1e12", "decoded_first=[usage_user]"),
    ];
    for (sql, marker) in late {
        let sorted = format!("{sql} ORDER BY host, time");
        same_as_reference(&ctx, &reference, &sorted, marker, true).await;
    }
    same_as_reference(&ctx, &reference, "SELECT * FROM cpu WHERE host = 'a' ORDER BY time", "decoded_first", false)
        .await;
    db.close().unwrap();
}
