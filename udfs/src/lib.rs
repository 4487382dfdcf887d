//! Time-series functions for DataFusion, depending on DataFusion only.
//!
//! Aggregates with InfluxQL's definitions:
//! - [`spread`]: `max - min` of the non-null values (NaN ignored, as by min/max);
//! - [`percentile`]: the exact nearest-rank percentile of InfluxQL,
//!   `percentile(value, N)` with `0 < N <= 100`, returning a sample.
//!
//! Counter aggregates over `(time, value)` points, independent of the input order
//! (module `counter`), NULL for fewer than 2 points:
//! - [`increase`]: the increase of a counter, a drop counted as a reset to 0;
//! - [`rate`]: the increase per second between the first and last point;
//! - [`delta`]: the last value minus the first, for gauges;
//! - [`integral`]: InfluxQL's area under the series (trapezoids), per second by
//!   default, `(time, value[, unit_ns])`.
//!
//! [`mode`]: InfluxQL's most frequent value, the smallest on a tie.
//!
//! InfluxQL transformations, window functions over a partition the caller orders by
//! time, e.g. `derivative(v, time, 1000000000) OVER (PARTITION BY host ORDER BY time)`.
//! Rows with a NULL input are skipped, and a NULL output is a row InfluxDB would not
//! emit:
//! - [`derivative`], [`non_negative_derivative`]: change per unit of time from the
//!   previous point, `(value, time[, unit_ns])`, unit 1s by default;
//! - [`difference`], [`non_negative_difference`]: change from the previous value;
//! - [`moving_average`]: mean of the last `n` values, `(value, n)`;
//! - [`cumulative_sum`]: running sum of the values.
//!
//! Gap filling window functions, over the same ordered partitions:
//! - [`locf`]: the last non-null value carried forward;
//! - [`interpolate`]: `(time, value)`, a NULL between two points linearly interpolated
//!   by time.
//!
//! Every window function is one [`SeriesWindowUdf`] over what is its own (a
//! [`SeriesWindow`]: name, arguments, evaluator), e.g. [`GapFillUdf`] for `locf` and
//! `interpolate`.
//!
//! PromQL's arithmetic, for Chronicle's PromQL engine:
//! - [`range_function`]: the range-vector functions (`rate`, `increase`,
//!   `delta`, `irate`, `deriv`, `predict_linear`, every `*_over_time`, ...)
//!   over one step's window of points ([`RangeWindow`]);
//! - [`kahan_add`], [`Mean`], [`quantile`]: Prometheus's compensated sums,
//!   running mean and interpolated quantile, which its aggregations share.
//!
//! The range-vector functions as scalar functions ([`PromRangeUdf`]),
//! `prom_rate`, `prom_increase`, ..., `prom_quantile_over_time`: one row per
//! series, its points as lists, the answer a list with a value per step
//! (the engine calls them on every series of a range vector at once):
//!
//! ```sql
//! -- timestamps (ms), values, steps (ms), range (ms), offset (ms), @ time
//! SELECT prom_increase([0, 15000, 30000], [0.0, 1.0, 2.0], [30000], 30000, 0, NULL);
//! -- [2.0]: the window (0, 30000] holds 1.0 and 2.0, 15 s apart; the 15 s
//! -- to its start are extrapolated (the counter stays above zero)
//! SELECT prom_predict_linear(ts, vs, [60000, 120000], 60000, 0, NULL, [60.0, 0.0]) FROM series;
//! -- parameters follow `at`: a number for every step or a list, one a step
//! ```
//!
//! PromQL's float aggregations as aggregates ([`PromAggregate`], one per
//! [`PromAggregation`]): `prom_sum`, `prom_avg`, `prom_min`, `prom_max`,
//! `prom_count`, `prom_group`, `prom_stddev`, `prom_stdvar` of a value and
//! `prom_quantile(q, value)`, with Prometheus's float semantics (NULL for a
//! group without values), e.g.
//! `SELECT host, prom_sum(usage), prom_quantile(0.9, usage) FROM cpu GROUP BY host`.
//!
//! Time arguments are timestamps or integer nanoseconds; values are any numeric type,
//! computed as `Float64`. [`register_all`] adds every function to a `SessionContext`.

mod constant;
mod counter;
mod cumulative_sum;
mod derivative;
mod gap_fill;
mod mode;
mod moving_average;
mod percentile;
mod points;
mod prom_aggregate;
mod prom_float;
mod prom_range;
mod prom_range_udf;
mod series_window;
mod spread;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use counter::{Counter, CounterKind};
pub use cumulative_sum::{CumulativeSum, CumulativeSumUdf};
pub use derivative::{DerivativeKind, DerivativeUdf};
pub use gap_fill::{GapFillKind, GapFillUdf};
pub use mode::Mode;
pub use moving_average::{MovingAverage, MovingAverageUdf};
pub use percentile::Percentile;
pub use prom_aggregate::{PromAggregate, PromAggregation, prom_aggregates};
pub use prom_float::{Mean, kahan_add, quantile};
pub use prom_range::{Extrapolation, RangeFn, RangeWindow, range_function};
pub use prom_range_udf::PromRangeUdf;
pub use series_window::{SeriesWindow, SeriesWindowUdf};
pub use spread::Spread;

/// The `spread` aggregate.
pub fn spread() -> AggregateUDF {
    AggregateUDF::new_from_impl(Spread::default())
}

/// The `percentile` aggregate.
pub fn percentile() -> AggregateUDF {
    AggregateUDF::new_from_impl(Percentile::default())
}

/// The `increase(time, value)` aggregate.
pub fn increase() -> AggregateUDF {
    AggregateUDF::new_from_impl(Counter::new(CounterKind::Increase))
}

/// The `rate(time, value)` aggregate.
pub fn rate() -> AggregateUDF {
    AggregateUDF::new_from_impl(Counter::new(CounterKind::Rate))
}

/// The `delta(time, value)` aggregate.
pub fn delta() -> AggregateUDF {
    AggregateUDF::new_from_impl(Counter::new(CounterKind::Delta))
}

/// The `integral(time, value[, unit_ns])` aggregate.
pub fn integral() -> AggregateUDF {
    AggregateUDF::new_from_impl(Counter::new(CounterKind::Integral))
}

/// The `mode(value)` aggregate.
pub fn mode() -> AggregateUDF {
    AggregateUDF::new_from_impl(Mode::default())
}

/// The `derivative(value, time[, unit_ns])` window function.
pub fn derivative() -> WindowUDF {
    WindowUDF::new_from_impl(DerivativeUdf::new(DerivativeKind::Derivative))
}

/// The `non_negative_derivative(value, time[, unit_ns])` window function.
pub fn non_negative_derivative() -> WindowUDF {
    WindowUDF::new_from_impl(DerivativeUdf::new(DerivativeKind::NonNegativeDerivative))
}

/// The `difference(value)` window function.
pub fn difference() -> WindowUDF {
    WindowUDF::new_from_impl(DerivativeUdf::new(DerivativeKind::Difference))
}

/// The `non_negative_difference(value)` window function.
pub fn non_negative_difference() -> WindowUDF {
    WindowUDF::new_from_impl(DerivativeUdf::new(DerivativeKind::NonNegativeDifference))
}

/// The `moving_average(value, n)` window function.
pub fn moving_average() -> WindowUDF {
    WindowUDF::new_from_impl(MovingAverageUdf::new(MovingAverage))
}

/// The `cumulative_sum(value)` window function.
pub fn cumulative_sum() -> WindowUDF {
    WindowUDF::new_from_impl(CumulativeSumUdf::new(CumulativeSum))
}

/// The `locf(value)` window function.
pub fn locf() -> WindowUDF {
    WindowUDF::new_from_impl(GapFillUdf::new(GapFillKind::Locf))
}

/// The `interpolate(time, value)` window function.
pub fn interpolate() -> WindowUDF {
    WindowUDF::new_from_impl(GapFillUdf::new(GapFillKind::Interpolate))
}

/// Registers every function of this crate in `ctx`.
pub fn register_all(ctx: &SessionContext) {
    for udaf in [spread(), percentile(), mode(), increase(), rate(), delta(), integral()] {
        ctx.register_udaf(udaf);
    }
    for udaf in prom_aggregates() {
        ctx.register_udaf(udaf);
    }
    let window = [
        derivative(),
        non_negative_derivative(),
        difference(),
        non_negative_difference(),
        moving_average(),
        cumulative_sum(),
        locf(),
        interpolate(),
    ];
    for udwf in window {
        ctx.register_udwf(udwf);
    }
    for udf in PromRangeUdf::all() {
        ctx.register_udf(ScalarUDF::new_from_impl(udf));
    }
}
