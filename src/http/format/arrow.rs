//! Arrow IPC stream: the schema message, a record batch message per batch
//! (dictionaries before the batches that use them), the end-of-stream
//! marker. What `chronicle query --server URL` asks for (`?format=arrow`)
//! and decodes with Arrow's `StreamReader`.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;

use super::BinaryWriter;

/// A stream writer of `schema`; it writes the schema message at once, so
/// the body's first bytes are ready before any row.
pub(super) fn writer(schema: &SchemaRef) -> Result<StreamWriter<Vec<u8>>, ArrowError> {
    StreamWriter::try_new(Vec::new(), schema)
}

impl BinaryWriter for StreamWriter<Vec<u8>> {
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.write(batch)
    }

    fn close(&mut self) -> Result<(), ArrowError> {
        self.finish()
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        self.get_mut()
    }
}
