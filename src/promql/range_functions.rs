//! Functions of a range vector: for each series and step, a value computed
//! from the points in the step's window (`rate`, `increase`, `delta`,
//! `irate`, `idelta`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`, `resets`, `changes` and every
//! `*_over_time`), with Prometheus's arithmetic (extrapolation of rates,
//! compensated sums, its regression).

use std::fmt;

use super::aggregate::{Mean, kahan_add, quantile};
use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::{Matrix, Range, StepSeries, Val, merge_same_labels};
use super::series_batch::Window as MatrixWindow;
use super::value::format_value as format_float;

/// `PromRangeFunction`: a function of a range vector (`rate` and the
/// others of [`lookup`]) at each step, over its arguments (planned as its
/// inputs, in order: the range vector and any scalar parameters).
#[derive(Debug)]
pub(crate) struct RangeFunction {
    pub name: &'static str,
    /// The first argument as the query wrote it, for the position of
    /// warnings about a parameter.
    pub first_arg: Option<String>,
    pub steps: Range,
    /// The window of its range vector (for `EXPLAIN`: the input carries it).
    pub window: MatrixWindow,
}

impl Operator for RangeFunction {
    fn name(&self) -> &'static str {
        "PromRangeFunction"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, steps={}, range={}, offset={}", self.name, self.steps, self.window.range, self.window.offset)?;
        if let Some(at) = self.window.at {
            write!(f, ", @={at}")?;
        }
        Ok(())
    }

    fn apply(&self, ctx: &QueryContext, inputs: Vec<Val>) -> Result<Val> {
        range_call(ctx, self, inputs)
    }
}

/// A function of a range vector: its window at each step, per series.
fn range_call(ev: &QueryContext, node: &RangeFunction, vals: Vec<Val>) -> Result<Val> {
    let (name, steps) = (node.name, node.steps);
    let f = lookup(name).ok_or_else(|| PromError::BadData(format!("function {name:?} is not supported")))?;
    let mut matrix: Option<Matrix> = None;
    let mut params: Vec<Vec<f64>> = Vec::new();
    for val in vals {
        match val {
            Val::Matrix(m) => matrix = Some(m),
            Val::Scalar(v) => params.push(v),
            other => {
                return Err(PromError::BadData(format!(
                    "expected type range vector in call to function {name:?}, got {}",
                    other.type_name()
                )));
            }
        }
    }
    let matrix = matrix.ok_or_else(|| PromError::BadData(format!("{name} needs a range vector")))?;
    let param_at = node.first_arg.as_deref().map(|a| ev.position(a)).unwrap_or_default();
    check_params(ev, name, &params, &param_at)?;
    if matches!(name, "rate" | "increase") {
        for s in &matrix.series {
            if let Some(metric) = s.labels.metric_name()
                && !["_total", "_sum", "_count", "_bucket"].iter().any(|suffix| metric.ends_with(suffix))
            {
                ev.info(format!(
                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                ));
            }
        }
    }
    let keep_name = keeps_name(name);
    let mut args_at = vec![0.0; params.len()];
    let out: Vec<StepSeries> = matrix
        .series
        .iter()
        .map(|s| {
            let values = steps
                .times()
                .enumerate()
                .map(|(i, t)| {
                    let end = matrix.window_end(t);
                    let w = s.window(end - matrix.range, end);
                    if w.is_empty() {
                        return None;
                    }
                    for (slot, p) in args_at.iter_mut().zip(&params) {
                        *slot = p[i];
                    }
                    let window = Window { ts: &s.ts[w.clone()], vs: &s.vs[w], end, range: matrix.range, eval_time: t };
                    f(&window, &args_at)
                })
                .collect();
            StepSeries { labels: s.labels.clone(), values, drop_name: s.drop_name || !keep_name }
        })
        .collect();
    merge_same_labels(out).map(Val::Vector)
}

/// Checks the scalar parameters of range functions that constrain them.
fn check_params(ev: &QueryContext, name: &str, params: &[Vec<f64>], param_at: &str) -> Result<()> {
    match name {
        "double_exponential_smoothing" => {
            for (which, what) in [(0, "smoothing"), (1, "trend")] {
                let short = if which == 0 { "sf" } else { "tf" };
                if let Some(bad) = params.get(which).and_then(|p| p.iter().find(|v| !(**v > 0.0 && **v < 1.0))) {
                    return Err(PromError::BadData(format!(
                        "invalid {what} factor. Expected: 0 < {short} < 1, got: {bad:.6}"
                    )));
                }
            }
        }
        "quantile_over_time" => {
            if let Some(bad) = params.first().and_then(|p| p.iter().find(|q| !(0.0..=1.0).contains(*q))) {
                ev.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}{param_at}",
                    format_float(*bad)
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// One step's window of one series.
pub(crate) struct Window<'a> {
    /// Times of the points, milliseconds, ascending.
    pub ts: &'a [i64],
    /// Values of the points.
    pub vs: &'a [f64],
    /// The window is `(end - range, end]`.
    pub end: i64,
    /// Its width in milliseconds.
    pub range: i64,
    /// The time of the step (`predict_linear` predicts from it, even
    /// when `@` fixes the window).
    pub eval_time: i64,
}

/// A function of one window and the step's scalar arguments.
pub(crate) type WindowFn = fn(&Window<'_>, &[f64]) -> Option<f64>;

/// The function of a window named `name`, if it is one.
pub(crate) fn lookup(name: &str) -> Option<WindowFn> {
    Some(match name {
        "rate" => |w, _| extrapolated(w, true, true),
        "increase" => |w, _| extrapolated(w, true, false),
        "delta" => |w, _| extrapolated(w, false, false),
        "irate" => |w, _| instant_delta(w, true),
        "idelta" => |w, _| instant_delta(w, false),
        "deriv" => |w, _| (w.vs.len() >= 2).then(|| regression(w, w.ts[0]).0),
        "predict_linear" => |w, a| {
            (w.vs.len() >= 2).then(|| {
                let (slope, intercept) = regression(w, w.eval_time);
                slope * a[0] + intercept
            })
        },
        "double_exponential_smoothing" => |w, a| smoothing(w.vs, a[0], a[1]),
        "resets" => |w, _| {
            let mut n = 0.0;
            for p in w.vs.windows(2) {
                if p[1] < p[0] {
                    n += 1.0;
                }
            }
            (!w.vs.is_empty()).then_some(n)
        },
        "changes" => |w, _| {
            let mut n = 0.0;
            for p in w.vs.windows(2) {
                if !(p[1] == p[0] || (p[1].is_nan() && p[0].is_nan())) {
                    n += 1.0;
                }
            }
            (!w.vs.is_empty()).then_some(n)
        },
        "avg_over_time" => |w, _| {
            let mut mean = Mean::default();
            w.vs.iter().for_each(|&v| mean.add(v));
            (!w.vs.is_empty()).then(|| mean.result())
        },
        "sum_over_time" => |w, _| {
            let (s, c) = w.vs.iter().fold((0.0, 0.0), |(s, c), &v| kahan_add(v, s, c));
            (!w.vs.is_empty()).then_some(s + c)
        },
        "count_over_time" => |w, _| (!w.vs.is_empty()).then_some(w.vs.len() as f64),
        "min_over_time" => |w, _| extreme(w.vs, |cur, best| cur < best),
        "max_over_time" => |w, _| extreme(w.vs, |cur, best| cur > best),
        "stddev_over_time" => |w, _| variance(w.vs).map(f64::sqrt),
        "stdvar_over_time" => |w, _| variance(w.vs),
        "quantile_over_time" => |w, a| (!w.vs.is_empty()).then(|| quantile(a[0], &mut w.vs.to_vec())),
        "mad_over_time" => |w, _| {
            (!w.vs.is_empty()).then(|| {
                if w.vs.iter().any(|v| v.is_nan()) {
                    return f64::NAN;
                }
                let median = quantile(0.5, &mut w.vs.to_vec());
                let mut deviations: Vec<f64> = w.vs.iter().map(|v| (v - median).abs()).collect();
                quantile(0.5, &mut deviations)
            })
        },
        "last_over_time" => |w, _| w.vs.last().copied(),
        "first_over_time" => |w, _| w.vs.first().copied(),
        "ts_of_last_over_time" => |w, _| w.ts.last().map(|&t| t as f64 / 1000.0),
        "ts_of_first_over_time" => |w, _| w.ts.first().map(|&t| t as f64 / 1000.0),
        "ts_of_max_over_time" => |w, _| extreme_time(w, |cur, best| cur >= best),
        "ts_of_min_over_time" => |w, _| extreme_time(w, |cur, best| cur <= best),
        "present_over_time" => |w, _| (!w.vs.is_empty()).then_some(1.0),
        _ => return None,
    })
}

/// Whether the function keeps the metric name of its input.
pub(crate) fn keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

/// `rate`, `increase` (counters: resets add the value before them) and
/// `delta`: the change over the points, extrapolated to the window's edges
/// where the points come close to them, never below zero for counters.
fn extrapolated(w: &Window<'_>, counter: bool, per_second: bool) -> Option<f64> {
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
    let range_start = w.end - w.range;
    let (first_t, last_t) = (w.ts[0], w.ts[n - 1]);
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average = sampled / (n - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    if counter {
        let mut to_zero = to_start;
        if result > 0.0 && w.vs[0] >= 0.0 {
            to_zero = sampled * (w.vs[0] / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= w.range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` / `idelta`: from the last two points.
fn instant_delta(w: &Window<'_>, per_second: bool) -> Option<f64> {
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
fn regression(w: &Window<'_>, intercept_time: i64) -> (f64, f64) {
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
fn extreme_time(w: &Window<'_>, better: fn(f64, f64) -> bool) -> Option<f64> {
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
