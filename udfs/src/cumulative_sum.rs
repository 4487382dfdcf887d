//! InfluxQL's `cumulative_sum(value)`: the running sum of the non-null values of the
//! window partition, which the caller orders by time.
//!
//! The output is NULL on rows with a NULL value (InfluxDB emits no row there); those
//! rows add nothing to the sum.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::PartitionEvaluator;
use datafusion::logical_expr::function::PartitionEvaluatorArgs;

use crate::points::{coerce_value, value_at, values};
use crate::series_window::{SeriesWindow, SeriesWindowUdf};

const NAME: &str = "cumulative_sum";

/// The `cumulative_sum` window function.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CumulativeSum;

/// [`CumulativeSum`] as a window UDF.
pub type CumulativeSumUdf = SeriesWindowUdf<CumulativeSum>;

impl SeriesWindow for CumulativeSum {
    fn name(&self) -> &'static str {
        NAME
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value] => Ok(vec![coerce_value(NAME, value)?]),
            _ => plan_err!("{NAME}(value) takes 1 argument, got {}", arg_types.len()),
        }
    }

    fn partition_evaluator(&self, _: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(CumulativeSumEvaluator))
    }
}

#[derive(Debug)]
struct CumulativeSumEvaluator;

impl PartitionEvaluator for CumulativeSumEvaluator {
    fn evaluate_all(&mut self, args: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let vs = values(NAME, args.first(), num_rows)?;
        let mut out = Float64Builder::with_capacity(num_rows);
        let mut sum = 0.0;
        for i in 0..num_rows {
            out.append_option(value_at(vs, i).map(|v| {
                sum += v;
                sum
            }));
        }
        Ok(Arc::new(out.finish()))
    }
}
