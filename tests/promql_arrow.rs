//! PromQL answers as Arrow rows: the embedded API (`Db::query_promql`,
//! `Db::query_promql_instant`), the plan `Db::explain_promql` shows, and the
//! SQL table function `promql(expr, start, end, step)` joined with a
//! measurement table. Expected values are computed here from the formula
//! the data was written with, not by Chronicle.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use chronicle::{Config, Db, Row};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use futures::StreamExt;

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;

fn temp_db(name: &str) -> (std::path::PathBuf, Db) {
    let dir = std::env::temp_dir().join(format!("chronicle-promql-arrow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("db"), Config::default()).expect("opens");
    (dir, db)
}

/// The base of each host's `usage_user`.
fn base(host: &str) -> f64 {
    match host {
        "a" => 10.0,
        "b" => 20.0,
        _ => 30.0,
    }
}

/// `usage_user` of `host` at minute `m`.
fn user(host: &str, m: i64) -> f64 {
    base(host) + m as f64
}

/// cpu: hosts a and b in dc x, host c without dc; a point a minute for ten
/// minutes: `usage_user` = base + minute, `usage_idle` = 100 - usage_user.
fn load(db: &Db) {
    let mut rows = Vec::new();
    for m in 0..10i64 {
        for (host, dc) in [("a", Some("x")), ("b", Some("x")), ("c", None)] {
            let mut row = Row::new("cpu", (T0 + m * MINUTE) * 1_000_000).with_tag("host", host);
            if let Some(dc) = dc {
                row = row.with_tag("dc", dc);
            }
            rows.push(row.with_field("usage_user", user(host, m)).with_field("usage_idle", 100.0 - user(host, m)));
        }
    }
    db.write_rows(&rows).expect("writes");
    db.flush().expect("flushes");
}

fn names(batches: &[RecordBatch]) -> Vec<String> {
    batches[0].schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// The times of the rows, in milliseconds.
fn times_ms(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name("time").unwrap().as_primitive::<TimestampNanosecondType>();
            column.values().iter().map(|ns| ns / 1_000_000).collect::<Vec<_>>()
        })
        .collect()
}

fn values(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    batches
        .iter()
        .flat_map(|b| b.column_by_name(name).unwrap().as_primitive::<Float64Type>().values().to_vec())
        .collect()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let column = as_utf8(b.column_by_name(name).unwrap());
            (0..column.len()).map(|i| column.is_valid(i).then(|| column.value(i).to_owned())).collect::<Vec<_>>()
        })
        .collect()
}

/// A string column as plain Utf8, whatever string type SQL gave it.
fn as_utf8(column: &arrow_array::ArrayRef) -> arrow_array::StringArray {
    let cast = datafusion::arrow::compute::cast(column, &DataType::Utf8).unwrap();
    cast.as_string::<i32>().clone()
}

fn some(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn range_rows_have_a_column_per_label_and_values_from_the_data() {
    let (dir, db) = temp_db("range");
    load(&db);
    let out = db.query_promql("cpu_usage_user", T0 + 2 * MINUTE, T0 + 4 * MINUTE, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "__name__", "dc", "host", "value"]);
    let schema = out[0].schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())));
    assert!(schema.field(2).is_nullable(), "a series can lack a label");
    // Series sorted by labels (a, b in dc x, then c without dc), each in
    // time order; each step sees the point written at its own minute.
    let mut expected_times = Vec::new();
    let mut expected_values = Vec::new();
    let mut expected_hosts = Vec::new();
    let mut expected_dcs = Vec::new();
    for host in ["a", "b", "c"] {
        for m in 2..=4 {
            expected_times.push(T0 + m * MINUTE);
            expected_values.push(user(host, m));
            expected_hosts.push(some(host));
            expected_dcs.push(if host == "c" { None } else { some("x") });
        }
    }
    assert_eq!(times_ms(&out), expected_times);
    assert_eq!(values(&out, "value"), expected_values);
    assert_eq!(strings(&out, "host"), expected_hosts);
    assert_eq!(strings(&out, "dc"), expected_dcs);
    assert_eq!(strings(&out, "__name__"), vec![some("cpu_usage_user"); 9]);

    // `by (dc)`: only dc is a column; host c's group has no dc (null) and
    // sorts first (no labels before dc="x").
    let out = db.query_promql("sum by (dc) (cpu_usage_user)", T0 + 2 * MINUTE, T0 + 4 * MINUTE, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "dc", "value"]);
    assert_eq!(strings(&out, "dc"), [None, None, None, some("x"), some("x"), some("x")]);
    let sums: Vec<f64> = (2..=4).map(|m| user("c", m)).chain((2..=4).map(|m| user("a", m) + user("b", m))).collect();
    assert_eq!(values(&out, "value"), sums);

    // An arithmetic operator drops the metric name: no `__name__` column.
    let out = db.query_promql("cpu_usage_idle{host=\"b\"} * 2", T0, T0 + MINUTE, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "dc", "host", "value"]);
    assert_eq!(values(&out, "value"), [(100.0 - user("b", 0)) * 2.0, (100.0 - user("b", 1)) * 2.0]);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn labels_added_by_functions_become_columns_and_scalars_have_none() {
    let (dir, db) = temp_db("labels");
    load(&db);
    let q = r#"label_replace(cpu_usage_idle{host="a"}, "machine", "m-$1", "host", "(.*)")"#;
    let out = db.query_promql(q, T0 + 3 * MINUTE, T0 + 4 * MINUTE, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "__name__", "dc", "host", "machine", "value"]);
    assert_eq!(strings(&out, "machine"), [some("m-a"), some("m-a")]);
    assert_eq!(values(&out, "value"), [100.0 - user("a", 3), 100.0 - user("a", 4)]);

    let out = db.query_promql(r#"count_values("v", cpu_usage_user{host="b"})"#, T0, T0, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "v", "value"]);
    assert_eq!((strings(&out, "v"), values(&out, "value")), (vec![some("20")], vec![1.0]));

    // A scalar is one series without labels, a row per step.
    let out = db.query_promql("2 * 3", T0, T0 + 2 * MINUTE, MINUTE).unwrap();
    assert_eq!(names(&out), ["time", "value"]);
    assert_eq!((times_ms(&out), values(&out, "value")), (vec![T0, T0 + MINUTE, T0 + 2 * MINUTE], vec![6.0; 3]));

    // A label named like a fixed column is refused when planning.
    let clash = r#"label_replace(cpu_usage_idle, "time", "$1", "host", "(.*)")"#;
    let e = db.query_promql(clash, T0, T0, MINUTE).unwrap_err().to_string();
    assert!(e.contains("\"time\"") && e.contains("clashes"), "{e}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn instant_rows_are_the_values_at_one_time() {
    let (dir, db) = temp_db("instant");
    load(&db);
    let out = db.query_promql_instant(r#"cpu_usage_idle{host="b"} offset 1m"#, T0 + 5 * MINUTE).unwrap();
    assert_eq!(times_ms(&out), [T0 + 5 * MINUTE]);
    assert_eq!(values(&out, "value"), [100.0 - user("b", 4)]);
    // A range selector at one time gives its raw points.
    let out = db.query_promql_instant(r#"cpu_usage_user{host="c"}[2m]"#, T0 + 5 * MINUTE).unwrap();
    assert_eq!(times_ms(&out), [T0 + 4 * MINUTE, T0 + 5 * MINUTE]);
    assert_eq!(values(&out, "value"), [user("c", 4), user("c", 5)]);
    // Nothing selected: no rows, the columns still those of the plan.
    let out = db.query_promql_instant(r#"cpu_usage_user{host="zz"}"#, T0).unwrap();
    assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_queries_are_refused_before_anything_runs() {
    let (dir, db) = temp_db("bad");
    load(&db);
    let refused =
        |q: &str, start: i64, end: i64, step: i64| db.query_promql(q, start, end, step).unwrap_err().to_string();
    let e = refused("sum(", T0, T0, MINUTE);
    assert!(e.contains("unclosed left parenthesis"), "{e}");
    let e = refused("cpu_usage_user", T0, T0, 0);
    assert!(e.contains("zero or negative query resolution step"), "{e}");
    let e = refused("cpu_usage_user", T0 + MINUTE, T0, MINUTE);
    assert!(e.contains("end timestamp must not be before start time"), "{e}");
    // Type errors and answers without rows are refused when planning:
    // explain refuses them too.
    let e = db.explain_promql("abs(cpu_usage_user[5m])", T0, T0, MINUTE).unwrap_err().to_string();
    assert!(e.contains("expected type vector in call to function 'abs', got matrix"), "{e}");
    let e = db.explain_promql(r#""just text""#, T0, T0, MINUTE).unwrap_err().to_string();
    assert!(e.contains("a string has no rows"), "{e}");
    let e = refused("cpu_usage_user[5m]", T0, T0 + MINUTE, MINUTE);
    assert!(e.contains(r#"invalid expression type "range vector" for range query"#), "{e}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_shows_every_node_with_its_parameters() {
    let (dir, db) = temp_db("explain");
    load(&db);
    let q = r#"sum by (host) (rate(cpu_usage_user{host=~"a|b"}[5m] offset 1m)) > bool 0.5"#;
    let text = db.explain_promql(q, T0 + 6 * MINUTE, T0 + 8 * MINUTE, MINUTE).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let steps = format!("steps=[{}, {}] every 60000", T0 + 6 * MINUTE, T0 + 8 * MINUTE);
    let find = |needle: &str| {
        lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in\n{text}"))
    };
    let indent = |i: usize| lines[i].len() - lines[i].trim_start().len();
    let rows = find("PromRows: labels=[host]");
    let binary = find("PromBinary: op=> bool");
    let aggregate = find("PromAggregate: op=sum, by=(host)");
    let rate = find("PromRangeFunction: prom_rate");
    let scan = find("PromSeriesScan: selector=cpu_usage_user{host=~\"a|b\"}");
    let literal = find("PromLiteral: number=0.5");
    assert!(rows < binary && binary < aggregate && aggregate < rate && rate < scan, "{text}");
    assert!(indent(rows) < indent(binary) && indent(aggregate) < indent(rate) && indent(rate) < indent(scan));
    assert_eq!(indent(literal), indent(aggregate), "both operands sit under the binary operator:\n{text}");
    for line in [binary, aggregate, rate] {
        assert!(lines[line].contains(&steps), "{}", lines[line]);
    }
    assert!(lines[rate].contains("range=300000, offset=60000"), "{}", lines[rate]);
    assert!(lines[aggregate].contains("udaf=prom_sum"), "the aggregate it runs on: {}", lines[aggregate]);
    // The window the scan reads: the first step's 5m window moved back by
    // the offset, to the last step moved back by it.
    let window = format!("window=({}, {}] ms", T0 + 6 * MINUTE - MINUTE - 5 * MINUTE, T0 + 8 * MINUTE - MINUTE);
    for part in ["tables=[cpu.usage_user]", "host=~\"a|b\"", window.as_str()] {
        assert!(lines[scan].contains(part), "no {part:?} in {}", lines[scan]);
    }
    // An instant selector has its own node with the lookback and `@`.
    let text = db.explain_promql("cpu_usage_idle @ 100", T0, T0, MINUTE).unwrap();
    let instant = format!("PromInstant: steps=[{T0}, {T0}] every 60000, lookback=300000, offset=0, @=100000");
    assert!(text.contains(&instant), "{text}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn sql(db: &Db, query: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    let frame = db.session_context().sql(query).await?;
    let mut stream = frame.execute_stream().await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        out.push(batch?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_function_joins_with_a_measurement() {
    let (dir, db) = temp_db("sql-join");
    load(&db);
    // usage_user from PromQL beside usage_idle from the table: they add up
    // to 100 on every row the join keeps.
    let q = "SELECT p.host, p.dc, p.value, c.usage_idle \
             FROM promql('cpu_usage_user', '2026-01-01T00:02:00Z', '2026-01-01T00:04:00Z', '1m') p \
             JOIN cpu c ON c.host = p.host AND c.time = p.time \
             ORDER BY p.host, p.time";
    let out = sql(&db, q).await.unwrap();
    let hosts: Vec<Option<String>> = ["a", "b", "c"].iter().flat_map(|h| [some(h), some(h), some(h)]).collect();
    assert_eq!(strings(&out, "host"), hosts);
    assert_eq!(strings(&out, "dc")[6..], [None, None, None]);
    let expected: Vec<f64> = ["a", "b", "c"].iter().flat_map(|h| (2..=4).map(|m| user(h, m))).collect();
    assert_eq!(values(&out, "value"), expected);
    assert!(values(&out, "usage_idle").iter().zip(&expected).all(|(idle, user)| idle + user == 100.0));

    // Numbers of seconds and timestamps for start/end, seconds for step;
    // SQL aggregates over the rows.
    let start = (T0 + 2 * MINUTE) / 1000;
    let q = format!(
        "SELECT sum(value) AS total FROM promql('sum(cpu_usage_user)', {start}, to_timestamp('2026-01-01T00:03:00Z'), 60)"
    );
    let out = sql(&db, &q).await.unwrap();
    let total: f64 = ["a", "b", "c"].iter().flat_map(|h| (2..=3).map(|m| user(h, m))).sum();
    assert_eq!(values(&out, "total"), [total]);

    // EXPLAIN through SQL shows the PromQL execs under DataFusion's.
    let out = sql(&db, &format!("EXPLAIN {q}")).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&out).unwrap().to_string();
    assert!(text.contains("PromAggregateExec: op=sum"), "{text}");
    assert!(text.contains("PromSeriesScanExec: selector=cpu_usage_user"), "{text}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_table_function_arguments_are_named() {
    let (dir, db) = temp_db("sql-bad");
    load(&db);
    let cases = [
        ("promql('up', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z')", "takes 4 arguments, got 3"),
        ("promql(1, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '1m')", "argument expr"),
        ("promql('up', 'yesterday', '2026-01-01T00:01:00Z', '1m')", "argument start"),
        ("promql('up', '2026-01-01T00:00:00Z', 'noon', '1m')", "argument end"),
        ("promql('up', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'fast')", "argument step"),
        ("promql('up', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 0)", "zero or negative"),
        ("promql('up', '2026-01-01T00:01:00Z', '2026-01-01T00:00:00Z', '1m')", "end timestamp must not be before"),
        ("promql('sum(', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '1m')", "promql(): "),
        ("promql('cpu_usage_user[1m]', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '1m')", "range query"),
    ];
    for (call, needle) in cases {
        let e = match sql(&db, &format!("SELECT * FROM {call}")).await {
            Ok(_) => panic!("{call} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(needle), "{call}: {e}");
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_longest_accepted_operator_chains_run() {
    let (dir, db) = temp_db("chains");
    load(&db);
    // Just under the guard's bound on operators (50 per level of its
    // 200 levels): the plan is as deep as the chain is long.
    let scalars = format!("1{}", " + 1".repeat(9_990));
    let out = db.query_promql(&scalars, T0, T0, MINUTE).unwrap();
    assert_eq!(values(&out, "value"), [9_991.0]);
    let vectors = format!("cpu_usage_user{{host=\"a\"}}{}", " + 1".repeat(9_990));
    let out = db.query_promql_instant(&vectors, T0).unwrap();
    assert_eq!(values(&out, "value"), [user("a", 0) + 9_990.0]);
    let answer =
        db.promql_range(&vectors, T0, T0 + MINUTE, MINUTE, &chronicle::promql::PromOptions::default()).unwrap();
    assert!(format!("{:?}", answer.value).contains(&format!("{}", user("a", 1) + 9_990.0)), "{:?}", answer.value);
    let text = db.explain_promql(&scalars, T0, T0, MINUTE).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains("PromBinary")).count(), 9_990);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_function_runs_chains_up_to_its_depth_and_refuses_deeper_ones() {
    let (dir, db) = temp_db("sql-chains");
    load(&db);
    // PromRows, 61 additions, the selector's PromInstant and its scan: 64
    // levels.
    let chain = |n: usize| format!("cpu_usage_user{{host=\"a\"}}{}", " + 1".repeat(n));
    let call = |n: usize| format!("SELECT value FROM promql('{}', 1767225600, 1767225600, 60)", chain(n));
    let out = sql(&db, &call(61)).await.unwrap();
    assert_eq!(values(&out, "value"), [user("a", 0) + 61.0]);
    let e = sql(&db, &call(62)).await.unwrap_err().to_string();
    assert!(e.contains("nests 65 operators deep; in SQL at most 64"), "{e}");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
