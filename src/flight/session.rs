//! The session of a Flight SQL call: the database's own SQL session.

use std::sync::Arc;

use async_trait::async_trait;
use chronicle_flight::{Caller, SessionProvider};
use datafusion::prelude::SessionContext;

use crate::Db;

/// Gives every call a fresh [`Db::session_context`]: every measurement as a
/// table, the system tables and the time-series functions. Callers are
/// not scoped further yet (one tenant).
#[derive(Clone)]
pub struct DbSessions {
    db: Arc<Db>,
}

impl DbSessions {
    /// Sessions over `db`.
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SessionProvider for DbSessions {
    async fn session(&self, _caller: &Caller) -> chronicle_flight::Result<SessionContext> {
        Ok(self.db.session_context())
    }
}
