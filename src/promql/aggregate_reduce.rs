//! The aggregations that reduce each group to one sample per step (`sum`,
//! `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`, `quantile`):
//! floats by the `prom_*` aggregate's `GroupsAccumulator`
//! ([`PromAggregation`]), native histograms by [`HistSum`].
//!
//! The floats of one aggregation go through ONE `update_batch`: slot
//! `group * steps + step`, a row per series per step (NULL where the
//! series has no float), so each slot takes its values in series order,
//! as Prometheus adds them, and no slot owns an allocation. `count` and
//! `group` take a histogram sample as a row too (its value unused).
//!
//! `sum` and `avg` add histograms; a slot holding floats and histograms
//! has no result (a warning). The other aggregations ignore histograms
//! (an info). Annotations come in Prometheus's order: those of adding
//! histograms series by series, then those of the results group by group.

use std::sync::Arc;

use chronicle_udfs::PromAggregation;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Float64Builder};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::logical_expr::EmitTo;
use promql_parser::parser::token::{T_AVG, T_COUNT, T_GROUP, T_SUM};

use super::aggregate::{Aggregate, Group, ignored_histogram};
use super::context::QueryContext;
use super::error::Result;
use super::series::StepSeries;
use crate::model::histogram::{CounterResetHint, FloatHistogram, HistogramError};

/// The answer of `udaf` for every group (`of_series` gives each input
/// series' group) at every step; `q` is `quantile`'s parameter per step.
pub(super) fn reduce(
    ev: &QueryContext,
    agg: &Aggregate,
    udaf: PromAggregation,
    q: Option<&[f64]>,
    (input, groups, of_series): (&[StepSeries], Vec<Group>, &[usize]),
) -> Result<Vec<StepSeries>> {
    let op = agg.op.id();
    let n = agg.steps.len();
    let at = ev.position(&agg.expr);
    let counts_hists = matches!(op, T_COUNT | T_GROUP);
    let adds_hists = matches!(op, T_SUM | T_AVG) && input.iter().any(|s| s.hists.iter().any(Option::is_some));
    // Per slot, with histograms to add: their sum, and whether a float
    // came before (then the slot has no result and they are not added).
    let mut hists: Vec<HistSum> = if adds_hists { vec![HistSum::default(); groups.len() * n] } else { Vec::new() };
    let mut floats_first = vec![false; hists.len()];
    let mut values = Float64Builder::with_capacity(input.len() * n);
    let mut slots = Vec::with_capacity(input.len() * n);
    for (s, &g) in input.iter().zip(of_series) {
        for i in 0..n {
            let slot = g * n + i;
            slots.push(slot);
            match (s.values.get(i).copied().flatten(), s.hist(i)) {
                (Some(v), _) => {
                    values.append_value(v);
                    if adds_hists {
                        floats_first[slot] = true;
                    }
                }
                (None, Some(_)) if counts_hists => values.append_value(1.0),
                (None, Some(h)) if adds_hists => {
                    values.append_null();
                    match hists[slot].add(h, floats_first[slot]) {
                        HistAdded::Taken => {}
                        HistAdded::Reconciled => ev.info(format!(
                            "PromQL info: mismatched custom buckets were reconciled during aggregation{at}"
                        )),
                        HistAdded::Incompatible => ev.warn(format!(
                            "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}{at}",
                            s.labels.metric_name().unwrap_or_default()
                        )),
                    }
                }
                (None, Some(_)) => {
                    values.append_null();
                    ignored_histogram(ev, agg, &agg.expr);
                }
                (None, None) => values.append_null(),
            }
        }
    }
    let values: ArrayRef = Arc::new(values.finish());
    let args = match q {
        Some(q) => vec![Arc::new(input.iter().flat_map(|_| q.iter().copied()).collect::<Float64Array>()), values],
        None => vec![values],
    };
    let mut acc = udaf.groups_accumulator();
    acc.update_batch(&args, &slots, None, groups.len() * n)?;
    let results = acc.evaluate(EmitTo::All)?;
    let results = results.as_primitive::<Float64Type>();
    let out = groups.into_iter().enumerate().filter_map(|(g, group)| {
        let mut values = vec![None; n];
        let mut group_hists = vec![None; n];
        for i in 0..n {
            let slot = g * n + i;
            let float = results.is_valid(slot).then(|| results.value(slot));
            let Some(sum) = hists.get(slot).filter(|h| h.count > 0.0) else {
                values[i] = float;
                continue;
            };
            if float.is_some() {
                ev.warn(format!("PromQL warning: encountered a mix of histograms and floats for aggregation{at}"));
            } else if let Some(h) = sum.result(op == T_AVG) {
                if sum.reset && sum.not_reset {
                    ev.warn(format!("PromQL warning: conflicting counter resets during histogram aggregation{at}"));
                }
                group_hists[i] = Some(h);
            }
        }
        let s = StepSeries { drop_name: group.drop_name, ..StepSeries::mixed(group.labels, values, group_hists) };
        s.has_samples().then_some(s)
    });
    Ok(out.collect())
}

/// The histograms `sum` and `avg` add in one group at one step.
#[derive(Clone, Debug, Default)]
struct HistSum {
    /// The sum so far; `None` before the first histogram, and for good
    /// once a float came first (the slot then has no result).
    sum: Option<FloatHistogram>,
    count: f64,
    /// Exponential and custom buckets met: the slot has no result.
    incompatible: bool,
    /// Some histogram said "counter reset".
    reset: bool,
    /// Some histogram said "not a counter reset".
    not_reset: bool,
}

/// What became of a histogram given to `sum` or `avg`.
#[derive(Debug, PartialEq, Eq)]
enum HistAdded {
    /// Added (or counted, where the slot has no result anyway).
    Taken,
    /// Added, keeping only the custom bucket bounds both sides share.
    Reconciled,
    /// Exponential and custom buckets cannot be added.
    Incompatible,
}

impl HistSum {
    /// Takes a histogram; `after_float` when the slot already took a float.
    fn add(&mut self, h: &FloatHistogram, after_float: bool) -> HistAdded {
        self.count += 1.0;
        self.reset |= h.counter_reset_hint == CounterResetHint::CounterReset;
        self.not_reset |= h.counter_reset_hint == CounterResetHint::NotCounterReset;
        if self.incompatible {
            return HistAdded::Taken;
        }
        match (&mut self.sum, after_float) {
            (Some(sum), _) => match sum.add(h) {
                Ok(added) if added.custom_bounds_reconciled => HistAdded::Reconciled,
                Ok(_) => HistAdded::Taken,
                Err(HistogramError::MixedSchemas) => {
                    self.incompatible = true;
                    HistAdded::Incompatible
                }
                Err(_) => {
                    self.incompatible = true;
                    HistAdded::Taken
                }
            },
            (None, false) => {
                self.sum = Some(h.clone());
                HistAdded::Taken
            }
            // A float came first: the slot has no result anyway.
            (None, true) => HistAdded::Taken,
        }
    }

    /// The sum, or the mean (`avg`); `None` when the histograms could not
    /// be added.
    fn result(&self, avg: bool) -> Option<FloatHistogram> {
        let mut h = self.sum.as_ref().filter(|_| !self.incompatible)?.clone();
        if avg {
            h.div(self.count);
        }
        h.compact(0).ok().map(|()| h)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn hist(notation: &str) -> FloatHistogram {
        notation.parse().unwrap()
    }

    #[test]
    fn sum_and_avg_add_histograms() {
        let a = hist("{{schema:0 count:3 sum:5 buckets:[1 2]}}");
        let b = hist("{{schema:0 count:5 sum:7 buckets:[2 3]}}");
        for (avg, expected) in [
            (false, "{{schema:0 count:8 sum:12 buckets:[3 5]}}"),
            (true, "{{schema:0 count:4 sum:6 buckets:[1.5 2.5]}}"),
        ] {
            let mut sum = HistSum::default();
            assert_eq!(sum.add(&a, false), HistAdded::Taken);
            assert_eq!(sum.add(&b, false), HistAdded::Taken);
            let h = sum.result(avg).unwrap();
            assert!(hist(expected).matches_expected(&h, |x, y| x == y, false), "{avg}: {h}");
        }
    }

    #[test]
    fn histograms_after_a_float_are_only_counted() {
        let mut sum = HistSum::default();
        assert_eq!(sum.add(&hist("{{count:1 sum:1 buckets:[1]}}"), true), HistAdded::Taken);
        assert_eq!(sum.count, 1.0);
        assert!(sum.result(false).is_none());
    }

    #[test]
    fn exponential_and_custom_buckets_leave_no_sum() {
        let mut sum = HistSum::default();
        sum.add(&hist("{{count:1 sum:1 buckets:[1]}}"), false);
        let custom = hist("{{schema:-53 count:1 sum:1 custom_values:[1] buckets:[1]}}");
        assert_eq!(sum.add(&custom, false), HistAdded::Incompatible);
        assert!(sum.result(false).is_none());
    }

    #[test]
    fn counter_reset_hints_are_tracked() {
        let mut sum = HistSum::default();
        sum.add(&hist("{{count:1 counter_reset_hint:reset buckets:[1]}}"), false);
        sum.add(&hist("{{count:1 counter_reset_hint:not_reset buckets:[1]}}"), false);
        assert!(sum.reset && sum.not_reset);
    }
}
