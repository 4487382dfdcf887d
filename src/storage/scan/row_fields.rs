//! [`RowFields`]: which fields a scan decodes, which decide that a row
//! exists and which value ranges rows must meet, and the rows of one part
//! built from them.
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
//!
//! Field ranges are materialized late: the ranged fields are decoded and
//! checked first, and the other fields only where some row may meet them
//! (a part of one chunk: [`chunk_rows`]; otherwise the sources holding a
//! time that may, and only those times are kept).

use arrow_array::{Float64Array, TimestampNanosecondArray};

use super::chunk_rows::chunk_rows;
use super::part::{ScanPart, decode_entry};
use super::part_rows::PartRows;
use super::request::FieldRange;
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
    /// Value ranges, by slot: a row is kept only if it has a value of each
    /// such field that may lie in its range ([`FieldRange::may_hold`]).
    pub ranges: Vec<(usize, FieldRange)>,
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

    /// The rows of `part` in `start..=end` that may meet the ranges; `None`
    /// if it has none.
    pub(crate) fn rows(&self, reader: &FileReader, part: &ScanPart, start: i64, end: i64) -> Result<Option<PartRows>> {
        if let ([entry], true) = (part.chunks.as_slice(), part.head.is_empty()) {
            // One chunk and nothing else: its points are the rows, if it
            // meets every condition.
            if !self.all_rows(&entry.fields) {
                return Ok(None);
            }
            let columns: Vec<Option<usize>> =
                self.values.iter().map(|f| entry.fields.iter().position(|c| c == f)).collect();
            return chunk_rows(reader, entry, &columns, &self.ranges, start, end);
        }
        let candidates = if self.ranges.is_empty() {
            None
        } else {
            match self.range_times(reader, part, start, end)? {
                Some(times) => Some(times),
                None => return Ok(None),
            }
        };
        let all: Vec<usize> = (0..self.values.len()).collect();
        let sources = self.sources(reader, part, start, end, (&all, false), candidates.as_deref())?;
        let merged: Vec<FieldSeries> = (0..self.values.len()).map(|slot| merge_slot(&sources, slot)).collect();
        let mut times = if self.present.is_empty() {
            union(sources.iter().map(|s| s.times.as_slice()))
        } else {
            let clauses = self
                .present
                .iter()
                .map(|clause| union(clause.iter().filter_map(|&s| merged.get(s)).map(|f| f.times.as_slice())));
            clauses.reduce(|a, b| intersect(&a, &b)).unwrap_or_default()
        };
        if let Some(candidates) = &candidates {
            times = intersect(&times, candidates);
        }
        if times.is_empty() {
            return Ok(None);
        }
        let fields = merged.iter().map(|f| place(f, &times)).collect();
        Ok(Some(PartRows::new(TimestampNanosecondArray::from(times), fields)))
    }

    /// The times of `part` in `start..=end` whose merged values may meet
    /// every range, from the ranged fields alone; `None` if there are none.
    /// Only a source holding one of these times can show in a kept row.
    fn range_times(&self, reader: &FileReader, part: &ScanPart, start: i64, end: i64) -> Result<Option<Vec<i64>>> {
        let slots: Vec<usize> = self.ranges.iter().map(|(slot, _)| *slot).collect();
        let sources = self.sources(reader, part, start, end, (&slots, true), None)?;
        let mut times: Option<Vec<i64>> = None;
        for (slot, range) in &self.ranges {
            let merged = merge_slot(&sources, *slot);
            let passing = merged.times.iter().zip(&merged.values).filter(|(_, v)| range.may_hold(**v)).map(|(t, _)| *t);
            let passing: Vec<i64> = match &times {
                Some(before) => intersect(before, &passing.collect::<Vec<_>>()),
                None => passing.collect(),
            };
            if passing.is_empty() {
                return Ok(None);
            }
            times = Some(passing);
        }
        Ok(times)
    }

    /// The sources of `part` that can add rows or values, oldest first
    /// (chunks in file order, then the head), within `start..=end`, with
    /// the values of `slots` they hold; if `only_holding`, only sources
    /// holding one of `slots`. With `within` (ascending times), only sources
    /// whose span holds one of those times.
    fn sources(
        &self,
        reader: &FileReader,
        part: &ScanPart,
        start: i64,
        end: i64,
        (slots, only_holding): (&[usize], bool),
        within: Option<&[i64]>,
    ) -> Result<Vec<Source>> {
        let holds = |fields: &[FieldId]| {
            if only_holding {
                fields.iter().any(|f| slots.iter().any(|&s| self.values.get(s) == Some(f)))
            } else {
                self.reads(fields)
            }
        };
        let spans =
            |lo: i64, hi: i64| within.is_none_or(|w| w.get(w.partition_point(|&t| t < lo)).is_some_and(|&t| t <= hi));
        let mut sources = Vec::with_capacity(part.chunks.len() + part.head.len());
        for entry in &part.chunks {
            if !holds(&entry.fields)
                || entry.max_time < start
                || entry.min_time > end
                || !spans(entry.min_time, entry.max_time)
            {
                continue;
            }
            let wanted: Vec<(usize, usize)> = entry
                .fields
                .iter()
                .enumerate()
                .filter_map(|(col, f)| {
                    slots.iter().copied().find(|&s| self.values.get(s) == Some(f)).map(|slot| (col, slot))
                })
                .collect();
            let columns: Vec<usize> = wanted.iter().map(|w| w.0).collect();
            let decoded = decode_entry(reader, entry, &columns, start, end)?;
            let values = wanted.iter().zip(decoded.values).map(|((_, slot), v)| (*slot, v.values().to_vec())).collect();
            sources.push(Source { times: decoded.timestamps.values().to_vec(), values });
        }
        for (field, points) in &part.head {
            let (Some(&lo), Some(&hi)) = (points.times.first(), points.times.last()) else { continue };
            if !holds(&[*field]) || !spans(lo, hi) {
                continue;
            }
            let slot = slots.iter().copied().find(|&s| self.values.get(s) == Some(field));
            let values = slot.map(|slot| (slot, points.values.clone()));
            sources.push(Source { times: points.times.clone(), values: values.into_iter().collect() });
        }
        Ok(sources)
    }
}

/// The points of slot `slot` merged over `sources` (last write wins).
fn merge_slot(sources: &[Source], slot: usize) -> FieldSeries {
    let of_slot = sources.iter().filter_map(|s| {
        let (_, values) = s.values.iter().find(|(v, _)| *v == slot)?;
        Some(FieldSeries { times: s.times.clone(), values: values.clone() })
    });
    FieldSeries::merge(of_slot.collect())
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
        let any = RowFields { values: vec![3], ..RowFields::default() };
        assert!(any.reads(&[7]) && any.all_rows(&[7]), "without conditions every time is a row");
        let either = RowFields { values: vec![3, 4], present: vec![vec![0, 1]], ..RowFields::default() };
        assert!(either.all_rows(&[4, 9]) && !either.all_rows(&[9]) && !either.reads(&[9]));
        let both = RowFields { values: vec![3, 4], present: vec![vec![0], vec![1]], ..RowFields::default() };
        assert!(both.all_rows(&[3, 4]) && !both.all_rows(&[3]) && both.reads(&[3]));
    }
}
