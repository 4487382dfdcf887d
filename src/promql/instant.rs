//! `PromInstant`: an instant selector's value at each step, from the raw
//! series its scan read: the latest point in `(t - lookback, t]`, where `t`
//! is the step's time (or the `@` time) minus the offset, and none when
//! that point is a staleness marker. For `timestamp(selector)` the node
//! gives that point's time instead of its value.

use std::fmt;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::selector::is_stale;
use super::series::{Range, RawSeries, StepSeries, Val, merge_same_labels};

/// An instant selector over its scan; see the module docs.
#[derive(Debug)]
pub(crate) struct Instant {
    pub steps: Range,
    pub at: Option<i64>,
    pub offset: i64,
    pub lookback: i64,
    /// Each point's time (seconds) instead of its value, the metric name
    /// dropped (`timestamp()`).
    pub timestamps: bool,
}

impl Operator for Instant {
    fn name(&self) -> &'static str {
        "PromInstant"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "steps={}, lookback={}, offset={}", self.steps, self.lookback, self.offset)?;
        if let Some(at) = self.at {
            write!(f, ", @={at}")?;
        }
        if self.timestamps {
            f.write_str(", timestamps")?;
        }
        Ok(())
    }

    fn apply(&self, _ctx: &QueryContext, mut inputs: Vec<Val>) -> Result<Val> {
        let Some(Val::Matrix(m)) = inputs.pop() else {
            return Err(PromError::Execution("PromInstant reads the series of a scan".into()));
        };
        let Instant { steps, at, offset, lookback, timestamps } = *self;
        if timestamps {
            let out = pick(&m.series, steps, at, offset, lookback, |s, i| s.ts[i] as f64 / 1000.0);
            merge_same_labels(out.into_iter().map(StepSeries::without_name).collect()).map(Val::Vector)
        } else {
            Ok(Val::Vector(pick(&m.series, steps, at, offset, lookback, |s, i| s.vs[i])))
        }
    }
}

/// What `value` says of the point each step of an instant selector picks.
fn pick(
    series: &[RawSeries],
    steps: Range,
    at: Option<i64>,
    offset: i64,
    lookback: i64,
    value: impl Fn(&RawSeries, usize) -> f64,
) -> Vec<StepSeries> {
    series
        .iter()
        .filter_map(|s| {
            let values: Vec<Option<f64>> = steps
                .times()
                .map(|t| {
                    let t = at.unwrap_or(t) - offset;
                    let end = s.ts.partition_point(|&x| x <= t);
                    (end > 0 && s.ts[end - 1] > t - lookback && !is_stale(s.vs[end - 1])).then(|| value(s, end - 1))
                })
                .collect();
            values.iter().any(Option::is_some).then(|| StepSeries::new(s.labels.clone(), values))
        })
        .collect()
}
