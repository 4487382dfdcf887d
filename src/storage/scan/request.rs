//! What a scan reads: the public [`ScanRequest`] with its value ranges
//! ([`FieldRange`]), and what only the SQL planner asks of a scan
//! ([`ScanOptions`], [`TopBuckets`]).

use std::collections::BTreeSet;

use crate::storage::matcher::TagMatcher;
use crate::storage::time_bucket::TimeBucket;

/// What to read. Build it with [`ScanRequest::new`] and the `with_*` methods.
///
/// A row is a (series, timestamp) at which any field of the measurement has
/// a value, whatever the request returns; fields without a value there are
/// null. [`ScanRequest::with_present`] keeps only rows where some of the
/// named fields have a value (InfluxQL's rows).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanRequest {
    /// The measurement.
    pub measurement: String,
    /// Conditions every series must meet.
    pub matchers: Vec<TagMatcher>,
    /// Tag columns to return, in order; `None` for every tag key the
    /// measurement has when the scan starts, sorted. A named tag that no
    /// series has is a column of nulls.
    pub tags: Option<Vec<String>>,
    /// Fields to return, in order; `None` for all of the measurement's,
    /// sorted. A named field the measurement lacks is a column of nulls.
    pub fields: Option<Vec<String>>,
    /// Earliest timestamp, inclusive.
    pub start: i64,
    /// Latest timestamp, inclusive.
    pub end: i64,
    /// Conditions a row must meet, each "at least one of these fields has a
    /// value here".
    pub present: Vec<Vec<String>>,
    /// Value ranges a row must meet: chunks whose stats rule them out are
    /// not read, and rows without a value of the field or clearly outside a
    /// range are dropped. NaN and zeros are kept: SQL engines order them
    /// differently, so the caller filters the rows exactly.
    pub field_ranges: Vec<FieldRange>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
}

impl ScanRequest {
    /// Every series, field and time of `measurement`.
    pub fn new(measurement: impl Into<String>) -> Self {
        Self {
            measurement: measurement.into(),
            matchers: Vec::new(),
            tags: None,
            fields: None,
            start: i64::MIN,
            end: i64::MAX,
            present: Vec::new(),
            field_ranges: Vec::new(),
            limit: None,
        }
    }

    /// Adds a tag matcher.
    pub fn with_matcher(mut self, matcher: TagMatcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// Returns only these tag columns, in this order.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Returns only these fields, in this order.
    pub fn with_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Keeps `start <= time <= end`.
    pub fn with_time_range(mut self, start: i64, end: i64) -> Self {
        (self.start, self.end) = (start, end);
        self
    }

    /// Keeps rows where at least one of `fields` has a value. Each call
    /// adds a condition that must hold too.
    pub fn with_present<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.present.push(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Keeps rows whose value of `range.field` may lie in the range (see
    /// [`ScanRequest::field_ranges`]).
    pub fn with_field_range(mut self, range: FieldRange) -> Self {
        self.field_ranges.push(range);
        self
    }

    /// Stops after `rows` rows.
    pub fn with_limit(mut self, rows: usize) -> Self {
        self.limit = Some(rows);
        self
    }
}

/// A range of values of one field, each bound with whether it is inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRange {
    /// The field.
    pub field: String,
    /// Lower bound and whether it is inclusive.
    pub lower: Option<(f64, bool)>,
    /// Upper bound and whether it is inclusive.
    pub upper: Option<(f64, bool)>,
}

impl FieldRange {
    /// Values of `field` within the bounds.
    pub fn new(field: impl Into<String>, lower: Option<(f64, bool)>, upper: Option<(f64, bool)>) -> Self {
        Self { field: field.into(), lower, upper }
    }

    /// Whether a chunk column with these min/max stats may hold a value in
    /// range. A column that may hold NaN (`maybe_nan`; min/max skip NaN)
    /// rules nothing out, whatever order a caller gives NaN, and a zero
    /// bound stands for either zero.
    pub fn admits(&self, min: f64, max: f64, maybe_nan: bool) -> bool {
        if maybe_nan || min.is_nan() || max.is_nan() {
            return true;
        }
        let (min, max) = (if min == 0.0 { -0.0 } else { min }, if max == 0.0 { 0.0 } else { max });
        let above = |(x, inclusive): (f64, bool)| max.total_cmp(&x).is_gt() || (inclusive && max.total_cmp(&x).is_eq());
        let below = |(x, inclusive): (f64, bool)| min.total_cmp(&x).is_lt() || (inclusive && min.total_cmp(&x).is_eq());
        self.lower.is_none_or(above) && self.upper.is_none_or(below)
    }

    /// Whether a row with value `v` may meet the range: in range by IEEE
    /// comparison, or NaN or a zero (which orders differently under
    /// totalOrder). The caller's filter decides those exactly.
    pub(crate) fn may_hold(&self, v: f64) -> bool {
        let above = |(x, inclusive): (f64, bool)| v > x || (inclusive && v == x);
        let below = |(x, inclusive): (f64, bool)| v < x || (inclusive && v == x);
        v.is_nan() || v == 0.0 || (self.lower.is_none_or(above) && self.upper.is_none_or(below))
    }
}

/// What the SQL planner asks of a scan beyond a [`ScanRequest`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanOptions {
    /// A pushed condition no row can meet: the scan reads nothing.
    pub never: bool,
    /// Return only the latest row of each series (the limit counts those).
    pub latest: bool,
    /// Only rows of these time buckets are needed: the scan may drop rows
    /// of later (or earlier) buckets; see [`TopBuckets`].
    pub top_buckets: Option<TopBuckets>,
    /// Within each time partition, rows sorted by (returned tags, time):
    /// series whose returned tags are equal (they differ in a tag not
    /// returned) are merged by time.
    pub sorted: bool,
}

/// The first `count` non-empty time buckets, newest or oldest first: what
/// `GROUP BY date_bin(..) ORDER BY .. DESC LIMIT count` reads. Chunk time
/// bounds, head points and (read when planning, from the partitions at the
/// cut's side inward) chunk timestamps are times known to hold rows; when
/// they cover `count` buckets, rows beyond the `count`-th of those cannot be
/// among the first `count` buckets, and the scan's range is cut there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopBuckets {
    /// The buckets.
    pub bucket: TimeBucket,
    /// How many buckets are read.
    pub count: usize,
    /// Newest first (else oldest first).
    pub newest: bool,
}

impl TopBuckets {
    /// The range `start..=end` cut to the first `count` buckets among
    /// those of `known` (times known to hold rows, all within the range).
    pub(crate) fn cut(&self, known: impl IntoIterator<Item = i64>, start: i64, end: i64) -> (i64, i64) {
        let buckets: BTreeSet<i64> = known.into_iter().filter_map(|t| self.bucket.of(t)).collect();
        let k = self.count.saturating_sub(1);
        let nth = if self.newest { buckets.iter().rev().nth(k) } else { buckets.iter().nth(k) };
        match (nth, self.newest) {
            (None, _) => (start, end),
            (Some(&b), true) => (start.max(b), end),
            (Some(&b), false) => (start, end.min(b.saturating_add(self.bucket.stride - 1))),
        }
    }
}
