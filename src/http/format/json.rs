//! JSON rows: `{"columns":["time","host","value"],"rows":[["2026-01-01T00:00:00Z","a",1.5],...]}`.
//!
//! Written a batch at a time as the rows arrive, so a result of any size
//! streams. Times are RFC 3339 strings in UTC; integers and finite floats
//! are numbers; NaN and the infinities, which JSON lacks, are the strings
//! `"NaN"`, `"+Inf"` and `"-Inf"` (as the Prometheus API writes them);
//! booleans are booleans; null is null; anything else is its text. A query
//! that fails after rows were sent closes the document with an `"error"`
//! member after `"rows"`, so the body stays valid JSON and says why it is
//! short.

use std::fmt::Write as _;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{Encoder, TIMESTAMP_FORMAT};

/// Encodes rows as JSON arrays; see the module docs.
pub(crate) struct JsonEncoder {
    columns: Vec<String>,
    /// Whether a row was written (the next needs a comma).
    wrote_row: bool,
}

impl JsonEncoder {
    pub fn new(schema: &SchemaRef) -> Self {
        Self { columns: schema.fields().iter().map(|f| f.name().clone()).collect(), wrote_row: false }
    }
}

impl Encoder for JsonEncoder {
    fn begin(&mut self) -> Result<Vec<u8>, ArrowError> {
        let mut out = String::from("{\"columns\":[");
        for (i, name) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(&mut out, name);
        }
        out.push_str("],\"rows\":[");
        Ok(out.into_bytes())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        let options = FormatOptions::new()
            .with_timestamp_format(Some(TIMESTAMP_FORMAT))
            .with_timestamp_tz_format(Some(TIMESTAMP_FORMAT));
        let cells =
            batch.columns().iter().map(|c| Cell::try_new(c.as_ref(), &options)).collect::<Result<Vec<_>, _>>()?;
        let mut out = String::with_capacity(batch.num_rows() * 16 * cells.len().max(1));
        for row in 0..batch.num_rows() {
            if self.wrote_row {
                out.push(',');
            }
            self.wrote_row = true;
            out.push('[');
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                cell.write(&mut out, row)?;
            }
            out.push(']');
        }
        Ok(out.into_bytes())
    }

    fn finish(&mut self) -> Result<Vec<u8>, ArrowError> {
        Ok(b"]}".to_vec())
    }

    fn fail(&mut self, message: &str) -> Option<Vec<u8>> {
        let mut out = String::from("],\"error\":");
        write_string(&mut out, message);
        out.push('}');
        Some(out.into_bytes())
    }
}

/// How one column's values are written.
pub(crate) enum Cell<'a> {
    Float64(&'a dyn Array),
    Float32(&'a dyn Array),
    /// Integers and booleans: their text is JSON.
    Literal(&'a dyn Array, ArrayFormatter<'a>),
    /// Everything else, times included: a JSON string of its text.
    Text(&'a dyn Array, ArrayFormatter<'a>),
}

impl<'a> Cell<'a> {
    pub fn try_new(array: &'a dyn Array, options: &FormatOptions<'a>) -> Result<Self, ArrowError> {
        Ok(match array.data_type() {
            DataType::Float64 => Cell::Float64(array),
            DataType::Float32 => Cell::Float32(array),
            t if t.is_integer() || t == &DataType::Boolean => {
                Cell::Literal(array, ArrayFormatter::try_new(array, options)?)
            }
            _ => Cell::Text(array, ArrayFormatter::try_new(array, options)?),
        })
    }

    pub fn write(&self, out: &mut String, row: usize) -> Result<(), ArrowError> {
        let array = match self {
            Cell::Float64(a) | Cell::Float32(a) | Cell::Literal(a, _) | Cell::Text(a, _) => a,
        };
        if array.is_null(row) {
            out.push_str("null");
            return Ok(());
        }
        match self {
            Cell::Float64(a) => write_float(out, a.as_primitive::<Float64Type>().value(row)),
            Cell::Float32(a) => write_float(out, f64::from(a.as_primitive::<Float32Type>().value(row))),
            Cell::Literal(_, f) => {
                write!(out, "{}", f.value(row)).map_err(|e| ArrowError::ExternalError(Box::new(e)))?
            }
            Cell::Text(_, f) => {
                let text = f.value(row).try_to_string()?;
                write_string(out, &text);
            }
        }
        Ok(())
    }
}

/// `text` as a JSON string.
pub(crate) fn write_string(out: &mut String, text: &str) {
    // serde_json's escaping; writing a str to a String cannot fail.
    out.push_str(&serde_json::Value::from(text).to_string());
}

/// `value` as JSON the way Go's `encoding/json` writes a float64, which
/// InfluxDB's clients print as they receive it: `2` not `2.0`, exponents
/// below 1e-6 and from 1e21 (`1e-7`, `1e+21`). NaN and the infinities are
/// the strings `"NaN"`, `"+Inf"` and `"-Inf"`.
pub(crate) fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("\"NaN\"");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" });
    } else if value != 0.0 && (value.abs() < 1e-6 || value.abs() >= 1e21) {
        let text = format!("{value:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exponent}");
            }
            _ => out.push_str(&text),
        }
    } else {
        // Rust's shortest round-trip digits are Go's; Go writes no `.0`.
        let _ = write!(out, "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_go_writes_them() {
        let show = |v: f64| {
            let mut out = String::new();
            write_float(&mut out, v);
            out
        };
        assert_eq!(show(2.0), "2");
        assert_eq!(show(-0.0), "-0");
        assert_eq!(show(1.5), "1.5");
        assert_eq!(show(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(show(1e-7), "1e-7");
        assert_eq!(show(1.5e21), "1.5e+21");
        assert_eq!(show(123456789012345680000.0), "123456789012345680000");
        assert_eq!(show(f64::NAN), "\"NaN\"");
        assert_eq!(show(f64::NEG_INFINITY), "\"-Inf\"");
    }
}
