//! Bulk ingest (`CommandStatementIngest`, ADBC's `adbc_ingest`): the mode
//! the protocol's table options ask for, checked against whether the table
//! exists, and the uploaded batches handed as a stream to the embedder's
//! [`IngestSink`], which stores them and says how many rows it took.
//!
//! Modes, per the protocol (and ADBC's names): absent table with
//! `if_not_exist = CREATE` is [`IngestMode::Create`]; an existing table with
//! `if_exists = APPEND` is [`IngestMode::Append`], with `REPLACE`
//! [`IngestMode::Replace`]. An existing table with `FAIL` is
//! `AlreadyExists`, an absent one with `FAIL` is `NotFound`; unspecified
//! options are refused, as the protocol says. Temporary tables and
//! transactions are not offered.

use std::pin::Pin;

use arrow_array::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{CommandStatementIngest, TableExistsOption, TableNotExistOption};
use async_trait::async_trait;
use futures::{Stream, TryStreamExt};

use crate::auth::Caller;
use crate::error::{Error, Result};

/// The uploaded batches, decoded as they arrive.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send + 'static>>;

/// What an ingest does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestMode {
    /// The table does not exist; the batches create it.
    Create,
    /// The table exists; the batches are added to it.
    Append,
    /// The table exists; the batches replace its contents.
    Replace,
}

/// The embedder's store for uploaded batches.
#[async_trait]
pub trait IngestSink: Send + Sync + 'static {
    /// Stores `batches` into `table` as `mode` says, for `caller` (already
    /// allowed to write); returns the rows stored. A batch the sink cannot
    /// take is [`Error::InvalidArgument`] naming the column.
    async fn ingest(&self, caller: &Caller, table: &str, mode: IngestMode, batches: BatchStream) -> Result<u64>;
}

/// The mode `command` asks for, given whether its table `exists`.
pub fn mode(command: &CommandStatementIngest, exists: bool) -> Result<IngestMode> {
    if command.temporary {
        return Err(Error::Unimplemented("temporary tables are not supported; ingest into a table".into()));
    }
    if command.transaction_id.is_some() {
        return Err(Error::Unimplemented("transactions are not supported".into()));
    }
    let options = command.table_definition_options.unwrap_or_default();
    let table = &command.table;
    if exists {
        match TableExistsOption::try_from(options.if_exists) {
            Ok(TableExistsOption::Append) => Ok(IngestMode::Append),
            Ok(TableExistsOption::Replace) => Ok(IngestMode::Replace),
            Ok(TableExistsOption::Fail) => {
                Err(Error::AlreadyExists(format!("table {table:?} exists; ingest with mode append to add to it")))
            }
            _ => Err(Error::invalid("the ingest request does not say what to do if the table exists")),
        }
    } else {
        match TableNotExistOption::try_from(options.if_not_exist) {
            Ok(TableNotExistOption::Create) => Ok(IngestMode::Create),
            Ok(TableNotExistOption::Fail) => {
                Err(Error::NotFound(format!("table {table:?} does not exist; ingest with mode create to create it")))
            }
            _ => Err(Error::invalid("the ingest request does not say what to do if the table does not exist")),
        }
    }
}

/// The batches of a `DoPut` upload, decoded as they arrive.
pub fn batches(upload: PeekableFlightDataStream) -> BatchStream {
    let data = upload.map_err(|status| FlightError::Tonic(Box::new(status)));
    Box::pin(FlightRecordBatchStream::new_from_flight_data(data).map_err(Error::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::sql::TableDefinitionOptions;

    fn command(if_not_exist: TableNotExistOption, if_exists: TableExistsOption) -> CommandStatementIngest {
        CommandStatementIngest {
            table_definition_options: Some(TableDefinitionOptions {
                if_not_exist: if_not_exist as i32,
                if_exists: if_exists as i32,
            }),
            table: "cpu".into(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_follow_the_protocol() {
        use TableExistsOption as E;
        use TableNotExistOption as N;
        // ADBC's "create", "append", "replace" and "create_append".
        assert!(matches!(mode(&command(N::Create, E::Fail), true), Err(Error::AlreadyExists(_))));
        assert_eq!(mode(&command(N::Create, E::Fail), false).ok(), Some(IngestMode::Create));
        assert_eq!(mode(&command(N::Fail, E::Append), true).ok(), Some(IngestMode::Append));
        assert!(matches!(mode(&command(N::Fail, E::Append), false), Err(Error::NotFound(_))));
        assert_eq!(mode(&command(N::Create, E::Replace), true).ok(), Some(IngestMode::Replace));
        assert_eq!(mode(&command(N::Create, E::Append), true).ok(), Some(IngestMode::Append));
        assert!(matches!(mode(&command(N::Unspecified, E::Unspecified), false), Err(Error::InvalidArgument(_))));
        let temporary = CommandStatementIngest { temporary: true, ..command(N::Create, E::Append) };
        assert!(matches!(mode(&temporary, false), Err(Error::Unimplemented(_))));
    }
}
