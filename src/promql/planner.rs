//! The PromQL planner: a parsed expression becomes a DataFusion logical
//! plan of [`PromNode`]s, one per operator, each built for the steps it is
//! evaluated at (a subquery's inner plan for its own steps).
//!
//! ```text
//!  sum by (host) (rate(cpu_usage_user{host=~"a|b"}[5m]))
//!
//!  PromAggregate: op=sum, by=(host), udaf=prom_sum, steps=...
//!    PromRangeFunction: prom_rate, steps=..., range=300000, offset=0
//!      PromSeriesScan: selector=..., tables=[cpu.usage_user], matchers=[...], window=(lo, hi] ms
//! ```
//!
//! What does not depend on the data is settled here, before anything runs:
//! operand types (a type error is a planning error), which tables a
//! selector reads and its time window, a subquery's steps, `@ start()` /
//! `@ end()`, and the label names each node's series can carry (a superset:
//! the columns of the Arrow answer, see [`super::rows`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use chronicle_udfs::PromRangeUdf;
use datafusion::logical_expr::LogicalPlan;
use promql_parser::parser::token::{T_COUNT_VALUES, T_LOR};
use promql_parser::parser::{Expr, LabelModifier, VectorMatchCardinality};

use super::aggregate::Aggregate;
use super::binary::Binary;
use super::context::QueryContext;
use super::error::{PromError, Result};
use super::functions::{Function, unparen};
use super::instant::Instant;
use super::literal::Literal;
use super::negate::Negate;
use super::node::PromNode;
use super::range_functions::{self, RangeFunction};
use super::selector::SeriesScan;
use super::series::{Range, duration_ms, offset_ms};
use super::series_batch::{Kind, Window};
use super::subquery::Subquery;
use super::value::METRIC_NAME;

/// A planned expression: its plan, what its batches hold, and the label
/// names its series can have.
pub(crate) struct Planned {
    pub plan: LogicalPlan,
    pub kind: Kind,
    pub labels: BTreeSet<String>,
}

/// Plans the expressions of one query.
pub(crate) struct Planner<'a> {
    ctx: &'a Arc<QueryContext>,
}

impl<'a> Planner<'a> {
    /// A planner for the query of `ctx`.
    pub fn new(ctx: &'a Arc<QueryContext>) -> Self {
        Planner { ctx }
    }

    /// The plan of `expr` evaluated at `steps`.
    pub fn plan(&self, expr: &Expr, steps: Range) -> Result<Planned> {
        match expr {
            Expr::NumberLiteral(n) => self.leaf(Literal::Number { value: n.val, steps }, Kind::Scalar),
            Expr::StringLiteral(s) => self.leaf(Literal::String(s.val.clone()), Kind::String),
            Expr::Paren(p) => self.plan(&p.expr, steps),
            Expr::Unary(u) => {
                let input = self.plan(&u.expr, steps)?;
                if !matches!(input.kind, Kind::Scalar | Kind::Vector) {
                    return Err(PromError::BadData(format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                        input.kind.type_name()
                    )));
                }
                let labels = without_name(input.labels.clone());
                self.node(Negate, input.kind, vec![input], labels)
            }
            Expr::VectorSelector(vs) => {
                let lookback = self.ctx.options.lookback_delta_ms;
                let (scan, labels) = SeriesScan::try_new(self.ctx, vs, steps, lookback, false)?;
                let at = self.ctx.at_time(vs.at.as_ref());
                let offset = offset_ms(vs.offset.as_ref());
                let window = Window { range: lookback, offset, at };
                let scan = self.node(scan, Kind::Matrix(window), Vec::new(), labels.clone())?;
                let instant = Instant { steps, at, offset, lookback, timestamps: false };
                self.node(instant, Kind::Vector, vec![scan], labels)
            }
            Expr::MatrixSelector(ms) => {
                let range = duration_ms(ms.range);
                let (scan, labels) = SeriesScan::try_new(self.ctx, &ms.vs, steps, range, true)?;
                let window =
                    Window { range, offset: offset_ms(ms.vs.offset.as_ref()), at: self.ctx.at_time(ms.vs.at.as_ref()) };
                self.node(scan, Kind::Matrix(window), Vec::new(), labels)
            }
            Expr::Subquery(sq) => {
                let subquery = Subquery::new(self.ctx, sq, steps)?;
                let kind = Kind::Matrix(subquery.window);
                let Some(inner) = subquery.inner else { return self.node(subquery, kind, Vec::new(), BTreeSet::new()) };
                let input = self.plan(&sq.expr, inner)?;
                if !matches!(input.kind, Kind::Scalar | Kind::Vector) {
                    return Err(PromError::BadData(format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        input.kind.type_name()
                    )));
                }
                let labels = input.labels.clone();
                self.node(subquery, kind, vec![input], labels)
            }
            Expr::Aggregate(agg) => {
                let mut inputs = Vec::new();
                if let Some(p) = &agg.param {
                    inputs.push(self.plan(p, steps)?);
                }
                let input = self.plan(&agg.expr, steps)?;
                if input.kind != Kind::Vector {
                    return Err(PromError::BadData(format!(
                        "expected type instant vector in aggregation expression, got {}",
                        input.kind.type_name()
                    )));
                }
                let op = Aggregate::new(agg, steps);
                let mut labels = match (&agg.modifier, op.keeps_series()) {
                    (_, true) => input.labels.clone(),
                    (Some(LabelModifier::Include(by)), _) => by.labels.iter().cloned().collect(),
                    (Some(LabelModifier::Exclude(without)), _) => {
                        let mut labels = without_name(input.labels.clone());
                        labels.retain(|l| !without.labels.contains(l));
                        labels
                    }
                    (None, _) => BTreeSet::new(),
                };
                if agg.op.id() == T_COUNT_VALUES
                    && let Some(Expr::StringLiteral(s)) = agg.param.as_deref().map(unparen)
                {
                    labels.insert(s.val.clone());
                }
                inputs.push(input);
                self.node(op, Kind::Vector, inputs, labels)
            }
            Expr::Binary(bin) => {
                let lhs = self.plan(&bin.lhs, steps)?;
                let rhs = self.plan(&bin.rhs, steps)?;
                let op = Binary::try_new(bin, steps)?;
                let drops_name = !bin.op.is_comparison_operator() || bin.return_bool();
                let (kind, labels) = match (lhs.kind, rhs.kind) {
                    (Kind::Scalar, Kind::Scalar) => (Kind::Scalar, BTreeSet::new()),
                    (Kind::Vector, Kind::Scalar) => (Kind::Vector, name_if(lhs.labels.clone(), !drops_name)),
                    (Kind::Scalar, Kind::Vector) => (Kind::Vector, name_if(rhs.labels.clone(), !drops_name)),
                    (Kind::Vector, Kind::Vector) => (Kind::Vector, vector_labels(bin, &lhs, &rhs, drops_name)),
                    (l, r) => {
                        return Err(PromError::BadData(format!(
                            "binary operator {} is not defined between {} and {}",
                            bin.op,
                            l.type_name(),
                            r.type_name()
                        )));
                    }
                };
                self.node(op, kind, vec![lhs, rhs], labels)
            }
            Expr::Call(call) => self.call(call, steps),
            Expr::Extension(_) => Err(PromError::BadData("extension expressions are not supported".into())),
        }
    }

    /// The plan of a function call.
    fn call(&self, call: &promql_parser::parser::Call, steps: Range) -> Result<Planned> {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|a| unparen(a)).collect();
        if name == "timestamp"
            && let Some(Expr::VectorSelector(vs)) = args.first()
        {
            // The time of the point each step picks, not of the step.
            let lookback = self.ctx.options.lookback_delta_ms;
            let (scan, labels) = SeriesScan::try_new(self.ctx, vs, steps, lookback, false)?;
            let at = self.ctx.at_time(vs.at.as_ref());
            let offset = offset_ms(vs.offset.as_ref());
            let scan =
                self.node(scan, Kind::Matrix(Window { range: lookback, offset, at }), Vec::new(), labels.clone())?;
            let instant = Instant { steps, at, offset, lookback, timestamps: true };
            return self.node(instant, Kind::Vector, vec![scan], without_name(labels));
        }
        if name.starts_with("sort") && self.ctx.query.step != 0 {
            let at = self.ctx.position(name);
            self.ctx.warn(format!(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels{at}"
            ));
        }
        let inputs = args.iter().map(|a| self.plan(a, steps)).collect::<Result<Vec<_>>>()?;
        let vectors = || {
            inputs.iter().filter(|i| matches!(i.kind, Kind::Vector | Kind::Matrix(_))).flat_map(|i| i.labels.clone())
        };
        if let Some(udf) = PromRangeUdf::new(name) {
            let Some(window) = inputs.iter().find_map(|i| if let Kind::Matrix(w) = i.kind { Some(w) } else { None })
            else {
                return Err(PromError::BadData(format!("{name} needs a range vector")));
            };
            let labels = name_if(vectors().collect(), range_functions::keeps_name(name));
            let op = RangeFunction { name, udf, first_arg: args.first().map(|a| a.to_string()), steps, window };
            return self.node(op, Kind::Vector, inputs, labels);
        }
        let op = Function::new(call, steps);
        let strings: Vec<String> = args
            .iter()
            .filter_map(|a| if let Expr::StringLiteral(s) = a { Some(s.val.clone()) } else { None })
            .collect();
        let labels: BTreeSet<String> = match name {
            "absent" | "absent_over_time" => op.absent_labels.iter().map(|(n, _)| n.to_owned()).collect(),
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => vectors().collect(),
            "label_replace" | "label_join" => vectors().chain(strings.first().cloned()).collect(),
            "histogram_quantile" | "histogram_fraction" => {
                vectors().filter(|l| l != "le" && l != METRIC_NAME).collect()
            }
            "histogram_quantiles" => {
                vectors().filter(|l| l != "le" && l != METRIC_NAME).chain(strings.first().cloned()).collect()
            }
            _ => without_name(vectors().collect()),
        };
        let kind = match call.func.return_type {
            promql_parser::parser::value::ValueType::Scalar => Kind::Scalar,
            promql_parser::parser::value::ValueType::String => Kind::String,
            _ => Kind::Vector,
        };
        self.node(op, kind, inputs, labels)
    }

    fn leaf(&self, op: Literal, kind: Kind) -> Result<Planned> {
        self.node(op, kind, Vec::new(), BTreeSet::new())
    }

    fn node(
        &self,
        op: impl super::node::Operator,
        kind: Kind,
        inputs: Vec<Planned>,
        labels: BTreeSet<String>,
    ) -> Result<Planned> {
        let plan = PromNode::plan(op, kind, inputs.into_iter().map(|i| i.plan).collect(), self.ctx)?;
        Ok(Planned { plan, kind, labels })
    }
}

/// The labels without the metric name.
fn without_name(mut labels: BTreeSet<String>) -> BTreeSet<String> {
    labels.remove(METRIC_NAME);
    labels
}

/// The labels, the metric name kept only if `keep`.
fn name_if(labels: BTreeSet<String>, keep: bool) -> BTreeSet<String> {
    if keep { labels } else { without_name(labels) }
}

/// The labels of a binary operator between two vectors (see
/// `binary::result_labels`).
fn vector_labels(
    bin: &promql_parser::parser::BinaryExpr,
    lhs: &Planned,
    rhs: &Planned,
    drops_name: bool,
) -> BTreeSet<String> {
    if bin.op.is_set_operator() {
        return if bin.op.id() == T_LOR {
            lhs.labels.union(&rhs.labels).cloned().collect()
        } else {
            lhs.labels.clone()
        };
    }
    let m = bin.modifier.clone().unwrap_or_default();
    let (many, include) = match &m.card {
        VectorMatchCardinality::OneToMany(include) => (&rhs.labels, Some(include)),
        VectorMatchCardinality::ManyToOne(include) => (&lhs.labels, Some(include)),
        _ => (&lhs.labels, None),
    };
    let mut labels = name_if(many.clone(), !drops_name);
    match (include, &m.matching) {
        (Some(include), _) => labels.extend(include.labels.iter().cloned()),
        (None, Some(LabelModifier::Include(on))) => labels.retain(|l| on.labels.contains(l)),
        (None, Some(LabelModifier::Exclude(ignoring))) => labels.retain(|l| !ignoring.labels.contains(l)),
        (None, None) => {}
    }
    labels
}
