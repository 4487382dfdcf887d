//! The dialect answering `GROUP BY time` queries from a rollup: the same
//! results as from the raw data, both checked against an oracle computed
//! here from the raw points (1e-9 relative); `EXPLAIN` naming the table
//! read; queries a rollup cannot answer exactly staying on raw; and the
//! session setting `chronicle.rollup` forcing either.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use chronicle::query::dialect::{self, DialectPlanner};
use chronicle::{Config, Db, RollupRule, SyncPolicy};
use common::TempDir;
use common::rollup_data::{HOUR, MINUTE, RawPoint, Tags, close, generate, latest, rows};

/// A database with 3 hours of `cpu`, rolled into `cpu_5m` up to 4 h.
fn rolled(name: &str) -> (TempDir, Db, Vec<RawPoint>) {
    let dir = TempDir::new(name);
    let config = Config::default().with_sync(SyncPolicy::None).with_rollup(RollupRule::new(
        "cpu",
        Duration::from_secs(300),
        "cpu_5m",
    ));
    let db = Db::open(dir.path("db"), config).unwrap();
    let points = generate(11, 0, 3 * HOUR);
    db.write_rows(&rows(&points)).unwrap();
    let closing =
        RawPoint { tags: vec![("host".into(), "z".into())], field: "usage", time: 4 * HOUR + 10 * MINUTE, value: 1.0 };
    db.write_rows(&rows(&[closing])).unwrap();
    db.flush().unwrap();
    assert_eq!(db.rollup_status("cpu_5m").unwrap().unwrap().rolled_to, 4 * HOUR);
    (dir, db, points)
}

/// Runs dialect query `q` in a session with `chronicle.rollup = mode`.
async fn run(db: &Db, mode: &str, q: &str) -> chronicle::Result<Vec<RecordBatch>> {
    let ctx = db.session_context();
    ctx.sql(&format!("SET chronicle.rollup = '{mode}'")).await?.collect().await?;
    let select = dialect::parse(q)?;
    let plan = DialectPlanner::new(db, &ctx, q, 0).plan(&select).await?.expect("cpu exists");
    Ok(ctx.execute_logical_plan(plan).await?.collect().await?)
}

/// Result rows: (group tags, time) -> the value columns (count as f64).
type Answer = BTreeMap<(Vec<String>, i64), Vec<Option<f64>>>;
/// Per (group tags, bucket): mean, count, sum, min, max, last.
type Oracle = BTreeMap<(Vec<String>, i64), [f64; 6]>;

fn answer(batches: &[RecordBatch]) -> Answer {
    let mut out = Answer::new();
    for b in batches {
        let times = b.column(0).as_primitive::<TimestampNanosecondType>();
        for r in 0..b.num_rows() {
            let mut tags = Vec::new();
            let mut values = Vec::new();
            for c in b.columns().iter().skip(1) {
                match c.data_type() {
                    DataType::Utf8 => {
                        tags.push(if c.is_null(r) { "-".into() } else { c.as_string::<i32>().value(r).into() })
                    }
                    DataType::Int64 => {
                        values.push((!c.is_null(r)).then(|| c.as_primitive::<Int64Type>().value(r) as f64))
                    }
                    _ => values.push((!c.is_null(r)).then(|| c.as_primitive::<Float64Type>().value(r))),
                }
            }
            assert!(out.insert((tags, times.value(r)), values).is_none(), "a row twice");
        }
    }
    out
}

fn assert_answers_eq(actual: &Answer, expected: &Answer, what: &str) {
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{what}: rows");
    for (key, want) in expected {
        let got = &actual[key];
        assert_eq!(got.len(), want.len(), "{what}: columns");
        for (g, w) in got.iter().zip(want) {
            match (g, w) {
                (Some(g), Some(w)) => assert!(close(*g, *w), "{what}: {key:?} got {g} expected {w}"),
                _ => assert_eq!(g, w, "{what}: {key:?}"),
            }
        }
    }
}

/// The oracle: `usage` of the points with `keep`, grouped by `group` and
/// buckets of `every`, as mean, count, sum, min, max, last.
fn oracle(
    points: &[RawPoint],
    every: i64,
    range: (i64, i64),
    keep: impl Fn(&Tags) -> bool,
    group: impl Fn(&Tags) -> Vec<String>,
) -> Oracle {
    let mut buckets: BTreeMap<_, Vec<(i64, f64)>> = BTreeMap::new();
    for ((tags, field, time), value) in latest(points) {
        if field == "usage" && time >= range.0 && time < range.1 && keep(&tags) {
            buckets.entry((group(&tags), time - time.rem_euclid(every))).or_default().push((time, value));
        }
    }
    buckets
        .into_iter()
        .map(|(key, mut values)| {
            values.sort_by_key(|v| v.0);
            let sum: f64 = values.iter().map(|v| v.1).sum();
            let n = values.len() as f64;
            let min = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
            let max = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
            (key, [sum / n, n, sum, min, max, values.last().unwrap().1])
        })
        .collect()
}

/// The oracle's columns `pick` (indexes into mean, count, sum, min, max, last).
fn columns(o: &Oracle, pick: &[usize]) -> Answer {
    o.iter().map(|(k, v)| (k.clone(), pick.iter().map(|&i| Some(v[i])).collect())).collect()
}

fn tag(tags: &Tags, key: &str) -> String {
    tags.iter().find(|(k, _)| k == key).map_or("-".into(), |(_, v)| v.clone())
}

async fn explain(db: &Db, mode: &str, q: &str) -> String {
    let batches = run(db, mode, &format!("EXPLAIN {q}")).await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn rollup_and_raw_answer_alike_and_match_the_oracle() {
    let (_dir, db, points) = rolled("rollup-dialect-exact");
    let all = |_: &Tags| true;
    let cases: Vec<(&str, Answer)> = vec![
        (
            "SELECT mean(usage), count(usage), sum(usage), min(usage), max(usage) FROM cpu \
             WHERE time >= 0 AND time < 3h GROUP BY time(1h), host fill(none)",
            columns(&oracle(&points, HOUR, (0, 3 * HOUR), all, |t| vec![tag(t, "host")]), &[0, 1, 2, 3, 4]),
        ),
        (
            "SELECT mean(usage) FROM cpu WHERE host = 'a' AND time >= 1h AND time < 3h GROUP BY time(30m) fill(none)",
            columns(&oracle(&points, 30 * MINUTE, (HOUR, 3 * HOUR), |t| tag(t, "host") == "a", |_| vec![]), &[0]),
        ),
        (
            "SELECT count(usage), max(usage) FROM cpu WHERE (region =~ /u/ OR region = 'eu') AND time >= 0 AND time < 2h \
             GROUP BY time(10m) fill(none)",
            columns(&oracle(&points, 10 * MINUTE, (0, 2 * HOUR), |t| tag(t, "region") != "-", |_| vec![]), &[1, 4]),
        ),
        (
            "SELECT last(usage), min(usage) FROM cpu WHERE time >= 0 AND time < 3h GROUP BY time(15m), * fill(none)",
            columns(
                &oracle(&points, 15 * MINUTE, (0, 3 * HOUR), all, |t| vec![tag(t, "host"), tag(t, "region")]),
                &[5, 3],
            ),
        ),
    ];
    for (q, expected) in cases {
        assert!(explain(&db, "auto", q).await.contains("TableScan: cpu_5m"), "{q} reads the rollup");
        assert!(!explain(&db, "off", q).await.contains("cpu_5m"), "{q} reads raw data when told to");
        for mode in ["auto", "off", "on"] {
            let got = answer(&run(&db, mode, q).await.unwrap());
            assert_answers_eq(&got, &expected, &format!("{mode}: {q}"));
        }
    }
    db.close().unwrap();
}

#[tokio::test]
async fn queries_a_rollup_cannot_answer_exactly_stay_on_raw() {
    let (_dir, db, _) = rolled("rollup-dialect-raw");
    let refused = [
        ("SELECT median(usage) FROM cpu WHERE time >= 0 AND time < 3h GROUP BY time(1h)", "median is not derivable"),
        (
            "SELECT mean(usage) FROM cpu WHERE usage > 10 AND time >= 0 AND time < 3h GROUP BY time(1h)",
            "WHERE reads field usage",
        ),
        ("SELECT mean(usage) FROM cpu WHERE time >= 0 AND time < 3h GROUP BY time(7m)", "whole windows"),
        ("SELECT mean(usage) FROM cpu WHERE time >= 0 AND time < 3h GROUP BY time(1h, 1m)", "whole windows"),
        ("SELECT mean(usage) FROM cpu WHERE time >= 1m AND time < 3h GROUP BY time(1h)", "window boundaries"),
        ("SELECT last(usage) FROM cpu WHERE time >= 0 AND time < 3h GROUP BY time(1h), host", "per series"),
        ("SELECT mean(usage) FROM cpu WHERE time >= 0 AND time < 3h", "no GROUP BY time"),
    ];
    for (q, why) in refused {
        let plan = explain(&db, "auto", q).await;
        assert!(plan.contains("TableScan: cpu ") && !plan.contains("cpu_5m"), "{q}: {plan}");
        let auto = answer(&run(&db, "auto", q).await.unwrap());
        assert_eq!(auto, answer(&run(&db, "off", q).await.unwrap()), "{q}");
        let forced = run(&db, "on", q).await.unwrap_err().to_string();
        assert!(forced.contains(why), "{q}: {forced}");
    }
    // Answerable, but not covered by what is rolled: raw under auto, the rollup when forced.
    for q in [
        "SELECT mean(usage) FROM cpu WHERE time >= 0 AND time < 5h GROUP BY time(1h)",
        "SELECT mean(usage) FROM cpu WHERE time >= 0 GROUP BY time(1h)",
    ] {
        assert!(!explain(&db, "auto", q).await.contains("cpu_5m"), "{q}");
        assert!(explain(&db, "on", q).await.contains("TableScan: cpu_5m"), "{q}");
    }
    db.close().unwrap();
}

#[tokio::test]
async fn the_setting_is_checked_and_the_rollup_is_plain_sql() {
    let (_dir, db, points) = rolled("rollup-dialect-setting");
    let ctx = db.session_context();
    let bad = ctx.sql("SET chronicle.rollup = 'sometimes'").await.map(|_| ()).unwrap_err();
    assert!(bad.to_string().contains("'auto', 'off' or 'on'"), "{bad}");
    let shown = ctx.sql("SELECT count(*) FROM cpu_5m").await.unwrap().collect().await.unwrap();
    let windows: std::collections::BTreeSet<(Tags, i64)> =
        latest(&points).into_keys().map(|(tags, _, t)| (tags, t - t.rem_euclid(5 * MINUTE))).collect();
    assert_eq!(shown[0].column(0).as_primitive::<Int64Type>().value(0), windows.len() as i64);
    db.close().unwrap();
}
