//! Prometheus remote write 1.0 -> [`Row`]s.
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
use crate::model::{VALUE_FIELD, validate_measurement, validate_tag};

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
    let mut rows = Vec::with_capacity(request.timeseries.iter().map(|s| s.samples.len()).sum());
    for (i, series) in request.timeseries.into_iter().enumerate() {
        let TimeSeries { labels, samples, histograms, .. } = series;
        if !histograms.is_empty() {
            return Err(Error::item(
                format!("timeseries[{i}].histograms"),
                "native histograms are not stored by Chronicle; send classic histograms (_bucket, _sum, _count)",
            ));
        }
        let (mut measurement, mut tags) = series_identity(i, labels)?;
        for (k, sample) in samples.iter().enumerate() {
            let timestamp = sample.timestamp.checked_mul(1_000_000).ok_or_else(|| {
                Error::item(
                    format!("timeseries[{i}].samples[{k}].timestamp"),
                    format!("{} ms overflows 64-bit nanoseconds", sample.timestamp),
                )
            })?;
            // The last sample (often the only one) takes the names; the
            // others copy them.
            let (measurement, tags) = if k + 1 == samples.len() {
                (std::mem::take(&mut measurement), std::mem::take(&mut tags))
            } else {
                (measurement.clone(), tags.clone())
            };
            rows.push(Row { measurement, tags, fields: vec![(VALUE_FIELD.to_owned(), sample.value)], timestamp });
        }
    }
    Ok(rows)
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
