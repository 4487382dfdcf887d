//! Parquet export: a measurement or a query's result, written as sorted,
//! dictionary-encoded, zstd-compressed Parquet that DuckDB, pandas and
//! polars read, to a local file or an object store (`s3://`, see
//! [`super::export_destination`], which this module depends on, never the
//! reverse). Every destination goes through DataFusion's one Parquet writer.

use datafusion::common::ScalarValue;
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{SessionContext, col, lit};

use super::export_destination::{ExportOptions, register_destination};
use crate::db::Db;
use crate::error::{Error, Result};

/// What to export.
#[derive(Debug, Clone, Copy)]
pub enum ExportSource<'a> {
    /// Every column of a measurement, sorted by (tags..., time).
    Measurement(&'a str),
    /// The result of a SQL query, in its own order.
    Query(&'a str),
}

impl Db {
    /// Writes `source` restricted to `start..=end` (on its `time` column) to
    /// `destination`: a local path, a `file://` URL or, with the `s3` cargo
    /// feature (on by default), an `s3://bucket/key` URL configured from the
    /// `AWS_*` environment (see [`ExportOptions`]). Any other scheme is an
    /// [`Error::InvalidArgument`]. Returns the rows written.
    pub async fn export_parquet(
        &self,
        source: ExportSource<'_>,
        range: Option<(i64, i64)>,
        destination: &str,
    ) -> Result<u64> {
        self.export_parquet_with(source, range, destination, &ExportOptions::new()).await
    }

    /// [`Db::export_parquet`] with object-store `options` over the
    /// environment's, e.g. an endpoint and credentials for this export only.
    pub async fn export_parquet_with(
        &self,
        source: ExportSource<'_>,
        range: Option<(i64, i64)>,
        destination: &str,
        options: &ExportOptions,
    ) -> Result<u64> {
        let ctx = self.session_context();
        register_destination(&ctx, destination, options)?;
        let mut parquet = TableParquetOptions::new();
        parquet.global.compression = Some("zstd(3)".into());
        parquet.global.dictionary_enabled = Some(true);
        self.write_parquet_in(&ctx, source, range, destination, parquet).await
    }

    /// Writes `source` restricted to `range` to `destination`, a URL whose
    /// store `ctx` already has, encoded as `options` say. The one writer of
    /// exports and of the cold tier.
    pub(crate) async fn write_parquet_in(
        &self,
        ctx: &SessionContext,
        source: ExportSource<'_>,
        range: Option<(i64, i64)>,
        destination: &str,
        options: TableParquetOptions,
    ) -> Result<u64> {
        let mut frame = match source {
            ExportSource::Measurement(m) => {
                let table = self.table(m)?;
                let tags: Vec<String> = self.tag_keys(Some(m))?;
                let frame = ctx.read_table(std::sync::Arc::new(table))?;
                let order =
                    tags.iter().map(|t| col(t.as_str()).sort(true, false)).chain([col("time").sort(true, false)]);
                frame.sort(order.collect())?
            }
            ExportSource::Query(sql) => ctx.sql(sql).await?,
        };
        if let Some((start, end)) = range {
            if frame.schema().field_with_unqualified_name("time").is_err() {
                return Err(Error::InvalidArgument("a time range needs a `time` column in the result".into()));
            }
            let ts = |t: i64| lit(ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into())));
            frame = frame.filter(col("time").between(ts(start), ts(end)))?;
        }
        let written = frame
            .write_parquet(destination, DataFrameWriteOptions::new().with_single_file_output(true), Some(options))
            .await?;
        // DataFusion's writers answer one row with one UInt64 column: the count.
        written
            .first()
            .and_then(|b| b.columns().first())
            .and_then(|c| c.as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>())
            .filter(|c| c.len() == 1)
            .map(|c| c.value(0))
            .ok_or_else(|| Error::Internal("the Parquet writer returned no row count".into()))
    }
}
