//! The histogram notation of PromQL test files and rule unit tests,
//! `{{schema:0 count:3 sum:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2]
//! offset:1 n_buckets:[1] n_offset:2 counter_reset_hint:gauge
//! custom_values:[1 2]}}`, and the bucket list of Prometheus's HTTP API.
//!
//! Every key is optional and `{{}}` is the empty histogram. A bucket list
//! becomes one span starting at its offset (an offset without buckets is
//! ignored). Printing compacts first, so one span per side always
//! suffices, and prints floats the way Go's `%g` does.

use std::fmt;
use std::str::FromStr;

use super::error::{HistogramError, Result};
use super::{CounterResetHint, FloatHistogram, Span};

/// A float as Go's `%g` prints it: shortest digits, exponent form below
/// 1e-4 and from 1e+06 on (`1e+06`, `1.5e-05`), `+Inf`, `-Inf`, `NaN`.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// Reads the notation one item at a time.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(HistogramError::Notation { at: self.at, message: message.into() })
    }

    fn rest(&self) -> &'a str {
        let text: &'a str = self.text;
        &text[self.at..]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// The next run of characters up to a space, `]` or `}`.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| c.is_whitespace() || c == ']' || c == '}').unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn key(&mut self) -> Result<&'a str> {
        let rest = self.rest();
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let key = &rest[..len];
        self.at += len;
        if key.is_empty() {
            return self.error(format!(
                "expected a key such as buckets:[5 10 7], found {:?}",
                rest.chars().next().unwrap_or(' ')
            ));
        }
        if !self.eat(":") {
            return self.error(format!("expected ':' after key {key:?}"));
        }
        self.skip_spaces();
        Ok(key)
    }

    fn float(&mut self, key: &str) -> Result<f64> {
        let start = self.at;
        let word = self.word();
        match parse_float(word) {
            Some(f) => Ok(f),
            None => {
                self.at = start;
                self.error(format!("{key}: {word:?} is not a number"))
            }
        }
    }

    fn int(&mut self, key: &str) -> Result<i32> {
        let start = self.at;
        let word = self.word();
        match word.strip_prefix('+').unwrap_or(word).parse::<i32>() {
            Ok(i) => Ok(i),
            Err(_) => {
                self.at = start;
                self.error(format!("{key}: {word:?} is not an integer"))
            }
        }
    }

    fn floats(&mut self, key: &str) -> Result<Vec<f64>> {
        if !self.eat("[") {
            return self.error(format!("{key}: expected '['"));
        }
        let mut out = Vec::new();
        loop {
            self.skip_spaces();
            if self.eat("]") {
                return Ok(out);
            }
            if self.at >= self.text.len() {
                return self.error(format!("{key}: missing ']'"));
            }
            out.push(self.float(key)?);
        }
    }

    fn hint(&mut self) -> Result<CounterResetHint> {
        let start = self.at;
        match self.word() {
            "unknown" => Ok(CounterResetHint::Unknown),
            "reset" => Ok(CounterResetHint::CounterReset),
            "not_reset" => Ok(CounterResetHint::NotCounterReset),
            "gauge" => Ok(CounterResetHint::Gauge),
            other => {
                self.at = start;
                self.error(format!("counter_reset_hint: {other:?} is not one of unknown, reset, not_reset, gauge"))
            }
        }
    }
}

/// A number as PromQL writes it: decimal or hex integers, floats,
/// `Inf`/`+Inf`/`-Inf` and `NaN` in any case.
fn parse_float(word: &str) -> Option<f64> {
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else {
        if digits.starts_with(['+', '-']) {
            return None;
        }
        digits.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses the notation; see the module docs.
fn parse(text: &str) -> Result<FloatHistogram> {
    let mut r = Reader { text, at: 0 };
    r.skip_spaces();
    if !r.eat("{{") {
        return r.error("expected '{{'");
    }
    let mut h = FloatHistogram::default();
    let (mut buckets, mut offset, mut n_buckets, mut n_offset) = (Vec::new(), 0, Vec::new(), 0);
    loop {
        r.skip_spaces();
        if r.eat("}}") {
            break;
        }
        if r.at >= text.len() {
            return r.error("missing '}}'");
        }
        let key_at = r.at;
        match r.key()? {
            "schema" => h.schema = r.int("schema")?,
            "sum" => h.sum = r.float("sum")?,
            "count" => h.count = r.float("count")?,
            "z_bucket" => h.zero_count = r.float("z_bucket")?,
            "z_bucket_w" => h.zero_threshold = r.float("z_bucket_w")?,
            "custom_values" => h.custom_values = r.floats("custom_values")?,
            "buckets" => buckets = r.floats("buckets")?,
            "offset" => offset = r.int("offset")?,
            "n_buckets" => n_buckets = r.floats("n_buckets")?,
            "n_offset" => n_offset = r.int("n_offset")?,
            "counter_reset_hint" => h.counter_reset_hint = r.hint()?,
            other => {
                r.at = key_at;
                return r.error(format!("unknown key {other:?}"));
            }
        }
    }
    r.skip_spaces();
    if r.at < text.len() {
        return r.error("unexpected text after '}}'");
    }
    let one_span = |offset: i32, buckets: &[f64]| -> Vec<Span> {
        if buckets.is_empty() { Vec::new() } else { vec![Span { offset, length: buckets.len() as u32 }] }
    };
    h.positive_spans = one_span(offset, &buckets);
    h.negative_spans = one_span(n_offset, &n_buckets);
    h.positive_buckets = buckets;
    h.negative_buckets = n_buckets;
    Ok(h)
}

impl FromStr for FloatHistogram {
    type Err = HistogramError;

    fn from_str(text: &str) -> Result<Self> {
        parse(text)
    }
}

impl fmt::Display for FloatHistogram {
    /// Prints the notation (Prometheus's `TestExpression`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut h = self.clone();
        // A layout whose spans and buckets disagree prints as it is.
        let _ = h.compact(usize::MAX);
        let list = |values: &[f64]| values.iter().map(|v| go_float(*v)).collect::<Vec<_>>().join(" ");
        let mut items = Vec::new();
        if h.schema != 0 {
            items.push(format!("schema:{}", h.schema));
        }
        if h.count != 0.0 {
            items.push(format!("count:{}", go_float(h.count)));
        }
        if h.sum != 0.0 {
            items.push(format!("sum:{}", go_float(h.sum)));
        }
        if h.zero_count != 0.0 {
            items.push(format!("z_bucket:{}", go_float(h.zero_count)));
        }
        if h.zero_threshold != 0.0 {
            items.push(format!("z_bucket_w:{}", go_float(h.zero_threshold)));
        }
        if h.uses_custom_buckets() {
            items.push(format!("custom_values:[{}]", list(&h.custom_values[..])));
        }
        match h.counter_reset_hint {
            CounterResetHint::Unknown => {}
            CounterResetHint::CounterReset => items.push("counter_reset_hint:reset".into()),
            CounterResetHint::NotCounterReset => items.push("counter_reset_hint:not_reset".into()),
            CounterResetHint::Gauge => items.push("counter_reset_hint:gauge".into()),
        }
        for (spans, buckets, buckets_key, offset_key) in [
            (&h.positive_spans, &h.positive_buckets, "buckets", "offset"),
            (&h.negative_spans, &h.negative_buckets, "n_buckets", "n_offset"),
        ] {
            if let Some(span) = spans.first().filter(|s| s.offset != 0) {
                items.push(format!("{offset_key}:{}", span.offset));
            }
            if !buckets.is_empty() {
                items.push(format!("{buckets_key}:[{}]", list(&buckets[..])));
            }
        }
        write!(f, "{{{{{}}}}}", items.join(" "))
    }
}

/// How a bucket's bounds belong to it in Prometheus's HTTP API: 0 open
/// left (`(a, b]`), 1 open right (`[a, b)`), 2 open both, 3 closed both.
pub type BoundaryRule = u8;

impl FloatHistogram {
    /// The buckets as Prometheus's HTTP API lists them for a histogram
    /// sample: `(boundary rule, lower, upper, count)` in ascending order,
    /// empty buckets left out.
    pub fn json_buckets(&self) -> Vec<(BoundaryRule, f64, f64, f64)> {
        self.all_buckets()
            .into_iter()
            .filter(|b| b.count != 0.0)
            .map(|b| {
                let rule = match (b.lower_inclusive, b.upper_inclusive) {
                    (false, true) => 0,
                    (true, false) => 1,
                    (false, false) => 2,
                    (true, true) => 3,
                };
                (rule, b.lower, b.upper, b.count)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::model::histogram::CUSTOM_BUCKETS_SCHEMA;

    #[test]
    fn parses_every_key() {
        let h = parse(
            "{{schema:1 sum:0.3 count:3.1 z_bucket:7.1 z_bucket_w:0.05 buckets:[5.1 10 7] offset:-3 n_buckets:[4.1 5] n_offset:5 counter_reset_hint:gauge}}",
        )
        .unwrap();
        assert_eq!(h.schema, 1);
        assert_eq!((h.sum, h.count, h.zero_count, h.zero_threshold), (0.3, 3.1, 7.1, 0.05));
        assert_eq!(h.positive_spans, vec![Span { offset: -3, length: 3 }]);
        assert_eq!(h.positive_buckets, vec![5.1, 10.0, 7.0]);
        assert_eq!(h.negative_spans, vec![Span { offset: 5, length: 2 }]);
        assert_eq!(h.negative_buckets, vec![4.1, 5.0]);
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
    }

    #[test]
    fn parses_spacing_specials_and_empty() {
        assert_eq!(parse("{{}}").unwrap(), FloatHistogram::default());
        let h = parse(
            "{{schema:-53  sum:NaN count:Inf z_bucket:-Inf buckets:[ 1e-3 +Inf  0x10 ] offset:2 custom_values:[-2 3]}}",
        )
        .unwrap();
        assert_eq!(h.schema, CUSTOM_BUCKETS_SCHEMA);
        assert!(h.sum.is_nan());
        assert_eq!((h.count, h.zero_count), (f64::INFINITY, f64::NEG_INFINITY));
        assert_eq!(h.positive_buckets, vec![0.001, f64::INFINITY, 16.0]);
        assert_eq!(h.custom_values, vec![-2.0, 3.0]);
        assert!(parse("{{offset:3}}").unwrap().positive_spans.is_empty());
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(msg("{{schema:1.5}}"), "histogram description at byte 9: schema: \"1.5\" is not an integer");
        assert!(msg("{{buckets:[1 x]}}").contains("buckets: \"x\" is not a number"));
        assert!(msg("{{foo:1}}").contains("unknown key \"foo\""));
        assert!(msg("{{counter_reset_hint:maybe}}").contains("not one of"));
        assert!(msg("{{buckets:[1 2}}").contains("not a number") || msg("{{buckets:[1 2}}").contains("missing"));
        assert!(msg("{{count:1").contains("missing '}}'"));
        assert!(msg("{count:1}").contains("expected '{{'"));
    }

    #[test]
    fn prints_like_test_expression() {
        let h = parse("{{schema:1 count:1e+06 sum:-0.00001 z_bucket_w:0.001 buckets:[0 1 0 2] offset:-1 counter_reset_hint:not_reset}}").unwrap();
        assert_eq!(
            h.to_string(),
            "{{schema:1 count:1e+06 sum:-1e-05 z_bucket_w:0.001 counter_reset_hint:not_reset buckets:[1 0 2]}}"
        );
        let cb = parse("{{schema:-53 count:2 custom_values:[0.5 1] buckets:[1 1] offset:1}}").unwrap();
        assert_eq!(cb.to_string(), "{{schema:-53 count:2 custom_values:[0.5 1] offset:1 buckets:[1 1]}}");
        assert_eq!(FloatHistogram::default().to_string(), "{{}}");
    }

    #[test]
    fn display_round_trips_compact_layouts() {
        for text in [
            "{{schema:3 count:7 sum:62 z_bucket:1 z_bucket_w:1e-128 offset:-2 buckets:[1 0 2] n_offset:4 n_buckets:[1.5 NaN]}}",
            "{{schema:-53 count:3 sum:+Inf custom_values:[-2 3 1e+10] counter_reset_hint:reset buckets:[1 2]}}",
            "{{count:0.1 sum:123456.789 n_buckets:[0.30000000000000004]}}",
        ] {
            let h = parse(text).unwrap();
            let again = parse(&h.to_string()).unwrap();
            assert!(h.equals(&again) && h.counter_reset_hint == again.counter_reset_hint, "{text} -> {h}");
        }
    }

    #[test]
    fn go_float_formats() {
        let cases = [
            (1.0, "1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e100, "1e+100"),
            (-2.5e-300, "-2.5e-300"),
        ];
        for (f, s) in cases {
            assert_eq!(go_float(f), s);
        }
    }

    #[test]
    fn json_buckets_skip_empty_and_mark_boundaries() {
        let h = parse("{{schema:0 count:6 z_bucket:1 z_bucket_w:0.5 buckets:[1 0 2] n_buckets:[2]}}").unwrap();
        assert_eq!(
            h.json_buckets(),
            vec![(1, -1.0, -0.5, 2.0), (3, -0.5, 0.5, 1.0), (0, 0.5, 1.0, 1.0), (0, 2.0, 4.0, 2.0)]
        );
        let cb = parse("{{schema:-53 count:2 custom_values:[1] buckets:[1 1]}}").unwrap();
        assert_eq!(cb.json_buckets(), vec![(3, f64::NEG_INFINITY, 1.0, 1.0), (0, 1.0, f64::INFINITY, 1.0)]);
    }
}
