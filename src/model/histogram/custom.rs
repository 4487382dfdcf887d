//! Reconciling custom bucket bounds: two custom-bucket histograms with
//! different bounds are compared or combined on the bounds they share,
//! each bucket rolled up into the first shared bucket that covers it.

use super::buckets::{PresentBuckets, bucket_bound};
use super::{CUSTOM_BUCKETS_SCHEMA, Span};

/// The bounds present in both sorted lists, in order.
pub(crate) fn shared_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if x == y {
            out.push(x);
            i += 1;
            j += 1;
        } else if x < y {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Adds `sign` times each custom bucket laid out on `bounds` to `sums`,
/// which has one slot per bound of `shared` plus one up to `+Inf`: a
/// bucket goes to the first slot whose bound is at least its upper bound.
pub(crate) fn roll_up_into(
    sums: &mut [f64],
    spans: &[Span],
    counts: &[f64],
    bounds: &[f64],
    shared: &[f64],
    sign: f64,
) {
    let mut at = 0;
    for (index, count) in PresentBuckets::new(spans, counts) {
        let upper = bucket_bound(index, CUSTOM_BUCKETS_SCHEMA, bounds);
        while at < shared.len() && shared[at] < upper {
            at += 1;
        }
        if let Some(sum) = sums.get_mut(at) {
            *sum += sign * count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_bounds_of_sorted_lists() {
        assert_eq!(shared_bounds(&[1.0, 2.0, 5.0], &[2.0, 5.0, 10.0]), vec![2.0, 5.0]);
        assert!(shared_bounds(&[1.0], &[]).is_empty());
    }

    #[test]
    fn roll_up_sends_buckets_to_covering_slot() {
        let mut sums = vec![0.0; 3];
        let spans = [Span { offset: 0, length: 4 }];
        roll_up_into(&mut sums, &spans, &[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 5.0], &[2.0, 5.0], 1.0);
        assert_eq!(sums, vec![3.0, 3.0, 4.0]);
        roll_up_into(&mut sums, &spans, &[1.0, 1.0, 1.0, 1.0], &[2.0, 5.0, 10.0], &[2.0, 5.0], -1.0);
        assert_eq!(sums, vec![2.0, 2.0, 2.0]);
    }
}
