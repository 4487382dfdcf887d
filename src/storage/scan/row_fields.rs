//! [`RowFields`]: which fields a scan decodes and which decide that a row
//! exists, and the rows of one part built from them.
//!
//! A row is a (series, time) at which any field of the measurement has a
//! value. Knowing that needs only timestamps: a chunk holding none of the
//! decoded fields is read for its timestamps alone. With `present`
//! conditions (each "one of these fields has a value"), a row must meet them
//! all, and chunks holding none of the decoded fields cannot add one.
//!
//! Every field of a chunk has a value at every time of the chunk (fields
//! share a chunk only when their timestamps are identical), so a chunk's
//! times are rows exactly when it meets every condition.

use arrow_array::{Float64Array, TimestampNanosecondArray};

use super::part::{ScanPart, decode_entry};
use super::part_rows::PartRows;
use crate::error::Result;
use crate::storage::file::store::FileReader;
use crate::storage::merge::FieldSeries;
use crate::storage::series_index::FieldId;

/// The fields a scan decodes and the conditions rows must meet.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowFields {
    /// Fields whose values are decoded, by id; a scan's "slots".
    pub values: Vec<FieldId>,
    /// Conditions, as slots: a row has a value of at least one field of
    /// each. Empty: a row exists where any field has a value.
    pub present: Vec<Vec<usize>>,
}

/// One source of a part's points (a chunk, or a head column): its times and
/// the values of the decoded fields it holds, by slot.
struct Source {
    times: Vec<i64>,
    values: Vec<(usize, Vec<f64>)>,
}

impl RowFields {
    /// The slot of field `id`, added if new.
    pub(crate) fn slot(&mut self, id: FieldId) -> usize {
        match self.values.iter().position(|&v| v == id) {
            Some(slot) => slot,
            None => {
                self.values.push(id);
                self.values.len() - 1
            }
        }
    }

    /// Whether a chunk (or head column) holding `fields` can add rows or values.
    pub(crate) fn reads(&self, fields: &[FieldId]) -> bool {
        self.present.is_empty() || fields.iter().any(|f| self.values.contains(f))
    }

    /// Whether every time of a chunk holding `fields` is a row.
    pub(crate) fn all_rows(&self, fields: &[FieldId]) -> bool {
        self.present.iter().all(|clause| clause.iter().any(|&s| self.values.get(s).is_some_and(|v| fields.contains(v))))
    }

    /// The rows of `part` in `start..=end`; `None` if it has none.
    pub(crate) fn rows(&self, reader: &FileReader, part: &ScanPart, start: i64, end: i64) -> Result<Option<PartRows>> {
        if let ([entry], true) = (part.chunks.as_slice(), part.head.is_empty()) {
            // One chunk and nothing else: its points are the rows, if it
            // meets every condition.
            if !self.all_rows(&entry.fields) {
                return Ok(None);
            }
            let columns: Vec<Option<usize>> =
                self.values.iter().map(|f| entry.fields.iter().position(|c| c == f)).collect();
            let held: Vec<usize> = columns.iter().flatten().copied().collect();
            let decoded = decode_entry(reader, entry, &held, start, end)?;
            let n = decoded.timestamps.len();
            if n == 0 {
                return Ok(None);
            }
            let mut values = decoded.values.into_iter();
            let fields = columns
                .iter()
                .map(|c| c.and_then(|_| values.next()).unwrap_or_else(|| Float64Array::new_null(n)))
                .collect();
            return Ok(Some(PartRows::new(decoded.timestamps, fields)));
        }
        let sources = self.sources(reader, part, start, end)?;
        let merged: Vec<FieldSeries> = (0..self.values.len())
            .map(|slot| {
                let of_slot = sources.iter().filter_map(|s| {
                    let (_, values) = s.values.iter().find(|(v, _)| *v == slot)?;
                    Some(FieldSeries { times: s.times.clone(), values: values.clone() })
                });
                FieldSeries::merge(of_slot.collect())
            })
            .collect();
        let times = if self.present.is_empty() {
            union(sources.iter().map(|s| s.times.as_slice()))
        } else {
            let clauses = self
                .present
                .iter()
                .map(|clause| union(clause.iter().filter_map(|&s| merged.get(s)).map(|f| f.times.as_slice())));
            clauses.reduce(|a, b| intersect(&a, &b)).unwrap_or_default()
        };
        if times.is_empty() {
            return Ok(None);
        }
        let fields = merged.iter().map(|f| place(f, &times)).collect();
        Ok(Some(PartRows::new(TimestampNanosecondArray::from(times), fields)))
    }

    /// The sources of `part` that can add rows or values, oldest first
    /// (chunks in file order, then the head), within `start..=end`.
    fn sources(&self, reader: &FileReader, part: &ScanPart, start: i64, end: i64) -> Result<Vec<Source>> {
        let mut sources = Vec::with_capacity(part.chunks.len() + part.head.len());
        for entry in &part.chunks {
            if !self.reads(&entry.fields) || entry.max_time < start || entry.min_time > end {
                continue;
            }
            let wanted: Vec<(usize, usize)> = entry
                .fields
                .iter()
                .enumerate()
                .filter_map(|(col, f)| self.values.iter().position(|v| v == f).map(|slot| (col, slot)))
                .collect();
            let columns: Vec<usize> = wanted.iter().map(|w| w.0).collect();
            let decoded = decode_entry(reader, entry, &columns, start, end)?;
            let values = wanted.iter().zip(decoded.values).map(|((_, slot), v)| (*slot, v.values().to_vec())).collect();
            sources.push(Source { times: decoded.timestamps.values().to_vec(), values });
        }
        for (field, points) in &part.head {
            if !self.reads(&[*field]) {
                continue;
            }
            let values = self.values.iter().position(|v| v == field).map(|slot| (slot, points.values.clone()));
            sources.push(Source { times: points.times.clone(), values: values.into_iter().collect() });
        }
        Ok(sources)
    }
}

/// The union of ascending, distinct time lists.
fn union<'a>(lists: impl Iterator<Item = &'a [i64]>) -> Vec<i64> {
    let lists: Vec<&[i64]> = lists.filter(|l| !l.is_empty()).collect();
    match lists.as_slice() {
        [] => Vec::new(),
        [first, rest @ ..] if rest.iter().all(|l| l == first) => first.to_vec(),
        _ => {
            let mut all: Vec<i64> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// The times of ascending `a` that are also in ascending `b`.
fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|&t| {
            while b.get(j).is_some_and(|&x| x < t) {
                j += 1;
            }
            b.get(j) == Some(&t)
        })
        .collect()
}

/// The values of `f` at `times` (ascending), null where `f` has none.
fn place(f: &FieldSeries, times: &[i64]) -> Float64Array {
    if f.times == times {
        return Float64Array::from(f.values.clone());
    }
    let mut j = 0;
    times
        .iter()
        .map(|&t| {
            while f.times.get(j).is_some_and(|&x| x < t) {
                j += 1;
            }
            (f.times.get(j) == Some(&t)).then(|| f.values[j])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_intersections_and_placement_follow_the_times() {
        assert_eq!(union([&[1, 3][..], &[2, 3], &[]].into_iter()), [1, 2, 3]);
        assert_eq!(union([&[4, 5][..], &[4, 5]].into_iter()), [4, 5]);
        assert_eq!(intersect(&[1, 2, 3, 7], &[2, 3, 4, 7, 9]), [2, 3, 7]);
        let f = FieldSeries { times: vec![2, 5, 9], values: vec![20.0, 50.0, 90.0] };
        let placed = place(&f, &[1, 2, 9]);
        assert_eq!(placed.iter().collect::<Vec<_>>(), [None, Some(20.0), Some(90.0)], "5 is not a row");
    }

    #[test]
    fn conditions_decide_which_chunks_hold_rows() {
        let any = RowFields { values: vec![3], present: Vec::new() };
        assert!(any.reads(&[7]) && any.all_rows(&[7]), "without conditions every time is a row");
        let either = RowFields { values: vec![3, 4], present: vec![vec![0, 1]] };
        assert!(either.all_rows(&[4, 9]) && !either.all_rows(&[9]) && !either.reads(&[9]));
        let both = RowFields { values: vec![3, 4], present: vec![vec![0], vec![1]] };
        assert!(both.all_rows(&[3, 4]) && !both.all_rows(&[3]) && both.reads(&[3]));
    }
}
