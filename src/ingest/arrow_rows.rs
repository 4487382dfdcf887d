//! Arrow record batches -> [`Row`]s: the bulk ingest path of Flight SQL
//! (ADBC's `adbc_ingest`, DataFrames from pandas and polars).
//!
//! The batch is one measurement's points, one row per point:
//! - column `time`: a timestamp of any unit (scaled to nanoseconds with
//!   overflow checked; a time zone only labels the instant) or an integer
//!   count of nanoseconds since the Unix epoch; never null;
//! - string columns (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of
//!   strings) are tags; a null tag is the tag absent from that point;
//! - numeric and boolean columns are fields, as float64 (integers exactly
//!   up to 2^53, booleans 1.0 / 0.0); a null is no value for that field,
//!   and a row with no field value at all is no point;
//! - a column of only nulls (`Null` type) carries nothing and is skipped;
//! - any other type is refused, naming the column.
//!
//! Errors name the column, and the row where a value is at fault. Names
//! and tag values are checked with Chronicle's rules here, so the error
//! points at the column; `__`-prefixed tag keys are reserved.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use datafusion::arrow::compute::cast;

use super::error::{Error, Result};
use crate::Row;
use crate::model::{TIME_COLUMN, WriteRow, validate_measurement, validate_tag, validate_written_field};

/// The points of `batch`, all of measurement `measurement`.
pub fn rows(measurement: &str, batch: &RecordBatch) -> Result<Vec<Row>> {
    rows_at(measurement, TIME_COLUMN, 0, batch)
}

/// [`rows`] with the time in column `time_column`, errors numbering the
/// batch's rows from `first_row` (a batch read from the middle of a file).
pub fn rows_at(measurement: &str, time_column: &str, first_row: usize, batch: &RecordBatch) -> Result<Vec<Row>> {
    let points = BatchPoints::try_new(measurement, time_column, first_row, batch)?;
    Ok(points.rows()?.iter().map(RowView::to_row).collect())
}

/// A batch's columns as tags, fields and times: the points of the batch,
/// read through [`RowView`]s without copying a name or a value per point
/// (the bulk path, where a row of owned strings per point would cost more
/// than the write).
pub struct BatchPoints<'a> {
    measurement: &'a str,
    first_row: usize,
    times: Vec<i64>,
    tags: Vec<(&'a str, StringArray)>,
    fields: Vec<(&'a str, Float64Array)>,
    /// No field column has a null: field `i` of a row is column `i`.
    dense: bool,
}

impl<'a> BatchPoints<'a> {
    /// Maps `batch`'s columns (the time in `time_column`), refusing a
    /// column that cannot be stored; errors number rows from `first_row`.
    pub fn try_new(measurement: &'a str, time_column: &str, first_row: usize, batch: &'a RecordBatch) -> Result<Self> {
        validate_measurement(measurement).map_err(|e| Error::item("table", e.to_string()))?;
        let schema = batch.schema_ref();
        let mut times = None;
        let mut tags = Vec::new();
        let mut fields = Vec::new();
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let name = field.name().as_str();
            if name == time_column {
                times = Some(nanoseconds(array, time_column, first_row)?);
                continue;
            }
            match array.data_type() {
                DataType::Null => {}
                t if is_text(t) => {
                    let text = cast(array, &DataType::Utf8).map_err(|e| column(name, e.to_string()))?;
                    tags.push((name, text.as_string::<i32>().clone()));
                }
                t if t.is_numeric() || *t == DataType::Boolean => {
                    validate_written_field(name).map_err(|e| column(name, e.to_string()))?;
                    let values = cast(array, &DataType::Float64).map_err(|e| column(name, e.to_string()))?;
                    fields.push((name, values.as_primitive().clone()));
                }
                other => {
                    return Err(column(
                        name,
                        format!(
                            "type {other} cannot be stored: strings become tags, numbers and booleans fields, \
                             and `time` is the timestamp"
                        ),
                    ));
                }
            }
        }
        let times = times.ok_or_else(|| {
            column(time_column, "is missing: every point needs a time (a timestamp, or integer nanoseconds)".into())
        })?;
        let dense = fields.iter().all(|(_, values)| values.null_count() == 0);
        Ok(Self { measurement, first_row, times, tags, fields, dense })
    }

    /// A view of each row with a field value (a row without one is no
    /// point); refuses a tag value Chronicle cannot store, naming its
    /// column and row.
    pub fn rows(&self) -> Result<Vec<RowView<'_>>> {
        for (key, values) in &self.tags {
            for (i, value) in values.iter().enumerate() {
                if let Some(value) = value {
                    validate_tag(key, value, false).map_err(|e| at(key, self.first_row + i, e.to_string()))?;
                }
            }
        }
        let field_count = |row: usize| -> usize {
            if self.dense {
                self.fields.len()
            } else {
                self.fields.iter().filter(|(_, values)| values.is_valid(row)).count()
            }
        };
        Ok((0..self.times.len())
            .map(|row| RowView { points: self, row, field_count: field_count(row) })
            .filter(|view| view.field_count > 0)
            .collect())
    }
}

/// One row of a [`BatchPoints`]: its tags are the non-null tag columns,
/// its fields the non-null field columns, in column order.
pub struct RowView<'a> {
    points: &'a BatchPoints<'a>,
    row: usize,
    field_count: usize,
}

impl RowView<'_> {
    /// The row as an owned [`Row`].
    pub fn to_row(&self) -> Row {
        let mut row = Row::new(self.measurement(), self.timestamp());
        row.tags = self.tags().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        row.fields = (0..self.field_count).map(|i| self.field(i)).map(|(k, v)| (k.to_owned(), v)).collect();
        row
    }
}

impl WriteRow for RowView<'_> {
    fn measurement(&self) -> &str {
        self.points.measurement
    }

    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        let row = self.row;
        self.points.tags.iter().filter(move |(_, values)| values.is_valid(row)).map(move |(k, v)| (*k, v.value(row)))
    }

    fn timestamp(&self) -> i64 {
        self.points.times[self.row]
    }

    fn field_count(&self) -> usize {
        self.field_count
    }

    fn field(&self, i: usize) -> (&str, f64) {
        let fields = &self.points.fields;
        let (name, values) = if self.points.dense {
            &fields[i]
        } else {
            // The i-th non-null field of the row; rows have few fields.
            let column = fields.iter().enumerate().filter(|(_, (_, values))| values.is_valid(self.row)).nth(i);
            &fields[column.map_or(fields.len(), |(j, _)| j)]
        };
        (name, values.value(self.row))
    }
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

/// The time column `name` in nanoseconds since the epoch; errors number
/// rows from `first_row`.
fn nanoseconds(array: &ArrayRef, name: &str, first_row: usize) -> Result<Vec<i64>> {
    let scale: i64 = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
        t if t.is_integer() => 1,
        other => {
            return Err(column(
                name,
                format!("has type {other}; expected a timestamp or integer nanoseconds since the epoch"),
            ));
        }
    };
    // Every timestamp unit and integer type is an i64 (or fits one) once cast.
    let raw = cast(array, &DataType::Int64).map_err(|e| column(name, e.to_string()))?;
    let raw = raw.as_primitive::<arrow_array::types::Int64Type>();
    (0..raw.len())
        .map(|i| {
            if raw.is_null(i) {
                return Err(at(name, first_row + i, "is null; every point needs a time".into()));
            }
            raw.value(i)
                .checked_mul(scale)
                .ok_or_else(|| at(name, first_row + i, "is out of range for nanoseconds since the epoch".into()))
        })
        .collect()
}

fn column(name: &str, message: String) -> Error {
    Error::item(format!("column {name}"), message)
}

fn at(name: &str, row: usize, message: String) -> Error {
    Error::item(format!("column {name}, row {row}"), message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use std::sync::Arc;

    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt8Array,
    };
    use arrow_schema::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
    }

    #[test]
    fn tags_fields_and_time_units() {
        let mut hosts = StringDictionaryBuilder::<Int32Type>::new();
        hosts.append_value("a");
        hosts.append_null();
        let b = batch(vec![
            ("time", Arc::new(TimestampMicrosecondArray::from(vec![1, 2]).with_timezone("UTC"))),
            ("host", Arc::new(hosts.finish())),
            ("region", Arc::new(StringArray::from(vec![Some("eu"), Some("us")]))),
            ("usage", Arc::new(Float64Array::from(vec![Some(0.5), None]))),
            ("cores", Arc::new(UInt8Array::from(vec![4, 8]))),
            ("up", Arc::new(BooleanArray::from(vec![true, false]))),
        ]);
        let rows = rows("cpu", &b).unwrap();
        assert_eq!(
            rows,
            [
                Row::new("cpu", 1_000)
                    .with_tag("host", "a")
                    .with_tag("region", "eu")
                    .with_field("usage", 0.5)
                    .with_field("cores", 4.0)
                    .with_field("up", 1.0),
                // Null tag: absent; null field: no value.
                Row::new("cpu", 2_000).with_tag("region", "us").with_field("cores", 8.0).with_field("up", 0.0),
            ]
        );
    }

    #[test]
    fn views_of_a_batch_without_nulls_read_every_field_in_column_order() {
        let b = batch(vec![
            ("b", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
            ("time", Arc::new(Int64Array::from(vec![7, 8]))),
            ("host", Arc::new(StringArray::from(vec!["x", "y"]))),
            ("a", Arc::new(Int64Array::from(vec![3, 4]))),
        ]);
        let points = BatchPoints::try_new("m", "time", 0, &b).unwrap();
        let views = points.rows().unwrap();
        let view = &views[1];
        assert_eq!((view.measurement(), view.timestamp(), view.field_count()), ("m", 8, 2));
        assert_eq!(view.tags().collect::<Vec<_>>(), [("host", "y")]);
        assert_eq!([view.field(0), view.field(1)], [("b", 2.0), ("a", 4.0)]);
    }

    #[test]
    fn integer_time_is_nanoseconds_and_empty_rows_are_no_points() {
        let b = batch(vec![
            ("v", Arc::new(Float64Array::from(vec![None, Some(2.0)]))),
            ("time", Arc::new(Int64Array::from(vec![5, 6]))),
        ]);
        assert_eq!(rows("m", &b).unwrap(), [Row::new("m", 6).with_field("v", 2.0)]);
    }

    #[test]
    fn refusals_name_the_column_and_row() {
        let e = rows("cpu", &batch(vec![("v", Arc::new(Float64Array::from(vec![1.0])))])).unwrap_err().to_string();
        assert!(e.contains("column time") && e.contains("missing"), "{e}");
        let b =
            batch(vec![("time", Arc::new(Int64Array::from(vec![1]))), ("day", Arc::new(Date32Array::from(vec![1])))]);
        let e = rows("cpu", &b).unwrap_err().to_string();
        assert!(e.contains("column day") && e.contains("Date32"), "{e}");
        let b = batch(vec![
            ("time", Arc::new(Int64Array::from(vec![Some(1), None]))),
            ("v", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ]);
        let e = rows("cpu", &b).unwrap_err().to_string();
        assert!(e.contains("column time, row 1") && e.contains("null"), "{e}");
        let b = batch(vec![
            ("time", Arc::new(TimestampMicrosecondArray::from(vec![i64::MAX]))),
            ("v", Arc::new(Float64Array::from(vec![1.0]))),
        ]);
        assert!(rows("cpu", &b).unwrap_err().to_string().contains("out of range"));
        let b = batch(vec![
            ("time", Arc::new(Int64Array::from(vec![1]))),
            ("__tenant__", Arc::new(StringArray::from(vec!["x"]))),
            ("v", Arc::new(Float64Array::from(vec![1.0]))),
        ]);
        let e = rows("cpu", &b).unwrap_err().to_string();
        assert!(e.contains("column __tenant__, row 0") && e.contains("reserved"), "{e}");
        let e = rows("9cpu", &batch(vec![("time", Arc::new(Int64Array::from(vec![1])))])).unwrap_err().to_string();
        assert!(e.contains("9cpu"), "{e}");
    }
}
