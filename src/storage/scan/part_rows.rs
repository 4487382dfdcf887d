//! [`PartRows`]: the decoded rows of one scan part (one series, one
//! partition), before the tag columns are added.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, Float64Array, TimestampNanosecondArray};
use arrow_select::concat::concat;
use arrow_select::take::take;

use crate::error::{Error, Result};

/// The rows of one part: their times, ascending, and per value field its
/// values (null where it has none).
#[derive(Debug, Clone)]
pub(crate) struct PartRows {
    pub times: TimestampNanosecondArray,
    pub fields: Vec<Float64Array>,
}

impl PartRows {
    /// Rows at `times` with `fields` (one array per value field, each as long).
    pub(crate) fn new(times: TimestampNanosecondArray, fields: Vec<Float64Array>) -> Self {
        Self { times: times.with_timezone("UTC"), fields }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.times.len()
    }

    /// `len` rows from `offset`.
    pub(crate) fn slice(&self, offset: usize, len: usize) -> Self {
        Self {
            times: self.times.slice(offset, len),
            fields: self.fields.iter().map(|f| f.slice(offset, len)).collect(),
        }
    }

    /// The rows of several parts in one time order (stable: on equal
    /// times, the parts' order).
    pub(crate) fn merge_by_time(parts: &[PartRows]) -> Result<Self> {
        if let [one] = parts {
            return Ok(one.clone());
        }
        let joined = |arrays: Vec<&dyn Array>| concat(&arrays).map_err(arrow_error);
        let times = joined(parts.iter().map(|p| &p.times as &dyn Array).collect())?;
        let times = times.as_primitive::<TimestampNanosecondType>();
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        order.sort_by_key(|&i| times.value(i as usize));
        let order = arrow_array::UInt32Array::from(order);
        let times = take(times, &order, None).map_err(arrow_error)?.as_primitive::<TimestampNanosecondType>().clone();
        let columns = parts.first().map_or(0, |p| p.fields.len());
        let fields = (0..columns)
            .map(|c| {
                let column = joined(parts.iter().filter_map(|p| p.fields.get(c)).map(|f| f as &dyn Array).collect())?;
                Ok(take(&column, &order, None).map_err(arrow_error)?.as_primitive::<Float64Type>().clone())
            })
            .collect::<Result<_>>()?;
        Ok(Self { times, fields })
    }
}

/// An Arrow error, which only a bug can cause here.
pub(crate) fn arrow_error(e: arrow_schema::ArrowError) -> Error {
    Error::Internal(format!("arrow: {e}"))
}
