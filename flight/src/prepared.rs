//! Prepared statements, stateless: the handle a client holds IS the
//! statement (its SQL and, once bound, its parameters), so nothing is kept
//! on the server, closing is a no-op, and a handle still runs after a
//! restart or on another connection.
//!
//! Handle layout: a protobuf message (`Handle`) of a format version, the
//! SQL text, and the bound parameters as one Arrow IPC stream of a
//! single-row batch whose columns are `$1`, `$2`, ... in order. A handle of
//! another version is refused rather than misread.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use prost::Message;

use crate::error::{Error, Result};
use crate::statement;

/// The version of the handle layout written.
const HANDLE_VERSION: u32 = 1;

/// The wire form of a handle.
#[derive(Clone, PartialEq, Message)]
struct Handle {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(string, tag = "2")]
    sql: String,
    /// Arrow IPC stream of the bound parameters; empty when none are bound.
    #[prost(bytes = "vec", tag = "3")]
    parameters: Vec<u8>,
}

/// A prepared statement, decoded from or encoded into its handle.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    sql: String,
    parameters: Option<RecordBatch>,
}

impl Prepared {
    /// A statement of `sql` without parameters bound.
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), parameters: None }
    }

    /// The statement with `parameters` bound: exactly one row, a column per
    /// placeholder in order.
    pub fn bind(self, parameters: RecordBatch) -> Result<Self> {
        if parameters.num_rows() != 1 {
            return Err(Error::invalid(format!(
                "bind exactly one row of parameters to a prepared query; got {} rows",
                parameters.num_rows()
            )));
        }
        Ok(Self { sql: self.sql, parameters: Some(parameters) })
    }

    /// The handle a client holds.
    pub fn encode(&self) -> Result<Bytes> {
        let parameters = match &self.parameters {
            Some(batch) => {
                let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
                writer.write(batch)?;
                writer.into_inner()?
            }
            None => Vec::new(),
        };
        let handle = Handle { version: HANDLE_VERSION, sql: self.sql.clone(), parameters };
        Ok(handle.encode_to_vec().into())
    }

    /// The statement a client's handle holds.
    pub fn decode(handle: &[u8]) -> Result<Self> {
        let bad = |why: String| Error::invalid(format!("not a prepared statement handle of this server: {why}"));
        let handle = Handle::decode(handle).map_err(|e| bad(e.to_string()))?;
        if handle.version != HANDLE_VERSION {
            return Err(bad(format!("handle version {} (expected {HANDLE_VERSION})", handle.version)));
        }
        let parameters = if handle.parameters.is_empty() {
            None
        } else {
            let mut reader =
                StreamReader::try_new(Cursor::new(handle.parameters), None).map_err(|e| bad(e.to_string()))?;
            match reader.next() {
                Some(batch) => Some(batch.map_err(|e| bad(e.to_string()))?),
                None => None,
            }
        };
        Ok(Self { sql: handle.sql, parameters })
    }

    /// The statement's SQL.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The query planned in `ctx` with the bound parameters substituted.
    pub async fn plan(&self, ctx: &SessionContext) -> Result<DataFrame> {
        let df = statement::plan(ctx, &self.sql).await?;
        match &self.parameters {
            None => Ok(df),
            Some(batch) => {
                let values = batch
                    .columns()
                    .iter()
                    .zip(batch.schema().fields())
                    .map(|(column, field)| {
                        ScalarValue::try_from_array(column, 0)
                            .map_err(|e| Error::invalid(format!("parameter {}: {e}", field.name())))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(df.with_param_values(values)?)
            }
        }
    }
}

/// The schema of a query's placeholders: `$1`, `$2`, ... in order, typed as
/// DataFusion infers them (`Null` where it cannot).
pub fn parameter_schema(df: &DataFrame) -> Result<Schema> {
    let mut types: Vec<(String, Option<DataType>)> = df.logical_plan().get_parameter_types()?.into_iter().collect();
    // `$10` after `$9`: order by the number, names without one last.
    types.sort_by_key(|(name, _)| (name.trim_start_matches('$').parse::<u64>().unwrap_or(u64::MAX), name.clone()));
    let fields: Vec<Field> =
        types.into_iter().map(|(name, ty)| Field::new(name, ty.unwrap_or(DataType::Null), true)).collect();
    Ok(Schema::new(fields))
}

/// A schema as the bytes of an Arrow IPC schema message, as prepared
/// statement results carry them.
pub fn schema_bytes(schema: &Schema) -> Result<Bytes> {
    let options = arrow_ipc::writer::IpcWriteOptions::default();
    let message: arrow_flight::IpcMessage = arrow_flight::SchemaAsIpc::new(schema, &options).try_into()?;
    Ok(message.0)
}

/// The parameters of a `DoPut` binding: all its batches as one.
pub fn parameters_of(batches: &[RecordBatch]) -> Result<RecordBatch> {
    match batches {
        [] => Err(Error::invalid("the parameter binding holds no batch")),
        [one] => Ok(one.clone()),
        [first, ..] => Ok(datafusion::arrow::compute::concat_batches(&first.schema(), batches)?),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn a_handle_round_trips_with_and_without_parameters() {
        let bare = Prepared::new("SELECT $1");
        assert_eq!(Prepared::decode(&bare.encode().unwrap()).unwrap(), bare);
        let schema = Arc::new(Schema::new(vec![
            Field::new("$1", DataType::Int64, true),
            Field::new("$2", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(vec![7])), Arc::new(StringArray::from(vec!["a"]))],
        )
        .unwrap();
        let bound = bare.bind(batch).unwrap();
        assert_eq!(Prepared::decode(&bound.encode().unwrap()).unwrap(), bound);
    }

    #[test]
    fn foreign_handles_and_many_rows_are_refused() {
        assert!(matches!(Prepared::decode(b"\xff\xff\xff"), Err(Error::InvalidArgument(_))));
        let future = Handle { version: 9, sql: "SELECT 1".into(), parameters: vec![] }.encode_to_vec();
        let e = Prepared::decode(&future).unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
        let schema = Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)]));
        let two = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        let e = Prepared::new("SELECT $1").bind(two).unwrap_err().to_string();
        assert!(e.contains("one row") && e.contains("2 rows"), "{e}");
    }

    #[tokio::test]
    async fn placeholders_are_listed_in_order_and_substituted() {
        let ctx = SessionContext::new();
        let sql = "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(n, s) WHERE n >= $2 AND s <> $1";
        let df = statement::plan(&ctx, sql).await.unwrap();
        let names: Vec<String> = parameter_schema(&df).unwrap().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["$1", "$2"]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("$1", DataType::Utf8, true),
            Field::new("$2", DataType::Int64, true),
        ]));
        let params = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec!["c"])), Arc::new(Int64Array::from(vec![2]))],
        )
        .unwrap();
        let rows = Prepared::new(sql).bind(params).unwrap().plan(&ctx).await.unwrap().collect().await.unwrap();
        assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 1, "only n=2, s='b' remains");
    }
}
