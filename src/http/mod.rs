//! The HTTP server (feature `server`): Chronicle's write and query APIs and
//! the protocols of its peers, over one [`Db`](crate::Db).
//!
//! ```text
//! request ─▶ router (server) ─▶ health_metrics::track (latency, counts)
//!         ─▶ Caller (auth: who, with which scope) ─▶ handler of the API family
//!         ─▶ limits (body size, gzip, timeouts) ─▶ ingest parser / query
//!         ─▶ Db (writes on the blocking pool: concurrent requests share group commits)
//!         ◀─ ApiError (error: the one mapping from typed errors to status and shape)
//! ```
//!
//! One file per API family, each exporting `routes()`; [`Server`] merges
//! them. Every handler receives the resolved [`Caller`](auth::Caller), so
//! scoping a request (tenants, later) happens in one place. Every failure is
//! an [`ApiError`](error::ApiError), which alone decides the status code and
//! the body's shape.

mod auth;
mod error;
mod format;
mod health_metrics;
mod influx_compat;
mod limits;
mod otlp;
mod prometheus_api;
mod prometheus_json;
mod query;
mod query_slots;
mod remote;
mod server;
mod state;
mod write;

pub use auth::{AuthConfig, Scope, Token};
pub use query_slots::{NoQuerySlot, QuerySlot, QuerySlots};
pub use server::{Limits, Server, ServerConfig};
