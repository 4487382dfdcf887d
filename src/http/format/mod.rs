//! The output formats of `/query` in Chronicle's form, chosen by the
//! `format` parameter or else the `Accept` header (see [`Format::negotiate`]),
//! and the one convention they share: times as RFC 3339 in UTC.
//!
//! Each format is an [`Encoder`] fed the result's schema and then its
//! batches one at a time; what it returns for each is sent at once, so no
//! format holds more than one batch of output (Parquet holds the rows of its
//! open row group, as any Parquet writer must).
//!
//! | `format=` | `Accept`                              | body                                |
//! |-----------|---------------------------------------|-------------------------------------|
//! | `json`    | `application/json` (the default)      | `{"columns":[..],"rows":[[..],..]}` |
//! | `csv`     | `text/csv`                            | a header row, then a row per row    |
//! | `arrow`   | `application/vnd.apache.arrow.stream` | an Arrow IPC stream                 |
//! | `parquet` | `application/vnd.apache.parquet`      | a Parquet file                      |

mod arrow;
mod csv;
pub(crate) mod json;
mod parquet;

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::error::ApiError;

/// How timestamps with a time zone are written (after conversion to UTC).
pub(crate) const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// An output format of `/query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Rows as JSON arrays, streamed.
    Json,
    /// Comma-separated values with a header row.
    Csv,
    /// An Arrow IPC stream.
    Arrow,
    /// A Parquet file.
    Parquet,
}

impl Format {
    const ALL: [(Format, &'static str, &'static str); 4] = [
        (Format::Json, "json", "application/json"),
        (Format::Csv, "csv", "text/csv"),
        (Format::Arrow, "arrow", "application/vnd.apache.arrow.stream"),
        (Format::Parquet, "parquet", "application/vnd.apache.parquet"),
    ];

    /// The format a request asks for: the `format` parameter when given (an
    /// unknown name is an error), else the first media type of `Accept` that
    /// names a format, else JSON (browsers and `*/*` get JSON).
    pub fn negotiate(param: Option<&str>, accept: Option<&str>) -> Result<Format, ApiError> {
        if let Some(name) = param {
            return Format::ALL.iter().find(|(_, n, _)| n.eq_ignore_ascii_case(name.trim())).map(|f| f.0).ok_or_else(
                || ApiError::bad_data(format!("unknown format {name:?}: use json, csv, arrow or parquet")),
            );
        }
        let wanted = accept.into_iter().flat_map(|a| a.split(',')).map(|m| m.split(';').next().unwrap_or("").trim());
        for media in wanted {
            if let Some((format, _, _)) = Format::ALL.iter().find(|(_, _, m)| m.eq_ignore_ascii_case(media)) {
                return Ok(*format);
            }
        }
        Ok(Format::Json)
    }

    /// Its name in the `format` parameter.
    pub fn name(self) -> &'static str {
        Format::ALL.iter().find(|(f, _, _)| *f == self).map_or("json", |(_, name, _)| name)
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// An encoder of a result with `schema` in this format.
    pub fn encoder(self, schema: &SchemaRef) -> Result<Box<dyn Encoder>, ArrowError> {
        let schema = utc_schema(schema);
        Ok(match self {
            Format::Json => Box::new(json::JsonEncoder::new(&schema)),
            Format::Csv => Box::new(csv::CsvEncoder::new()),
            Format::Arrow => Box::new(BinaryEncoder(arrow::writer(&schema)?)),
            Format::Parquet => Box::new(BinaryEncoder(parquet::writer(schema)?)),
        })
    }
}

/// A writer of a binary columnar format into a buffer it owns, whose
/// bytes can be taken as they are written: the Arrow IPC stream and Parquet.
trait BinaryWriter: Send {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ArrowError>;
    fn close(&mut self) -> Result<(), ArrowError>;
    /// The buffer the writer appends to.
    fn buffer(&mut self) -> &mut Vec<u8>;
}

/// The [`Encoder`] of a [`BinaryWriter`]: each call returns what the writer
/// wrote since the last one. Such formats cannot say why a body ends short.
struct BinaryEncoder<W>(W);

impl<W: BinaryWriter> BinaryEncoder<W> {
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.0.buffer())
    }
}

impl<W: BinaryWriter> Encoder for BinaryEncoder<W> {
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError> {
        Ok(self.take())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        self.0.write_batch(batch)?;
        Ok(self.take())
    }

    fn finish(&mut self) -> Result<Vec<u8>, ArrowError> {
        self.0.close()?;
        Ok(self.take())
    }

    fn fail(&mut self, _message: &str) -> Option<Vec<u8>> {
        None
    }
}

/// Writes a result in one format, a batch at a time.
pub(crate) trait Encoder: Send {
    /// The bytes that open the body (what comes before any row).
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError>;
    /// The bytes of `batch`'s rows (already in UTC, see [`utc_batch`]).
    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError>;
    /// The bytes that close a complete body.
    fn finish(&mut self) -> Result<Vec<u8>, ArrowError>;
    /// The bytes that close a body whose query failed after its first rows
    /// were sent, saying `message`; `None` when the format cannot say it,
    /// and the body is then cut short, which its client sees as an error.
    fn fail(&mut self, message: &str) -> Option<Vec<u8>>;
}

/// `schema` with every timestamp column in UTC.
fn utc_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(utc(f.data_type()))).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The type a column of `data_type` is written as: a timestamp in UTC
/// (a time without a zone is taken as UTC already), anything else as is.
fn utc(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(unit, _) => DataType::Timestamp(*unit, Some("UTC".into())),
        other => other.clone(),
    }
}

/// `batch` with every timestamp column in UTC, so each format writes times
/// one way: `2026-01-01T00:00:00Z`, RFC 3339 with the fraction it needs.
pub(crate) fn utc_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Timestamp(_, tz) if tz.as_deref() != Some("UTC")))
    {
        return Ok(batch.clone());
    }
    let columns = batch.columns().iter().map(|c| cast(c, &utc(c.data_type()))).collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(utc_schema(&batch.schema()), columns)
}

/// Nanoseconds since the epoch as RFC 3339 in UTC, with the fraction
/// trimmed of trailing zeros (`...:00Z`, `...:00.5Z`), as InfluxDB writes
/// times and Go's `time.RFC3339Nano` formats them.
pub(crate) fn rfc3339_ns(ns: i64) -> String {
    let seconds = ns.div_euclid(1_000_000_000);
    let fraction = ns.rem_euclid(1_000_000_000);
    let Some(at) = datafusion::arrow::temporal_conversions::timestamp_s_to_datetime(seconds) else {
        return ns.to_string();
    };
    let mut text = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    if fraction != 0 {
        let digits = format!(".{fraction:09}");
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_wins_then_accept_then_json() {
        assert_eq!(Format::negotiate(Some("CSV"), Some("application/json")).unwrap(), Format::Csv);
        assert_eq!(
            Format::negotiate(None, Some("text/html, application/vnd.apache.parquet;q=0.9, text/csv")).unwrap(),
            Format::Parquet
        );
        assert_eq!(Format::negotiate(None, Some("*/*")).unwrap(), Format::Json);
        assert_eq!(Format::negotiate(None, None).unwrap(), Format::Json);
        let unknown = Format::negotiate(Some("xml"), None).unwrap_err();
        assert!(unknown.message().contains("unknown format \"xml\""), "{}", unknown.message());
    }

    #[test]
    fn times_trim_their_fraction() {
        assert_eq!(rfc3339_ns(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ns(1_767_225_600_500_000_000), "2026-01-01T00:00:00.5Z");
        assert_eq!(rfc3339_ns(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(rfc3339_ns(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
