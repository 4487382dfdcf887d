//! Arrow Flight SQL (feature `flight`): the `chronicle-flight` service over
//! one [`Db`](crate::Db), beside the HTTP server.
//!
//! ```text
//! gRPC ─▶ chronicle_flight::SqlService
//!           ├─ auth: TokenAuth (the HTTP server's tokens and scopes)
//!           ├─ session: DbSessions (Db::session_context per request)
//!           ├─ gate: SlotGate (a query holds one of the HTTP server's query slots; /metrics counts it)
//!           └─ ingest: DbIngest (batches ─▶ ingest::arrow_rows ─▶ Db::write_rows, blocking pool)
//! ```
//!
//! The settings are the HTTP server's ([`ServerConfig`]): the same tokens
//! (a read token queries, a read-write token also ingests; a basic login's
//! password is the token), the same query timeout, and the same query
//! slots (`max_concurrent_queries` counts HTTP and Flight SQL queries
//! together).

mod auth;
mod gate;
mod ingest;
mod session;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub use auth::TokenAuth;
pub use chronicle_flight::SqlService;
pub use gate::SlotGate;
pub use ingest::DbIngest;
pub use session::DbSessions;

use crate::Db;
use crate::http::{QuerySlots, ServerConfig};

/// The default address: loopback, Flight SQL's customary port.
pub const DEFAULT_FLIGHT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8815);

/// The Flight SQL service over `db` with the tokens and query timeout of
/// `config`, its queries taking `slots` (the HTTP server's).
pub fn service(db: Arc<Db>, config: &ServerConfig, slots: QuerySlots) -> chronicle_flight::Result<SqlService> {
    let service =
        SqlService::try_new(Arc::new(DbSessions::new(Arc::clone(&db))), "chronicle", env!("CARGO_PKG_VERSION"))?
            .with_ingest(Arc::new(DbIngest::new(db)))
            .with_authenticator(Arc::new(TokenAuth::new(config.auth.clone())))
            .with_query_gate(Arc::new(SlotGate::new(slots)))
            .with_query_timeout(config.limits.query_timeout)?;
    Ok(service)
}
