//! `percentile(value, N)`: InfluxQL's exact nearest-rank percentile.
//!
//! With the `n` non-null values sorted, the result is the value at index
//! `floor(n * N / 100 + 0.5) - 1`; NULL if that index is outside `0..n`
//! (no values, or `N` too small). `N` must be a literal in `(0, 100]`.
//! NaN values sort last (total order), as a sample they can be returned.
//!
//! Its accumulator, [`SampleAccumulator`], keeps every value (state: one list,
//! merged by concatenation) and picks one sample at the end; `mode` uses it too.

use std::fmt::Debug;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::constant::literal;

/// The `percentile` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Percentile {
    signature: Signature,
}

impl Default for Percentile {
    fn default() -> Self {
        Self { signature: Signature::exact(vec![DataType::Float64, DataType::Float64], Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for Percentile {
    fn name(&self) -> &str {
        "percentile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(sample_state(&args))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let n = match literal(args.exprs, 1).map(|v| v.cast_to(&DataType::Float64)) {
            Some(Ok(ScalarValue::Float64(Some(n)))) if n > 0.0 && n <= 100.0 => n,
            _ => return plan_err!("percentile(value, N) needs a literal N with 0 < N <= 100"),
        };
        Ok(Box::new(SampleAccumulator::new(Sample::Percentile(n))))
    }
}

/// The state of a [`SampleAccumulator`]: the list of values.
pub(crate) fn sample_state(args: &StateFieldsArgs) -> Vec<FieldRef> {
    let item = Field::new_list_field(DataType::Float64, true);
    vec![Field::new(format!("{}[values]", args.name), DataType::List(item.into()), true).into()]
}

/// Which value a [`SampleAccumulator`] returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample {
    /// The nearest-rank percentile N.
    Percentile(f64),
    /// The most frequent value, the smallest among equally frequent ones.
    Mode,
}

/// Keeps every non-null value and returns one of them.
#[derive(Debug)]
pub(crate) struct SampleAccumulator {
    pick: Sample,
    values: Vec<f64>,
}

impl SampleAccumulator {
    /// An empty accumulator returning `pick`.
    pub(crate) fn new(pick: Sample) -> Self {
        Self { pick, values: Vec::new() }
    }

    fn percentile(&mut self, n: f64) -> Option<f64> {
        let len = self.values.len();
        let rank = (len as f64 * n / 100.0 + 0.5).floor() as i64 - 1;
        if rank < 0 || rank as usize >= len {
            return None;
        }
        let (_, v, _) = self.values.select_nth_unstable_by(rank as usize, f64::total_cmp);
        Some(*v)
    }

    fn mode(&mut self) -> Option<f64> {
        self.values.sort_unstable_by(f64::total_cmp);
        let mut best: Option<(f64, usize)> = None;
        for run in self.values.chunk_by(|a, b| a.total_cmp(b).is_eq()) {
            if best.is_none_or(|(_, count)| run.len() > count) {
                best = Some((run[0], run.len()));
            }
        }
        best.map(|(v, _)| v)
    }
}

impl Accumulator for SampleAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(values) = values.first() {
            self.values.extend(values.as_primitive::<Float64Type>().iter().flatten());
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if let Some(lists) = states.first() {
            for list in lists.as_list::<i32>().iter().flatten() {
                self.update_batch(&[list])?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let offsets = OffsetBuffer::from_lengths([values.len()]);
        let item = std::sync::Arc::new(Field::new_list_field(DataType::Float64, true));
        let list = ListArray::new(item, offsets, std::sync::Arc::new(values), None);
        Ok(vec![ScalarValue::List(std::sync::Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = match self.pick {
            Sample::Percentile(n) => self.percentile(n),
            Sample::Mode => self.mode(),
        };
        Ok(ScalarValue::Float64(v))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.capacity() * size_of::<f64>()
    }
}
