//! Prometheus's float arithmetic, shared by its aggregations and its
//! range-vector functions: compensated (Kahan-Babuska) sums, which keep
//! `sum` and `avg` exact where a naive sum loses the small terms; a running
//! mean that switches to an incremental form instead of overflowing; and
//! the quantile by linear interpolation between the nearest ranks. Each
//! follows Prometheus's `promql/functions.go` step by step, so answers
//! match it to the last bit where its own tests compare them exactly.

/// The φ-quantile of `values` (sorted in place), interpolating between the
/// two nearest ranks; φ < 0 is -Inf, φ > 1 is +Inf.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Adds `inc` to a compensated sum (`sum`, `c`); returns the new pair.
pub fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A running mean: a compensated sum divided at the end, or, once that sum
/// would overflow, an incremental mean.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    incremental: bool,
    mean: f64,
}

impl Mean {
    /// Adds a value.
    pub fn add(&mut self, f: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.sum = f;
            self.c = 0.0;
            return;
        }
        if self.incremental {
            if self.mean.is_infinite() {
                if f.is_infinite() && (self.mean > 0.0) == (f > 0.0) {
                    return;
                }
                if !f.is_infinite() && !f.is_nan() {
                    return;
                }
            }
            let current = self.mean + self.c;
            (self.mean, self.c) = kahan_add(f / self.count - current / self.count, self.mean, self.c);
            return;
        }
        let (sum, c) = kahan_add(f, self.sum, self.c);
        if !sum.is_infinite() {
            (self.sum, self.c) = (sum, c);
            return;
        }
        self.incremental = true;
        let prev = self.count - 1.0;
        self.mean = self.sum / prev;
        self.c /= prev;
        let q = prev / self.count;
        (self.mean, self.c) = kahan_add(f / self.count, q * self.mean, q * self.c);
    }

    /// Adds the values another mean took: their compensated sums while
    /// those stay finite, else the two means weighted by their counts (the
    /// incremental form from then on).
    pub fn merge(&mut self, other: &Mean) {
        if other.count == 0.0 {
            return;
        }
        if self.count == 0.0 {
            *self = *other;
            return;
        }
        let count = self.count + other.count;
        if !self.incremental && !other.incremental {
            let (sum, c) = kahan_add(other.sum, self.sum, self.c);
            if !sum.is_infinite() {
                (self.count, self.sum, self.c) = (count, sum, c + other.c);
                return;
            }
        }
        let ((mean, c), (other_mean, other_c)) = (self.as_mean(), other.as_mean());
        let (weight, other_weight) = (self.count / count, other.count / count);
        (self.mean, self.c) = if mean.is_infinite() || other_mean.is_infinite() {
            (mean + other_mean, 0.0)
        } else {
            // Moving the mean by the weighted difference keeps equal means
            // exact, and each term stays finite.
            let shift = other_mean * other_weight - mean * other_weight;
            kahan_add(shift, mean, c * weight + other_c * other_weight)
        };
        (self.count, self.incremental) = (count, true);
    }

    /// The mean and its compensation, in either form.
    fn as_mean(&self) -> (f64, f64) {
        if self.incremental { (self.mean, self.c) } else { (self.sum / self.count, self.c / self.count) }
    }

    /// The state as numbers: count, sum, compensation, incremental mean,
    /// and 1 once incremental (0 before); [`Mean::from_parts`] reads it back.
    pub fn parts(&self) -> [f64; 5] {
        [self.count, self.sum, self.c, self.mean, if self.incremental { 1.0 } else { 0.0 }]
    }

    /// The mean whose [`Mean::parts`] are `parts`.
    pub fn from_parts([count, sum, c, mean, incremental]: [f64; 5]) -> Mean {
        Mean { count, sum, c, mean, incremental: incremental != 0.0 }
    }

    /// The mean of the values added (NaN for none).
    pub fn result(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else if self.incremental {
            self.mean + self.c
        } else if self.count == 1.0 {
            self.sum
        } else {
            (self.sum + self.c) / self.count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_sums_keep_small_terms() {
        let (sum, c) = [1e100, 1.0, -1e100].iter().fold((0.0, 0.0), |(s, c), &v| kahan_add(v, s, c));
        assert_eq!(sum + c, 1.0);
        // An infinite sum drops the compensation instead of making NaN.
        let (sum, c) = kahan_add(f64::INFINITY, 1.0, 0.5);
        assert_eq!((sum, c), (f64::INFINITY, 0.0));
    }

    #[test]
    fn the_mean_does_not_overflow() {
        let mut mean = Mean::default();
        assert!(mean.result().is_nan());
        mean.add(f64::MAX);
        mean.add(f64::MAX);
        assert_eq!(mean.result(), f64::MAX);
        let mut mean = Mean::default();
        [1.0, 2.0, 6.0].iter().for_each(|&v| mean.add(v));
        assert_eq!(mean.result(), 3.0);
    }

    #[test]
    fn merged_means_are_the_mean_of_all_values() {
        let mean_of = |values: &[f64]| {
            let mut mean = Mean::default();
            values.iter().for_each(|&v| mean.add(v));
            mean
        };
        let mut left = mean_of(&[1.0, 2.0]);
        left.merge(&mean_of(&[6.0]));
        assert_eq!(left.result(), 3.0);
        // Sums that overflow together merge as weighted means.
        let mut left = mean_of(&[f64::MAX, f64::MAX]);
        left.merge(&mean_of(&[f64::MAX]));
        assert_eq!(left.result(), f64::MAX);
        let mut empty = Mean::default();
        empty.merge(&mean_of(&[5.0]));
        assert_eq!(Mean::from_parts(empty.parts()).result(), 5.0);
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(0.5, &mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(quantile(0.0, &mut [4.0, 1.0]), 1.0);
        assert_eq!(quantile(1.0, &mut [4.0, 1.0]), 4.0);
        assert_eq!(quantile(-0.1, &mut [1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(1.1, &mut [1.0]), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
        assert!(quantile(f64::NAN, &mut [1.0]).is_nan());
    }
}
