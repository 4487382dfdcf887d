//! One field's points in time order, and merging the sources that hold them.
//!
//! The rule every reader and every flush applies: for one (series, field,
//! timestamp) the last write wins. Sources are ordered oldest first (blocks
//! in file order, then the head), and within the head, points in write order.

/// One field's points: times ascending and distinct, a value per time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSeries {
    /// Timestamps, ascending, distinct.
    pub times: Vec<i64>,
    /// Values, one per timestamp.
    pub values: Vec<f64>,
}

impl FieldSeries {
    /// Points in write order (any time order, times may repeat): sorted, with
    /// the last write of each timestamp kept.
    pub fn from_writes(times: &[i64], values: &[f64]) -> Self {
        if times.windows(2).all(|w| w[0] < w[1]) {
            return Self { times: times.to_vec(), values: values.to_vec() };
        }
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        // Stable: equal times stay in write order, so the last one is the newest.
        order.sort_by_key(|&i| times[i as usize]);
        let mut out = Self { times: Vec::with_capacity(times.len()), values: Vec::with_capacity(times.len()) };
        for &i in &order {
            let (t, v) = (times[i as usize], values[i as usize]);
            if out.times.last() == Some(&t) {
                if let Some(last) = out.values.last_mut() {
                    *last = v;
                }
            } else {
                out.times.push(t);
                out.values.push(v);
            }
        }
        out
    }

    /// Removes the points within any of `ranges` (inclusive).
    pub fn remove_within(&mut self, ranges: &[(i64, i64)]) {
        if ranges.is_empty() {
            return;
        }
        let kept = self.times.iter().zip(&self.values).filter(|(t, _)| !ranges.iter().any(|(s, e)| s <= *t && *t <= e));
        (self.times, self.values) = kept.map(|(t, v)| (*t, *v)).unzip();
    }

    /// Merges sources ordered oldest first; on equal times the newest wins.
    pub fn merge(mut sources: Vec<FieldSeries>) -> FieldSeries {
        sources.retain(|s| !s.times.is_empty());
        if sources.len() <= 1 {
            return sources.pop().unwrap_or_default();
        }
        let mut by_start: Vec<&FieldSeries> = sources.iter().collect();
        by_start.sort_by_key(|s| s.times[0]);
        let disjoint = by_start.windows(2).all(|w| w[0].times.last() < w[1].times.first());
        if disjoint {
            let mut out = FieldSeries::default();
            for s in by_start {
                out.times.extend_from_slice(&s.times);
                out.values.extend_from_slice(&s.values);
            }
            return out;
        }
        let times: Vec<i64> = sources.iter().flat_map(|s| s.times.iter().copied()).collect();
        let values: Vec<f64> = sources.iter().flat_map(|s| s.values.iter().copied()).collect();
        Self::from_writes(&times, &values)
    }

    /// Keeps the points with `start <= time <= end`.
    pub fn restrict(&mut self, start: i64, end: i64) {
        let lo = self.times.partition_point(|&t| t < start);
        let hi = self.times.partition_point(|&t| t <= end);
        self.times.truncate(hi);
        self.values.truncate(hi);
        self.times.drain(..lo.min(hi));
        self.values.drain(..lo.min(hi));
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there is no point.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(times: &[i64], values: &[f64]) -> FieldSeries {
        FieldSeries { times: times.to_vec(), values: values.to_vec() }
    }

    #[test]
    fn the_last_write_wins_within_and_across_sources() {
        let w = FieldSeries::from_writes(&[3, 1, 3, 2, 1], &[30.0, 10.0, 31.0, 20.0, 11.0]);
        assert_eq!(w, fs(&[1, 2, 3], &[11.0, 20.0, 31.0]));
        let merged = FieldSeries::merge(vec![fs(&[1, 2, 5], &[1.0, 2.0, 5.0]), fs(&[2, 3], &[-2.0, -3.0])]);
        assert_eq!(merged, fs(&[1, 2, 3, 5], &[1.0, -2.0, -3.0, 5.0]));
        let disjoint = FieldSeries::merge(vec![fs(&[7, 8], &[7.0, 8.0]), fs(&[1], &[1.0])]);
        assert_eq!(disjoint, fs(&[1, 7, 8], &[1.0, 7.0, 8.0]));
        let mut r = fs(&[1, 2, 3, 4], &[1.0, 2.0, 3.0, 4.0]);
        r.restrict(2, 3);
        assert_eq!(r, fs(&[2, 3], &[2.0, 3.0]));
        r.restrict(10, 20);
        assert!(r.is_empty());
    }
}
