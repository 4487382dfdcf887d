//! Prometheus remote write 1.0 -> [`Row`]s, or [`Samples`] that write
//! without a copy of the labels per sample.
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
//! timestamps whose nanoseconds overflow i64, and native histogram samples
//! (not stored yet; refused by name so a sender sees why). Exemplars and
//! metadata are accepted and not stored.

use super::prompb::{Label, TimeSeries, WriteRequest};
use super::{Error, Result, snappy};
use crate::Row;
use crate::model::{VALUE_FIELD, WriteRow, validate_measurement, validate_tag};

/// The label that holds the metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// The bit pattern of Prometheus's staleness marker, a NaN that says "this
/// series ended here"; other NaNs are ordinary values.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Parses a remote-write body whose decompressed size may be at most
/// `max_decoded_len` bytes.
pub fn parse(body: &[u8], max_decoded_len: usize) -> Result<Vec<Row>> {
    rows(decode(body, max_decoded_len)?)
}

/// Decompresses and decodes a remote-write body, without checking labels.
pub fn decode(body: &[u8], max_decoded_len: usize) -> Result<WriteRequest> {
    let bytes = snappy::decompress(body, max_decoded_len)?;
    prost::Message::decode(bytes.as_slice()).map_err(|e| Error::Syntax { format: "protobuf", message: e.to_string() })
}

/// The rows of a decoded request; see the module docs for the mapping.
pub fn rows(request: WriteRequest) -> Result<Vec<Row>> {
    let samples = samples(request)?;
    Ok(samples
        .views()
        .map(|s| Row {
            measurement: s.measurement.to_owned(),
            tags: s.tags.to_vec(),
            fields: vec![(VALUE_FIELD.to_owned(), s.value)],
            timestamp: s.timestamp,
        })
        .collect())
}

/// The samples of a decoded request, checked, with each series' name and
/// tags held once however many samples it has (writing them as
/// [`SampleRow`] views allocates nothing per sample).
#[derive(Debug, Default)]
pub struct Samples {
    /// (measurement, tags) of each series.
    series: Vec<(String, Vec<(String, String)>)>,
    /// (series index, nanoseconds, value) of each sample, in request order.
    points: Vec<(u32, i64, f64)>,
}

impl Samples {
    /// How many samples.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Each sample as a row borrowing its series' names.
    pub fn views(&self) -> impl Iterator<Item = SampleRow<'_>> {
        self.points.iter().map(|&(s, timestamp, value)| {
            let (measurement, tags) = &self.series[s as usize];
            SampleRow { measurement, tags, timestamp, value }
        })
    }
}

/// One sample as a row: its series' names borrowed, the field `value`.
#[derive(Debug, Clone, Copy)]
pub struct SampleRow<'a> {
    /// The metric name.
    pub measurement: &'a str,
    /// The other labels.
    pub tags: &'a [(String, String)],
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// The value, bit for bit.
    pub value: f64,
}

impl WriteRow for SampleRow<'_> {
    fn measurement(&self) -> &str {
        self.measurement
    }
    fn tags(&self) -> &[(String, String)] {
        self.tags
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

/// The checked samples of a decoded request; see the module docs for the
/// mapping.
pub fn samples(request: WriteRequest) -> Result<Samples> {
    let mut out = Samples {
        series: Vec::with_capacity(request.timeseries.len()),
        points: Vec::with_capacity(request.timeseries.iter().map(|s| s.samples.len()).sum()),
    };
    for (i, series) in request.timeseries.into_iter().enumerate() {
        let TimeSeries { labels, samples, histograms, .. } = series;
        if !histograms.is_empty() {
            return Err(Error::item(
                format!("timeseries[{i}].histograms"),
                "native histograms are not stored by Chronicle; send classic histograms (_bucket, _sum, _count)",
            ));
        }
        let identity = series_identity(i, labels)?;
        let index = u32::try_from(out.series.len())
            .map_err(|_| Error::item(format!("timeseries[{i}]"), "more than 2^32 series in one request"))?;
        for (k, sample) in samples.iter().enumerate() {
            let timestamp = sample.timestamp.checked_mul(1_000_000).ok_or_else(|| {
                Error::item(
                    format!("timeseries[{i}].samples[{k}].timestamp"),
                    format!("{} ms overflows 64-bit nanoseconds", sample.timestamp),
                )
            })?;
            out.points.push((index, timestamp, sample.value));
        }
        out.series.push(identity);
    }
    Ok(out)
}

/// The measurement and tags of series `i`, checked.
fn series_identity(i: usize, labels: Vec<Label>) -> Result<(String, Vec<(String, String)>)> {
    let at = |j: usize| format!("timeseries[{i}].labels[{j}]");
    for (j, label) in labels.iter().enumerate() {
        if labels[..j].iter().any(|l| l.name == label.name) {
            return Err(Error::item(at(j), format!("duplicate label name {:?}", label.name)));
        }
    }
    let mut measurement = None;
    let mut tags = Vec::with_capacity(labels.len().saturating_sub(1));
    for (j, Label { name, value }) in labels.into_iter().enumerate() {
        if name == METRIC_NAME_LABEL {
            validate_measurement(&value).map_err(|e| Error::item(at(j), e.to_string()))?;
            measurement = Some(value);
        } else if !value.is_empty() {
            validate_tag(&name, &value, false).map_err(|e| Error::item(at(j), e.to_string()))?;
            tags.push((name, value));
        }
    }
    let measurement = measurement
        .ok_or_else(|| Error::item(format!("timeseries[{i}].labels"), "no __name__ label (the metric name)"))?;
    Ok((measurement, tags))
}
