//! Arrow IPC stream: the schema message, a record batch message per batch
//! (dictionaries before the batches that use them), the end-of-stream
//! marker. What `chronicle query --server URL` asks for (`?format=arrow`)
//! and decodes with Arrow's `StreamReader`.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;

use super::Encoder;

/// Encodes rows as an Arrow IPC stream; see the module docs.
pub(crate) struct ArrowEncoder {
    writer: StreamWriter<Vec<u8>>,
}

impl ArrowEncoder {
    pub fn try_new(schema: &SchemaRef) -> Result<Self, ArrowError> {
        Ok(Self { writer: StreamWriter::try_new(Vec::new(), schema)? })
    }

    /// What the writer wrote since last asked.
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.writer.get_mut())
    }
}

impl Encoder for ArrowEncoder {
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError> {
        // The writer wrote the schema message when created.
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
