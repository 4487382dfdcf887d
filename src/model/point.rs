//! What callers write: single-value [`Point`]s and multi-field [`Row`]s.

use super::VALUE_FIELD;

/// One sample of one metric: the field `value` of the series `metric{tags}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The metric (measurement) name.
    pub metric: String,
    /// Tag key/value pairs, in any order; keys must be distinct.
    pub tags: Vec<(String, String)>,
    /// The value; NaN and ±Inf are stored as given.
    pub value: f64,
    /// Nanoseconds since the Unix epoch (UTC).
    pub timestamp: i64,
}

impl Point {
    /// A point without tags.
    pub fn new(metric: impl Into<String>, value: f64, timestamp: i64) -> Self {
        Self { metric: metric.into(), tags: Vec::new(), value, timestamp }
    }

    /// The point with one more tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }
}

/// Several fields of one series at one timestamp (an Influx line-protocol line).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The measurement name.
    pub measurement: String,
    /// Tag key/value pairs, in any order; keys must be distinct.
    pub tags: Vec<(String, String)>,
    /// Field name/value pairs; at least one, names distinct.
    pub fields: Vec<(String, f64)>,
    /// Nanoseconds since the Unix epoch (UTC).
    pub timestamp: i64,
}

impl Row {
    /// A row without tags or fields.
    pub fn new(measurement: impl Into<String>, timestamp: i64) -> Self {
        Self { measurement: measurement.into(), tags: Vec::new(), fields: Vec::new(), timestamp }
    }

    /// The row with one more tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The row with one more field.
    pub fn with_field(mut self, name: impl Into<String>, value: f64) -> Self {
        self.fields.push((name.into(), value));
        self
    }
}

/// What the write path needs of a row, so points and rows share it.
pub trait WriteRow {
    /// The measurement name.
    fn measurement(&self) -> &str;
    /// The tags, as given.
    fn tags(&self) -> impl Iterator<Item = (&str, &str)>;
    /// The timestamp in nanoseconds.
    fn timestamp(&self) -> i64;
    /// How many fields the row carries.
    fn field_count(&self) -> usize;
    /// Field `i` as (name, value).
    fn field(&self, i: usize) -> (&str, f64);
}

impl WriteRow for Point {
    fn measurement(&self) -> &str {
        &self.metric
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn field_count(&self) -> usize {
        1
    }
    fn field(&self, _: usize) -> (&str, f64) {
        (VALUE_FIELD, self.value)
    }
}

impl WriteRow for Row {
    fn measurement(&self) -> &str {
        &self.measurement
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn field_count(&self) -> usize {
        self.fields.len()
    }
    fn field(&self, i: usize) -> (&str, f64) {
        let (name, value) = &self.fields[i];
        (name, *value)
    }
}
