//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `limitk`,
//! `limit_ratio`, `count_values`) with `by` / `without`, at every step.
//!
//! Sums and means use Kahan-Neumaier compensation and fall back to an
//! incremental mean when a sum would overflow, as Prometheus does, so
//! results agree to the last bits that its tests check.

use std::collections::HashMap;
use std::fmt;

use chronicle_udfs::{Mean, kahan_add, quantile};
use promql_parser::label::Labels as NameList;
use promql_parser::parser::token::TokenType;
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::functions::valid_label_name;
use super::node::Operator;
use super::series::{Range, StepSeries, Val};
use super::value::format_value as format_float;
use super::value::{Labels, METRIC_NAME};

/// `PromAggregate`: one aggregation over its input vector (and its
/// parameter, planned as an input before it).
#[derive(Debug)]
pub(crate) struct Aggregate {
    pub op: TokenType,
    pub modifier: Option<LabelModifier>,
    /// The parameter as the query wrote it (for the position of warnings);
    /// `None` without one.
    pub param: Option<String>,
    pub steps: Range,
}

impl Aggregate {
    /// The node of `agg` at `steps` (its inputs are planned by the caller).
    pub fn new(agg: &AggregateExpr, steps: Range) -> Aggregate {
        Aggregate {
            op: agg.op,
            modifier: agg.modifier.clone(),
            param: agg.param.as_ref().map(|p| p.to_string()),
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
            return select(ev, op, &input, &of_series, groups.len(), (&param, &at)).map(Val::Vector);
        }
        T_QUANTILE => {
            let param = scalar_param(param, n)?;
            let mut values: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n]; groups.len()];
            for (s, &g) in input.iter().zip(&of_series) {
                for (i, v) in s.values.iter().enumerate() {
                    if let Some(v) = v {
                        values[g][i].push(*v);
                    }
                }
            }
            let at = ev.position(&param_text(agg));
            for &q in &param {
                if !(0.0..=1.0).contains(&q) || q.is_nan() {
                    ev.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}{at}",
                        format_float(q)
                    ));
                }
            }
            groups
                .into_iter()
                .zip(values)
                .map(|(group, mut per_step)| StepSeries {
                    hists: Vec::new(),
                    labels: group.labels,
                    drop_name: group.drop_name,
                    values: per_step
                        .iter_mut()
                        .enumerate()
                        .map(|(i, vs)| (!vs.is_empty()).then(|| quantile(param[i], vs)))
                        .collect(),
                })
                .collect()
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
                    let Some(v) = v else { continue };
                    let labels = groups[g].labels.with(&label, &format_float(*v));
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
        _ => {
            let mut acc: Vec<Vec<Acc>> = vec![vec![Acc::default(); n]; groups.len()];
            for (s, &g) in input.iter().zip(&of_series) {
                for (i, v) in s.values.iter().enumerate() {
                    if let Some(v) = v {
                        acc[g][i].add(op, *v);
                    }
                }
            }
            groups
                .into_iter()
                .zip(acc)
                .map(|(group, per_step)| StepSeries {
                    hists: Vec::new(),
                    labels: group.labels,
                    drop_name: group.drop_name,
                    values: per_step.iter().map(|a| a.result(op)).collect(),
                })
                .collect()
        }
    };
    Ok(Val::Vector(out))
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
struct Group {
    labels: Labels,
    drop_name: bool,
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
    op: u16,
    input: &[StepSeries],
    of_series: &[usize],
    groups: usize,
    (param, param_at): (&[f64], &str),
) -> Result<Vec<StepSeries>> {
    let n = param.len();
    let mut out: Vec<StepSeries> =
        input.iter().map(|s| StepSeries { values: vec![None; n], hists: Vec::new(), ..s.clone() }).collect();
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
            for (s, o) in input.iter().zip(out.iter_mut()) {
                if let Some(v) = s.values[i]
                    && ratio_selects(&s.labels, ratio)
                {
                    o.values[i] = Some(v);
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
                out[j].values[i] = input[j].values[i];
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
    out.retain(|s| s.values.iter().any(Option::is_some));
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

/// The state of one group at one step.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    count: f64,
    value: f64,
    c: f64,
    mean: f64,
    avg: Mean,
}

impl Acc {
    fn add(&mut self, op: u16, f: f64) {
        let first = self.count == 0.0;
        self.count += 1.0;
        match op {
            T_SUM => (self.value, self.c) = kahan_add(f, self.value, self.c),
            T_AVG => self.avg.add(f),
            T_MIN if first || self.value > f || self.value.is_nan() => self.value = f,
            T_MAX if first || self.value < f || self.value.is_nan() => self.value = f,
            T_STDDEV | T_STDVAR => {
                if first {
                    self.mean = f;
                    // A non-finite value makes the spread undefined.
                    self.value = if f.is_finite() { 0.0 } else { f64::NAN };
                } else {
                    let delta = f - self.mean;
                    self.mean += delta / self.count;
                    self.value += delta * (f - self.mean);
                }
            }
            _ => {}
        }
    }

    fn result(&self, op: u16) -> Option<f64> {
        if self.count == 0.0 {
            return None;
        }
        Some(match op {
            T_SUM => self.value + self.c,
            T_AVG => self.avg.result(),
            T_MIN | T_MAX => self.value,
            T_COUNT => self.count,
            T_GROUP => 1.0,
            T_STDVAR => self.value / self.count,
            T_STDDEV => (self.value / self.count).sqrt(),
            _ => f64::NAN,
        })
    }
}
