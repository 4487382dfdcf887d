//! Time-series functions for DataFusion, depending on DataFusion only.
//!
//! Aggregates with InfluxQL's definitions:
//! - [`spread`]: `max - min` of the non-null values (NaN ignored, as by min/max);
//! - [`percentile`]: the exact nearest-rank percentile of InfluxQL,
//!   `percentile(value, N)` with `0 < N <= 100`, returning a sample.
//!
//! [`register_all`] adds every function to a `SessionContext`.

mod percentile;
mod spread;

use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::SessionContext;

pub use percentile::Percentile;
pub use spread::Spread;

/// The `spread` aggregate.
pub fn spread() -> AggregateUDF {
    AggregateUDF::new_from_impl(Spread::default())
}

/// The `percentile` aggregate.
pub fn percentile() -> AggregateUDF {
    AggregateUDF::new_from_impl(Percentile::default())
}

/// Registers every function of this crate in `ctx`.
pub fn register_all(ctx: &SessionContext) {
    ctx.register_udaf(spread());
    ctx.register_udaf(percentile());
}
