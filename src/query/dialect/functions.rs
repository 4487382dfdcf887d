//! The dialect's functions and their DataFusion expressions.
//!
//! Aggregates follow InfluxQL: `count`, `sum`, `mean`, `median` (mean of the
//! two middle values), `mode` (most frequent, the smallest on a tie), `min`,
//! `max`, `first`, `last`, `spread`, `stddev` (sample), `percentile(f, N)`
//! (nearest rank), `integral(f[, unit])` (trapezoids, per second by default),
//! and the Chronicle extension `rate(f)`: `(last - first)` divided by the
//! bucket's length in seconds. `first`, `last`, `min`, `max` and
//! `percentile` are selectors: alone in a query without `GROUP BY time` they
//! report their point's time (with `GROUP BY time`, the bucket start). Ties
//! at a percentile's rank are ranked by time, which is what InfluxDB 1.6
//! reports for windows of up to 12 points (Go's `sort.Sort` is an insertion
//! sort there); beyond, its unstable sort picks among equal values by an
//! order that depends on the Go release it was built with.
//! As in InfluxDB, a `count` over no point of its field is null where the
//! row exists for another aggregate (the default `fill(null)` makes it 0).
//!
//! Transformations, applied per series in time order to a field or an
//! aggregate: `derivative(x[, unit])`, `non_negative_derivative(x[, unit])`,
//! `difference(x)`, `non_negative_difference(x)`, `moving_average(x, n)`,
//! `cumulative_sum(x)`.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::functions::expr_fn::floor;
use datafusion::functions_aggregate::array_agg::array_agg_udaf;
use datafusion::functions_aggregate::expr_fn::{avg, count, max, median, min, stddev, sum};
use datafusion::functions_aggregate::first_last::{first_value_udaf, last_value_udaf};
use datafusion::functions_nested::expr_fn::{array_element, array_length};
use datafusion::logical_expr::{AggregateUDF, SortExpr};
use datafusion::logical_expr::{ExprFunctionExt, cast, lit};
use datafusion::prelude::Expr as DfExpr;

use super::ast::Expr;
use super::error::{Result, SyntaxError};
use crate::query::gap_fill::ColumnFill;

/// One second in nanoseconds: the default unit of `integral` and `derivative`.
const SECOND: i64 = 1_000_000_000;

/// An aggregate of the dialect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// `count(f)`
    Count,
    /// `sum(f)`
    Sum,
    /// `mean(f)`
    Mean,
    /// `median(f)`
    Median,
    /// `mode(f)`
    Mode,
    /// `min(f)`
    Min,
    /// `max(f)`
    Max,
    /// `first(f)`
    First,
    /// `last(f)`
    Last,
    /// `spread(f)`
    Spread,
    /// `stddev(f)`
    Stddev,
    /// `percentile(f, N)`
    Percentile(f64),
    /// `integral(f[, unit])`, unit in nanoseconds.
    Integral(i64),
    /// `rate(f)`
    Rate,
}

impl Aggregate {
    /// The aggregate called `name` with `extra` arguments after its field;
    /// `None` if `name` is no aggregate.
    pub fn parse(name: &str, extra: &[Expr], at: usize) -> Result<Option<Self>> {
        let simple = match name {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "mean" => Aggregate::Mean,
            "median" => Aggregate::Median,
            "mode" => Aggregate::Mode,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "first" => Aggregate::First,
            "last" => Aggregate::Last,
            "spread" => Aggregate::Spread,
            "stddev" => Aggregate::Stddev,
            "rate" => Aggregate::Rate,
            "percentile" => {
                return match extra {
                    [Expr::Number(n)] if *n > 0.0 && *n <= 100.0 => Ok(Some(Aggregate::Percentile(*n))),
                    _ => Err(SyntaxError::new(at, "percentile takes a field and a number N with 0 < N <= 100")),
                };
            }
            "integral" => {
                return match extra {
                    [] => Ok(Some(Aggregate::Integral(SECOND))),
                    [Expr::Duration(unit)] if *unit > 0 => Ok(Some(Aggregate::Integral(*unit))),
                    _ => Err(SyntaxError::new(at, "integral takes a field and optionally a positive unit such as 1m")),
                };
            }
            _ => return Ok(None),
        };
        if !extra.is_empty() {
            return Err(SyntaxError::new(at, format!("{name} takes one argument, a field")));
        }
        Ok(Some(simple))
    }

    /// The output column name InfluxDB gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Mode => "mode",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::First => "first",
            Aggregate::Last => "last",
            Aggregate::Spread => "spread",
            Aggregate::Stddev => "stddev",
            Aggregate::Percentile(_) => "percentile",
            Aggregate::Integral(_) => "integral",
            Aggregate::Rate => "rate",
        }
    }

    /// What an empty bucket shows under the default `fill(null)`.
    pub fn empty(&self) -> ColumnFill {
        match self {
            Aggregate::Count => ColumnFill::value(0.0),
            _ => ColumnFill::Null,
        }
    }

    /// The DataFusion aggregate of `field` (with `time`, over buckets of `seconds`).
    pub fn expr(&self, field: DfExpr, time: DfExpr, seconds: f64) -> DfResult<DfExpr> {
        let present = field.clone().is_not_null();
        // InfluxDB breaks a tie in time (points of several series) by the larger value.
        let by_time =
            |value_ascending: bool| vec![time.clone().sort(true, false), field.clone().sort(value_ascending, false)];
        Ok(match self {
            Aggregate::Count => count(field),
            Aggregate::Sum => sum(field),
            Aggregate::Mean => avg(field),
            Aggregate::Median => median(field),
            Aggregate::Mode => udaf(chronicle_udfs::mode(), vec![field]),
            Aggregate::Min => min(field),
            Aggregate::Max => max(field),
            Aggregate::First => ordered(first_value_udaf(), field.clone(), by_time(false), present)?,
            Aggregate::Last => ordered(last_value_udaf(), field.clone(), by_time(true), present)?,
            Aggregate::Spread => udaf(chronicle_udfs::spread(), vec![field]),
            Aggregate::Stddev => stddev(field),
            Aggregate::Percentile(n) => udaf(chronicle_udfs::percentile(), vec![field, lit(*n)]),
            Aggregate::Integral(unit) => udaf(chronicle_udfs::integral(), vec![time, field, lit(*unit)]),
            Aggregate::Rate => {
                let first = ordered(first_value_udaf(), field.clone(), by_time(false), present.clone())?;
                let last = ordered(last_value_udaf(), field.clone(), by_time(true), present)?;
                (last - first) / lit(seconds)
            }
        })
    }

    /// It selects one of its points (`first`, `last`, `min`, `max`,
    /// `percentile`): alone in a query without `GROUP BY time`, its row
    /// shows that point's time.
    pub fn is_selector(&self) -> bool {
        matches!(self, Aggregate::First | Aggregate::Last | Aggregate::Min | Aggregate::Max | Aggregate::Percentile(_))
    }

    /// For a selector, the aggregate [`Aggregate::selected_time`] reads the
    /// time of its point from: among equal values the earliest for `min` and
    /// `max`; for `percentile`, the point at the nearest rank with equal
    /// values ranked by time.
    pub fn selector_time(&self, field: DfExpr, time: DfExpr) -> Option<DfResult<DfExpr>> {
        let present = field.clone().is_not_null();
        let at_extreme = |descending: bool| {
            let order = vec![field.clone().sort(!descending, false), time.clone().sort(true, false)];
            ordered(first_value_udaf(), time.clone(), order, present.clone())
        };
        Some(match self {
            Aggregate::First => min(time.clone()).filter(present).build(),
            Aggregate::Last => max(time.clone()).filter(present).build(),
            Aggregate::Min => at_extreme(false),
            Aggregate::Max => at_extreme(true),
            // Every time, in the order of the values (then of time); the rank picks one.
            Aggregate::Percentile(_) => {
                let order = vec![field.clone().sort(true, false), time.clone().sort(true, false)];
                ordered(array_agg_udaf(), time.clone(), order, present)
            }
            _ => return None,
        })
    }

    /// The selected point's time, from the column of [`Aggregate::selector_time`].
    pub fn selected_time(&self, selected: DfExpr) -> DfExpr {
        match self {
            Aggregate::Percentile(n) => {
                // The 1-based nearest rank floor(count * N / 100 + 0.5), computed as
                // InfluxDB and the `percentile` aggregate do; out of range, null.
                let count = cast(array_length(selected.clone()), DataType::Float64);
                let rank = floor(count * lit(*n) / lit(100.0) + lit(0.5));
                array_element(selected, cast(rank, DataType::Int64))
            }
            _ => selected,
        }
    }
}

fn udaf(f: AggregateUDF, args: Vec<DfExpr>) -> DfExpr {
    f.call(args)
}

/// `f(arg ORDER BY order) FILTER (WHERE filter)`, built in one go: a second
/// builder over a built call would drop its ORDER BY.
fn ordered(f: Arc<AggregateUDF>, arg: DfExpr, order: Vec<SortExpr>, filter: DfExpr) -> DfResult<DfExpr> {
    f.call(vec![arg]).order_by(order).filter(filter).build()
}

/// A transformation of the dialect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// `derivative` or `non_negative_derivative`, per `unit` nanoseconds.
    Derivative {
        /// The time unit; by default the bucket width of an aggregate, else 1 s.
        unit: Option<i64>,
        /// Negative results dropped.
        non_negative: bool,
    },
    /// `difference` or `non_negative_difference`.
    Difference {
        /// Negative results dropped.
        non_negative: bool,
    },
    /// `moving_average(x, n)`.
    MovingAverage(i64),
    /// `cumulative_sum(x)`.
    CumulativeSum,
}

impl Transform {
    /// The transformation called `name` with `extra` arguments after the
    /// transformed one; `None` if `name` is none.
    pub fn parse(name: &str, extra: &[Expr], at: usize) -> Result<Option<Self>> {
        let non_negative = name.starts_with("non_negative_");
        Ok(Some(match (name, extra) {
            ("derivative" | "non_negative_derivative", []) => Transform::Derivative { unit: None, non_negative },
            ("derivative" | "non_negative_derivative", [Expr::Duration(unit)]) if *unit > 0 => {
                Transform::Derivative { unit: Some(*unit), non_negative }
            }
            ("derivative" | "non_negative_derivative", _) => {
                return Err(SyntaxError::new(
                    at,
                    format!("{name} takes a field or an aggregate and optionally a unit such as 1s"),
                ));
            }
            ("difference" | "non_negative_difference", []) => Transform::Difference { non_negative },
            ("moving_average", [Expr::Number(n)]) if *n >= 1.0 && n.fract() == 0.0 => {
                Transform::MovingAverage(*n as i64)
            }
            ("moving_average", _) => {
                return Err(SyntaxError::new(
                    at,
                    "moving_average takes a field or an aggregate and a whole number n >= 1",
                ));
            }
            ("cumulative_sum", []) => Transform::CumulativeSum,
            ("difference" | "non_negative_difference" | "cumulative_sum", _) => {
                return Err(SyntaxError::new(at, format!("{name} takes one argument, a field or an aggregate")));
            }
            _ => return Ok(None),
        }))
    }

    /// The output column name InfluxDB gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Derivative { non_negative: false, .. } => "derivative",
            Transform::Derivative { non_negative: true, .. } => "non_negative_derivative",
            Transform::Difference { non_negative: false } => "difference",
            Transform::Difference { non_negative: true } => "non_negative_difference",
            Transform::MovingAverage(_) => "moving_average",
            Transform::CumulativeSum => "cumulative_sum",
        }
    }

    /// How many buckets before the first one InfluxDB reads for it: one for
    /// every transformation but `cumulative_sum`, whatever a moving average's n.
    pub fn lookback(&self) -> i64 {
        match *self {
            Transform::Derivative { .. } | Transform::Difference { .. } | Transform::MovingAverage(_) => 1,
            Transform::CumulativeSum => 0,
        }
    }

    /// The window function call (without its partitioning and order) over
    /// `value` and `time`; `bucket` is the width of aggregated buckets.
    pub fn call(&self, value: DfExpr, time: DfExpr, bucket: Option<i64>) -> DfExpr {
        let (f, args) = match *self {
            Transform::Derivative { unit, non_negative } => {
                let unit = unit.or(bucket).unwrap_or(SECOND);
                let f =
                    if non_negative { chronicle_udfs::non_negative_derivative() } else { chronicle_udfs::derivative() };
                (f, vec![value, time, lit(unit)])
            }
            Transform::Difference { non_negative } => {
                let f =
                    if non_negative { chronicle_udfs::non_negative_difference() } else { chronicle_udfs::difference() };
                (f, vec![value])
            }
            Transform::MovingAverage(n) => (chronicle_udfs::moving_average(), vec![value, lit(n)]),
            Transform::CumulativeSum => (chronicle_udfs::cumulative_sum(), vec![value]),
        };
        Arc::new(f).call(args)
    }
}
