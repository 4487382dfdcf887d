//! SQL statements: planning a query as read-only SQL, the stateless ticket
//! that carries it from `GetFlightInfo` to `DoGet`, and running it as a
//! stream of Flight data.
//!
//! Invariants: only queries are planned (DDL, DML and `SET` statements are
//! refused, so a Flight client cannot register or drop tables); results are
//! streamed batch by batch as DataFusion produces them, with at most
//! [`IN_FLIGHT_BATCHES`] waiting for a slow client, never collected; the
//! query runs on the blocking pool (the session's tables may read storage
//! synchronously) and is cancelled, by dropping its stream, when the
//! client goes away or the query timeout passes. The query's
//! [`Admission`] is dropped as soon as it stops running, before the end
//! of its stream reaches the client.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::{Any, Command, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use crate::error::{Error, Result};
use crate::gate::Admission;

/// Batches produced but not yet sent, per query: the bound on what a slow
/// client makes the server hold.
pub const IN_FLIGHT_BATCHES: usize = 2;

/// The stream `DoGet` answers with.
pub type FlightDataStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// Plans `sql` in `ctx` as a query: statements that change the session or
/// its tables are refused.
pub async fn plan(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    Ok(ctx.sql_with_options(sql, options).await?)
}

/// The ticket of a statement: its SQL, so any connection (or a restarted
/// server) can run it.
pub fn ticket(sql: &str) -> Ticket {
    let ticket = TicketStatementQuery { statement_handle: Bytes::copy_from_slice(sql.as_bytes()) };
    Ticket::new(ticket.as_any().encode_to_vec())
}

/// The SQL of a statement ticket.
pub fn sql_of(ticket: &TicketStatementQuery) -> Result<String> {
    String::from_utf8(ticket.statement_handle.to_vec())
        .map_err(|_| Error::invalid("the statement ticket is not UTF-8 SQL"))
}

/// The schema a result has on the wire: dictionary columns are sent as
/// their values (the encoder hydrates them, as clients that compare the
/// announced schema with the stream's expect), so announced schemas must
/// say the same.
pub fn wire_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, values) => f.as_ref().clone().with_data_type(values.as_ref().clone()),
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// A `FlightInfo` of one endpoint with `ticket`, describing the result of
/// `schema` as sent.
pub fn flight_info(schema: &Schema, ticket: Ticket, descriptor: FlightDescriptor) -> Result<FlightInfo> {
    Ok(FlightInfo::new()
        .try_with_schema(&wire_schema(schema))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor)
        .with_ordered(true))
}

/// A `FlightInfo` whose ticket is the command itself (metadata requests:
/// `DoGet` decodes the same command again).
pub fn command_info(
    command: impl ProstMessageExt,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo> {
    flight_info(schema, Ticket::new(command.as_any().encode_to_vec()), descriptor)
}

/// Runs `df` and streams its batches as Flight data; a failure or the
/// timeout ends the stream with its status. `admission` is held while the
/// query runs.
pub fn execute(df: DataFrame, timeout: Duration, admission: Admission) -> FlightDataStream {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let (tx, rx) = mpsc::channel(IN_FLIGHT_BATCHES);
    let deadline = Instant::now() + timeout;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let failure = runtime.block_on(drive(df, deadline, timeout, &tx));
        // The query has stopped. Its admission goes first: before `tx`
        // ends the stream, so a client that has seen the end finds the
        // query over (its slot free, its run counted), and before a
        // failure waits for a client that does not read to take it.
        drop(admission);
        if let Some(failure) = failure {
            // Off the blocking pool; the client may be gone already.
            runtime.spawn(async move {
                let _ = tx.send(Err(failure)).await;
            });
        }
    });
    let batches = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
        .map_err(|e: Error| FlightError::ExternalError(Box::new(e)));
    let encoded = FlightDataEncoderBuilder::new().with_schema(schema).build(batches).map_err(status_of);
    Box::pin(encoded)
}

/// Sends one batch stream as Flight data (metadata answers).
pub fn batch(batch: RecordBatch) -> FlightDataStream {
    let encoded = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(status_of);
    Box::pin(encoded)
}

/// The status of a failed encode: the query's own error when it is one.
fn status_of(e: FlightError) -> Status {
    match e {
        FlightError::ExternalError(inner) => match inner.downcast::<Error>() {
            Ok(e) => Status::from(*e),
            Err(other) => Status::from(Error::Internal(other.to_string())),
        },
        FlightError::Tonic(status) => *status,
        other => Status::from(Error::from(other)),
    }
}

/// Pulls the query's batches into `tx` until it ends, fails, the client
/// hangs up (the receiver is dropped) or the deadline passes; returns the
/// failure, or the timeout, that ended it.
async fn drive(
    df: DataFrame,
    deadline: Instant,
    timeout: Duration,
    tx: &mpsc::Sender<Result<RecordBatch>>,
) -> Option<Error> {
    let run = async {
        let mut stream = df.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            if tx.send(batch.map_err(Error::from)).await.is_err() {
                // The client went away: dropping the stream cancels the query.
                break;
            }
        }
        Ok::<(), Error>(())
    };
    match tokio::time::timeout_at(deadline, run).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(Error::Timeout(timeout)),
    }
}

/// The command a ticket or descriptor holds.
pub fn command_of(bytes: &[u8]) -> Result<Command> {
    let any = Any::decode(bytes)?;
    Command::try_from(any).map_err(|e| Error::invalid(format!("not a Flight SQL command: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[tokio::test]
    async fn only_queries_are_planned() {
        let ctx = SessionContext::new();
        assert!(plan(&ctx, "SELECT 1 AS one").await.is_ok());
        for sql in ["CREATE TABLE t AS SELECT 1", "DROP TABLE t", "SET datafusion.execution.batch_size = 1"] {
            let e = plan(&ctx, sql).await.unwrap_err();
            assert_eq!(Status::from(e).code(), tonic::Code::InvalidArgument, "{sql}");
        }
        assert!(ctx.table_exist("t").is_ok_and(|exists| !exists));
    }

    #[test]
    fn dictionaries_are_announced_as_their_values() {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![Field::new("host", dict, true), Field::new("v", DataType::Float64, false)]);
        let wire = wire_schema(&schema);
        assert_eq!(wire.field(0), &Field::new("host", DataType::Utf8, true));
        assert_eq!(wire.field(1), schema.field(1));
    }

    #[test]
    fn a_statement_ticket_carries_its_sql() {
        let t = ticket("SELECT 'é'");
        let Command::TicketStatementQuery(decoded) = command_of(&t.ticket).unwrap() else { panic!("not a statement") };
        assert_eq!(sql_of(&decoded).unwrap(), "SELECT 'é'");
    }
}
