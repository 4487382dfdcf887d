//! The data model: series, fields and points, and the rules names obey.
//!
//! A **series** is a measurement name plus a set of tags (key/value pairs,
//! kept sorted by key). A series has one or more **fields**, float64 columns
//! that share its timestamps. A **point** is one field value at one
//! nanosecond timestamp. [`Point`] writes the single field `value` (the shape
//! of Prometheus and OTLP samples); [`Row`] writes several fields at one
//! timestamp (the shape of Influx line protocol). Tag keys and fields become
//! the columns of a measurement's SQL table beside `time`, so
//! [`ColumnNames`] keeps them distinct.

mod column_names;
pub mod histogram;
mod point;
mod series_key;
mod validate;

pub use column_names::{BatchNames, ColumnNames, TIME_COLUMN};
pub use point::{Point, Row, WriteRow};
pub use series_key::SeriesKey;
pub use validate::{
    InvalidInput, MAX_TAG_VALUE_LEN, validate_field_name, validate_measurement, validate_tag, validate_written_field,
};

/// The field a [`Point`] writes.
pub const VALUE_FIELD: &str = "value";
