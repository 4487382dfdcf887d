//! The rules names and tags obey, checked before anything is logged.
//!
//! - measurement and field names: `[a-zA-Z_:][a-zA-Z0-9_:.]*`, at most
//!   [`MAX_NAME_LEN`] bytes;
//! - tag keys: `[a-zA-Z_][a-zA-Z0-9_]*`, at most [`MAX_NAME_LEN`] bytes, not
//!   starting with `__` (reserved for Chronicle, e.g. `__tenant__`);
//! - tag values: non-empty UTF-8, at most [`MAX_TAG_VALUE_LEN`] bytes.

/// Longest measurement, field or tag-key name, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Longest tag value, in bytes.
pub const MAX_TAG_VALUE_LEN: usize = 4096;

/// Why a row was refused; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A measurement name breaks the naming rule.
    #[error("invalid measurement name {0:?}: {1}")]
    Measurement(String, &'static str),
    /// A field name breaks the naming rule.
    #[error("invalid field name {0:?}: {1}")]
    Field(String, &'static str),
    /// A tag key breaks the naming rule.
    #[error("invalid tag key {0:?}: {1}")]
    TagKey(String, &'static str),
    /// A tag value is empty or too long.
    #[error("invalid value for tag {0:?}: {1}")]
    TagValue(String, &'static str),
    /// A tag key appears twice.
    #[error("duplicate tag key {0:?}")]
    DuplicateTag(String),
    /// A field name appears twice in one row.
    #[error("duplicate field {0:?}")]
    DuplicateField(String),
    /// A row carries no field.
    #[error("a row needs at least one field")]
    NoFields,
    /// A name would give the measurement's SQL table two columns of that
    /// name: a tag key or field named `time`, or one name both a tag key and
    /// a field of the measurement (see `model::column_names`).
    #[error("measurement {measurement:?}: {kind} {name:?} {why}")]
    ColumnClash {
        /// The measurement.
        measurement: String,
        /// What the row makes of the name: `tag key` or `field`.
        kind: &'static str,
        /// The name.
        name: String,
        /// Why it is refused.
        why: &'static str,
    },
}

/// A naming rule: which bytes may start and continue a name, and how to say so.
struct Rule {
    first: fn(u8) -> bool,
    rest: fn(u8) -> bool,
    first_why: &'static str,
    rest_why: &'static str,
}

const METRIC_RULE: Rule = Rule {
    first: |b| b.is_ascii_alphabetic() || b == b'_' || b == b':',
    rest: |b| b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'.',
    first_why: "must start with a letter, '_' or ':'",
    rest_why: "may hold only letters, digits, '_', ':' and '.'",
};

const TAG_KEY_RULE: Rule = Rule {
    first: |b| b.is_ascii_alphabetic() || b == b'_',
    rest: |b| b.is_ascii_alphanumeric() || b == b'_',
    first_why: "must start with a letter or '_'",
    rest_why: "may hold only letters, digits and '_'",
};

impl Rule {
    fn check(&self, name: &str) -> Result<(), &'static str> {
        let bytes = name.as_bytes();
        match bytes.first() {
            None => Err("empty"),
            _ if bytes.len() > MAX_NAME_LEN => Err("longer than 256 bytes"),
            Some(&b) if !(self.first)(b) => Err(self.first_why),
            _ if !bytes[1..].iter().all(|&b| (self.rest)(b)) => Err(self.rest_why),
            _ => Ok(()),
        }
    }
}

/// Checks a measurement (metric) name.
pub fn validate_measurement(name: &str) -> Result<(), InvalidInput> {
    METRIC_RULE.check(name).map_err(|why| InvalidInput::Measurement(name.into(), why))
}

/// Checks a field name as stored (files and WAL written before names
/// starting with `__` were reserved still read).
pub fn validate_field_name(name: &str) -> Result<(), InvalidInput> {
    METRIC_RULE.check(name).map_err(|why| InvalidInput::Field(name.into(), why))
}

/// Checks the name of a field being written: as [`validate_field_name`],
/// and names starting with `__` are reserved for the parts of native
/// histograms ([`super::histogram::fields`]).
pub fn validate_written_field(name: &str) -> Result<(), InvalidInput> {
    validate_field_name(name)?;
    if name.starts_with("__") && !super::histogram::fields::is_histogram_field(name) {
        return Err(InvalidInput::Field(name.into(), "names starting with '__' are reserved"));
    }
    Ok(())
}

/// Checks one tag; `allow_reserved` admits `__`-prefixed keys (set by
/// Chronicle itself, never by callers).
pub fn validate_tag(key: &str, value: &str, allow_reserved: bool) -> Result<(), InvalidInput> {
    TAG_KEY_RULE.check(key).map_err(|why| InvalidInput::TagKey(key.into(), why))?;
    if !allow_reserved && key.starts_with("__") {
        return Err(InvalidInput::TagKey(key.into(), "keys starting with '__' are reserved"));
    }
    if value.is_empty() {
        return Err(InvalidInput::TagValue(key.into(), "empty"));
    }
    if value.len() > MAX_TAG_VALUE_LEN {
        return Err(InvalidInput::TagValue(key.into(), "longer than 4096 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_rules() {
        for ok in ["cpu", "_x", ":rule:rate5m", "a.b_c:9"] {
            assert_eq!(validate_measurement(ok), Ok(()), "{ok}");
        }
        for bad in ["", "9cpu", "cpu-load", "cpu load", ".x"] {
            assert!(validate_measurement(bad).is_err(), "{bad}");
        }
        assert!(validate_field_name(&"a".repeat(257)).is_err());
        assert!(validate_field_name(&"a".repeat(256)).is_ok());
        assert!(validate_field_name("__x").is_ok(), "stored names still read");
        assert!(validate_written_field("__x").expect_err("reserved").to_string().contains("reserved"));
        assert!(validate_written_field("__hist_p3").is_ok());
    }

    #[test]
    fn tag_rules_give_reasons() {
        assert_eq!(validate_tag("host", "a", false), Ok(()));
        assert_eq!(validate_tag("__tenant__", "t", true), Ok(()));
        let reserved = validate_tag("__tenant__", "t", false).expect_err("reserved").to_string();
        assert!(reserved.contains("reserved"), "{reserved}");
        assert!(validate_tag("a:b", "v", false).expect_err("colon").to_string().contains("letters, digits and '_'"));
        assert!(validate_tag(":a", "v", false).expect_err("start").to_string().contains("letter or '_'"));
        assert!(validate_tag("k", "", false).is_err());
        assert!(validate_tag("k", &"v".repeat(4097), false).is_err());
        assert!(validate_tag("k", &"é".repeat(2048), false).is_ok());
    }
}
