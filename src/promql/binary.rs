//! Binary operators: arithmetic, comparisons (filters, or 0/1 with
//! `bool`), `atan2`, and the set operators `and` / `or` / `unless`, between
//! scalars and vectors, with vector matching (`on` / `ignoring`,
//! `group_left` / `group_right`) as Prometheus defines it, including its
//! errors for ambiguous matches.
//!
//! Native histograms: a histogram plus or minus a histogram, a histogram
//! times or divided by a float (or a float times a histogram), and `==` /
//! `!=` between histograms; any other pairing of a histogram drops the
//! sample with Prometheus's info. The set operators keep histogram samples
//! as they are.

use std::collections::HashMap;
use std::fmt;

use promql_parser::parser::token::TokenType;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD, T_MUL, T_NEQ, T_POW,
    T_SUB,
};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::{Range, StepSeries, Val, merge_same_labels};
use super::value::{Labels, METRIC_NAME};
use crate::model::histogram::{CounterResetHint, FloatHistogram, HistogramError};

/// `PromBinary`: a binary operator between its two inputs.
#[derive(Debug)]
pub(crate) struct Binary {
    pub op: TokenType,
    pub modifier: Option<BinModifier>,
    /// The left operand as the query wrote it: annotations carry the
    /// position of the whole operation, which starts there.
    pub lhs: String,
    pub steps: Range,
}

impl Binary {
    /// The node of `bin` at `steps` (its inputs are planned by the caller).
    pub fn try_new(bin: &BinaryExpr, steps: Range) -> Result<Binary> {
        if let Some(m) = &bin.modifier
            && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
        {
            return Err(PromError::BadData("fill modifiers of vector matching are not supported".into()));
        }
        Ok(Binary { op: bin.op, modifier: bin.modifier.clone(), lhs: bin.lhs.to_string(), steps })
    }
}

impl Operator for Binary {
    fn name(&self) -> &'static str {
        "PromBinary"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op={}", self.op)?;
        if let Some(m) = &self.modifier {
            if m.return_bool {
                f.write_str(" bool")?;
            }
            match &m.matching {
                Some(LabelModifier::Include(l)) => write!(f, ", on=({})", l.labels.join(", "))?,
                Some(LabelModifier::Exclude(l)) => write!(f, ", ignoring=({})", l.labels.join(", "))?,
                None => {}
            }
            match &m.card {
                VectorMatchCardinality::ManyToOne(l) => write!(f, ", group_left=({})", l.labels.join(", "))?,
                VectorMatchCardinality::OneToMany(l) => write!(f, ", group_right=({})", l.labels.join(", "))?,
                VectorMatchCardinality::ManyToMany => f.write_str(", many-to-many")?,
                VectorMatchCardinality::OneToOne => {}
            }
        }
        write!(f, ", steps={}", self.steps)
    }

    fn apply(&self, ctx: &QueryContext, inputs: Vec<Val>) -> Result<Val> {
        let [lhs, rhs]: [Val; 2] =
            inputs.try_into().map_err(|_| PromError::Execution("PromBinary takes two inputs".into()))?;
        let elementwise = Elementwise { ev: ctx, op: self.op, at: ctx.position(&self.lhs) };
        eval(self, &elementwise, lhs, rhs)
    }
}

/// Applies a binary operator to its operands.
fn eval(bin: &Binary, ew: &Elementwise<'_>, lhs: Val, rhs: Val) -> Result<Val> {
    let op = bin.op.id();
    let steps = bin.steps;
    let return_bool = bin.modifier.as_ref().is_some_and(|m| m.return_bool);
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(a, b)| {
                    let (v, keep) = apply(op, a, b);
                    if is_comparison(op) { if keep { 1.0 } else { 0.0 } } else { v }
                })
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(ew, v, &s, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(ew, v, &s, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            let modifier = bin.modifier.clone().unwrap_or_default();
            match op {
                T_LAND | T_LOR | T_LUNLESS => Ok(Val::Vector(set_op(op, l, r, &modifier, steps.len()))),
                _ => vector_vector(ew, l, r, &modifier, steps.len()).map(Val::Vector),
            }
        }
        (l, r) => Err(PromError::BadData(format!(
            "binary operator {} is not defined between {} and {}",
            bin.op,
            l.type_name(),
            r.type_name()
        ))),
    }
}

/// Whether the operator compares.
fn is_comparison(op: u16) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// The result of `lhs op rhs` and, for comparisons, whether it holds (a
/// comparison's value is its left operand).
fn apply(op: u16, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        T_ADD => (lhs + rhs, true),
        T_SUB => (lhs - rhs, true),
        T_MUL => (lhs * rhs, true),
        T_DIV => (lhs / rhs, true),
        T_POW => (lhs.powf(rhs), true),
        T_MOD => (lhs % rhs, true),
        T_ATAN2 => (lhs.atan2(rhs), true),
        T_EQLC => (lhs, lhs == rhs),
        T_NEQ => (lhs, lhs != rhs),
        T_GTR => (lhs, lhs > rhs),
        T_LSS => (lhs, lhs < rhs),
        T_GTE => (lhs, lhs >= rhs),
        T_LTE => (lhs, lhs <= rhs),
        _ => (f64::NAN, false),
    }
}

/// A vector and a scalar (`swap`: the scalar is on the left).
fn vector_scalar(
    ew: &Elementwise<'_>,
    vector: Vec<StepSeries>,
    scalar: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Val> {
    let op = ew.op.id();
    let drop_name = !is_comparison(op) || return_bool;
    let mut out = Vec::with_capacity(vector.len());
    for s in vector {
        let mut answer = Answer::new(scalar.len());
        for (i, &c) in scalar.iter().enumerate() {
            let Some(x) = sample_at(&s, i) else { continue };
            let (l, r) = if swap { (Sample::Float(c), x) } else { (x, Sample::Float(c)) };
            let Some((mut value, keep)) = ew.apply(l, r) else { continue };
            // A comparison keeps the vector's sample, whichever side it is on.
            if is_comparison(op) && swap {
                value = x.owned();
            }
            answer.put(i, value, keep, return_bool);
        }
        out.push(answer.into_series(s.labels, s.drop_name || drop_name));
    }
    merge_same_labels(out).map(Val::Vector)
}

/// The labels two series are matched on.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => labels.without(|n| !on.labels.iter().any(|l| l == n)),
        Some(LabelModifier::Exclude(ignoring)) => {
            labels.without(|n| n == METRIC_NAME || ignoring.labels.iter().any(|l| l == n))
        }
        None => labels.without_name(),
    }
}

/// `and`, `or`, `unless`: series kept whole, step by step, by whether the
/// other side has a series with the same signature at that step.
fn set_op(op: u16, lhs: Vec<StepSeries>, rhs: Vec<StepSeries>, m: &BinModifier, n: usize) -> Vec<StepSeries> {
    let matching = m.matching.as_ref();
    // For each signature, at which steps the side has a sample.
    let presence = |side: &[StepSeries]| {
        let mut map: HashMap<Labels, Vec<bool>> = HashMap::new();
        for s in side {
            let p = map.entry(signature(&s.visible_labels(), matching)).or_insert_with(|| vec![false; n]);
            for (i, slot) in p.iter_mut().enumerate() {
                *slot |= sample_at(s, i).is_some();
            }
        }
        map
    };
    let filter = |side: Vec<StepSeries>, other: &HashMap<Labels, Vec<bool>>, keep_if_present: bool| {
        side.into_iter()
            .filter_map(|mut s| {
                let present = other.get(&signature(&s.visible_labels(), matching));
                for i in 0..s.values.len() {
                    let there = present.is_some_and(|p| p[i]);
                    if there != keep_if_present {
                        s.values[i] = None;
                        if let Some(h) = s.hists.get_mut(i) {
                            *h = None;
                        }
                    }
                }
                if !s.hists.iter().any(Option::is_some) {
                    s.hists.clear();
                }
                s.has_samples().then_some(s)
            })
            .collect::<Vec<_>>()
    };
    match op {
        T_LAND => filter(lhs, &presence(&rhs), true),
        T_LUNLESS => filter(lhs, &presence(&rhs), false),
        _ => {
            let left = presence(&lhs);
            let mut out = lhs;
            out.extend(filter(rhs, &left, false));
            out
        }
    }
}

/// Arithmetic and comparisons between two vectors.
fn vector_vector(
    ew: &Elementwise<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    m: &BinModifier,
    n: usize,
) -> Result<Vec<StepSeries>> {
    let op = ew.op.id();
    let matching = m.matching.as_ref();
    let (many, one, swapped, include) = match &m.card {
        VectorMatchCardinality::OneToMany(include) => (rhs, lhs, true, Some(include)),
        VectorMatchCardinality::ManyToOne(include) => (lhs, rhs, false, Some(include)),
        _ => (lhs, rhs, false, None),
    };
    let one_to_one = include.is_none();
    // The "one" side by signature.
    let mut sig_ids: HashMap<Labels, usize> = HashMap::new();
    let mut one_by_sig: Vec<Vec<usize>> = Vec::new();
    for (j, s) in one.iter().enumerate() {
        let next = sig_ids.len();
        let id = *sig_ids.entry(signature(&s.visible_labels(), matching)).or_insert(next);
        if id == one_by_sig.len() {
            one_by_sig.push(Vec::new());
        }
        one_by_sig[id].push(j);
    }
    // A signature may have several series on the "one" side only if they
    // never have a sample at the same step.
    let mut partner: Vec<Vec<Option<usize>>> = vec![vec![None; n]; one_by_sig.len()];
    for (members, partner) in one_by_sig.iter().zip(partner.iter_mut()) {
        for (i, slot) in partner.iter_mut().enumerate() {
            for &j in members {
                if sample_at(&one[j], i).is_none() {
                    continue;
                }
                if let Some(prev) = *slot {
                    let side = if swapped { "left" } else { "right" };
                    let sig = signature(&one[j].visible_labels(), matching);
                    let mut pair = [prometheus_notation(&one[j].labels), prometheus_notation(&one[prev].labels)];
                    pair.sort();
                    return Err(PromError::Execution(format!(
                        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        prometheus_notation(&sig),
                        pair[0],
                        pair[1]
                    )));
                }
                *slot = Some(j);
            }
        }
    }
    let drop_name = !is_comparison(op) || m.return_bool;
    let mut out: Vec<(Labels, bool, Answer)> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    let mut result_of: HashMap<(usize, usize), usize> = HashMap::new();
    // One-to-one: the step at which each signature last matched.
    let mut matched_at: Vec<Option<usize>> = vec![None; one_by_sig.len()];
    #[allow(clippy::needless_range_loop, reason = "steps index the values of every series on both sides")]
    for i in 0..n {
        for (k, s) in many.iter().enumerate() {
            let Some(v_many) = sample_at(s, i) else { continue };
            let Some(&id) = sig_ids.get(&signature(&s.visible_labels(), matching)) else { continue };
            let Some(j) = partner[id][i] else { continue };
            let Some(v_one) = sample_at(&one[j], i) else { continue };
            let (l, r) = if swapped { (v_one, v_many) } else { (v_many, v_one) };
            // Samples the operator cannot combine are dropped before
            // matching counts them.
            let Some((value, keep)) = ew.apply(l, r) else { continue };
            // An ambiguous match is an error even where a comparison
            // would filter the sample out.
            if one_to_one {
                if matched_at[id] == Some(i) {
                    return Err(PromError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                            .into(),
                    ));
                }
                matched_at[id] = Some(i);
            }
            if !keep && !m.return_bool {
                continue;
            }
            let at = match result_of.get(&(k, j)) {
                Some(&at) => at,
                None => {
                    let labels = result_labels(&s.visible_labels(), &one[j].visible_labels(), m, include);
                    let at = *out_index.entry(labels.clone()).or_insert_with(|| {
                        out.push((labels, drop_name || s.drop_name, Answer::new(n)));
                        out.len() - 1
                    });
                    result_of.insert((k, j), at);
                    at
                }
            };
            let answer = &mut out[at].2;
            if answer.taken(i) {
                return Err(PromError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches".into(),
                ));
            }
            answer.put(i, value, keep, m.return_bool);
        }
    }
    merge_same_labels(
        out.into_iter().map(|(labels, drop_name, answer)| answer.into_series(labels, drop_name)).collect(),
    )
}

/// Labels as Prometheus prints them in errors: `{__name__="x", a="1"}`.
fn prometheus_notation(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The labels of a result: the "many" side's (its metric name marked
/// dropped for arithmetic by the caller), restricted to the matching labels (one-to-one `on`) or
/// without the ignored ones (one-to-one `ignoring`), plus the labels
/// `group_left` / `group_right` copy from the "one" side.
fn result_labels(
    many: &Labels,
    one: &Labels,
    m: &BinModifier,
    include: Option<&promql_parser::label::Labels>,
) -> Labels {
    let mut labels = many.clone();
    if include.is_none() {
        labels = match &m.matching {
            Some(LabelModifier::Include(on)) => labels.without(|n| !on.labels.iter().any(|l| l == n)),
            Some(LabelModifier::Exclude(ignoring)) => labels.without(|n| ignoring.labels.iter().any(|l| l == n)),
            None => labels,
        };
    }
    for name in include.map(|l| l.labels.as_slice()).unwrap_or_default() {
        labels = labels.with(name, one.get(name).unwrap_or(""));
    }
    labels
}

/// The sample of a series at one step.
#[derive(Clone, Copy, Debug)]
enum Sample<'a> {
    Float(f64),
    Hist(&'a FloatHistogram),
}

impl Sample<'_> {
    /// The sample as an owned value.
    fn owned(self) -> Value {
        match self {
            Sample::Float(f) => Value::Float(f),
            Sample::Hist(h) => Value::Hist(h.clone()),
        }
    }

    /// Prometheus's name of the sample's type, for annotations.
    fn type_name(self) -> &'static str {
        match self {
            Sample::Float(_) => "float",
            Sample::Hist(_) => "histogram",
        }
    }
}

/// The sample of `s` at step `i`, if it has one.
fn sample_at(s: &StepSeries, i: usize) -> Option<Sample<'_>> {
    match (s.values.get(i).copied().flatten(), s.hist(i)) {
        (Some(f), _) => Some(Sample::Float(f)),
        (None, Some(h)) => Some(Sample::Hist(h)),
        (None, None) => None,
    }
}

/// The value an operator computes for one pair of samples.
#[derive(Clone, Debug)]
enum Value {
    Float(f64),
    Hist(FloatHistogram),
}

/// One operator applied to pairs of samples, recording the annotations
/// Prometheus gives at the operation's position `at`.
struct Elementwise<'a> {
    ev: &'a QueryContext,
    op: TokenType,
    at: String,
}

impl Elementwise<'_> {
    /// `lhs op rhs` and, for comparisons, whether it holds (a comparison's
    /// value is its left operand); `None` drops the sample, annotated.
    fn apply(&self, lhs: Sample<'_>, rhs: Sample<'_>) -> Option<(Value, bool)> {
        let op = self.op.id();
        match (lhs, rhs) {
            (Sample::Float(l), Sample::Float(r)) => {
                let (v, keep) = apply(op, l, r);
                Some((Value::Float(v), keep))
            }
            (Sample::Float(f), Sample::Hist(h)) | (Sample::Hist(h), Sample::Float(f)) if op == T_MUL => {
                let mut h = h.clone();
                h.mul(f);
                h.compact(0).ok()?;
                Some((Value::Hist(h), true))
            }
            (Sample::Hist(h), Sample::Float(f)) if op == T_DIV => {
                let mut h = h.clone();
                h.div(f);
                h.compact(0).ok()?;
                Some((Value::Hist(h), true))
            }
            (Sample::Hist(l), Sample::Hist(r)) if op == T_ADD || op == T_SUB => self.combine(l, r),
            (Sample::Hist(l), Sample::Hist(r)) if op == T_EQLC || op == T_NEQ => {
                Some((Value::Hist(l.clone()), l.equals(r) == (op == T_EQLC)))
            }
            _ => {
                self.ev.info(format!(
                    "PromQL info: incompatible sample types encountered for binary operator \"{}\": {} {} {}{}",
                    self.op,
                    lhs.type_name(),
                    self.op,
                    rhs.type_name(),
                    self.at
                ));
                None
            }
        }
    }

    /// The sum or difference of two histograms. A difference is a gauge.
    /// Prometheus drops the sample when the counter reset hints collide.
    fn combine(&self, lhs: &FloatHistogram, rhs: &FloatHistogram) -> Option<(Value, bool)> {
        let add = self.op.id() == T_ADD;
        let operation = if add { "addition" } else { "subtraction" };
        let mut h = lhs.clone();
        let combined = if add { h.add(rhs) } else { h.sub(rhs) };
        let combined = match combined {
            Ok(c) => c,
            Err(HistogramError::MixedSchemas) => {
                self.ev.warn(format!(
                    "PromQL warning: incompatible bucket layout encountered for binary operator {}{}",
                    self.op, self.at
                ));
                return None;
            }
            Err(_) => return None,
        };
        if !add {
            h.counter_reset_hint = CounterResetHint::Gauge;
        }
        if combined.custom_bounds_reconciled {
            self.ev
                .info(format!("PromQL info: mismatched custom buckets were reconciled during {operation}{}", self.at));
        }
        if combined.counter_reset_collision {
            self.ev.warn(format!("PromQL warning: conflicting counter resets during histogram {operation}{}", self.at));
            return None;
        }
        h.compact(0).ok()?;
        Some((Value::Hist(h), true))
    }
}

/// The samples of one result series, step by step.
struct Answer {
    values: Vec<Option<f64>>,
    hists: Vec<Option<FloatHistogram>>,
}

impl Answer {
    /// No sample at any of `n` steps.
    fn new(n: usize) -> Self {
        Answer { values: vec![None; n], hists: vec![None; n] }
    }

    /// Whether step `i` has a sample.
    fn taken(&self, i: usize) -> bool {
        self.values[i].is_some() || self.hists[i].is_some()
    }

    /// Records the outcome at step `i`: 1 or 0 with `bool`, else the value
    /// if the comparison held.
    fn put(&mut self, i: usize, value: Value, keep: bool, return_bool: bool) {
        match (return_bool, keep, value) {
            (true, _, _) => self.values[i] = Some(if keep { 1.0 } else { 0.0 }),
            (false, false, _) => {}
            (false, true, Value::Float(f)) => self.values[i] = Some(f),
            (false, true, Value::Hist(h)) => self.hists[i] = Some(h),
        }
    }

    /// The series with these samples.
    fn into_series(self, labels: Labels, drop_name: bool) -> StepSeries {
        StepSeries { drop_name, ..StepSeries::mixed(labels, self.values, self.hists) }
    }
}
