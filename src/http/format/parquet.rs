//! Parquet: one file, row groups written as they fill; the footer comes
//! last, so a body cut short is not a readable file.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;

use super::BinaryWriter;

/// A Parquet writer of `schema` with the default properties.
pub(super) fn writer(schema: SchemaRef) -> Result<ArrowWriter<Vec<u8>>, ArrowError> {
    Ok(ArrowWriter::try_new(Vec::new(), schema, None)?)
}

/// Taking the buffer's bytes is safe: the writer counts offsets itself, not
/// by the buffer's length.
impl BinaryWriter for ArrowWriter<Vec<u8>> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        Ok(self.write(batch)?)
    }

    fn close(&mut self) -> Result<(), ArrowError> {
        self.finish()?;
        Ok(())
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        self.inner_mut()
    }
}
