//! [`SqlService`]: the Flight SQL service, dispatching each call to the
//! module owning it after resolving the caller and its session.
//!
//! Every call first reads the credentials and asks the [`Authenticator`]
//! (reads need [`Access::Read`], ingest [`Access::Write`]), then the
//! [`SessionProvider`] for the caller's session; a query about to run
//! (`DoGet` of a statement or a prepared statement) is then admitted by the
//! [`QueryGate`] and keeps its admission until its stream is over. Handlers
//! return the
//! crate's [`Error`]; `Status::from` (in `error`) is the only translation
//! to gRPC codes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandStatementIngest, CommandStatementQuery,
    DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{Action, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use prost::Message;
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{self, Access, Authenticator, Caller, Credentials, NoAuth};
use crate::error::{Error, Result};
use crate::gate::{Admission, Open, QueryGate};
use crate::ingest::{self, IngestSink};
use crate::metadata;
use crate::prepared::{self, Prepared};
use crate::session::SessionProvider;
use crate::statement::{self, FlightDataStream};

/// The default query timeout.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest message a client may send (an ingest batch): 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;

/// A Flight SQL service over the sessions of a [`SessionProvider`].
#[derive(Clone)]
pub struct SqlService {
    sessions: Arc<dyn SessionProvider>,
    ingest: Option<Arc<dyn IngestSink>>,
    auth: Arc<dyn Authenticator>,
    gate: Arc<dyn QueryGate>,
    query_timeout: Duration,
    max_message_bytes: usize,
    name: String,
    version: String,
    sql_info: Arc<SqlInfoData>,
    xdbc: Arc<XdbcTypeInfoData>,
}

impl SqlService {
    /// A service answering queries in the sessions of `sessions`, auth
    /// off, every query admitted, no ingest, the default timeout, reporting `name` and `version`
    /// in `GetSqlInfo`.
    pub fn try_new(
        sessions: Arc<dyn SessionProvider>,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Result<Self> {
        let (name, version) = (name.into(), version.into());
        Ok(Self {
            sessions,
            ingest: None,
            auth: Arc::new(NoAuth),
            gate: Arc::new(Open),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            sql_info: Arc::new(metadata::sql_info(&name, &version, millis(DEFAULT_QUERY_TIMEOUT))?),
            xdbc: Arc::new(metadata::xdbc_types()?),
            name,
            version,
        })
    }

    /// The service taking bulk ingest into `sink`.
    pub fn with_ingest(mut self, sink: Arc<dyn IngestSink>) -> Self {
        self.ingest = Some(sink);
        self
    }

    /// The service checking credentials with `auth`.
    pub fn with_authenticator(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    /// The service running a query only once `gate` admits it.
    pub fn with_query_gate(mut self, gate: Arc<dyn QueryGate>) -> Self {
        self.gate = gate;
        self
    }

    /// The service cancelling queries (planning and streaming included)
    /// that run longer than `timeout`.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Result<Self> {
        self.query_timeout = timeout;
        self.sql_info = Arc::new(metadata::sql_info(&self.name, &self.version, millis(timeout))?);
        Ok(self)
    }

    /// The service refusing client messages larger than `bytes`.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The gRPC service, to add to a tonic server.
    pub fn into_server(self) -> FlightServiceServer<SqlService> {
        let limit = self.max_message_bytes;
        FlightServiceServer::new(self).max_decoding_message_size(limit)
    }

    /// Serves on `listener` until `shutdown` completes, then stops
    /// accepting and returns once in-flight calls have ended.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::result::Result<(), tonic::transport::Error> {
        tonic::transport::Server::builder()
            .add_service(self.into_server())
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), shutdown)
            .await
    }

    /// The caller of `request`, allowed `access`.
    fn caller<T>(&self, request: &Request<T>, access: Access) -> Result<Caller> {
        let credentials = auth::credentials(request.metadata())?;
        self.auth.authorize(&credentials, access)
    }

    /// The session of a reading `request`.
    async fn session<T>(&self, request: &Request<T>) -> Result<SessionContext> {
        let caller = self.caller(request, Access::Read)?;
        self.sessions.session(&caller).await
    }

    /// The session of a query about to run, and its admission by the gate.
    async fn admit<T>(&self, request: &Request<T>) -> Result<(SessionContext, Admission)> {
        let caller = self.caller(request, Access::Read)?;
        let ctx = self.sessions.session(&caller).await?;
        let admission = self.gate.admit(&caller).await?;
        Ok((ctx, admission))
    }

    async fn handshake(&self, request: Request<Streaming<HandshakeRequest>>) -> Result<Response<HandshakeStream>> {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        let first = stream.message().await.map_err(|s| Error::invalid(s.message().to_owned()))?;
        let payload = first.map(|m| m.payload).unwrap_or_default();
        let credentials = auth::handshake_credentials(&metadata, &payload)?;
        self.auth.authorize(&credentials, Access::Read)?;
        let token = match &credentials {
            Credentials::Basic { username, password } => self.auth.bearer_token(username, password),
            Credentials::Bearer(token) => Some(token.clone()),
            Credentials::None => None,
        };
        let reply = HandshakeResponse { protocol_version: 0, payload: token.clone().unwrap_or_default().into() };
        let mut response: Response<HandshakeStream> =
            Response::new(Box::pin(futures::stream::once(async move { Ok(reply) })));
        if let Some(token) = token {
            let value = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Error::Internal("the bearer token is not a valid header value".into()))?;
            response.metadata_mut().insert("authorization", value);
        }
        Ok(response)
    }

    async fn statement_info(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<FlightInfo> {
        let ctx = self.session(&request).await?;
        let df = self.timed(statement::plan(&ctx, &query.query)).await?;
        statement::flight_info(df.schema().as_arrow(), statement::ticket(&query.query), request.into_inner())
    }

    async fn statement_get(&self, ticket: TicketStatementQuery, request: Request<Ticket>) -> Result<FlightDataStream> {
        let sql = statement::sql_of(&ticket)?;
        let (ctx, admission) = self.admit(&request).await?;
        let df = self.timed(statement::plan(&ctx, &sql)).await?;
        Ok(statement::execute(df, self.query_timeout, admission))
    }

    async fn prepare(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult> {
        let ctx = self.session(&request).await?;
        let df = self.timed(statement::plan(&ctx, &query.query)).await?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: Prepared::new(query.query).encode()?,
            dataset_schema: prepared::schema_bytes(&statement::wire_schema(df.schema().as_arrow()))?,
            parameter_schema: prepared::schema_bytes(&prepared::parameter_schema(&df)?)?,
        })
    }

    async fn bind(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult> {
        self.caller(&request, Access::Read)?;
        let statement = Prepared::decode(&query.prepared_statement_handle)?;
        let batches: Vec<_> = ingest::batches(request.into_inner()).try_collect().await?;
        let bound = statement.bind(prepared::parameters_of(&batches)?)?;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(bound.encode()?) })
    }

    async fn prepared_info(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<FlightInfo> {
        let ctx = self.session(&request).await?;
        let statement = Prepared::decode(&query.prepared_statement_handle)?;
        let df = self.timed(statement.plan(&ctx)).await?;
        let ticket = Ticket::new(query.as_any().encode_to_vec());
        statement::flight_info(df.schema().as_arrow(), ticket, request.into_inner())
    }

    async fn prepared_get(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<FlightDataStream> {
        let statement = Prepared::decode(&query.prepared_statement_handle)?;
        let (ctx, admission) = self.admit(&request).await?;
        let df = self.timed(statement.plan(&ctx)).await?;
        Ok(statement::execute(df, self.query_timeout, admission))
    }

    async fn ingest(&self, command: CommandStatementIngest, request: Request<PeekableFlightDataStream>) -> Result<i64> {
        let caller = self.caller(&request, Access::Write)?;
        let Some(sink) = &self.ingest else {
            return Err(Error::Unimplemented("this server does not take bulk ingest".into()));
        };
        let ctx = self.sessions.session(&caller).await?;
        let exists = ctx.table_exist(TableReference::bare(command.table.as_str()))?;
        let mode = ingest::mode(&command, exists)?;
        let rows = sink.ingest(&caller, &command.table, mode, ingest::batches(request.into_inner())).await?;
        i64::try_from(rows).map_err(|_| Error::Internal(format!("{rows} rows do not fit a count")))
    }

    /// The `FlightInfo` of a metadata command answering with `schema`.
    fn metadata_info(
        &self,
        command: impl ProstMessageExt,
        schema: &arrow_schema::Schema,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let result = self
            .caller(&request, Access::Read)
            .and_then(|_| statement::command_info(command, schema, request.into_inner()));
        respond(result)
    }

    /// `fut` (planning) cut off at the query timeout.
    async fn timed<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.query_timeout, fut).await.unwrap_or(Err(Error::Timeout(self.query_timeout)))
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

type HandshakeStream = <SqlService as arrow_flight::flight_service_server::FlightService>::HandshakeStream;
type GetStream = <SqlService as arrow_flight::flight_service_server::FlightService>::DoGetStream;

/// `Ok(Response)` of a handler's result, its error as a status.
fn respond<T>(result: Result<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl FlightSqlService for SqlService {
    type FlightService = SqlService;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<HandshakeStream>, Status> {
        self.handshake(request).await.map_err(Status::from)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        respond(self.statement_info(query, request).await)
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        respond(self.statement_get(ticket, request).await)
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        respond(self.prepared_info(query, request).await)
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        respond(self.prepared_get(query, request).await)
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.prepare(query, request).await.map_err(Status::from)
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        // Stateless handles: nothing to free.
        self.caller(&request, Access::Read).map(|_| ()).map_err(Status::from)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.bind(query, request).await.map_err(Status::from)
    }

    async fn do_put_statement_ingest(
        &self,
        command: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.ingest(command, request).await.map_err(Status::from)
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query, &self.sql_info.schema(), request)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = self.caller(&request, Access::Read).and_then(|_| Ok(self.sql_info.record_batch(query.info)?));
        respond(result.map(statement::batch))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query, &self.xdbc.schema(), request)
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = self.caller(&request, Access::Read).and_then(|_| Ok(self.xdbc.record_batch(query.data_type)?));
        respond(result.map(statement::batch))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query, &query.into_builder().schema(), request)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = match self.session(&request).await {
            Ok(ctx) => metadata::catalogs(&ctx, query),
            Err(e) => Err(e),
        };
        respond(result.map(statement::batch))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query.clone(), &query.into_builder().schema(), request)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = match self.session(&request).await {
            Ok(ctx) => metadata::schemas(&ctx, query),
            Err(e) => Err(e),
        };
        respond(result.map(statement::batch))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query.clone(), &query.into_builder().schema(), request)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = match self.session(&request).await {
            Ok(ctx) => metadata::tables(&ctx, query).await,
            Err(e) => Err(e),
        };
        respond(result.map(statement::batch))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(query, &query.into_builder().schema(), request)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<GetStream>, Status> {
        let result = self.caller(&request, Access::Read).and_then(|_| metadata::table_types(query));
        respond(result.map(statement::batch))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

impl std::fmt::Debug for SqlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlService")
            .field("name", &self.name)
            .field("query_timeout", &self.query_timeout)
            .field("ingest", &self.ingest.is_some())
            .finish_non_exhaustive()
    }
}
