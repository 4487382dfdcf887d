//! InfluxQL's `moving_average(value, n)`: the mean of the last `n` non-null values of
//! the window partition, which the caller orders by time.
//!
//! The output is NULL on rows with a NULL value and until `n` non-null values have
//! been seen (InfluxDB emits no row there). `n` must be an integer constant `>= 1`.
//! The mean is summed afresh from the `n` values of each row, `O(n)` per row, so a
//! large value or a NaN/±Inf leaving the window leaves no rounding error or poison
//! behind, as a running sum would.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::PartitionEvaluator;
use datafusion::logical_expr::function::PartitionEvaluatorArgs;

use crate::constant::positive_integer;
use crate::points::{coerce_integer, coerce_value, value_at, values};
use crate::series_window::{SeriesWindow, SeriesWindowUdf};

const NAME: &str = "moving_average";

/// The `moving_average` window function.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovingAverage;

/// [`MovingAverage`] as a window UDF.
pub type MovingAverageUdf = SeriesWindowUdf<MovingAverage>;

impl SeriesWindow for MovingAverage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value, n] => Ok(vec![coerce_value(NAME, value)?, coerce_integer(NAME, "n", n)?]),
            _ => plan_err!("{NAME}(value, n) takes 2 arguments, got {}", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let n = positive_integer(args.input_exprs(), 1, "moving_average(value, n): n")?;
        let Ok(n) = usize::try_from(n) else { return plan_err!("{NAME}(value, n): n = {n} is too large") };
        Ok(Box::new(MovingAverageEvaluator { n }))
    }
}

#[derive(Debug)]
struct MovingAverageEvaluator {
    n: usize,
}

impl PartitionEvaluator for MovingAverageEvaluator {
    fn evaluate_all(&mut self, args: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let vs = values(NAME, args.first(), num_rows)?;
        let mut out = Float64Builder::with_capacity(num_rows);
        let mut window = VecDeque::with_capacity(self.n.min(num_rows));
        for i in 0..num_rows {
            let Some(v) = value_at(vs, i) else {
                out.append_null();
                continue;
            };
            if window.len() == self.n {
                window.pop_front();
            }
            window.push_back(v);
            let full = window.len() == self.n;
            out.append_option(full.then(|| window.iter().sum::<f64>() / self.n as f64));
        }
        Ok(Arc::new(out.finish()))
    }
}
