//! PromQL's range-vector functions over one window of one series: `rate`,
//! `increase`, `delta` (with Prometheus's extrapolation to the window's
//! edges), `irate`, `idelta`, `deriv`, `predict_linear` (its least-squares
//! regression), `double_exponential_smoothing`, `resets`, `changes` and
//! every `*_over_time`. Pure arithmetic on the points: which points a step
//! sees, parameter checks and label handling are the query engine's.
//!
//! Invariant the functions rely on: a window's times ascend and its two
//! slices have the same length (a [`RangeWindow`] is built only by
//! [`RangeWindow::new`], which checks it).

use crate::prom_float::{Mean, kahan_add, quantile};

/// One step's window of one series.
pub struct RangeWindow<'a> {
    /// Times of the points, milliseconds, ascending.
    ts: &'a [i64],
    /// Values of the points.
    vs: &'a [f64],
    /// The window is `(end - range, end]`.
    end: i64,
    /// Its width in milliseconds.
    range: i64,
    /// The time of the step (`predict_linear` predicts from it, even
    /// when `@` fixes the window).
    eval_time: i64,
}

impl<'a> RangeWindow<'a> {
    /// The points `ts` (milliseconds) and `vs` one step sees, in the window
    /// `(end - range, end]`, for a step at `eval_time` (which
    /// `predict_linear` predicts from, even when `@` fixes the window);
    /// `None` if the slices differ in length or the times do not ascend.
    pub fn new(ts: &'a [i64], vs: &'a [f64], end: i64, range: i64, eval_time: i64) -> Option<Self> {
        (ts.len() == vs.len() && ts.is_sorted()).then_some(RangeWindow { ts, vs, end, range, eval_time })
    }
}

/// A function of one window and the step's scalar arguments.
pub type RangeFn = fn(&RangeWindow<'_>, &[f64]) -> Option<f64>;

/// A range-vector function: its name as PromQL spells it, the names of its
/// scalar parameters in the order it takes them, and its arithmetic.
pub struct RangeFunctionSpec {
    /// The name (`rate`).
    pub name: &'static str,
    /// Its scalar parameters (`predict_linear`: seconds ahead;
    /// `double_exponential_smoothing`: smoothing and trend factors;
    /// `quantile_over_time`: the quantile).
    pub params: &'static [&'static str],
    /// The value of one window, given the step's parameters.
    pub f: RangeFn,
}

/// Every range-vector function.
pub const RANGE_FUNCTIONS: &[RangeFunctionSpec] = &[
    RangeFunctionSpec { name: "rate", params: &[], f: |w, _| extrapolated(w, true, true) },
    RangeFunctionSpec { name: "increase", params: &[], f: |w, _| extrapolated(w, true, false) },
    RangeFunctionSpec { name: "delta", params: &[], f: |w, _| extrapolated(w, false, false) },
    RangeFunctionSpec { name: "irate", params: &[], f: |w, _| instant_delta(w, true) },
    RangeFunctionSpec { name: "idelta", params: &[], f: |w, _| instant_delta(w, false) },
    RangeFunctionSpec { name: "deriv", params: &[], f: |w, _| (w.vs.len() >= 2).then(|| regression(w, w.ts[0]).0) },
    RangeFunctionSpec {
        name: "predict_linear",
        params: &["seconds"],
        f: |w, a| {
            (w.vs.len() >= 2).then(|| {
                let (slope, intercept) = regression(w, w.eval_time);
                slope * a[0] + intercept
            })
        },
    },
    RangeFunctionSpec {
        name: "double_exponential_smoothing",
        params: &["smoothing_factor", "trend_factor"],
        f: |w, a| smoothing(w.vs, a[0], a[1]),
    },
    RangeFunctionSpec {
        name: "resets",
        params: &[],
        f: |w, _| {
            let mut n = 0.0;
            for p in w.vs.windows(2) {
                if p[1] < p[0] {
                    n += 1.0;
                }
            }
            (!w.vs.is_empty()).then_some(n)
        },
    },
    RangeFunctionSpec {
        name: "changes",
        params: &[],
        f: |w, _| {
            let mut n = 0.0;
            for p in w.vs.windows(2) {
                if !(p[1] == p[0] || (p[1].is_nan() && p[0].is_nan())) {
                    n += 1.0;
                }
            }
            (!w.vs.is_empty()).then_some(n)
        },
    },
    RangeFunctionSpec {
        name: "avg_over_time",
        params: &[],
        f: |w, _| {
            let mut mean = Mean::default();
            w.vs.iter().for_each(|&v| mean.add(v));
            (!w.vs.is_empty()).then(|| mean.result())
        },
    },
    RangeFunctionSpec {
        name: "sum_over_time",
        params: &[],
        f: |w, _| {
            let (s, c) = w.vs.iter().fold((0.0, 0.0), |(s, c), &v| kahan_add(v, s, c));
            (!w.vs.is_empty()).then_some(s + c)
        },
    },
    RangeFunctionSpec {
        name: "count_over_time",
        params: &[],
        f: |w, _| (!w.vs.is_empty()).then_some(w.vs.len() as f64),
    },
    RangeFunctionSpec { name: "min_over_time", params: &[], f: |w, _| extreme(w.vs, |cur, best| cur < best) },
    RangeFunctionSpec { name: "max_over_time", params: &[], f: |w, _| extreme(w.vs, |cur, best| cur > best) },
    RangeFunctionSpec { name: "stddev_over_time", params: &[], f: |w, _| variance(w.vs).map(f64::sqrt) },
    RangeFunctionSpec { name: "stdvar_over_time", params: &[], f: |w, _| variance(w.vs) },
    RangeFunctionSpec {
        name: "quantile_over_time",
        params: &["quantile"],
        f: |w, a| (!w.vs.is_empty()).then(|| quantile(a[0], &mut w.vs.to_vec())),
    },
    RangeFunctionSpec {
        name: "mad_over_time",
        params: &[],
        f: |w, _| {
            (!w.vs.is_empty()).then(|| {
                if w.vs.iter().any(|v| v.is_nan()) {
                    return f64::NAN;
                }
                let median = quantile(0.5, &mut w.vs.to_vec());
                let mut deviations: Vec<f64> = w.vs.iter().map(|v| (v - median).abs()).collect();
                quantile(0.5, &mut deviations)
            })
        },
    },
    RangeFunctionSpec { name: "last_over_time", params: &[], f: |w, _| w.vs.last().copied() },
    RangeFunctionSpec { name: "first_over_time", params: &[], f: |w, _| w.vs.first().copied() },
    RangeFunctionSpec { name: "ts_of_last_over_time", params: &[], f: |w, _| w.ts.last().map(|&t| t as f64 / 1000.0) },
    RangeFunctionSpec {
        name: "ts_of_first_over_time",
        params: &[],
        f: |w, _| w.ts.first().map(|&t| t as f64 / 1000.0),
    },
    RangeFunctionSpec { name: "ts_of_max_over_time", params: &[], f: |w, _| extreme_time(w, |cur, best| cur >= best) },
    RangeFunctionSpec { name: "ts_of_min_over_time", params: &[], f: |w, _| extreme_time(w, |cur, best| cur <= best) },
    RangeFunctionSpec { name: "present_over_time", params: &[], f: |w, _| (!w.vs.is_empty()).then_some(1.0) },
];

/// The range-vector function named `name` (as PromQL spells it), if it is
/// one; its scalar parameters, in order, are the slice it is given (see
/// [`RangeFunctionSpec::params`]).
pub fn range_function(name: &str) -> Option<RangeFn> {
    RANGE_FUNCTIONS.iter().find(|spec| spec.name == name).map(|spec| spec.f)
}

/// `rate`, `increase` (counters: resets add the value before them) and
/// `delta`: the change over the points, extrapolated to the window's edges
/// where the points come close to them, never below zero for counters.
fn extrapolated(w: &RangeWindow<'_>, counter: bool, per_second: bool) -> Option<f64> {
    let n = w.vs.len();
    if n < 2 {
        return None;
    }
    let mut result = w.vs[n - 1] - w.vs[0];
    if counter {
        let mut last = 0.0;
        for &v in w.vs {
            if v < last {
                result += last;
            }
            last = v;
        }
    }
    let zero_ratio = (counter && result > 0.0 && w.vs[0] >= 0.0).then(|| w.vs[0] / result);
    let edges = Extrapolation { first_t: w.ts[0], last_t: w.ts[n - 1], points: n, end: w.end, range: w.range };
    let factor = edges.factor(counter, zero_ratio, per_second);
    Some(result * factor)
}

/// Where a window's first and last points lie in it, for extrapolating a
/// change between them to the window's edges (Prometheus's
/// `extrapolatedRate`, shared by floats and native histograms).
#[derive(Clone, Copy, Debug)]
pub struct Extrapolation {
    /// Time of the first point, milliseconds.
    pub first_t: i64,
    /// Time of the last point, milliseconds.
    pub last_t: i64,
    /// Number of points (at least 2).
    pub points: usize,
    /// The window is `(end - range, end]`.
    pub end: i64,
    /// The window's width in milliseconds.
    pub range: i64,
}

impl Extrapolation {
    /// The factor to multiply the change between the first and last point
    /// by: each edge is reached when the points come within 110% of their
    /// average spacing of it, else half a spacing is added. A counter does
    /// not extrapolate below zero: `zero_ratio` (first value / change, when
    /// the change is positive and the first value not negative) limits the
    /// start. `per_second` divides by the window's width in seconds.
    pub fn factor(&self, counter: bool, zero_ratio: Option<f64>, per_second: bool) -> f64 {
        let range_start = self.end - self.range;
        let mut to_start = (self.first_t - range_start) as f64 / 1000.0;
        let mut to_end = (self.end - self.last_t) as f64 / 1000.0;
        let sampled = (self.last_t - self.first_t) as f64 / 1000.0;
        let average = sampled / self.points.saturating_sub(1).max(1) as f64;
        let threshold = average * 1.1;
        if to_start >= threshold {
            to_start = average / 2.0;
        }
        if counter && let Some(ratio) = zero_ratio {
            to_start = to_start.min(sampled * ratio);
        }
        if to_end >= threshold {
            to_end = average / 2.0;
        }
        let mut factor = if sampled == 0.0 { 1.0 } else { (sampled + to_start + to_end) / sampled };
        if per_second {
            factor /= self.range as f64 / 1000.0;
        }
        factor
    }
}

/// `irate` / `idelta`: from the last two points.
fn instant_delta(w: &RangeWindow<'_>, per_second: bool) -> Option<f64> {
    let n = w.vs.len();
    if n < 2 {
        return None;
    }
    let (last, prev) = (w.vs[n - 1], w.vs[n - 2]);
    let mut result = last - prev;
    if per_second && last < prev {
        result = last;
    }
    let interval = w.ts[n - 1] - w.ts[n - 2];
    if interval == 0 {
        return None;
    }
    if per_second {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and intercept (at `intercept_time`) of the points,
/// with compensated sums; constant values have slope 0.
fn regression(w: &RangeWindow<'_>, intercept_time: i64) -> (f64, f64) {
    let init = w.vs[0];
    if w.vs.iter().all(|&v| v == init) {
        return if init.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, init) };
    }
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (&t, &v) in w.ts.iter().zip(w.vs) {
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(v, sy, cy);
        (sxy, cxy) = kahan_add(x * v, sxy, cxy);
        (sx2, cx2) = kahan_add(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Holt's linear (double exponential) smoothing with factors `sf` and `tf`,
/// both checked to lie in (0, 1) by the caller.
fn smoothing(vs: &[f64], sf: f64, tf: f64) -> Option<f64> {
    if vs.len() < 2 {
        return None;
    }
    let (mut s0, mut s1, mut b) = (0.0, vs[0], vs[1] - vs[0]);
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

/// The value `better` prefers over all others (NaN only if all are NaN).
fn extreme(vs: &[f64], better: fn(f64, f64) -> bool) -> Option<f64> {
    let mut it = vs.iter().copied();
    let mut best = it.next()?;
    for v in it {
        if better(v, best) || best.is_nan() {
            best = v;
        }
    }
    Some(best)
}

/// The time (seconds) of the last point `better` prefers.
fn extreme_time(w: &RangeWindow<'_>, better: fn(f64, f64) -> bool) -> Option<f64> {
    let mut best: Option<usize> = None;
    for (i, &v) in w.vs.iter().enumerate() {
        match best {
            Some(b) if !(better(v, w.vs[b]) || w.vs[b].is_nan()) => {}
            _ => best = Some(i),
        }
    }
    best.map(|i| w.ts[i] as f64 / 1000.0)
}

/// The population variance, with compensated running sums.
fn variance(vs: &[f64]) -> Option<f64> {
    if vs.is_empty() {
        return None;
    }
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &f in vs {
        count += 1.0;
        let delta = f - (mean + c_mean);
        (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_add(delta * (f - (mean + c_mean)), aux, c_aux);
    }
    Some((aux + c_aux) / count)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    /// `name` over the points `(seconds, value)` in the window `(0, end_s]`
    /// (a step at `end_s`).
    fn at(name: &str, points: &[(i64, f64)], end_s: i64, params: &[f64]) -> Option<f64> {
        let ts: Vec<i64> = points.iter().map(|p| p.0 * 1000).collect();
        let vs: Vec<f64> = points.iter().map(|p| p.1).collect();
        let w = RangeWindow::new(&ts, &vs, end_s * 1000, end_s * 1000, end_s * 1000).unwrap();
        range_function(name).unwrap()(&w, params)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn rate_increase_and_delta_extrapolate_as_prometheus() {
        // A counter at 10..50 s in the window (0, 60]: 40 over 40 s sampled.
        // Backwards it would cross zero at once (first value 0), so nothing
        // is added before the first point; forwards the 10 s to the edge
        // (under 1.1 times the 10 s spacing) are: factor 50/40.
        let counter = [(10, 0.0), (20, 10.0), (30, 20.0), (40, 30.0), (50, 40.0)];
        assert!(close(at("increase", &counter, 60, &[]).unwrap(), 50.0));
        assert!(close(at("rate", &counter, 60, &[]).unwrap(), 50.0 / 60.0));
        // delta does not stop at zero: both edges, factor 60/40.
        assert!(close(at("delta", &counter, 60, &[]).unwrap(), 60.0));
        // A reset adds the value before it: 6 - 5 + 10 = 11 over 30 s
        // sampled; from the first value 5 the counter would reach zero
        // 30 * 5 / 11 s back, beyond the 10 s to the window's start.
        let reset = [(10, 5.0), (20, 10.0), (30, 2.0), (40, 6.0)];
        assert!(close(at("increase", &reset, 50, &[]).unwrap(), 11.0 * (30.0 + 10.0 + 10.0) / 30.0));
        // A gap to the edge wider than 1.1 spacings extrapolates half a
        // spacing only: points at 30 and 40 s in (0, 60] give 10 * 20/10.
        assert!(close(at("delta", &[(30, 1.0), (40, 11.0)], 60, &[]).unwrap(), 20.0));
        // One point is no rate.
        assert_eq!(at("rate", &[(10, 1.0)], 60, &[]), None);
    }

    #[test]
    fn instant_rates_use_the_last_two_points() {
        let points = [(10, 1.0), (20, 30.0), (30, 40.0)];
        assert_eq!(at("irate", &points, 60, &[]), Some(1.0));
        assert_eq!(at("idelta", &points, 60, &[]), Some(10.0));
        // After a reset irate takes the new value as the increase.
        assert_eq!(at("irate", &[(10, 50.0), (20, 5.0)], 60, &[]), Some(0.5));
        assert_eq!(at("idelta", &[(10, 50.0), (20, 5.0)], 60, &[]), Some(-45.0));
    }

    #[test]
    fn regression_finds_the_line_through_the_points() {
        // v = 2 t + 1 (t in seconds).
        let line: Vec<(i64, f64)> = (1..=5).map(|i| (i * 10, 2.0 * (i * 10) as f64 + 1.0)).collect();
        assert!(close(at("deriv", &line, 60, &[]).unwrap(), 2.0));
        // 100 s after the step at 60 s: t = 160.
        assert!(close(at("predict_linear", &line, 60, &[100.0]).unwrap(), 321.0));
        // Constant values: slope 0, whatever their size.
        assert_eq!(at("deriv", &[(10, 1e300), (20, 1e300)], 60, &[]), Some(0.0));
    }

    #[test]
    fn over_time_functions_summarise_the_window() {
        let vs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let points: Vec<(i64, f64)> = vs.iter().enumerate().map(|(i, &v)| (i as i64 + 1, v)).collect();
        assert_eq!(at("avg_over_time", &points, 10, &[]), Some(5.0));
        assert_eq!(at("sum_over_time", &points, 10, &[]), Some(40.0));
        assert_eq!(at("count_over_time", &points, 10, &[]), Some(8.0));
        assert_eq!(at("stddev_over_time", &points, 10, &[]), Some(2.0));
        assert_eq!(at("stdvar_over_time", &points, 10, &[]), Some(4.0));
        assert_eq!(at("min_over_time", &points, 10, &[]), Some(2.0));
        assert_eq!(at("max_over_time", &points, 10, &[]), Some(9.0));
        assert_eq!(at("quantile_over_time", &points, 10, &[0.5]), Some(4.5));
        assert_eq!(at("first_over_time", &points, 10, &[]), Some(2.0));
        assert_eq!(at("last_over_time", &points, 10, &[]), Some(9.0));
        assert_eq!(at("ts_of_max_over_time", &points, 10, &[]), Some(8.0));
        assert_eq!(at("changes", &points, 10, &[]), Some(4.0));
        assert_eq!(at("resets", &[(1, 3.0), (2, 1.0), (3, 2.0), (4, 0.0)], 10, &[]), Some(2.0));
        // Median 2, absolute deviations 1 1 0 0 2 4 7: median 1.
        let mad = [(1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0), (5, 4.0), (6, 6.0), (7, 9.0)];
        assert_eq!(at("mad_over_time", &mad, 10, &[]), Some(1.0));
        // Min and max skip NaN unless nothing else is there.
        assert_eq!(at("min_over_time", &[(1, f64::NAN), (2, 3.0)], 10, &[]), Some(3.0));
        assert!(at("max_over_time", &[(1, f64::NAN)], 10, &[]).unwrap().is_nan());
        // A compensated sum keeps the small term a naive one loses.
        assert_eq!(at("sum_over_time", &[(1, 1e100), (2, 1.0), (3, -1e100)], 10, &[]), Some(1.0));
    }

    #[test]
    fn smoothing_follows_a_line_exactly() {
        // Level and trend of 1, 2, 3 with both factors 0.5: s = 2 then 3.
        assert_eq!(at("double_exponential_smoothing", &[(1, 1.0), (2, 2.0), (3, 3.0)], 10, &[0.5, 0.5]), Some(3.0));
        assert_eq!(at("double_exponential_smoothing", &[(1, 1.0)], 10, &[0.5, 0.5]), None);
    }

    #[test]
    fn windows_with_mismatched_or_unordered_points_are_refused() {
        assert!(RangeWindow::new(&[1, 2], &[1.0], 10, 10, 10).is_none());
        assert!(RangeWindow::new(&[2, 1], &[1.0, 2.0], 10, 10, 10).is_none());
        assert!(RangeWindow::new(&[], &[], 10, 10, 10).is_some());
        assert!(range_function("rate_of_nothing").is_none());
    }
}
