//! The `time` and `value` arguments of the series functions: how their types are
//! coerced and how their columns are read.
//!
//! A time is a `Timestamp` (any unit, cast to nanoseconds, time zone kept) or an
//! integer count of nanoseconds (cast to `Int64`); either is read as `i64`
//! nanoseconds. A value is any numeric type, cast to `Float64`. A row whose time or
//! value is NULL is not a point: every function skips it.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampNanosecondType};
use datafusion::common::{Result, exec_err, plan_err};

/// The type a time argument of `function` is cast to.
pub(crate) fn coerce_time(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Timestamp(_, tz) => Ok(DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())),
        DataType::Null => Ok(DataType::Int64),
        t if t.is_integer() => Ok(DataType::Int64),
        t => plan_err!("{function}: the time argument must be a timestamp or integer nanoseconds, got {t}"),
    }
}

/// The type a value argument of `function` is cast to.
pub(crate) fn coerce_value(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        t => plan_err!("{function}: the value argument must be numeric, got {t}"),
    }
}

/// The type an integer constant argument of `function` (a unit, a count) is cast to.
pub(crate) fn coerce_integer(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        t if t.is_integer() => Ok(DataType::Int64),
        t => plan_err!("{function}: {argument} must be an integer constant, got {t}"),
    }
}

/// A coerced time column of `rows` rows as nanoseconds; the timestamp case is a
/// zero-copy view.
pub(crate) fn times(function: &str, array: Option<&ArrayRef>, rows: usize) -> Result<Int64Array> {
    let array = argument(function, "time", array, rows)?;
    if let Some(nanos) = array.as_primitive_opt::<TimestampNanosecondType>() {
        return Ok(nanos.reinterpret_cast::<Int64Type>());
    }
    match array.as_primitive_opt::<Int64Type>() {
        Some(nanos) => Ok(nanos.clone()),
        None => exec_err!("{function}: the time argument is {}, not nanoseconds", array.data_type()),
    }
}

/// A coerced value column of `rows` rows.
pub(crate) fn values<'a>(function: &str, array: Option<&'a ArrayRef>, rows: usize) -> Result<&'a Float64Array> {
    let array = argument(function, "value", array, rows)?;
    match array.as_primitive_opt() {
        Some(values) => Ok(values),
        None => exec_err!("{function}: the value argument is {}, not Float64", array.data_type()),
    }
}

/// The column of argument `name`, checked to hold `rows` rows so that reading any
/// row below `rows` cannot go out of bounds.
fn argument<'a>(function: &str, name: &str, array: Option<&'a ArrayRef>, rows: usize) -> Result<&'a ArrayRef> {
    match array {
        Some(array) if array.len() == rows => Ok(array),
        Some(array) => exec_err!("{function}: the {name} argument has {} rows, expected {rows}", array.len()),
        None => exec_err!("{function}: missing the {name} argument"),
    }
}

/// Row `i` of a time column, `None` when NULL.
pub(crate) fn time_at(times: &Int64Array, i: usize) -> Option<i64> {
    times.is_valid(i).then(|| times.value(i))
}

/// Row `i` of a value column, `None` when NULL.
pub(crate) fn value_at(values: &Float64Array, i: usize) -> Option<f64> {
    values.is_valid(i).then(|| values.value(i))
}

/// Nanoseconds from `from` to `to`; the difference is taken in `i128`, so it cannot overflow.
pub(crate) fn elapsed_nanos(from: i64, to: i64) -> f64 {
    (i128::from(to) - i128::from(from)) as f64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;

    use super::*;

    #[test]
    fn elapsed_spans_the_whole_i64_range() {
        assert_eq!(elapsed_nanos(i64::MIN, i64::MAX), 2f64.powi(64));
        assert_eq!(elapsed_nanos(i64::MAX, i64::MIN), -(2f64.powi(64)));
        assert_eq!(elapsed_nanos(-5, 7), 12.0);
    }

    #[test]
    fn times_keep_their_zone_and_become_nanoseconds() {
        let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let nanos = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        assert_eq!(coerce_time("f", &utc).ok(), Some(nanos));
        assert_eq!(coerce_time("f", &DataType::UInt32).ok(), Some(DataType::Int64));
        assert!(coerce_time("f", &DataType::Float64).is_err());
        assert!(coerce_value("f", &DataType::Utf8).is_err());
    }

    #[test]
    fn a_column_of_the_wrong_length_or_type_is_an_error() {
        let column: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        assert!(times("f", Some(&column), 2).is_ok());
        assert!(times("f", Some(&column), 3).is_err(), "reading row 2 would be out of bounds");
        assert!(values("f", Some(&column), 2).is_err(), "Int64 is not a coerced value");
        assert!(times("f", None, 0).is_err());
    }
}
