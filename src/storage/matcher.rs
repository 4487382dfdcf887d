//! Tag matchers: which series of a measurement a scan reads.
//!
//! Semantics follow Prometheus label matchers: a series without the tag
//! behaves as if its value were the empty string, so `host != "a"` keeps
//! series without `host`, and `host = ""` selects exactly those. Regexes are
//! anchored at both ends.

use regex::Regex;

use crate::error::{Error, Result};

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// The value equals.
    Eq,
    /// The value differs.
    NotEq,
    /// The whole value matches the regex.
    Regex,
    /// The whole value does not match the regex.
    NotRegex,
}

/// One condition on one tag.
#[derive(Debug, Clone)]
pub struct TagMatcher {
    /// The tag key.
    pub key: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or pattern, as given.
    pub value: String,
    regex: Option<Regex>,
}

impl TagMatcher {
    /// `key = value`.
    pub fn eq(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), op: MatchOp::Eq, value: value.into(), regex: None }
    }

    /// `key != value`.
    pub fn not_eq(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), op: MatchOp::NotEq, value: value.into(), regex: None }
    }

    /// `key =~ pattern`, anchored; an invalid regex is an
    /// [`Error::InvalidArgument`] naming the pattern and what is wrong with it.
    pub fn regex(key: impl Into<String>, pattern: impl Into<String>) -> Result<Self> {
        Self::with_regex(key.into(), MatchOp::Regex, pattern.into())
    }

    /// `key !~ pattern`, anchored; an invalid regex is an
    /// [`Error::InvalidArgument`] naming the pattern and what is wrong with it.
    pub fn not_regex(key: impl Into<String>, pattern: impl Into<String>) -> Result<Self> {
        Self::with_regex(key.into(), MatchOp::NotRegex, pattern.into())
    }

    fn with_regex(key: String, op: MatchOp, pattern: String) -> Result<Self> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::InvalidArgument(format!("tag matcher on `{key}`: invalid regex `{pattern}`: {e}")))?;
        Ok(Self { key, op, value: pattern, regex: Some(regex) })
    }

    /// Whether a series whose tag value is `value` (None: it lacks the tag) passes.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::NotEq, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // Regex matchers are only built with their regex.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_tags_compare_as_empty() {
        assert!(TagMatcher::not_eq("host", "a").matches(None));
        assert!(TagMatcher::eq("host", "").matches(None));
        assert!(!TagMatcher::eq("host", "a").matches(None));
        let re = TagMatcher::regex("host", "a|b").expect("valid");
        assert!(re.matches(Some("a")) && !re.matches(Some("ab")), "anchored");
        assert!(TagMatcher::not_regex("host", "a.*").expect("valid").matches(None));
    }

    #[test]
    fn an_invalid_regex_is_an_invalid_argument_naming_the_pattern() {
        for matcher in [TagMatcher::regex("host", "web-(a"), TagMatcher::not_regex("host", "web-(a")] {
            match matcher {
                Err(Error::InvalidArgument(message)) => {
                    assert!(message.contains("`host`") && message.contains("`web-(a`"), "{message}");
                    assert!(message.contains("unclosed group"), "says what is wrong: {message}");
                }
                other => panic!("expected InvalidArgument, got {other:?}"),
            }
        }
    }
}
