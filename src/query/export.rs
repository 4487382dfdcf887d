//! Parquet export: a measurement or a query's result, written as sorted,
//! dictionary-encoded, zstd-compressed Parquet that DuckDB, pandas and
//! polars read, to a local file or an object store (`s3://`, see
//! [`super::export_destination`]). Every destination goes through
//! DataFusion's one Parquet writer.

use datafusion::common::ScalarValue;
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{col, lit};

use super::export_destination::register_destination;
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

/// How an export reaches its destination, beyond what the environment says.
///
/// An `s3://` destination is configured like any `object_store` S3 client:
/// from the `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT` or `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), then from
/// the options set here, which win (an endpoint set here also outranks
/// `AWS_ENDPOINT_URL_S3`). Keys not set here keep the environment's value,
/// a session token included. The bucket is always the URL's. Local
/// destinations ignore these options.
///
/// ```
/// use chronicle::ExportOptions;
///
/// // An S3-compatible server on this machine, whatever the environment says.
/// let options = ExportOptions::new()
///     .with_storage_option("aws_endpoint", "http://127.0.0.1:9000")
///     .with_storage_option("aws_allow_http", "true");
/// ```
#[derive(Clone, Default)]
pub struct ExportOptions {
    storage: Vec<(String, String)>,
}

impl ExportOptions {
    /// Options that add nothing to the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets option `key` of the destination's object store to `value`, over
    /// the environment's. For `s3://` the keys are `object_store`'s S3 keys
    /// (`aws_access_key_id`, `aws_endpoint`, `aws_allow_http`, ...), in
    /// lower case or spelled as the environment variable; an unknown key
    /// fails the export with [`Error::InvalidArgument`]. A later value for
    /// the same key wins.
    pub fn with_storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.storage.push((key.into(), value.into()));
        self
    }

    /// The object-store options, in the order they were set.
    pub(super) fn storage_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.storage.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl std::fmt::Debug for ExportOptions {
    /// Prints the keys only: values include secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOptions")
            .field("storage", &self.storage.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl Db {
    /// Writes `source` restricted to `start..=end` (on its `time` column) to
    /// `destination`: a local path, a `file://` URL or an `s3://bucket/key`
    /// URL, the latter configured from the `AWS_*` environment (see
    /// [`ExportOptions`]). Any other scheme is an [`Error::InvalidArgument`].
    /// Returns the rows written.
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
        let mut options = TableParquetOptions::new();
        options.global.compression = Some("zstd(3)".into());
        options.global.dictionary_enabled = Some(true);
        let written = frame
            .write_parquet(destination, DataFrameWriteOptions::new().with_single_file_output(true), Some(options))
            .await?;
        let rows = written
            .first()
            .and_then(|b| b.column(0).as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>())
            .map_or(0, |c| c.value(0));
        Ok(rows)
    }
}
