//! The server: settings, the router merging every API family, binding, and
//! graceful shutdown (stop accepting, finish in-flight requests; the caller
//! then flushes and closes the database).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;

use super::auth::AuthConfig;
use super::error::{ApiError, Kind};
use super::health_metrics;
use super::otlp;
use super::prometheus_api;
use super::query;
use super::query_slots::QuerySlots;
use super::remote;
use super::state::AppState;
use super::write;
use crate::Db;

/// The default address: loopback, InfluxDB's port.
pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8086);

/// What one request may cost. Every limit refuses with a status and a
/// message saying which limit and its value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body as sent (compressed or not): 413 beyond.
    pub max_body_bytes: usize,
    /// Largest body after gzip or snappy decompression: 413 beyond.
    pub max_decompressed_bytes: usize,
    /// Longest a request may take, reading its body included: 503 beyond.
    pub request_timeout: Duration,
    /// Longest a query may run; it is cancelled then: 503.
    pub query_timeout: Duration,
    /// Queries running at once; more wait up to the query timeout.
    pub max_concurrent_queries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 << 20,
            max_decompressed_bytes: 64 << 20,
            request_timeout: Duration::from_secs(30),
            query_timeout: Duration::from_secs(30),
            max_concurrent_queries: 16,
        }
    }
}

/// The server's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port ([`Server::local_addr`]).
    pub http_addr: SocketAddr,
    /// Per-request limits.
    pub limits: Limits,
    /// Tokens; none turns auth off.
    pub auth: AuthConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { http_addr: DEFAULT_HTTP_ADDR, limits: Limits::default(), auth: AuthConfig::default() }
    }
}

/// A bound HTTP server over one database.
pub struct Server {
    listener: TcpListener,
    router: Router,
    slots: QuerySlots,
}

impl Server {
    /// Binds `config.http_addr` and builds the routes over `db`.
    pub async fn bind(db: Arc<Db>, config: ServerConfig) -> std::io::Result<Server> {
        let listener = TcpListener::bind(config.http_addr).await?;
        let state = AppState::new(db, config);
        Ok(Server { listener, slots: QuerySlots::new(state.clone()), router: router(state) })
    }

    /// The address bound (with the port picked when asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The server's query slots, for queries arriving by another protocol.
    pub fn query_slots(&self) -> QuerySlots {
        self.slots.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting and returns
    /// once every in-flight request has been answered.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await
    }
}

/// Every route of the server, with the request tracking around them.
fn router(state: AppState) -> Router {
    Router::new()
        .merge(health_metrics::routes())
        .merge(write::routes())
        .merge(remote::routes())
        .merge(otlp::routes())
        .merge(query::routes())
        .merge(prometheus_api::routes())
        .fallback(not_found)
        // Each handler reads its body through `limits`, which says which
        // limit a body broke; axum's own limit would answer first, blindly.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), health_metrics::track))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(Kind::NotFound, format!("no route for {}", uri.path()))
}
