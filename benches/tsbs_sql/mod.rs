//! The TSBS devops query types as SQL over TSBS cpu-only (100 hosts, 1 day
//! at 10 s: 864,000 rows of 10 fields), the data loaded into Chronicle, and
//! the comparison of two engines' answers: what the TSBS query benches share
//! (`tsbs_queries.rs` against a DataFusion MemTable, `tsbs_duckdb.rs`
//! against DuckDB).
//!
//! Each iteration draws new parameters as TSBS's generator does (random
//! distinct hosts, a random window start inside the day, timestamps given to
//! the microsecond), from a seed per query type, so both engines answer the
//! same sequence of statements. The SQL follows TSBS's TimescaleDB shapes
//! (host filters as `hostname = 'a' OR hostname = 'b'`, `DISTINCT ON` for
//! lastpoint) with `date_bin` or `date_trunc` in place of `time_bucket`, and
//! every aggregate named, since engines name an unnamed one differently.
//!
//! Environment: `TSBS_QUERIES=lastpoint,high-cpu-all` runs only those query
//! types, `TSBS_ITERATIONS=200` times each longer (under `perf record`).

use std::time::Duration;

use chronicle::testing::{CPU_FIELDS, HOUR_NS, START_NS, TsbsCpu, cpu_row_batches};
use chronicle::{Db, Row};
use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::temporal_conversions::timestamp_ns_to_datetime;
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const HOSTS: usize = 100;
pub const STEPS: usize = 8_640;
const BATCH_ROWS: usize = 1_000;
const SEED: u64 = 42;
const DAY_NS: i64 = 24 * HOUR_NS;
/// Window lengths of TSBS's devops use case (`uses/devops/common.go`).
const DOUBLE_GROUPBY_HOURS: i64 = 12;
const HIGH_CPU_HOURS: i64 = 12;
const MAX_ALL_HOURS: i64 = 8;

/// The time the statements' windows are drawn in.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// First nanosecond.
    pub start: i64,
    /// Length in nanoseconds.
    pub len: i64,
}

/// The TSBS day.
pub const DAY: Span = Span { start: START_NS, len: DAY_NS };

/// How a statement cuts time into buckets: the SQL of the bucket of
/// `time` one `unit` long (`"minute"`, `"hour"`).
pub type Buckets = fn(unit: &str) -> String;

/// The shape of a TSBS devops query type.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
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

pub const QUERIES: [(&str, Shape); 14] = [
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
    /// One statement with fresh parameters from `rng`, its windows inside `span`.
    fn sql(self, rng: &mut ChaCha8Rng, buckets: Buckets, span: Span) -> String {
        let window = |rng: &mut ChaCha8Rng, len: i64| window(rng, span, len);
        match self {
            Shape::SingleGroupby { metrics, hours, hosts } => {
                let (start, end) = window(rng, hours * HOUR_NS);
                format!(
                    "SELECT {} AS minute, {} FROM cpu \
                     WHERE {} AND time >= '{start}' AND time < '{end}' GROUP BY minute ORDER BY minute ASC",
                    buckets("minute"),
                    aggregates("max", "max", metrics),
                    host_filter(rng, hosts)
                )
            }
            Shape::MaxAll { hosts } => {
                let (start, end) = window(rng, MAX_ALL_HOURS * HOUR_NS);
                format!(
                    "SELECT {} AS hour, {} FROM cpu \
                     WHERE {} AND time >= '{start}' AND time < '{end}' GROUP BY hour ORDER BY hour",
                    buckets("hour"),
                    aggregates("max", "max", CPU_FIELDS.len()),
                    host_filter(rng, hosts)
                )
            }
            Shape::DoubleGroupby { metrics } => {
                let (start, end) = window(rng, DOUBLE_GROUPBY_HOURS * HOUR_NS);
                format!(
                    "SELECT {} AS hour, hostname, {} FROM cpu \
                     WHERE time >= '{start}' AND time < '{end}' GROUP BY hour, hostname ORDER BY hour, hostname",
                    buckets("hour"),
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
                    "SELECT {} AS minute, max(usage_user) AS max_usage_user FROM cpu \
                     WHERE time < '{end}' GROUP BY minute ORDER BY minute DESC LIMIT 5",
                    buckets("minute")
                )
            }
        }
    }

    /// Whether the statement fixes the order of its rows.
    pub fn ordered(self) -> bool {
        !matches!(self, Shape::HighCpu { .. })
    }
}

/// The query types to run (`TSBS_QUERIES`, else all), each with one
/// warm-up statement and then one per timed run (`TSBS_ITERATIONS`, else
/// `iterations`), over the TSBS day.
pub fn statements(buckets: Buckets, iterations: usize) -> Vec<(&'static str, Shape, Vec<String>)> {
    statements_in(buckets, iterations, DAY)
}

/// [`statements`] with their windows inside `span`.
pub fn statements_in(buckets: Buckets, iterations: usize, span: Span) -> Vec<(&'static str, Shape, Vec<String>)> {
    let wanted: Option<Vec<String>> =
        std::env::var("TSBS_QUERIES").ok().map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let iterations = timed_runs(iterations);
    QUERIES
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| wanted.as_ref().is_none_or(|w| w.iter().any(|q| q == name)))
        .map(|(n, &(name, shape))| {
            let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            (name, shape, (0..=iterations).map(|_| shape.sql(&mut rng, buckets, span)).collect())
        })
        .collect()
}

/// Timed runs per query: `TSBS_ITERATIONS`, else `default`.
pub fn timed_runs(default: usize) -> usize {
    std::env::var("TSBS_ITERATIONS").ok().map_or(default, |v| v.parse().expect("TSBS_ITERATIONS is a number"))
}

/// Writes the TSBS day into `db` and flushes it, handing every batch
/// written to `written` too.
pub fn load(db: &Db, mut written: impl FnMut(&[Row])) {
    let hosts = TsbsCpu::new(HOSTS, SEED).generate(STEPS);
    for batch in cpu_row_batches(&hosts, BATCH_ROWS) {
        db.write_rows(&batch).expect("writes");
        written(&batch);
    }
    db.flush().expect("flushes");
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

/// A random window of `len` inside `span`, as TSBS's `RandWindow`: the
/// start uniform in `[span start, span end - len)` (the span itself when it
/// is no longer than `len`); both ends as RFC 3339 to the microsecond, as
/// TSBS prints them.
fn window(rng: &mut ChaCha8Rng, span: Span, len: i64) -> (String, String) {
    let start = span.start + if span.len > len { rng.random_range(0..span.len - len) } else { 0 };
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

/// The cells of a column. Timestamps of any unit and zone compare as UTC
/// nanoseconds (DuckDB answers in microseconds).
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
        DataType::Timestamp(unit, _) if *unit != TimeUnit::Nanosecond => {
            let ns = cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None)).expect("casts to nanoseconds");
            cells(ns.as_ref())
        }
        other => {
            let a = cast(array, &DataType::Int64).unwrap_or_else(|e| panic!("no comparison for {other}: {e}"));
            let a = a.as_any().downcast_ref::<Int64Array>().expect("int64");
            (0..a.len()).map(|i| cell(a.is_valid(i), Cell::Int(a.value(i)))).collect()
        }
    }
}

/// Aborts unless Chronicle's answer and `peer`'s hold the same rows (in the
/// same order when `ordered`). Returns the row count.
pub fn check(query: &str, sql: &str, ordered: bool, chronicle: &[RecordBatch], peer: (&str, &[RecordBatch])) -> usize {
    let (names_c, mut rows_c) = table(chronicle);
    let (names_p, mut rows_p) = table(peer.1);
    if !ordered {
        let key = |row: &Vec<Cell>| format!("{row:?}");
        rows_c.sort_by_cached_key(key);
        rows_p.sort_by_cached_key(key);
    }
    let fail = |what: String| -> ! { panic!("{query}: Chronicle's answer differs from {}'s: {what}\n{sql}", peer.0) };
    if rows_c.len() != rows_p.len() {
        fail(format!("{} rows, expected {}", rows_c.len(), rows_p.len()));
    }
    if !rows_c.is_empty() && names_c != names_p {
        fail(format!("columns {names_c:?}, expected {names_p:?}"));
    }
    for (i, (c, p)) in rows_c.iter().zip(&rows_p).enumerate() {
        if c.len() != p.len() || c.iter().zip(p).any(|(x, y)| !x.matches(y)) {
            fail(format!("row {i} is {c:?}, expected {p:?}"));
        }
    }
    rows_c.len()
}

/// Plans and runs `sql` to its last batch: the wall time and the answer.
pub async fn run(ctx: &SessionContext, sql: &str) -> (Duration, Vec<RecordBatch>) {
    let started = std::time::Instant::now();
    let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("plans: {e}\n{sql}"));
    let batches = frame.collect().await.unwrap_or_else(|e| panic!("runs: {e}\n{sql}"));
    (started.elapsed(), batches)
}

pub fn median_ms(mut times: Vec<Duration>) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_unstable();
    let n = times.len();
    let mid = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2 };
    mid.as_secs_f64() * 1e3
}
