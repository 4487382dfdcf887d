//! The values PromQL operators compute on, in memory: the steps of an
//! evaluation ([`Range`]), instant vectors as series with a value per step
//! ([`StepSeries`]), range vectors as raw points with the window each step
//! sees ([`Matrix`]), and [`Val`], what a plan node produces. Between plan
//! nodes these travel as Arrow batches ([`super::series_batch`]).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::Offset;

use super::error::{PromError, Result};
use super::value::Labels;
use crate::model::histogram::FloatHistogram;

/// The steps of an evaluation, in milliseconds: `start`, `start + step`, ...
/// up to `end`; one step (`start == end`, `step == 0`) for an instant query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl fmt::Display for Range {
    /// `[start, end] step` in milliseconds; `@t` for one step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step == 0 {
            write!(f, "@{}", self.start)
        } else {
            write!(f, "[{}, {}] every {}", self.start, self.end, self.step)
        }
    }
}

impl Range {
    /// Number of steps.
    pub fn len(&self) -> usize {
        if self.step == 0 { 1 } else { usize::try_from((self.end - self.start) / self.step + 1).unwrap_or(0) }
    }

    /// The time of step `i`.
    pub fn at(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }

    /// The times of all steps.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }
}

/// One series of an instant vector: a value at each step where it has one.
///
/// A function or operator that computes new values marks the metric name
/// dropped instead of removing it (Prometheus's delayed name removal):
/// `label_replace` can still read it, grouping and matching do not see it,
/// and the answer leaves it out.
///
/// A step holds a float (`values`) or a native histogram (`hists`), not
/// both; `hists` is empty while the series has no histogram at any step.
#[derive(Clone, Debug)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
    pub hists: Vec<Option<FloatHistogram>>,
    pub drop_name: bool,
}

impl StepSeries {
    /// A series of floats with its metric name kept.
    pub fn new(labels: Labels, values: Vec<Option<f64>>) -> Self {
        StepSeries { labels, values, hists: Vec::new(), drop_name: false }
    }

    /// A series with a float or a histogram at each step, its metric name
    /// kept; `hists` is dropped when it holds no histogram.
    pub fn mixed(labels: Labels, values: Vec<Option<f64>>, hists: Vec<Option<FloatHistogram>>) -> Self {
        let hists = if hists.iter().any(Option::is_some) { hists } else { Vec::new() };
        StepSeries { labels, values, hists, drop_name: false }
    }

    /// The histogram at step `i`, if the step holds one.
    pub fn hist(&self, i: usize) -> Option<&FloatHistogram> {
        self.hists.get(i).and_then(Option::as_ref)
    }

    /// Whether some step holds a float or a histogram.
    pub fn has_samples(&self) -> bool {
        self.values.iter().any(Option::is_some) || self.hists.iter().any(Option::is_some)
    }

    /// This series with its metric name marked dropped.
    pub fn without_name(mut self) -> Self {
        self.drop_name = true;
        self
    }

    /// The labels as grouping and matching see them: without the metric
    /// name once it is marked dropped.
    pub fn visible_labels(&self) -> std::borrow::Cow<'_, Labels> {
        if self.drop_name && self.labels.metric_name().is_some() {
            std::borrow::Cow::Owned(self.labels.without_name())
        } else {
            std::borrow::Cow::Borrowed(&self.labels)
        }
    }
}

/// Raw points of one series, ascending by time (milliseconds): floats
/// (`ts`, `vs`) and native histograms (`hts`, `hs`), never two at one
/// time; a subquery's series keeps the mark of a dropped metric name.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
    pub hts: Vec<i64>,
    pub hs: Vec<FloatHistogram>,
    pub drop_name: bool,
}

impl RawSeries {
    /// The indexes of the float points in `(from, to]`.
    pub fn window(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        window_of(&self.ts, from, to)
    }

    /// The indexes of the histogram points in `(from, to]`.
    pub fn hist_window(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        window_of(&self.hts, from, to)
    }
}

/// The indexes of the ascending `times` in `(from, to]`.
fn window_of(times: &[i64], from: i64, to: i64) -> std::ops::Range<usize> {
    let lo = times.partition_point(|&t| t <= from);
    let hi = times.partition_point(|&t| t <= to);
    lo..hi.max(lo)
}

/// A range vector: raw series, and which window each step sees: the points
/// in `(t - range, t]` where `t` is the step's time (or the `@` time) minus
/// the offset.
#[derive(Clone, Debug)]
pub(crate) struct Matrix {
    pub series: Vec<RawSeries>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
}

impl Matrix {
    /// The end of the window of a step at `t` (the start is `end - range`).
    pub fn window_end(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }
}

/// What a node evaluates to.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// A number per step.
    Scalar(Vec<f64>),
    /// A string (the same at every step).
    String(String),
    /// An instant vector.
    Vector(Vec<StepSeries>),
    /// A range vector.
    Matrix(Matrix),
}

impl Val {
    /// Prometheus's name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::String(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// Milliseconds of a duration.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds of an offset (negative offsets look ahead).
pub(crate) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
    }
}

/// Milliseconds since the epoch of a time (negative before it).
pub(crate) fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}

/// The series with the metric names marked dropped removed: two series
/// that then have the same labels must not both have a value at one step.
pub(crate) fn remove_dropped_names(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    merge_same_labels(
        series.into_iter().map(|s| StepSeries::mixed(s.visible_labels().into_owned(), s.values, s.hists)).collect(),
    )
}

/// Merges series with equal labels (they come from different inputs that
/// lost what told them apart, e.g. the metric name); two values at one step
/// are Prometheus's "same labelset" error.
pub(crate) fn merge_same_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    for s in series {
        if !s.has_samples() {
            continue;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                let n = target.values.len();
                let taken = |t: &StepSeries, step: usize| t.values[step].is_some() || t.hist(step).is_some();
                for step in 0..n {
                    let (v, h) = (s.values.get(step).copied().flatten(), s.hist(step));
                    if v.is_none() && h.is_none() {
                        continue;
                    }
                    if taken(target, step) {
                        return Err(PromError::Execution(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    target.values[step] = v;
                    if let Some(h) = h {
                        target.hists.resize(n, None);
                        target.hists[step] = Some(h.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}
