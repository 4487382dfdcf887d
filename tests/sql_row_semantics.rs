//! What SQL rows are, whatever a query names: a row is a (series, time) at
//! which any field has a value, in memory and in the file; the columns a
//! plan was made with are the columns it returns, even when a tag key is
//! written between planning and execution; a condition no row meets stays
//! unmet through every re-plan; and casts that lose values are not pushed
//! down. Every expected answer is worked out by hand from the rows written.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::sync::Arc;

use arrow_array::RecordBatch;
use chronicle::{Config, Db, Row};
use common::TempDir;
use common::mixed_cpu::pretty;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;

const T0: i64 = 1_767_225_600_000_000_000;
const MINUTE: i64 = 60_000_000_000;

/// Sparse `cpu`, as line protocol and OTLP write it: host a has usage_user
/// and usage_system at minutes 0-3 but usage_system only at 0 and 2; host b
/// has only usage_user and no `idle` ever; host c only `idle`, at minute 1.
fn sparse_rows() -> Vec<Row> {
    let row = |host: &str, m: i64| Row::new("cpu", T0 + m * MINUTE).with_tag("host", host);
    vec![
        row("a", 0).with_field("usage_user", 1.0).with_field("usage_system", 10.0).with_field("idle", 90.0),
        row("a", 1).with_field("usage_user", 2.0),
        row("a", 2).with_field("usage_user", 3.0).with_field("usage_system", 30.0),
        row("a", 3).with_field("idle", 97.0),
        row("b", 0).with_field("usage_user", 5.0),
        row("b", 1).with_field("usage_user", 6.0),
        row("c", 1).with_field("idle", 50.0),
    ]
}

async fn run(ctx: &SessionContext, sql: &str) -> String {
    pretty(&ctx.sql(sql).await.expect(sql).collect().await.expect(sql))
}

/// The lines of a pretty table, without its borders.
fn lines(table: &str) -> Vec<String> {
    table.lines().filter(|l| l.starts_with('|')).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// Runs `check` with the sparse rows in memory, then flushed, then reopened.
async fn in_memory_and_flushed(name: &str, check: impl AsyncFn(&Db, &str)) {
    let dir = TempDir::new(name);
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    db.write_rows(&sparse_rows()).unwrap();
    check(&db, "in memory").await;
    db.flush().unwrap();
    check(&db, "flushed").await;
    db.close().unwrap();
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    check(&db, "reopened").await;
    db.close().unwrap();
}

#[tokio::test]
async fn counts_groups_and_latest_rows_do_not_depend_on_the_projection() {
    in_memory_and_flushed("rows-projection", async |db: &Db, when: &str| {
        let ctx = db.session_context();
        // Rows without usage_system: a@1, a@3, b@0, b@1, c@1.
        let null_system = "FROM cpu WHERE usage_system IS NULL";
        assert_eq!(lines(&run(&ctx, &format!("SELECT count(*) AS n {null_system}")).await)[1], "| 5 |", "{when}");
        assert_eq!(lines(&run(&ctx, &format!("SELECT * {null_system}")).await).len(), 1 + 5, "{when}");
        assert_eq!(lines(&run(&ctx, &format!("SELECT host {null_system}")).await).len(), 1 + 5, "{when}");
        assert_eq!(lines(&run(&ctx, "SELECT count(*) AS n FROM cpu").await)[1], "| 7 |", "{when}");
        assert_eq!(lines(&run(&ctx, "SELECT count(*) AS n FROM cpu WHERE usage_system IS NOT NULL").await)[1], "| 2 |");

        // Host b has no idle at all; it is still a group, with a null max.
        let groups = run(&ctx, "SELECT host, max(idle) AS i, count(*) AS n FROM cpu GROUP BY host ORDER BY host").await;
        assert_eq!(lines(&groups)[1..], ["| a | 97.0 | 4 |", "| b | | 2 |", "| c | 50.0 | 1 |"], "{when}\n{groups}");

        // Host a's latest row is minute 3, which has no usage_user.
        let latest =
            run(&ctx, "SELECT DISTINCT ON (host) host, time, usage_user FROM cpu ORDER BY host, time DESC").await;
        assert_eq!(
            lines(&latest)[1..],
            ["| a | 2026-01-01T00:03:00Z | |", "| b | 2026-01-01T00:01:00Z | 6.0 |", "| c | 2026-01-01T00:01:00Z | |"],
            "{when}\n{latest}"
        );
        let newest = run(&ctx, "SELECT host, max(time) AS t FROM cpu GROUP BY host ORDER BY host").await;
        assert_eq!(lines(&newest)[1], "| a | 2026-01-01T00:03:00Z |", "{when}");
    })
    .await;
}

#[tokio::test]
async fn field_is_not_null_is_an_exact_condition_of_the_scan() {
    in_memory_and_flushed("rows-present", async |db: &Db, when: &str| {
        let ctx = db.session_context();
        let sql = "SELECT host, time FROM cpu WHERE usage_system IS NOT NULL OR idle IS NOT NULL ORDER BY host, time";
        let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains("present=[usage_system or idle is not null]"), "{plan}");
        assert!(!plan.contains("FilterExec"), "the scan applies it: {plan}");
        let rows = run(&ctx, sql).await;
        let expect = [
            "| a | 2026-01-01T00:00:00Z |",
            "| a | 2026-01-01T00:02:00Z |",
            "| a | 2026-01-01T00:03:00Z |",
            "| c | 2026-01-01T00:01:00Z |",
        ];
        assert_eq!(lines(&rows)[1..], expect, "{when}");
        let both = "SELECT count(*) AS n FROM cpu WHERE usage_user IS NOT NULL AND usage_system IS NOT NULL";
        assert_eq!(lines(&run(&ctx, both).await)[1], "| 2 |", "{when}");
    })
    .await;
}

/// A tag key that sorts before the others, written after the plan was made.
fn zoned_row(m: i64) -> Row {
    Row::new("cpu", T0 + m * MINUTE).with_tag("host", "z").with_tag("az", "eu").with_field("usage_user", 42.0)
}

#[tokio::test]
async fn a_plan_returns_its_own_columns_when_a_tag_key_arrives_before_it_runs() {
    let dir = TempDir::new("rows-new-tag");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    db.write_rows(&sparse_rows()).unwrap();
    db.flush().unwrap();

    // Planned now, run after `az` exists.
    let ctx = db.session_context();
    let frame = ctx.sql("SELECT * FROM cpu").await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    db.write_rows(&[zoned_row(2)]).unwrap();
    let batches: Vec<RecordBatch> = collect(plan, ctx.task_ctx()).await.unwrap();
    let names: Vec<String> = batches[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["time", "host", "idle", "usage_system", "usage_user"], "the planned columns");
    let table = lines(&pretty(&batches));
    assert!(table.contains(&"| 2026-01-01T00:02:00Z | z | | | 42.0 |".to_string()), "{table:?}");
    assert!(table.contains(&"| 2026-01-01T00:00:00Z | a | 90.0 | 10.0 | 1.0 |".to_string()), "{table:?}");

    // A table registered in a plain session before the new tag key.
    let plain = SessionContext::new();
    plain.register_table("cpu", Arc::new(db.table("cpu").unwrap())).unwrap();
    db.write_rows(&[zoned_row(3).with_tag("rack", "r1")]).unwrap();
    let sorted = run(&plain, "SELECT host, time, usage_user FROM cpu WHERE host = 'z' ORDER BY host, time").await;
    assert_eq!(
        lines(&sorted)[1..],
        ["| z | 2026-01-01T00:02:00Z | 42.0 |", "| z | 2026-01-01T00:03:00Z | 42.0 |"],
        "series with a tag the table does not show are read, in (host, time) order"
    );
    db.close().unwrap();
}

#[tokio::test]
async fn series_equal_on_the_shown_tags_merge_in_time_order() {
    let dir = TempDir::new("rows-merged-series");
    let db = Db::open(dir.path("db"), Config::default()).unwrap();
    db.write_rows(&[Row::new("cpu", T0).with_tag("host", "a").with_field("u", 1.0)]).unwrap();
    let plain = SessionContext::new();
    plain.register_table("cpu", Arc::new(db.table("cpu").unwrap())).unwrap();
    // Two more series of host a, told apart only by a tag the table lacks.
    let rows: Vec<Row> = (1..4)
        .flat_map(|m| {
            [("r1", 10.0), ("r2", 20.0)].map(|(rack, base)| {
                Row::new("cpu", T0 + m * MINUTE)
                    .with_tag("host", "a")
                    .with_tag("rack", rack)
                    .with_field("u", base + m as f64)
            })
        })
        .collect();
    db.write_rows(&rows).unwrap();
    let sql = "SELECT host, time, u FROM cpu ORDER BY host, time";
    let plan = run(&plain, &format!("EXPLAIN {sql}")).await;
    assert!(!plan.contains("SortExec"), "the scan's order is declared:\n{plan}");
    let out = lines(&run(&plain, sql).await);
    let times: Vec<&str> = out[1..].iter().map(|l| l.split(' ').nth(3).unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "rows in time order within host a: {out:?}");
    assert_eq!(out.len(), 1 + 7);
    db.close().unwrap();
}

#[tokio::test]
async fn a_condition_no_row_meets_holds_under_the_top_buckets_cut() {
    in_memory_and_flushed("rows-never", async |db: &Db, when: &str| {
        let ctx = db.session_context();
        let sql = "SELECT date_bin(INTERVAL '1 minute', time) AS m, count(*) AS n FROM cpu WHERE host = '' \
                   GROUP BY m ORDER BY m DESC LIMIT 2";
        let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains("never"), "{plan}");
        assert_eq!(lines(&run(&ctx, sql).await), Vec::<String>::new(), "{when}: no row");
        let all = sql.replace("WHERE host = '' ", "");
        assert_eq!(
            lines(&run(&ctx, &all).await)[1..],
            ["| 2026-01-01T00:03:00Z | 1 |", "| 2026-01-01T00:02:00Z | 1 |"]
        );
    })
    .await;
}

#[tokio::test]
async fn lossy_casts_are_not_pushed_down() {
    in_memory_and_flushed("rows-casts", async |db: &Db, when: &str| {
        let ctx = db.session_context();
        db.write_rows(&[Row::new("temp", T0).with_tag("room", "k").with_field("c", 5.4)]).unwrap();
        // 5.4 as BIGINT is 5: the row meets the condition.
        let sql = "SELECT c FROM temp WHERE CAST(c AS BIGINT) = 5";
        assert_eq!(lines(&run(&ctx, sql).await)[1..], ["| 5.4 |"], "{when}");
        let plan = run(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(plan.contains("field_ranges=[]"), "{plan}");
        // A cast that keeps values is seen through: the tag as plain text.
        let tag = "SELECT c FROM temp WHERE CAST(room AS VARCHAR) = 'k'";
        assert!(run(&ctx, &format!("EXPLAIN {tag}")).await.contains("room Eq \"k\""), "{when}");
        assert_eq!(lines(&run(&ctx, tag).await)[1..], ["| 5.4 |"], "{when}");
    })
    .await;
}
