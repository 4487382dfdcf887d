//! What every handler shares: the database, the settings, the server's own
//! metrics and the query slots.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::health_metrics::Metrics;
use super::server::ServerConfig;
use crate::Db;

/// The state behind every route. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The database served.
    pub db: Arc<Db>,
    /// The settings the server started with.
    pub config: Arc<ServerConfig>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// One permit per query allowed to run at once.
    pub queries: Arc<Semaphore>,
}

impl AppState {
    pub fn new(db: Arc<Db>, config: ServerConfig) -> Self {
        let queries = Arc::new(Semaphore::new(config.limits.max_concurrent_queries.max(1)));
        Self { db, config: Arc::new(config), metrics: Arc::new(Metrics::default()), queries }
    }
}
