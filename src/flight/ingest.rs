//! Flight SQL bulk ingest into the database: each uploaded batch is read as
//! row views over its columns ([`crate::ingest::arrow_rows`]) and written
//! with the guarantees of [`Db::write_rows`] on the blocking pool, batch by
//! batch in order, one batch written while the next arrives.
//!
//! A batch is all or nothing (one `write_rows`); batches before a refused
//! one stay written, as with any sequence of writes. The table is the
//! measurement: `create` and `append` both write points (a measurement
//! exists once it has one); `replace` is refused, as points are never
//! dropped by a write.

use std::sync::Arc;

use async_trait::async_trait;
use chronicle_flight::{BatchStream, Caller, Error, IngestMode, IngestSink};
use futures::TryStreamExt;

use crate::Db;
use crate::ingest::arrow_rows::BatchPoints;
use crate::model::TIME_COLUMN;

/// Writes ingested batches into a [`Db`].
#[derive(Clone)]
pub struct DbIngest {
    db: Arc<Db>,
}

impl DbIngest {
    /// Ingest into `db`.
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

/// The outcome of a write task.
fn joined(
    outcome: std::result::Result<chronicle_flight::Result<u64>, tokio::task::JoinError>,
) -> chronicle_flight::Result<u64> {
    outcome.map_err(|e| Error::Internal(format!("the write task failed: {e}")))?
}

/// A database error as the Flight error a client sees.
fn flight_error(e: crate::Error) -> Error {
    match e {
        crate::Error::InvalidRow { .. } | crate::Error::InvalidArgument(_) => Error::InvalidArgument(e.to_string()),
        other => Error::Internal(other.to_string()),
    }
}

#[async_trait]
impl IngestSink for DbIngest {
    async fn ingest(
        &self,
        _caller: &Caller,
        table: &str,
        mode: IngestMode,
        mut batches: BatchStream,
    ) -> chronicle_flight::Result<u64> {
        if mode == IngestMode::Replace {
            return Err(Error::Unimplemented(format!(
                "mode replace is not supported: points of {table:?} are never dropped by a write; use append"
            )));
        }
        // One batch is written while the next arrives: decoding the upload
        // and writing overlap, and batches still land in order.
        let mut written = 0u64;
        let mut writing: Option<tokio::task::JoinHandle<chronicle_flight::Result<u64>>> = None;
        while let Some(batch) = batches.try_next().await? {
            if let Some(previous) = writing.take() {
                written += joined(previous.await)?;
            }
            let db = Arc::clone(&self.db);
            let measurement = table.to_owned();
            writing = Some(tokio::task::spawn_blocking(move || {
                let invalid = |e: crate::ingest::Error| Error::InvalidArgument(e.to_string());
                let points = BatchPoints::try_new(&measurement, TIME_COLUMN, 0, &batch).map_err(invalid)?;
                let rows = points.rows().map_err(invalid)?;
                db.write_views(&rows).map_err(flight_error)?;
                Ok(rows.len() as u64)
            }));
        }
        if let Some(last) = writing {
            written += joined(last.await)?;
        }
        Ok(written)
    }
}
