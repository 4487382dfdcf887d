//! The server's query slots and query metrics as a handle for protocols
//! served beside HTTP (Flight SQL): their queries wait for the same
//! `limits.max_concurrent_queries` slots as `/query` and PromQL do, under
//! the same rule (at most the query timeout, then refused), and are counted
//! in `/metrics` with them.
//!
//! Invariant: a [`QuerySlot`] holds its slot until dropped, and dropping it
//! records the query (its language, its time since it asked for the slot)
//! in `chronicle_query_duration_seconds`, once.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;

use super::health_metrics::Metrics;
use super::query::acquire_query_slot;
use super::state::AppState;

/// The query slots of one [`Server`](super::Server). Cheap to clone.
#[derive(Clone)]
pub struct QuerySlots {
    state: AppState,
}

/// Why a query got no slot: too many ran for the whole query timeout, or
/// the server is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoQuerySlot(String);

/// A slot held by a running query; see the module docs.
pub struct QuerySlot {
    _permit: OwnedSemaphorePermit,
    lang: &'static str,
    started: Instant,
    metrics: Arc<Metrics>,
}

impl QuerySlots {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Waits for a slot as an HTTP query does, for a query in `lang` (its
    /// label in `/metrics`, e.g. `flight_sql`).
    pub async fn acquire(&self, lang: &'static str) -> Result<QuerySlot, NoQuerySlot> {
        let started = Instant::now();
        let permit = acquire_query_slot(&self.state).await.map_err(|e| NoQuerySlot(e.message().to_owned()))?;
        Ok(QuerySlot { _permit: permit, lang, started, metrics: Arc::clone(&self.state.metrics) })
    }
}

impl Drop for QuerySlot {
    fn drop(&mut self) {
        self.metrics.query(self.lang, self.started.elapsed());
    }
}

impl std::fmt::Debug for QuerySlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySlots").field("available", &self.state.queries.available_permits()).finish()
    }
}

impl std::fmt::Debug for QuerySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySlot").field("lang", &self.lang).field("started", &self.started).finish()
    }
}
