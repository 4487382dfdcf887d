//! Parse speed of the ingest formats on TSBS cpu-only data (100 hosts, 10
//! tags and 10 integer fields per line, as TSBS writes them): InfluxDB line
//! protocol to rows, and, for comparison, the same points as a Prometheus
//! remote-write body (one series per host and field, 10 samples per line).
//!
//! Run: `cargo bench --bench line_protocol`. Prints TSV under the header
//! `format lines bytes cpu_seconds wall_seconds lines_per_sec mb_per_sec
//! samples_per_sec`: the best of several passes on one thread over the whole
//! body, built before timing starts. Rates are per second of the thread's
//! own CPU time (`/proc/thread-self/schedstat`), i.e. what one core does
//! even when other processes share the machine; wall time is printed too. `line_protocol_visit` is the parser itself
//! (`for_each_line`, borrowing the body); `line_protocol_rows` also copies
//! every line into an owned `Row` (what `Db::write_rows` takes), so it
//! counts allocating the rows' strings (not freeing them: the rows are
//! dropped after the clock stops); `remote_write_snappy` decompresses,
//! decodes and builds rows.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chronicle::Row;
use chronicle::ingest::prompb::{Label, Sample, TimeSeries, WriteRequest};
use chronicle::ingest::{Precision, line_protocol, remote_write, snappy};
use chronicle::testing::TsbsCpu;

const HOSTS: usize = 100;
const STEPS: usize = 1_000;
const PASSES: usize = 7;

/// The rows as TSBS's line protocol: integer fields, nanosecond times.
fn line_protocol_body(rows: &[Row]) -> String {
    let mut body = String::new();
    for row in rows {
        body.push_str(&row.measurement);
        for (k, v) in &row.tags {
            write!(body, ",{k}={v}").unwrap();
        }
        for (i, (k, v)) in row.fields.iter().enumerate() {
            write!(body, "{}{k}={v}i", if i == 0 { ' ' } else { ',' }).unwrap();
        }
        writeln!(body, " {}", row.timestamp).unwrap();
    }
    body
}

/// The rows as one remote-write request: series `cpu_<field>{tags}`.
fn remote_write_body(rows: &[Row]) -> Vec<u8> {
    let mut series: Vec<TimeSeries> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for row in rows {
        for (field, value) in &row.fields {
            let key = (row.tags[0].1.clone(), field.clone());
            let i = *index.entry(key).or_insert_with(|| {
                let mut labels = vec![Label { name: "__name__".into(), value: format!("cpu_{field}") }];
                labels.extend(row.tags.iter().map(|(k, v)| Label { name: k.clone(), value: v.clone() }));
                series.push(TimeSeries { labels, ..Default::default() });
                series.len() - 1
            });
            series[i].samples.push(Sample { value: *value, timestamp: row.timestamp / 1_000_000 });
        }
    }
    snappy::compress(&prost::Message::encode_to_vec(&WriteRequest { timeseries: series, metadata: vec![] })).unwrap()
}

/// CPU time this thread has run, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    stat.split_whitespace().next().and_then(|ns| ns.parse().ok()).expect("a CPU time")
}

/// The best (CPU, wall) times of `PASSES` calls of `parse`, whose output
/// `count` says how many items it holds; outputs are dropped after the
/// clocks stop.
fn best<T>(expected: usize, mut parse: impl FnMut() -> T, count: impl Fn(&T) -> usize) -> (Duration, Duration) {
    let runs = (0..PASSES).map(|_| {
        let (cpu, wall) = (thread_cpu_ns(), Instant::now());
        let out = black_box(parse());
        let spent = (Duration::from_nanos(thread_cpu_ns() - cpu), wall.elapsed());
        assert_eq!(count(&out), expected);
        drop(out);
        spent
    });
    let runs: Vec<(Duration, Duration)> = runs.collect();
    (runs.iter().map(|r| r.0).min().unwrap(), runs.iter().map(|r| r.1).min().unwrap())
}

fn report(format: &str, lines: usize, bytes: usize, samples: usize, (cpu, wall): (Duration, Duration)) {
    let s = cpu.as_secs_f64();
    println!(
        "{format}\t{lines}\t{bytes}\t{s:.4}\t{:.4}\t{:.0}\t{:.1}\t{:.0}",
        wall.as_secs_f64(),
        lines as f64 / s,
        bytes as f64 / s / 1e6,
        samples as f64 / s
    );
}

fn main() {
    let rows: Vec<Row> = TsbsCpu::new(HOSTS, 42).row_batches(STEPS, HOSTS * STEPS).flatten().collect();
    let lines = rows.len();
    let samples = lines * rows[0].fields.len();
    let text = line_protocol_body(&rows);
    assert_eq!(line_protocol::parse(text.as_bytes(), Precision::Nanoseconds, 0).unwrap(), rows);
    let remote = remote_write_body(&rows);

    println!("format\tlines\tbytes\tcpu_seconds\twall_seconds\tlines_per_sec\tmb_per_sec\tsamples_per_sec");
    let visit = || {
        let mut fields = 0;
        line_protocol::for_each_line(text.as_bytes(), Precision::Nanoseconds, 0, |line| fields += line.fields.len())
            .unwrap();
        fields
    };
    report("line_protocol_visit", lines, text.len(), samples, best(samples, visit, |&n| n));
    let parse = || line_protocol::parse(text.as_bytes(), Precision::Nanoseconds, 0).unwrap();
    report("line_protocol_rows", lines, text.len(), samples, best(lines, parse, Vec::len));
    let remote_rows = || remote_write::parse(&remote, 1 << 30).unwrap();
    report("remote_write_snappy", lines, remote.len(), samples, best(samples, remote_rows, Vec::len));
}
