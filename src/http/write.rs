//! InfluxDB-compatible writes: `POST /write` (1.x) and `POST /api/v2/write`
//! (2.x), and [`ingest`], the one path every write route of the server
//! (these, Prometheus remote write, OTLP) takes from body to storage.
//!
//! Both routes take InfluxDB line protocol, or Chronicle's JSON points
//! (`{"points":[{"metric","tags","value","timestamp"}]}`) when the
//! `Content-Type` is `application/json`, plain or gzip (`Content-Encoding`).
//! Parameters:
//! - `/write`: `precision` = `ns` (default) | `n` | `u` | `us` | `µ` | `ms`
//!   | `s` | `m` | `h`; `db` and `rp` are accepted and may be left out;
//!   `u` and `p` are credentials, read by `auth`.
//! - `/api/v2/write`: `precision` = `ns` (default) | `us` | `ms` | `s`, as
//!   InfluxDB 2 takes; `bucket`, `org` and `orgID` are accepted and may be
//!   left out.
//!
//! Chronicle serves one database, so `db`, `rp`, `bucket` and `org` do not
//! choose where points go: every write lands in it, whatever they name.
//! Clients that require them (all InfluxDB clients send them) work
//! unchanged, and a client that leaves them out is not refused.
//!
//! Answers: 204 when every point is stored (as the sync policy defines
//! stored); 400 in InfluxDB's `{"error": ...}` shape naming the line and
//! column (line protocol) or the point (JSON) when any point is bad, in
//! which case nothing of the body is stored.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde::Deserialize;

use super::auth::{Caller, Scope};
use super::error::{ApiError, Kind};
use super::limits::read_body;
use super::state::AppState;
use crate::ingest::{self, Precision, json, line_protocol};
use crate::{Db, Row};

/// How a route's body is parsed and stored (with one write); runs on the
/// blocking pool.
pub(crate) type Store = Box<dyn FnOnce(&[u8], &Db) -> Result<Stored, ApiError> + Send>;

/// Stores parsed rows with one [`Db::write_rows`].
pub(crate) fn store_rows(rows: ingest::Result<Vec<Row>>, db: &Db) -> Result<Stored, ApiError> {
    let rows = rows?;
    db.write_rows(&rows)?;
    Ok(Stored { rows: rows.len(), points: rows.iter().map(|r| r.fields.len()).sum() })
}

/// What one write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    /// Rows (series and timestamp) written.
    pub rows: usize,
    /// Field values written.
    pub points: usize,
}

/// The one write path: reads the body under the server's limits (taking
/// snappy bodies as sent when `snappy_passes`), then on the blocking pool
/// parses it whole with `parse` and stores the rows with one
/// [`Db::write_rows`](crate::Db::write_rows). Concurrent requests so share
/// the WAL's group commits. Counts what was stored in the server's metrics.
/// Errors are in the shape of the route at `path`.
pub(crate) async fn ingest(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    snappy_passes: bool,
    store: Store,
) -> Result<Stored, ApiError> {
    let stored = async {
        let bytes = read_body(&state.config.limits, headers, body, snappy_passes).await?;
        let db = std::sync::Arc::clone(&state.db);
        let stored = tokio::task::spawn_blocking(move || -> Result<Stored, ApiError> { store(&bytes, &db) })
            .await
            .map_err(|e| ApiError::new(Kind::Internal, format!("the write task failed: {e}")))??;
        state.metrics.ingested(stored.rows, stored.points);
        Ok(stored)
    };
    stored.await.map_err(|e: ApiError| e.for_path(path))
}

/// Nanoseconds since the Unix epoch now: the time of points that carry none.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(V1_PATH, post(write_v1)).route(V2_PATH, post(write_v2))
}

const V1_PATH: &str = "/write";
const V2_PATH: &str = "/api/v2/write";

/// `/write` parameters; `u` and `p` are read by `auth`, unknown ones ignored
/// as InfluxDB ignores them.
#[derive(Debug, Deserialize)]
struct V1Params {
    /// The database: accepted, one database is served.
    #[serde(rename = "db")]
    _db: Option<String>,
    /// The retention policy: accepted, retention is the server's.
    #[serde(rename = "rp")]
    _rp: Option<String>,
    precision: Option<String>,
}

/// `/api/v2/write` parameters.
#[derive(Debug, Deserialize)]
struct V2Params {
    /// The bucket: accepted, one database is served.
    #[serde(rename = "bucket")]
    _bucket: Option<String>,
    /// The organisation: accepted, there are none.
    #[serde(rename = "org")]
    _org: Option<String>,
    precision: Option<String>,
}

async fn write_v1(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<V1Params>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ReadWrite).map_err(|e| e.for_path(V1_PATH))?;
    let Query(params) = params.map_err(|e| ApiError::bad_data(e.body_text()).for_path(V1_PATH))?;
    let precision = match params.precision.as_deref() {
        None | Some("") => Precision::Nanoseconds,
        Some(p) => p.parse().map_err(|e: ingest::Error| ApiError::from(e).for_path(V1_PATH))?,
    };
    write(&state, V1_PATH, &headers, body, precision).await
}

async fn write_v2(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<V2Params>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ReadWrite).map_err(|e| e.for_path(V2_PATH))?;
    let Query(params) = params.map_err(|e| ApiError::bad_data(e.body_text()).for_path(V2_PATH))?;
    let precision = match params.precision.as_deref() {
        None | Some("") | Some("ns") => Precision::Nanoseconds,
        Some("us") => Precision::Microseconds,
        Some("ms") => Precision::Milliseconds,
        Some("s") => Precision::Seconds,
        Some(other) => {
            return Err(ApiError::bad_data(format!("precision: unknown precision {other:?} (ns, us, ms or s)"))
                .for_path(V2_PATH));
        }
    };
    write(&state, V2_PATH, &headers, body, precision).await
}

/// Line protocol, or JSON points when the body says it is JSON.
async fn write(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    precision: Precision,
) -> Result<StatusCode, ApiError> {
    let now = now_ns();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    let store: Store = if is_json {
        Box::new(move |body, db| store_rows(json::parse(body, now), db))
    } else {
        Box::new(move |body, db| store_rows(line_protocol::parse(body, precision, now), db))
    };
    ingest(state, path, headers, body, false, store).await?;
    Ok(StatusCode::NO_CONTENT)
}
