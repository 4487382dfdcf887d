//! Functions of a range vector: for each series and step, a value computed
//! from the points in the step's window (`rate`, `increase`, `delta`,
//! `irate`, `idelta`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`, `resets`, `changes` and every
//! `*_over_time`). The arithmetic over a window is `chronicle-udfs`'s
//! ([`range_function`]); this node picks each step's window, checks the
//! parameters, raises Prometheus's annotations and names the series.

use std::fmt;

use chronicle_udfs::{RangeWindow, range_function};

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::range_histograms::{self, MixedWindow, Notes, Sample};
use super::series::{Matrix, Range, StepSeries, Val, merge_same_labels};
use super::series_batch::Window as MatrixWindow;
use super::value::format_value as format_float;

/// `PromRangeFunction`: a function of a range vector (`rate` and the
/// others of [`range_function`]) at each step, over its arguments (planned as its
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
    let f = range_function(name).ok_or_else(|| PromError::BadData(format!("function {name:?} is not supported")))?;
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
        // Only series with floats: histograms say they are counters.
        for s in matrix.series.iter().filter(|s| !s.vs.is_empty()) {
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
    let mut out = Vec::with_capacity(matrix.series.len());
    for s in &matrix.series {
        let notes = Notes { sink: ev, metric: s.labels.metric_name().unwrap_or_default(), at: &param_at };
        let (mut values, mut hists) = (Vec::with_capacity(steps.len()), Vec::new());
        for (i, t) in steps.times().enumerate() {
            let end = matrix.window_end(t);
            let (fw, hw) = (s.window(end - matrix.range, end), s.hist_window(end - matrix.range, end));
            for (slot, p) in args_at.iter_mut().zip(&params) {
                *slot = p[i];
            }
            let sample = if !hw.is_empty() {
                let w = MixedWindow {
                    ts: &s.ts[fw.clone()],
                    vs: &s.vs[fw],
                    hts: &s.hts[hw.clone()],
                    hs: &s.hs[hw],
                    end,
                    range: matrix.range,
                    eval_time: t,
                };
                range_histograms::eval(name, f, &w, &args_at, &notes)
            } else if fw.is_empty() {
                None
            } else {
                RangeWindow::new(&s.ts[fw.clone()], &s.vs[fw], end, matrix.range, t)
                    .and_then(|w| f(&w, &args_at))
                    .map(Sample::Float)
            };
            match sample {
                Some(Sample::Float(v)) => values.push(Some(v)),
                Some(Sample::Hist(h)) => {
                    hists.resize(i, None);
                    hists.push(Some(h));
                    values.push(None);
                }
                None => values.push(None),
            }
        }
        if !hists.is_empty() {
            hists.resize(values.len(), None);
        }
        let mut series = StepSeries::mixed(s.labels.clone(), values, hists);
        series.drop_name = s.drop_name || !keep_name;
        out.push(series);
    }
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

/// Whether the function keeps the metric name of its input.
pub(crate) fn keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}
