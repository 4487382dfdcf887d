//! Statistics estimated from a histogram's buckets: quantiles, the
//! fraction of observations in a range, and the variance.
//!
//! Inside a bucket observations are assumed spread linearly for custom
//! buckets and the zero bucket, and exponentially (linearly on a log scale)
//! for exponential buckets. The zero bucket of a histogram with buckets on
//! one side only is taken to lie on that side of zero.

use chronicle_udfs::kahan_add;

use super::FloatHistogram;
use super::buckets::Bucket;

/// Something PromQL reports as an info annotation beside a statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsNote {
    /// The quantile is NaN because of NaN observations.
    QuantileNaNResult,
    /// NaN observations skew the quantile.
    QuantileNaNSkew,
    /// NaN observations are left out of the fraction.
    FractionNaNs,
}

/// The fraction of `b` (between 0 and 1) at or below `v`, which lies
/// strictly inside the bucket's finite bounds.
fn fraction_below(b: &Bucket, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let (log_lower, log_upper, log_v) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
    if v > 0.0 {
        (log_v - log_lower) / (log_upper - log_lower)
    } else {
        1.0 - (log_v - log_upper) / (log_lower - log_upper)
    }
}

impl FloatHistogram {
    /// If the zero bucket `b` is the only bucket on one side of zero, cut
    /// it at zero (Prometheus assumes its observations lie on the side
    /// that has buckets).
    fn one_sided_zero_bucket(&self, b: &mut Bucket) {
        if self.negative_buckets.is_empty() && !self.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if self.positive_buckets.is_empty() && !self.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    }

    /// The estimated `q`-quantile (Prometheus's `HistogramQuantile`), with
    /// a note when NaN observations affect it.
    pub fn quantile(&self, q: f64) -> (f64, Option<StatsNote>) {
        if q < 0.0 {
            return (f64::NEG_INFINITY, None);
        }
        if q > 1.0 {
            return (f64::INFINITY, None);
        }
        if self.count == 0.0 || q.is_nan() {
            return (f64::NAN, None);
        }
        // NaN observations count in `count` but in no bucket: only walking
        // up from the lowest bucket finds ranks correctly then.
        let forward = self.sum.is_nan() || q < 0.5;
        let mut order = self.all_buckets();
        let mut rank = if forward { q * self.count } else { (1.0 - q) * self.count };
        if !forward {
            order.reverse();
        }
        let mut buckets = order.into_iter();
        let mut bucket =
            Bucket { lower: 0.0, upper: 0.0, lower_inclusive: false, upper_inclusive: false, count: 0.0, index: 0 };
        let mut count = 0.0;
        for b in buckets.by_ref() {
            bucket = b;
            if b.count == 0.0 {
                continue;
            }
            count += b.count;
            if count >= rank {
                break;
            }
        }
        if self.uses_custom_buckets() {
            if bucket.lower == f64::NEG_INFINITY {
                if bucket.upper <= 0.0 {
                    return (bucket.upper, None);
                }
                bucket.lower = 0.0;
            } else if bucket.upper == f64::INFINITY {
                return (bucket.lower, None);
            }
        } else if bucket.lower < 0.0 && bucket.upper > 0.0 {
            self.one_sided_zero_bucket(&mut bucket);
        }
        if count > self.count {
            count = self.count;
        }
        if count < rank {
            if self.sum.is_nan() {
                return (f64::NAN, Some(StatsNote::QuantileNaNResult));
            }
            return (bucket.upper, None);
        }
        if forward {
            rank -= count - bucket.count;
        } else {
            rank = count - rank;
        }
        let mut note = None;
        if self.sum.is_nan() {
            let in_buckets = count + buckets.map(|b| b.count).sum::<f64>();
            if in_buckets < self.count {
                note = Some(StatsNote::QuantileNaNSkew);
            }
        }
        let fraction = rank / bucket.count;
        if self.uses_custom_buckets() || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
            return (bucket.lower + (bucket.upper - bucket.lower) * fraction, note);
        }
        let (log_lower, log_upper) = (bucket.lower.abs().log2(), bucket.upper.abs().log2());
        let value = if bucket.lower > 0.0 {
            (log_lower + (log_upper - log_lower) * fraction).exp2()
        } else {
            -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
        };
        (value, note)
    }

    /// The estimated fraction of observations between `lower` and `upper`
    /// (Prometheus's `HistogramFraction`), with a note when NaN
    /// observations are left out.
    pub fn fraction(&self, lower: f64, upper: f64) -> (f64, Option<StatsNote>) {
        if self.count == 0.0 || lower.is_nan() || upper.is_nan() {
            return (f64::NAN, None);
        }
        if lower >= upper {
            return (0.0, None);
        }
        let mut buckets = self.all_buckets().into_iter();
        let (mut count, mut rank) = (0.0, 0.0);
        let (mut lower_rank, mut upper_rank) = (None, None);
        for mut b in buckets.by_ref() {
            count += b.count;
            let zero_bucket = b.lower <= 0.0 && b.upper >= 0.0;
            if zero_bucket {
                self.one_sided_zero_bucket(&mut b);
            }
            let linear = self.uses_custom_buckets() || zero_bucket;
            // A bucket reaching to -Inf contributes nothing partially: its
            // observations count only once the bucket is passed entirely,
            // as for the bucket reaching to +Inf.
            let rank_at = |v: f64| {
                if linear && b.lower == f64::NEG_INFINITY {
                    b.count
                } else {
                    rank + b.count * fraction_below(&b, v, linear)
                }
            };
            if lower_rank.is_none() && b.lower >= lower {
                lower_rank = Some(rank);
            }
            if upper_rank.is_none() && b.lower >= upper {
                upper_rank = Some(rank);
            }
            if lower_rank.is_some() && upper_rank.is_some() {
                break;
            }
            if lower_rank.is_none() && b.lower < lower && b.upper > lower {
                lower_rank = Some(rank_at(lower));
            }
            if upper_rank.is_none() && b.lower < upper && b.upper > upper {
                upper_rank = Some(rank_at(upper));
            }
            if lower_rank.is_some() && upper_rank.is_some() {
                break;
            }
            rank += b.count;
        }
        let mut note = None;
        if self.sum.is_nan() {
            count += buckets.map(|b| b.count).sum::<f64>();
            if count < self.count {
                note = Some(StatsNote::FractionNaNs);
            }
        } else {
            count = self.count;
        }
        let capped = |r: Option<f64>| r.map_or(count, |r| if r > count { count } else { r });
        ((capped(upper_rank) - capped(lower_rank)) / self.count, note)
    }

    /// The estimated variance of the observations (`histogram_stdvar`):
    /// each bucket's observations are taken to sit at its midpoint
    /// (geometric for exponential buckets, zero for the zero bucket).
    pub fn stdvar(&self) -> f64 {
        let mean = self.sum / self.count;
        let (mut variance, mut c) = (0.0, 0.0);
        for b in self.all_buckets() {
            if b.count == 0.0 {
                continue;
            }
            let value = if self.uses_custom_buckets() {
                (b.upper + b.lower) / 2.0
            } else if b.lower <= 0.0 && b.upper >= 0.0 {
                0.0
            } else if b.upper < 0.0 {
                -(b.upper * b.lower).sqrt()
            } else {
                (b.upper * b.lower).sqrt()
            };
            let delta = value - mean;
            (variance, c) = kahan_add(b.count * delta * delta, variance, c);
        }
        (variance + c) / self.count
    }

    /// The estimated standard deviation (`histogram_stddev`).
    pub fn stddev(&self) -> f64 {
        self.stdvar().sqrt()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn h(notation: &str) -> FloatHistogram {
        notation.parse().unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * (a.abs() + b.abs())
    }

    #[test]
    fn quantiles_from_the_prometheus_tests() {
        let single = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}");
        assert!(close(single.quantile(0.5).0, std::f64::consts::SQRT_2));
        let negative = h("{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}");
        assert!(close(negative.quantile(0.5).0, -std::f64::consts::SQRT_2));
        let zero = h("{{schema:0 sum:0.25 count:1 z_bucket:1 z_bucket_w:0.5}}");
        assert_eq!(zero.quantile(0.5).0, 0.0);
        let balanced = h("{{schema:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}");
        assert_eq!(balanced.quantile(0.5).0, 0.5);
        assert_eq!(single.quantile(-1.0).0, f64::NEG_INFINITY);
        assert_eq!(single.quantile(2.0).0, f64::INFINITY);
        assert!(h("{{}}").quantile(0.5).0.is_nan());
    }

    #[test]
    fn quantiles_around_the_zero_bucket() {
        let positive = h("{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}");
        let negative = h("{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}");
        let cases = [
            (&positive, 1.0, 16.0),
            (&positive, 0.99, 15.67072476139083),
            (&positive, 0.9, 12.99603834169977),
            (&positive, 0.6, 4.594793419988138),
            (&positive, 0.5, 1.5874010519681994),
            (&positive, 0.1, 0.0006),
            (&positive, 0.0, 0.0),
            (&negative, 1.0, 0.0),
            (&negative, 0.99, -0.00006),
            (&negative, 0.9, -0.0006),
            (&negative, 0.5, -1.5874010519681996),
            (&negative, 0.1, -12.996038341699768),
            (&negative, 0.0, -16.0),
        ];
        for (hist, q, want) in cases {
            let (got, note) = hist.quantile(q);
            assert!(close(got, want), "q={q}: got {got}, want {want}");
            assert_eq!(note, None);
        }
    }

    #[test]
    fn quantile_of_custom_buckets() {
        let cb = h("{{schema:-53 count:4 sum:10 custom_values:[1 5] buckets:[1 2 1]}}");
        // Rank 2 of 4: one into the (1, 5] bucket of two, linearly.
        assert_eq!(cb.quantile(0.5).0, 3.0);
        assert_eq!(cb.quantile(0.99).0, 5.0);
        assert_eq!(cb.quantile(0.1).0, 0.4);
    }

    #[test]
    fn quantile_with_nan_observations() {
        let nan = h("{{schema:0 sum:NaN count:5 buckets:[1 2 1]}}");
        let (value, note) = nan.quantile(0.99);
        assert!(value.is_nan());
        assert_eq!(note, Some(StatsNote::QuantileNaNResult));
        assert_eq!(nan.quantile(0.5).1, Some(StatsNote::QuantileNaNSkew));
    }

    #[test]
    fn fractions_from_the_prometheus_tests() {
        let single = h("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}");
        assert_eq!(single.fraction(1.0, 2.0).0, 0.5);
        assert_eq!(single.fraction(0.0, 8.0).0, 1.0);
        assert_eq!(single.fraction(2.0, 1.0).0, 0.0);
        let zero = h("{{schema:0 sum:0.25 count:1 z_bucket:1 z_bucket_w:0.5}}");
        assert_eq!(zero.fraction(-0.5, 0.5).0, 1.0);
        let negative = h("{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}");
        assert_eq!(negative.fraction(-2.0, -1.0).0, 0.5);
        let balanced = h("{{schema:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}");
        assert_eq!(balanced.fraction(0.0, 4.0).0, 0.5);
        assert!(h("{{}}").fraction(f64::NEG_INFINITY, f64::INFINITY).0.is_nan());
        let cb = h("{{schema:-53 count:4 sum:10 custom_values:[1 5] buckets:[1 2 1]}}");
        assert_eq!(cb.fraction(f64::NEG_INFINITY, 3.0).0, 0.5);
        // The first bucket counts as [0, 1] when nothing is below zero.
        assert_eq!(cb.fraction(-10.0, 0.5).0, 0.125);
    }

    #[test]
    fn stddev_and_stdvar_from_the_prometheus_tests() {
        let cases = [
            ("{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}", 1.0787993180043811, 1.163807968526718),
            ("{{schema:8 count:10 sum:10 buckets:[1 2 3 4]}}", 0.0048960313898237465, 2.3971123370139447e-05),
            (
                "{{schema:0 count:10 sum:-112946 z_bucket:0 n_buckets:[0 0 1 1 1 0 1 1 0 0 3 0 0 0 1 0 0 1]}}",
                27556.344499842,
                759352122.1939945,
            ),
            ("{{schema:0 count:10 sum:-100 z_bucket:0 n_buckets:[0 0 0 0 10]}}", 1.3137084989848, 1.725830020304794),
        ];
        for (notation, stddev, stdvar) in cases {
            let hist = h(notation);
            assert!(close(hist.stddev(), stddev) || (hist.stddev() - stddev).abs() < 1e-6 * stddev, "{notation}");
            assert!(close(hist.stdvar(), stdvar) || (hist.stdvar() - stdvar).abs() < 1e-6 * stdvar, "{notation}");
        }
        assert!(h("{{schema:0 count:2 sum:NaN buckets:[2]}}").stddev().is_nan());
    }
}
