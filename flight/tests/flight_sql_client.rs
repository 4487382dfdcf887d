//! The service over loopback against arrow-flight's own Flight SQL client,
//! over a plain DataFusion session of in-memory tables: query results,
//! prepared statements with parameters, metadata, bulk ingest with its
//! modes, auth (handshake, bearer, scopes), the query gate and the query
//! timeout. Expected
//! values are built here from the test's own arrays, never read back from
//! the service.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetTables, CommandStatementIngest, ProstMessageExt, SqlInfo, TableDefinitionOptions,
    TableExistsOption, TableNotExistOption, TicketStatementQuery,
};
use arrow_flight::{FlightInfo, IpcMessage, Ticket};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chronicle_flight::{
    Access, Admission, Authenticator, BatchStream, Caller, Credentials, Error, IngestMode, IngestSink, QueryGate,
    SqlService,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::Channel;

fn cpu_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
        Field::new("usage", DataType::Float64, false),
    ]))
}

/// `cpu`: three batches of 1,000 rows, n = 0..3000, host a/b alternating,
/// usage = n / 4.
fn cpu_batches() -> Vec<RecordBatch> {
    (0..3)
        .map(|b| {
            let n: Vec<i64> = (b * 1000..(b + 1) * 1000).collect();
            let host: Vec<&str> = n.iter().map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
            let usage: Vec<f64> = n.iter().map(|&i| i as f64 / 4.0).collect();
            RecordBatch::try_new(
                cpu_schema(),
                vec![
                    Arc::new(StringArray::from(host)),
                    Arc::new(Int64Array::from(n)),
                    Arc::new(Float64Array::from(usage)),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn session() -> SessionContext {
    let ctx = SessionContext::new();
    let table = MemTable::try_new(cpu_schema(), vec![cpu_batches()]).unwrap();
    ctx.register_table("cpu", Arc::new(table)).unwrap();
    ctx
}

/// One batch a sink took: its table, mode, caller and rows.
type Taken = (String, IngestMode, Option<String>, RecordBatch);

/// Keeps what it is given, per table.
#[derive(Default)]
struct Collect {
    got: Mutex<Vec<Taken>>,
}

#[async_trait]
impl IngestSink for Collect {
    async fn ingest(
        &self,
        caller: &Caller,
        table: &str,
        mode: IngestMode,
        batches: BatchStream,
    ) -> chronicle_flight::Result<u64> {
        let batches: Vec<RecordBatch> = batches.try_collect().await?;
        let mut rows = 0;
        for batch in batches {
            if batch.column_by_name("time").is_none() {
                return Err(Error::invalid("column time is missing"));
            }
            rows += batch.num_rows() as u64;
            self.got.lock().unwrap().push((table.to_owned(), mode, caller.name.clone(), batch));
        }
        Ok(rows)
    }
}

/// Token `r` reads, `w` reads and writes; basic logins use the token as
/// the password.
struct Tokens;

impl Authenticator for Tokens {
    fn authorize(&self, credentials: &Credentials, access: Access) -> chronicle_flight::Result<Caller> {
        let secret = match credentials {
            Credentials::None => return Err(Error::Unauthenticated("this server needs a token".into())),
            Credentials::Bearer(s) | Credentials::Basic { password: s, .. } => s.as_str(),
        };
        match (secret, access) {
            ("w", _) => Ok(Caller { name: Some("writer".into()) }),
            ("r", Access::Read) => Ok(Caller { name: Some("reader".into()) }),
            ("r", Access::Write) => Err(Error::PermissionDenied("token reader is read-only".into())),
            _ => Err(Error::Unauthenticated("the token is not valid".into())),
        }
    }

    fn bearer_token(&self, _username: &str, password: &str) -> Option<String> {
        Some(password.to_owned())
    }
}

/// One query at a time; another is refused at once. Counts the queries
/// whose admission ended.
struct OneSlot {
    slot: Arc<tokio::sync::Semaphore>,
    ended: Arc<AtomicUsize>,
}

/// An admission of [`OneSlot`]: its permit, and the count to bump when dropped.
struct Ended {
    _permit: tokio::sync::OwnedSemaphorePermit,
    ended: Arc<AtomicUsize>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

impl OneSlot {
    fn new() -> Self {
        Self { slot: Arc::new(tokio::sync::Semaphore::new(1)), ended: Arc::default() }
    }

    fn ended(&self) -> usize {
        self.ended.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl QueryGate for OneSlot {
    async fn admit(&self, _caller: &Caller) -> chronicle_flight::Result<Admission> {
        let permit =
            Arc::clone(&self.slot).try_acquire_owned().map_err(|_| Error::Unavailable("too many queries".into()))?;
        Ok(Admission::new(Ended { _permit: permit, ended: Arc::clone(&self.ended) }))
    }
}

struct Fixture {
    client: FlightSqlServiceClient<Channel>,
    sink: Arc<Collect>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn start(configure: impl FnOnce(SqlService) -> SqlService) -> Fixture {
        let sink = Arc::new(Collect::default());
        let service =
            SqlService::try_new(Arc::new(session()), "test-server", "1.2.3").unwrap().with_ingest(sink.clone());
        let service = configure(service);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            service
                .serve(listener, async move {
                    rx.await.ok();
                })
                .await
                .unwrap();
        });
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        Fixture { client: FlightSqlServiceClient::new(channel), sink, shutdown: Some(tx), served }
    }

    async fn fetch(&mut self, info: FlightInfo) -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.expect("every endpoint has a ticket");
            let stream = self.client.do_get(ticket).await.unwrap();
            batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
        }
        batches
    }

    async fn query(&mut self, sql: &str) -> Vec<RecordBatch> {
        let info = self.client.execute(sql.to_owned(), None).await.unwrap();
        self.fetch(info).await
    }

    async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.served.await.unwrap();
    }
}

/// The rows of the first endpoint of `info`, or the status the server
/// refused or ended it with (at `DoGet` or within the stream).
async fn fetch_or_status(f: &mut Fixture, info: FlightInfo) -> Result<usize, (Code, String)> {
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let stream = f.client.do_get(ticket).await.map_err(code_of)?;
    let batches = stream.try_collect::<Vec<_>>().await.map_err(code_of)?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

fn code_of(e: FlightError) -> (Code, String) {
    match e {
        FlightError::Tonic(status) => (status.code(), status.message().to_owned()),
        other => (Code::Unknown, other.to_string()),
    }
}

#[tokio::test]
async fn a_query_streams_every_row_in_its_batches() {
    let mut f = Fixture::start(|s| s).await;
    let batches = f.query("SELECT n, usage FROM cpu WHERE host = 'a' ORDER BY n").await;
    let n: Vec<i64> = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    let usage: Vec<f64> =
        batches.iter().flat_map(|b| b.column(1).as_primitive::<Float64Type>().values().to_vec()).collect();
    let expected: Vec<i64> = (0..3000).filter(|i| i % 2 == 0).collect();
    assert_eq!(n, expected);
    assert_eq!(usage, expected.iter().map(|&i| i as f64 / 4.0).collect::<Vec<_>>());
    // An empty result still says its schema.
    let info = f.client.execute("SELECT host FROM cpu WHERE n < 0".into(), None).await.unwrap();
    assert_eq!(info.clone().try_decode_schema().unwrap().field(0).name(), "host");
    assert_eq!(f.fetch(info).await.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    f.stop().await;
}

#[tokio::test]
async fn bad_sql_unknown_tables_and_writes_are_invalid_arguments() {
    let mut f = Fixture::start(|s| s).await;
    for (sql, says) in [
        ("SELEC 1", "SELEC"),
        ("SELECT * FROM nope", "nope"),
        ("SELECT missing FROM cpu", "missing"),
        ("DROP TABLE cpu", "DDL"),
    ] {
        let (code, text) = code_of(f.client.execute(sql.into(), None).await.unwrap_err());
        assert_eq!(code, Code::InvalidArgument, "{sql}: {text}");
        assert!(text.contains(says), "{sql}: {text}");
    }
    // Still serving, and the table is still there.
    assert_eq!(f.query("SELECT count(*) FROM cpu").await[0].column(0).as_primitive::<Int64Type>().value(0), 3000);
    f.stop().await;
}

#[tokio::test]
async fn prepared_statements_bind_parameters_and_survive_a_new_connection() {
    let mut f = Fixture::start(|s| s).await;
    let mut prepared =
        f.client.prepare("SELECT n FROM cpu WHERE host = $1 AND n < $2 ORDER BY n".into(), None).await.unwrap();
    let params = prepared.parameter_schema().unwrap().clone();
    assert_eq!(params.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["$1", "$2"]);
    assert_eq!(prepared.dataset_schema().unwrap().field(0).name(), "n");
    let binding = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("$1", DataType::Utf8, true), Field::new("$2", DataType::Int64, true)])),
        vec![Arc::new(StringArray::from(vec!["b"])), Arc::new(Int64Array::from(vec![10]))],
    )
    .unwrap();
    prepared.set_parameters(binding).unwrap();
    let info = prepared.execute().await.unwrap();
    // A second client (another connection) runs the same ticket.
    let mut other = Fixture::start(|s| s).await;
    let batches = other.fetch(info).await;
    let n: Vec<i64> = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(n, [1, 3, 5, 7, 9]);
    prepared.close().await.unwrap();
    other.stop().await;
    f.stop().await;
}

fn names(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.column_by_name(column).unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn metadata_lists_the_session_and_its_schemas() {
    let mut f = Fixture::start(|s| s).await;
    let info = f
        .client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: None,
            table_name_filter_pattern: Some("c_u".into()),
            table_types: vec!["TABLE".into()],
            include_schema: true,
        })
        .await
        .unwrap();
    let tables = f.fetch(info).await;
    assert_eq!(names(&tables, "table_name"), ["cpu"]);
    let schema_bytes = tables[0].column_by_name("table_schema").unwrap().as_binary::<i32>().value(0).to_vec();
    let schema = Schema::try_from(IpcMessage(schema_bytes.into())).unwrap();
    assert_eq!(schema, *cpu_schema());

    let info = f
        .client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: Some("datafusion".into()),
            db_schema_filter_pattern: Some("pub%".into()),
        })
        .await
        .unwrap();
    assert_eq!(names(&f.fetch(info).await, "db_schema_name"), ["public"]);
    let info = f.client.get_catalogs().await.unwrap();
    assert_eq!(names(&f.fetch(info).await, "catalog_name"), ["datafusion"]);
    let info = f.client.get_table_types().await.unwrap();
    assert!(names(&f.fetch(info).await, "table_type").contains(&"TABLE".to_owned()));

    let info =
        f.client.get_sql_info(vec![SqlInfo::FlightSqlServerName, SqlInfo::FlightSqlServerVersion]).await.unwrap();
    let batches = f.fetch(info).await;
    let text = format!("{:?}", batches);
    assert!(text.contains("test-server") && text.contains("1.2.3"), "{text}");
    let info = f.client.get_xdbc_type_info(Default::default()).await.unwrap();
    let types = names(&f.fetch(info).await, "type_name");
    for t in ["BIGINT", "DOUBLE", "VARCHAR", "TIMESTAMP", "BOOLEAN"] {
        assert!(types.contains(&t.to_owned()), "{types:?}");
    }
    f.stop().await;
}

fn ingest_command(
    table: &str,
    if_not_exist: TableNotExistOption,
    if_exists: TableExistsOption,
) -> CommandStatementIngest {
    CommandStatementIngest {
        table_definition_options: Some(TableDefinitionOptions {
            if_not_exist: if_not_exist as i32,
            if_exists: if_exists as i32,
        }),
        table: table.into(),
        ..Default::default()
    }
}

fn points(rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("time", DataType::Int64, false),
        Field::new("v", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn ingest_follows_the_modes_and_reports_sink_errors() {
    let mut f = Fixture::start(|s| s).await;
    let stream = futures::stream::iter(vec![Ok(points(3)), Ok(points(4))]);
    let rows = f
        .client
        .execute_ingest(ingest_command("mem", TableNotExistOption::Create, TableExistsOption::Fail), stream)
        .await
        .unwrap();
    assert_eq!(rows, 7);
    // `cpu` exists: create refuses, append goes through.
    let (code, text) = code_of(
        f.client
            .execute_ingest(
                ingest_command("cpu", TableNotExistOption::Create, TableExistsOption::Fail),
                futures::stream::iter(vec![Ok(points(1))]),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::AlreadyExists, "{text}");
    let rows = f
        .client
        .execute_ingest(
            ingest_command("cpu", TableNotExistOption::Fail, TableExistsOption::Append),
            futures::stream::iter(vec![Ok(points(2))]),
        )
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let (code, text) = code_of(
        f.client
            .execute_ingest(
                ingest_command("nope", TableNotExistOption::Fail, TableExistsOption::Append),
                futures::stream::iter(vec![Ok(points(1))]),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::NotFound, "{text}");
    // The sink's refusal arrives with its message.
    let no_time = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("v", DataType::Float64, false)])),
        vec![Arc::new(Float64Array::from(vec![1.0]))],
    )
    .unwrap();
    let (code, text) = code_of(
        f.client
            .execute_ingest(
                ingest_command("mem2", TableNotExistOption::Create, TableExistsOption::Fail),
                futures::stream::iter(vec![Ok(no_time)]),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::InvalidArgument, "{text}");
    assert!(text.contains("column time"), "{text}");
    let got = f.sink.got.lock().unwrap().clone();
    let summary: Vec<(&str, IngestMode, usize)> =
        got.iter().map(|(t, m, _, b)| (t.as_str(), *m, b.num_rows())).collect();
    assert_eq!(
        summary,
        [("mem", IngestMode::Create, 3), ("mem", IngestMode::Create, 4), ("cpu", IngestMode::Append, 2)]
    );
    assert_eq!(got[1].3, points(4), "the batch arrives as sent");
    f.stop().await;
}

#[tokio::test]
async fn tokens_are_checked_on_every_call_and_scopes_on_ingest() {
    let mut f = Fixture::start(|s| s.with_authenticator(Arc::new(Tokens))).await;
    let (code, text) = code_of(f.client.execute("SELECT 1".into(), None).await.unwrap_err());
    assert_eq!(code, Code::Unauthenticated, "{text}");
    assert!(text.contains("needs a token"), "{text}");
    f.client.set_token("wrong".into());
    assert_eq!(code_of(f.client.execute("SELECT 1".into(), None).await.unwrap_err()).0, Code::Unauthenticated);
    f.client.clear_token();
    assert!(f.client.handshake("anyone", "wrong").await.is_err());
    // Basic login hands back a bearer token the client then sends.
    f.client.handshake("anyone", "r").await.unwrap();
    assert_eq!(f.client.token().map(String::as_str), Some("r"));
    assert_eq!(f.query("SELECT count(*) FROM cpu").await[0].column(0).as_primitive::<Int64Type>().value(0), 3000);
    let (code, text) = code_of(
        f.client
            .execute_ingest(
                ingest_command("mem", TableNotExistOption::Create, TableExistsOption::Fail),
                futures::stream::iter(vec![Ok(points(1))]),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::PermissionDenied, "{text}");
    f.client.set_token("w".into());
    let rows = f
        .client
        .execute_ingest(
            ingest_command("mem", TableNotExistOption::Create, TableExistsOption::Fail),
            futures::stream::iter(vec![Ok(points(1))]),
        )
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(f.sink.got.lock().unwrap()[0].2.as_deref(), Some("writer"), "the sink learns the caller");
    f.stop().await;
}

#[tokio::test]
async fn a_query_past_the_timeout_ends_with_deadline_exceeded() {
    let mut f = Fixture::start(|s| s.with_query_timeout(Duration::from_millis(300)).unwrap()).await;
    let info = f.client.execute("SELECT count(*) FROM generate_series(1, 10000000000)".into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let result = match f.client.do_get(ticket).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let text = result.expect_err("ten billion rows do not count in 300 ms");
    assert!(text.contains("query timeout"), "{text}");
    // The server still answers.
    assert_eq!(f.query("SELECT 1 AS one").await[0].num_rows(), 1);
    f.stop().await;
}

/// Waits (at most 10 s) for `gate` to have seen `n` queries end.
async fn wait_until_ended(gate: &OneSlot, n: usize, failure: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gate.ended() < n {
        assert!(tokio::time::Instant::now() < deadline, "{failure}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_gate_admits_each_query_and_hears_when_it_ends() {
    let gate = Arc::new(OneSlot::new());
    let g = Arc::clone(&gate);
    let mut f = Fixture::start(move |s| s.with_query_gate(g)).await;
    // A query read to its end has given its admission back by then.
    assert_eq!(f.query("SELECT 1 AS one").await[0].num_rows(), 1);
    assert_eq!(gate.ended(), 1);
    // A query read no further than its first batch keeps running, holding
    // the one slot ...
    let info = f.client.execute("SELECT value FROM generate_series(1, 1000000000000)".into(), None).await.unwrap();
    let mut held = f.client.do_get(info.endpoint[0].ticket.clone().unwrap()).await.unwrap();
    assert!(held.next().await.unwrap().unwrap().num_rows() > 0);
    // ... so running a prepared statement is refused with the gate's
    // error (preparing it and GetFlightInfo are not gated).
    let mut prepared = f.client.prepare("SELECT 2 AS two".into(), None).await.unwrap();
    let info = prepared.execute().await.unwrap();
    let (code, message) = fetch_or_status(&mut f, info.clone()).await.unwrap_err();
    assert_eq!((code, message.as_str()), (Code::Unavailable, "too many queries"));
    assert_eq!(gate.ended(), 1, "a refused query was never admitted");
    // The client goes away: the query is cancelled, its admission dropped.
    drop(held);
    wait_until_ended(&gate, 2, "the abandoned query still holds its admission").await;
    assert_eq!(fetch_or_status(&mut f, info).await, Ok(1));
    assert_eq!(gate.ended(), 3);
    // A query that fails to plan gives its admission back too.
    let bad = TicketStatementQuery { statement_handle: "SELECT nope FROM cpu".into() };
    let ticket = Ticket::new(bad.as_any().encode_to_vec());
    let e = f.client.do_get(ticket).await.map(|_| ()).map_err(code_of).unwrap_err();
    assert_eq!(e.0, Code::InvalidArgument, "{}", e.1);
    assert_eq!(gate.ended(), 4);
    prepared.close().await.unwrap();
    f.stop().await;
}

#[tokio::test]
async fn a_query_past_the_timeout_gives_its_admission_back_while_its_client_does_not_read() {
    let gate = Arc::new(OneSlot::new());
    let g = Arc::clone(&gate);
    let mut f =
        Fixture::start(move |s| s.with_query_gate(g).with_query_timeout(Duration::from_millis(300)).unwrap()).await;
    let info = f.client.execute("SELECT value FROM generate_series(1, 1000000000000)".into(), None).await.unwrap();
    let mut held = f.client.do_get(info.endpoint[0].ticket.clone().unwrap()).await.unwrap();
    assert!(held.next().await.unwrap().unwrap().num_rows() > 0);
    // The client reads nothing more, yet the query is over at its timeout.
    wait_until_ended(&gate, 1, "a timed-out query kept its admission until its client read the failure").await;
    assert_eq!(f.query("SELECT 1 AS one").await[0].num_rows(), 1);
    // The client still learns why its stream ended.
    let rest: Result<Vec<_>, _> = held.try_collect().await;
    let (code, message) = code_of(rest.unwrap_err());
    assert_eq!(code, Code::DeadlineExceeded, "{message}");
    f.stop().await;
}
