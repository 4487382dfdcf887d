//! TSBS query report: the fourteen TSBS devops query types in SQL over
//! TSBS cpu-only (100 hosts, 1 day at 10 s: 864,000 rows of 10 fields),
//! answered by Chronicle (`Db::session_context`, reading the flushed file)
//! and by a DataFusion `MemTable` holding the same rows already decoded.
//!
//! Run: `cargo bench --bench tsbs_queries`. Prints TSV under the header
//! `query chronicle_ms memtable_ms ratio`: the median wall time of each
//! query type (planning and execution to the last batch) over 20
//! runs per engine, after one untimed warm-up, and chronicle / memtable.
//!
//! Each iteration draws new parameters as TSBS's generator does (random
//! distinct hosts, a random window start inside the day, timestamps given to
//! the microsecond), from a seed per query type, so both engines answer the
//! same sequence of statements. The SQL follows TSBS's TimescaleDB shapes
//! (host filters as `hostname = 'a' OR hostname = 'b'`, `DISTINCT ON` for
//! lastpoint) with `date_bin` in place of `time_bucket`. Every answer is
//! checked against the MemTable's (row count and every value; rows sorted
//! first where the query leaves the order open): a mismatch aborts the run.
//!
//! The MemTable holds the generator's rows as `chronicle::testing::Reference`
//! lays them out (the same schema, built from the rows written, never read
//! back through Chronicle), in ingest order (time, hostname), cut into
//! batches of the session's batch size over as many partitions as the
//! session's target partitions.
//!
//! For profiling, environment variables narrow or explain a run:
//! `TSBS_QUERIES=lastpoint,high-cpu-all` runs only those query types,
//! `TSBS_ENGINES=chronicle` (or `memtable`) times only that engine (answers
//! are then not checked), `TSBS_EXPLAIN=1` prints `EXPLAIN ANALYZE` of the
//! first statement of each query type on each engine to stderr,
//! `TSBS_ITERATIONS=200` runs each query type longer (under `perf record`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::testing::{CPU_FIELDS, HOUR_NS, Reference, START_NS, TsbsCpu, cpu_row_batches};
use chronicle::{Config, Db};
use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::{SortColumn, cast, concat_batches, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::temporal_conversions::timestamp_ns_to_datetime;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HOSTS: usize = 100;
const STEPS: usize = 8_640;
const BATCH_ROWS: usize = 1_000;
const SEED: u64 = 42;
/// Timed runs per query type and engine, each with new parameters
/// (`TSBS_ITERATIONS` overrides it, for profiling).
const ITERATIONS: usize = 20;
const DAY_NS: i64 = 24 * HOUR_NS;
/// Window lengths of TSBS's devops use case (`uses/devops/common.go`).
const DOUBLE_GROUPBY_HOURS: i64 = 12;
const HIGH_CPU_HOURS: i64 = 12;
const MAX_ALL_HOURS: i64 = 8;

/// The shape of a TSBS devops query type.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Max of `metrics` fields for `hosts` random hosts over `hours`, by minute.
    SingleGroupby { metrics: usize, hours: i64, hosts: usize },
    /// Max of every field for `hosts` random hosts over 8 h, by hour.
    MaxAll { hosts: usize },
    /// Mean of `metrics` fields of every host over 12 h, by host and hour.
    DoubleGroupby { metrics: usize },
    /// Rows with `usage_user > 90` over 12 h, for `hosts` random hosts (0: all).
    HighCpu { hosts: usize },
    /// The latest row of every host.
    Lastpoint,
    /// Max `usage_user` by minute before a random time, the last five minutes.
    GroupbyOrderbyLimit,
}

const QUERIES: [(&str, Shape); 14] = [
    ("single-groupby-1-1-1", Shape::SingleGroupby { metrics: 1, hours: 1, hosts: 1 }),
    ("single-groupby-1-1-12", Shape::SingleGroupby { metrics: 1, hours: 12, hosts: 1 }),
    ("single-groupby-1-8-1", Shape::SingleGroupby { metrics: 1, hours: 1, hosts: 8 }),
    ("single-groupby-5-1-1", Shape::SingleGroupby { metrics: 5, hours: 1, hosts: 1 }),
    ("single-groupby-5-8-1", Shape::SingleGroupby { metrics: 5, hours: 1, hosts: 8 }),
    ("cpu-max-all-1", Shape::MaxAll { hosts: 1 }),
    ("cpu-max-all-8", Shape::MaxAll { hosts: 8 }),
    ("double-groupby-1", Shape::DoubleGroupby { metrics: 1 }),
    ("double-groupby-5", Shape::DoubleGroupby { metrics: 5 }),
    ("double-groupby-all", Shape::DoubleGroupby { metrics: 10 }),
    ("high-cpu-1", Shape::HighCpu { hosts: 1 }),
    ("high-cpu-all", Shape::HighCpu { hosts: 0 }),
    ("lastpoint", Shape::Lastpoint),
    ("groupby-orderby-limit", Shape::GroupbyOrderbyLimit),
];

impl Shape {
    /// One statement with fresh parameters from `rng`.
    fn sql(self, rng: &mut ChaCha8Rng) -> String {
        match self {
            Shape::SingleGroupby { metrics, hours, hosts } => {
                let (start, end) = window(rng, hours * HOUR_NS);
                format!(
                    "SELECT date_bin(INTERVAL '1 minute', time) AS minute, {} FROM cpu \
                     WHERE {} AND time >= '{start}' AND time < '{end}' GROUP BY minute ORDER BY minute ASC",
                    aggregates("max", "max", metrics),
                    host_filter(rng, hosts)
                )
            }
            Shape::MaxAll { hosts } => {
                let (start, end) = window(rng, MAX_ALL_HOURS * HOUR_NS);
                format!(
                    "SELECT date_bin(INTERVAL '1 hour', time) AS hour, {} FROM cpu \
                     WHERE {} AND time >= '{start}' AND time < '{end}' GROUP BY hour ORDER BY hour",
                    aggregates("max", "max", CPU_FIELDS.len()),
                    host_filter(rng, hosts)
                )
            }
            Shape::DoubleGroupby { metrics } => {
                let (start, end) = window(rng, DOUBLE_GROUPBY_HOURS * HOUR_NS);
                format!(
                    "SELECT date_bin(INTERVAL '1 hour', time) AS hour, hostname, {} FROM cpu \
                     WHERE time >= '{start}' AND time < '{end}' GROUP BY hour, hostname ORDER BY hour, hostname",
                    aggregates("avg", "mean", metrics)
                )
            }
            Shape::HighCpu { hosts } => {
                let (start, end) = window(rng, HIGH_CPU_HOURS * HOUR_NS);
                let hosts = if hosts == 0 { String::new() } else { format!(" AND {}", host_filter(rng, hosts)) };
                format!("SELECT * FROM cpu WHERE usage_user > 90.0 AND time >= '{start}' AND time < '{end}'{hosts}")
            }
            Shape::Lastpoint => "SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC".to_string(),
            Shape::GroupbyOrderbyLimit => {
                let (_, end) = window(rng, HOUR_NS);
                format!(
                    "SELECT date_bin(INTERVAL '1 minute', time) AS minute, max(usage_user) FROM cpu \
                     WHERE time < '{end}' GROUP BY minute ORDER BY minute DESC LIMIT 5"
                )
            }
        }
    }

    /// Whether the statement fixes the order of its rows.
    fn ordered(self) -> bool {
        !matches!(self, Shape::HighCpu { .. })
    }
}

/// `agg(m) AS label_m` for the first `metrics` fields, as TSBS names them.
fn aggregates(agg: &str, label: &str, metrics: usize) -> String {
    CPU_FIELDS[..metrics].iter().map(|m| format!("{agg}({m}) AS {label}_{m}")).collect::<Vec<_>>().join(", ")
}

/// `(hostname = 'host_a' OR ...)` over `n` distinct random hosts, as TSBS's
/// `getRandomSubsetPerm` draws them.
fn host_filter(rng: &mut ChaCha8Rng, n: usize) -> String {
    let mut picked: Vec<usize> = Vec::with_capacity(n);
    while picked.len() < n {
        let h = rng.random_range(0..HOSTS);
        if !picked.contains(&h) {
            picked.push(h);
        }
    }
    let clauses: Vec<String> = picked.iter().map(|h| format!("hostname = 'host_{h}'")).collect();
    format!("({})", clauses.join(" OR "))
}

/// A random window of `len` inside the day, as TSBS's `RandWindow`: the
/// start uniform in `[day start, day end - len)`; both ends as RFC 3339 to
/// the microsecond, as TSBS prints them.
fn window(rng: &mut ChaCha8Rng, len: i64) -> (String, String) {
    let start = START_NS + rng.random_range(0..DAY_NS - len);
    (timestamp(start), timestamp(start + len))
}

fn timestamp(ns: i64) -> String {
    timestamp_ns_to_datetime(ns).expect("in range").format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One value of an answer, for comparing engines.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
}

impl Cell {
    fn matches(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Float(a), Cell::Float(b)) => {
                (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
            }
            (a, b) => a == b,
        }
    }
}

/// The column names and rows of an answer.
fn table(batches: &[RecordBatch]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let names = batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect());
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Cell>> = batch.columns().iter().map(|c| cells(c.as_ref())).collect();
        rows.extend((0..batch.num_rows()).map(|r| columns.iter().map(|c| c[r].clone()).collect::<Vec<_>>()));
    }
    (names.unwrap_or_default(), rows)
}

fn cells(array: &dyn Array) -> Vec<Cell> {
    let cell = |valid: bool, value: Cell| if valid { value } else { Cell::Null };
    match array.data_type() {
        DataType::Float64 => {
            let a = array.as_any().downcast_ref::<Float64Array>().expect("float64");
            (0..a.len()).map(|i| cell(a.is_valid(i), Cell::Float(a.value(i)))).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            let a = cast(array, &DataType::Utf8).expect("casts to text");
            let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
            (0..a.len()).map(|i| cell(a.is_valid(i), Cell::Str(a.value(i).to_string()))).collect()
        }
        other => {
            let a = cast(array, &DataType::Int64).unwrap_or_else(|e| panic!("no comparison for {other}: {e}"));
            let a = a.as_any().downcast_ref::<Int64Array>().expect("int64");
            (0..a.len()).map(|i| cell(a.is_valid(i), Cell::Int(a.value(i)))).collect()
        }
    }
}

/// Aborts unless both answers hold the same rows (in the same order when
/// `ordered`). Returns the row count.
fn check(query: &str, sql: &str, ordered: bool, chronicle: &[RecordBatch], memtable: &[RecordBatch]) -> usize {
    let (names_c, mut rows_c) = table(chronicle);
    let (names_m, mut rows_m) = table(memtable);
    if !ordered {
        let key = |row: &Vec<Cell>| format!("{row:?}");
        rows_c.sort_by_cached_key(key);
        rows_m.sort_by_cached_key(key);
    }
    let fail = |what: String| -> ! { panic!("{query}: Chronicle's answer differs from the MemTable's: {what}\n{sql}") };
    if rows_c.len() != rows_m.len() {
        fail(format!("{} rows, expected {}", rows_c.len(), rows_m.len()));
    }
    if !rows_c.is_empty() && names_c != names_m {
        fail(format!("columns {names_c:?}, expected {names_m:?}"));
    }
    for (i, (c, m)) in rows_c.iter().zip(&rows_m).enumerate() {
        if c.len() != m.len() || c.iter().zip(m).any(|(x, y)| !x.matches(y)) {
            fail(format!("row {i} is {c:?}, expected {m:?}"));
        }
    }
    rows_c.len()
}

async fn run(ctx: &SessionContext, sql: &str) -> (Duration, Vec<RecordBatch>) {
    let started = Instant::now();
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("plans: {e}\n{sql}"));
    let batches = frame.collect().await.unwrap_or_else(|e| panic!("runs: {e}\n{sql}"));
    (started.elapsed(), batches)
}

async fn explain(engine: &str, ctx: &SessionContext, sql: &str) {
    let batches = ctx.sql(&format!("EXPLAIN ANALYZE {sql}")).await.expect("plans").collect().await.expect("runs");
    eprintln!("-- {engine}: EXPLAIN ANALYZE {sql}\n{}", pretty_format_batches(&batches).expect("formats"));
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_unstable();
    let n = times.len();
    let mid = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2 };
    mid.as_secs_f64() * 1e3
}

/// A plain DataFusion session holding `reference`'s `cpu` rows in a `MemTable`.
fn memtable_session(reference: &Reference) -> SessionContext {
    let (schema, batches) = reference.table("cpu");
    let all = concat_batches(&schema, &batches).expect("one schema");
    assert_eq!(all.num_rows(), HOSTS * STEPS, "every row is in the MemTable");
    let by = |name: &str| SortColumn { values: Arc::clone(all.column_by_name(name).expect("exists")), options: None };
    let order = lexsort_to_indices(&[by("time"), by("hostname")], None).expect("sorts");
    let all = take_record_batch(&all, &order).expect("takes");

    let ctx = SessionContext::new();
    chronicle_udfs::register_all(&ctx);
    let config = ctx.copied_config();
    let (batch_size, partitions) = (config.batch_size(), config.target_partitions().max(1));
    let per_partition = all.num_rows().div_ceil(partitions);
    let cut = |from: usize, to: usize| -> Vec<RecordBatch> {
        (from..to).step_by(batch_size).map(|o| all.slice(o, batch_size.min(to - o))).collect()
    };
    let data: Vec<Vec<RecordBatch>> = (0..partitions)
        .map(|p| cut((p * per_partition).min(all.num_rows()), ((p + 1) * per_partition).min(all.num_rows())))
        .collect();
    let table = MemTable::try_new(schema, data).expect("builds the MemTable");
    ctx.register_table("cpu", Arc::new(table)).expect("registers cpu");
    ctx
}

/// Which engines to time: (chronicle, memtable).
fn engines() -> (bool, bool) {
    match std::env::var("TSBS_ENGINES").ok().as_deref() {
        Some("chronicle") => (true, false),
        Some("memtable") => (false, true),
        _ => (true, true),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let wanted: Option<Vec<String>> =
        std::env::var("TSBS_QUERIES").ok().map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let explaining = std::env::var("TSBS_EXPLAIN").is_ok_and(|v| v == "1");
    let (time_chronicle, time_memtable) = engines();
    let iterations: usize =
        std::env::var("TSBS_ITERATIONS").ok().map_or(ITERATIONS, |v| v.parse().expect("TSBS_ITERATIONS is a number"));

    let dir = std::env::temp_dir().join(format!("chronicle-tsbs-queries-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("tsbs.chronicle"), Config::default()).expect("opens");
    let started = Instant::now();
    let hosts = TsbsCpu::new(HOSTS, SEED).generate(STEPS);
    let mut reference = Reference::new();
    for batch in cpu_row_batches(&hosts, BATCH_ROWS) {
        db.write_rows(&batch).expect("writes");
        reference.write(&batch);
    }
    drop(hosts);
    db.flush().expect("flushes");
    let partitions = db.partitions().expect("lists partitions");
    eprintln!(
        "loaded {} rows in {:.1} s: {} partitions, {} blocks, {} points in memory",
        HOSTS * STEPS,
        started.elapsed().as_secs_f64(),
        partitions.len(),
        partitions.iter().map(|p| p.blocks).sum::<usize>(),
        partitions.iter().map(|p| p.memory_points).sum::<u64>()
    );

    let chronicle = db.session_context();
    let started = Instant::now();
    let memtable = memtable_session(&reference);
    drop(reference);
    eprintln!("built the MemTable in {:.1} s", started.elapsed().as_secs_f64());

    println!("query\tchronicle_ms\tmemtable_ms\tratio");
    for (n, (name, shape)) in QUERIES.iter().enumerate() {
        if wanted.as_ref().is_some_and(|w| !w.iter().any(|q| q == name)) {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let statements: Vec<String> = (0..=iterations).map(|_| shape.sql(&mut rng)).collect();
        if explaining {
            explain("chronicle", &chronicle, &statements[0]).await;
            explain("memtable", &memtable, &statements[0]).await;
        }
        let (mut times_c, mut times_m, mut rows) = (Vec::new(), Vec::new(), 0);
        // The first statement warms up and is checked but not timed; the
        // engine that goes first alternates.
        for (i, sql) in statements.iter().enumerate() {
            let (mut c, mut m) = ((Duration::ZERO, Vec::new()), (Duration::ZERO, Vec::new()));
            if i % 2 == 0 {
                if time_chronicle {
                    c = run(&chronicle, sql).await;
                }
                if time_memtable {
                    m = run(&memtable, sql).await;
                }
            } else {
                if time_memtable {
                    m = run(&memtable, sql).await;
                }
                if time_chronicle {
                    c = run(&chronicle, sql).await;
                }
            }
            if time_chronicle && time_memtable {
                rows += check(name, sql, shape.ordered(), &c.1, &m.1);
            }
            if i > 0 {
                times_c.push(c.0);
                times_m.push(m.0);
            }
        }
        let (c, m) = (median_ms(times_c), median_ms(times_m));
        let mut line = String::new();
        write!(line, "{name}\t{c:.3}\t{m:.3}\t{:.3}", c / m).expect("formats");
        println!("{line}");
        std::io::stdout().flush().expect("flushes stdout");
        eprintln!("{name}: {} statements, {rows} rows checked; e.g. {}", statements.len(), statements[0]);
    }

    db.close().expect("closes");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
