//! The head: points not yet in the file, by partition, series and field.
//!
//! Columnar per series: each field is a pair of growable columns (times,
//! values) in write order. Out-of-order and duplicate timestamps are kept as
//! written and resolved when read or flushed ([`FieldSeries::from_writes`]:
//! the last write wins). Each partition remembers the first WAL record that
//! wrote to it, so the WAL is checkpointed only up to what the file holds.
//!
//! The memory budget scales with the columns held ([`Head::over_budget`]):
//! a flush for memory cuts chunks of at least [`MIN_FLUSH_POINTS`] points
//! per column on average, never one tiny chunk per series.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::merge::FieldSeries;
use super::series_index::{FieldId, SeriesId};

/// Bytes a new field column costs beyond its points (struct and allocation slack).
const COLUMN_OVERHEAD: usize = 96;
/// Bytes one point costs (a time and a value).
const POINT_BYTES: usize = 16;
/// Points per column, on average, the head holds beyond its budget before a
/// flush for memory is due.
pub const MIN_FLUSH_POINTS: usize = 16;

/// Hashes dense integer ids with one multiply per id: they are already well
/// spread. A tuple of ids hashes its ids in turn (a lone id from the start
/// state is just the multiply).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.0 = (self.0.rotate_left(23) ^ u64::from(v)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by series id.
pub type SeriesMap<V> = HashMap<SeriesId, V, BuildHasherDefault<IdHasher>>;

/// One field's points in write order.
#[derive(Debug, Clone, Default)]
pub struct FieldColumn {
    /// The field.
    pub field: FieldId,
    /// Timestamps as written.
    pub times: Vec<i64>,
    /// Values as written.
    pub values: Vec<f64>,
}

impl FieldColumn {
    /// The points sorted, last write per timestamp kept.
    pub fn resolved(&self) -> FieldSeries {
        FieldSeries::from_writes(&self.times, &self.values)
    }
}

/// One open partition.
#[derive(Debug, Default)]
pub struct HeadPartition {
    /// Field columns per series.
    pub series: SeriesMap<Vec<FieldColumn>>,
    /// The first WAL record that wrote here.
    pub first_lsn: u64,
    /// Smallest and largest timestamp written.
    pub time_bounds: (i64, i64),
}

/// Every open partition.
#[derive(Debug, Default)]
pub struct Head {
    partitions: BTreeMap<i64, HeadPartition>,
    bytes: usize,
    columns: usize,
}

impl Head {
    /// Adds one row of `series` at `time` to `partition`, logged as WAL record
    /// `lsn`; calls `new_field` for each field the series had no column for
    /// in this partition.
    pub fn push_row(
        &mut self,
        partition: i64,
        lsn: u64,
        series: SeriesId,
        time: i64,
        fields: &[(FieldId, f64)],
        mut new_field: impl FnMut(FieldId),
    ) {
        let p = self.partitions.entry(partition).or_insert_with(|| HeadPartition {
            first_lsn: lsn,
            time_bounds: (time, time),
            ..HeadPartition::default()
        });
        p.time_bounds = (p.time_bounds.0.min(time), p.time_bounds.1.max(time));
        let columns = p.series.entry(series).or_default();
        for (i, &(field, value)) in fields.iter().enumerate() {
            // Rows usually list fields in the same order every time.
            let at = match columns.get(i) {
                Some(c) if c.field == field => i,
                _ => match columns.iter().position(|c| c.field == field) {
                    Some(at) => at,
                    None => {
                        columns.push(FieldColumn { field, ..FieldColumn::default() });
                        self.bytes += COLUMN_OVERHEAD;
                        self.columns += 1;
                        new_field(field);
                        columns.len() - 1
                    }
                },
            };
            columns[at].times.push(time);
            columns[at].values.push(value);
        }
        self.bytes += fields.len() * POINT_BYTES;
    }

    /// Estimated bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a flush for memory is due: the head holds more than `budget`
    /// bytes beyond an allowance per column of its overhead and
    /// [`MIN_FLUSH_POINTS`] points. Without that
    /// allowance a head of many series, each holding a few points, would
    /// flush every time the budget fills, cutting one tiny chunk per series
    /// each time, and free almost nothing: each series' next point makes its
    /// column again. The allowance is bounded by the columns, which the
    /// series index already pays for per series.
    pub fn over_budget(&self, budget: usize) -> bool {
        let allowance = self.columns.saturating_mul(COLUMN_OVERHEAD + MIN_FLUSH_POINTS * POINT_BYTES);
        self.bytes > budget.saturating_add(allowance)
    }

    /// Whether the head holds nothing.
    #[cfg(any(test, feature = "testing"))]
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// The open partitions, by number.
    pub fn partitions(&self) -> &BTreeMap<i64, HeadPartition> {
        &self.partitions
    }

    /// Removes and returns partition `partition`.
    pub fn take(&mut self, partition: i64) -> Option<HeadPartition> {
        let p = self.partitions.remove(&partition)?;
        let points: usize = p.series.values().flatten().map(|c| c.times.len()).sum();
        let columns: usize = p.series.values().map(Vec::len).sum();
        self.bytes = self.bytes.saturating_sub(points * POINT_BYTES + columns * COLUMN_OVERHEAD);
        self.columns = self.columns.saturating_sub(columns);
        Some(p)
    }

    /// Removes the points of `series` within `start..=end` from every open
    /// partition (a delete); columns left empty are dropped.
    pub fn remove(&mut self, series: &[SeriesId], start: i64, end: i64, partition_ns: i64) {
        let (lo, hi) = (start.div_euclid(partition_ns), end.div_euclid(partition_ns));
        for p in self.partitions.range_mut(lo..=hi).map(|(_, p)| p) {
            for id in series {
                let Some(columns) = p.series.get_mut(id) else { continue };
                for c in columns.iter_mut() {
                    let before = c.times.len();
                    let outside = c.times.iter().zip(&c.values).filter(|(t, _)| !(start..=end).contains(*t));
                    (c.times, c.values) = outside.map(|(t, v)| (*t, *v)).unzip();
                    self.bytes = self.bytes.saturating_sub((before - c.times.len()) * POINT_BYTES);
                }
                let emptied = columns.iter().filter(|c| c.times.is_empty()).count();
                columns.retain(|c| !c.times.is_empty());
                self.bytes = self.bytes.saturating_sub(emptied * COLUMN_OVERHEAD);
                self.columns = self.columns.saturating_sub(emptied);
                if columns.is_empty() {
                    p.series.remove(id);
                }
            }
        }
    }

    /// The smallest first LSN of the open partitions.
    #[cfg(test)]
    pub fn min_first_lsn(&self) -> Option<u64> {
        self.partitions.values().map(|p| p.first_lsn).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_land_in_columns_and_bytes_are_returned_on_take() {
        let mut head = Head::default();
        let mut new = Vec::new();
        head.push_row(0, 5, 1, 20, &[(0, 2.0), (1, 3.0)], |f| new.push(f));
        head.push_row(0, 6, 1, 10, &[(1, 1.5), (0, 1.0)], |f| new.push(f));
        head.push_row(1, 7, 2, 99, &[(0, 9.0)], |f| new.push(f));
        assert_eq!(new, vec![0, 1, 0]);
        assert_eq!(head.min_first_lsn(), Some(5));
        let p = &head.partitions()[&0];
        assert_eq!(p.time_bounds, (10, 20));
        assert_eq!(p.series[&1][0].resolved(), FieldSeries { times: vec![10, 20], values: vec![1.0, 2.0] });
        let p = head.take(0).expect("present");
        assert_eq!(p.first_lsn, 5);
        assert_eq!(head.bytes(), POINT_BYTES + COLUMN_OVERHEAD);
        assert_eq!(head.min_first_lsn(), Some(7));
    }

    #[test]
    fn remove_drops_the_points_in_range_of_the_given_series_only() {
        let mut head = Head::default();
        for t in [5, 15, 25, 35] {
            head.push_row(t / 20, 1, 1, t, &[(0, t as f64), (1, 1.0)], |_| {});
            head.push_row(t / 20, 1, 2, t, &[(0, t as f64)], |_| {});
        }
        let bytes = head.bytes();
        head.remove(&[1], 10, 30, 20);
        let left = |p: i64, s: SeriesId| -> Vec<i64> {
            head.partitions()[&p].series.get(&s).map(|c| c[0].times.clone()).unwrap_or_default()
        };
        assert_eq!((left(0, 1), left(1, 1)), (vec![5], vec![35]));
        assert_eq!((left(0, 2), left(1, 2)), (vec![5, 15], vec![25, 35]), "series 2 untouched");
        assert_eq!(head.bytes(), bytes - 4 * POINT_BYTES);
        head.remove(&[2], i64::MIN, i64::MAX, 20);
        assert!(!head.partitions()[&0].series.contains_key(&2), "emptied series are dropped");
    }

    #[test]
    fn the_budget_allows_min_flush_points_per_column() {
        let budget = 1000;
        // Many series of one point each: far past the budget in bytes, but a
        // flush would cut one-point chunks, so it is not due.
        let mut wide = Head::default();
        for series in 0..100 {
            wide.push_row(0, 1, series, 0, &[(0, 1.0)], |_| {});
        }
        assert!(wide.bytes() > budget);
        assert!(!wide.over_budget(budget));
        // They become due once they average MIN_FLUSH_POINTS points and the budget.
        for time in 1..MIN_FLUSH_POINTS as i64 {
            for series in 0..100 {
                wide.push_row(0, 1, series, time, &[(0, 1.0)], |_| {});
            }
        }
        assert!(!wide.over_budget(budget), "within the allowance");
        for series in 0..(budget / POINT_BYTES) as u32 + 1 {
            wide.push_row(0, 1, series % 100, MIN_FLUSH_POINTS as i64, &[(0, 1.0)], |_| {});
        }
        assert!(wide.over_budget(budget));
        // One series of many points is due once past the budget and its allowance.
        let mut deep = Head::default();
        let points = budget / POINT_BYTES + MIN_FLUSH_POINTS;
        for time in 0..points as i64 {
            deep.push_row(0, 1, 7, time, &[(0, 1.0)], |_| {});
        }
        assert!(!deep.over_budget(budget));
        deep.push_row(0, 1, 7, points as i64, &[(0, 1.0)], |_| {});
        assert!(deep.over_budget(budget));
        wide.take(0);
        assert!(!wide.over_budget(0), "an empty head is never due");
    }
}
