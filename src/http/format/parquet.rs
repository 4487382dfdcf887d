//! Parquet: one file, row groups written as they fill; the footer comes
//! last, so a body cut short is not a readable file.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;

use super::Encoder;

/// Encodes rows as a Parquet file; see the module docs.
pub(crate) struct ParquetEncoder {
    writer: ArrowWriter<Vec<u8>>,
}

impl ParquetEncoder {
    pub fn try_new(schema: SchemaRef) -> Result<Self, ArrowError> {
        Ok(Self { writer: ArrowWriter::try_new(Vec::new(), schema, None)? })
    }

    /// What the writer passed on since last asked. Taking the bytes is
    /// safe: the writer counts offsets itself, not by the buffer's length.
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.writer.inner_mut())
    }
}

impl Encoder for ParquetEncoder {
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError> {
        Ok(self.take())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        self.writer.write(batch)?;
        Ok(self.take())
    }

    fn finish(&mut self) -> Result<Vec<u8>, ArrowError> {
        self.writer.finish()?;
        Ok(self.take())
    }

    fn fail(&mut self, _message: &str) -> Option<Vec<u8>> {
        None
    }
}
