//! Comparing histograms: exact equality of data (Prometheus's `Equals`)
//! and the tolerant match the PromQL test files use for expected results.
//!
//! Both accept different span encodings of the same set of present bucket
//! indexes (zero-length spans folded into the next), but not a different
//! set: an extra empty bucket makes two histograms differ.

use super::{FloatHistogram, Span};

/// The spans with zero-length ones folded into the next non-empty span.
fn folded(spans: &[Span]) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len());
    let mut carried = 0i32;
    for span in spans {
        if span.length == 0 {
            carried = carried.saturating_add(span.offset);
        } else {
            out.push(Span { offset: carried.saturating_add(span.offset), length: span.length });
            carried = 0;
        }
    }
    out
}

/// Whether two span lists describe the same present indexes, up to
/// zero-length spans.
pub fn spans_match(a: &[Span], b: &[Span]) -> bool {
    folded(a) == folded(b)
}

/// Bitwise float equality: NaN equals NaN of the same payload, `0.0`
/// differs from `-0.0`.
fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

impl FloatHistogram {
    /// Whether both histograms hold the same data, comparing floats by
    /// their bits (Prometheus's `Equals`). The counter reset hint is not
    /// compared.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        self.same_with(other, same_bits)
    }

    /// Whether `actual` matches this expected histogram as the PromQL test
    /// files check it: both compacted with no empty buckets, counts and
    /// sums compared with `close`, bounds and layout exactly, and the
    /// counter reset hint only when `check_hint` (the expectation spelled
    /// one out).
    pub fn matches_expected(
        &self,
        actual: &FloatHistogram,
        close: impl Fn(f64, f64) -> bool,
        check_hint: bool,
    ) -> bool {
        let mut expected = self.clone();
        let mut actual = actual.clone();
        if expected.compact(0).is_err() || actual.compact(0).is_err() {
            return false;
        }
        expected.same_with(&actual, close) && (!check_hint || expected.counter_reset_hint == actual.counter_reset_hint)
    }

    /// Field-by-field comparison with `eq` for counts and sums.
    fn same_with(&self, other: &FloatHistogram, eq: impl Fn(f64, f64) -> bool) -> bool {
        let all_eq = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(*x, *y));
        self.schema == other.schema
            && eq(self.count, other.count)
            && eq(self.sum, other.sum)
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && eq(self.zero_count, other.zero_count)
            && spans_match(&self.negative_spans, &other.negative_spans)
            && all_eq(&self.negative_buckets, &other.negative_buckets)
            && spans_match(&self.positive_spans, &other.positive_spans)
            && all_eq(&self.positive_buckets, &other.positive_buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn zero_length_spans_fold() {
        assert!(spans_match(&[span(1, 0), span(2, 2)], &[span(3, 2)]));
        assert!(spans_match(&[span(3, 2), span(4, 0)], &[span(3, 2)]));
        assert!(!spans_match(&[span(0, 1), span(0, 1)], &[span(0, 2)]));
    }

    #[test]
    fn equals_compares_bits() {
        let a = FloatHistogram {
            sum: f64::NAN,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![1.0],
            ..Default::default()
        };
        let mut b = a.clone();
        b.positive_spans = vec![span(0, 0), span(0, 1)];
        assert!(a.equals(&b));
        b.positive_buckets = vec![1.0 + f64::EPSILON];
        assert!(!a.equals(&b));
        assert!(a.matches_expected(&b, |x, y| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-9, true));
    }

    #[test]
    fn expected_match_ignores_empty_buckets_and_optional_hint() {
        let expected =
            FloatHistogram { positive_spans: vec![span(1, 1)], positive_buckets: vec![2.0], ..Default::default() };
        let actual = FloatHistogram {
            counter_reset_hint: crate::model::histogram::CounterResetHint::Gauge,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![0.0, 2.0, 0.0],
            ..Default::default()
        };
        assert!(!expected.equals(&actual));
        assert!(expected.matches_expected(&actual, |x, y| x == y, false));
        assert!(!expected.matches_expected(&actual, |x, y| x == y, true));
    }
}
