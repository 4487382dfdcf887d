//! Prometheus's HTTP query API: `/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`,
//! `/api/v1/metadata`, `/api/v1/query_exemplars`, `/api/v1/format_query`,
//! `/api/v1/status/buildinfo` and `/api/v1/status/runtimeinfo`, GET or POST
//! form, answered in Prometheus's JSON shapes (sample values as strings,
//! times as float seconds, `warnings` and `infos` beside `data`), so
//! Grafana and `promtool` use Chronicle as they use Prometheus.
//!
//! Parameters take Prometheus's forms: times as RFC 3339 or Unix seconds
//! (fractions allowed), `step` and `timeout` as a duration (`15s`, `1m30s`)
//! or seconds. Queries take a query slot like SQL queries and run on a
//! blocking thread; the server's query timeout caps the `timeout` asked.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::{Caller, Scope};
use super::error::{ApiError, Kind};
use super::prometheus_json::{Data, success_body};
use super::query::acquire_query_slot;
use super::state::AppState;
use crate::promql::{self, PromError, PromOptions, QueryResult};

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/query_exemplars", get(exemplars).post(exemplars))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/runtimeinfo", get(runtimeinfo))
}

/// The parameters of a request: the query string, then the form body.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(method: &Method, query: Option<String>, form: &[u8]) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if method == Method::POST {
            pairs.extend(form_urlencoded::parse(form).into_owned());
        }
        Ok(Params(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::bad_data(format!("invalid parameter \"{name}\": missing")))
    }

    /// A time parameter in milliseconds.
    fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| parse_time(v).map_err(|e| ApiError::bad_data(format!("invalid parameter \"{name}\": {e}"))))
            .transpose()
    }

    /// A duration parameter in milliseconds.
    fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| parse_duration(v).map_err(|e| ApiError::bad_data(format!("invalid parameter \"{name}\": {e}"))))
            .transpose()
    }

    /// The optional `start`/`end` range of the label APIs.
    fn range(&self) -> Result<Option<(i64, i64)>, ApiError> {
        match (self.time("start")?, self.time("end")?) {
            (None, None) => Ok(None),
            (start, end) => Ok(Some((start.unwrap_or(i64::MIN / 1_000_000), end.unwrap_or(i64::MAX / 1_000_000)))),
        }
    }
}

/// Reads the parameters of a request from its query string and form body.
fn params(method: Method, query: RawQuery, form: RawForm) -> Result<Params, ApiError> {
    Params::new(&method, query.0, &form.0)
}

/// Milliseconds of a Prometheus time: Unix seconds or RFC 3339.
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.2e15 {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(text)
        .map(|ns| ns.div_euclid(1_000_000))
        .map_err(|_| format!("cannot parse {text:?} to a valid timestamp"))
}

/// Milliseconds of a Prometheus duration: `1h30m`, `15s`, `100ms`, `2d`,
/// `1w`, `1y`, or seconds.
fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {text:?} to a valid duration");
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.2e15 {
            return Err(bad());
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    let mut total: i64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit: i64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = number.checked_mul(unit).and_then(|n| total.checked_add(n)).ok_or_else(bad)?;
    }
    Ok(total)
}

/// A Prometheus success body carrying `data`.
fn success(data: Value) -> Response {
    json_response(success_body(Data::Json(&data), &[], &[]))
}

/// A Prometheus success body carrying a query's result.
fn query_success(result: &QueryResult) -> Response {
    json_response(success_body(Data::Query(&result.value), &result.warnings, &result.infos))
}

fn json_response(body: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl From<PromError> for ApiError {
    fn from(e: PromError) -> Self {
        let kind = match &e {
            PromError::BadData(_) => Kind::BadData,
            PromError::Execution(_) | PromError::Limit(_) => Kind::Execution,
            PromError::Timeout(_) => Kind::Timeout,
            PromError::Storage(inner) => return ApiError::from(crate::Error::InvalidArgument(inner.to_string())),
            PromError::Engine(_) => Kind::Internal,
        };
        ApiError::new(kind, e.to_string())
    }
}

/// Runs an evaluation on a blocking thread, holding a query slot.
async fn evaluate(
    state: &AppState,
    params: &Params,
    run: impl FnOnce(&crate::Db, &PromOptions) -> promql::Result<QueryResult> + Send + 'static,
) -> Result<QueryResult, ApiError> {
    let limit = state.config.limits.query_timeout;
    let asked = params.duration("timeout")?.map(|ms| Duration::from_millis(ms.max(0) as u64));
    let options = PromOptions { timeout: asked.map_or(limit, |a| a.min(limit)), ..PromOptions::default() };
    let permit = acquire_query_slot(state).await?;
    let db = state.db.clone();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let result = run(&db, &options);
        drop(permit);
        result
    })
    .await
    .map_err(|e| ApiError::new(Kind::Internal, format!("the query task failed: {e}")))?;
    state.metrics.query("promql", started.elapsed());
    Ok(result?)
}

/// `/api/v1/query`: an instant query.
async fn query(
    caller: Caller,
    State(state): State<AppState>,
    method: Method,
    q: RawQuery,
    f: RawForm,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = params(method, q, f)?;
    let expr = params.required("query")?.to_owned();
    let time = params.time("time")?.unwrap_or_else(now_ms);
    let result = evaluate(&state, &params, move |db, options| db.promql_instant(&expr, time, options)).await?;
    Ok(query_success(&result))
}

/// `/api/v1/query_range`: a range query.
async fn query_range(
    caller: Caller,
    State(state): State<AppState>,
    method: Method,
    q: RawQuery,
    f: RawForm,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = params(method, q, f)?;
    let expr = params.required("query")?.to_owned();
    let start = params.time("start")?.ok_or_else(|| ApiError::bad_data("invalid parameter \"start\": missing"))?;
    let end = params.time("end")?.ok_or_else(|| ApiError::bad_data("invalid parameter \"end\": missing"))?;
    let step = params.duration("step")?.ok_or_else(|| ApiError::bad_data("invalid parameter \"step\": missing"))?;
    if end < start {
        return Err(ApiError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let result =
        evaluate(&state, &params, move |db, options| db.promql_range(&expr, start, end, step, options)).await?;
    Ok(query_success(&result))
}

/// Prometheus's cap on the steps of a range query.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// `/api/v1/series`.
async fn series(
    caller: Caller,
    State(state): State<AppState>,
    method: Method,
    q: RawQuery,
    f: RawForm,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = params(method, q, f)?;
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let range = params.range()?;
    let db = state.db.clone();
    let found = blocking(move || promql::labels::series(&db, &selectors, range)).await?;
    let data: Vec<Value> = found
        .iter()
        .map(|l| Value::Object(l.iter().map(|(n, v)| (n.to_owned(), Value::String(v.to_owned()))).collect()))
        .collect();
    Ok(success(Value::Array(data)))
}

/// `/api/v1/labels`.
async fn labels(
    caller: Caller,
    State(state): State<AppState>,
    method: Method,
    q: RawQuery,
    f: RawForm,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = params(method, q, f)?;
    let selectors = params.all("match[]");
    let range = params.range()?;
    let db = state.db.clone();
    let names = blocking(move || promql::labels::label_names(&db, &selectors, range)).await?;
    Ok(success(json!(names)))
}

/// `/api/v1/label/<name>/values`.
async fn label_values(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: RawQuery,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = Params::new(&Method::GET, q.0, &[])?;
    if !promql::valid_label_name(&name) {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let selectors = params.all("match[]");
    let range = params.range()?;
    let db = state.db.clone();
    let values = blocking(move || promql::labels::label_values(&db, &name, &selectors, range)).await?;
    Ok(success(json!(values)))
}

/// `/api/v1/metadata`: every metric, of unknown type (Chronicle keeps no
/// type or help text), at most `limit` of them (a negative limit is none,
/// as in Prometheus).
async fn metadata(caller: Caller, State(state): State<AppState>, q: RawQuery) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = Params::new(&Method::GET, q.0, &[])?;
    let only = params.get("metric").map(str::to_owned);
    let limit = match params.get("limit") {
        None => None,
        Some(text) => {
            let n: i64 =
                text.parse().map_err(|_| ApiError::bad_data(format!("invalid parameter \"limit\": {text:?}")))?;
            usize::try_from(n).ok()
        }
    };
    let db = state.db.clone();
    let names = blocking(move || promql::labels::label_values(&db, promql::METRIC_NAME, &[], None)).await?;
    let data: serde_json::Map<String, Value> = names
        .into_iter()
        .filter(|n| only.as_ref().is_none_or(|o| o == n))
        .take(limit.unwrap_or(usize::MAX))
        .map(|n| (n, json!([{ "type": "unknown", "help": "", "unit": "" }])))
        .collect();
    Ok(success(Value::Object(data)))
}

/// `/api/v1/query_exemplars`: Chronicle stores no exemplars.
async fn exemplars(caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    Ok(success(json!([])))
}

/// `/api/v1/format_query`: the query, pretty-printed.
async fn format_query(caller: Caller, method: Method, q: RawQuery, f: RawForm) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let params = params(method, q, f)?;
    let text = params.required("query")?.to_owned();
    let formatted = tokio::task::spawn_blocking(move || promql::format_query(&text, &PromOptions::default()))
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("the formatting task failed: {e}")))??;
    Ok(success(json!(formatted)))
}

/// The Prometheus release whose query API Chronicle answers as, reported as
/// `version` by `/api/v1/status/buildinfo`: clients read it as a
/// Prometheus version to decide what to ask (Grafana sends `match[]` to
/// the label APIs only from 2.24 on), so Chronicle's own version there
/// would make them fall back to the oldest requests.
const PROMETHEUS_API_VERSION: &str = "2.53.0";

/// `/api/v1/status/buildinfo`: the Prometheus API version, and Chronicle's
/// own version as `revision`.
async fn buildinfo(caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    Ok(success(json!({
        "version": PROMETHEUS_API_VERSION,
        "revision": concat!("chronicle-", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    })))
}

/// `/api/v1/status/runtimeinfo`.
async fn runtimeinfo(caller: Caller, State(state): State<AppState>) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let series = state.db.series_count()?;
    Ok(success(json!({
        "startTime": "",
        "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "reloadConfigSuccess": true,
        "lastConfigTime": "",
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": "",
        "timeSeriesCount": series,
    })))
}

/// Runs a label lookup on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> promql::Result<T> + Send + 'static) -> Result<T, ApiError> {
    let out = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("the lookup task failed: {e}")))?;
    Ok(out?)
}

fn now_ms() -> i64 {
    super::write::now_ns().div_euclid(1_000_000)
}
