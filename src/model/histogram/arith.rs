//! Histogram arithmetic as PromQL applies it: scaling by a float, and
//! adding or subtracting histograms of possibly different resolutions,
//! zero buckets and custom bounds.
//!
//! Adding lowers the result to the coarser schema, widens the zero bucket
//! to the wider threshold (moved to a bucket boundary if it would cut a
//! populated bucket), and for custom buckets with different bounds keeps
//! only the bounds both share.

use super::buckets::exponential_bound;
use super::custom::{roll_up_into, shared_bounds};
use super::error::{HistogramError, Result};
use super::layout::{indexed, merge_to_schema, rebuild};
use super::{CounterResetHint, FloatHistogram};

/// What adding or subtracting noticed besides the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Combined {
    /// One operand said "counter reset" and the other "no counter reset";
    /// the result's hint is then unknown.
    pub counter_reset_collision: bool,
    /// The custom bounds differed and the result keeps only shared ones.
    pub custom_bounds_reconciled: bool,
}

/// Adds `sign * b` into `a`; both index-sorted, the result too.
fn merge_entries(a: &[(i32, f64)], b: &[(i32, f64)], sign: f64) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ia, ca)), Some(&(ib, cb))) if ia == ib => {
                out.push((ia, ca + sign * cb));
                i += 1;
                j += 1;
            }
            (Some(&(ia, ca)), Some(&(ib, _))) if ia < ib => {
                out.push((ia, ca));
                i += 1;
            }
            (Some(&entry), None) => {
                out.push(entry);
                i += 1;
            }
            (_, Some(&(ib, cb))) => {
                out.push((ib, sign * cb));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

impl FloatHistogram {
    /// Multiplies all counts and the sum by `factor`; a negative factor
    /// makes the histogram a gauge.
    pub fn mul(&mut self, factor: f64) {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|c| *c *= factor);
        self.negative_buckets.iter_mut().for_each(|c| *c *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Divides all counts and the sum by `scalar`. Dividing by zero leaves
    /// no buckets, with infinite (or NaN) count, sum and zero count.
    pub fn div(&mut self, scalar: f64) {
        self.zero_count /= scalar;
        self.count /= scalar;
        self.sum /= scalar;
        if scalar == 0.0 {
            self.positive_spans.clear();
            self.positive_buckets.clear();
            self.negative_spans.clear();
            self.negative_buckets.clear();
            return;
        }
        self.positive_buckets.iter_mut().for_each(|c| *c /= scalar);
        self.negative_buckets.iter_mut().for_each(|c| *c /= scalar);
        if scalar < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
    }

    /// Adds `other` into this histogram (Prometheus's `Add`). The result
    /// may hold empty buckets; [`FloatHistogram::compact`] removes them.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<Combined> {
        self.combine(other, 1.0)
    }

    /// Subtracts `other` from this histogram (Prometheus's `Sub`). The
    /// counter reset hint follows the rules of [`FloatHistogram::add`]; the
    /// PromQL `-` operator makes the result a gauge afterwards.
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<Combined> {
        self.combine(other, -1.0)
    }

    /// Checks that both sides' spans agree with their bucket vectors.
    pub(crate) fn check_layout(&self) -> Result<()> {
        indexed(&self.positive_spans, &self.positive_buckets)?;
        indexed(&self.negative_spans, &self.negative_buckets)?;
        Ok(())
    }

    /// Adds `sign * other` into this histogram.
    fn combine(&mut self, other: &FloatHistogram, sign: f64) -> Result<Combined> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::MixedSchemas);
        }
        self.check_layout()?;
        other.check_layout()?;
        let mut outcome = Combined { counter_reset_collision: self.adjust_counter_reset(other), ..Combined::default() };
        if !self.uses_custom_buckets() {
            let other_zero = self.reconcile_zero_buckets(other)?;
            self.zero_count += sign * other_zero;
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;

        let mine = indexed(&self.positive_spans, &self.positive_buckets)?;
        let theirs = indexed(&other.positive_spans, &other.positive_buckets)?;
        if self.uses_custom_buckets() {
            if self.custom_values == other.custom_values {
                (self.positive_spans, self.positive_buckets) = rebuild(&merge_entries(&mine, &theirs, sign), 0);
            } else {
                outcome.custom_bounds_reconciled = true;
                let shared = shared_bounds(&self.custom_values, &other.custom_values);
                let mut sums = vec![0.0; shared.len() + 1];
                roll_up_into(
                    &mut sums,
                    &self.positive_spans,
                    &self.positive_buckets,
                    &self.custom_values,
                    &shared,
                    1.0,
                );
                roll_up_into(
                    &mut sums,
                    &other.positive_spans,
                    &other.positive_buckets,
                    &other.custom_values,
                    &shared,
                    sign,
                );
                let kept: Vec<(i32, f64)> = (0i32..).zip(sums).filter(|(_, c)| *c != 0.0).collect();
                (self.positive_spans, self.positive_buckets) = rebuild(&kept, 0);
                self.custom_values = shared;
            }
            return Ok(outcome);
        }

        let mine_neg = indexed(&self.negative_spans, &self.negative_buckets)?;
        let theirs_neg = indexed(&other.negative_spans, &other.negative_buckets)?;
        let schema = self.schema.min(other.schema);
        let at_schema = |entries: Vec<(i32, f64)>, from: i32| {
            if from > schema { merge_to_schema(&entries, from, schema) } else { entries }
        };
        let threshold = self.zero_threshold;
        let outside_zero = |entries: Vec<(i32, f64)>| -> Vec<(i32, f64)> {
            entries.into_iter().skip_while(|(i, _)| exponential_bound(*i, schema) <= threshold).collect()
        };
        let mine = at_schema(mine, self.schema);
        let mine_neg = at_schema(mine_neg, self.schema);
        let theirs = outside_zero(at_schema(theirs, other.schema));
        let theirs_neg = outside_zero(at_schema(theirs_neg, other.schema));
        self.schema = schema;
        (self.positive_spans, self.positive_buckets) = rebuild(&merge_entries(&mine, &theirs, sign), 0);
        (self.negative_spans, self.negative_buckets) = rebuild(&merge_entries(&mine_neg, &theirs_neg, sign), 0);
        Ok(outcome)
    }

    /// Sets the counter reset hint of a sum or difference; true when one
    /// operand says "reset" and the other "not reset".
    fn adjust_counter_reset(&mut self, other: &FloatHistogram) -> bool {
        use CounterResetHint::{CounterReset, Gauge, NotCounterReset, Unknown};
        match (self.counter_reset_hint, other.counter_reset_hint) {
            (mine, theirs) if mine == theirs => false,
            (Gauge, _) => false,
            (_, Gauge) => {
                self.counter_reset_hint = Gauge;
                false
            }
            (Unknown, _) | (_, Unknown) => {
                self.counter_reset_hint = Unknown;
                false
            }
            (CounterReset | NotCounterReset, _) => {
                self.counter_reset_hint = Unknown;
                true
            }
        }
    }

    /// Widens this histogram's zero bucket and computes `other`'s zero
    /// count until both share a threshold that cuts no populated bucket of
    /// either. Returns `other`'s zero count at that threshold.
    fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> Result<f64> {
        let mut other_zero = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        while other_threshold != self.zero_threshold {
            let before = (other_threshold, self.zero_threshold);
            if self.zero_threshold > other_threshold {
                (other_zero, other_threshold) = other.zero_count_for_larger_threshold(self.zero_threshold);
            }
            if other_threshold > self.zero_threshold {
                (self.zero_count, self.zero_threshold) = self.zero_count_for_larger_threshold(other_threshold);
                self.trim_buckets_in_zero_bucket()?;
            }
            // A NaN threshold compares unequal to everything: stop rather
            // than spin when nothing moved.
            if before == (other_threshold, self.zero_threshold) {
                break;
            }
        }
        Ok(other_zero)
    }

    /// The zero count this histogram would have with the zero threshold
    /// `larger` (at least the current one), and that threshold, moved up to
    /// the edge of a populated bucket it would otherwise cut.
    pub(crate) fn zero_count_for_larger_threshold(&self, mut larger: f64) -> (f64, f64) {
        if larger == self.zero_threshold {
            return (self.zero_count, larger);
        }
        'widen: loop {
            let mut zero = self.zero_count;
            for b in self.positive_bucket_iter() {
                if b.lower >= larger {
                    break;
                }
                zero += b.count;
                if b.upper > larger {
                    if b.count != 0.0 {
                        larger = b.upper;
                    }
                    break;
                }
            }
            for b in self.negative_bucket_iter() {
                if b.upper <= -larger {
                    break;
                }
                zero += b.count;
                if b.lower < -larger {
                    if b.count != 0.0 {
                        // The positive side was summed for a smaller
                        // threshold: start over with the wider one.
                        larger = -b.lower;
                        continue 'widen;
                    }
                    break;
                }
            }
            return (zero, larger);
        }
    }

    /// Empties the buckets inside the zero bucket (their counts are already
    /// in the zero count) and compacts.
    fn trim_buckets_in_zero_bucket(&mut self) -> Result<()> {
        let threshold = self.zero_threshold;
        let inside_positive = self.positive_bucket_iter().take_while(|b| b.lower < threshold).count();
        let inside_negative = self.negative_bucket_iter().take_while(|b| b.upper > -threshold).count();
        self.positive_buckets.iter_mut().take(inside_positive).for_each(|c| *c = 0.0);
        self.negative_buckets.iter_mut().take(inside_negative).for_each(|c| *c = 0.0);
        self.compact(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, Span};

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    fn exp(schema: i32, spans: Vec<Span>, buckets: Vec<f64>) -> FloatHistogram {
        let count = buckets.iter().sum();
        FloatHistogram {
            schema,
            count,
            sum: count,
            positive_spans: spans,
            positive_buckets: buckets,
            ..Default::default()
        }
    }

    #[test]
    fn add_same_layout_and_gaps() {
        let mut a = exp(0, vec![span(0, 2), span(2, 1)], vec![1.0, 2.0, 3.0]);
        let b = exp(0, vec![span(1, 3)], vec![10.0, 20.0, 30.0]);
        let out = a.add(&b).unwrap();
        assert_eq!(out, Combined::default());
        assert_eq!(a.positive_spans, vec![span(0, 5)]);
        assert_eq!(a.positive_buckets, vec![1.0, 12.0, 20.0, 30.0, 3.0]);
        assert_eq!(a.count, 66.0);
    }

    #[test]
    fn add_lowers_to_coarser_schema() {
        // Schema 1 indexes 1, 2 both land in schema 0 index 1.
        let mut fine = exp(1, vec![span(1, 2)], vec![1.0, 2.0]);
        let coarse = exp(0, vec![span(1, 1)], vec![4.0]);
        fine.add(&coarse).unwrap();
        assert_eq!(
            (fine.schema, fine.positive_spans.clone(), fine.positive_buckets.clone()),
            (0, vec![span(1, 1)], vec![7.0])
        );
        let mut coarse = exp(0, vec![span(1, 1)], vec![4.0]);
        coarse.sub(&exp(1, vec![span(1, 2)], vec![1.0, 2.0])).unwrap();
        assert_eq!((coarse.schema, coarse.positive_buckets), (0, vec![1.0]));
    }

    #[test]
    fn sum_matches_the_prometheus_test_expectation() {
        let mut low: FloatHistogram = "{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}".parse().unwrap();
        low.add(&"{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}".parse().unwrap()).unwrap();
        let expected: FloatHistogram = "{{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}".parse().unwrap();
        assert!(expected.matches_expected(&low, |a, b| a == b, false));
    }

    #[test]
    fn add_widens_zero_bucket() {
        // Threshold 1 swallows schema 0 bucket 0 ((0.5, 1]) of `b`.
        let mut a = FloatHistogram { zero_threshold: 1.0, zero_count: 1.0, ..exp(0, vec![span(1, 1)], vec![2.0]) };
        let b = exp(0, vec![span(0, 2)], vec![5.0, 7.0]);
        a.add(&b).unwrap();
        assert_eq!(a.zero_count, 6.0);
        assert_eq!(a.positive_buckets, vec![9.0]);
        // The other way round the receiver's bucket 0 moves into its zero bucket.
        let mut b = exp(0, vec![span(0, 2)], vec![5.0, 7.0]);
        b.add(&FloatHistogram { zero_threshold: 1.0, zero_count: 1.0, ..exp(0, vec![span(1, 1)], vec![2.0]) }).unwrap();
        assert_eq!(
            (b.zero_threshold, b.zero_count, b.positive_spans.clone(), b.positive_buckets.clone()),
            (1.0, 6.0, vec![span(1, 1)], vec![9.0])
        );
    }

    #[test]
    fn zero_threshold_inside_populated_bucket_moves_up() {
        let h = exp(0, vec![span(0, 2)], vec![5.0, 7.0]);
        assert_eq!(h.zero_count_for_larger_threshold(1.5), (12.0, 2.0));
        let empty = exp(0, vec![span(0, 2)], vec![5.0, 0.0]);
        assert_eq!(empty.zero_count_for_larger_threshold(1.5), (5.0, 1.5));
    }

    #[test]
    fn mixed_schemas_are_refused() {
        let mut a = exp(0, vec![], vec![]);
        let b = FloatHistogram { schema: CUSTOM_BUCKETS_SCHEMA, custom_values: vec![1.0], ..Default::default() };
        let err = a.add(&b).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas"
        );
    }

    #[test]
    fn custom_bounds_intersect() {
        let cb = |cv: Vec<f64>, buckets: Vec<f64>| FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: cv,
            positive_spans: vec![span(0, buckets.len() as u32)],
            positive_buckets: buckets,
            ..Default::default()
        };
        let mut a = cb(vec![1.0, 2.0, 5.0], vec![1.0, 2.0, 3.0, 4.0]);
        let b = cb(vec![2.0, 5.0, 10.0], vec![10.0, 20.0, 30.0, 40.0]);
        let out = a.add(&b).unwrap();
        assert!(out.custom_bounds_reconciled);
        assert_eq!(a.custom_values, vec![2.0, 5.0]);
        assert_eq!(a.positive_buckets, vec![13.0, 23.0, 74.0]);
        let mut same = cb(vec![1.0], vec![1.0, 2.0]);
        same.sub(&cb(vec![1.0], vec![1.0, 1.0])).unwrap();
        assert_eq!(same.positive_buckets, vec![0.0, 1.0]);
    }

    #[test]
    fn counter_reset_hints() {
        let with = |hint| FloatHistogram { counter_reset_hint: hint, ..Default::default() };
        let mut a = with(CounterResetHint::CounterReset);
        assert!(a.add(&with(CounterResetHint::NotCounterReset)).unwrap().counter_reset_collision);
        assert_eq!(a.counter_reset_hint, CounterResetHint::Unknown);
        let mut a = with(CounterResetHint::NotCounterReset);
        a.add(&with(CounterResetHint::Gauge)).unwrap();
        assert_eq!(a.counter_reset_hint, CounterResetHint::Gauge);
    }

    #[test]
    fn scaling() {
        let mut h = exp(0, vec![span(0, 2)], vec![2.0, 4.0]);
        h.mul(-0.5);
        assert_eq!((h.positive_buckets.clone(), h.counter_reset_hint), (vec![-1.0, -2.0], CounterResetHint::Gauge));
        h.div(0.0);
        assert!(h.positive_buckets.is_empty() && h.positive_spans.is_empty());
        assert_eq!(h.count, f64::NEG_INFINITY);
        let mut z = exp(0, vec![], vec![]);
        z.div(0.0);
        assert!(z.count.is_nan());
    }
}
