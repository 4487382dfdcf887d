//! Health checks (`/health`, `/health/ready`, `/health/live`, InfluxDB's
//! `/ping`) and the server's own metrics in Prometheus text format
//! (`/metrics`), with the middleware that times every request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::state::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A Prometheus histogram of durations.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not cumulative).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.counts[bucket] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One route's latency, and its responses by status code.
type RouteStats = (Histogram, BTreeMap<u16, u64>);

/// The server's own counters and histograms.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    points: AtomicU64,
    rows: AtomicU64,
    /// By route: latency, and responses by status code.
    requests: Mutex<BTreeMap<String, RouteStats>>,
    /// By query language.
    queries: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Metrics {
    /// Counts a stored write of `rows` rows holding `points` field values.
    pub fn ingested(&self, rows: usize, points: usize) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.points.fetch_add(points as u64, Ordering::Relaxed);
    }

    /// Records a query in `lang` that took `elapsed`.
    pub fn query(&self, lang: &'static str, elapsed: Duration) {
        if let Ok(mut queries) = self.queries.lock() {
            queries.entry(lang).or_default().observe(elapsed);
        }
    }

    fn request(&self, route: &str, status: StatusCode, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            let (latency, codes) = requests.entry(route.to_owned()).or_default();
            latency.observe(elapsed);
            *codes.entry(status.as_u16()).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of these metrics and the database's.
    fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "chronicle_points_ingested_total",
            "Field values stored by writes.",
            self.points.load(Ordering::Relaxed),
        );
        counter(
            "chronicle_rows_ingested_total",
            "Rows (series and timestamp) stored by writes.",
            self.rows.load(Ordering::Relaxed),
        );
        counter(
            "chronicle_flushes_total",
            "Flushes of memory to the database file since start.",
            state.db.flush_count().unwrap_or(0),
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge("chronicle_series", "Series in the database.", state.db.series_count().unwrap_or(0) as u64);
        gauge("chronicle_wal_bytes", "Bytes of write-ahead log on disk.", state.db.wal_bytes().unwrap_or(0));
        if let Ok(requests) = self.requests.lock() {
            out.push_str("# HELP chronicle_http_requests_total HTTP responses by route and status code.\n# TYPE chronicle_http_requests_total counter\n");
            for (route, (_, codes)) in requests.iter() {
                for (code, n) in codes {
                    let _ = writeln!(out, "chronicle_http_requests_total{{route=\"{route}\",code=\"{code}\"}} {n}");
                }
            }
            out.push_str("# HELP chronicle_http_request_duration_seconds HTTP request latency by route.\n# TYPE chronicle_http_request_duration_seconds histogram\n");
            for (route, (latency, _)) in requests.iter() {
                latency.render(&mut out, "chronicle_http_request_duration_seconds", &format!("route=\"{route}\""));
            }
        }
        if let Ok(queries) = self.queries.lock() {
            out.push_str("# HELP chronicle_query_duration_seconds Query latency by language.\n# TYPE chronicle_query_duration_seconds histogram\n");
            for (lang, latency) in queries.iter() {
                latency.render(&mut out, "chronicle_query_duration_seconds", &format!("lang=\"{lang}\""));
            }
        }
        out
    }
}

/// Times every request and counts its status under its route pattern
/// (`/api/v1/write`, not the full URI, so labels stay few).
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(&route, response.status(), started.elapsed());
    response
}

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/ping", get(ping).head(ping))
        .route("/metrics", get(metrics))
}

/// Overall health: the database answers.
async fn health(State(state): State<AppState>) -> Response {
    match state.db.series_count() {
        Ok(series) => {
            axum::Json(serde_json::json!({"status": "pass", "series": series, "version": env!("CARGO_PKG_VERSION")}))
                .into_response()
        }
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "fail", "error": e.to_string()})))
                .into_response()
        }
    }
}

/// The process runs.
async fn live() -> &'static str {
    "ok\n"
}

/// Ready for traffic: the database is open and takes writes.
async fn ready(State(state): State<AppState>) -> Response {
    match state.db.series_count() {
        Ok(_) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// InfluxDB's ping: 204 with the version headers its clients read.
async fn ping() -> Response {
    let version = HeaderValue::from_static(concat!("chronicle-", env!("CARGO_PKG_VERSION")));
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-influxdb-version"), version);
    headers.insert(HeaderName::from_static("x-influxdb-build"), HeaderValue::from_static("OSS"));
    response
}

/// The metrics in Prometheus text format 0.0.4.
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        for ms in [0, 3, 3, 40, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"/w\"");
        assert!(out.contains("x_bucket{route=\"/w\",le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/w\",le=\"0.005\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/w\",le=\"10\"} 4\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/w\",le=\"+Inf\"} 5\n"), "{out}");
        assert!(out.contains("x_count{route=\"/w\"} 5\n"), "{out}");
    }
}
