//! `PromSubquery`: `expr[range:step]`, the inner expression evaluated at
//! its own steps (multiples of its step, as Prometheus aligns them) and
//! seen as a range vector. The inner plan is built for those steps; this
//! node turns its answer into raw points.

use std::fmt;

use promql_parser::parser::SubqueryExpr;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::{Range, RawSeries, Val, duration_ms, offset_ms};
use super::series_batch::Window;

/// The step of a subquery that names none: Prometheus's default evaluation
/// interval.
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// A subquery over its inner plan; see the module docs.
#[derive(Debug)]
pub(crate) struct Subquery {
    /// The inner steps; `None` when no step falls in any window (the
    /// subquery is empty and has no inner plan).
    pub inner: Option<Range>,
    pub window: Window,
}

impl Subquery {
    /// The subquery `sq` at the outer steps `steps`.
    pub fn new(ctx: &QueryContext, sq: &SubqueryExpr, steps: Range) -> Result<Subquery> {
        let range = duration_ms(sq.range);
        let step = sq.step.map_or(DEFAULT_SUBQUERY_STEP_MS, duration_ms);
        if step <= 0 {
            return Err(PromError::BadData("zero or negative subquery step".into()));
        }
        let offset = offset_ms(sq.offset.as_ref());
        let at = ctx.at_time(sq.at.as_ref());
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
        let inner = (start <= end).then_some(Range { start, end, step });
        Ok(Subquery { inner, window: Window { range, offset, at } })
    }
}

impl Operator for Subquery {
    fn name(&self) -> &'static str {
        "PromSubquery"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner {
            Some(inner) => write!(f, "inner_steps={inner}")?,
            None => f.write_str("inner_steps=none")?,
        }
        write!(f, ", range={}, offset={}", self.window.range, self.window.offset)?;
        if let Some(at) = self.window.at {
            write!(f, ", @={at}")?;
        }
        Ok(())
    }

    fn apply(&self, _ctx: &QueryContext, mut inputs: Vec<Val>) -> Result<Val> {
        let Window { range, offset, at } = self.window;
        let mut series = Vec::new();
        if let (Some(inner), Some(val)) = (self.inner, inputs.pop()) {
            series = match val {
                Val::Vector(vector) => vector
                    .into_iter()
                    .map(|s| {
                        let mut raw = RawSeries { labels: s.labels, drop_name: s.drop_name, ..RawSeries::default() };
                        for (i, v) in s.values.into_iter().enumerate() {
                            if let Some(v) = v {
                                raw.ts.push(inner.at(i));
                                raw.vs.push(v);
                            }
                        }
                        for (i, h) in s.hists.into_iter().enumerate() {
                            if let Some(h) = h {
                                raw.hts.push(inner.at(i));
                                raw.hs.push(h);
                            }
                        }
                        raw
                    })
                    .filter(|s| !s.ts.is_empty() || !s.hts.is_empty())
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
        Ok(Val::Matrix(super::series::Matrix { series, range, offset, at }))
    }
}
