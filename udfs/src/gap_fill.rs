//! Gap filling over a window partition the caller orders by time: `locf` and
//! `interpolate` replace NULL values from their non-null neighbours.
//!
//! - `locf(value)`: the last non-null value carried forward; NULL before the first.
//! - `interpolate(time, value)`: a NULL value between two points (rows whose time and
//!   value are non-null) `(t_a, v_a)` and `(t_b, v_b)` becomes
//!   `v_a + (v_b - v_a) * (t - t_a) / (t_b - t_a)`, or `v_a` when `t_a == t_b`.
//!   Leading and trailing NULLs, and NULL values whose own time is NULL, stay NULL.
//!
//! Non-null values are returned unchanged by both.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::PartitionEvaluator;
use datafusion::logical_expr::function::PartitionEvaluatorArgs;

use crate::points::{coerce_time, coerce_value, elapsed_nanos, time_at, times, value_at, values};
use crate::series_window::{SeriesWindow, SeriesWindowUdf};

/// Which gap filling a [`GapFillUdf`] window function does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapFillKind {
    /// `locf(value)`: last observation carried forward.
    Locf,
    /// `interpolate(time, value)`: linear interpolation by time between points.
    Interpolate,
}

/// The `locf` and `interpolate` window functions, one per [`GapFillKind`].
pub type GapFillUdf = SeriesWindowUdf<GapFillKind>;

impl SeriesWindow for GapFillKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Locf => "locf",
            Self::Interpolate => "interpolate",
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        match (self, arg_types) {
            (Self::Locf, [value]) => Ok(vec![coerce_value(name, value)?]),
            (Self::Locf, _) => plan_err!("{name}(value) takes 1 argument, got {}", arg_types.len()),
            (Self::Interpolate, [time, value]) => Ok(vec![coerce_time(name, time)?, coerce_value(name, value)?]),
            (Self::Interpolate, _) => plan_err!("{name}(time, value) takes 2 arguments, got {}", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, _: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(GapFillEvaluator { kind: *self }))
    }
}

#[derive(Debug)]
struct GapFillEvaluator {
    kind: GapFillKind,
}

impl PartitionEvaluator for GapFillEvaluator {
    fn evaluate_all(&mut self, args: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let name = self.kind.name();
        match self.kind {
            GapFillKind::Locf => Ok(Arc::new(locf(values(name, args.first(), num_rows)?))),
            GapFillKind::Interpolate => {
                let ts = times(name, args.first(), num_rows)?;
                Ok(Arc::new(interpolate(&ts, values(name, args.get(1), num_rows)?)))
            }
        }
    }
}

fn locf(vs: &Float64Array) -> Float64Array {
    let mut last = None;
    vs.iter()
        .map(|v| {
            last = v.or(last);
            last
        })
        .collect()
}

fn interpolate(ts: &Int64Array, vs: &Float64Array) -> Float64Array {
    let mut out: Vec<Option<f64>> = vs.iter().collect();
    let point = |i| Some((time_at(ts, i)?, value_at(vs, i)?));
    let points: Vec<(usize, (i64, f64))> = (0..vs.len()).filter_map(|i| Some((i, point(i)?))).collect();
    for (&(a, (ta, va)), &(b, (tb, vb))) in points.iter().zip(points.iter().skip(1)) {
        let span = elapsed_nanos(ta, tb);
        let gap = a + 1..b;
        for (i, slot) in gap.clone().zip(&mut out[gap]) {
            if slot.is_none()
                && let Some(t) = time_at(ts, i)
            {
                *slot = Some(if span == 0.0 { va } else { va + (vb - va) * (elapsed_nanos(ta, t) / span) });
            }
        }
    }
    Float64Array::from(out)
}
