//! The errors of native histogram arithmetic and of the test notation.
//!
//! Messages follow Prometheus's wording where PromQL surfaces them, so
//! annotations read the same.

/// What went wrong computing on, or reading, a native histogram.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// One histogram has exponential buckets and the other custom ones.
    #[error("cannot apply this operation on histograms with a mix of exponential and custom bucket schemas")]
    MixedSchemas,
    /// The spans name more or fewer buckets than the bucket vector holds.
    #[error(
        "spans need {spans_need} buckets, have {have} buckets: histogram spans specify different number of buckets than provided"
    )]
    SpansBucketsMismatch {
        /// How many buckets the spans name.
        spans_need: usize,
        /// How many buckets the vector holds.
        have: usize,
    },
    /// A span after the first has a negative offset.
    #[error("span number {span} with offset {offset}: histogram has a span whose offset is negative")]
    NegativeSpanOffset {
        /// The 1-based number of the offending span.
        span: usize,
        /// Its offset.
        offset: i32,
    },
    /// Resolution can only go down, and only between exponential schemas.
    #[error("cannot reduce resolution from schema {from} to {to}")]
    CannotReduceResolution {
        /// The histogram's schema.
        from: i32,
        /// The schema asked for.
        to: i32,
    },
    /// The test notation `{{...}}` is malformed.
    #[error("histogram description at byte {at}: {message}")]
    Notation {
        /// The byte offset in the input where the problem is.
        at: usize,
        /// What is wrong there.
        message: String,
    },
}

/// The result of histogram operations.
pub type Result<T, E = HistogramError> = std::result::Result<T, E>;
