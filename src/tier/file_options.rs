//! How the cold tier encodes its Parquet files, column by column.
//!
//! A tier file is written once and read for years, so it pays for a slower,
//! tighter encoding on write. Measured on TSBS cpu (one hour of 100 hosts,
//! ten float fields per row: the tier's typical file), against the export's
//! defaults (dictionary for every column, zstd level 3):
//!
//! | choice                                   | bytes vs export defaults |
//! |------------------------------------------|--------------------------|
//! | floats `BYTE_STREAM_SPLIT`, zstd 3       | 0.77                     |
//! | same, zstd [`ZSTD_LEVEL`]                | 0.65                     |
//! | floats plain (no dictionary), zstd 19    | 0.73                     |
//!
//! So: fields (`Float64`) byte-stream-split without dictionary (a
//! dictionary of metric values rarely repeats enough to pay and hides the
//! byte planes from zstd), `time` `DELTA_BINARY_PACKED` (regular steps pack
//! to a few bits), tags dictionary-encoded (few distinct values, sorted
//! runs). Page statistics (and so the page index) for every column, row
//! groups of at most [`ROW_GROUP_ROWS`]. All are standard Parquet encodings
//! that DuckDB, pyarrow and Spark read. (A column whose name holds a `.`
//! keeps the global options: DataFusion reads option keys as nested paths.)

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::config::{ParquetColumnOptions, TableParquetOptions};

/// zstd level of tier files: past 15 files shrink by under 1 % while writing
/// gets several times slower; reading costs the same at any level.
const ZSTD_LEVEL: u32 = 15;

/// Rows per row group at most: a partition of a few hundred series fits in
/// one; larger ones split into groups that prune and scan in parallel.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Parquet writer options for a tier file of a table with `schema` (the
/// Chronicle layout: `time`, dictionary tags, `Float64` fields), with
/// `metadata` as key-value metadata.
pub(super) fn tier_file_options(schema: &Schema, metadata: &[(&str, String)]) -> TableParquetOptions {
    let mut options = TableParquetOptions::new();
    options.global.compression = Some(format!("zstd({ZSTD_LEVEL})"));
    options.global.statistics_enabled = Some("page".into());
    options.global.max_row_group_size = ROW_GROUP_ROWS;
    for field in schema.fields() {
        let (encoding, dictionary) = match field.data_type() {
            DataType::Dictionary(_, _) => (None, true),
            DataType::Float64 => (Some("byte_stream_split"), false),
            DataType::Timestamp(_, _) => (Some("delta_binary_packed"), false),
            _ => (None, false),
        };
        let column = ParquetColumnOptions {
            encoding: encoding.map(str::to_string),
            dictionary_enabled: Some(dictionary),
            ..Default::default()
        };
        options.column_specific_options.insert(field.name().clone(), column);
    }
    for (key, value) in metadata {
        options.key_value_metadata.insert((*key).to_string(), Some(value.clone()));
    }
    options
}
