//! The Prometheus remote write 1.0 and remote read protobuf messages
//! (`prompb/remote.proto`, `prompb/types.proto`), written with
//! `prost::Message` derives: the field numbers and types are the wire format
//! and must not change.
//!
//! The write path reads requests in place (`remote_write`); these types
//! encode them (tests, clients) and carry remote read. Fields Chronicle
//! does not use (exemplars' labels, metadata help text) decode and are
//! ignored.

/// `prometheus.WriteRequest`: the body of `POST /api/v1/write`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit); not stored.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: one series' labels and samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, in time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars; not stored.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples; refused by remote write (see the module docs).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a value at a millisecond timestamp.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (a staleness marker is a NaN with a fixed bit pattern).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// The exemplar's own labels (a trace id, say).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The exemplar value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Histogram`, a native histogram sample: integer counts
/// (`count_int`, `zero_count_int`, bucket deltas) or float counts (the
/// `_float` fields, absolute bucket counts). Each pair of `count` and
/// `zero_count` fields is a oneof in the schema; on the wire an optional
/// field is the same.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// The observation count of an integer histogram.
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    /// The observation count of a float histogram.
    #[prost(double, optional, tag = "2")]
    pub count_float: Option<f64>,
    /// The sum of the observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// The resolution: -4..=8, or -53 for custom bounds.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// The zero bucket's half width.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// The zero bucket's count, integer histogram.
    #[prost(uint64, optional, tag = "6")]
    pub zero_count_int: Option<u64>,
    /// The zero bucket's count, float histogram.
    #[prost(double, optional, tag = "7")]
    pub zero_count_float: Option<f64>,
    /// Present negative buckets.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts as deltas (integer histogram).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Negative bucket counts (float histogram).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Present positive buckets.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts as deltas (integer histogram).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Positive bucket counts (float histogram).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// 0 unknown, 1 reset, 2 no reset, 3 gauge.
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// The bucket bounds of a custom-bucket histogram.
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// `prometheus.BucketSpan`: `length` present buckets after `offset` absent ones.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct BucketSpan {
    /// Buckets skipped before this span.
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Buckets in this span.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// The metric type (`MetricMetadata.MetricType`: 0 unknown, 1 counter,
    /// 2 gauge, 3 histogram, 4 gauge histogram, 5 summary, 6 info, 7 stateset).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `prometheus.ReadRequest`: the body of `POST /api/v1/read`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The queries, answered in order.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, best first (see [`ResponseType`]);
    /// empty means samples.
    #[prost(enumeration = "ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `prometheus.ReadRequest.ResponseType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResponseType {
    /// A [`ReadResponse`] of samples, snappy block compressed.
    Samples = 0,
    /// A stream of XOR chunks (not served by Chronicle).
    StreamedXorChunks = 1,
}

/// `prometheus.Query`: series matching every matcher, between two times.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// Inclusive start, milliseconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// Inclusive end, milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// The label matchers; a series must satisfy all of them.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// What the querying engine will do with the data; a hint only.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// `prometheus.LabelMatcher`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LabelMatcher {
    /// How to match (see [`MatcherType`]).
    #[prost(enumeration = "MatcherType", tag = "1")]
    pub r#type: i32,
    /// The label name (`__name__` for the metric).
    #[prost(string, tag = "2")]
    pub name: String,
    /// The value or the regular expression (anchored at both ends).
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.LabelMatcher.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MatcherType {
    /// `=`
    Eq = 0,
    /// `!=`
    Neq = 1,
    /// `=~`
    Re = 2,
    /// `!~`
    Nre = 3,
}

/// `prometheus.ReadHints`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ReadHints {
    /// Query step, milliseconds.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The function applied to the selection, if any.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start of the selection, milliseconds.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End of the selection, milliseconds.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Labels of a surrounding aggregation.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (else `without`).
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// The range of a range selector, milliseconds.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// `prometheus.ReadResponse`: one result per query, in query order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// The results.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`: the series one query selected.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// The series with their samples in the query's range.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}
