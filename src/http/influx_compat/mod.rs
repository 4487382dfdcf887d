//! InfluxDB 1.x queries on `/query`: what the `influx` CLI and Grafana's
//! InfluxDB (InfluxQL) data source send, answered in InfluxDB's JSON.
//!
//! `GET|POST /query?db=...&q=...` (or `q` in a form body), several
//! statements separated by `;`, `epoch=ns|u|µ|ms|s|m|h` for integer times
//! (RFC 3339 without it). The answer is
//! `{"results":[{"statement_id":0,"series":[{"name","tags","columns","values"}]}]}`;
//! a statement that fails has `"error"` instead of `"series"` and the
//! statements after it are not run (`"error":"not executed"`), as in
//! InfluxDB. A statement that does not parse fails the whole request with
//! 400 and `{"error":"error parsing query: ... at line L, char C"}`.
//!
//! - `SELECT` (and `EXPLAIN`) run through the Chronicle dialect (see
//!   `query::dialect` for how it differs from InfluxQL); a series per
//!   group of `GROUP BY` tags, named after the measurement.
//! - `SHOW DATABASES`, `SHOW MEASUREMENTS [WITH MEASUREMENT = m | =~ /re/]
//!   [LIMIT n] [OFFSET n]`, `SHOW TAG KEYS [FROM m]`, `SHOW TAG VALUES
//!   [FROM m] WITH KEY = k | IN (k, ...)`, `SHOW FIELD KEYS [FROM m]`
//!   (every field is `float`), `SHOW SERIES [FROM m]` are answered from the
//!   index; each takes `ON db`, which, like the `db` parameter, is accepted
//!   and ignored: the server has one database, listed as `chronicle`, and
//!   every database name reaches it. `SHOW RETENTION POLICIES` answers the
//!   one policy, `autogen`, infinite, with the partition duration as its
//!   shard group duration. `CREATE DATABASE` succeeds and does nothing.
//!   Other statements fail with a message saying so.
//! - `chunked=true` is accepted and answered unchunked: one JSON object,
//!   which InfluxDB's chunked readers take as the only chunk.

mod statement;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::arrow::util::display::FormatOptions;

use self::statement::{NameFilter, Statement, split};
use super::error::{ApiError, Kind};
use super::format::json::{Cell, write_string};
use super::format::{TIMESTAMP_FORMAT, rfc3339_ns};
use super::query::{Lang, Params, Running};
use super::state::AppState;
use crate::Db;
use crate::error::Error;

/// The name `SHOW DATABASES` gives the one database.
const DATABASE: &str = "chronicle";

/// Answers an InfluxDB 1.x query request.
pub(crate) async fn answer(state: &AppState, params: &Params) -> Result<Response, ApiError> {
    let Some(q) = params.get("q") else {
        return Err(ApiError::bad_data("missing required parameter \"q\""));
    };
    let epoch = Epoch::parse(params.get("epoch"))?;
    let statements = split(q)
        .into_iter()
        .map(|(at, text)| Statement::parse(text).map_err(|e| e.locate(q, at)))
        .collect::<Result<Vec<_>, _>>()?;
    if statements.is_empty() {
        return Err(ApiError::bad_data("error parsing query: the query has no statement"));
    }
    let mut out = String::from("{\"results\":[");
    let mut failed = false;
    for (id, statement) in statements.iter().enumerate() {
        if id > 0 {
            out.push(',');
        }
        let result = if failed {
            Err("not executed".to_owned())
        } else {
            execute(state, statement, epoch).await.map_err(|e| e.message().to_owned())
        };
        let _ = write!(out, "{{\"statement_id\":{id}");
        match result {
            Ok(series) if series.is_empty() => {}
            Ok(series) => {
                out.push_str(",\"series\":[");
                for (i, s) in series.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    s.write(&mut out);
                }
                out.push(']');
            }
            Err(message) => {
                failed = true;
                out.push_str(",\"error\":");
                write_string(&mut out, &message);
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// How times are written: RFC 3339, or integers in a unit.
#[derive(Debug, Clone, Copy)]
enum Epoch {
    Rfc3339,
    /// Nanoseconds per unit.
    Unit(i64),
}

impl Epoch {
    fn parse(name: Option<&str>) -> Result<Epoch, ApiError> {
        Ok(match name {
            None | Some("") => Epoch::Rfc3339,
            Some("ns" | "n") => Epoch::Unit(1),
            Some("u" | "µ" | "us") => Epoch::Unit(1_000),
            Some("ms") => Epoch::Unit(1_000_000),
            Some("s") => Epoch::Unit(1_000_000_000),
            Some("m") => Epoch::Unit(60_000_000_000),
            Some("h") => Epoch::Unit(3_600_000_000_000),
            Some(other) => {
                return Err(ApiError::bad_data(format!("unknown epoch {other:?}: use ns, u, µ, ms, s, m or h")));
            }
        })
    }

    fn write(self, out: &mut String, ns: i64) {
        match self {
            // Integer division truncates toward zero, as InfluxDB's does.
            Epoch::Unit(unit) => {
                let _ = write!(out, "{}", ns / unit);
            }
            Epoch::Rfc3339 => write_string(out, &rfc3339_ns(ns)),
        }
    }
}

/// One series of a result, its cells already JSON.
#[derive(Debug, Default)]
struct Series {
    name: Option<String>,
    /// Written only when the query groups by tags.
    tags: Option<Vec<(String, String)>>,
    columns: Vec<String>,
    values: Vec<Vec<String>>,
}

impl Series {
    fn new(name: Option<&str>, columns: &[&str]) -> Self {
        Self {
            name: name.map(str::to_owned),
            tags: None,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            values: Vec::new(),
        }
    }

    /// Adds a row of strings.
    fn push_strings<'s>(&mut self, row: impl IntoIterator<Item = &'s str>) {
        self.values.push(
            row.into_iter()
                .map(|s| {
                    let mut cell = String::new();
                    write_string(&mut cell, s);
                    cell
                })
                .collect(),
        );
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        if let Some(name) = &self.name {
            out.push_str("\"name\":");
            write_string(out, name);
            out.push(',');
        }
        if let Some(tags) = &self.tags {
            out.push_str("\"tags\":{");
            for (i, (k, v)) in tags.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_string(out, v);
            }
            out.push_str("},");
        }
        out.push_str("\"columns\":[");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, c);
        }
        out.push_str("],\"values\":[");
        for (i, row) in self.values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(&row.join(","));
            out.push(']');
        }
        out.push_str("]}");
    }
}

/// Runs one statement.
async fn execute(state: &AppState, statement: &Statement, epoch: Epoch) -> Result<Vec<Series>, ApiError> {
    match statement {
        Statement::Select(text, select) => {
            let batches = Running::start(state, Lang::Chronicle, text.clone()).await?.collect().await?;
            let db = Arc::clone(&state.db);
            let all_tags = select.group_by.all_tags;
            let from = select.from.clone();
            let mut groups: Vec<String> =
                if all_tags { blocking(move || db.tag_keys(Some(&from))).await? } else { select.group_by.tags.clone() };
            groups.sort_unstable();
            groups.dedup();
            series_of(&select.from, &groups, &batches, epoch)
        }
        Statement::Unsupported(what) => Err(ApiError::bad_data(format!(
            "{what} is not supported by Chronicle: it runs SELECT, SHOW and CREATE DATABASE"
        ))),
        _ => {
            let db = Arc::clone(&state.db);
            // The statement is small and owned data is simpler than lifetimes.
            let show = Show::from(statement);
            blocking(move || show.answer(&db)).await
        }
    }
}

/// Runs `f` on the blocking pool: the index sits behind the storage lock.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(Kind::Internal, format!("a metadata query failed: {e}"))),
    }
}

/// Rows of text cells.
type Rows = Vec<Vec<String>>;

/// The `SHOW` statements, owned, to answer on the blocking pool.
enum Show {
    Databases,
    Measurements { filter: Option<NameFilter>, limit: Option<usize>, offset: usize },
    TagKeys(Option<String>),
    TagValues(Option<String>, Vec<String>),
    FieldKeys(Option<String>),
    Series(Option<String>),
    RetentionPolicies,
    Nothing,
}

impl From<&Statement> for Show {
    fn from(statement: &Statement) -> Self {
        match statement {
            Statement::ShowDatabases => Show::Databases,
            Statement::ShowMeasurements { filter, limit, offset } => {
                Show::Measurements { filter: filter.clone(), limit: *limit, offset: *offset }
            }
            Statement::ShowTagKeys { from } => Show::TagKeys(from.clone()),
            Statement::ShowTagValues { from, keys } => Show::TagValues(from.clone(), keys.clone()),
            Statement::ShowFieldKeys { from } => Show::FieldKeys(from.clone()),
            Statement::ShowSeries { from } => Show::Series(from.clone()),
            Statement::ShowRetentionPolicies => Show::RetentionPolicies,
            Statement::CreateDatabase | Statement::Select(..) | Statement::Unsupported(_) => Show::Nothing,
        }
    }
}

impl Show {
    fn answer(self, db: &Db) -> Result<Vec<Series>, Error> {
        // The measurements a `FROM` names (one, if it exists), or all.
        let measurements = |from: &Option<String>| -> Result<Vec<String>, Error> {
            Ok(db.measurements()?.into_iter().filter(|m| from.as_ref().is_none_or(|f| f == m)).collect())
        };
        let per_measurement = |from: &Option<String>,
                               columns: &[&str],
                               rows: &dyn Fn(&str) -> Result<Rows, Error>|
         -> Result<Vec<Series>, Error> {
            let mut out = Vec::new();
            for m in measurements(from)? {
                let mut series = Series::new(Some(&m), columns);
                for row in rows(&m)? {
                    series.push_strings(row.iter().map(String::as_str));
                }
                if !series.values.is_empty() {
                    out.push(series);
                }
            }
            Ok(out)
        };
        let non_empty = |series: Series| if series.values.is_empty() { Vec::new() } else { vec![series] };
        Ok(match self {
            Show::Nothing => Vec::new(),
            Show::Databases => {
                let mut series = Series::new(Some("databases"), &["name"]);
                series.push_strings([DATABASE]);
                vec![series]
            }
            Show::Measurements { filter, limit, offset } => {
                let mut series = Series::new(Some("measurements"), &["name"]);
                let names = db.measurements()?.into_iter().filter(|m| filter.as_ref().is_none_or(|f| f.accepts(m)));
                for name in names.skip(offset).take(limit.unwrap_or(usize::MAX)) {
                    series.push_strings([name.as_str()]);
                }
                non_empty(series)
            }
            Show::TagKeys(from) => per_measurement(&from, &["tagKey"], &|m| {
                Ok(db.tag_keys(Some(m))?.into_iter().map(|k| vec![k]).collect())
            })?,
            Show::TagValues(from, mut keys) => {
                keys.sort_unstable();
                keys.dedup();
                per_measurement(&from, &["key", "value"], &|m| {
                    let present = db.tag_keys(Some(m))?;
                    let mut rows = Vec::new();
                    for key in keys.iter().filter(|k| present.contains(k)) {
                        for value in db.tag_values(key, Some(m), None)? {
                            rows.push(vec![key.clone(), value]);
                        }
                    }
                    Ok(rows)
                })?
            }
            Show::FieldKeys(from) => per_measurement(&from, &["fieldKey", "fieldType"], &|m| {
                Ok(db.fields(m)?.into_iter().map(|f| vec![f, "float".to_owned()]).collect())
            })?,
            Show::Series(from) => {
                let mut keys: Vec<String> = db
                    .series()?
                    .into_iter()
                    .filter(|(_, key)| from.as_ref().is_none_or(|f| f == &key.measurement))
                    .map(|(_, key)| series_key(&key.measurement, &key.tags))
                    .collect();
                keys.sort_unstable();
                let mut series = Series::new(None, &["key"]);
                for key in &keys {
                    series.push_strings([key.as_str()]);
                }
                non_empty(series)
            }
            Show::RetentionPolicies => {
                let shard = go_duration(Duration::from_nanos(db.partition_duration_ns()?.max(0) as u64));
                let mut series = Series::new(None, &["name", "duration", "shardGroupDuration", "replicaN", "default"]);
                series.push_strings(["autogen", "0s", shard.as_str()]);
                if let Some(row) = series.values.last_mut() {
                    row.extend(["1".to_owned(), "true".to_owned()]);
                }
                vec![series]
            }
        })
    }
}

/// A series key as InfluxDB writes it: `cpu,host=a,region=us` with line
/// protocol's escapes.
fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    let escape = |s: &str, also_equals: bool| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c == ',' || c == ' ' || (also_equals && c == '=') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let mut key = escape(measurement, false);
    for (k, v) in tags {
        let _ = write!(key, ",{}={}", escape(k, true), escape(v, true));
    }
    key
}

/// A duration as Go prints it: `1h0m0s`, `1m30s`, `1.5s`, `500ms`.
fn go_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 60 {
        // Rust's Debug of a short Duration is Go's notation.
        return format!("{d:?}");
    }
    let fraction = format!("{:?}", Duration::new(0, d.subsec_nanos()));
    let fraction = if d.subsec_nanos() == 0 { String::new() } else { fraction.trim_end_matches('s').to_owned() };
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 { format!("{h}h{m}m{s}{fraction}s") } else { format!("{m}m{s}{fraction}s") }
}

/// The dialect's batches (`time`, the `groups` tags, then the values) as
/// InfluxDB's series: one per distinct tag combination, in the order the
/// rows come (grouped by tags).
fn series_of(name: &str, groups: &[String], batches: &[RecordBatch], epoch: Epoch) -> Result<Vec<Series>, ApiError> {
    let internal = |e: datafusion::arrow::error::ArrowError| ApiError::new(Kind::Internal, e.to_string());
    let mut out: Vec<Series> = Vec::new();
    let options = FormatOptions::new()
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_timestamp_tz_format(Some(TIMESTAMP_FORMAT));
    for batch in batches {
        let schema = batch.schema();
        let timed = schema.fields().first().is_some_and(|f| {
            f.name() == "time" && matches!(f.data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _))
        });
        // `EXPLAIN` and the like: one series of every column as text.
        let (tags_at, values_at) = if timed { (1..1 + groups.len(), 1 + groups.len()) } else { (0..0, 0) };
        let times = timed.then(|| batch.column(0).as_primitive::<TimestampNanosecondType>());
        let tags = batch.columns()[tags_at]
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        let tags: Vec<_> = tags.iter().map(|c| c.as_string::<i32>()).collect();
        let cells = batch.columns()[values_at..]
            .iter()
            .map(|c| Cell::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        let columns: Vec<String> = times
            .iter()
            .map(|_| "time".to_owned())
            .chain(schema.fields()[values_at..].iter().map(|f| f.name().clone()))
            .collect();
        for row in 0..batch.num_rows() {
            let row_tags: Vec<(String, String)> = groups
                .iter()
                .zip(&tags)
                .map(|(k, c)| (k.clone(), if c.is_null(row) { String::new() } else { c.value(row).to_owned() }))
                .collect();
            let row_tags = (!groups.is_empty()).then_some(row_tags);
            if out.last().is_none_or(|s| s.tags != row_tags || s.columns != columns) {
                out.push(Series {
                    name: Some(name.to_owned()),
                    tags: row_tags,
                    columns: columns.clone(),
                    values: Vec::new(),
                });
            }
            let mut values = Vec::with_capacity(columns.len());
            if let Some(times) = times {
                let mut cell = String::new();
                epoch.write(&mut cell, times.value(row));
                values.push(cell);
            }
            for c in &cells {
                let mut cell = String::new();
                c.write(&mut cell, row).map_err(internal)?;
                values.push(cell);
            }
            if let Some(series) = out.last_mut() {
                series.values.push(values);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_durations_as_influxdb_writes_them() {
        let tags = vec![("host".to_owned(), "a b".to_owned()), ("k=1".to_owned(), "x,y".to_owned())];
        assert_eq!(series_key("cpu load", &tags), "cpu\\ load,host=a\\ b,k\\=1=x\\,y");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(7 * 24 * 3600)), "168h0m0s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_micros(1)), "1µs");
    }
}
