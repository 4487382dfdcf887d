//! Flight SQL bulk ingest into the database: each uploaded batch becomes
//! rows ([`crate::ingest::arrow_rows`]) written with [`Db::write_rows`] on
//! the blocking pool, batch by batch as they arrive.
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
use crate::ingest::arrow_rows;

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
        let mut written = 0u64;
        while let Some(batch) = batches.try_next().await? {
            let db = Arc::clone(&self.db);
            let measurement = table.to_owned();
            let stored = tokio::task::spawn_blocking(move || {
                let rows = arrow_rows::rows(&measurement, &batch).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                db.write_rows(&rows).map_err(flight_error)?;
                Ok::<_, Error>(rows.len() as u64)
            })
            .await
            .map_err(|e| Error::Internal(format!("the write task failed: {e}")))??;
            written += stored;
        }
        Ok(written)
    }
}
