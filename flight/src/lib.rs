//! Arrow Flight SQL over any DataFusion [`SessionContext`]: queries stream
//! their results as Arrow, metadata comes from the session's catalogs, and
//! DataFrames come back in by bulk ingest. The crate depends on DataFusion
//! and arrow-flight only; an embedder plugs in where sessions come from
//! ([`SessionProvider`]), where ingested batches go ([`IngestSink`]), who
//! may call ([`Authenticator`]) and when a query may run ([`QueryGate`]).
//!
//! ```text
//! gRPC call ─▶ service (SqlService: FlightSqlService dispatch)
//!            ─▶ auth (credentials ─▶ Authenticator ─▶ Caller, scope checked)
//!            ─▶ session (SessionProvider: the caller's SessionContext)
//!            ─▶ gate (QueryGate: a query waits for, or is refused, admission)
//!            ─▶ statement | prepared | metadata | ingest
//!            ◀─ error (Error ─▶ gRPC status: the one mapping)
//! ```
//!
//! | module | owns |
//! |--------|------|
//! | [`service`] | [`SqlService`], its settings, serving on a listener |
//! | [`auth`] | credentials (handshake, bearer, basic), [`Authenticator`] |
//! | [`session`] | [`SessionProvider`] |
//! | [`gate`] | [`QueryGate`]: admitting queries, holding their [`Admission`] while they run |
//! | [`statement`] | read-only SQL, tickets, streaming results with a timeout |
//! | [`prepared`] | stateless prepared statement handles, parameters |
//! | [`metadata`] | `GetSqlInfo`, catalogs, schemas, tables, table types, XDBC types |
//! | [`ingest`] | `CommandStatementIngest`: modes, [`IngestSink`] |
//! | [`error`] | [`Error`] and its gRPC codes |
//!
//! [`SessionContext`]: datafusion::prelude::SessionContext

pub mod auth;
pub mod error;
pub mod gate;
pub mod ingest;
pub mod metadata;
pub mod prepared;
pub mod service;
pub mod session;
pub mod statement;

pub use auth::{Access, Authenticator, Caller, Credentials, NoAuth};
pub use error::{Error, Result};
pub use gate::{Admission, Open, QueryGate};
pub use ingest::{BatchStream, IngestMode, IngestSink};
pub use service::SqlService;
pub use session::SessionProvider;
