//! The state of one group of a float aggregation ([`Slot`]) for each of
//! PromQL's float aggregations but `quantile`, and the rules that add a
//! value to it, merge two of them and give the answer.
//!
//! `add` follows Prometheus's `aggregation` in `promql/engine.go` value by
//! value, so a group's answer matches it to the bit when its values come in
//! the same order. `merge` combines partial states of one group (partitioned
//! SQL aggregation): exact for counts, `min` and `max`; as compensated sums
//! and Chan et al.'s pairwise variance for the others.

use std::fmt::Debug;

use crate::prom_float::{Mean, kahan_add};

/// The state of one non-empty group: made from its first value, then
/// given the others one by one, or merged with another group's state.
/// Partial states travel as [`Slot::FIELDS`] Float64 columns.
pub(super) trait Slot: Copy + Debug + Send + Sync + 'static {
    /// The names of the state's columns.
    const FIELDS: &'static [&'static str];

    /// The state of a group whose first value is `f`.
    fn new(f: f64) -> Self;

    /// Adds the next value.
    fn add(&mut self, f: f64);

    /// Adds the values another state of the same group took.
    fn merge(&mut self, other: &Self);

    /// The state's column `k`.
    fn field(&self, k: usize) -> f64;

    /// The state whose column `k` is `field(k)`.
    fn from_fields(field: impl Fn(usize) -> f64) -> Self;

    /// The answer of the group.
    fn result(&self) -> f64;
}

/// `sum`: a compensated sum.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sum {
    sum: f64,
    c: f64,
}

impl Slot for Sum {
    const FIELDS: &'static [&'static str] = &["sum", "c"];

    fn new(f: f64) -> Self {
        let (sum, c) = kahan_add(f, 0.0, 0.0);
        Sum { sum, c }
    }

    fn add(&mut self, f: f64) {
        (self.sum, self.c) = kahan_add(f, self.sum, self.c);
    }

    fn merge(&mut self, other: &Self) {
        self.add(other.sum);
        self.c += other.c;
    }

    fn field(&self, k: usize) -> f64 {
        if k == 0 { self.sum } else { self.c }
    }

    fn from_fields(field: impl Fn(usize) -> f64) -> Self {
        Sum { sum: field(0), c: field(1) }
    }

    fn result(&self) -> f64 {
        self.sum + self.c
    }
}

/// `avg`: Prometheus's running mean.
impl Slot for Mean {
    const FIELDS: &'static [&'static str] = &["count", "sum", "c", "mean", "incremental"];

    fn new(f: f64) -> Self {
        let mut mean = Mean::default();
        mean.add(f);
        mean
    }

    fn add(&mut self, f: f64) {
        Mean::add(self, f);
    }

    fn merge(&mut self, other: &Self) {
        Mean::merge(self, other);
    }

    fn field(&self, k: usize) -> f64 {
        self.parts()[k]
    }

    fn from_fields(field: impl Fn(usize) -> f64) -> Self {
        Mean::from_parts(std::array::from_fn(field))
    }

    fn result(&self) -> f64 {
        Mean::result(self)
    }
}

/// `min` (`MAX` false) or `max` (`MAX` true): a NaN is replaced by any
/// later value, so NaN is the answer only when every value is NaN.
#[derive(Clone, Copy, Debug)]
pub(super) struct Extreme<const MAX: bool> {
    value: f64,
}

impl<const MAX: bool> Slot for Extreme<MAX> {
    const FIELDS: &'static [&'static str] = &["value"];

    fn new(f: f64) -> Self {
        Extreme { value: f }
    }

    fn add(&mut self, f: f64) {
        let beaten = if MAX { self.value < f } else { self.value > f };
        if beaten || self.value.is_nan() {
            self.value = f;
        }
    }

    fn merge(&mut self, other: &Self) {
        self.add(other.value);
    }

    fn field(&self, _: usize) -> f64 {
        self.value
    }

    fn from_fields(field: impl Fn(usize) -> f64) -> Self {
        Extreme { value: field(0) }
    }

    fn result(&self) -> f64 {
        self.value
    }
}

/// `count` (`GROUP` false), or `group` (`GROUP` true, always 1): the number
/// of values.
#[derive(Clone, Copy, Debug)]
pub(super) struct Count<const GROUP: bool> {
    count: f64,
}

impl<const GROUP: bool> Slot for Count<GROUP> {
    const FIELDS: &'static [&'static str] = &["count"];

    fn new(_: f64) -> Self {
        Count { count: 1.0 }
    }

    fn add(&mut self, _: f64) {
        self.count += 1.0;
    }

    fn merge(&mut self, other: &Self) {
        self.count += other.count;
    }

    fn field(&self, _: usize) -> f64 {
        self.count
    }

    fn from_fields(field: impl Fn(usize) -> f64) -> Self {
        Count { count: field(0) }
    }

    fn result(&self) -> f64 {
        if GROUP { 1.0 } else { self.count }
    }
}

/// `stdvar` (`SQRT` false) or `stddev` (`SQRT` true): Welford's running
/// mean and sum of squared deviations. A non-finite first value leaves
/// the spread undefined (NaN); a later one makes it NaN through the
/// arithmetic.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deviation<const SQRT: bool> {
    count: f64,
    mean: f64,
    squares: f64,
}

impl<const SQRT: bool> Slot for Deviation<SQRT> {
    const FIELDS: &'static [&'static str] = &["count", "mean", "squares"];

    fn new(f: f64) -> Self {
        Deviation { count: 1.0, mean: f, squares: if f.is_finite() { 0.0 } else { f64::NAN } }
    }

    fn add(&mut self, f: f64) {
        self.count += 1.0;
        let delta = f - self.mean;
        self.mean += delta / self.count;
        self.squares += delta * (f - self.mean);
    }

    fn merge(&mut self, other: &Self) {
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.squares += other.squares + delta * delta * (self.count * other.count / count);
        self.mean += delta * (other.count / count);
        self.count = count;
    }

    fn field(&self, k: usize) -> f64 {
        [self.count, self.mean, self.squares][k]
    }

    fn from_fields(field: impl Fn(usize) -> f64) -> Self {
        Deviation { count: field(0), mean: field(1), squares: field(2) }
    }

    fn result(&self) -> f64 {
        let variance = self.squares / self.count;
        if SQRT { variance.sqrt() } else { variance }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold<S: Slot>(values: &[f64]) -> S {
        let mut slot = S::new(values[0]);
        values[1..].iter().for_each(|&v| slot.add(v));
        slot
    }

    fn split<S: Slot>(values: &[f64], at: usize) -> f64 {
        let mut left: S = fold(&values[..at]);
        left.merge(&S::from_fields(|k| fold::<S>(&values[at..]).field(k)));
        left.result()
    }

    #[test]
    fn merged_states_answer_as_one() {
        let values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        for at in 1..values.len() {
            assert_eq!(split::<Sum>(&values, at), 31.0);
            assert_eq!(split::<Mean>(&values, at), 31.0 / 8.0);
            assert_eq!(split::<Extreme<false>>(&values, at), 1.0);
            assert_eq!(split::<Extreme<true>>(&values, at), 9.0);
            assert_eq!(split::<Count<false>>(&values, at), 8.0);
            assert_eq!(split::<Count<true>>(&values, at), 1.0);
            let variance = values.iter().map(|v| (v - 31.0 / 8.0).powi(2)).sum::<f64>() / 8.0;
            assert!((split::<Deviation<false>>(&values, at) - variance).abs() < 1e-12);
            assert!((split::<Deviation<true>>(&values, at) - variance.sqrt()).abs() < 1e-12);
        }
    }

    #[test]
    fn nan_gives_way_to_numbers_in_min_and_max() {
        assert_eq!(fold::<Extreme<false>>(&[f64::NAN, 2.0, 1.0]).result(), 1.0);
        assert_eq!(fold::<Extreme<true>>(&[2.0, f64::NAN, 1.0]).result(), 2.0);
        assert!(fold::<Extreme<true>>(&[f64::NAN, f64::NAN]).result().is_nan());
        assert_eq!(split::<Extreme<true>>(&[f64::NAN, 1.0], 1), 1.0);
    }

    #[test]
    fn a_non_finite_value_leaves_no_spread() {
        assert!(fold::<Deviation<true>>(&[f64::INFINITY, 1.0]).result().is_nan());
        assert!(fold::<Deviation<false>>(&[1.0, f64::INFINITY]).result().is_nan());
        assert_eq!(fold::<Deviation<false>>(&[5.0]).result(), 0.0);
    }
}
