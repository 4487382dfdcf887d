//! An OTLP exponential histogram point as classic cumulative buckets, until
//! Chronicle stores native histograms.
//!
//! At scale `s` the base is `2^(2^-s)`; positive bucket `i` holds values in
//! `(base^i, base^(i+1)]`, so it becomes the classic bucket `le = base^(i+1)`;
//! negative bucket `i` holds values in `[-base^(i+1), -base^i)`, so it
//! becomes `le = -base^i`; the zero bucket becomes `le = zero_threshold`
//! (0 when unset). Buckets are emitted from the most negative bound up,
//! each count added to the ones below it (classic buckets are cumulative),
//! and `+Inf` holds the point's total count. Bounds that round to the same
//! float (or to infinity, at extreme indexes) are merged into one bucket, so
//! no two buckets share an `le`. The conversion loses no counts, only
//! resolution between the original bucket bounds, which are kept exactly.

use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// Scales the OpenTelemetry specification allows (`-10..=20`); outside them
/// the bounds are all 0, 1 or infinite.
pub(super) const SCALES: std::ops::RangeInclusive<i32> = -10..=20;

/// Classic buckets `(le, cumulative count)` of `point`, ending with `+Inf`;
/// `point.scale` must be within [`SCALES`].
pub(super) fn classic_buckets(point: &ExponentialHistogramDataPoint) -> Vec<(f64, u64)> {
    let step = (-f64::from(point.scale)).exp2();
    let power = |index: i64| (index as f64 * step).exp2();
    let mut buckets = Buckets::default();
    if let Some(negative) = &point.negative {
        for (k, &count) in negative.bucket_counts.iter().enumerate().rev() {
            buckets.add(-power(i64::from(negative.offset) + k as i64), count);
        }
    }
    // `> 0.0` also turns a NaN threshold into 0.
    buckets.add(if point.zero_threshold > 0.0 { point.zero_threshold } else { 0.0 }, point.zero_count);
    if let Some(positive) = &point.positive {
        for (k, &count) in positive.bucket_counts.iter().enumerate() {
            buckets.add(power(i64::from(positive.offset) + k as i64 + 1), count);
        }
    }
    buckets.finish(point.count)
}

/// Cumulative buckets under construction, bounds strictly increasing.
#[derive(Default)]
struct Buckets {
    out: Vec<(f64, u64)>,
    cumulative: u64,
}

impl Buckets {
    fn add(&mut self, le: f64, count: u64) {
        self.cumulative = self.cumulative.saturating_add(count);
        match self.out.last_mut() {
            Some(last) if le <= last.0 => last.1 = self.cumulative,
            _ => self.out.push((le, self.cumulative)),
        }
    }

    fn finish(mut self, total: u64) -> Vec<(f64, u64)> {
        match self.out.last_mut() {
            Some(last) if last.0 == f64::INFINITY => last.1 = total,
            _ => self.out.push((f64::INFINITY, total)),
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets as OtlpBuckets;

    use super::*;

    #[test]
    fn buckets_at_scale_zero_are_powers_of_two() {
        let point = ExponentialHistogramDataPoint {
            scale: 0,
            count: 10,
            zero_count: 1,
            positive: Some(OtlpBuckets { offset: 0, bucket_counts: vec![2, 3] }),
            negative: Some(OtlpBuckets { offset: 1, bucket_counts: vec![4] }),
            ..Default::default()
        };
        // negative bucket 1 holds [-4, -2): le -2; zero: le 0; positive 0: (1, 2]; 1: (2, 4].
        assert_eq!(classic_buckets(&point), [(-2.0, 4), (0.0, 5), (2.0, 7), (4.0, 10), (f64::INFINITY, 10)]);
    }

    #[test]
    fn fine_scales_and_merged_bounds() {
        let point = ExponentialHistogramDataPoint {
            scale: 1,
            count: 3,
            zero_threshold: 0.5,
            positive: Some(OtlpBuckets { offset: -1, bucket_counts: vec![1, 2] }),
            ..Default::default()
        };
        // base sqrt(2): bucket -1 is (2^-0.5, 1], bucket 0 is (1, 2^0.5].
        assert_eq!(classic_buckets(&point), [(0.5, 0), (1.0, 1), (2f64.sqrt(), 3), (f64::INFINITY, 3)]);
        let huge = ExponentialHistogramDataPoint {
            scale: -10,
            count: 5,
            positive: Some(OtlpBuckets { offset: 0, bucket_counts: vec![1, 1, 1] }),
            ..Default::default()
        };
        // 2^1024 and beyond are infinite: those buckets fold into +Inf.
        assert_eq!(classic_buckets(&huge), [(0.0, 0), (f64::INFINITY, 5)]);
    }
}
