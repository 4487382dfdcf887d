//! PromQL's float aggregations as DataFusion aggregates: `prom_sum`,
//! `prom_avg`, `prom_min`, `prom_max`, `prom_count`, `prom_group`,
//! `prom_stddev`, `prom_stdvar` over a Float64 value, and
//! `prom_quantile(q, value)`.
//!
//! One [`AggregateUDFImpl`], [`PromAggregate`], parameterised by
//! [`PromAggregation`]. Each has Prometheus's float semantics: compensated
//! sums, the running mean that turns incremental instead of overflowing,
//! `min` / `max` replacing NaN by any number, Welford's spread with a
//! non-finite first value giving NaN, the interpolated quantile. NULL
//! values are ignored and a group without a non-null value answers NULL
//! (`prom_count` too, where SQL's `count` says 0: PromQL has no sample
//! there).
//!
//! Both accumulator interfaces are implemented by one type per state
//! shape ([`float_groups`], [`quantile_groups`]), so the grouped path
//! (DataFusion's hash aggregation, and PromQL's engine, which aggregates
//! every group at every step in one call) and the single-group path share
//! their arithmetic.

mod float_groups;
mod quantile_groups;
mod slot;

use std::fmt;

use datafusion::arrow::array::{Array, BooleanArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility};

use self::float_groups::FloatGroups;
use self::quantile_groups::QuantileGroups;
use self::slot::{Count, Deviation, Extreme, Sum};
use crate::prom_float::Mean;

/// Which of PromQL's float aggregations a [`PromAggregate`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PromAggregation {
    /// `prom_sum`: the compensated sum.
    Sum,
    /// `prom_avg`: the mean, incremental once the sum would overflow.
    Avg,
    /// `prom_min`: the smallest value, NaN only if every value is.
    Min,
    /// `prom_max`: the largest value, NaN only if every value is.
    Max,
    /// `prom_count`: the number of values.
    Count,
    /// `prom_group`: 1.
    Group,
    /// `prom_stddev`: the population standard deviation.
    Stddev,
    /// `prom_stdvar`: the population variance.
    Stdvar,
    /// `prom_quantile(q, value)`: the φ-quantile, φ = the group's `q`.
    Quantile,
}

impl PromAggregation {
    /// Every aggregation.
    pub const ALL: [PromAggregation; 9] = [
        PromAggregation::Sum,
        PromAggregation::Avg,
        PromAggregation::Min,
        PromAggregation::Max,
        PromAggregation::Count,
        PromAggregation::Group,
        PromAggregation::Stddev,
        PromAggregation::Stdvar,
        PromAggregation::Quantile,
    ];

    /// The function's SQL name (`prom_sum`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PromAggregation::Sum => "prom_sum",
            PromAggregation::Avg => "prom_avg",
            PromAggregation::Min => "prom_min",
            PromAggregation::Max => "prom_max",
            PromAggregation::Count => "prom_count",
            PromAggregation::Group => "prom_group",
            PromAggregation::Stddev => "prom_stddev",
            PromAggregation::Stdvar => "prom_stdvar",
            PromAggregation::Quantile => "prom_quantile",
        }
    }

    /// A new, empty accumulator of every group: arguments `(value)`, or
    /// `(q, value)` for [`PromAggregation::Quantile`], all Float64.
    pub fn groups_accumulator(self) -> Box<dyn GroupsAccumulator> {
        self.new_accumulator()
    }

    fn new_accumulator(self) -> Box<dyn PromAccumulator> {
        match self {
            PromAggregation::Sum => Box::new(FloatGroups::<Sum>::new()),
            PromAggregation::Avg => Box::new(FloatGroups::<Mean>::new()),
            PromAggregation::Min => Box::new(FloatGroups::<Extreme<false>>::new()),
            PromAggregation::Max => Box::new(FloatGroups::<Extreme<true>>::new()),
            PromAggregation::Count => Box::new(FloatGroups::<Count<false>>::new()),
            PromAggregation::Group => Box::new(FloatGroups::<Count<true>>::new()),
            PromAggregation::Stddev => Box::new(FloatGroups::<Deviation<true>>::new()),
            PromAggregation::Stdvar => Box::new(FloatGroups::<Deviation<false>>::new()),
            PromAggregation::Quantile => Box::new(QuantileGroups::default()),
        }
    }
}

impl fmt::Display for PromAggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One accumulator type serving both interfaces, describing its state.
trait PromAccumulator: Accumulator + GroupsAccumulator {
    /// The state columns of the aggregate called `name`.
    fn state_fields(&self, name: &str) -> Vec<FieldRef>;
}

/// A nullable state column `name[part]`.
fn state_field(name: &str, part: &str, data_type: DataType) -> FieldRef {
    Field::new(format!("{name}[{part}]"), data_type, true).into()
}

/// The values of `values` a filter accepts: NULL where the value is NULL
/// or the filter does not say true.
fn accepted<'a>(values: &'a Float64Array, filter: Option<&'a BooleanArray>) -> impl Iterator<Item = Option<f64>> + 'a {
    values.iter().enumerate().map(move |(i, v)| v.filter(|_| filter.is_none_or(|f| f.is_valid(i) && f.value(i))))
}

/// A PromQL float aggregation as a DataFusion aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PromAggregate {
    op: PromAggregation,
    signature: Signature,
}

impl PromAggregate {
    /// The aggregate computing `op`.
    pub fn new(op: PromAggregation) -> Self {
        let arguments = if op == PromAggregation::Quantile { 2 } else { 1 };
        Self { op, signature: Signature::exact(vec![DataType::Float64; arguments], Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for PromAggregate {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(self.op.new_accumulator().state_fields(args.name))
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(self.op.new_accumulator())
    }

    fn groups_accumulator_supported(&self, _: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(self.op.groups_accumulator())
    }
}

/// Every PromQL float aggregation, to register.
pub fn prom_aggregates() -> impl Iterator<Item = AggregateUDF> {
    PromAggregation::ALL.into_iter().map(|op| AggregateUDF::new_from_impl(PromAggregate::new(op)))
}
