//! Keeping the cold tier's manifest mirror (`crate::tier`, `mirror.rs`)
//! in step with the database: the manifest and the deletes in force, read
//! when the mirror's lock is taken.

use super::{Db, Inner};
use crate::error::Result;

impl Inner {
    /// Rewrites the mirror from the manifest and the deletes in force.
    pub(super) async fn write_tier_mirror(&self) -> Result<()> {
        let ns = self.read()?.partition_ns;
        self.tier.write_mirror(ns, || Ok(self.read()?.tombstones.clone())).await
    }
}

impl Db {
    /// Rewrites the cold tier's manifest mirror; nothing without a tier.
    pub(crate) async fn write_tier_mirror(&self) -> Result<()> {
        self.inner.write_tier_mirror().await
    }
}
