//! Admission of queries: before a statement or a prepared statement runs
//! (`DoGet`), the service asks the embedder's [`QueryGate`], which may make
//! it wait (for one of a bounded number of slots, say) or refuse it.
//!
//! Invariant: the [`Admission`] granted is held for as long as the query
//! runs and dropped once it has ended, failed, timed out or lost its client,
//! before the client sees the end of the stream; dropping it is how the
//! gate learns the query is over (to free its slot, to count it). Only
//! queries are gated: metadata answers come from the catalogs, and ingest
//! is a write.

use async_trait::async_trait;

use crate::auth::Caller;
use crate::error::Result;

/// Decides whether and when a query may run.
#[async_trait]
pub trait QueryGate: Send + Sync + 'static {
    /// Admits a query of `caller`, waiting as long as the gate's policy
    /// allows; an error refuses the query and is what the client sees
    /// (`Error::Unavailable` for "too many queries").
    async fn admit(&self, caller: &Caller) -> Result<Admission>;
}

/// A query's admission: whatever the gate keeps while the query runs (a
/// slot, a start time), released by dropping it.
pub struct Admission {
    _held: Box<dyn Send>,
}

impl Admission {
    /// An admission holding `held` until the query is over.
    pub fn new(held: impl Send + 'static) -> Self {
        Self { _held: Box::new(held) }
    }
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

/// Admits every query at once (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Open;

#[async_trait]
impl QueryGate for Open {
    async fn admit(&self, _caller: &Caller) -> Result<Admission> {
        Ok(Admission::new(()))
    }
}
