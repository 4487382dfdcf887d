//! The evaluator: walks the parsed expression and evaluates every node over
//! all the steps of the query at once, series by series.
//!
//! An instant vector is a list of series, each with an optional value per
//! step ([`StepSeries`]); a range vector keeps the raw points of each series
//! and the window each step sees ([`Matrix`]). A selector reads its series
//! once for the whole query (the window of the first step to that of the
//! last), so the cost does not grow with the number of steps beyond the
//! per-step arithmetic.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{self, AtModifier, Expr, Offset, SubqueryExpr};

use super::error::{PromError, Result};
use super::options::PromOptions;
use super::value::{Labels, PromValue, QueryResult, Sample, Series};
use super::{aggregate, binary, functions, guard, selector};
use crate::db::Db;

/// The steps of an evaluation, in milliseconds: `start`, `start + step`, ...
/// up to `end`; one step (`start == end`, `step == 0`) for an instant query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: i64,
    pub end: i64,
    pub step: i64,
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
#[derive(Clone, Debug)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
    pub drop_name: bool,
}

impl StepSeries {
    /// A series with its metric name kept.
    pub fn new(labels: Labels, values: Vec<Option<f64>>) -> Self {
        StepSeries { labels, values, drop_name: false }
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

/// Raw points of one series, ascending by time (milliseconds); a
/// subquery's series keeps the mark of a dropped metric name.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
    pub drop_name: bool,
}

impl RawSeries {
    /// The indexes of the points in `(from, to]`.
    pub fn window(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let lo = self.ts.partition_point(|&t| t <= from);
        let hi = self.ts.partition_point(|&t| t <= to);
        lo..hi.max(lo)
    }
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

/// The evaluation of one query: the database, the settings, the query's own
/// range (which `start()` and `end()` refer to), and what the query has
/// gathered so far (annotations, samples held, the deadline).
pub(crate) struct Evaluator<'a> {
    pub db: &'a Db,
    /// The query text, for positions in annotations.
    pub text: &'a str,
    pub options: &'a PromOptions,
    pub query: Range,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    samples: usize,
    deadline: Instant,
}

impl Evaluator<'_> {
    /// Evaluates `expr` at the steps of `steps`.
    pub fn eval(&mut self, expr: &Expr, steps: Range) -> Result<Val> {
        self.check_deadline()?;
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; steps.len()])),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, steps),
            Expr::Unary(u) => match self.eval(&u.expr, steps)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(series) => Ok(Val::Vector(
                    series
                        .into_iter()
                        .map(|s| {
                            let values = s.values.iter().map(|v| v.map(|x| -x)).collect();
                            StepSeries { values, ..s }.without_name()
                        })
                        .collect(),
                )),
                other => Err(PromError::BadData(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => {
                let series = selector::read(self, vs, steps, self.options.lookback_delta_ms)?;
                let at = self.at_time(vs.at.as_ref());
                let offset = offset_ms(vs.offset.as_ref());
                Ok(Val::Vector(selector::instant(&series, steps, at, offset, self.options.lookback_delta_ms)))
            }
            Expr::MatrixSelector(ms) => {
                let range = duration_ms(ms.range);
                let series = selector::read(self, &ms.vs, steps, range)?;
                let series = series.into_iter().map(selector::without_stale).collect();
                Ok(Val::Matrix(Matrix {
                    series,
                    range,
                    offset: offset_ms(ms.vs.offset.as_ref()),
                    at: self.at_time(ms.vs.at.as_ref()),
                }))
            }
            Expr::Subquery(sq) => self.subquery(sq, steps),
            Expr::Aggregate(agg) => aggregate::eval(self, agg, steps),
            Expr::Binary(bin) => binary::eval(self, bin, steps),
            Expr::Call(call) => functions::call(self, call, steps),
            Expr::Extension(_) => Err(PromError::BadData("extension expressions are not supported".into())),
        }
    }

    /// A subquery: the inner expression evaluated at its own steps (aligned
    /// to multiples of its step, as Prometheus aligns them), as a matrix.
    fn subquery(&mut self, sq: &SubqueryExpr, steps: Range) -> Result<Val> {
        let range = duration_ms(sq.range);
        let step = sq.step.map_or(DEFAULT_SUBQUERY_STEP_MS, duration_ms);
        if step <= 0 {
            return Err(PromError::BadData("zero or negative subquery step".into()));
        }
        let offset = offset_ms(sq.offset.as_ref());
        let at = self.at_time(sq.at.as_ref());
        let (first, last) = match at {
            Some(t) => (t, t),
            None => (steps.start, steps.at(steps.len().saturating_sub(1))),
        };
        let lowest = first - offset - range;
        let mut start = step * (lowest / step);
        if start <= lowest {
            start += step;
        }
        let end = last - offset;
        let mut series = Vec::new();
        if start <= end {
            let inner = Range { start, end, step };
            let val = self.eval(&sq.expr, inner)?;
            series = match val {
                Val::Vector(vector) => vector
                    .into_iter()
                    .map(|s| {
                        let mut raw =
                            RawSeries { labels: s.labels, ts: Vec::new(), vs: Vec::new(), drop_name: s.drop_name };
                        for (i, v) in s.values.into_iter().enumerate() {
                            if let Some(v) = v {
                                raw.ts.push(inner.at(i));
                                raw.vs.push(v);
                            }
                        }
                        raw
                    })
                    .filter(|s| !s.ts.is_empty())
                    .collect(),
                Val::Scalar(values) => {
                    vec![RawSeries { ts: inner.times().collect(), vs: values, ..RawSeries::default() }]
                }
                other => {
                    return Err(PromError::BadData(format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        other.type_name()
                    )));
                }
            };
        }
        Ok(Val::Matrix(Matrix { series, range, offset, at }))
    }

    /// The fixed evaluation time an `@` modifier sets, if any.
    pub fn at_time(&self, at: Option<&AtModifier>) -> Option<i64> {
        at.map(|at| match at {
            AtModifier::Start => self.query.start,
            AtModifier::End => self.query.end,
            AtModifier::At(t) => system_time_ms(*t),
        })
    }

    /// Counts `n` more samples held; refuses past the limit.
    pub fn hold(&mut self, n: usize) -> Result<()> {
        self.samples += n;
        if self.samples > self.options.max_samples {
            return Err(PromError::Limit(
                "query processing would load too many samples into memory in query execution".into(),
            ));
        }
        Ok(())
    }

    fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.deadline { Err(PromError::Timeout("expression evaluation")) } else { Ok(()) }
    }

    /// Where `needle` first appears in the query, as Prometheus suffixes
    /// annotations: ` (line:column)`, both from 1; empty if it does not.
    pub fn position(&self, needle: &str) -> String {
        let Some(at) = self.text.find(needle) else { return String::new() };
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(" ({line}:{column})")
    }

    /// Records a warning once.
    pub fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// Records an info once.
    pub fn info(&mut self, message: String) {
        if !self.infos.contains(&message) {
            self.infos.push(message);
        }
    }
}

/// The step of a subquery that names none: Prometheus's default evaluation
/// interval.
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

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
fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}

/// Parses and evaluates `text` over `range`.
pub(crate) fn evaluate(db: &Db, text: &str, range: Range, instant: bool, options: &PromOptions) -> Result<QueryResult> {
    guard::check(text, options)?;
    let expr = parser::parse(text).map_err(PromError::BadData)?;
    let mut ev = Evaluator {
        db,
        text,
        options,
        query: range,
        warnings: Vec::new(),
        infos: Vec::new(),
        samples: 0,
        deadline: Instant::now() + options.timeout,
    };
    let val = match ev.eval(&expr, range)? {
        Val::Vector(series) => Val::Vector(remove_dropped_names(series)?),
        other => other,
    };
    let value = if instant { instant_value(val, range.start) } else { range_value(val, range)? };
    Ok(QueryResult { value, warnings: ev.warnings, infos: ev.infos })
}

/// The answer of an instant query.
fn instant_value(val: Val, t: i64) -> PromValue {
    match val {
        Val::Scalar(v) => PromValue::Scalar { t, v: v.first().copied().unwrap_or(f64::NAN) },
        Val::String(s) => PromValue::String { t, s },
        Val::Vector(series) => PromValue::Vector(
            series
                .into_iter()
                .filter_map(|s| s.values.first().copied().flatten().map(|v| Sample { labels: s.labels, t, v }))
                .collect(),
        ),
        Val::Matrix(m) => {
            let end = m.window_end(t);
            PromValue::Matrix(
                m.series
                    .into_iter()
                    .filter_map(|s| {
                        let w = s.window(end - m.range, end);
                        let points: Vec<(i64, f64)> = w.map(|i| (s.ts[i], s.vs[i])).collect();
                        let labels = if s.drop_name { s.labels.without_name() } else { s.labels };
                        (!points.is_empty()).then_some(Series { labels, points })
                    })
                    .collect(),
            )
        }
    }
}

/// The answer of a range query: a matrix, series sorted by labels.
fn range_value(val: Val, range: Range) -> Result<PromValue> {
    let mut out: Vec<Series> = match val {
        Val::Scalar(v) => {
            vec![Series { labels: Labels::default(), points: range.times().zip(v).collect() }]
        }
        Val::Vector(series) => series
            .into_iter()
            .filter_map(|s| {
                let points: Vec<(i64, f64)> =
                    s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (range.at(i), v))).collect();
                (!points.is_empty()).then_some(Series { labels: s.labels, points })
            })
            .collect(),
        other => {
            return Err(PromError::BadData(format!(
                "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                other.type_name()
            )));
        }
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(PromValue::Matrix(out))
}

/// The series with the metric names marked dropped removed: two series
/// that then have the same labels must not both have a value at one step.
fn remove_dropped_names(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    merge_same_labels(series.into_iter().map(|s| StepSeries::new(s.visible_labels().into_owned(), s.values)).collect())
}

/// Merges series with equal labels (they come from different inputs that
/// lost what told them apart, e.g. the metric name); two values at one step
/// are Prometheus's "same labelset" error.
pub(crate) fn merge_same_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    for s in series {
        if !s.values.iter().any(Option::is_some) {
            continue;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                for (slot, v) in target.values.iter_mut().zip(s.values) {
                    if let Some(v) = v {
                        if slot.is_some() {
                            return Err(PromError::Execution(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *slot = Some(v);
                    }
                }
            }
        }
    }
    Ok(out)
}
