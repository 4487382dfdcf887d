//! The rows of a part made of one chunk, with late materialization: the
//! columns of the field ranges are decoded first and checked, and the other
//! columns only when some row may meet every range, and then only up to the
//! last such row; the rows that fail are never copied out.
//!
//! The codecs decode a column from its start, so a column is decoded up to
//! the last row kept (not past it), and a chunk where no row is kept decodes
//! only its timestamps and ranged columns.

use arrow_array::{Float64Array, TimestampNanosecondArray};

use super::part_rows::PartRows;
use super::request::FieldRange;
use crate::encoding::Chunk;
use crate::error::{Error, Result};
use crate::storage::file::partition_block::ChunkEntry;
use crate::storage::file::store::FileReader;

/// The rows of `entry` in `start..=end` whose values may meet every range
/// of `ranges` (by slot, see [`FieldRange::may_hold`]); `None` if no row
/// may. `columns` gives, per slot, the chunk column holding that field, if
/// any; a slot the chunk lacks is null on every row, so a range on it drops
/// them all.
pub(crate) fn chunk_rows(
    reader: &FileReader,
    entry: &ChunkEntry,
    columns: &[Option<usize>],
    ranges: &[(usize, FieldRange)],
    start: i64,
    end: i64,
) -> Result<Option<PartRows>> {
    let corrupt = |e| Error::corrupt_at(reader.path(), entry.offset, e);
    if ranges.iter().any(|(slot, _)| columns.get(*slot).copied().flatten().is_none()) {
        return Ok(None);
    }
    let bytes = reader.read(entry.offset, entry.len as usize)?;
    let chunk = Chunk::parse(&bytes).map_err(corrupt)?;
    if end < chunk.min_time() || start > chunk.max_time() || start > end {
        return Ok(None);
    }
    let mut times = Vec::with_capacity(chunk.count());
    chunk.decode_timestamps(chunk.count(), &mut times).map_err(corrupt)?;
    let (lo, hi) = (times.partition_point(|&t| t < start), times.partition_point(|&t| t <= end));
    if lo == hi {
        return Ok(None);
    }
    let decode = |column: usize, take: usize| -> Result<Vec<f64>> {
        let mut values = Vec::with_capacity(take);
        chunk.decode_values(column, take, &mut values).map_err(corrupt)?;
        if values.len() != take {
            let e = format!("column {column} decoded {} of {take} values", values.len());
            return Err(Error::Internal(e));
        }
        Ok(values)
    };
    let mut decoded: Vec<Option<Vec<f64>>> = vec![None; columns.len()];
    let mut keep = vec![true; hi - lo];
    for (slot, range) in ranges {
        let (Some(Some(column)), Some(values)) = (columns.get(*slot), decoded.get_mut(*slot)) else {
            return Ok(None);
        };
        let values = match values {
            Some(v) => v,
            None => values.insert(decode(*column, hi)?),
        };
        for (k, v) in keep.iter_mut().zip(&values[lo..hi]) {
            *k = *k && range.may_hold(*v);
        }
    }
    let kept: Vec<usize> = keep.iter().enumerate().filter(|&(_, &k)| k).map(|(i, _)| lo + i).collect();
    let Some(&last) = kept.last() else { return Ok(None) };
    let all = kept.len() == hi - lo;
    // Every row kept (the common case without ranges): the decoded vectors
    // become the arrays, without a copy.
    let rows = |mut values: Vec<f64>| -> Float64Array {
        if all {
            values.truncate(hi);
            values.drain(..lo);
            Float64Array::from(values)
        } else {
            kept.iter().map(|&i| values[i]).collect()
        }
    };
    let mut fields = Vec::with_capacity(columns.len());
    for (column, values) in columns.iter().zip(decoded) {
        let array = match (column, values) {
            (_, Some(values)) => rows(values),
            (Some(column), None) => rows(decode(*column, last + 1)?),
            (None, None) => Float64Array::new_null(kept.len()),
        };
        fields.push(array);
    }
    let times = if all {
        times.truncate(hi);
        times.drain(..lo);
        times
    } else {
        kept.iter().map(|&i| times[i]).collect()
    };
    Ok(Some(PartRows::new(TimestampNanosecondArray::from(times), fields)))
}
