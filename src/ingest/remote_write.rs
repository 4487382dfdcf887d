//! Prometheus remote write 1.0 -> [`Row`]s, or [`Samples`] that write
//! without a copy of the labels: the protobuf is read in place
//! ([`super::protobuf`]), names borrowed from the decompressed bytes.
//!
//! The body is a snappy block ([`super::snappy`]) holding a protobuf
//! [`WriteRequest`]. Each sample becomes one row:
//!
//! - measurement: the `__name__` label (required, non-empty);
//! - tags: every other label; a label with an empty value is the same as no
//!   label in Prometheus, so it is left out;
//! - field `value`: the sample value, bit for bit, so staleness markers
//!   (the NaN [`STALE_NAN_BITS`]) stay markers;
//! - timestamp: the sample's milliseconds times 10^6.
//!
//! Refused, with the series and label or sample named: a series without
//! `__name__`, duplicate label names, names Chronicle does not accept
//! (`crate::model`, which also refuses the reserved `__tenant__`),
//! and timestamps whose nanoseconds overflow i64. Native histogram samples
//! (integer or float) become rows of the histogram fields
//! ([`crate::model::histogram::fields`]); one whose spans and counts
//! disagree is refused. Exemplars and metadata are accepted and not stored.

use super::protobuf::{FIXED64, LEN, Reader, VARINT};
use super::remote_write_histogram::histogram;
use super::{Error, Result, snappy};
use crate::Row;
use crate::model::histogram::fields::to_fields;
use crate::model::{VALUE_FIELD, WriteRow, validate_measurement, validate_tag};

/// The label that holds the metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// The bit pattern of Prometheus's staleness marker, a NaN that says "this
/// series ended here"; other NaNs are ordinary values.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Parses a remote-write body whose decompressed size may be at most
/// `max_decoded_len` bytes, into owned rows.
pub fn parse(body: &[u8], max_decoded_len: usize) -> Result<Vec<Row>> {
    let bytes = snappy::decompress(body, max_decoded_len)?;
    let samples = samples(&bytes)?;
    Ok(samples
        .views()
        .map(|s| Row {
            measurement: s.measurement.to_owned(),
            tags: s.tags.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
            fields: (0..s.field_count()).map(|i| s.field(i)).map(|(n, v)| (n.to_owned(), v)).collect(),
            timestamp: s.timestamp,
        })
        .collect())
}

/// The checked samples of a decompressed request, names borrowed from its
/// bytes: each series' name and tags are read and checked once, and
/// writing the samples as [`SampleRow`] views allocates nothing per label.
#[derive(Debug, Default)]
pub struct Samples<'a> {
    /// Measurement and range of `tags` of each series.
    series: Vec<(&'a str, std::ops::Range<usize>)>,
    /// The tags of every series, back to back.
    tags: Vec<(&'a str, &'a str)>,
    /// (series index, nanoseconds, value) of each sample, in request order.
    points: Vec<(u32, i64, f64)>,
    /// (series index, nanoseconds, fields) of each native histogram sample.
    histograms: Vec<(u32, i64, HistogramFields)>,
}

/// A native histogram as the fields of its row.
type HistogramFields = Vec<(String, f64)>;

impl Samples<'_> {
    /// How many samples (floats and histograms).
    pub fn len(&self) -> usize {
        self.points.len() + self.histograms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each sample as a row borrowing its series' names: the floats, then
    /// the histograms.
    pub fn views(&self) -> impl Iterator<Item = SampleRow<'_>> {
        let floats = self.points.iter().map(|&(s, timestamp, value)| self.row(s, timestamp, value, &[]));
        floats.chain(self.histograms.iter().map(|(s, timestamp, fields)| self.row(*s, *timestamp, 0.0, fields)))
    }

    /// A sample of series `s` as a row.
    fn row<'s>(&'s self, s: u32, timestamp: i64, value: f64, fields: &'s [(String, f64)]) -> SampleRow<'s> {
        let (measurement, tags) = &self.series[s as usize];
        SampleRow { measurement, tags: &self.tags[tags.clone()], timestamp, value, fields }
    }
}

/// One sample as a row: its series' names borrowed, the field `value` (or
/// a histogram's fields).
#[derive(Debug, Clone, Copy)]
pub struct SampleRow<'a> {
    /// The metric name.
    pub measurement: &'a str,
    /// The other labels with a value.
    pub tags: &'a [(&'a str, &'a str)],
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// The value, bit for bit.
    pub value: f64,
    /// A native histogram's fields; empty for a float sample.
    pub fields: &'a [(String, f64)],
}

impl WriteRow for SampleRow<'_> {
    fn measurement(&self) -> &str {
        self.measurement
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().copied()
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn field_count(&self) -> usize {
        if self.fields.is_empty() { 1 } else { self.fields.len() }
    }
    fn field(&self, i: usize) -> (&str, f64) {
        match self.fields.get(i) {
            Some((name, value)) => (name, *value),
            None => (VALUE_FIELD, self.value),
        }
    }
}

/// Reads and checks the samples of a decompressed `WriteRequest` (fields:
/// 1 `timeseries`, 3 `metadata`, skipped), see the module docs for the
/// mapping. Unknown fields are skipped, as protobuf readers do.
pub fn samples(bytes: &[u8]) -> Result<Samples<'_>> {
    let mut out = Samples::default();
    let mut labels: Vec<(&str, &str)> = Vec::new();
    let mut request = Reader::new(bytes);
    let mut i = 0usize;
    while !request.done() {
        match request.key()? {
            (1, wire) => {
                request.expect(1, wire, LEN)?;
                series(i, request.bytes()?, &mut labels, &mut out)?;
                i += 1;
            }
            (_, wire) => request.skip(wire)?,
        }
    }
    Ok(out)
}

/// Reads series `i` (`TimeSeries`: 1 labels, 2 samples, 3 exemplars
/// (skipped), 4 native histograms) into `out`.
fn series<'a>(i: usize, bytes: &'a [u8], labels: &mut Vec<(&'a str, &'a str)>, out: &mut Samples<'a>) -> Result<()> {
    let index = u32::try_from(out.series.len())
        .map_err(|_| Error::item(format!("timeseries[{i}]"), "more than 2^32 series in one request"))?;
    labels.clear();
    let first_point = out.points.len();
    let first_histogram = out.histograms.len();
    let mut message = Reader::new(bytes);
    while !message.done() {
        match message.key()? {
            (1, wire) => {
                message.expect(1, wire, LEN)?;
                labels.push(label(message.bytes()?)?);
            }
            (2, wire) => {
                message.expect(2, wire, LEN)?;
                let k = out.points.len() - first_point;
                let (value, ms) = sample(message.bytes()?)?;
                let timestamp = ms.checked_mul(1_000_000).ok_or_else(|| {
                    Error::item(
                        format!("timeseries[{i}].samples[{k}].timestamp"),
                        format!("{ms} ms overflows 64-bit nanoseconds"),
                    )
                })?;
                out.points.push((index, timestamp, value));
            }
            (4, wire) => {
                message.expect(4, wire, LEN)?;
                let at = format!("timeseries[{i}].histograms[{}]", out.histograms.len() - first_histogram);
                let (ms, h) = histogram(&at, message.bytes()?)?;
                let timestamp = ms.checked_mul(1_000_000).ok_or_else(|| {
                    Error::item(format!("{at}.timestamp"), format!("{ms} ms overflows 64-bit nanoseconds"))
                })?;
                out.histograms.push((index, timestamp, to_fields(&h)));
            }
            (_, wire) => message.skip(wire)?,
        }
    }
    let start = out.tags.len();
    let measurement = series_identity(i, labels, &mut out.tags)?;
    out.series.push((measurement, start..out.tags.len()));
    Ok(())
}

/// A `Label` (1 name, 2 value).
fn label(bytes: &[u8]) -> Result<(&str, &str)> {
    let (mut name, mut value) = ("", "");
    let mut message = Reader::new(bytes);
    while !message.done() {
        match message.key()? {
            (1, wire) => {
                message.expect(1, wire, LEN)?;
                name = message.str()?;
            }
            (2, wire) => {
                message.expect(2, wire, LEN)?;
                value = message.str()?;
            }
            (_, wire) => message.skip(wire)?,
        }
    }
    Ok((name, value))
}

/// A `Sample` (1 value as double, 2 timestamp in ms as int64).
fn sample(bytes: &[u8]) -> Result<(f64, i64)> {
    let (mut value, mut timestamp) = (0.0, 0);
    let mut message = Reader::new(bytes);
    while !message.done() {
        match message.key()? {
            (1, wire) => {
                message.expect(1, wire, FIXED64)?;
                value = f64::from_bits(message.fixed64()?);
            }
            (2, wire) => {
                message.expect(2, wire, VARINT)?;
                // int64 is the two's complement of the varint.
                timestamp = message.varint()? as i64;
            }
            (_, wire) => message.skip(wire)?,
        }
    }
    Ok((value, timestamp))
}

/// The measurement of series `i`, its tags appended to `tags`, checked: a
/// `__name__`, no duplicate label names, names Chronicle accepts; labels
/// with an empty value are left out.
fn series_identity<'a>(i: usize, labels: &[(&'a str, &'a str)], tags: &mut Vec<(&'a str, &'a str)>) -> Result<&'a str> {
    let at = |j: usize| format!("timeseries[{i}].labels[{j}]");
    for (j, (name, _)) in labels.iter().enumerate() {
        if labels[..j].iter().any(|(n, _)| n == name) {
            return Err(Error::item(at(j), format!("duplicate label name {name:?}")));
        }
    }
    let mut measurement = None;
    for (j, &(name, value)) in labels.iter().enumerate() {
        if name == METRIC_NAME_LABEL {
            validate_measurement(value).map_err(|e| Error::item(at(j), e.to_string()))?;
            measurement = Some(value);
        } else if !value.is_empty() {
            validate_tag(name, value, false).map_err(|e| Error::item(at(j), e.to_string()))?;
            tags.push((name, value));
        }
    }
    measurement.ok_or_else(|| Error::item(format!("timeseries[{i}].labels"), "no __name__ label (the metric name)"))
}
