//! Flight SQL queries under the HTTP server's limits: each waits for one of
//! its query slots ([`QuerySlots`]) and is counted in `/metrics` as
//! `lang="flight_sql"`.

use async_trait::async_trait;
use chronicle_flight::{Admission, Caller, Error, QueryGate};

use crate::http::QuerySlots;

/// The label of Flight SQL queries in `/metrics`.
const FLIGHT_SQL_LANG: &str = "flight_sql";

/// Admits a Flight SQL query once it holds one of the HTTP server's slots.
#[derive(Debug, Clone)]
pub struct SlotGate {
    slots: QuerySlots,
}

impl SlotGate {
    /// A gate over `slots`.
    pub fn new(slots: QuerySlots) -> Self {
        Self { slots }
    }
}

#[async_trait]
impl QueryGate for SlotGate {
    async fn admit(&self, _caller: &Caller) -> chronicle_flight::Result<Admission> {
        let slot = self.slots.acquire(FLIGHT_SQL_LANG).await.map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Admission::new(slot))
    }
}
