//! Answering a `GROUP BY time` query from a downsampling rollup
//! ([`crate::rollup`]) instead of the raw data, exactly.
//!
//! A rule of the queried measurement answers when (checked in this order,
//! rules with the widest window first):
//! - the query groups by `time(every[, offset])` with `every` a multiple of
//!   the rule's window and `offset` a multiple of it too, so every bucket
//!   is a union of whole windows;
//! - every aggregate is derivable from the rule's fields: `mean` as
//!   `sum(<f>_sum) / sum(<f>_count)` (never a mean of means), `count` as
//!   `sum(<f>_count)`, `sum`, `min`, `max` as the same aggregate of
//!   `<f>_sum`, `<f>_min`, `<f>_max`, and `last` as the `<f>_last` of the
//!   latest window, only when the query groups by every tag (each group one
//!   series: the time of a window's last point is not kept, so across
//!   series it is unknown which is latest). Anything else stays on raw;
//! - WHERE compares only tags and `time`;
//! - the time range starts and ends on window boundaries (or is open);
//! - the target has the source's tag keys and the fields the query needs;
//! - under `chronicle.rollup = 'auto'`, the rollup covers the range: it is
//!   bounded above, ends before the rule's rolled horizon, and no window in
//!   it waits for recomputation. (Raw data older than a retention period is
//!   covered by the same test: it was rolled before it expired.)
//!
//! The rollup's rows sit at their window's start, so the buckets, the data
//! range of an open-ended query and `fill()` come out as from raw data.
//! `EXPLAIN` shows the table read in its `TableScan`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::cast;
use datafusion::prelude::{Expr as DfExpr, ident};

use super::ast::{Cond, Operand, Select};
use super::condition::TimeRange;
use super::functions::Aggregate;
use super::planner::TIME;
use super::select_list::{Columns, SelectList, Value};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::RollupMode;
use crate::rollup::{RollupAggregate, RollupRule};

/// What the aggregates of a query read.
#[derive(Debug, Clone)]
pub(super) enum AggregateInput {
    /// The raw fields of the measurement.
    Raw,
    /// The fields of a rollup.
    Rollup(RollupRule),
}

impl AggregateInput {
    /// The measurement the scan reads, for a query of `from`.
    pub fn table<'a>(&'a self, from: &'a str) -> &'a str {
        match self {
            AggregateInput::Raw => from,
            AggregateInput::Rollup(rule) => rule.target(),
        }
    }

    /// The column that has a value wherever `field` has one. A rollup
    /// writes every aggregate of a field in a window that had a value, so
    /// any of them answers; `count` first (a mean and a count read it
    /// anyway, and whole numbers decode fastest), `mean` last (the one
    /// aggregate whose values are not the source's decimals).
    pub fn present(&self, field: &str) -> DfExpr {
        match self {
            AggregateInput::Raw => ident(field),
            AggregateInput::Rollup(rule) => {
                use RollupAggregate as A;
                let column =
                    [A::Count, A::Sum, A::Min, A::Max, A::Last, A::Mean].into_iter().find(|&a| rule.computes(a));
                ident(column.unwrap_or(A::Count).field_name(field))
            }
        }
    }

    /// `agg` of `field` (with `time`, over buckets of `seconds`).
    pub fn expr(&self, agg: Aggregate, field: &str, seconds: f64) -> DfResult<DfExpr> {
        let AggregateInput::Rollup(_) = self else { return agg.expr(ident(field), ident(TIME), seconds) };
        let column = |a: RollupAggregate| ident(a.field_name(field));
        Ok(match agg {
            Aggregate::Mean => sum(column(RollupAggregate::Sum)) / sum(column(RollupAggregate::Count)),
            Aggregate::Count => cast(sum(column(RollupAggregate::Count)), DataType::Int64),
            Aggregate::Sum => sum(column(RollupAggregate::Sum)),
            Aggregate::Min => agg.expr(column(RollupAggregate::Min), ident(TIME), seconds)?,
            Aggregate::Max => agg.expr(column(RollupAggregate::Max), ident(TIME), seconds)?,
            Aggregate::Last => agg.expr(column(RollupAggregate::Last), ident(TIME), seconds)?,
            // `choose` admits no other aggregate.
            other => other.expr(ident(field), ident(TIME), seconds)?,
        })
    }
}

/// The rollup fields `agg` is computed from; `None` if it is not derivable.
fn needs(agg: Aggregate) -> Option<&'static [RollupAggregate]> {
    Some(match agg {
        Aggregate::Mean => &[RollupAggregate::Sum, RollupAggregate::Count],
        Aggregate::Count => &[RollupAggregate::Count],
        Aggregate::Sum => &[RollupAggregate::Sum],
        Aggregate::Min => &[RollupAggregate::Min],
        Aggregate::Max => &[RollupAggregate::Max],
        Aggregate::Last => &[RollupAggregate::Last],
        _ => return None,
    })
}

/// What one query needs of a rollup.
pub(super) struct Query<'a> {
    pub select: &'a Select,
    pub list: &'a SelectList,
    pub columns: &'a Columns,
    pub groups: &'a [String],
    /// The time range the plan scans.
    pub range: TimeRange,
}

/// Where the aggregates of an aggregating `GROUP BY time` query read, under `mode`.
pub(super) fn choose(db: &Db, mode: RollupMode, q: &Query<'_>) -> Result<AggregateInput> {
    if mode == RollupMode::Off {
        return Ok(AggregateInput::Raw);
    }
    let mut rules: Vec<&RollupRule> = db.rollup_rules().iter().filter(|r| r.source() == q.select.from).collect();
    rules.sort_by_key(|r| std::cmp::Reverse(r.window()));
    let mut refusals = Vec::new();
    for rule in rules {
        match answers(db, rule, mode, q)? {
            Ok(()) => return Ok(AggregateInput::Rollup(rule.clone())),
            Err(why) => refusals.push(format!("{}: {why}", rule.target())),
        }
    }
    match mode {
        RollupMode::On if refusals.is_empty() => {
            Err(Error::InvalidArgument(format!("chronicle.rollup = 'on': {} has no rollup rule", q.select.from)))
        }
        RollupMode::On => Err(Error::InvalidArgument(format!(
            "chronicle.rollup = 'on': no rollup answers this query ({})",
            refusals.join("; ")
        ))),
        _ => Ok(AggregateInput::Raw),
    }
}

/// `Ok(())` if `rule` answers the query exactly, else why not.
fn answers(db: &Db, rule: &RollupRule, mode: RollupMode, q: &Query<'_>) -> Result<Result<(), String>> {
    let w = rule.window_ns();
    let Some(buckets) = q.select.group_by.time else { return Ok(Err("no GROUP BY time".into())) };
    if buckets.every % w != 0 || buckets.offset.rem_euclid(w) != 0 {
        return Ok(Err("the GROUP BY time interval is not made of whole windows".into()));
    }
    let mut fields = Vec::new();
    for term in &q.list.terms {
        let Value::Agg(agg, field) = &term.value else { return Ok(Err("a raw value is selected".into())) };
        let Some(parts) = needs(*agg) else { return Ok(Err(format!("{} is not derivable", agg.name()))) };
        if let Some(missing) = parts.iter().find(|p| !rule.computes(**p)) {
            return Ok(Err(format!("{} needs {}, not computed", agg.name(), missing.suffix())));
        }
        if *agg == Aggregate::Last && !q.columns.tags.iter().all(|t| q.groups.contains(t)) {
            return Ok(Err("last is derivable only per series (GROUP BY every tag)".into()));
        }
        fields.extend(parts.iter().map(|p| p.field_name(field)));
    }
    if let Some(cond) = &q.select.condition
        && let Some(name) = field_in(cond, q.columns)
    {
        return Ok(Err(format!("WHERE reads field {name}")));
    }
    let aligned = |t: i64| t.rem_euclid(w) == 0;
    if q.range.start.is_some_and(|s| !aligned(s)) || q.range.end.is_some_and(|e| !aligned(e.wrapping_add(1))) {
        return Ok(Err("the time range does not start and end on window boundaries".into()));
    }
    if !db.has_measurement(rule.target())? {
        return Ok(Err("nothing rolled yet".into()));
    }
    let tags: std::collections::BTreeSet<String> = db.tag_keys(Some(rule.target()))?.into_iter().collect();
    if tags != q.columns.tags {
        return Ok(Err("its tag keys differ from the source's".into()));
    }
    let have = db.fields(rule.target())?;
    if let Some(missing) = fields.iter().find(|f| !have.contains(f)) {
        return Ok(Err(format!("it has no field {missing}")));
    }
    if mode == RollupMode::Auto {
        let Some(coverage) = db.rollup_status(rule.target())? else { return Ok(Err("no such rule".into())) };
        let Some(end) = q.range.end else { return Ok(Err("the time range is open-ended".into())) };
        if end >= coverage.rolled_to {
            return Ok(Err("the time range reaches past what is rolled".into()));
        }
        let start = q.range.start.unwrap_or(i64::MIN);
        if coverage.dirty.range(rule.window_of(start)..=end).next().is_some() {
            return Ok(Err("a window in the range waits for recomputation".into()));
        }
    }
    Ok(Ok(()))
}

/// A field `cond` compares, if any (tags and `time` are fine).
fn field_in<'a>(cond: &'a Cond, columns: &Columns) -> Option<&'a str> {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => field_in(a, columns).or_else(|| field_in(b, columns)),
        Cond::Cmp { lhs, rhs, .. } => [lhs, rhs].into_iter().find_map(|o| match o {
            Operand::Ident(name) if !name.eq_ignore_ascii_case(TIME) && !columns.tags.contains(name) => {
                Some(name.as_str())
            }
            _ => None,
        }),
    }
}
