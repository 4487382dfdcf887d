//! `/query` (GET and POST): one dispatcher for Chronicle's own form and
//! InfluxDB 1.x's (see [`influx_compat`](super::influx_compat)), and the
//! runner every query of either goes through.
//!
//! **Which form.** A request is in Chronicle's form when its body is a JSON
//! object (`{"query": "...", "lang": "sql|chronicle"}`, whatever its
//! `Content-Type`: `curl -d` says form-urlencoded) or it has a `lang` or
//! `format` parameter. Otherwise it is InfluxDB's when it has one of
//! InfluxDB's parameters (`db`, `rp`, `epoch`, `chunked`, `chunk_size`,
//! `pretty`), a form-encoded body, or a `q` that is an InfluxQL `SHOW`,
//! `CREATE` or `DROP` statement (none is Chronicle's SQL or dialect): that
//! is what the `influx` CLI and Grafana send. Anything else, such as
//! `GET /query?q=SELECT 1`, is Chronicle's form.
//!
//! **Chronicle's form.** The text comes from the body's `query` or the `q`
//! parameter, the language from `lang` (`sql`, or `chronicle` for the
//! InfluxQL-like dialect). Without `lang` the text is SQL unless
//! DataFusion's SQL parser refuses it and the dialect's parser accepts it:
//! `GROUP BY time(5m)`, `fill(null)` and durations such as `now() - 1h`
//! are not SQL, so dialect queries are found, and a text valid in both is
//! SQL. The output is JSON, CSV, an Arrow IPC stream or Parquet (see
//! [`format`](super::format)). `chronicle query --server URL` sends
//! `POST /query?format=arrow` with the JSON body and reads the Arrow IPC
//! stream with Arrow's `StreamReader`. SQL is read-only here: DDL (`CREATE
//! EXTERNAL TABLE` reads server files), DML and `COPY` (writes them) and
//! `SET` are refused.
//!
//! **The runner.** A query takes one of the `limits.max_concurrent_queries`
//! slots (waiting up to the query timeout for one: 503 after), then plans
//! and runs on the blocking pool, as scans read storage synchronously; its
//! batches reach the handler over a channel of two, so a slow client slows
//! the query instead of growing a buffer. It is cancelled, its stream
//! dropped, when the query timeout passes (503 when nothing was sent yet)
//! or the client goes away. A bad query is 400 with the dialect's line and
//! column or DataFusion's message; a failure while running is 422. Nothing
//! is answered before the first batch (or the end) arrives, so a query that
//! fails at once gets its status code; one that fails after rows were sent
//! can only say so in the body (see [`Encoder::fail`]). Every operator of
//! the plan yields to tokio every few batches (see `cooperative`), so a
//! cancelled query stops within a few batches, whatever its operators.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::{EmptyRecordBatchStream, ExecutionPlan, execute_stream};
use datafusion::sql::parser::DFParser;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::timeout_at;

use super::auth::{Caller, Scope};
use super::error::{ApiError, Kind, Shape};
use super::format::{Encoder, Format, utc_batch};
use super::health_metrics::Metrics;
use super::influx_compat;
use super::state::AppState;
use crate::Db;
use crate::error::Error;
use crate::query::dialect::{self, DialectPlanner};

/// A query language of Chronicle's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// DataFusion SQL.
    Sql,
    /// The InfluxQL-like Chronicle dialect.
    Chronicle,
}

impl Lang {
    /// The language `name` (`sql`, `chronicle`; `influxql` names the dialect too).
    fn parse(name: &str) -> Result<Lang, ApiError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sql" => Ok(Lang::Sql),
            "chronicle" | "influxql" => Ok(Lang::Chronicle),
            _ => Err(ApiError::bad_data(format!("unknown lang {name:?}: use sql or chronicle"))),
        }
    }

    /// The language of `text` when none is named; see the module docs.
    fn detect(text: &str) -> Lang {
        if DFParser::parse_sql(text).is_err() && dialect::parse(text).is_ok() { Lang::Chronicle } else { Lang::Sql }
    }

    /// Its label in `/metrics`.
    fn label(self) -> &'static str {
        match self {
            Lang::Sql => "sql",
            Lang::Chronicle => "chronicle",
        }
    }
}

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/query", get(query).post(query))
}

/// The parameters of a request: the URL's, then a form body's.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn parse(encoded: &[u8]) -> Self {
        Params(form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The last value of `name` (later values override earlier ones).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Chronicle's JSON body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    query: String,
    lang: Option<String>,
}

/// Parameters only InfluxDB 1.x clients send.
const INFLUX_PARAMS: [&str; 6] = ["db", "rp", "epoch", "chunked", "chunk_size", "pretty"];

async fn query(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(state, caller, raw, headers, body).await {
        Ok(response) => response,
        Err(e) => e.with_shape(Shape::Influx).into_response(),
    }
}

async fn dispatch(
    state: AppState,
    caller: Caller,
    raw: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let mut params = Params::parse(raw.unwrap_or_default().as_bytes());
    let body = read_body(&state, body).await?;
    let json_body = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if json_body {
        let parsed: QueryBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_data(format!("the body is not {{\"query\": ..., \"lang\": ...}}: {e}")))?;
        let lang = parsed.lang.as_deref().or(params.get("lang"));
        return chronicle_form(&state, parsed.query, lang, params.get("format"), accept).await;
    }
    let form_body = !body.is_empty();
    if form_body {
        params.0.extend(Params::parse(&body).0);
    }
    let influx = !params.has("lang")
        && !params.has("format")
        && (form_body || INFLUX_PARAMS.iter().any(|p| params.has(p)) || params.get("q").is_some_and(influxql_only));
    if influx {
        return influx_compat::answer(&state, &params).await;
    }
    let Some(text) = params.get("q") else {
        return Err(ApiError::bad_data("missing the query: send q=... or a JSON body {\"query\": ...}"));
    };
    chronicle_form(&state, text.to_owned(), params.get("lang"), params.get("format"), accept).await
}

/// Whether `text` starts with a statement only InfluxQL has.
fn influxql_only(text: &str) -> bool {
    let first = text.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    ["show", "create", "drop"].iter().any(|k| first.eq_ignore_ascii_case(k))
}

/// The body, within the body size limit and the request timeout.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let limits = &state.config.limits;
    match tokio::time::timeout(limits.request_timeout, axum::body::to_bytes(body, limits.max_body_bytes)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(
            Kind::TooLarge,
            format!("the query body is over the limit of {} bytes, or was cut short", limits.max_body_bytes),
        )),
        Err(_) => Err(ApiError::new(
            Kind::Timeout,
            format!("the query body took longer than the request timeout of {:?} to arrive", limits.request_timeout),
        )),
    }
}

/// Runs a query of Chronicle's form and streams its result.
async fn chronicle_form(
    state: &AppState,
    text: String,
    lang: Option<&str>,
    format: Option<&str>,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let format = Format::negotiate(format, accept)?;
    let lang = match lang {
        Some(name) => Lang::parse(name)?,
        None => Lang::detect(&text),
    };
    let mut running = Running::start(state, lang, text).await?;
    let first = running.next().await;
    if let Event::Failed(e) = first {
        return Err(e);
    }
    let internal = |e: datafusion::arrow::error::ArrowError| ApiError::new(Kind::Internal, e.to_string());
    let mut encoder = format.encoder(&running.schema).map_err(internal)?;
    let mut head = encoder.begin().map_err(internal)?;
    let mut rest = Streamed { running, encoder, done: false };
    // The first rows are encoded before answering, so a result the format
    // cannot hold (CSV has no lists) is refused with a status, not cut short.
    let first = rest
        .encode(first)
        .map_err(|e| ApiError::bad_data(format!("the result cannot be written as {}: {e}", format.name())))?;
    head.extend_from_slice(&first);
    let body = futures::stream::once(std::future::ready(Ok(Bytes::from(head)))).chain(rest.into_stream());
    Ok(([(header::CONTENT_TYPE, format.content_type())], Body::from_stream(body)).into_response())
}

/// A result on its way to the client, after its opening bytes.
struct Streamed {
    running: Running,
    encoder: Box<dyn Encoder>,
    done: bool,
}

impl Streamed {
    fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::unfold(self, |mut s| async move {
            if s.done {
                return None;
            }
            let event = s.running.next().await;
            let chunk = s.encode(event);
            Some((chunk, s))
        })
    }

    /// The bytes of `event`; an error cuts the body short.
    fn encode(&mut self, event: Event) -> Result<Bytes, std::io::Error> {
        let encoded = match event {
            Event::Batch(batch) => utc_batch(&batch).and_then(|b| self.encoder.batch(&b)),
            Event::End => {
                self.done = true;
                self.encoder.finish()
            }
            Event::Failed(e) => {
                self.done = true;
                tracing::warn!(error = e.message(), "a query failed after its first rows were sent");
                return match self.encoder.fail(e.message()) {
                    Some(bytes) => Ok(Bytes::from(bytes)),
                    None => Err(std::io::Error::other(e.message().to_owned())),
                };
            }
            Event::Schema(_) => Ok(Vec::new()),
        };
        encoded.map(Bytes::from).map_err(|e| {
            self.done = true;
            std::io::Error::other(e.to_string())
        })
    }
}

/// What a running query reports, in order: its schema, its batches, then
/// its end or its failure.
pub(crate) enum Event {
    Schema(SchemaRef),
    Batch(RecordBatch),
    End,
    Failed(ApiError),
}

/// Waits for one of the server's query slots, at most the query timeout.
pub(crate) async fn acquire_query_slot(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    let limits = &state.config.limits;
    let timeout = limits.query_timeout;
    match tokio::time::timeout(timeout, state.queries.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::new(Kind::Unavailable, "the server is shutting down")),
        Err(_) => Err(ApiError::new(
            Kind::Unavailable,
            format!(
                "too many queries: {} are running and none finished within the query timeout of {timeout:?}",
                limits.max_concurrent_queries
            ),
        )),
    }
}

/// A query started by [`Running::start`].
pub(crate) struct Running {
    pub schema: SchemaRef,
    events: mpsc::Receiver<Event>,
    timeout: Duration,
    /// For `/metrics`, recorded once the query ends (before its last bytes
    /// are sent, so a client that read them finds it counted).
    lang: Lang,
    started: Instant,
    metrics: Arc<Metrics>,
}

impl Running {
    /// Takes a query slot and starts `text` in `lang`; returns once it is
    /// planned (a planning failure is the error).
    pub async fn start(state: &AppState, lang: Lang, text: String) -> Result<Running, ApiError> {
        let started = Instant::now();
        let timeout = state.config.limits.query_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let permit = acquire_query_slot(state).await?;
        let (tx, events) = mpsc::channel(2);
        let db = state.db.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(drive(&db, lang, &text, deadline, timeout, &tx));
            drop(permit);
        });
        let mut running = Running {
            schema: Arc::new(Schema::empty()),
            events,
            timeout,
            lang,
            started,
            metrics: Arc::clone(&state.metrics),
        };
        match running.next().await {
            Event::Schema(schema) => Ok(Running { schema, ..running }),
            Event::Failed(e) => Err(e),
            Event::Batch(_) | Event::End => Err(ApiError::new(Kind::Internal, "a query sent rows before its schema")),
        }
    }

    /// The next event; after [`Event::End`] or [`Event::Failed`] there is none.
    pub async fn next(&mut self) -> Event {
        let event = self.events.recv().await.unwrap_or_else(|| Event::Failed(cut_short(self.timeout)));
        if matches!(event, Event::End | Event::Failed(_)) {
            self.metrics.query(self.lang.label(), self.started.elapsed());
        }
        event
    }

    /// Every batch of the result.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>, ApiError> {
        let mut batches = Vec::new();
        loop {
            match self.next().await {
                Event::Batch(batch) => batches.push(batch),
                Event::End => return Ok(batches),
                Event::Failed(e) => return Err(e),
                Event::Schema(_) => {}
            }
        }
    }
}

/// The failure of a query whose runner stopped without saying why: it
/// stops so only when its output was not taken before the deadline.
fn cut_short(timeout: Duration) -> ApiError {
    ApiError::new(
        Kind::Timeout,
        format!("the query was cancelled: its result was not read within the query timeout of {timeout:?}"),
    )
}

fn timed_out(timeout: Duration) -> ApiError {
    ApiError::new(Kind::Timeout, format!("the query ran past the query timeout of {timeout:?} and was cancelled"))
}

/// Plans and runs one query, sending its events to `tx` until the end, a
/// failure, the deadline, or the receiver going away; returning drops the
/// stream, which cancels whatever DataFusion still runs for it.
async fn drive(
    db: &Db,
    lang: Lang,
    text: &str,
    deadline: tokio::time::Instant,
    timeout: Duration,
    tx: &mpsc::Sender<Event>,
) {
    let send = |event: Event| async move { matches!(timeout_at(deadline, tx.send(event)).await, Ok(Ok(()))) };
    let mut stream = match timeout_at(deadline, open(db, lang, text)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            send(Event::Failed(e)).await;
            return;
        }
        Err(_) => {
            send(Event::Failed(timed_out(timeout))).await;
            return;
        }
    };
    if !send(Event::Schema(stream.schema())).await {
        return;
    }
    loop {
        let next = tokio::select! {
            biased;
            () = tx.closed() => return,
            next = timeout_at(deadline, stream.next()) => next,
        };
        let event = match next {
            Ok(Some(Ok(batch))) if batch.num_rows() == 0 => continue,
            Ok(Some(Ok(batch))) => Event::Batch(batch),
            Ok(Some(Err(e))) => Event::Failed(ApiError::from(Error::from(e))),
            Ok(None) => Event::End,
            Err(_) => Event::Failed(timed_out(timeout)),
        };
        let last = !matches!(event, Event::Batch(_));
        if !send(event).await || last {
            return;
        }
    }
}

/// The stream of `text`'s result; a query that does not plan is refused (400).
async fn open(db: &Db, lang: Lang, text: &str) -> Result<SendableRecordBatchStream, ApiError> {
    let ctx = db.session_context();
    let plan = match lang {
        Lang::Sql => {
            let plan = ctx.state().create_logical_plan(text).await.map_err(refused)?;
            let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
            read_only.verify_plan(&plan).map_err(refused)?;
            plan
        }
        Lang::Chronicle => {
            let select = dialect::parse(text)?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
            match DialectPlanner::new(db, &ctx, text, now).plan(&select).await.map_err(refused)? {
                Some(plan) => plan,
                // An unknown measurement: no rows, no columns.
                None => return Ok(Box::pin(EmptyRecordBatchStream::new(Arc::new(Schema::empty())))),
            }
        }
    };
    let frame = ctx.execute_logical_plan(plan).await.map_err(refused)?;
    let task = Arc::new(frame.task_ctx());
    let physical = cooperative(frame.create_physical_plan().await.map_err(refused)?).map_err(refused)?;
    execute_stream(physical, task).map_err(|e| ApiError::from(Error::from(e)))
}

/// `plan` with every operator's output counted against tokio's task budget,
/// so the task running it yields every few batches even where an operator
/// makes many batches from few (a cross join does), and dropping the
/// stream, or aborting DataFusion's tasks, takes effect within a few
/// batches. DataFusion's own rule only covers sources and exchanges.
/// Added after optimization, so no rule sees the wrappers.
fn cooperative(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
    plan.transform_up(|node| {
        if node.children().is_empty() || node.name() == CooperativeExec::static_name() {
            Ok(Transformed::no(node))
        } else {
            Ok(Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>))
        }
    })
    .map(|t| t.data)
}

/// A planning failure: the query is at fault (400), unless the database is.
fn refused(e: impl Into<Error>) -> ApiError {
    match e.into() {
        Error::Query(e) => ApiError::bad_data(datafusion_message(e)),
        other => other.into(),
    }
}

/// DataFusion's message without its context wrappers.
fn datafusion_message(e: DataFusionError) -> String {
    e.find_root().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_only_syntax_is_the_dialect_and_the_rest_is_sql() {
        assert_eq!(
            Lang::detect("SELECT mean(value) FROM cpu WHERE time >= now() - 1h GROUP BY time(5m)"),
            Lang::Chronicle
        );
        assert_eq!(Lang::detect("SELECT max(usage) FROM cpu GROUP BY time(1m), host fill(none)"), Lang::Chronicle);
        assert_eq!(Lang::detect("SELECT avg(value) FROM cpu GROUP BY host"), Lang::Sql);
        assert_eq!(Lang::detect("SELECT * FROM cpu"), Lang::Sql);
        assert_eq!(Lang::detect("SELEKT nonsense"), Lang::Sql, "neither: SQL's error is reported");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_without_a_slot_in_time_is_503() {
        let dir = std::env::temp_dir().join(format!("chronicle-query-slots-{}", std::process::id()));
        let db = Arc::new(Db::open(dir.join("db"), crate::Config::default()).unwrap());
        let mut config = crate::http::ServerConfig::default();
        config.limits.max_concurrent_queries = 1;
        config.limits.query_timeout = Duration::from_millis(200);
        let state = AppState::new(Arc::clone(&db), config);
        let held = state.queries.clone().acquire_owned().await.unwrap();
        let refused = Running::start(&state, Lang::Sql, "SELECT 1".into()).await.err().unwrap();
        assert_eq!(refused.kind(), Kind::Unavailable);
        assert!(refused.message().starts_with("too many queries: 1 are running"), "{}", refused.message());
        drop(held);
        let batches = Running::start(&state, Lang::Sql, "SELECT 1".into()).await.unwrap().collect().await.unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
        db.close().unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn influxql_statements_are_told_apart() {
        assert!(influxql_only("SHOW MEASUREMENTS"));
        assert!(influxql_only("  create database \"x\""));
        assert!(!influxql_only("SELECT 1"));
        assert!(!influxql_only("showcase"));
    }
}
