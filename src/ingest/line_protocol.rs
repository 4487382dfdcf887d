//! InfluxDB line protocol -> [`Row`]s.
//!
//! ```text
//! measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//! ```
//!
//! - One point per line; lines end in `\n` or `\r\n`. Blank lines and lines
//!   whose first non-blank byte is `#` (comments) are skipped; leading spaces
//!   and tabs are ignored, and the three sections are separated by one or
//!   more spaces.
//! - Escapes: in the measurement, tag keys, tag values and field keys a
//!   backslash before `,`, `=`, a space or another backslash stands for that
//!   byte; a backslash before anything else is itself.
//! - Field values: floats (`1`, `-1.5`, `1e3`), signed integers `12i`,
//!   unsigned integers `12u`, booleans (`t`, `T`, `true`, `True`, `TRUE` and
//!   the same for false), stored as 1.0 / 0.0. Chronicle stores float64, so
//!   integers with a magnitude beyond 2^53 are rounded to the nearest float
//!   (as InfluxDB clients reading floats would see them). A quoted string
//!   value refuses the batch: Chronicle stores numbers only. NaN and
//!   infinities are not line protocol and are refused.
//! - The timestamp is an integer in the request's [`Precision`]; scaled to
//!   nanoseconds it must fit in i64. Without one, the line gets the caller's
//!   default time truncated to the precision, as InfluxDB does.
//!
//! Names are checked against Chronicle's rules (`crate::model`) here, so an
//! error names its line; [`crate::Db::write_rows`] checks them again.
//!
//! A body is all or nothing: the first bad line fails it with
//! [`Error::Line`], whose column is a byte offset from 1. A string field
//! value is found before anything after it on its line, so lines are split
//! at every `\n` without tracking quotes.
//!
//! Speed: [`for_each_line`] borrows the body ([`Line`] holds slices of it,
//! unescaped copies only for names holding a backslash) and reuses its
//! vectors, so it allocates nothing per line; names equal to the ones
//! checked on an earlier line at the same position are not checked again.
//! [`parse`] copies each line into an owned [`Row`], which is where its
//! per-line allocations are (one per string and vector a row owns).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::{Error, Result};
use crate::Row;
use crate::model::{MAX_TAG_VALUE_LEN, validate_measurement, validate_tag, validate_written_field};

/// The unit of the timestamps in a body (InfluxDB's `precision` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// `ns` (or `n`): nanoseconds, the default.
    #[default]
    Nanoseconds,
    /// `us` (or `u`): microseconds.
    Microseconds,
    /// `ms`: milliseconds.
    Milliseconds,
    /// `s`: seconds.
    Seconds,
    /// `m`: minutes.
    Minutes,
    /// `h`: hours.
    Hours,
}

impl Precision {
    /// Nanoseconds in one unit.
    pub const fn nanos(self) -> i64 {
        match self {
            Self::Nanoseconds => 1,
            Self::Microseconds => 1_000,
            Self::Milliseconds => 1_000_000,
            Self::Seconds => 1_000_000_000,
            Self::Minutes => 60_000_000_000,
            Self::Hours => 3_600_000_000_000,
        }
    }
}

impl FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "n" | "ns" => Self::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Self::Microseconds,
            "ms" => Self::Milliseconds,
            "s" => Self::Seconds,
            "m" => Self::Minutes,
            "h" => Self::Hours,
            _ => return Err(Error::item("precision", format!("unknown precision {s:?} (ns, us, ms, s, m or h)"))),
        })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Nanoseconds => "ns",
            Self::Microseconds => "us",
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
        })
    }
}

/// Parses a line-protocol body. Timestamps are in `precision`; a line
/// without one gets `default_timestamp` (nanoseconds, normally the time the
/// request arrived) truncated to `precision`.
pub fn parse(body: &[u8], precision: Precision, default_timestamp: i64) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for_each_line(body, precision, default_timestamp, |line| rows.push(line.to_row()))?;
    Ok(rows)
}

/// Parses a body line by line without copying it: `visit` sees each line
/// as soon as it parsed, in one [`Line`] whose vectors are reused. Lines
/// before a bad one have been visited when the error returns, so a caller
/// that stores what it visits must buffer until the whole body parsed, as
/// [`parse`] does, to keep a body all or nothing.
pub fn for_each_line<'a>(
    body: &'a [u8],
    precision: Precision,
    default_timestamp: i64,
    mut visit: impl FnMut(&Line<'a>),
) -> Result<()> {
    let text = std::str::from_utf8(body).map_err(|e| utf8_error(body, e.valid_up_to()))?;
    let mut parser = LineParser {
        precision,
        default_timestamp: default_timestamp - default_timestamp.rem_euclid(precision.nanos()),
        checked: CheckedNames::default(),
    };
    let mut parsed = Line::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        parser.line(content, &mut parsed).map_err(|Refusal { at, message }| Error::Line {
            line: i + 1,
            column: indent + at + 1,
            message,
        })?;
        visit(&parsed);
    }
    Ok(())
}

/// One parsed line, borrowing the body: a name is an unescaped copy only
/// when it holds a backslash.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line<'a> {
    /// The measurement.
    pub measurement: Cow<'a, str>,
    /// The tags, in line order, keys distinct.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The fields as stored (see the module docs), in line order, names distinct.
    pub fields: Vec<(Cow<'a, str>, f64)>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp: i64,
}

impl Line<'_> {
    /// The line as an owned [`Row`].
    pub fn to_row(&self) -> Row {
        Row {
            measurement: self.measurement.as_ref().to_owned(),
            tags: self.tags.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect(),
            fields: self.fields.iter().map(|(k, v)| (k.as_ref().to_owned(), *v)).collect(),
            timestamp: self.timestamp,
        }
    }
}

/// The position (line, byte column) of the first byte that is not UTF-8.
fn utf8_error(body: &[u8], valid_up_to: usize) -> Error {
    let before = &body[..valid_up_to];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    Error::Line {
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column: valid_up_to - line_start + 1,
        message: "invalid UTF-8".into(),
    }
}

/// A refused line: the byte offset in the line (from 0) and why.
struct Refusal {
    at: usize,
    message: String,
}

fn refuse<T>(at: usize, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { at, message: message.into() })
}

/// Parses one line at a time.
struct LineParser<'a> {
    precision: Precision,
    default_timestamp: i64,
    checked: CheckedNames<'a>,
}

/// The names of the last line whose names differed from the line before:
/// all valid and distinct. Lines of one body mostly repeat their
/// measurement, tag keys and field names in the same order, and a name
/// found here at the same position needs no second check.
#[derive(Default)]
struct CheckedNames<'a> {
    measurement: Cow<'a, str>,
    tag_keys: Vec<Cow<'a, str>>,
    field_names: Vec<Cow<'a, str>>,
}

impl<'a> LineParser<'a> {
    /// Parses one non-blank, non-comment line without its line ending into
    /// `out` (whose vectors are reused).
    fn line(&mut self, line: &'a str, out: &mut Line<'a>) -> Result<(), Refusal> {
        out.tags.clear();
        out.fields.clear();
        let b = line.as_bytes();
        let (end, escaped) = scan(b, 0, |c| c == b',' || c == b' ');
        if end == 0 {
            return refuse(0, "missing measurement");
        }
        out.measurement = unescape(&line[..end], escaped);
        let new_measurement = out.measurement != self.checked.measurement;
        if new_measurement {
            validate_measurement(&out.measurement).or_else(|e| refuse(0, e.to_string()))?;
        }

        // Names checked on an earlier line at the same position are valid;
        // while every name so far was such a name, they are also distinct.
        let mut known_so_far = true;
        let mut pos = end;
        while b.get(pos) == Some(&b',') {
            let (tag, vend) = pair(line, pos + 1, "tag")?;
            if b.get(vend) == Some(&b'=') {
                return refuse(vend, "unescaped '=' in a tag value");
            }
            if vend == tag.key_end + 1 {
                return refuse(vend, format!("tag {:?} has an empty value", tag.key));
            }
            let value = unescape(&line[tag.key_end + 1..vend], tag.value_escaped);
            let known = self.checked.tag_keys.get(out.tags.len()) == Some(&tag.key);
            known_so_far &= known;
            if !known || value.len() > MAX_TAG_VALUE_LEN {
                validate_tag(&tag.key, &value, false).or_else(|e| refuse(tag.start, e.to_string()))?;
            }
            if !known_so_far && out.tags.iter().any(|(k, _)| *k == tag.key) {
                return refuse(tag.start, format!("duplicate tag key {:?}", tag.key));
            }
            out.tags.push((tag.key, value));
            pos = vend;
        }
        let new_tags = !known_so_far || out.tags.len() != self.checked.tag_keys.len();

        pos = skip_spaces(b, pos);
        if pos == b.len() {
            return refuse(pos, "missing fields (a line needs at least one field=value)");
        }
        known_so_far = true;
        loop {
            let (field, vend) = pair(line, pos, "field")?;
            let vstart = field.key_end + 1;
            if b.get(vstart) == Some(&b'"') {
                return refuse(
                    vstart,
                    format!("field {:?}: string values are not stored (Chronicle stores numbers)", field.key),
                );
            }
            let raw = &line[vstart..vend];
            let value = field_value(raw).or_else(|why| refuse(vstart, format!("field {:?}: {why}", field.key)))?;
            let known = self.checked.field_names.get(out.fields.len()) == Some(&field.key);
            known_so_far &= known;
            if !known {
                validate_written_field(&field.key).or_else(|e| refuse(field.start, e.to_string()))?;
            }
            if !known_so_far && out.fields.iter().any(|(k, _)| *k == field.key) {
                return refuse(field.start, format!("duplicate field {:?}", field.key));
            }
            out.fields.push((field.key, value));
            pos = vend;
            if b.get(pos) != Some(&b',') {
                break;
            }
            pos += 1;
        }
        let new_fields = !known_so_far || out.fields.len() != self.checked.field_names.len();

        out.timestamp = self.timestamp(line, skip_spaces(b, pos))?;
        if new_measurement {
            self.checked.measurement = out.measurement.clone();
        }
        if new_tags {
            self.checked.tag_keys.clear();
            self.checked.tag_keys.extend(out.tags.iter().map(|(k, _)| k.clone()));
        }
        if new_fields {
            self.checked.field_names.clear();
            self.checked.field_names.extend(out.fields.iter().map(|(k, _)| k.clone()));
        }
        Ok(())
    }

    /// The timestamp starting at `start` (or the default at the end of the
    /// line), scaled to nanoseconds; nothing but spaces may follow it.
    fn timestamp(&self, line: &str, start: usize) -> Result<i64, Refusal> {
        let b = line.as_bytes();
        if start == b.len() {
            return Ok(self.default_timestamp);
        }
        let end = b[start..].iter().position(|&c| c == b' ').map_or(b.len(), |p| start + p);
        let raw = &line[start..end];
        if !raw.bytes().enumerate().all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == b'-' && raw.len() > 1)) {
            return refuse(start, format!("invalid timestamp {raw:?} (an integer in {})", self.precision));
        }
        let Some(ns) = raw.parse::<i64>().ok().and_then(|t| t.checked_mul(self.precision.nanos())) else {
            return refuse(start, format!("timestamp {raw} ({}) overflows 64-bit nanoseconds", self.precision));
        };
        if skip_spaces(b, end) != b.len() {
            return refuse(end + 1, "unexpected text after the timestamp");
        }
        Ok(ns)
    }
}

/// A `key=` scanned by [`pair`]: the unescaped key, where it starts, where
/// its `=` is, and whether the value after it holds an escape.
struct Pair<'a> {
    key: Cow<'a, str>,
    start: usize,
    key_end: usize,
    value_escaped: bool,
}

/// Scans `key=value` from `start`, the value up to an unescaped `,`, space
/// or `=` (or the end); returns the pair and the end of the value.
fn pair<'a>(line: &'a str, start: usize, what: &str) -> Result<(Pair<'a>, usize), Refusal> {
    let b = line.as_bytes();
    let (key_end, key_escaped) = scan(b, start, |c| c == b'=' || c == b',' || c == b' ');
    if key_end == start {
        return refuse(start, format!("missing {what} key"));
    }
    let key = unescape(&line[start..key_end], key_escaped);
    if b.get(key_end) != Some(&b'=') {
        return refuse(key_end, format!("{what} {key:?} has no '=value'"));
    }
    let (value_end, value_escaped) = scan(b, key_end + 1, |c| c == b',' || c == b' ' || c == b'=');
    Ok((Pair { key, start, key_end, value_escaped }, value_end))
}

/// The first unescaped byte at or after `from` for which `stop` holds (or
/// the end), and whether a backslash was passed on the way.
fn scan(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> (usize, bool) {
    let mut i = from;
    let mut escaped = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // The escaped byte never ends the token, whatever it is; a
            // trailing backslash is literal.
            escaped = true;
            i += 2;
        } else if stop(c) {
            return (i, escaped);
        } else {
            i += 1;
        }
    }
    (b.len(), escaped)
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// `s` unescaped, borrowed unless it holds a backslash.
fn unescape(s: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, ',' | '=' | ' ' | '\\')
        {
            out.push(next);
            chars.next();
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A field value as stored: floats as written, integers and booleans
/// converted (see the module docs).
fn field_value(raw: &str) -> Result<f64, String> {
    if let Some(digits) = raw.strip_suffix('i') {
        return digits
            .parse::<i64>()
            .map(|v| v as f64)
            .map_err(|_| format!("invalid integer {raw:?} (a 64-bit signed integer and 'i')"));
    }
    if let Some(digits) = raw.strip_suffix('u') {
        return digits
            .parse::<u64>()
            .map(|v| v as f64)
            .map_err(|_| format!("invalid unsigned integer {raw:?} (a 64-bit unsigned integer and 'u')"));
    }
    match raw {
        "" => Err("missing value".into()),
        "t" | "T" | "true" | "True" | "TRUE" => Ok(1.0),
        "f" | "F" | "false" | "False" | "FALSE" => Ok(0.0),
        // Rust also reads "inf" and "NaN", which line protocol has not.
        _ if raw.bytes().any(|c| c.is_ascii_alphabetic() && c != b'e' && c != b'E') => Err(invalid_number(raw)),
        _ => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(format!("float {raw:?} is out of range")),
            Err(_) => Err(invalid_number(raw)),
        },
    }
}

fn invalid_number(raw: &str) -> String {
    format!("invalid value {raw:?} (a float, an integer with 'i' or 'u', a boolean, or a quoted string)")
}
