//! `increase`, `rate` and `delta`: how much a series changed over the group, from
//! its `(time, value)` points, without extrapolation to the group's bounds.
//!
//! With the points sorted by time, `v_0 .. v_k`:
//! - `increase(time, value)` is the sum over `i >= 1` of `v_i - v_{i-1}` when
//!   `v_i >= v_{i-1}`, else `v_i`: a drop is a counter reset, the counter restarted
//!   from 0 and counted `v_i` since;
//! - `rate(time, value)` is `increase / ((t_k - t_0) in seconds)`, NULL when
//!   `t_k == t_0`;
//! - `delta(time, value)` is `v_k - v_0`, for gauges (no reset handling);
//! - `integral(time, value[, unit_ns])` is InfluxQL's area under the series by
//!   trapezoids, `sum((v_i + v_{i-1}) / 2 * (t_i - t_{i-1}) / unit)`, unit 1 s by
//!   default: 0 for a single point.
//!
//! Each other is NULL for fewer than 2 points. Rows with a NULL time or value are not
//! points. The result does not depend on the input order: points are buffered and
//! sorted by `(time, value)` at evaluation, the value breaking ties between equal
//! times. The state is the list of times and the list of values, so partial states
//! merge by concatenation.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::constant::positive_integer;
use crate::points::{coerce_integer, coerce_time, coerce_value, elapsed_nanos, time_at, times, value_at, values};

/// One second in nanoseconds, the default unit of an integral.
const SECOND_NANOS: i64 = 1_000_000_000;

/// Which change a [`Counter`] aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterKind {
    /// `increase(time, value)`: the counter's increase, resets counted from 0.
    Increase,
    /// `rate(time, value)`: the increase per second between the first and last point.
    Rate,
    /// `delta(time, value)`: last value minus first value.
    Delta,
    /// `integral(time, value[, unit_ns])`: the area under the series per unit.
    Integral,
}

impl CounterKind {
    fn name(self) -> &'static str {
        match self {
            Self::Increase => "increase",
            Self::Rate => "rate",
            Self::Delta => "delta",
            Self::Integral => "integral",
        }
    }

    /// The result over `points` sorted by `(time, value)`; `unit` is the integral's.
    fn evaluate(self, points: &[(i64, f64)], unit: i64) -> Option<f64> {
        let (&(t0, v0), &(tk, vk)) = (points.first()?, points.last()?);
        if self == Self::Integral {
            let steps = points.iter().zip(points.iter().skip(1));
            return Some(
                steps.map(|(&(ta, va), &(tb, vb))| (va + vb) / 2.0 * elapsed_nanos(ta, tb) / unit as f64).sum(),
            );
        }
        if points.len() < 2 {
            return None;
        }
        match self {
            Self::Increase => Some(increase(points)),
            Self::Rate => {
                let seconds = elapsed_nanos(t0, tk) / 1e9;
                (seconds != 0.0).then(|| increase(points) / seconds)
            }
            Self::Delta => Some(vk - v0),
            Self::Integral => None,
        }
    }
}

fn increase(points: &[(i64, f64)]) -> f64 {
    let steps = points.iter().zip(points.iter().skip(1));
    steps.map(|(&(_, prev), &(_, v))| if v >= prev { v - prev } else { v }).sum()
}

/// The `increase`, `rate` and `delta` aggregates, one per [`CounterKind`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Counter {
    kind: CounterKind,
    signature: Signature,
}

impl Counter {
    /// The aggregate computing `kind`.
    pub fn new(kind: CounterKind) -> Self {
        Self { kind, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for Counter {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.kind.name();
        match arg_types {
            [time, value] => Ok(vec![coerce_time(name, time)?, coerce_value(name, value)?]),
            [time, value, unit] if self.kind == CounterKind::Integral => {
                Ok(vec![coerce_time(name, time)?, coerce_value(name, value)?, coerce_integer(name, "unit", unit)?])
            }
            _ => plan_err!("{name}(time, value) takes 2 arguments, got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t| DataType::List(Field::new_list_field(t, true).into());
        Ok(vec![
            Field::new(format!("{}[times]", args.name), list(DataType::Int64), true).into(),
            Field::new(format!("{}[values]", args.name), list(DataType::Float64), true).into(),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let unit = match args.exprs.len() {
            3 => positive_integer(args.exprs, 2, "integral(time, value, unit_ns): unit_ns")?,
            _ => SECOND_NANOS,
        };
        Ok(Box::new(CounterAccumulator { kind: self.kind, unit, points: Vec::new() }))
    }
}

#[derive(Debug)]
struct CounterAccumulator {
    kind: CounterKind,
    /// The integral's unit in nanoseconds.
    unit: i64,
    /// The `(time, value)` points seen, in input order until `evaluate` sorts them.
    points: Vec<(i64, f64)>,
}

impl CounterAccumulator {
    /// Adds the points of a time column and a value column.
    fn add(&mut self, times_column: &ArrayRef, values_column: &ArrayRef) -> Result<()> {
        let (name, rows) = (self.kind.name(), times_column.len());
        let (ts, vs) = (times(name, Some(times_column), rows)?, values(name, Some(values_column), rows)?);
        self.points.extend((0..rows).filter_map(|i| Some((time_at(&ts, i)?, value_at(vs, i)?))));
        Ok(())
    }
}

impl Accumulator for CounterAccumulator {
    fn update_batch(&mut self, args: &[ArrayRef]) -> Result<()> {
        let [times_column, values_column, ..] = args else {
            return exec_err!("{}: expected 2 arguments, got {}", self.kind.name(), args.len());
        };
        self.add(times_column, values_column)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = self.kind.name();
        let [time_lists, value_lists] = states else {
            return exec_err!("{name}: expected 2 state columns, got {}", states.len());
        };
        let (Some(time_lists), Some(value_lists)) = (time_lists.as_list_opt::<i32>(), value_lists.as_list_opt::<i32>())
        else {
            return exec_err!("{name}: the state columns are not lists");
        };
        for (t, v) in time_lists.iter().zip(value_lists.iter()) {
            if let (Some(t), Some(v)) = (t, v) {
                self.add(&t, &v)?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (times, values): (Vec<i64>, Vec<f64>) = self.points.iter().copied().unzip();
        Ok(vec![
            SingleRowListArrayBuilder::new(Arc::new(Int64Array::from(times))).build_list_scalar(),
            SingleRowListArrayBuilder::new(Arc::new(Float64Array::from(values))).build_list_scalar(),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.points.sort_unstable_by(|(t1, v1), (t2, v2)| t1.cmp(t2).then(v1.total_cmp(v2)));
        Ok(ScalarValue::Float64(self.kind.evaluate(&self.points, self.unit)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.points.capacity() * size_of::<(i64, f64)>()
    }
}
