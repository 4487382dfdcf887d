//! Ingest load generator: sends TSBS cpu-only (by default scale 100, 1 day
//! at 10 s: 864,000 rows of 10 fields, 8,640,000 samples) to one server over
//! HTTP and prints how long the server took to acknowledge all of it.
//! `benches/ingest_peers.sh` runs it against Chronicle and its peers.
//!
//! ```text
//! cargo bench --bench ingest_load -- --protocol remote-write|line-protocol --url URL
//!     [--hosts 100] [--steps 8640] [--batch 5000] [--connections 4]
//!     [--data tsbs|dashboard] [--shift-ms 0]
//! ```
//!
//! - `remote-write`: Prometheus remote write 1.0 (snappy block, protobuf) to
//!   `URL` (e.g. `http://127.0.0.1:9090/api/v1/write`). Each TSBS field of
//!   each host is a series `cpu_<field>{hostname=...,region=...,...}`; a
//!   request holds `--batch` samples, one sample per series per timestamp
//!   (each a `TimeSeries` of its own, as Prometheus sends them).
//! - `line-protocol`: InfluxDB line protocol with nanosecond timestamps to
//!   `URL` (e.g. `http://127.0.0.1:8086/write?db=bench&precision=ns`), one
//!   line per host and timestamp holding its ten fields, `--batch` lines a
//!   request.
//!
//! `--data dashboard` adds, for each host at each timestamp, the exporter
//! metrics of `chronicle::testing::ExporterHost` (node_exporter CPU and
//! network counters, a classic request-duration histogram; 32 series a
//! host) labelled with the host's `hostname` and `region`: the data of
//! `benches/promql_peers.sh`. `--shift-ms` moves every timestamp later by
//! that many milliseconds (that script keeps samples off the minute, where
//! query windows end).
//!
//! Both send the same values at the same times in TSBS order (every host at
//! one timestamp, then the next timestamp). A sample is one field value at
//! one time, so both count 10 samples per row.
//!
//! The hosts are sharded over `--connections` connections (host `h` goes
//! over connection `h % connections`), as Prometheus's remote-write queue
//! shards series, so each series' samples arrive in time order; a request
//! holds the next `--batch` samples or lines of its shard (for 4 shards of
//! 25 hosts and 5,000 remote-write samples: 25 hosts x 10 fields at 20
//! timestamps), whole rows only, so a request may hold a few more.
//!
//! Every request body is encoded before the clock starts, so the generator's
//! own encoding is not timed and cannot be the bottleneck; the timed part is
//! one thread per connection, each with a keep-alive connection of its own,
//! sending its requests one after the other, each after the answer to the
//! one before. Any answer other than 2xx stops the run: the status and body
//! are printed and the process exits with 1.
//!
//! Prints one TSV line under the header
//! `protocol samples requests body_bytes seconds samples_per_sec`; `seconds`
//! is from the first request sent to the last answer received.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chronicle::Row;
use chronicle::ingest::prompb::{Label, Sample, TimeSeries, WriteRequest};
use chronicle::ingest::snappy;
use chronicle::testing::{CPU_FIELDS, ExporterHost, TsbsCpu};

const SEED: u64 = 42;
/// Longer than any server should take for one request, short enough that a
/// hung server fails the run instead of stalling it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    RemoteWrite,
    LineProtocol,
}

/// What is sent: TSBS cpu-only, or that plus exporter metrics per host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Tsbs,
    Dashboard,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::RemoteWrite => "remote-write",
            Protocol::LineProtocol => "line-protocol",
        }
    }

    /// What `--batch` counts of a row: its samples, or its line.
    fn size(self, row: &Row) -> usize {
        match self {
            Protocol::RemoteWrite => row.fields.len(),
            Protocol::LineProtocol => 1,
        }
    }

    /// The body of one request holding `rows`.
    fn body(self, rows: &[Row]) -> Request {
        match self {
            Protocol::RemoteWrite => remote_write_body(rows),
            Protocol::LineProtocol => line_protocol_body(rows),
        }
    }
}

struct Args {
    protocol: Protocol,
    url: String,
    hosts: usize,
    steps: usize,
    batch: usize,
    connections: usize,
    data: Data,
    shift_ms: i64,
}

fn usage(problem: &str) -> ! {
    eprintln!("ingest_load: {problem}");
    eprintln!(
        "usage: ingest_load --protocol remote-write|line-protocol --url URL \
         [--hosts 100] [--steps 8640] [--batch 5000] [--connections 4] \
         [--data tsbs|dashboard] [--shift-ms 0]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut protocol = None;
    let mut url = None;
    let (mut hosts, mut steps, mut batch, mut connections) = (100, 8_640, 5_000, 4);
    let (mut data, mut shift_ms) = (Data::Tsbs, 0);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // `cargo bench` adds `--bench` to every bench binary's arguments.
        if arg == "--bench" {
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--protocol" => {
                protocol = Some(match value.as_str() {
                    "remote-write" => Protocol::RemoteWrite,
                    "line-protocol" => Protocol::LineProtocol,
                    other => usage(&format!("unknown protocol {other:?}")),
                })
            }
            "--url" => url = Some(value),
            "--hosts" => hosts = positive(&arg, &value),
            "--steps" => steps = positive(&arg, &value),
            "--batch" => batch = positive(&arg, &value),
            "--connections" => connections = positive(&arg, &value),
            "--data" => {
                data = match value.as_str() {
                    "tsbs" => Data::Tsbs,
                    "dashboard" => Data::Dashboard,
                    other => usage(&format!("unknown data {other:?}")),
                }
            }
            "--shift-ms" => {
                shift_ms = value.parse().unwrap_or_else(|_| usage(&format!("--shift-ms {value}: not an integer")))
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let protocol = protocol.unwrap_or_else(|| usage("--protocol is required"));
    let url = url.unwrap_or_else(|| usage("--url is required"));
    Args { protocol, url, hosts, steps, batch, connections, data, shift_ms }
}

fn positive(arg: &str, value: &str) -> usize {
    value.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage(&format!("{arg} {value}: not a positive integer")))
}

/// One request's body and the samples it carries.
struct Request {
    body: Vec<u8>,
    samples: usize,
}

/// The rows of one request as a remote-write body: one series per field of
/// each row, one sample each, labels sorted by name as the protocol asks.
/// A field named `value` is the metric named as its measurement, as
/// Chronicle maps it back.
fn remote_write_body(rows: &[Row]) -> Request {
    let mut timeseries = Vec::with_capacity(rows.len() * CPU_FIELDS.len());
    for row in rows {
        let mut tags: Vec<Label> =
            row.tags.iter().map(|(name, value)| Label { name: name.clone(), value: value.clone() }).collect();
        tags.push(Label { name: "__name__".into(), value: String::new() });
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        for (field, value) in &row.fields {
            let mut labels = tags.clone();
            // `__name__` sorts before every lower-case tag name.
            labels[0].value =
                if field == "value" { row.measurement.clone() } else { format!("{}_{field}", row.measurement) };
            let sample = Sample { value: *value, timestamp: row.timestamp.div_euclid(1_000_000) };
            timeseries.push(TimeSeries { labels, samples: vec![sample], ..TimeSeries::default() });
        }
    }
    let samples = timeseries.len();
    let request = WriteRequest { timeseries, ..WriteRequest::default() };
    let body = snappy::compress(&prost::Message::encode_to_vec(&request)).expect("compresses");
    Request { body, samples }
}

/// The rows of one request as line protocol with nanosecond timestamps.
/// TSBS names and values need no escaping.
fn line_protocol_body(rows: &[Row]) -> Request {
    use std::fmt::Write;
    let mut text = String::with_capacity(rows.len() * 320);
    let mut samples = 0;
    for row in rows {
        text.push_str(&row.measurement);
        for (key, value) in &row.tags {
            write!(text, ",{key}={value}").expect("writes to a string");
        }
        for (i, (field, value)) in row.fields.iter().enumerate() {
            write!(text, "{}{field}={value}", if i == 0 { ' ' } else { ',' }).expect("writes to a string");
        }
        writeln!(text, " {}", row.timestamp).expect("writes to a string");
        samples += row.fields.len();
    }
    Request { body: text.into_bytes(), samples }
}

/// The requests of each connection, in the order it sends them. Series are
/// sharded by host over the connections, as Prometheus's remote-write
/// queue shards them, so every series' samples arrive in time order (a
/// Prometheus receiver refuses older samples of a series than one stored).
fn encode(args: &Args) -> Vec<Vec<Request>> {
    let protocol = args.protocol;
    let mut requests: Vec<Vec<Request>> = (0..args.connections).map(|_| Vec::new()).collect();
    let mut pending: Vec<Vec<Row>> = (0..args.connections).map(|_| Vec::new()).collect();
    let mut pending_size = vec![0; args.connections];
    let mut exporters: Vec<ExporterHost> = match args.data {
        Data::Tsbs => Vec::new(),
        Data::Dashboard => (0..args.hosts).map(|h| ExporterHost::new(h, SEED)).collect(),
    };
    let shift_ns = args.shift_ms * 1_000_000;
    // One timestamp of every host at a time.
    for step in TsbsCpu::new(args.hosts, SEED).row_batches(args.steps, args.hosts) {
        for (host, row) in step.into_iter().enumerate() {
            let shard = host % args.connections;
            let exported = exporters.get_mut(host).map(|exporter| {
                let tags: Vec<(String, String)> =
                    row.tags.iter().filter(|(k, _)| k == "hostname" || k == "region").cloned().collect();
                exporter.scrape(&tags, row.timestamp, 10.0)
            });
            for mut row in std::iter::once(row).chain(exported.into_iter().flatten()) {
                row.timestamp += shift_ns;
                pending_size[shard] += protocol.size(&row);
                pending[shard].push(row);
            }
            if pending_size[shard] >= args.batch {
                requests[shard].push(protocol.body(&pending[shard]));
                pending[shard].clear();
                pending_size[shard] = 0;
            }
        }
    }
    for (shard, rows) in pending.iter().enumerate() {
        if !rows.is_empty() {
            requests[shard].push(protocol.body(rows));
        }
    }
    requests
}

/// Sends each connection's requests over a connection of its own; returns
/// the seconds from the first send to the last answer, or the first failure.
fn send(args: &Args, requests: &[Vec<Request>]) -> Result<f64, String> {
    let failed = AtomicBool::new(false);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let content_type = match args.protocol {
        Protocol::RemoteWrite => "application/x-protobuf",
        Protocol::LineProtocol => "text/plain; charset=utf-8",
    };
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (shard, requests) in requests.iter().enumerate() {
            let (failed, failure) = (&failed, &failure);
            scope.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(REQUEST_TIMEOUT))
                    .http_status_as_error(false)
                    .build()
                    .into();
                for (i, request) in requests.iter().enumerate() {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut post = agent.post(&args.url).header("Content-Type", content_type);
                    if args.protocol == Protocol::RemoteWrite {
                        post = post
                            .header("Content-Encoding", "snappy")
                            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
                    }
                    let at = format!("connection {shard}, request {i}");
                    let outcome = match post.send(&request.body[..]) {
                        Ok(mut response) if response.status().is_success() => {
                            // Read the (empty) body so the connection is reused.
                            response.body_mut().read_to_vec().map(drop).map_err(|e| format!("{at}: {e}"))
                        }
                        Ok(mut response) => {
                            let body = response.body_mut().read_to_string().unwrap_or_default();
                            Err(format!("{at}: {} {}", response.status(), body.trim()))
                        }
                        Err(e) => Err(format!("{at}: {e}")),
                    };
                    if let Err(message) = outcome {
                        failed.store(true, Ordering::Relaxed);
                        failure.lock().expect("no thread panics holding it").get_or_insert(message);
                        return;
                    }
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    match failure.into_inner().expect("no thread panicked") {
        Some(message) => Err(message),
        None => Ok(seconds),
    }
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    let requests = encode(&args);
    let samples: usize = requests.iter().flatten().map(|r| r.samples).sum();
    let body_bytes: usize = requests.iter().flatten().map(|r| r.body.len()).sum();
    let count: usize = requests.iter().map(Vec::len).sum();
    eprintln!(
        "ingest_load: {} requests of {} ({samples} samples, {body_bytes} body bytes) encoded in {:.1} s, not timed",
        count,
        args.protocol.name(),
        started.elapsed().as_secs_f64()
    );
    match send(&args, &requests) {
        Ok(seconds) => {
            println!("protocol\tsamples\trequests\tbody_bytes\tseconds\tsamples_per_sec");
            println!(
                "{}\t{samples}\t{}\t{body_bytes}\t{seconds:.3}\t{:.0}",
                args.protocol.name(),
                count,
                samples as f64 / seconds
            );
        }
        Err(message) => {
            eprintln!("ingest_load: {} to {} failed: {message}", args.protocol.name(), args.url);
            std::process::exit(1);
        }
    }
}
