//! Where a request's DataFusion session comes from: the embedder's
//! [`SessionProvider`], asked once per call with the resolved caller, so
//! it can scope what the caller sees (its tables, later its tenant).

use async_trait::async_trait;
use datafusion::prelude::SessionContext;

use crate::auth::Caller;
use crate::error::Result;

/// Gives each request the session its SQL runs in.
#[async_trait]
pub trait SessionProvider: Send + Sync + 'static {
    /// The session for a request of `caller`. Called per request: a
    /// provider may build a fresh session each time or hand out clones of
    /// one (which share their catalogs).
    async fn session(&self, caller: &Caller) -> Result<SessionContext>;
}

/// One shared session for every caller (tests, embedders without tenants).
#[async_trait]
impl SessionProvider for SessionContext {
    async fn session(&self, _caller: &Caller) -> Result<SessionContext> {
        Ok(self.clone())
    }
}
