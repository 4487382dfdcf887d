//! `ChronicleTable`: one measurement as a DataFusion table.
//!
//! Columns: `time` (`Timestamp(Nanosecond, "UTC")`), one
//! `Dictionary(Int32, Utf8)` column per tag key (sorted), one nullable
//! `Float64` column per field (sorted), fixed when the table is created. A
//! row is a (series, time) at which any field has a value, whatever a query
//! projects; series with a tag key newer than the table are read too, that
//! tag unseen.
//! Filters are classified by [`super::filter`]; `scan` returns a
//! [`ChronicleScanExec`] with projection, limit and the pushed conditions,
//! beside a [`crate::TierMergeExec`] for partitions in the cold tier.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::filter::{self, Columns, Pushdown};
use super::scan_exec::ChronicleScanExec;
use super::to_df_error;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::storage::scan;
use crate::tier;

/// One measurement of a [`Db`] as a DataFusion table.
#[derive(Debug)]
pub struct ChronicleTable {
    db: Db,
    measurement: String,
    schema: SchemaRef,
    tags: BTreeSet<String>,
    fields: BTreeSet<String>,
}

impl ChronicleTable {
    /// The table of `measurement`, with the tags and fields it has now.
    pub fn try_new(db: &Db, measurement: &str) -> Result<Self> {
        if !db.has_measurement(measurement)? {
            return Err(Error::InvalidArgument(format!("no measurement named {measurement:?}")));
        }
        let tags = db.tag_keys(Some(measurement))?;
        let fields = db.fields(measurement)?;
        // Writes refuse such names; a file from an older version may hold them.
        let clash =
            tags.iter().chain(&fields).find(|n| *n == "time").or_else(|| tags.iter().find(|t| fields.contains(t)));
        if let Some(name) = clash {
            return Err(Error::InvalidArgument(format!(
                "measurement {measurement:?} cannot be a SQL table: {name:?} names two of its columns \
                 (time, a tag or a field)"
            )));
        }
        let schema = scan::schema(&tags, &fields);
        Ok(Self {
            db: db.clone(),
            measurement: measurement.to_string(),
            schema,
            tags: tags.into_iter().collect(),
            fields: fields.into_iter().collect(),
        })
    }

    /// The measurement.
    pub fn measurement(&self) -> &str {
        &self.measurement
    }
}

impl Columns for ChronicleTable {
    fn is_tag(&self, name: &str) -> bool {
        self.tags.contains(name)
    }

    fn is_field(&self, name: &str) -> bool {
        self.fields.contains(name)
    }
}

#[async_trait]
impl TableProvider for ChronicleTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters.iter().map(|f| filter::support(f, self)).collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mut pushdown = Pushdown::from_filters(filters, self);
        // Retention, decided once for this plan: both tiers start here.
        let live_from = self.db.expiry().map_err(to_df_error)?.live_from(&self.measurement);
        pushdown.start = pushdown.start.max(live_from);
        // A limit may be applied by the scan only if it applies every filter.
        let exact = filters.iter().all(|f| filter::support(f, self) == TableProviderFilterPushDown::Exact);
        let limit = limit.filter(|_| exact);
        let exec = ChronicleScanExec::try_new(
            self.db.clone(),
            self.measurement.clone(),
            Arc::clone(&self.schema),
            projection.cloned(),
            pushdown,
            limit,
        )
        .map_err(to_df_error)?;
        let table = tier::TableScan {
            db: &self.db,
            measurement: &self.measurement,
            schema: &self.schema,
            columns: self,
            live_from,
        };
        tier::plan_scan(&table, state, projection, filters, exec).map_err(to_df_error)
    }
}
