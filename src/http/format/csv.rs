//! CSV: a header row of column names, then a row per result row; times as
//! RFC 3339 in UTC, null as an empty field, fields quoted where needed.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::error::ArrowError;

use super::{Encoder, TIMESTAMP_FORMAT};

/// Encodes rows as CSV; see the module docs.
pub(crate) struct CsvEncoder {
    /// Whether the header row was written.
    wrote_header: bool,
}

impl CsvEncoder {
    pub fn new() -> Self {
        Self { wrote_header: false }
    }
}

impl Encoder for CsvEncoder {
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError> {
        Ok(Vec::new())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        // A writer per batch: it writes the header only when told, and its
        // bytes are taken as soon as the batch is written.
        let mut writer = WriterBuilder::new()
            .with_header(!self.wrote_header)
            .with_timestamp_format(TIMESTAMP_FORMAT.to_owned())
            .with_timestamp_tz_format(TIMESTAMP_FORMAT.to_owned())
            .build(Vec::new());
        writer.write(batch)?;
        self.wrote_header = true;
        Ok(writer.into_inner())
    }

    fn finish(&mut self) -> Result<Vec<u8>, ArrowError> {
        Ok(Vec::new())
    }

    fn fail(&mut self, _message: &str) -> Option<Vec<u8>> {
        None
    }
}
