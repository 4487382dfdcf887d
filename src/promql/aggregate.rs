//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `limitk`,
//! `limit_ratio`, `count_values`) with `by` / `without`, at every step.
//!
//! The aggregations reducing each group to one sample per step run on the
//! `prom_*` DataFusion aggregates of `chronicle_udfs` (Prometheus's float
//! arithmetic, to the last bit its tests check), see
//! [`super::aggregate_reduce`]; the selections (`topk`, `bottomk`,
//! `limitk`, `limit_ratio`) and `count_values` are computed here.
//!
//! Native histograms: `sum` and `avg` add them (a group mixing floats and
//! histograms has no result at that step, with a warning), `count`,
//! `group`, `count_values`, `limitk` and `limit_ratio` take them like
//! floats, and the other aggregations skip them with an info.

use std::collections::HashMap;
use std::fmt;

use chronicle_udfs::PromAggregation;
use promql_parser::label::Labels as NameList;
use promql_parser::parser::token::TokenType;
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::aggregate_reduce::reduce;
use super::context::QueryContext;
use super::error::{PromError, Result};
use super::functions::valid_label_name;
use super::node::Operator;
use super::series::{Range, StepSeries, Val};
use super::value::format_value as format_float;
use super::value::{Labels, METRIC_NAME};
use crate::model::histogram::{FloatHistogram, go_float};

/// `PromAggregate`: one aggregation over its input vector (and its
/// parameter, planned as an input before it).
#[derive(Debug)]
pub(crate) struct Aggregate {
    pub op: TokenType,
    pub modifier: Option<LabelModifier>,
    /// The parameter as the query wrote it (for the position of warnings);
    /// `None` without one.
    pub param: Option<String>,
    /// The aggregated expression as the query wrote it, for the position
    /// of annotations about its samples.
    pub expr: String,
    /// The whole aggregation as the query wrote it (`topk` and `bottomk`
    /// annotate there).
    pub text: String,
    /// The aggregate computing its floats; `None` for the selections and
    /// `count_values`.
    pub udaf: Option<PromAggregation>,
    pub steps: Range,
}

impl Aggregate {
    /// The node of `agg` at `steps` (its inputs are planned by the caller).
    pub fn new(agg: &AggregateExpr, steps: Range) -> Aggregate {
        Aggregate {
            op: agg.op,
            modifier: agg.modifier.clone(),
            param: agg.param.as_ref().map(|p| p.to_string()),
            expr: agg.expr.to_string(),
            text: agg.to_string(),
            udaf: udaf_of(agg.op.id()),
            steps,
        }
    }
}

impl Aggregate {
    /// Whether the answer is some of the input series, labels unchanged
    /// (`topk`, `bottomk`, `limitk`, `limit_ratio`).
    pub fn keeps_series(&self) -> bool {
        matches!(self.op.id(), T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO)
    }
}

impl Operator for Aggregate {
    fn name(&self) -> &'static str {
        "PromAggregate"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op={}", self.op)?;
        match &self.modifier {
            Some(LabelModifier::Include(l)) => write!(f, ", by=({})", l.labels.join(", "))?,
            Some(LabelModifier::Exclude(l)) => write!(f, ", without=({})", l.labels.join(", "))?,
            None => {}
        }
        if let Some(p) = &self.param {
            write!(f, ", param={p}")?;
        }
        if let Some(udaf) = self.udaf {
            write!(f, ", udaf={udaf}")?;
        }
        write!(f, ", steps={}", self.steps)
    }

    fn apply(&self, ctx: &QueryContext, mut inputs: Vec<Val>) -> Result<Val> {
        let input = inputs.pop();
        let param = inputs.pop();
        eval(ctx, self, param, input)
    }
}

/// Evaluates an aggregation.
fn eval(ev: &QueryContext, agg: &Aggregate, param: Option<Val>, input: Option<Val>) -> Result<Val> {
    let op = agg.op.id();
    let steps = agg.steps;
    let input = match input {
        Some(Val::Vector(v)) => v,
        other => {
            return Err(PromError::BadData(format!(
                "expected type instant vector in aggregation expression, got {}",
                other.map_or("nothing", |v| v.type_name())
            )));
        }
    };
    let (groups, of_series) = group(&input, agg.modifier.as_ref());
    let n = steps.len();
    let out = match op {
        T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO => {
            let param = scalar_param(param, n)?;
            let at = ev.position(&param_text(agg));
            return select(ev, agg, &input, &of_series, groups.len(), (&param, &at)).map(Val::Vector);
        }
        T_QUANTILE => {
            let param = scalar_param(param, n)?;
            let at = ev.position(&param_text(agg));
            for &q in &param {
                if !(0.0..=1.0).contains(&q) || q.is_nan() {
                    ev.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}{at}",
                        format_float(q)
                    ));
                }
            }
            reduce(ev, agg, PromAggregation::Quantile, Some(&param), (&input, groups, &of_series))?
        }
        T_COUNT_VALUES => {
            let label = match param {
                Some(Val::String(s)) => s,
                _ => return Err(PromError::BadData("count_values needs a string parameter".into())),
            };
            if !valid_label_name(&label) {
                return Err(PromError::BadData(format!("invalid label name {label:?}")));
            }
            let mut index: HashMap<Labels, usize> = HashMap::new();
            let mut out: Vec<StepSeries> = Vec::new();
            for (s, &g) in input.iter().zip(&of_series) {
                for (i, v) in s.values.iter().enumerate() {
                    let value = match (v, s.hist(i)) {
                        (Some(v), _) => format_float(*v),
                        (None, Some(h)) => prometheus_string(h),
                        (None, None) => continue,
                    };
                    let labels = groups[g].labels.with(&label, &value);
                    let at = *index.entry(labels.clone()).or_insert_with(|| {
                        out.push(StepSeries::new(labels, vec![None; n]));
                        out.len() - 1
                    });
                    let slot = &mut out[at].values[i];
                    *slot = Some(slot.unwrap_or(0.0) + 1.0);
                }
            }
            out
        }
        _ => match agg.udaf {
            Some(udaf) => reduce(ev, agg, udaf, None, (&input, groups, &of_series))?,
            None => return Err(PromError::BadData(format!("unknown aggregation {}", agg.op))),
        },
    };
    Ok(Val::Vector(out))
}

/// The aggregate computing the floats of aggregation `op`, if it reduces
/// each group to one sample.
fn udaf_of(op: u16) -> Option<PromAggregation> {
    Some(match op {
        T_SUM => PromAggregation::Sum,
        T_AVG => PromAggregation::Avg,
        T_MIN => PromAggregation::Min,
        T_MAX => PromAggregation::Max,
        T_COUNT => PromAggregation::Count,
        T_GROUP => PromAggregation::Group,
        T_STDDEV => PromAggregation::Stddev,
        T_STDVAR => PromAggregation::Stdvar,
        T_QUANTILE => PromAggregation::Quantile,
        _ => return None,
    })
}

/// The parameter of an aggregation as the query wrote it (near enough to
/// find it in the text).
fn param_text(agg: &Aggregate) -> String {
    agg.param.clone().unwrap_or_default()
}

/// The group of every series: the distinct grouping label sets, in order
/// of first appearance, and each series' index into them. A metric name
/// marked dropped still tells groups apart under `by (__name__)` (as in
/// Prometheus); the group then carries the mark, so the answer drops it.
fn group(input: &[StepSeries], modifier: Option<&LabelModifier>) -> (Vec<Group>, Vec<usize>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let of_series = input
        .iter()
        .map(|s| {
            let labels = grouping_labels(&s.labels, modifier);
            let g = *index.entry(labels.clone()).or_insert_with(|| {
                groups.push(Group { labels, drop_name: false });
                groups.len() - 1
            });
            groups[g].drop_name |= s.drop_name;
            g
        })
        .collect();
    (groups, of_series)
}

/// The labels of one group and whether a member's metric name was marked
/// dropped.
pub(super) struct Group {
    pub labels: Labels,
    pub drop_name: bool,
}

/// The labels a series keeps in its group: those named by `by`, or all but
/// those named by `without` and the metric name.
pub(crate) fn grouping_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    let has = |list: &NameList, name: &str| list.labels.iter().any(|l| l == name);
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(list)) => labels.without(|n| !has(list, n)),
        Some(LabelModifier::Exclude(list)) => labels.without(|n| n == METRIC_NAME || has(list, n)),
    }
}

/// The numeric parameter of an aggregation at each step.
fn scalar_param(param: Option<Val>, n: usize) -> Result<Vec<f64>> {
    match param {
        Some(Val::Scalar(v)) => Ok(v),
        Some(other) => {
            Err(PromError::BadData(format!("expected type scalar in aggregation parameter, got {}", other.type_name())))
        }
        None => Ok(vec![f64::NAN; n]),
    }
}

/// `topk`, `bottomk`, `limitk` and `limit_ratio`: each step keeps some of
/// the samples of each group, with their labels. The parameter comes with
/// its position in the query, for warnings. For one step the series
/// come out in Prometheus's order (groups in order of appearance, `topk`
/// largest first, `bottomk` smallest first).
fn select(
    ev: &QueryContext,
    agg: &Aggregate,
    input: &[StepSeries],
    of_series: &[usize],
    groups: usize,
    (param, param_at): (&[f64], &str),
) -> Result<Vec<StepSeries>> {
    let op = agg.op.id();
    let n = param.len();
    let mut out: Vec<StepSeries> = input
        .iter()
        .map(|s| StepSeries {
            values: vec![None; n],
            hists: if s.hists.is_empty() { Vec::new() } else { vec![None; n] },
            ..s.clone()
        })
        .collect();
    // Copies the sample of series `j` at step `i` into the answer.
    let keep = |out: &mut [StepSeries], j: usize, i: usize| {
        out[j].values[i] = input[j].values[i];
        if let Some(h) = input[j].hist(i) {
            out[j].hists[i] = Some(h.clone());
        }
    };
    let mut rank: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); input.len()];
    for (i, &p) in param.iter().enumerate().take(n) {
        if op == T_LIMIT_RATIO {
            if p.is_nan() {
                return Err(PromError::BadData("Ratio value is NaN".into()));
            }
            let ratio = p.clamp(-1.0, 1.0);
            if ratio != p {
                ev.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}{param_at}",
                    format_float(p),
                    format_float(ratio)
                ));
            }
            for (j, s) in input.iter().enumerate() {
                if (s.values[i].is_some() || s.hist(i).is_some()) && ratio_selects(&s.labels, ratio) {
                    keep(&mut out, j, i);
                }
            }
            continue;
        }
        if p.is_nan() {
            return Err(PromError::BadData("Parameter value is NaN".into()));
        }
        if p < 1.0 {
            continue;
        }
        let k = if p >= usize::MAX as f64 { usize::MAX } else { p as usize };
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
        for (j, s) in input.iter().enumerate() {
            if s.values[i].is_some() {
                members[of_series[j]].push(j);
            } else if s.hist(i).is_some() {
                if op == T_LIMITK {
                    members[of_series[j]].push(j);
                } else {
                    ignored_histogram(ev, agg, &agg.text);
                }
            }
        }
        for (g, mut m) in members.into_iter().enumerate() {
            let value = |j: usize| input[j].values[i].unwrap_or(f64::NAN);
            match op {
                // NaN ranks below every number in both directions.
                T_TOPK => m.sort_by(|&a, &b| order_nan_last(value(b), value(a), true)),
                T_BOTTOMK => m.sort_by(|&a, &b| order_nan_last(value(a), value(b), false)),
                _ => {}
            }
            for (r, &j) in m.iter().take(k).enumerate() {
                keep(&mut out, j, i);
                if i == 0 {
                    rank[j] = (g, r);
                }
            }
        }
    }
    if n == 1 && op != T_LIMIT_RATIO {
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by_key(|&j| rank[j]);
        let mut slots: Vec<Option<StepSeries>> = out.into_iter().map(Some).collect();
        out = order.into_iter().filter_map(|j| slots[j].take()).collect();
    }
    out.retain(StepSeries::has_samples);
    for s in &mut out {
        if !s.hists.iter().any(Option::is_some) {
            s.hists.clear();
        }
    }
    Ok(out)
}

/// Orders `a` before `b` when it is larger (`descending`) or smaller; NaN
/// goes last either way.
fn order_nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if descending {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if descending {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Whether `limit_ratio(ratio, ...)` keeps the series: its labels hash to a
/// fixed point in [0, 1); a positive ratio keeps the points below it, a
/// negative one those at or above `1 + ratio`, so `r` and `-(1 - r)` split
/// the series between them.
fn ratio_selects(labels: &Labels, ratio: f64) -> bool {
    let offset = labels.stable_hash() as f64 / u64::MAX as f64;
    if ratio >= 0.0 { offset < ratio } else { offset >= 1.0 + ratio }
}

/// Records Prometheus's info that an aggregation skipped a histogram;
/// `at` is the text whose position the info carries.
pub(super) fn ignored_histogram(ev: &QueryContext, agg: &Aggregate, at: &str) {
    ev.info(format!("PromQL info: ignored histogram in {} aggregation{}", agg.op, ev.position(at)));
}

/// A histogram as Prometheus prints it in a label value (its `String`):
/// count, sum, then each non-empty bucket with its bounds, ascending.
fn prometheus_string(h: &FloatHistogram) -> String {
    let mut out = format!("{{count:{}, sum:{}", go_float(h.count), go_float(h.sum));
    for b in h.all_buckets().into_iter().filter(|b| b.count != 0.0) {
        out.push_str(&format!(
            ", {}{},{}{}:{}",
            if b.lower_inclusive { '[' } else { '(' },
            go_float(b.lower),
            go_float(b.upper),
            if b.upper_inclusive { ']' } else { ')' },
            go_float(b.count)
        ));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn hist(notation: &str) -> FloatHistogram {
        notation.parse().unwrap()
    }

    #[test]
    fn label_value_of_a_histogram() {
        let h = hist("{{schema:0 count:20 sum:10 z_bucket:2 z_bucket_w:0.001 buckets:[1 2] n_buckets:[1 2]}}");
        assert_eq!(
            prometheus_string(&h),
            "{count:20, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}"
        );
    }
}
