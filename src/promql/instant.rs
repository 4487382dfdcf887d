//! `PromInstant`: an instant selector's value at each step, from the raw
//! series its scan read: the latest point (float or native histogram) in
//! `(t - lookback, t]`, where `t` is the step's time (or the `@` time)
//! minus the offset, and none when that point is a staleness marker. For `timestamp(selector)` the node
//! gives that point's time instead of its value.

use std::fmt;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::selector::is_stale;
use super::series::{Range, RawSeries, StepSeries, Val, merge_same_labels};
use crate::model::histogram::FloatHistogram;

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
        let out: Vec<StepSeries> = m.series.iter().filter_map(|s| self.pick(s)).collect();
        if self.timestamps {
            merge_same_labels(out.into_iter().map(StepSeries::without_name).collect()).map(Val::Vector)
        } else {
            Ok(Val::Vector(out))
        }
    }
}

/// The point a step picks.
enum Picked {
    Float(usize),
    Histogram(usize),
}

impl Instant {
    /// The series' value at each step (its point's time with
    /// `timestamps`); `None` when no step has one.
    fn pick(&self, s: &RawSeries) -> Option<StepSeries> {
        let n = self.steps.len();
        let mut values: Vec<Option<f64>> = vec![None; n];
        let mut hists: Vec<Option<FloatHistogram>> = Vec::new();
        for (i, t) in self.steps.times().enumerate() {
            let t = self.at.unwrap_or(t) - self.offset;
            let picked = match (s.ts.partition_point(|&x| x <= t), s.hts.partition_point(|&x| x <= t)) {
                (0, 0) => continue,
                (f, 0) => Picked::Float(f - 1),
                (0, h) => Picked::Histogram(h - 1),
                (f, h) if s.ts[f - 1] > s.hts[h - 1] => Picked::Float(f - 1),
                (_, h) => Picked::Histogram(h - 1),
            };
            match picked {
                Picked::Float(j) if s.ts[j] > t - self.lookback && !is_stale(s.vs[j]) => {
                    values[i] = Some(if self.timestamps { s.ts[j] as f64 / 1000.0 } else { s.vs[j] });
                }
                Picked::Histogram(j) if s.hts[j] > t - self.lookback => {
                    if self.timestamps {
                        values[i] = Some(s.hts[j] as f64 / 1000.0);
                    } else {
                        hists.resize(n, None);
                        hists[i] = Some(s.hs[j].clone());
                    }
                }
                _ => {}
            }
        }
        let out = StepSeries::mixed(s.labels.clone(), values, hists);
        out.has_samples().then_some(out)
    }
}
