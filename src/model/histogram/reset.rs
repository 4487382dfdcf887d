//! Counter reset detection between two samples of a counter histogram, as
//! `rate`, `increase` and `resets` need it.
//!
//! A reset is any count going down, or a populated bucket disappearing.
//! Changes only a reset can cause (finer schema, narrower zero bucket,
//! custom bounds replacing exponential ones) count as resets; a coarser
//! schema or a wider zero bucket are compared after folding the previous
//! sample into them.

use super::buckets::{PresentBuckets, exponential_bound};
use super::custom::{roll_up_into, shared_bounds};
use super::layout::merge_to_schema;
use super::{CounterResetHint, FloatHistogram, Span};

/// Whether any bucket of `previous` lost observations in `current`; both
/// index-sorted at one schema.
fn side_reset(current: &[(i32, f64)], previous: &[(i32, f64)]) -> bool {
    let mut at = 0;
    for &(index, before) in previous {
        while current.get(at).is_some_and(|(i, _)| *i < index) {
            at += 1;
        }
        match current.get(at) {
            Some(&(i, now)) if i == index => {
                if now < before {
                    return true;
                }
            }
            _ => {
                if before != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

impl FloatHistogram {
    /// Whether a counter reset happened between `previous` and this sample
    /// (Prometheus's `DetectReset`). The hints "reset" and "not reset" are
    /// trusted; "unknown" and "gauge" compare the samples.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            CounterResetHint::Unknown | CounterResetHint::Gauge => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() != previous.uses_custom_buckets() {
            return true;
        }
        if self.uses_custom_buckets() && self.custom_values != previous.custom_values {
            let shared = shared_bounds(&self.custom_values, &previous.custom_values);
            let mut now = vec![0.0; shared.len() + 1];
            roll_up_into(&mut now, &self.positive_spans, &self.positive_buckets, &self.custom_values, &shared, 1.0);
            let mut before = vec![0.0; shared.len() + 1];
            let (spans, counts) = (&previous.positive_spans, &previous.positive_buckets);
            roll_up_into(&mut before, spans, counts, &previous.custom_values, &shared, 1.0);
            return now.iter().zip(&before).any(|(n, b)| n < b);
        }
        if self.schema > previous.schema || self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (previous_zero, threshold) = previous.zero_count_for_larger_threshold(self.zero_threshold);
        if threshold != self.zero_threshold || self.zero_count < previous_zero {
            return true;
        }
        let schema = self.schema;
        let outside_zero = |entries: Vec<(i32, f64)>| -> Vec<(i32, f64)> {
            if self.uses_custom_buckets() {
                return entries;
            }
            entries.into_iter().skip_while(|(i, _)| exponential_bound(*i, schema) <= threshold).collect()
        };
        let at_schema = |spans: &[Span], counts: &[f64], from: i32| {
            let entries: Vec<(i32, f64)> = PresentBuckets::new(spans, counts).collect();
            outside_zero(if from > schema { merge_to_schema(&entries, from, schema) } else { entries })
        };
        let sides = [
            (&self.positive_spans, &self.positive_buckets, &previous.positive_spans, &previous.positive_buckets),
            (&self.negative_spans, &self.negative_buckets, &previous.negative_spans, &previous.negative_buckets),
        ];
        sides.into_iter().any(|(spans, counts, prev_spans, prev_counts)| {
            side_reset(&at_schema(spans, counts, schema), &at_schema(prev_spans, prev_counts, previous.schema))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::histogram::CUSTOM_BUCKETS_SCHEMA;

    fn h(schema: i32, offset: i32, buckets: Vec<f64>) -> FloatHistogram {
        let count = buckets.iter().sum();
        FloatHistogram {
            schema,
            count,
            positive_spans: vec![Span { offset, length: buckets.len() as u32 }],
            positive_buckets: buckets,
            ..Default::default()
        }
    }

    #[test]
    fn hints_decide_first() {
        let mut now = h(0, 0, vec![1.0]);
        let before = h(0, 0, vec![5.0]);
        assert!(now.detect_reset(&before));
        now.counter_reset_hint = CounterResetHint::NotCounterReset;
        assert!(!now.detect_reset(&before));
        let mut grown = h(0, 0, vec![6.0]);
        grown.counter_reset_hint = CounterResetHint::CounterReset;
        assert!(grown.detect_reset(&before));
    }

    #[test]
    fn buckets_going_down_or_away() {
        let before = h(0, 0, vec![1.0, 2.0]);
        assert!(!h(0, 0, vec![1.0, 3.0]).detect_reset(&before));
        assert!(h(0, 0, vec![2.0, 1.5]).detect_reset(&before));
        // Bucket 1 disappears though the total grows.
        assert!(h(0, 0, vec![9.0]).detect_reset(&before));
        // An empty bucket may disappear.
        assert!(!h(0, 0, vec![9.0]).detect_reset(&h(0, 0, vec![1.0, 0.0])));
    }

    #[test]
    fn schema_and_zero_bucket_changes() {
        let before = h(0, 0, vec![1.0, 2.0]);
        assert!(h(1, 0, vec![5.0]).detect_reset(&before));
        // Schema -1 index 1 holds schema 0 indexes 1 and 2: 1 + 2 <= 4.
        let before = h(0, 1, vec![1.0, 2.0]);
        assert!(!h(-1, 1, vec![4.0]).detect_reset(&before));
        assert!(h(-1, 1, vec![2.5]).detect_reset(&h(0, 1, vec![1.0, 2.0])));
        let mut wide = h(0, 1, vec![3.0]);
        wide.zero_threshold = 1.0;
        wide.zero_count = 1.0;
        wide.count = 4.0;
        assert!(!wide.detect_reset(&h(0, 0, vec![1.0, 2.0])));
        assert!(h(0, 0, vec![1.0, 2.0]).detect_reset(&wide));
    }

    #[test]
    fn custom_bounds_compare_on_shared_bounds() {
        let cb = |cv: Vec<f64>, buckets: Vec<f64>| FloatHistogram {
            custom_values: cv,
            ..h(CUSTOM_BUCKETS_SCHEMA, 0, buckets)
        };
        let before = cb(vec![1.0, 2.0], vec![1.0, 1.0, 1.0]);
        assert!(!cb(vec![2.0], vec![2.0, 1.0]).detect_reset(&before));
        assert!(cb(vec![2.0], vec![1.5, 1.5]).detect_reset(&before));
        assert!(h(0, 0, vec![5.0]).detect_reset(&before));
    }
}
