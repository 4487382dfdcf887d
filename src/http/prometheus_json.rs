//! The success bodies of the Prometheus query API, written byte for byte as
//! Prometheus writes them (its `jsoniter` encoder): `status` first, then
//! `data`, then `warnings` and `infos` when there are any; times as Unix
//! seconds with the millisecond fraction only when it is not zero (`4`,
//! `1.5` as `1.500`); sample values as strings (Go's shortest `'f'` form,
//! `NaN`, `+Inf`, `-Inf`); strings escaped as Go's `encoding/json` escapes
//! them (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes).
//!
//! Query results are written straight into one buffer, without building a
//! `serde_json::Value` per point: a range answer holds a point per series
//! and step, and building, then serialising, a tree of them costs more
//! than evaluating many queries.

use std::fmt::Write as _;

use serde_json::Value;

use crate::model::histogram::FloatHistogram;
use crate::promql::{Labels, PromValue};

/// What a success body carries as `data`.
pub(crate) enum Data<'a> {
    /// A query's result.
    Query(&'a PromValue),
    /// Anything else, already a JSON value.
    Json(&'a Value),
}

/// `{"status":"success","data":...}` with `warnings` and `infos` when there
/// are any.
pub(crate) fn success_body(data: Data<'_>, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::with_capacity(match data {
        Data::Query(PromValue::Matrix(series)) => 64 + series.iter().map(|s| 128 + s.points.len() * 24).sum::<usize>(),
        Data::Query(PromValue::Vector(samples)) => 64 + samples.len() * 128,
        _ => 256,
    });
    out.push_str(r#"{"status":"success","data":"#);
    match data {
        Data::Query(value) => query_value(&mut out, value),
        Data::Json(value) => json_value(&mut out, value),
    }
    for (name, notes) in [("warnings", warnings), ("infos", infos)] {
        if !notes.is_empty() {
            let _ = write!(out, r#","{name}":"#);
            sequence(&mut out, '[', notes, ']', |out, note| string(out, note));
        }
    }
    out.push('}');
    out
}

/// `{"resultType":...,"result":...}`.
fn query_value(out: &mut String, value: &PromValue) {
    let _ = write!(out, r#"{{"resultType":"{}","result":"#, value.type_name());
    match value {
        PromValue::Scalar { t, v } => point(out, *t, *v),
        PromValue::String { t, s } => {
            out.push('[');
            timestamp(out, *t);
            out.push(',');
            string(out, s);
            out.push(']');
        }
        PromValue::Vector(samples) => sequence(out, '[', samples, ']', |out, sample| {
            out.push_str(r#"{"metric":"#);
            labels(out, &sample.labels);
            match &sample.h {
                Some(h) => {
                    out.push_str(r#","histogram":"#);
                    histogram_point(out, sample.t, h);
                }
                None => {
                    out.push_str(r#","value":"#);
                    point(out, sample.t, sample.v);
                }
            }
            out.push('}');
        }),
        PromValue::Matrix(series) => sequence(out, '[', series, ']', |out, s| {
            out.push_str(r#"{"metric":"#);
            labels(out, &s.labels);
            // Each list only when it has points, as Prometheus writes them.
            if !s.points.is_empty() {
                out.push_str(r#","values":"#);
                sequence(out, '[', &s.points, ']', |out, (t, v)| point(out, *t, *v));
            }
            if !s.histograms.is_empty() {
                out.push_str(r#","histograms":"#);
                sequence(out, '[', &s.histograms, ']', |out, (t, h)| histogram_point(out, *t, h));
            }
            out.push('}');
        }),
    }
    out.push('}');
}

fn labels(out: &mut String, labels: &Labels) {
    sequence(out, '{', labels.iter(), '}', |out, (name, value)| {
        string(out, name);
        out.push(':');
        string(out, value);
    });
}

/// `items` written by `each`, comma-separated between `open` and `close`.
fn sequence<T>(
    out: &mut String,
    open: char,
    items: impl IntoIterator<Item = T>,
    close: char,
    mut each: impl FnMut(&mut String, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(close);
}

/// `[time,"value"]`.
fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    timestamp(out, t);
    out.push(',');
    float(out, v);
    out.push(']');
}

/// `[time,{"count":"c","sum":"s","buckets":[[rule,"lower","upper","count"],...]}]`,
/// `buckets` only when some bucket is not empty; `rule` says which bounds
/// are inclusive (0 upper, 1 lower, 2 neither, 3 both).
fn histogram_point(out: &mut String, t: i64, h: &FloatHistogram) {
    out.push('[');
    timestamp(out, t);
    out.push_str(r#",{"count":"#);
    float(out, h.count);
    out.push_str(r#","sum":"#);
    float(out, h.sum);
    let buckets = h.json_buckets();
    if !buckets.is_empty() {
        out.push_str(r#","buckets":"#);
        sequence(out, '[', buckets, ']', |out, (rule, lower, upper, count)| {
            let _ = write!(out, "[{rule},");
            float(out, lower);
            out.push(',');
            float(out, upper);
            out.push(',');
            float(out, count);
            out.push(']');
        });
    }
    out.push_str("}]");
}

/// A float as a JSON string: `"0.1"`, `"NaN"`, `"+Inf"`, `"-Inf"`.
fn float(out: &mut String, v: f64) {
    out.push('"');
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Rust's `Display` of a float is Go's `FormatFloat(v, 'f', -1, 64)`:
        // the shortest digits that read back exactly, never an exponent.
        let _ = write!(out, "{v}");
    }
    out.push('"');
}

/// Milliseconds as Prometheus writes them: whole seconds, then `.` and
/// three digits when the milliseconds are not zero.
fn timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    let t = t.unsigned_abs();
    let _ = write!(out, "{}", t / 1000);
    let fraction = t % 1000;
    if fraction != 0 {
        let _ = write!(out, ".{fraction:03}");
    }
}

/// A JSON string as Go's `encoding/json` writes it.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Any JSON value, objects in their own key order, strings escaped as Go
/// escapes them.
fn json_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => string(out, s),
        Value::Array(items) => sequence(out, '[', items, ']', json_value),
        Value::Object(members) => sequence(out, '{', members, '}', |out, (name, item)| {
            string(out, name);
            out.push(':');
            json_value(out, item);
        }),
        // Null, booleans and numbers print the same in both.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::histogram::Span;
    use crate::promql::{Sample, Series};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())))
    }

    /// Bodies Prometheus 2.42 wrote for the same values.
    #[test]
    fn bodies_are_prometheus_bytes() {
        let scalar = PromValue::Scalar { t: 4_000, v: 2.0 };
        assert_eq!(
            success_body(Data::Query(&scalar), &[], &[]),
            r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
        );
        let matrix = PromValue::Matrix(vec![Series {
            labels: labels(&[("__name__", "up"), ("job", "a<b>&\"c\"\n")]),
            points: vec![(1_500, 0.1), (-1_005, f64::NAN), (60_000, f64::INFINITY), (61_020, -1e21), (62_000, 1e-7)],
            histograms: Vec::new(),
        }]);
        assert_eq!(
            success_body(Data::Query(&matrix), &["w".into()], &[]),
            concat!(
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","#,
                r#""job":"a\u003cb\u003e\u0026\"c\"\n"},"values":[[1.500,"0.1"],[-1.005,"NaN"],[60,"+Inf"],"#,
                r#"[61.020,"-1000000000000000000000"],[62,"0.0000001"]]}]},"warnings":["w"]}"#
            )
        );
        let vector = PromValue::Vector(vec![Sample { labels: labels(&[]), t: 10, v: -0.0, h: None }]);
        assert_eq!(
            success_body(Data::Query(&vector), &[], &["i".into()]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[0.010,"-0"]}]},"infos":["i"]}"#
        );
    }

    #[test]
    fn histograms_are_written_as_prometheus_writes_them() {
        let h = FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 4.0,
            sum: 3.5,
            positive_spans: vec![Span { offset: 1, length: 2 }],
            positive_buckets: vec![2.0, 0.0],
            negative_spans: vec![Span { offset: 0, length: 1 }],
            negative_buckets: vec![1.0],
            ..FloatHistogram::default()
        };
        let vector =
            PromValue::Vector(vec![Sample { labels: labels(&[("a", "b")]), t: 1_000, v: 0.0, h: Some(h.clone()) }]);
        assert_eq!(
            success_body(Data::Query(&vector), &[], &[]),
            concat!(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"histogram":"#,
                r#"[1,{"count":"4","sum":"3.5","buckets":[[1,"-1","-0.5","1"],[3,"-0.001","0.001","1"],[0,"1","2","2"]]}]}]}}"#
            )
        );
        // A series of histograms alone has no `values`; an empty histogram no `buckets`.
        let matrix = PromValue::Matrix(vec![Series {
            labels: labels(&[]),
            points: Vec::new(),
            histograms: vec![(2_000, FloatHistogram { count: 0.0, sum: 0.0, ..FloatHistogram::default() })],
        }]);
        assert_eq!(
            success_body(Data::Query(&matrix), &[], &[]),
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[2,{"count":"0","sum":"0"}]]}]}}"#
        );
    }

    #[test]
    fn other_data_keeps_its_shape() {
        let data = serde_json::json!({ "version": "2.53.0", "n": 3, "list": ["a", "\u{2028}"], "flag": true });
        assert_eq!(
            success_body(Data::Json(&data), &[], &[]),
            r#"{"status":"success","data":{"flag":true,"list":["a","\u2028"],"n":3,"version":"2.53.0"}}"#
        );
    }
}
