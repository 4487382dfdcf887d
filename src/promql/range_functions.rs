//! Functions of a range vector: for each series and step, a value computed
//! from the points in the step's window (`rate`, `increase`, `delta`,
//! `irate`, `idelta`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`, `resets`, `changes` and every
//! `*_over_time`). The floats come from `chronicle-udfs`'s scalar function
//! of the same name ([`PromRangeUdf`], `prom_rate`, ...), called once over
//! the `timestamps` and `values` columns of the whole range vector; steps
//! whose window holds native histograms are this node's
//! ([`range_histograms`]). It also checks the parameters, raises
//! Prometheus's annotations and names the series.

use std::fmt;
use std::sync::Arc;

use chronicle_udfs::{PromRangeUdf, range_function};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, ScalarUDFImpl};

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::range_histograms::{self, MixedWindow, Notes, Sample};
use super::series::{Matrix, Range, StepSeries, Val, merge_same_labels};
use super::series_batch::{self, Kind, Window as MatrixWindow};
use super::value::format_value as format_float;

/// `PromRangeFunction`: a function of a range vector (`rate` and the
/// others of [`range_function`]) at each step, over its arguments (planned as its
/// inputs, in order: the range vector and any scalar parameters).
#[derive(Debug)]
pub(crate) struct RangeFunction {
    pub name: &'static str,
    /// The scalar function that computes its floats (`prom_rate`).
    pub udf: PromRangeUdf,
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
        let (name, steps, window) = (self.udf.name(), self.steps, self.window);
        write!(f, "{name}, steps={steps}, range={}, offset={}", window.range, window.offset)?;
        if let Some(at) = window.at {
            write!(f, ", @={at}")?;
        }
        Ok(())
    }

    /// From decoded values: the points are copied back into Arrow lists.
    fn apply(&self, ctx: &QueryContext, inputs: Vec<Val>) -> Result<Val> {
        range_call(ctx, self, inputs, None)
    }

    /// The range vector's own point columns go to the scalar function.
    fn apply_batches(&self, ctx: &QueryContext, inputs: Vec<(Kind, Vec<RecordBatch>)>) -> Result<Val> {
        let mut points = None;
        let mut vals = Vec::with_capacity(inputs.len());
        for (kind, batches) in &inputs {
            if matches!(kind, Kind::Matrix(_)) {
                points = Some(series_batch::point_columns(batches)?);
            }
            vals.push(series_batch::decode(batches, *kind)?);
        }
        range_call(ctx, self, vals, points)
    }
}

/// A function of a range vector: its window at each step, per series;
/// `points` are the matrix's point columns, if the caller has them.
fn range_call(ev: &QueryContext, node: &RangeFunction, vals: Vec<Val>, points: Option<[ArrayRef; 2]>) -> Result<Val> {
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
    let points = points.unwrap_or_else(|| series_batch::matrix_point_columns(&matrix));
    let floats = float_results(node, &matrix, &params, points)?;
    let items = floats.values().as_primitive_opt::<Float64Type>();
    let (Some(items), true) = (items, floats.len() == matrix.series.len()) else {
        return Err(PromError::Execution(format!("{} gave no list of floats per series", node.udf.name())));
    };
    let keep_name = keeps_name(name);
    let mut args_at = vec![0.0; params.len()];
    let mut out = Vec::with_capacity(matrix.series.len());
    for (row, s) in matrix.series.iter().enumerate() {
        let offset = |k: usize| usize::try_from(floats.value_offsets()[k]).unwrap_or_default();
        let (start, end) = (offset(row), offset(row + 1));
        if end - start != steps.len() {
            return Err(PromError::Execution(format!("{} gave no value per step", node.udf.name())));
        }
        let mut values: Vec<Option<f64>> = (start..end).map(|k| items.is_valid(k).then(|| items.value(k))).collect();
        let mut hists = Vec::new();
        if !s.hts.is_empty() {
            let notes = Notes { sink: ev, metric: s.labels.metric_name().unwrap_or_default(), at: &param_at };
            for (i, t) in steps.times().enumerate() {
                let end = matrix.window_end(t);
                let hw = s.hist_window(end - matrix.range, end);
                if hw.is_empty() {
                    continue;
                }
                let fw = s.window(end - matrix.range, end);
                for (slot, p) in args_at.iter_mut().zip(&params) {
                    *slot = p[i];
                }
                let w = MixedWindow {
                    ts: &s.ts[fw.clone()],
                    vs: &s.vs[fw],
                    hts: &s.hts[hw.clone()],
                    hs: &s.hs[hw],
                    end,
                    range: matrix.range,
                    eval_time: t,
                };
                values[i] = match range_histograms::eval(name, f, &w, &args_at, &notes) {
                    Some(Sample::Float(v)) => Some(v),
                    Some(Sample::Hist(h)) => {
                        hists.resize(values.len(), None);
                        hists[i] = Some(h);
                        None
                    }
                    None => None,
                };
            }
        }
        let mut series = StepSeries::mixed(s.labels.clone(), values, hists);
        series.drop_name = s.drop_name || !keep_name;
        out.push(series);
    }
    merge_same_labels(out).map(Val::Vector)
}

/// The float results of every series at every step, from one call of the
/// node's scalar function over the matrix's point columns `points`.
fn float_results(
    node: &RangeFunction,
    matrix: &Matrix,
    params: &[Vec<f64>],
    points: [ArrayRef; 2],
) -> Result<ListArray> {
    let list = |array: ListArray| ColumnarValue::Scalar(ScalarValue::List(Arc::new(array)));
    let steps = ListArray::from_iter_primitive::<Int64Type, _, _>([Some(node.steps.times().map(Some))]);
    let [ts, vs] = points;
    let mut args = vec![
        ColumnarValue::Array(ts),
        ColumnarValue::Array(vs),
        list(steps),
        ColumnarValue::Scalar(ScalarValue::Int64(Some(matrix.range))),
        ColumnarValue::Scalar(ScalarValue::Int64(Some(matrix.offset))),
        ColumnarValue::Scalar(ScalarValue::Int64(matrix.at)),
    ];
    for p in params {
        args.push(list(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(p.iter().map(|&v| Some(v)))])));
    }
    Ok(node.udf.evaluate(&args, matrix.series.len())?)
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
