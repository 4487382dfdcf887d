//! Differential SQL: generated queries over sparse, messy data, answered by
//! Chronicle and by a DataFusion `MemTable` built straight from the written
//! rows (`chronicle::testing::Reference`, never through Chronicle), with the
//! data all in memory, all in the file, overwritten in memory, in two
//! overlapping blocks, and compacted. Every answer must be equal.
//!
//! The data has what users send: fields missing from most rows, series
//! without some tags, points overwritten (some fields only) before and after
//! a flush, late points into flushed partitions, a tag key and a field that
//! appear later. The queries cover projections, `IS [NOT] NULL`, `count(*)`,
//! GROUP BY tags, DISTINCT ON and latest-row aggregates, date_bin buckets
//! (with a TopK), subqueries, joins on time, limits, and filters the scan
//! pushes down exactly, inexactly (value ranges, materialized late) or not
//! at all.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::time::Duration;

use arrow_array::RecordBatch;
use chronicle::testing::Reference;
use chronicle::{Config, Db, Row};
use common::TempDir;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2026-01-01T00:00:00Z, an hour boundary.
const T0: i64 = 1_767_225_600_000_000_000;
const SECOND: i64 = 1_000_000_000;
/// Three hours of points every 30 s.
const STEPS: i64 = 360;
const STEP: i64 = 30 * SECOND;
const FIELDS: [&str; 5] = ["f0", "f1", "f2", "f3", "f4"];
/// Queries per state of the database.
const QUERIES: usize = 120;

/// The `cpu` series: a unique host each, `dc` and `rack` on some.
fn cpu_tags() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![("host", "h0"), ("dc", "x"), ("rack", "1")],
        vec![("host", "h1"), ("dc", "x")],
        vec![("host", "h2"), ("dc", "y"), ("rack", "2")],
        vec![("host", "h3")],
        vec![("host", "h4"), ("rack", "1")],
        vec![("host", "h5"), ("dc", "y")],
    ]
}

/// A value exact in binary, so sums do not depend on their order.
fn value(rng: &mut ChaCha8Rng) -> f64 {
    f64::from(rng.random_range(-200..=200)) * 0.25
}

/// A `cpu` row of series `tags` at `time` with a random non-empty subset of fields.
fn cpu_row(rng: &mut ChaCha8Rng, tags: &[(&str, &str)], time: i64) -> Row {
    let mut row = Row::new("cpu", time);
    for (k, v) in tags {
        row = row.with_tag(*k, *v);
    }
    let mut fields: Vec<&str> = FIELDS.iter().copied().filter(|_| rng.random_bool(0.45)).collect();
    if fields.is_empty() {
        fields.push(FIELDS.choose(rng).unwrap());
    }
    for f in fields {
        row = row.with_field(f, value(rng));
    }
    row
}

/// A `cpu` row of a random series at a random time of the grid, plus `offset`.
fn random_row(rng: &mut ChaCha8Rng, offset: i64) -> Row {
    let series = cpu_tags();
    let tags = series.choose(rng).unwrap();
    let time = T0 + rng.random_range(0..STEPS) * STEP + offset;
    cpu_row(rng, tags, time)
}

/// The first write: three hours of `cpu` (a fifth of the times skipped per
/// series) and `mem`, with some rows written again (other fields, other
/// values) a few batches later.
fn first_write(rng: &mut ChaCha8Rng) -> Vec<Vec<Row>> {
    let series = cpu_tags();
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    for step in 0..STEPS {
        let time = T0 + step * STEP;
        for tags in &series {
            if rng.random_bool(0.8) {
                batch.push(cpu_row(rng, tags, time));
            }
        }
        if step % 2 == 0 {
            for host in ["h0", "h1"] {
                batch.push(
                    Row::new("mem", time)
                        .with_tag("host", host)
                        .with_field("used", value(rng))
                        .with_field("free", value(rng)),
                );
            }
        }
        if step % 20 == 19 {
            // Overwrite a few rows of the last minutes, still in memory.
            let again: Vec<Row> = (0..4)
                .map(|_| {
                    let back = rng.random_range(0..20.min(step + 1));
                    let tags = series.choose(rng).unwrap();
                    cpu_row(rng, tags, time - back * STEP)
                })
                .collect();
            batches.push(std::mem::take(&mut batch));
            batches.push(again);
        }
    }
    batches.push(batch);
    batches
}

/// The second write, after a flush: overwrites of a tenth of the grid,
/// late points between the grid's times, and a series with a new tag key
/// and a new field.
fn second_write(rng: &mut ChaCha8Rng) -> Vec<Vec<Row>> {
    let overwrites: Vec<Row> = (0..STEPS * 6 / 10).map(|_| random_row(rng, 0)).collect();
    let late: Vec<Row> = (0..80).map(|_| random_row(rng, 7 * SECOND)).collect();
    let zoned: Vec<Row> = (0..STEPS)
        .step_by(3)
        .map(|step| cpu_row(rng, &[("host", "h6"), ("zone", "z1")], T0 + step * STEP).with_field("f5", value(rng)))
        .collect();
    vec![overwrites, late, zoned]
}

/// `to_timestamp_nanos(t)`.
fn ts(t: i64) -> String {
    format!("to_timestamp_nanos({t})")
}

/// A condition on `cpu`: one of many shapes, or two of them ANDed.
fn condition(rng: &mut ChaCha8Rng) -> String {
    let f = |rng: &mut ChaCha8Rng| *FIELDS.choose(rng).unwrap();
    let one = |rng: &mut ChaCha8Rng| match rng.random_range(0..16) {
        0 => format!("{} IS NULL", f(rng)),
        1 => format!("{} IS NOT NULL", f(rng)),
        2 => format!("({} IS NOT NULL OR {} IS NOT NULL)", f(rng), f(rng)),
        3 => format!("host = 'h{}'", rng.random_range(0..7)),
        4 => "host IN ('h1', 'h3', 'h6')".to_string(),
        5 => "dc IS NULL".to_string(),
        6 => "dc = 'x'".to_string(),
        7 => "dc != 'x'".to_string(),
        8 => "rack IS NOT NULL".to_string(),
        9 => {
            let a = rng.random_range(0..STEPS);
            let b = rng.random_range(a..=STEPS);
            format!("time >= {} AND time < {}", ts(T0 + a * STEP), ts(T0 + b * STEP))
        }
        10 => format!("{} > {}", f(rng), value(rng)),
        11 => format!("{} <= {}", f(rng), value(rng)),
        12 => format!("CAST({} AS BIGINT) = {}", f(rng), rng.random_range(-10..10)),
        13 => "host = ''".to_string(),
        14 => format!("{} + {} > {}", f(rng), f(rng), value(rng)),
        _ => format!("time > {}", ts(T0 + rng.random_range(0..STEPS) * STEP)),
    };
    match rng.random_range(0..4) {
        0 => String::new(),
        1 => format!(" WHERE {} AND {}", one(rng), one(rng)),
        _ => format!(" WHERE {}", one(rng)),
    }
}

/// A query drawn from the shapes in the module docs.
fn query(rng: &mut ChaCha8Rng) -> String {
    let w = condition(rng);
    let f = *FIELDS.choose(rng).unwrap();
    let g = *FIELDS.choose(rng).unwrap();
    match rng.random_range(0..15) {
        0 => {
            let columns = ["time", "host", "dc", "rack", "f0", "f1", "f2", "f3", "f4"];
            let mut picked: Vec<&str> = columns.iter().copied().filter(|_| rng.random_bool(0.4)).collect();
            if picked.is_empty() {
                picked.push("*");
            }
            format!("SELECT {} FROM cpu{w}", picked.join(", "))
        }
        1 => format!("SELECT count(*) FROM cpu{w}"),
        2 => format!("SELECT count(*), count({f}), sum({f}), min({f}), max({g}), avg({g}) FROM cpu{w}"),
        3 => {
            let tag = ["host", "dc", "rack"].choose(rng).unwrap();
            format!("SELECT {tag}, count(*), max({f}), count({g}), sum({g}) FROM cpu{w} GROUP BY {tag}")
        }
        4 => format!("SELECT DISTINCT ON (host) host, time, {f} FROM cpu{w} ORDER BY host, time DESC"),
        5 => format!("SELECT host, max(time), first_value({f} ORDER BY time DESC) FROM cpu{w} GROUP BY host"),
        6 => {
            let minutes = [1, 5, 17, 60].choose(rng).unwrap();
            let by_host = rng.random_bool(0.5);
            let host = if by_host { ", host" } else { "" };
            format!(
                "SELECT date_bin(INTERVAL '{minutes} minutes', time) AS b{host}, count(*), count({f}), sum({f}), \
                 min({g}), max({g}) FROM cpu{w} GROUP BY b{host}"
            )
        }
        7 => {
            let (order, k) = (["ASC", "DESC"].choose(rng).unwrap(), rng.random_range(1..8));
            format!(
                "SELECT date_bin(INTERVAL '10 minutes', time) AS b, count(*), max({f}) FROM cpu{w} GROUP BY b \
                 ORDER BY b {order} LIMIT {k}"
            )
        }
        8 => {
            format!("SELECT count(*), sum(x), count(host) FROM (SELECT {f} AS x, host FROM cpu{w}) WHERE x IS NOT NULL")
        }
        9 => format!("SELECT host, time, {f} FROM cpu WHERE host IN (SELECT host FROM cpu{w}) AND {g} > 10"),
        // Value filters: their fields decoded first, the others where rows pass.
        12 => format!("SELECT * FROM cpu WHERE {f} > {}", value(rng)),
        13 => format!("SELECT time, host, {g} FROM cpu WHERE {f} >= {} AND {g} < {}", value(rng), value(rng)),
        14 => format!("SELECT host, time, {g} FROM cpu WHERE {f} <= {} AND {g} IS NOT NULL", value(rng)),
        10 => {
            if rng.random_bool(0.5) {
                format!(
                    "SELECT a.time, a.{f}, b.{g} FROM cpu a JOIN cpu b ON a.time = b.time \
                     WHERE a.host = 'h0' AND b.host = 'h2'"
                )
            } else {
                format!(
                    "SELECT c.time, c.host, c.{f}, m.used FROM cpu c JOIN mem m ON c.time = m.time AND c.host = m.host"
                )
            }
        }
        _ => format!("SELECT time, host, {f} FROM cpu{w} ORDER BY time, host LIMIT {}", rng.random_range(1..40)),
    }
}

/// The rows of `batches` as text lines, sorted, under their column names.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut lines = Vec::new();
    for b in batches {
        let formatters: Vec<ArrayFormatter> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for r in 0..b.num_rows() {
            lines.push(formatters.iter().map(|f| f.value(r).to_string()).collect::<Vec<_>>().join(" | "));
        }
    }
    lines.sort();
    lines
}

/// The answer of `sql` in `ctx`: column names and sorted rows, or the error.
async fn answer(ctx: &SessionContext, sql: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let frame = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    let names = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    Ok((names, rows(&batches)))
}

/// A plain DataFusion session over the reference tables.
fn reference_session(reference: &Reference) -> SessionContext {
    let ctx = SessionContext::new();
    chronicle_udfs::register_all(&ctx);
    for m in ["cpu", "mem"] {
        ctx.register_table(m, std::sync::Arc::new(reference.mem_table(m))).unwrap();
    }
    ctx
}

/// Runs `QUERIES` generated queries on both and asserts equal answers.
async fn compare(db: &Db, reference: &Reference, state: &str, rng: &mut ChaCha8Rng) {
    let chronicle = db.session_context();
    let oracle = reference_session(reference);
    let everything = answer(&oracle, "SELECT count(*) FROM cpu").await.unwrap();
    assert_eq!(everything.1, [reference.rows("cpu").to_string()], "the reference holds every row");
    for _ in 0..QUERIES {
        let sql = query(rng);
        let theirs = answer(&oracle, &sql).await;
        let ours = answer(&chronicle, &sql).await;
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => {
                assert_eq!(ours.0, theirs.0, "{state}: column names of\n{sql}");
                if ours.1 != theirs.1 {
                    let plan = answer(&chronicle, &format!("EXPLAIN {sql}")).await.map(|p| p.1.join("\n"));
                    panic!(
                        "{state}: answers differ for\n{sql}\nChronicle ({} rows): {:?}\nreference ({} rows): {:?}\n{}",
                        ours.1.len(),
                        &ours.1[..ours.1.len().min(12)],
                        theirs.1.len(),
                        &theirs.1[..theirs.1.len().min(12)],
                        plan.unwrap_or_default()
                    );
                }
            }
            (Err(_), Err(_)) => {}
            _ => panic!("{state}: one side failed for\n{sql}\nChronicle: {ours:?}\nreference: {theirs:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_queries_answer_as_the_reference_does_in_every_state() {
    let dir = TempDir::new("sql-differential");
    // A long late window keeps every partition in memory until flushed.
    let config = Config::default().with_late_window(Duration::from_secs(86_400));
    let db = Db::open(dir.path("db"), config).unwrap();
    let mut data = ChaCha8Rng::seed_from_u64(20_261_206);
    let mut queries = ChaCha8Rng::seed_from_u64(7);
    let mut reference = Reference::new();
    for batch in first_write(&mut data) {
        db.write_rows(&batch).unwrap();
        reference.write(&batch);
    }
    assert_eq!(db.partitions().unwrap().iter().map(|p| p.blocks).sum::<usize>(), 0, "all in memory");
    compare(&db, &reference, "in memory", &mut queries).await;
    db.flush().unwrap();
    compare(&db, &reference, "flushed", &mut queries).await;
    for batch in second_write(&mut data) {
        db.write_rows(&batch).unwrap();
        reference.write(&batch);
    }
    compare(&db, &reference, "overwritten in memory", &mut queries).await;
    db.flush().unwrap();
    assert!(db.partitions().unwrap().iter().all(|p| p.blocks == 2), "two blocks per partition");
    compare(&db, &reference, "two blocks", &mut queries).await;
    db.compact().unwrap();
    compare(&db, &reference, "compacted", &mut queries).await;
    db.close().unwrap();
}
