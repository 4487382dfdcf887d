//! `spread(value)`: the largest minus the smallest non-null value.
//!
//! NaN is ignored (as by `min` / `max`); NULL if no non-NaN value was seen.

use std::fmt::Debug;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// The `spread` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Spread {
    signature: Signature,
}

impl Default for Spread {
    fn default() -> Self {
        Self { signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for Spread {
    fn name(&self) -> &str {
        "spread"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Field::new(format!("{}[min]", args.name), DataType::Float64, true).into(),
            Field::new(format!("{}[max]", args.name), DataType::Float64, true).into(),
        ])
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SpreadAccumulator::default()))
    }
}

#[derive(Debug, Default)]
struct SpreadAccumulator {
    /// (min, max) of the non-NaN values seen.
    bounds: Option<(f64, f64)>,
}

impl SpreadAccumulator {
    fn add(&mut self, lo: f64, hi: f64) {
        if lo.is_nan() || hi.is_nan() {
            return;
        }
        self.bounds = Some(self.bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }

    fn add_values(&mut self, values: &ArrayRef) {
        for v in values.as_primitive::<Float64Type>().iter().flatten() {
            self.add(v, v);
        }
    }
}

impl Accumulator for SpreadAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if let Some(values) = values.first() {
            self.add_values(values);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [mins, maxes] = states else { return Ok(()) };
        let (mins, maxes) = (mins.as_primitive::<Float64Type>(), maxes.as_primitive::<Float64Type>());
        for i in 0..mins.len() {
            if mins.is_valid(i) && maxes.is_valid(i) {
                self.add(mins.value(i), maxes.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (lo, hi) = self.bounds.unzip();
        Ok(vec![ScalarValue::Float64(lo), ScalarValue::Float64(hi)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.bounds.map(|(lo, hi)| hi - lo)))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}
