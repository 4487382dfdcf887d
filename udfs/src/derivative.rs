//! InfluxQL's `derivative`, `non_negative_derivative`, `difference` and
//! `non_negative_difference`: the change between each row and the previous point of
//! its window partition, which the caller orders by time, e.g.
//! `derivative(v, time, 1000000000) OVER (PARTITION BY host ORDER BY time)`.
//!
//! With `prev` the last earlier row whose inputs are all non-null:
//! - `derivative(value, time[, unit])` is `(v - v_prev) / ((t - t_prev) / unit)`,
//!   `unit` in nanoseconds, 1 second if omitted;
//! - `difference(value)` is `v - v_prev`;
//! - the `non_negative_` variants are NULL where the result is negative.
//!
//! The output is NULL (InfluxDB emits no row) on rows with a NULL input, on the first
//! point of the partition, and, for the derivatives, on a row whose time equals
//! `t_prev`: as in InfluxDB the first point of a timestamp is kept and later ones at
//! that time are ignored, so they do not become `prev`.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::PartitionEvaluator;
use datafusion::logical_expr::function::PartitionEvaluatorArgs;

use crate::constant::positive_integer;
use crate::points::{coerce_integer, coerce_time, coerce_value, elapsed_nanos, time_at, times, value_at, values};
use crate::series_window::{SeriesWindow, SeriesWindowUdf};

/// One second in nanoseconds, the default unit of a derivative.
const SECOND_NANOS: i64 = 1_000_000_000;

/// Which change a [`DerivativeUdf`] window function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivativeKind {
    /// `derivative(value, time[, unit])`: change per `unit` nanoseconds.
    Derivative,
    /// `non_negative_derivative(value, time[, unit])`: the derivative, NULL where negative.
    NonNegativeDerivative,
    /// `difference(value)`: change from the previous value.
    Difference,
    /// `non_negative_difference(value)`: the difference, NULL where negative.
    NonNegativeDifference,
}

impl DerivativeKind {
    fn per_time(self) -> bool {
        matches!(self, Self::Derivative | Self::NonNegativeDerivative)
    }

    fn non_negative(self) -> bool {
        matches!(self, Self::NonNegativeDerivative | Self::NonNegativeDifference)
    }
}

/// The InfluxQL derivative and difference window functions, one per [`DerivativeKind`].
pub type DerivativeUdf = SeriesWindowUdf<DerivativeKind>;

impl SeriesWindow for DerivativeKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Derivative => "derivative",
            Self::NonNegativeDerivative => "non_negative_derivative",
            Self::Difference => "difference",
            Self::NonNegativeDifference => "non_negative_difference",
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        match (self.per_time(), arg_types) {
            (true, [value, time]) => Ok(vec![coerce_value(name, value)?, coerce_time(name, time)?]),
            (true, [value, time, unit]) => {
                Ok(vec![coerce_value(name, value)?, coerce_time(name, time)?, coerce_integer(name, "unit", unit)?])
            }
            (true, _) => plan_err!("{name}(value, time[, unit]) takes 2 or 3 arguments, got {}", arg_types.len()),
            (false, [value]) => Ok(vec![coerce_value(name, value)?]),
            (false, _) => plan_err!("{name}(value) takes 1 argument, got {}", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let name = self.name();
        let unit = match (self.per_time(), args.input_exprs().len()) {
            (false, _) => None,
            (true, 2) => Some(SECOND_NANOS),
            (true, _) => Some(positive_integer(args.input_exprs(), 2, &format!("{name}(value, time, unit): unit"))?),
        };
        Ok(Box::new(DerivativeEvaluator { kind: *self, unit_nanos: unit.map(|u| u as f64) }))
    }
}

#[derive(Debug)]
struct DerivativeEvaluator {
    kind: DerivativeKind,
    /// The unit of a derivative; `None` for a difference, which ignores time.
    unit_nanos: Option<f64>,
}

impl PartitionEvaluator for DerivativeEvaluator {
    fn evaluate_all(&mut self, args: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let name = self.kind.name();
        let vs = values(name, args.first(), num_rows)?;
        let ts = self.unit_nanos.map(|_| times(name, args.get(1), num_rows)).transpose()?;
        let mut out = Float64Builder::with_capacity(num_rows);
        // The previous point; a difference has no time and uses 0 for every row.
        let mut prev: Option<(i64, f64)> = None;
        for i in 0..num_rows {
            let t = match &ts {
                Some(ts) => time_at(ts, i),
                None => Some(0),
            };
            let Some((t, v)) = t.zip(value_at(vs, i)) else {
                out.append_null();
                continue;
            };
            // As in InfluxDB only the first point of a timestamp counts: a later one
            // at the same time gives no row and does not become `prev`.
            if self.unit_nanos.is_some() && prev.is_some_and(|(prev_t, _)| prev_t == t) {
                out.append_null();
                continue;
            }
            let change = prev.map(|(prev_t, prev_v)| match self.unit_nanos {
                Some(unit) => (v - prev_v) / (elapsed_nanos(prev_t, t) / unit),
                None => v - prev_v,
            });
            prev = Some((t, v));
            out.append_option(change.filter(|&c| !(self.kind.non_negative() && c < 0.0)));
        }
        Ok(Arc::new(out.finish()))
    }
}
