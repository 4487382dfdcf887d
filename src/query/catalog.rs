//! `ChronicleSchema`: every measurement of a [`Db`] as a table, looked up in
//! the index at each query, so new measurements appear without registering.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::Result as DfResult;

use super::table::ChronicleTable;
use super::to_df_error;
use crate::db::Db;

/// The measurements of a database as a DataFusion schema.
#[derive(Debug)]
pub struct ChronicleSchema {
    db: Db,
}

impl ChronicleSchema {
    /// The schema of `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SchemaProvider for ChronicleSchema {
    fn table_names(&self) -> Vec<String> {
        self.db.measurements().unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !self.table_exist(name) {
            return Ok(None);
        }
        let table = ChronicleTable::try_new(&self.db, name).map_err(to_df_error)?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db.has_measurement(name).unwrap_or(false)
    }
}
