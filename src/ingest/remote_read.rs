//! Prometheus remote read: the request decoded, the samples response encoded.
//!
//! Both travel as snappy blocks ([`super::snappy`]). Chronicle answers with
//! the `SAMPLES` response type only; [`accepts_samples`] says whether the
//! client takes it (Prometheus does). A series is labelled as remote write
//! labelled it: `__name__` = measurement, one label per tag, sorted by name
//! as Prometheus requires ([`series_labels`]).

use super::prompb::{Label, LabelMatcher, MatcherType, ReadRequest, ReadResponse, ResponseType};
use super::remote_write::METRIC_NAME_LABEL;
use super::{Error, Result, snappy};
use crate::TagMatcher;

/// Decompresses and decodes a remote-read body whose decompressed size may
/// be at most `max_decoded_len` bytes.
pub fn decode_request(body: &[u8], max_decoded_len: usize) -> Result<ReadRequest> {
    let bytes = snappy::decompress(body, max_decoded_len)?;
    prost::Message::decode(bytes.as_slice()).map_err(|e| Error::Syntax { format: "protobuf", message: e.to_string() })
}

/// Whether the client accepts a samples response (it does when it lists
/// no type at all, as older clients do).
pub fn accepts_samples(request: &ReadRequest) -> bool {
    request.accepted_response_types.is_empty()
        || request.accepted_response_types.contains(&(ResponseType::Samples as i32))
}

/// The body of a samples response: the protobuf, snappy block compressed.
pub fn encode_response(response: &ReadResponse) -> Result<Vec<u8>> {
    snappy::compress(&prost::Message::encode_to_vec(response))
}

/// The labels of a series as Prometheus sees it, sorted by name.
pub fn series_labels(measurement: &str, tags: &[(String, String)]) -> Vec<Label> {
    let mut labels: Vec<Label> = std::iter::once(Label { name: METRIC_NAME_LABEL.into(), value: measurement.into() })
        .chain(tags.iter().map(|(name, value)| Label { name: name.clone(), value: value.clone() }))
        .collect();
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// Matcher `j` of query `i` as a [`TagMatcher`] on its label name (the
/// name `__name__` selects the measurement; the caller decides how).
pub fn tag_matcher(i: usize, j: usize, matcher: &LabelMatcher) -> Result<TagMatcher> {
    let at = || format!("queries[{i}].matchers[{j}]");
    let LabelMatcher { name, value, .. } = matcher;
    match MatcherType::try_from(matcher.r#type) {
        Ok(MatcherType::Eq) => Ok(TagMatcher::eq(name, value)),
        Ok(MatcherType::Neq) => Ok(TagMatcher::not_eq(name, value)),
        Ok(MatcherType::Re) => TagMatcher::regex(name, value).map_err(|e| Error::item(at(), e.to_string())),
        Ok(MatcherType::Nre) => TagMatcher::not_regex(name, value).map_err(|e| Error::item(at(), e.to_string())),
        Err(_) => Err(Error::item(at(), format!("unknown matcher type {}", matcher.r#type))),
    }
}
