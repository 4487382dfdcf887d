//! Prometheus remote write (`POST /api/v1/write`, alias
//! `/prometheus/write`) and remote read (`POST /api/v1/read`).
//!
//! Remote write bodies are snappy block compressed protobuf, parsed by
//! [`crate::ingest::remote_write`] under `max_decompressed_bytes`: the
//! declared length is checked before anything is allocated, so a tiny body
//! claiming gigabytes is a 413 costing nothing. Stored through the one write
//! path ([`write::ingest`]): 204 when stored, 400 naming the series and
//! label for duplicate labels, an empty metric name or a reserved label
//! (`__tenant__`), with nothing of the body stored. Values are kept bit for
//! bit, so staleness markers stay markers.
//!
//! Remote read answers with the samples response (snappy protobuf) from
//! [`Db::scan`]. Each (measurement, field) is the metric Prometheus sees:
//! `measurement` for the field `value` (what remote write and OTLP store),
//! `measurement_field` otherwise, as the PromQL view names it. Matchers on
//! `__name__` pick the metrics; the others (`=`, `!=`, `=~`, `!~`, a
//! missing label comparing as empty) pick the series. Times are
//! milliseconds, both ends inclusive; a row where the metric's field has no
//! value is no sample.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::auth::{Caller, Scope};
use super::error::{ApiError, Kind};
use super::limits::read_body;
use super::state::AppState;
use super::write;
use crate::ingest::prompb::{Query, QueryResult, ReadRequest, ReadResponse, Sample, TimeSeries};
use crate::ingest::remote_read::{accepts_samples, decode_request, encode_response, series_labels, tag_matcher};
use crate::ingest::remote_write::{self, METRIC_NAME_LABEL};
use crate::ingest::snappy;
use crate::promql::{Metric, catalog};
use crate::{Db, ScanRequest};

const WRITE_PATH: &str = "/api/v1/write";
const WRITE_ALIAS: &str = "/prometheus/write";
const READ_PATH: &str = "/api/v1/read";

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(WRITE_PATH, post(remote_write))
        .route(WRITE_ALIAS, post(remote_write))
        .route(READ_PATH, post(remote_read))
}

/// Both write paths: the path only names the route in errors.
async fn remote_write(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    store(&state, caller, uri.path(), &headers, body).await
}

async fn store(
    state: &AppState,
    caller: Caller,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ReadWrite)?;
    let limit = state.config.limits.max_decompressed_bytes;
    let store: write::Store = Box::new(move |body, db| {
        let bytes = snappy::decompress(body, limit)?;
        let samples = remote_write::samples(&bytes)?;
        let views: Vec<remote_write::SampleRow<'_>> = samples.views().collect();
        db.write_views(&views)?;
        Ok(write::Stored { rows: views.len(), points: views.len() })
    });
    write::ingest(state, path, headers, body, true, store).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remote_read(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let limits = &state.config.limits;
    let sent = read_body(limits, &headers, body, true).await?;
    let request = decode_request(&sent, limits.max_decompressed_bytes)?;
    if !accepts_samples(&request) {
        return Err(ApiError::bad_data(
            "accepted_response_types: Chronicle answers remote read with SAMPLES only; accept it",
        ));
    }
    let db = Arc::clone(&state.db);
    let response = tokio::task::spawn_blocking(move || answer(&db, &request))
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("the remote read task failed: {e}")))??;
    let bytes = encode_response(&response)?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    Ok(response)
}

/// The samples of every query of `request`, in order.
fn answer(db: &Db, request: &ReadRequest) -> Result<ReadResponse, ApiError> {
    let mut results = Vec::with_capacity(request.queries.len());
    for (i, query) in request.queries.iter().enumerate() {
        results.push(select(db, i, query)?);
    }
    Ok(ReadResponse { results })
}

/// The series query `i` selects, each with its samples in range.
fn select(db: &Db, i: usize, query: &Query) -> Result<QueryResult, ApiError> {
    let (mut names, mut tags) = (Vec::new(), Vec::new());
    for (j, matcher) in query.matchers.iter().enumerate() {
        let m = tag_matcher(i, j, matcher)?;
        if matcher.name == METRIC_NAME_LABEL { names.push(m) } else { tags.push(m) }
    }
    let start = query.start_timestamp_ms.saturating_mul(1_000_000);
    // Samples are in milliseconds: the whole last millisecond is in range.
    let end = query.end_timestamp_ms.saturating_mul(1_000_000).saturating_add(999_999);
    let mut series: BTreeMap<Vec<(String, String)>, Vec<Sample>> = BTreeMap::new();
    for Metric { name, measurement, field } in catalog(db)? {
        if !names.iter().all(|m| m.matches(Some(&name))) {
            continue;
        }
        let mut scan = ScanRequest::new(&measurement).with_fields([&field]).with_time_range(start, end);
        scan.matchers.clone_from(&tags);
        for batch in db.scan(&scan)? {
            add_samples(&batch?, &name, &mut series)?;
        }
    }
    let timeseries = series
        .into_iter()
        .map(|(labels, mut samples)| {
            samples.sort_by_key(|s| s.timestamp);
            TimeSeries { labels: labels_of(labels), samples, ..Default::default() }
        })
        .collect();
    Ok(QueryResult { timeseries })
}

/// The labels of a series, `__name__` first in the map key so the answer's
/// order is by name and then labels.
fn labels_of(key: Vec<(String, String)>) -> Vec<crate::ingest::prompb::Label> {
    let mut pairs = key.into_iter();
    let name = pairs.next().map(|(_, v)| v).unwrap_or_default();
    series_labels(&name, &pairs.collect::<Vec<_>>())
}

/// Adds the samples of one scan batch (time, tags..., the field) to the
/// series they belong to. Tag columns share a dictionary across the
/// batches of a scan, so the dictionary keys of a row name its series.
fn add_samples(
    batch: &RecordBatch,
    metric: &str,
    series: &mut BTreeMap<Vec<(String, String)>, Vec<Sample>>,
) -> Result<(), ApiError> {
    let schema = batch.schema();
    let columns = batch.num_columns();
    let malformed = || ApiError::new(Kind::Internal, "a scan returned columns of unexpected types");
    let times = batch.column(0).as_primitive_opt::<TimestampNanosecondType>().ok_or_else(malformed)?;
    let values = batch.column(columns - 1).as_primitive_opt::<Float64Type>().ok_or_else(malformed)?;
    let tags = (1..columns - 1)
        .map(|c| {
            let column = batch.column(c).as_dictionary_opt::<Int32Type>().ok_or_else(malformed)?;
            let strings = column.values().as_string_opt::<i32>().ok_or_else(malformed)?;
            Ok((schema.field(c).name().as_str(), column.keys(), strings))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Rows come grouped by series: each run of rows with the same keys is
    // appended to its series at once.
    let mut run: Option<(Vec<Option<i32>>, Vec<Sample>)> = None;
    let mut flush = |run: Option<(Vec<Option<i32>>, Vec<Sample>)>| -> Result<(), ApiError> {
        let Some((keys, samples)) = run else { return Ok(()) };
        let mut labels = vec![(METRIC_NAME_LABEL.to_owned(), metric.to_owned())];
        for ((name, _, strings), key) in tags.iter().zip(&keys) {
            if let Some(key) = key {
                let value = strings.value(usize::try_from(*key).map_err(|_| malformed())?);
                labels.push(((*name).to_owned(), value.to_owned()));
            }
        }
        series.entry(labels).or_default().extend(samples);
        Ok(())
    };
    for row in 0..batch.num_rows() {
        if values.is_null(row) {
            continue;
        }
        let keys: Vec<Option<i32>> = tags.iter().map(|(_, k, _)| k.is_valid(row).then(|| k.value(row))).collect();
        if run.as_ref().is_none_or(|(k, _)| *k != keys) {
            flush(run.take())?;
            run = Some((keys, Vec::new()));
        }
        if let Some((_, samples)) = &mut run {
            samples.push(Sample { value: values.value(row), timestamp: times.value(row).div_euclid(1_000_000) });
        }
    }
    flush(run)?;
    Ok(())
}
