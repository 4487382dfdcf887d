//! Native histograms: Prometheus's sparse exponential histograms (and their
//! custom-bucket form) as PromQL computes on them, with float counts.
//!
//! Buckets are sparse: spans say which bucket indexes are present (an
//! offset from the end of the previous span, then a length), and the bucket
//! vectors hold one absolute count per present index, in index order. At
//! schema `s` (-4..=8) the base is `2^(2^-s)` and positive bucket `i`
//! holds values in `(base^(i-1), base^i]`; negative buckets mirror them.
//! Observations whose magnitude is at most `zero_threshold` count in the
//! zero bucket. Schema [`CUSTOM_BUCKETS_SCHEMA`] has no exponential
//! buckets: `custom_values` are the upper bounds and positive bucket `i`
//! holds values in `(custom_values[i-1], custom_values[i]]` (the last, at
//! index `custom_values.len()`, up to `+Inf`).

mod arith;
mod buckets;
mod bytes;
mod custom;
mod equality;
mod error;
pub mod fields;
mod layout;
mod notation;
mod reset;
mod stats;

pub use arith::Combined;
pub use buckets::{Bucket, PresentBuckets, bucket_bound, exponential_bound};
pub use bytes::BadHistogramBytes;
pub use equality::spans_match;
pub use error::{HistogramError, Result};
pub use notation::{BoundaryRule, go_float};
pub use stats::StatsNote;

/// The schema of histograms with custom bucket bounds (`custom_values`).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// A run of present bucket indexes: `offset` empty indexes after the end of
/// the previous span (or from index 0 for the first), then `length`
/// present ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Indexes skipped before this span.
    pub offset: i32,
    /// Present indexes in this span.
    pub length: u32,
}

/// What a histogram says about counter resets since the previous sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterResetHint {
    /// Nothing is known: compare with the previous sample.
    #[default]
    Unknown,
    /// The counters were reset before this sample.
    CounterReset,
    /// The counters were not reset.
    NotCounterReset,
    /// A gauge histogram: counts go up and down, resets mean nothing.
    Gauge,
}

/// A native histogram with float counts (Prometheus's `FloatHistogram`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatHistogram {
    /// What the histogram says about counter resets.
    pub counter_reset_hint: CounterResetHint,
    /// The bucket resolution, -4..=8, or [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Observations of magnitude at most this count in the zero bucket.
    pub zero_threshold: f64,
    /// The zero bucket's count.
    pub zero_count: f64,
    /// The number of observations.
    pub count: f64,
    /// The sum of the observations.
    pub sum: f64,
    /// Which positive bucket indexes are present.
    pub positive_spans: Vec<Span>,
    /// Which negative bucket indexes are present.
    pub negative_spans: Vec<Span>,
    /// One absolute count per present positive index, in index order.
    pub positive_buckets: Vec<f64>,
    /// One absolute count per present negative index, in index order.
    pub negative_buckets: Vec<f64>,
    /// The upper bounds of the buckets of a custom-bucket histogram.
    pub custom_values: Vec<f64>,
}

impl FloatHistogram {
    /// Whether this histogram has custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }
}
