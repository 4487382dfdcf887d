//! The `chronicle` schema: system tables describing the database, built
//! from the index at each query.
//!
//! - `chronicle.measurements(measurement, series, fields, tag_keys)`
//! - `chronicle.series(series_id, measurement, tags)` (tags as `k=v,k=v`)
//! - `chronicle.partitions(start, end, blocks, chunks, file_points,
//!   file_bytes, memory_points, tiered_files, tiered_bytes, state)`, where
//!   `state` is the first that holds of: `expired` (every measurement's
//!   part of it, by the retention), `tiered` (in the cold tier, nothing
//!   left locally), `tiered_local` (in the cold tier, its local chunks
//!   waiting for compaction), `memory` (no block yet), `fragmented`
//!   (several blocks: compaction merges them), `file` (one block).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::datasource::MemTable;

use super::to_df_error;
use crate::db::{Db, PartitionInfo};
use crate::error::Result;
use crate::storage::scan::time_type;

const TABLES: [&str; 3] = ["measurements", "series", "partitions"];

/// The `chronicle` schema of system tables.
#[derive(Debug)]
pub struct SystemSchema {
    db: Db,
}

impl SystemSchema {
    /// The system tables of `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn batch(&self, name: &str) -> Result<Option<RecordBatch>> {
        let text = |v: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let count = |v: Vec<u64>| -> ArrayRef { Arc::new(UInt64Array::from(v)) };
        let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = match name {
            "measurements" => {
                let names = self.db.measurements()?;
                let series = self.db.series()?;
                let mut counts = Vec::new();
                let mut fields = Vec::new();
                let mut tags = Vec::new();
                for m in &names {
                    counts.push(series.iter().filter(|(_, k)| &k.measurement == m).count() as u64);
                    fields.push(self.db.fields(m)?.join(","));
                    tags.push(self.db.tag_keys(Some(m))?.join(","));
                }
                (
                    vec![
                        Field::new("measurement", DataType::Utf8, false),
                        Field::new("series", DataType::UInt64, false),
                        Field::new("fields", DataType::Utf8, false),
                        Field::new("tag_keys", DataType::Utf8, false),
                    ],
                    vec![text(names), count(counts), text(fields), text(tags)],
                )
            }
            "series" => {
                let series = self.db.series()?;
                let ids: Vec<u32> = series.iter().map(|(id, _)| *id).collect();
                let measurements = series.iter().map(|(_, k)| k.measurement.clone()).collect();
                let tags = series
                    .iter()
                    .map(|(_, k)| k.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
                    .collect();
                (
                    vec![
                        Field::new("series_id", DataType::UInt32, false),
                        Field::new("measurement", DataType::Utf8, false),
                        Field::new("tags", DataType::Utf8, false),
                    ],
                    vec![Arc::new(UInt32Array::from(ids)), text(measurements), text(tags)],
                )
            }
            "partitions" => {
                let (parts, tiered_files, tiered_bytes, states) = self.partition_rows()?;
                let time = |f: fn(&crate::db::PartitionInfo) -> i64| -> ArrayRef {
                    Arc::new(
                        TimestampNanosecondArray::from(parts.iter().map(f).collect::<Vec<_>>()).with_timezone("UTC"),
                    )
                };
                let n = |f: fn(&crate::db::PartitionInfo) -> u64| count(parts.iter().map(f).collect());
                (
                    vec![
                        Field::new("start", time_type(), false),
                        Field::new("end", time_type(), false),
                        Field::new("blocks", DataType::UInt64, false),
                        Field::new("chunks", DataType::UInt64, false),
                        Field::new("file_points", DataType::UInt64, false),
                        Field::new("file_bytes", DataType::UInt64, false),
                        Field::new("memory_points", DataType::UInt64, false),
                        Field::new("tiered_files", DataType::UInt64, false),
                        Field::new("tiered_bytes", DataType::UInt64, false),
                        Field::new("state", DataType::Utf8, false),
                    ],
                    vec![
                        time(|p| p.start),
                        time(|p| p.end),
                        n(|p| p.blocks as u64),
                        n(|p| p.chunks as u64),
                        n(|p| p.file_points),
                        n(|p| p.file_bytes),
                        n(|p| p.memory_points),
                        count(tiered_files),
                        count(tiered_bytes),
                        text(states),
                    ],
                )
            }
            _ => return Ok(None),
        };
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        Ok(Some(RecordBatch::try_new(schema, columns).map_err(|e| crate::Error::Internal(e.to_string()))?))
    }
}

impl SystemSchema {
    /// Every partition, of the database or only of its cold tier, by start,
    /// with its tiered files, their bytes, and its state (see the module docs).
    #[allow(clippy::type_complexity, reason = "the columns of one table, built together")]
    fn partition_rows(&self) -> Result<(Vec<PartitionInfo>, Vec<u64>, Vec<u64>, Vec<String>)> {
        let ns = self.db.partition_duration_ns()?;
        let expiry = self.db.expiry()?;
        let measurements = self.db.measurements()?;
        let tiered = self.db.tiered_files()?;
        let mut parts = self.db.partitions()?;
        let starts: std::collections::BTreeSet<i64> = tiered.iter().map(|f| f.partition_start).collect();
        for start in starts {
            if !parts.iter().any(|p| p.start == start) {
                parts.push(PartitionInfo::tiered_only(start, ns));
            }
        }
        parts.sort_by_key(|p| p.start);
        let mut files = Vec::with_capacity(parts.len());
        let mut bytes = Vec::with_capacity(parts.len());
        let mut states = Vec::with_capacity(parts.len());
        for part in &parts {
            let p = part.start.div_euclid(ns);
            let here: Vec<_> = tiered.iter().filter(|f| f.partition_start == part.start).collect();
            files.push(here.len() as u64);
            bytes.push(here.iter().map(|f| f.size).sum());
            let expired = !measurements.is_empty() && measurements.iter().all(|m| expiry.expired(m, p, ns));
            let state = match () {
                () if expired => "expired",
                () if !here.is_empty() && part.file_bytes == 0 && part.memory_points == 0 => "tiered",
                () if !here.is_empty() => "tiered_local",
                () if part.blocks == 0 => "memory",
                () if part.blocks > 1 => "fragmented",
                () => "file",
            };
            states.push(state.to_string());
        }
        Ok((parts, files, bytes, states))
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(batch) = self.batch(name).map_err(to_df_error)? else { return Ok(None) };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}
