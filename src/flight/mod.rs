//! Arrow Flight SQL (feature `flight`): the `chronicle-flight` service over
//! one [`Db`](crate::Db), beside the HTTP server.
//!
//! ```text
//! gRPC ─▶ chronicle_flight::SqlService
//!           ├─ auth: TokenAuth (the HTTP server's tokens and scopes)
//!           ├─ session: DbSessions (Db::session_context per request)
//!           └─ ingest: DbIngest (batches ─▶ ingest::arrow_rows ─▶ Db::write_rows, blocking pool)
//! ```
//!
//! The settings are the HTTP server's ([`ServerConfig`]): the same tokens
//! (a read token queries, a read-write token also ingests; a basic login's
//! password is the token) and the same query timeout.

mod auth;
mod ingest;
mod session;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub use auth::TokenAuth;
pub use chronicle_flight::SqlService;
pub use ingest::DbIngest;
pub use session::DbSessions;

use crate::Db;
use crate::http::ServerConfig;

/// The default address: loopback, Flight SQL's customary port.
pub const DEFAULT_FLIGHT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8815);

/// The Flight SQL service over `db` with the tokens and query timeout of
/// `config`.
pub fn service(db: Arc<Db>, config: &ServerConfig) -> chronicle_flight::Result<SqlService> {
    let service =
        SqlService::try_new(Arc::new(DbSessions::new(Arc::clone(&db))), "chronicle", env!("CARGO_PKG_VERSION"))?
            .with_ingest(Arc::new(DbIngest::new(db)))
            .with_authenticator(Arc::new(TokenAuth::new(config.auth.clone())))
            .with_query_timeout(config.limits.query_timeout)?;
    Ok(service)
}
