//! The `chronicle` schema: system tables describing the database, built
//! from the index at each query.
//!
//! - `chronicle.measurements(measurement, series, fields, tag_keys)`
//! - `chronicle.series(series_id, measurement, tags)` (tags as `k=v,k=v`)
//! - `chronicle.partitions(start, end, blocks, chunks, file_points,
//!   file_bytes, memory_points)`

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
use crate::db::Db;
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
                let parts = self.db.partitions()?;
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
                    ],
                    vec![
                        time(|p| p.start),
                        time(|p| p.end),
                        n(|p| p.blocks as u64),
                        n(|p| p.chunks as u64),
                        n(|p| p.file_points),
                        n(|p| p.file_bytes),
                        n(|p| p.memory_points),
                    ],
                )
            }
            _ => return Ok(None),
        };
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        Ok(Some(RecordBatch::try_new(schema, columns).map_err(|e| crate::Error::Internal(e.to_string()))?))
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
