//! PromQL cross-check against Prometheus: the query half of
//! `benches/promql_peers.sh`, which has loaded the same dashboard data
//! (`ingest_load --data dashboard`: TSBS cpu-only plus exporter counters and
//! classic histograms, a day at 10 s from 2026-01-01) into both servers.
//!
//! ```text
//! cargo bench --bench promql_peers -- --chronicle URL --prometheus URL
//!     [--runs 5] [--dump DIR] [--only SUBSTRING]
//! ```
//!
//! Every query of [`QUERIES`] goes to both servers' `/api/v1/query_range`
//! as Grafana sends it (POST, form body, `start`/`end`/`step` in seconds),
//! over the last 6 h of the day at a 60 s step, or the whole day at 5 m
//! where the list says so. The first answers (a warm-up) are compared:
//! the same result type, the same series (label sets), at the same
//! timestamps, values within a relative 1e-6 as Prometheus's own test
//! harness compares them (NaN equals NaN). A `topk` / `bottomk` answer may
//! differ where values tie (which of equal series is picked is up to the
//! engine): it matches when at each step its values are Prometheus's as a
//! multiset and each series has its own value there, as Prometheus
//! answers the expression picked from. Then each server answers
//! `--runs` more times, the two alternating, and the median wall time of a
//! request (sent to body read) is the figure.
//!
//! Prints TSV under the header `query match chronicle_ms prometheus_ms
//! ratio` (tab-separated; ratio = chronicle / prometheus; a query shown with ` @24h` runs
//! over the whole day), then the number of queries matching and the median
//! ratio. A mismatch is described on stderr; `--dump DIR` also writes both
//! answers of each mismatch there. A query Prometheus answers with no series
//! counts as a mismatch too: it would check nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chronicle::testing::START_NS;
use promql_parser::parser::token::{T_BOTTOMK, T_TOPK};
use promql_parser::parser::{self, Expr};
use serde_json::Value;

/// The queries, dashboard style. A leading `@24h ` runs the query over the
/// whole day at a 5 m step instead of the last 6 h at 60 s.
const QUERIES: &[&str] = &[
    // Gauges: TSBS cpu-only.
    r#"cpu_usage_user{hostname="host_1"}"#,
    r#"cpu_usage_user{region=~"us-.*", hostname=~"host_1.?"}"#,
    r#"cpu_usage_system{hostname!~"host_[0-8].*"}"#,
    r#"{__name__=~"cpu_usage_(user|system)", hostname="host_1"}"#,
    "avg by (region) (cpu_usage_user)",
    "@24h avg by (region) (cpu_usage_user)",
    "max by (region) (cpu_usage_system)",
    "min by (region) (cpu_usage_nice)",
    "sum by (datacenter) (cpu_usage_idle)",
    "avg(cpu_usage_user) by (os, arch)",
    "sum without (hostname, rack, datacenter, os, arch, team, service, service_version, service_environment) (cpu_usage_user)",
    "count by (os) (cpu_usage_user)",
    "group by (region) (cpu_usage_user)",
    "count(count by (hostname) (cpu_usage_user))",
    "stddev by (region) (cpu_usage_user)",
    "stdvar by (team) (cpu_usage_iowait)",
    "quantile(0.95, cpu_usage_user)",
    "quantile by (region) (0.5, cpu_usage_user)",
    "topk(5, cpu_usage_user)",
    "topk by (region) (1, cpu_usage_user)",
    "bottomk(3, avg by (hostname) (cpu_usage_iowait))",
    "max(cpu_usage_steal) - min(cpu_usage_steal)",
    "100 - cpu_usage_idle",
    "(cpu_usage_user + cpu_usage_system + cpu_usage_iowait) / 3",
    "cpu_usage_user > 95",
    "cpu_usage_user > bool 50",
    "count(cpu_usage_user > 90)",
    "count by (region) (cpu_usage_user > 50)",
    "sum by (region) (cpu_usage_user) > bool 2500",
    "cpu_usage_user == cpu_usage_system",
    "cpu_usage_user and cpu_usage_system > 50",
    "cpu_usage_user unless cpu_usage_system > 50",
    "cpu_usage_user > 97 or cpu_usage_system > 97",
    "cpu_usage_user / on(hostname) cpu_usage_system",
    "sum by (region) (cpu_usage_user) / on(region) count by (region) (cpu_usage_user)",
    "abs(cpu_usage_user - 50)",
    "clamp_max(cpu_usage_user, 80)",
    "clamp_min(cpu_usage_guest, 20)",
    "clamp(cpu_usage_softirq, 10, 90)",
    // Answers off every integer: a sum of these integer samples is exact
    // in both engines, so sum / 7 + 0.5 lies at least 1/14 from one. (Over
    // `avg` instead, Prometheus 2.42's running mean can land an ulp off a
    // whole number, 6.000000000000001, whose ceil is 7, where the exact
    // mean gives 6.)
    "ceil(sum by (region) (cpu_usage_user) / 7 + 0.5)",
    "floor(sum by (region) (cpu_usage_user) / 7 + 0.5)",
    r#"ln(cpu_usage_user{hostname=~"host_2.?"} + 1)"#,
    r#"log2(cpu_usage_user{hostname=~"host_2.?"} + 1)"#,
    r#"log10(cpu_usage_user{hostname=~"host_2.?"} + 1)"#,
    r#"sqrt(cpu_usage_user{hostname=~"host_3.?"})"#,
    r#"exp(-cpu_usage_user{hostname="host_1"} / 100)"#,
    "sort_desc(sum by (region) (cpu_usage_user))",
    r#"avg_over_time(cpu_usage_user{hostname="host_2"}[5m])"#,
    "max_over_time(cpu_usage_user[10m])",
    "max by (region) (max_over_time(cpu_usage_user[1h]))",
    "@24h max by (region) (max_over_time(cpu_usage_user[1h]))",
    r#"min_over_time(cpu_usage_idle{hostname=~"host_(1|2|3)"}[5m])"#,
    r#"sum_over_time(cpu_usage_user{hostname="host_1"}[1h])"#,
    r#"count_over_time(cpu_usage_user{hostname="host_1"}[30m])"#,
    r#"stddev_over_time(cpu_usage_user{region="eu-west-1"}[15m])"#,
    r#"stdvar_over_time(cpu_usage_user{region="eu-west-1"}[15m])"#,
    r#"quantile_over_time(0.95, cpu_usage_user{hostname=~"host_5.?"}[30m])"#,
    r#"last_over_time(cpu_usage_user{hostname="host_1"}[1m])"#,
    r#"present_over_time(cpu_usage_user{hostname="host_1"}[5m])"#,
    "avg_over_time(cpu_usage_user[1h] offset 1h)",
    r#"delta(cpu_usage_user{hostname="host_1"}[10m])"#,
    r#"deriv(cpu_usage_user{hostname="host_1"}[10m])"#,
    r#"sgn(deriv(cpu_usage_user{hostname="host_1"}[10m]))"#,
    r#"changes(cpu_usage_user{hostname=~"host_1.?"}[10m])"#,
    r#"holt_winters(cpu_usage_user{hostname="host_1"}[10m], 0.5, 0.5)"#,
    "cpu_usage_user offset 1h",
    "cpu_usage_user - cpu_usage_user offset 1h",
    r#"cpu_usage_user{hostname="host_1"} @ end()"#,
    r#"label_replace(cpu_usage_user{hostname=~"host_1.?"}, "host", "$1", "hostname", "host_(.*)")"#,
    r#"label_join(cpu_usage_user{hostname="host_1"}, "place", "/", "region", "datacenter", "rack")"#,
    r#"count_values("value", cpu_usage_guest{hostname=~"host_1.*"})"#,
    r#"timestamp(cpu_usage_user{hostname="host_1"})"#,
    r#"hour(timestamp(cpu_usage_user{hostname="host_1"}))"#,
    "sum by (__name__) ({__name__=~\"cpu_usage_.*\"})",
    r#"avg by (hostname) ({__name__=~"cpu_usage_.*", hostname=~"host_1."})"#,
    "avg_over_time(sum by (region) (cpu_usage_user)[1h:5m])",
    "scalar(sum(cpu_usage_user))",
    "vector(1)",
    "absent(no_such_metric)",
    "absent_over_time(no_such_metric[5m])",
    // node_exporter counters.
    r#"rate(node_cpu_seconds_total{mode="user"}[5m])"#,
    r#"rate(node_cpu_seconds_total{mode="user", cpu="0"}[1m])"#,
    r#"sum by (hostname) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    r#"1 - avg by (hostname) (rate(node_cpu_seconds_total{mode="idle"}[5m]))"#,
    r#"100 * (1 - avg by (region) (irate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
    r#"@24h 100 * (1 - avg by (region) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
    "sum(rate(node_cpu_seconds_total[5m])) by (mode)",
    r#"sum by (cpu) (rate(node_cpu_seconds_total{hostname="host_1"}[5m]))"#,
    r#"1 - sum by (hostname) (rate(node_cpu_seconds_total{mode="idle"}[5m])) / count by (hostname) (node_cpu_seconds_total{mode="idle"})"#,
    r#"deriv(node_cpu_seconds_total{hostname="host_1", mode="idle"}[5m])"#,
    "node_cpu_seconds_total offset 1h",
    r#"irate(node_network_receive_bytes_total{device="eth0"}[5m])"#,
    "sum by (region) (rate(node_network_receive_bytes_total[5m]))",
    "@24h sum by (region) (rate(node_network_receive_bytes_total[5m]))",
    r#"increase(node_network_transmit_bytes_total{device="eth0"}[1h])"#,
    r#"topk(5, rate(node_network_receive_bytes_total{device="eth0"}[5m]))"#,
    r#"bottomk(5, rate(node_network_transmit_bytes_total{device="lo"}[5m]))"#,
    "count(rate(node_network_receive_bytes_total[5m]) > 100000)",
    "round(rate(node_network_receive_bytes_total[5m]) / 1024)",
    "rate(node_network_receive_bytes_total[5m] offset 30m)",
    "sum(rate(node_network_receive_bytes_total[5m])) / sum(rate(node_network_receive_bytes_total[5m] offset 6h))",
    "resets(node_network_receive_bytes_total[1h])",
    r#"changes(node_network_receive_bytes_total{hostname="host_1"}[1h])"#,
    r#"idelta(node_network_receive_bytes_total{hostname="host_1"}[1m])"#,
    r#"predict_linear(node_network_receive_bytes_total{device="eth0", hostname="host_1"}[30m], 3600)"#,
    r#"max_over_time(rate(node_network_receive_bytes_total{device="eth0"}[5m])[30m:1m])"#,
    "sum by (hostname) (rate(node_network_receive_bytes_total[5m])) / on(hostname) sum by (hostname) (rate(node_network_transmit_bytes_total[5m]))",
    "node_network_receive_bytes_total / ignoring(device) group_left sum without(device) (node_network_receive_bytes_total)",
    "rate(node_cpu_seconds_total[5m]) * on(hostname) group_left(datacenter) max by (hostname, datacenter) (cpu_usage_user)",
    r#"sum by (hostname) (rate(node_cpu_seconds_total{mode="user"}[5m])) * on(hostname) group_left(os, arch) cpu_usage_user"#,
    r#"sum by (host) (label_replace(rate(node_cpu_seconds_total{mode="system"}[5m]), "host", "$1", "hostname", "host_(.*)"))"#,
    // Classic histograms.
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "@24h histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.9, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.99, sum by (le, region) (rate(http_request_duration_seconds_bucket[10m])))",
    r#"histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{hostname="host_3"}[5m]))"#,
    r#"histogram_quantile(0.75, sum by (le) (rate(http_request_duration_seconds_bucket{handler="/api/write"}[5m])))"#,
    "histogram_quantile(0.5, sum by (le) (increase(http_request_duration_seconds_bucket[1h])))",
    "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))",
    "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
    "sum by (handler) (rate(http_request_duration_seconds_count[5m]))",
    r#"sum by (handler) (rate(http_request_duration_seconds_bucket{le="0.1"}[5m])) / sum by (handler) (rate(http_request_duration_seconds_count[5m]))"#,
    r#"sum(rate(http_request_duration_seconds_bucket{le="+Inf"}[5m])) by (handler)"#,
    r#"rate(http_request_duration_seconds_bucket{hostname="host_1", handler="/api/query"}[5m])"#,
    "increase(http_request_duration_seconds_count[1h])",
    "topk(3, sum by (hostname) (rate(http_request_duration_seconds_count[5m])))",
    "@24h sum(increase(http_request_duration_seconds_count[1h]))",
];

/// The end of every query: 30 s before the end of the generated day. The
/// samples lie 5 s past multiples of 10 s and a subquery's steps on
/// multiples of its step (whole minutes here), so with the queries' times
/// 30 s past the minute none of them lies on the edge of a range,
/// lookback or subquery window, where Prometheus 2 (closed windows) and
/// Prometheus 3 (left-open, as Chronicle) differ by one point.
const END_S: i64 = START_NS / 1_000_000_000 + 86_400 - 30;
/// Longer than Prometheus's default query timeout (2 m).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

struct Args {
    chronicle: String,
    prometheus: String,
    runs: usize,
    dump: Option<PathBuf>,
    only: Option<String>,
}

fn usage(problem: &str) -> ! {
    eprintln!("promql_peers: {problem}");
    eprintln!("usage: promql_peers --chronicle URL --prometheus URL [--runs 5] [--dump DIR] [--only SUBSTRING]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let (mut chronicle, mut prometheus, mut runs, mut dump, mut only) = (None, None, 5, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // `cargo bench` adds `--bench` to every bench binary's arguments.
        if arg == "--bench" {
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--chronicle" => chronicle = Some(value.trim_end_matches('/').to_owned()),
            "--prometheus" => prometheus = Some(value.trim_end_matches('/').to_owned()),
            "--runs" => {
                runs = value.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage("--runs: a positive integer"))
            }
            "--dump" => dump = Some(PathBuf::from(value)),
            "--only" => only = Some(value),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    Args {
        chronicle: chronicle.unwrap_or_else(|| usage("--chronicle is required")),
        prometheus: prometheus.unwrap_or_else(|| usage("--prometheus is required")),
        runs,
        dump,
        only,
    }
}

/// One query as sent: the expression and its range.
struct RangeQuery<'a> {
    shown: &'a str,
    expr: &'a str,
    start: i64,
    step: i64,
}

impl<'a> RangeQuery<'a> {
    fn new(shown: &'a str) -> Self {
        match shown.strip_prefix("@24h ") {
            Some(expr) => Self { shown, expr, start: END_S - 86_400, step: 300 },
            None => Self { shown, expr: shown, start: END_S - 6 * 3_600, step: 60 },
        }
    }

    /// The form body Grafana posts.
    fn form(&self) -> [(&'static str, String); 4] {
        self.form_of(self.expr)
    }

    /// The form body of `expr` over this query's range.
    fn form_of(&self, expr: &str) -> [(&'static str, String); 4] {
        [
            ("query", expr.to_owned()),
            ("start", self.start.to_string()),
            ("end", END_S.to_string()),
            ("step", self.step.to_string()),
        ]
    }
}

/// Posts `form` to `base`'s `/api/v1/query_range`; the status, the body
/// and the wall time.
fn post(agent: &ureq::Agent, base: &str, form: &[(&str, String)]) -> (u16, String, Duration) {
    let started = Instant::now();
    let mut response = agent
        .post(format!("{base}/api/v1/query_range"))
        .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
        .unwrap_or_else(|e| panic!("{base}: {e}"));
    let text = response.body_mut().with_config().limit(1 << 30).read_to_string().unwrap();
    (response.status().as_u16(), text, started.elapsed())
}

/// A range result: the series by their label sets, each its points
/// (milliseconds, value).
type Matrix = BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>>;

fn number(v: &Value) -> f64 {
    match v.as_str().unwrap_or_default() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        s => s.parse().unwrap_or(f64::NAN),
    }
}

/// The result type and the series of a success body, or why it is not one.
fn parse(body: &str) -> Result<(String, Matrix), String> {
    let json: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {:.200}", body))?;
    if json["status"] != "success" {
        return Err(format!("{:.300}", body));
    }
    let kind = json["data"]["resultType"].as_str().unwrap_or_default().to_owned();
    let mut matrix = Matrix::new();
    for series in json["data"]["result"].as_array().into_iter().flatten() {
        let labels = series["metric"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let points = series["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| ((p[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64, number(&p[1])))
            .collect();
        if matrix.insert(labels, points).is_some() {
            return Err("a label set appears twice".into());
        }
    }
    Ok((kind, matrix))
}

/// Prometheus's `almostEqual` (promql/test.go) with epsilon 1e-6.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    if a.is_nan() && b.is_nan() || a == b {
        return true;
    }
    let (sum, diff) = (a.abs() + b.abs(), (a - b).abs());
    if a == 0.0 || b == 0.0 || sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / sum.min(f64::MAX) < EPSILON
}

/// Both answers, Chronicle's first, if both are successes of one result
/// type and Prometheus's has series; else what is wrong.
fn parse_both(chronicle: &str, prometheus: &str) -> Result<(Matrix, Matrix), String> {
    let (want_kind, want) = parse(prometheus).map_err(|e| format!("prometheus failed: {e}"))?;
    let (got_kind, got) = parse(chronicle).map_err(|e| format!("chronicle failed: {e}"))?;
    if want.is_empty() {
        return Err("prometheus answers no series: nothing is checked".into());
    }
    if got_kind != want_kind {
        return Err(format!("result type {got_kind}, prometheus {want_kind}"));
    }
    Ok((got, want))
}

/// None if the answers agree, else the first difference found.
fn compare(chronicle: &str, prometheus: &str) -> Option<String> {
    let (got, want) = match parse_both(chronicle, prometheus) {
        Ok(both) => both,
        Err(e) => return Some(e),
    };
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Some(format!(
            "{} series, prometheus {}; {} missing (first {:?}), {} extra (first {:?})",
            got.len(),
            want.len(),
            missing.len(),
            missing.first(),
            extra.len(),
            extra.first()
        ));
    }
    for (labels, want_points) in &want {
        let got_points = &got[labels];
        let mut differences = got_points.len().abs_diff(want_points.len());
        let mut first = None;
        let by_time: BTreeMap<i64, f64> = got_points.iter().copied().collect();
        for &(t, w) in want_points {
            let ok = by_time.get(&t).is_some_and(|&g| almost_equal(g, w));
            if !ok {
                differences += 1;
                first.get_or_insert((t, by_time.get(&t).copied(), w));
            }
        }
        if differences > 0 {
            let at = first.map_or_else(
                || "extra points".to_owned(),
                |(t, g, w)| format!("first at {t} ms: chronicle {g:?}, prometheus {w}"),
            );
            return Some(format!(
                "series {labels:?}: {} points, prometheus {}; {differences} differ, {at}",
                got_points.len(),
                want_points.len()
            ));
        }
    }
    None
}

/// The expression a `topk` / `bottomk` at the top of `expr` picks from.
fn picked_from(expr: &str) -> Option<String> {
    match parser::parse(expr).ok()? {
        Expr::Aggregate(agg) if matches!(agg.op.id(), T_TOPK | T_BOTTOMK) => Some(agg.expr.to_string()),
        _ => None,
    }
}

/// None if a `topk` / `bottomk` answer agrees with Prometheus's up to ties:
/// at every step the values are Prometheus's as a multiset, and each
/// series' value is its own value at that step in `input`, Prometheus's
/// answer for the expression picked from. Else the first difference.
fn compare_ties(chronicle: &str, prometheus: &str, input: &str) -> Option<String> {
    let (got, want) = match parse_both(chronicle, prometheus) {
        Ok(both) => both,
        Err(e) => return Some(e),
    };
    let input = match parse(input) {
        Ok((_, input)) => input,
        Err(e) => return Some(format!("prometheus failed on the input: {e}")),
    };
    let by_step = |m: &Matrix| {
        let mut steps: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for &(t, v) in m.values().flatten() {
            steps.entry(t).or_default().push(v);
        }
        steps.values_mut().for_each(|vs| vs.sort_by(f64::total_cmp));
        steps
    };
    let (got_steps, want_steps) = (by_step(&got), by_step(&want));
    if let Some(t) = got_steps.keys().chain(want_steps.keys()).find(|t| {
        let (g, w) = (got_steps.get(t), want_steps.get(t));
        !g.zip(w).is_some_and(|(g, w)| g.len() == w.len() && g.iter().zip(w).all(|(&a, &b)| almost_equal(a, b)))
    }) {
        return Some(format!("at {t} ms: values {:?}, prometheus {:?}", got_steps.get(t), want_steps.get(t)));
    }
    for (labels, points) in &got {
        let own: BTreeMap<i64, f64> = input.get(labels).into_iter().flatten().copied().collect();
        if let Some((t, v)) = points.iter().find(|(t, v)| !own.get(t).is_some_and(|&o| almost_equal(o, *v))) {
            return Some(format!("series {labels:?} at {t} ms: {v}, its own value {:?}", own.get(t)));
        }
    }
    None
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    let mid = times.len() / 2;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if times.len() % 2 == 1 { ms(times[mid]) } else { (ms(times[mid - 1]) + ms(times[mid])) / 2.0 }
}

fn main() {
    let args = parse_args();
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(REQUEST_TIMEOUT)).http_status_as_error(false).build().into();
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir).unwrap();
    }
    let queries: Vec<RangeQuery> = QUERIES
        .iter()
        .filter(|q| args.only.as_ref().is_none_or(|o| q.contains(o.as_str())))
        .map(|q| RangeQuery::new(q))
        .collect();
    let mut lines = Vec::new();
    let (mut matching, mut ratios) = (0, Vec::new());
    for (i, query) in queries.iter().enumerate() {
        let body = query.form();
        // The warm-up answers are the ones compared.
        let (chronicle_status, chronicle_body, _) = post(&agent, &args.chronicle, &body);
        let (prometheus_status, prometheus_body, _) = post(&agent, &args.prometheus, &body);
        let mut difference = compare(&chronicle_body, &prometheus_body);
        if let Some(strict) = difference.clone()
            && let Some(input) = picked_from(query.expr)
        {
            let (_, input_body, _) = post(&agent, &args.prometheus, &query.form_of(&input));
            difference = compare_ties(&chronicle_body, &prometheus_body, &input_body);
            if difference.is_none() {
                eprintln!("promql_peers: {} matches up to ties ({strict})", query.shown);
            }
        }
        if let Some(difference) = &difference {
            eprintln!(
                "promql_peers: MISMATCH {}: {difference} (status {chronicle_status}, prometheus {prometheus_status})",
                query.shown
            );
            if let Some(dir) = &args.dump {
                std::fs::write(dir.join(format!("{i:03}-chronicle.json")), &chronicle_body).unwrap();
                std::fs::write(dir.join(format!("{i:03}-prometheus.json")), &prometheus_body).unwrap();
                std::fs::write(dir.join(format!("{i:03}-query.txt")), format!("{}\n", query.shown)).unwrap();
            }
        } else {
            matching += 1;
        }
        let (mut chronicle_times, mut prometheus_times) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            chronicle_times.push(post(&agent, &args.chronicle, &body).2);
            prometheus_times.push(post(&agent, &args.prometheus, &body).2);
        }
        let (chronicle_ms, prometheus_ms) = (median(chronicle_times), median(prometheus_times));
        let ratio = chronicle_ms / prometheus_ms;
        ratios.push(ratio);
        let line = format!(
            "{}\t{}\t{chronicle_ms:.1}\t{prometheus_ms:.1}\t{ratio:.2}",
            query.shown,
            if difference.is_none() { "yes" } else { "no" }
        );
        eprintln!("promql_peers: [{}/{}] {line}", i + 1, queries.len());
        lines.push(line);
    }
    ratios.sort_by(f64::total_cmp);
    let median_ratio = if ratios.is_empty() {
        f64::NAN
    } else if ratios.len() % 2 == 1 {
        ratios[ratios.len() / 2]
    } else {
        (ratios[ratios.len() / 2 - 1] + ratios[ratios.len() / 2]) / 2.0
    };
    println!("query\tmatch\tchronicle_ms\tprometheus_ms\tratio");
    for line in &lines {
        println!("{line}");
    }
    println!("matching\t{matching} of {}", queries.len());
    println!("median ratio\t{median_ratio:.2}");
}
