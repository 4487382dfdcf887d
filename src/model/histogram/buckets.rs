//! Buckets with their bounds: the bound of a bucket index in a schema, and
//! iteration over the positive, negative and all buckets of a histogram.
//!
//! Exponential buckets are open below and closed above in magnitude:
//! positive bucket `i` is `(b(i-1), b(i)]`, negative bucket `i` is
//! `[-b(i), -b(i-1))`. Custom buckets are `(c[i-1], c[i]]`, the first one
//! `[-Inf, c[0]]` and the last one `(c[n-1], +Inf]`.

use super::FloatHistogram;
use super::Span;

/// One bucket of a histogram with its bounds and absolute count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The lower bound.
    pub lower: f64,
    /// The upper bound.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// The number of observations in the bucket.
    pub count: f64,
    /// The bucket's index in its schema (meaningless for the zero bucket).
    pub index: i32,
}

/// `2^e` for a normal exponent (-1022..=1023), built exactly.
fn pow2(e: i64) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `x * 2^e`, scaling in steps so no step overflows the exponent range.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1023 {
        x *= pow2(1023);
        e -= 1023;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1022 {
        x *= pow2(-1022);
        e += 1022;
        if x == 0.0 {
            return x;
        }
    }
    x * pow2(e)
}

/// The upper bound of exponential bucket `index` at `schema` (-4..=8).
///
/// The last bucket of finite values ends at `f64::MAX` rather than at the
/// formula's `2^1024`, which would be `+Inf`: observations of `+Inf` belong
/// to the next bucket.
pub fn exponential_bound(index: i32, schema: i32) -> f64 {
    if schema < 0 {
        let exp = i64::from(index) << (-schema);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let per_octave = 1i64 << schema;
    let within = i64::from(index) & (per_octave - 1);
    let frac = (within as f64 / per_octave as f64).exp2() / 2.0;
    let exp = (i64::from(index) >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// The upper bound of bucket `index` at `schema`; for custom buckets index
/// `-1` gives `-Inf` (the bound below the first bucket) and indexes past
/// the last custom value give `+Inf`.
pub fn bucket_bound(index: i32, schema: i32, custom_values: &[f64]) -> f64 {
    if schema != super::CUSTOM_BUCKETS_SCHEMA {
        return exponential_bound(index, schema);
    }
    match usize::try_from(index) {
        Ok(i) => custom_values.get(i).copied().unwrap_or(f64::INFINITY),
        Err(_) => f64::NEG_INFINITY,
    }
}

/// The present buckets of one side as `(index, count)` in index order.
/// A layout whose spans and buckets disagree ends where either runs out.
#[derive(Clone, Debug)]
pub struct PresentBuckets<'a> {
    spans: &'a [Span],
    counts: &'a [f64],
    span: usize,
    in_span: u32,
    next: usize,
    index: i32,
}

impl<'a> PresentBuckets<'a> {
    /// Iterates the buckets `spans` name, reading counts from `counts`.
    pub fn new(spans: &'a [Span], counts: &'a [f64]) -> Self {
        let index = spans.first().map_or(0, |s| s.offset);
        Self { spans, counts, span: 0, in_span: 0, next: 0, index }
    }
}

impl Iterator for PresentBuckets<'_> {
    type Item = (i32, f64);

    fn next(&mut self) -> Option<(i32, f64)> {
        loop {
            let span = self.spans.get(self.span)?;
            if self.in_span < span.length {
                break;
            }
            self.span += 1;
            self.in_span = 0;
            let offset = self.spans.get(self.span)?.offset;
            self.index = self.index.saturating_add(offset);
        }
        let count = *self.counts.get(self.next)?;
        let item = (self.index, count);
        self.next += 1;
        self.in_span += 1;
        self.index = self.index.saturating_add(1);
        Some(item)
    }
}

impl FloatHistogram {
    /// The bucket with the given index and count on the positive or
    /// negative side, with this histogram's bounds.
    fn bucket_at(&self, index: i32, count: f64, positive: bool) -> Bucket {
        let upper = bucket_bound(index, self.schema, &self.custom_values);
        let below = bucket_bound(index.saturating_sub(1), self.schema, &self.custom_values);
        let (lower, upper) = if positive { (below, upper) } else { (-upper, -below) };
        let (lower_inclusive, upper_inclusive) =
            if self.uses_custom_buckets() { (index == 0, true) } else { (lower < 0.0, upper > 0.0) };
        Bucket { lower, upper, lower_inclusive, upper_inclusive, count, index }
    }

    /// The zero bucket: `[-zero_threshold, zero_threshold]`.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// The positive buckets, from the zero bucket up.
    pub fn positive_bucket_iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        PresentBuckets::new(&self.positive_spans, &self.positive_buckets).map(|(i, c)| self.bucket_at(i, c, true))
    }

    /// The negative buckets, from the zero bucket down (ascending index,
    /// descending values).
    pub fn negative_bucket_iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        PresentBuckets::new(&self.negative_spans, &self.negative_buckets).map(|(i, c)| self.bucket_at(i, c, false))
    }

    /// All buckets in ascending order of values: the negative ones from
    /// the lowest up, the zero bucket if it has observations, then the
    /// positive ones. A bucket reaching into the zero bucket is cut at the
    /// zero threshold.
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let threshold = self.zero_threshold;
        let clamp = |mut b: Bucket| {
            if b.upper < 0.0 && b.upper > -threshold {
                b.upper = -threshold;
            } else if b.lower > 0.0 && b.lower < threshold {
                b.lower = threshold;
            }
            b
        };
        let mut out: Vec<Bucket> = self.negative_bucket_iter().map(clamp).collect();
        out.reverse();
        if self.zero_count > 0.0 {
            out.push(self.zero_bucket());
        }
        out.extend(self.positive_bucket_iter().map(clamp));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::model::histogram::CUSTOM_BUCKETS_SCHEMA;

    #[test]
    fn exponential_bounds() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        assert_eq!(exponential_bound(1, -2), 16.0);
        assert_eq!(exponential_bound(-3, -1), 1.0 / 64.0);
        assert!((exponential_bound(1, 1) - std::f64::consts::SQRT_2).abs() < 1e-15);
        assert!((exponential_bound(3, 3) - 2f64.powf(3.0 / 8.0)).abs() < 1e-15);
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
        assert_eq!(exponential_bound(256, -2), f64::MAX);
        assert_eq!(exponential_bound(1024 * 256, 8), f64::MAX);
        assert_eq!(exponential_bound(-1074, 0), f64::from_bits(1));
        assert_eq!(exponential_bound(-1100, 0), 0.0);
    }

    #[test]
    fn custom_bounds() {
        let cv = [1.0, 5.0];
        assert_eq!(bucket_bound(-1, CUSTOM_BUCKETS_SCHEMA, &cv), f64::NEG_INFINITY);
        assert_eq!(bucket_bound(1, CUSTOM_BUCKETS_SCHEMA, &cv), 5.0);
        assert_eq!(bucket_bound(2, CUSTOM_BUCKETS_SCHEMA, &cv), f64::INFINITY);
    }

    #[test]
    fn all_buckets_in_value_order() {
        let h = FloatHistogram {
            zero_threshold: 0.75,
            zero_count: 2.0,
            positive_spans: vec![Span { offset: 0, length: 2 }],
            positive_buckets: vec![1.0, 3.0],
            negative_spans: vec![Span { offset: 1, length: 1 }],
            negative_buckets: vec![4.0],
            ..Default::default()
        };
        let all = h.all_buckets();
        let shape: Vec<_> =
            all.iter().map(|b| (b.lower, b.upper, b.lower_inclusive, b.upper_inclusive, b.count)).collect();
        assert_eq!(
            shape,
            vec![
                (-2.0, -1.0, true, false, 4.0),
                (-0.75, 0.75, true, true, 2.0),
                (0.75, 1.0, false, true, 1.0),
                (1.0, 2.0, false, true, 3.0),
            ]
        );
    }

    #[test]
    fn custom_buckets_run_from_minus_to_plus_infinity() {
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 5.0],
            positive_spans: vec![Span { offset: 0, length: 3 }],
            positive_buckets: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        let all = h.all_buckets();
        assert_eq!((all[0].lower, all[0].upper, all[0].lower_inclusive), (f64::NEG_INFINITY, 1.0, true));
        assert_eq!((all[1].lower, all[1].upper, all[1].lower_inclusive), (1.0, 5.0, false));
        assert_eq!((all[2].lower, all[2].upper, all[2].upper_inclusive), (5.0, f64::INFINITY, true));
    }

    #[test]
    fn present_buckets_skip_gaps_and_empty_spans() {
        let spans = [Span { offset: -1, length: 1 }, Span { offset: 2, length: 0 }, Span { offset: 1, length: 2 }];
        let got: Vec<_> = PresentBuckets::new(&spans, &[1.0, 2.0, 3.0]).collect();
        assert_eq!(got, vec![(-1, 1.0), (3, 2.0), (4, 3.0)]);
        assert_eq!(PresentBuckets::new(&spans, &[1.0]).count(), 1);
    }
}
