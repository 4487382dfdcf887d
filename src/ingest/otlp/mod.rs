//! OTLP metrics (`ExportMetricsServiceRequest`, protobuf or OTLP/JSON) ->
//! [`Row`]s, translated as Prometheus's OTLP receiver does.
//!
//! Every sample becomes a row of one field, `value`, whose measurement is a
//! Prometheus metric name built by `naming` (unit suffixes, `_total`):
//!
//! | OTLP                      | rows                                                        |
//! |---------------------------|-------------------------------------------------------------|
//! | gauge                     | `name`                                                      |
//! | sum, monotonic            | `name_total` (a counter)                                    |
//! | sum, not monotonic        | `name` (gauge-like)                                         |
//! | histogram                 | `name_bucket{le=...}` cumulative with `+Inf`, `name_sum`, `name_count` |
//! | exponential histogram     | the same classic series, buckets converted by `exponential` |
//! | summary                   | `name{quantile=...}`, `name_sum`, `name_count`              |
//!
//! Tags: the resource's `service.name` becomes `job` (as
//! `service.namespace/service.name` when a namespace is set),
//! `service.instance.id` becomes `instance`; every other resource
//! attribute and every data point attribute becomes a tag whose key is made
//! a valid label name by `naming` (dots to underscores). A point
//! attribute wins over a resource attribute of the same key; `le` and
//! `quantile` are set last. Values become strings (numbers in decimal,
//! booleans `true`/`false`, bytes in base64, arrays and maps as JSON); an
//! empty value is no tag, as in Prometheus.
//!
//! Values and times: integer points are converted to float64 (exact up to
//! 2^53); a point flagged "no recorded value" writes Prometheus's staleness
//! marker ([`STALE_NAN_BITS`]) in every series it makes; a number point
//! without a value is 0, as in Prometheus. `time_unix_nano` is the
//! timestamp; 0 (unset) means the caller's default time. Exemplars, scope
//! names and metric descriptions are not stored.
//!
//! Refused, naming the metric or point by its OTLP/JSON path (e.g.
//! `resourceMetrics[0].scopeMetrics[1].metrics[2].dataPoints[0]`): sums and
//! histograms whose aggregation temporality is not cumulative (a delta
//! counter cannot be stored as a Prometheus counter; exporters can be set
//! to cumulative), metrics without data or with an empty name, explicit
//! histograms whose bucket counts do not match their bounds, exponential
//! scales outside -10..=20, timestamps past i64 nanoseconds, and names or
//! tags Chronicle does not accept.

mod exponential;
mod naming;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, DataPointFlags, Metric, NumberDataPoint};

use self::naming::Kind;
use super::remote_write::STALE_NAN_BITS;
use super::{Error, Result};
use crate::Row;
use crate::model::{VALUE_FIELD, validate_measurement, validate_tag};

/// Decodes and translates an OTLP/protobuf body.
pub fn parse_protobuf(body: &[u8], default_timestamp: i64) -> Result<Vec<Row>> {
    rows(&decode_protobuf(body)?, default_timestamp)
}

/// Decodes and translates an OTLP/JSON body.
pub fn parse_json(body: &[u8], default_timestamp: i64) -> Result<Vec<Row>> {
    rows(&decode_json(body)?, default_timestamp)
}

/// Decodes an OTLP/protobuf body.
pub fn decode_protobuf(body: &[u8]) -> Result<ExportMetricsServiceRequest> {
    prost::Message::decode(body).map_err(|e| Error::Syntax { format: "OTLP protobuf", message: e.to_string() })
}

/// Decodes an OTLP/JSON body (camelCase keys, 64-bit integers as strings
/// or numbers, bytes as hex ids or base64).
pub fn decode_json(body: &[u8]) -> Result<ExportMetricsServiceRequest> {
    serde_json::from_slice(body).map_err(|e| Error::Syntax { format: "OTLP JSON", message: e.to_string() })
}

/// The rows of a decoded request; points with no time get
/// `default_timestamp` (nanoseconds). See the module docs for the mapping.
pub fn rows(request: &ExportMetricsServiceRequest, default_timestamp: i64) -> Result<Vec<Row>> {
    let mut out = Translator { rows: Vec::new(), default_timestamp };
    for (r, resource_metrics) in request.resource_metrics.iter().enumerate() {
        let at = format!("resourceMetrics[{r}]");
        let attributes = resource_metrics.resource.as_ref().map_or(&[][..], |res| &res.attributes[..]);
        let base = resource_tags(attributes, &at)?;
        for (s, scope) in resource_metrics.scope_metrics.iter().enumerate() {
            for (m, metric) in scope.metrics.iter().enumerate() {
                out.metric(metric, &base, &format!("{at}.scopeMetrics[{s}].metrics[{m}]"))?;
            }
        }
    }
    Ok(out.rows)
}

/// The tags every series of a resource carries.
fn resource_tags(attributes: &[KeyValue], at: &str) -> Result<Vec<(String, String)>> {
    let mut tags = Vec::new();
    let (mut service, mut namespace) = (None, None);
    for (a, kv) in attributes.iter().enumerate() {
        let at = || format!("{at}.resource.attributes[{a}]");
        match kv.key.as_str() {
            "service.name" => service = Some(value_string(kv)),
            "service.namespace" => namespace = Some(value_string(kv)),
            "service.instance.id" => set_tag(&mut tags, "instance".into(), value_string(kv), at)?,
            _ => set_tag(&mut tags, naming::label_name(&kv.key), value_string(kv), at)?,
        }
    }
    if let Some(service) = service.filter(|s| !s.is_empty()) {
        let job = match namespace.filter(|n| !n.is_empty()) {
            Some(namespace) => format!("{namespace}/{service}"),
            None => service,
        };
        set_tag(&mut tags, "job".into(), job, || format!("{at}.resource.attributes"))?;
    }
    Ok(tags)
}

/// `tags` plus a point's attributes, a point attribute replacing a tag of
/// the same key.
fn point_tags(base: &[(String, String)], attributes: &[KeyValue], at: &str) -> Result<Vec<(String, String)>> {
    let mut tags = base.to_vec();
    for (a, kv) in attributes.iter().enumerate() {
        set_tag(&mut tags, naming::label_name(&kv.key), value_string(kv), || format!("{at}.attributes[{a}]"))?;
    }
    Ok(tags)
}

/// Sets tag `key` (replacing it if present), unless `value` is empty.
fn set_tag(tags: &mut Vec<(String, String)>, key: String, value: String, at: impl Fn() -> String) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    validate_tag(&key, &value, false).map_err(|e| Error::item(at(), e.to_string()))?;
    match tags.iter_mut().find(|(k, _)| *k == key) {
        Some(tag) => tag.1 = value,
        None => tags.push((key, value)),
    }
    Ok(())
}

/// An attribute value as tag text (see the module docs).
fn value_string(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        // A string-table reference belongs to the profiling signal; in
        // metrics it is treated as absent, as the specification asks.
        None | Some(AnyValue::StringValueStrindex(_)) => String::new(),
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(other) => match json(other) {
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        },
    }
}

/// An attribute value as plain JSON (arrays and maps as JSON has them).
fn json(value: &AnyValue) -> serde_json::Value {
    use base64::Engine as _;
    use serde_json::Value as J;
    let inner = |v: &any_value::Value| json(v);
    match value {
        AnyValue::StringValue(s) => J::String(s.clone()),
        AnyValue::BoolValue(b) => J::Bool(*b),
        AnyValue::IntValue(i) => J::from(*i),
        // JSON has no NaN or infinities: those (and only those) become text.
        AnyValue::DoubleValue(d) => {
            serde_json::Number::from_f64(*d).map_or_else(|| J::String(d.to_string()), J::Number)
        }
        AnyValue::BytesValue(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        AnyValue::ArrayValue(a) => J::Array(a.values.iter().map(|v| v.value.as_ref().map_or(J::Null, inner)).collect()),
        AnyValue::StringValueStrindex(_) => J::Null,
        AnyValue::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().and_then(|v| v.value.as_ref()).map_or(J::Null, inner)))
                .collect(),
        ),
    }
}

/// A bucket bound or quantile as Prometheus writes it in `le` / `quantile`.
fn bound_text(b: f64) -> String {
    if b == f64::INFINITY {
        "+Inf".into()
    } else if b == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        b.to_string()
    }
}

/// Gathers rows, one metric at a time.
struct Translator {
    rows: Vec<Row>,
    default_timestamp: i64,
}

/// One OTLP point's share of the rows: its series tags, time and staleness.
struct PointRows<'a> {
    tags: Vec<(String, String)>,
    timestamp: i64,
    stale: bool,
    name: &'a str,
}

impl Translator {
    fn metric(&mut self, metric: &Metric, base: &[(String, String)], at: &str) -> Result<()> {
        let kind = match &metric.data {
            Some(Data::Gauge(_)) => Kind::Gauge,
            Some(Data::Sum(sum)) if sum.is_monotonic => Kind::Counter,
            _ => Kind::Other,
        };
        if metric.name.is_empty() {
            return Err(Error::item(format!("{at}.name"), "empty metric name"));
        }
        let name = naming::metric_name(&metric.name, &metric.unit, kind);
        validate_measurement(&name)
            .map_err(|e| Error::item(format!("{at}.name"), format!("metric {:?}: {e}", metric.name)))?;
        let points_at = |p: usize| format!("{at}.dataPoints[{p}]");
        match &metric.data {
            None => {
                return Err(Error::item(
                    at,
                    format!(
                        "metric {:?} has no data (no gauge, sum, histogram, exponential histogram or summary that decodes)",
                        metric.name
                    ),
                ));
            }
            Some(Data::Gauge(gauge)) => self.numbers(&name, &gauge.data_points, base, at)?,
            Some(Data::Sum(sum)) => {
                cumulative(sum.aggregation_temporality, at)?;
                self.numbers(&name, &sum.data_points, base, at)?;
            }
            Some(Data::Histogram(histogram)) => {
                cumulative(histogram.aggregation_temporality, at)?;
                for (p, point) in histogram.data_points.iter().enumerate() {
                    let at = points_at(p);
                    let (bounds, counts) = (&point.explicit_bounds, &point.bucket_counts);
                    if !counts.is_empty() && counts.len() != bounds.len() + 1 {
                        return Err(Error::item(
                            format!("{at}.bucketCounts"),
                            format!(
                                "{} bucket counts for {} bounds (needs one more count than bounds)",
                                counts.len(),
                                bounds.len()
                            ),
                        ));
                    }
                    let mut cumulative = 0u64;
                    let mut buckets: Vec<(f64, u64)> = bounds
                        .iter()
                        .zip(counts)
                        .map(|(&le, &count)| {
                            cumulative = cumulative.saturating_add(count);
                            (le, cumulative)
                        })
                        .collect();
                    buckets.push((f64::INFINITY, point.count));
                    let rows = self.point(&name, base, &point.attributes, point.time_unix_nano, point.flags, &at)?;
                    self.histogram(&rows, &buckets, point.sum, point.count);
                }
            }
            Some(Data::ExponentialHistogram(histogram)) => {
                cumulative(histogram.aggregation_temporality, at)?;
                for (p, point) in histogram.data_points.iter().enumerate() {
                    let at = points_at(p);
                    if !exponential::SCALES.contains(&point.scale) {
                        return Err(Error::item(
                            format!("{at}.scale"),
                            format!("scale {} is outside -10..=20", point.scale),
                        ));
                    }
                    let buckets = exponential::classic_buckets(point);
                    let rows = self.point(&name, base, &point.attributes, point.time_unix_nano, point.flags, &at)?;
                    self.histogram(&rows, &buckets, point.sum, point.count);
                }
            }
            Some(Data::Summary(summary)) => {
                for (p, point) in summary.data_points.iter().enumerate() {
                    let rows =
                        self.point(&name, base, &point.attributes, point.time_unix_nano, point.flags, &points_at(p))?;
                    for q in &point.quantile_values {
                        self.push(&rows, "", Some(("quantile", bound_text(q.quantile))), q.value);
                    }
                    self.push(&rows, "_sum", None, point.sum);
                    self.push(&rows, "_count", None, point.count as f64);
                }
            }
        }
        Ok(())
    }

    fn numbers(&mut self, name: &str, points: &[NumberDataPoint], base: &[(String, String)], at: &str) -> Result<()> {
        for (p, point) in points.iter().enumerate() {
            let rows = self.point(
                name,
                base,
                &point.attributes,
                point.time_unix_nano,
                point.flags,
                &format!("{at}.dataPoints[{p}]"),
            )?;
            let value = match point.value {
                Some(NumberValue::AsDouble(v)) => v,
                Some(NumberValue::AsInt(v)) => v as f64,
                None => 0.0,
            };
            self.push(&rows, "", None, value);
        }
        Ok(())
    }

    /// The series tags, timestamp and staleness of one point.
    fn point<'a>(
        &self,
        name: &'a str,
        base: &[(String, String)],
        attributes: &[KeyValue],
        time_unix_nano: u64,
        flags: u32,
        at: &str,
    ) -> Result<PointRows<'a>> {
        let timestamp = match time_unix_nano {
            0 => self.default_timestamp,
            t => i64::try_from(t).map_err(|_| {
                Error::item(
                    format!("{at}.timeUnixNano"),
                    format!("{t} is past the largest 64-bit signed nanosecond time"),
                )
            })?,
        };
        let stale = flags & DataPointFlags::NoRecordedValueMask as u32 != 0;
        Ok(PointRows { tags: point_tags(base, attributes, at)?, timestamp, stale, name })
    }

    fn histogram(&mut self, rows: &PointRows<'_>, buckets: &[(f64, u64)], sum: Option<f64>, count: u64) {
        for &(le, cumulative) in buckets {
            self.push(rows, "_bucket", Some(("le", bound_text(le))), cumulative as f64);
        }
        if let Some(sum) = sum {
            self.push(rows, "_sum", None, sum);
        }
        self.push(rows, "_count", None, count as f64);
    }

    /// One row: measurement `name` + `suffix`, the point's tags plus `extra`.
    fn push(&mut self, rows: &PointRows<'_>, suffix: &str, extra: Option<(&str, String)>, value: f64) {
        let mut tags = rows.tags.clone();
        if let Some((key, v)) = extra {
            match tags.iter_mut().find(|(k, _)| k == key) {
                Some(tag) => tag.1 = v,
                None => tags.push((key.to_owned(), v)),
            }
        }
        let value = if rows.stale { f64::from_bits(STALE_NAN_BITS) } else { value };
        self.rows.push(Row {
            measurement: format!("{}{suffix}", rows.name),
            tags,
            fields: vec![(VALUE_FIELD.to_owned(), value)],
            timestamp: rows.timestamp,
        });
    }
}

/// Refuses a sum or histogram that is not cumulative.
fn cumulative(temporality: i32, at: &str) -> Result<()> {
    if temporality == AggregationTemporality::Cumulative as i32 {
        return Ok(());
    }
    let name = AggregationTemporality::try_from(temporality).map_or("unknown", |t| t.as_str_name());
    Err(Error::item(
        format!("{at}.aggregationTemporality"),
        format!(
            "{name} temporality is not stored: only cumulative sums and histograms are (set the exporter to cumulative)"
        ),
    ))
}
