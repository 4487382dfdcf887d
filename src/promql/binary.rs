//! Binary operators: arithmetic, comparisons (filters, or 0/1 with
//! `bool`), `atan2`, and the set operators `and` / `or` / `unless`, between
//! scalars and vectors, with vector matching (`on` / `ignoring`,
//! `group_left` / `group_right`) as Prometheus defines it, including its
//! errors for ambiguous matches.

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

/// `PromBinary`: a binary operator between its two inputs.
#[derive(Debug)]
pub(crate) struct Binary {
    pub op: TokenType,
    pub modifier: Option<BinModifier>,
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
        Ok(Binary { op: bin.op, modifier: bin.modifier.clone(), steps })
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

    fn apply(&self, _ctx: &QueryContext, inputs: Vec<Val>) -> Result<Val> {
        let [lhs, rhs]: [Val; 2] =
            inputs.try_into().map_err(|_| PromError::Execution("PromBinary takes two inputs".into()))?;
        eval(self, lhs, rhs)
    }
}

/// Applies a binary operator to its operands.
fn eval(bin: &Binary, lhs: Val, rhs: Val) -> Result<Val> {
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
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(op, v, &s, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(op, v, &s, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            let modifier = bin.modifier.clone().unwrap_or_default();
            match op {
                T_LAND | T_LOR | T_LUNLESS => Ok(Val::Vector(set_op(op, l, r, &modifier, steps.len()))),
                _ => vector_vector(op, l, r, &modifier, steps.len()).map(Val::Vector),
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
fn vector_scalar(op: u16, vector: Vec<StepSeries>, scalar: &[f64], swap: bool, return_bool: bool) -> Result<Val> {
    let drop_name = !is_comparison(op) || return_bool;
    let out = vector
        .into_iter()
        .map(|s| StepSeries {
            hists: Vec::new(),
            labels: s.labels,
            drop_name: s.drop_name || drop_name,
            values: s
                .values
                .iter()
                .zip(scalar)
                .map(|(v, &c)| {
                    let v = (*v)?;
                    let (l, r) = if swap { (c, v) } else { (v, c) };
                    let (mut value, keep) = apply(op, l, r);
                    if is_comparison(op) && swap {
                        value = v;
                    }
                    if return_bool { Some(if keep { 1.0 } else { 0.0 }) } else { keep.then_some(value) }
                })
                .collect(),
        })
        .collect();
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
            for (slot, v) in p.iter_mut().zip(&s.values) {
                *slot |= v.is_some();
            }
        }
        map
    };
    let filter = |side: Vec<StepSeries>, other: &HashMap<Labels, Vec<bool>>, keep_if_present: bool| {
        side.into_iter()
            .filter_map(|mut s| {
                let present = other.get(&signature(&s.visible_labels(), matching));
                for (i, v) in s.values.iter_mut().enumerate() {
                    let there = present.is_some_and(|p| p[i]);
                    if there != keep_if_present {
                        *v = None;
                    }
                }
                s.values.iter().any(Option::is_some).then_some(s)
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
    op: u16,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    m: &BinModifier,
    n: usize,
) -> Result<Vec<StepSeries>> {
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
                if one[j].values[i].is_none() {
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
    let mut out: Vec<StepSeries> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    let mut result_of: HashMap<(usize, usize), usize> = HashMap::new();
    // One-to-one: the step at which each signature last matched.
    let mut matched_at: Vec<Option<usize>> = vec![None; one_by_sig.len()];
    #[allow(clippy::needless_range_loop, reason = "steps index the values of every series on both sides")]
    for i in 0..n {
        for (k, s) in many.iter().enumerate() {
            let Some(v_many) = s.values[i] else { continue };
            let Some(&id) = sig_ids.get(&signature(&s.visible_labels(), matching)) else { continue };
            let Some(j) = partner[id][i] else { continue };
            let Some(v_one) = one[j].values[i] else { continue };
            let (l, r) = if swapped { (v_one, v_many) } else { (v_many, v_one) };
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
            let (value, keep) = apply(op, l, r);
            let value = match (m.return_bool, keep) {
                (true, true) => 1.0,
                (true, false) => 0.0,
                (false, true) => value,
                (false, false) => continue,
            };
            let at = match result_of.get(&(k, j)) {
                Some(&at) => at,
                None => {
                    let labels = result_labels(&s.visible_labels(), &one[j].visible_labels(), m, include);
                    let at = *out_index.entry(labels.clone()).or_insert_with(|| {
                        out.push(StepSeries {
                            labels,
                            values: vec![None; n],
                            hists: Vec::new(),
                            drop_name: drop_name || s.drop_name,
                        });
                        out.len() - 1
                    });
                    result_of.insert((k, j), at);
                    at
                }
            };
            let slot = &mut out[at].values[i];
            if slot.is_some() {
                return Err(PromError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches".into(),
                ));
            }
            *slot = Some(value);
        }
    }
    merge_same_labels(out)
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
