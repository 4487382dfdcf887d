//! WHERE: the time bounds, and every other condition as a DataFusion predicate.
//!
//! Time conditions must be ANDed at the top level (`time >= '2026-01-01T00:00:00Z'`,
//! `time < now() - 1h`, integer nanoseconds); they become one inclusive range.
//! Bounds are exact whatever their size: a bound past the last timestamp an
//! `i64` holds (`time > 9223372036854775807`, `time >= '2263-01-01T00:00:00Z'`)
//! or before the first (`time < -9223372036854775808`) matches nothing, and
//! one that excludes no timestamp (`time <= 9223372036854775807`) is no bound.
//! (InfluxDB 1.6 wraps around there, returning points for `time > <i64 max>`,
//! and refuses integers beyond `i64` and RFC 3339 times beyond 1677..2262.)
//! Tags compare with `=`, `!=`/`<>`, `=~ /re/` and `!~ /re/` (unanchored), with
//! InfluxQL's rule that a series lacking the tag holds the empty string: where
//! the condition holds for `''`, the predicate also admits a null tag. Fields
//! compare with numbers. An identifier that is neither a tag nor a field is a
//! tag no series has.

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use datafusion::logical_expr::{BinaryExpr, Operator, lit};
use datafusion::prelude::{Expr as DfExpr, ident};
use regex::Regex;

use super::ast::{CmpOp, Cond, Operand};
use super::error::{Result, SyntaxError};

/// An inclusive time range; `None` is unbounded. It is empty when `start > end`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeRange {
    /// The first nanosecond.
    pub start: Option<i64>,
    /// The last nanosecond.
    pub end: Option<i64>,
}

impl TimeRange {
    /// The range no timestamp is in.
    const NOTHING: TimeRange = TimeRange { start: Some(i64::MAX), end: Some(i64::MIN) };

    /// No timestamp is in the range.
    pub fn is_empty(&self) -> bool {
        matches!((self.start, self.end), (Some(s), Some(e)) if s > e)
    }

    /// Keeps the times `>= lo`.
    fn at_least(&mut self, lo: i128) {
        if lo <= i128::from(i64::MIN) {
            return;
        }
        match i64::try_from(lo) {
            Ok(lo) => self.start = Some(self.start.map_or(lo, |s| s.max(lo))),
            Err(_) => *self = Self::NOTHING,
        }
    }

    /// Keeps the times `<= hi`.
    fn at_most(&mut self, hi: i128) {
        if hi >= i128::from(i64::MAX) {
            return;
        }
        match i64::try_from(hi) {
            Ok(hi) => self.end = Some(self.end.map_or(hi, |e| e.min(hi))),
            Err(_) => *self = Self::NOTHING,
        }
    }
}

/// What the names of a condition refer to.
pub trait Names {
    /// `name` is a tag key of the measurement.
    fn is_tag(&self, name: &str) -> bool;
    /// `name` is a field of the measurement.
    fn is_field(&self, name: &str) -> bool;
}

/// Splits `cond` into its time range and the remaining predicate, evaluating `now()` as `now`.
pub fn translate(cond: &Cond, names: &impl Names, now: i64) -> Result<(TimeRange, Option<DfExpr>)> {
    let mut conjuncts = Vec::new();
    flatten_and(cond, &mut conjuncts);
    let mut range = TimeRange::default();
    let mut rest: Option<DfExpr> = None;
    for c in conjuncts {
        if let Some(bound) = time_bound(c, now)? {
            bound.apply(&mut range);
        } else {
            let p = predicate(c, names)?;
            rest = Some(match rest {
                Some(r) => r.and(p),
                None => p,
            });
        }
    }
    Ok((range, rest))
}

fn flatten_and<'a>(cond: &'a Cond, out: &mut Vec<&'a Cond>) {
    match cond {
        Cond::And(a, b) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        other => out.push(other),
    }
}

fn is_time(o: &Operand) -> bool {
    matches!(o, Operand::Ident(n) if n.eq_ignore_ascii_case("time"))
}

fn mentions_time(cond: &Cond) -> Option<usize> {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => mentions_time(a).or_else(|| mentions_time(b)),
        Cond::Cmp { lhs, rhs, at, .. } => (is_time(lhs) || is_time(rhs)).then_some(*at),
    }
}

/// One bound on time: `op` against `value` nanoseconds (which may lie
/// beyond the timestamps' range).
struct Bound {
    op: CmpOp,
    value: i128,
}

impl Bound {
    fn apply(&self, range: &mut TimeRange) {
        let v = self.value;
        let (lo, hi) = match self.op {
            CmpOp::Gt => (Some(v.saturating_add(1)), None),
            CmpOp::GtEq => (Some(v), None),
            CmpOp::Lt => (None, Some(v.saturating_sub(1))),
            CmpOp::LtEq => (None, Some(v)),
            _ => (Some(v), Some(v)),
        };
        if let Some(lo) = lo {
            range.at_least(lo);
        }
        if let Some(hi) = hi {
            range.at_most(hi);
        }
    }
}

fn time_bound(cond: &Cond, now: i64) -> Result<Option<Bound>> {
    let Cond::Cmp { lhs, op, rhs, at } = cond else {
        return match mentions_time(cond) {
            Some(at) => {
                Err(SyntaxError::new(at, "time conditions must be ANDed with the rest of the condition, not inside OR"))
            }
            None => Ok(None),
        };
    };
    let (other, op) = match (is_time(lhs), is_time(rhs)) {
        (true, false) => (rhs, *op),
        (false, true) => (lhs, op.flipped()),
        (false, false) => return Ok(None),
        (true, true) => return Err(SyntaxError::new(*at, "compare time with a time value")),
    };
    if matches!(op, CmpOp::NotEq | CmpOp::Match | CmpOp::NotMatch) {
        return Err(SyntaxError::new(*at, "time takes =, <, <=, > or >="));
    }
    let value = time_value(other, now).map_err(|m| SyntaxError::new(*at, m))?;
    Ok(Some(Bound { op, value }))
}

/// A time operand in nanoseconds, exact even beyond the range of timestamps.
fn time_value(o: &Operand, now: i64) -> std::result::Result<i128, String> {
    match o {
        Operand::Str(s) => {
            let bad = |_| format!("'{s}' is not an RFC 3339 time such as '2026-01-01T00:00:00Z'");
            // Parsed as a date and time, not as nanoseconds, which end in 2262.
            let utc: Tz = "+00:00".parse().map_err(bad)?;
            let t = string_to_datetime(&utc, s).map_err(bad)?;
            Ok(i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
        }
        Operand::Int(n) => Ok(*n),
        Operand::Number(f) if f.is_finite() => Ok(*f as i128),
        Operand::Duration(d) => Ok(i128::from(*d)),
        Operand::Now => Ok(i128::from(now)),
        Operand::Arith { lhs, plus, rhs } => {
            let (a, b) = (time_value(lhs, now)?, time_value(rhs, now)?);
            let v = if *plus { a.checked_add(b) } else { a.checked_sub(b) };
            v.ok_or_else(|| "time arithmetic overflows".to_string())
        }
        Operand::Number(_) | Operand::Ident(_) | Operand::Regex(_) => {
            Err("time compares with a time: an RFC 3339 string, integer nanoseconds or now() - 1h".into())
        }
    }
}

fn predicate(cond: &Cond, names: &impl Names) -> Result<DfExpr> {
    match cond {
        Cond::And(a, b) => Ok(predicate(a, names)?.and(predicate(b, names)?)),
        Cond::Or(a, b) => Ok(predicate(a, names)?.or(predicate(b, names)?)),
        Cond::Cmp { lhs, op, rhs, at } => {
            if mentions_time(cond).is_some() {
                return Err(SyntaxError::new(
                    *at,
                    "time conditions must be ANDed with the rest of the condition, not inside OR",
                ));
            }
            let (name, op, value) = match (lhs, rhs) {
                (Operand::Ident(n), Operand::Ident(_)) => {
                    return Err(SyntaxError::new(*at, format!("compare {n} with a value, not with another column")));
                }
                (Operand::Ident(n), v) => (n, *op, v),
                (v, Operand::Ident(n)) => (n, op.flipped(), v),
                _ => return Err(SyntaxError::new(*at, "a comparison needs a field or a tag on one side")),
            };
            comparison(name, op, value, names).map_err(|m| SyntaxError::new(*at, m))
        }
    }
}

fn comparison(name: &str, op: CmpOp, value: &Operand, names: &impl Names) -> std::result::Result<DfExpr, String> {
    if names.is_field(name) {
        let v = match value {
            Operand::Number(f) => *f,
            Operand::Int(i) => *i as f64,
            _ => return Err(format!("field {name} holds numbers: compare it with a number")),
        };
        let df_op = match op {
            CmpOp::Eq => Operator::Eq,
            CmpOp::NotEq => Operator::NotEq,
            CmpOp::Lt => Operator::Lt,
            CmpOp::LtEq => Operator::LtEq,
            CmpOp::Gt => Operator::Gt,
            CmpOp::GtEq => Operator::GtEq,
            CmpOp::Match | CmpOp::NotMatch => {
                return Err(format!("field {name} holds numbers: =~ and !~ apply to tags"));
            }
        };
        return Ok(binary(ident(name), df_op, lit(v)));
    }
    let (df_op, holds_on_empty, value) = match (op, value) {
        (CmpOp::Eq, Operand::Str(s)) => (Operator::Eq, s.is_empty(), s.clone()),
        (CmpOp::NotEq, Operand::Str(s)) => (Operator::NotEq, !s.is_empty(), s.clone()),
        (CmpOp::Match | CmpOp::NotMatch, Operand::Regex(r)) => {
            let re = Regex::new(r).map_err(|e| format!("bad regex /{r}/: {e}"))?;
            let matches_empty = re.is_match("");
            if op == CmpOp::Match {
                (Operator::RegexMatch, matches_empty, r.clone())
            } else {
                (Operator::RegexNotMatch, !matches_empty, r.clone())
            }
        }
        (CmpOp::Match | CmpOp::NotMatch, _) => {
            return Err(format!("=~ and !~ take a regex such as /^web-/, for {name}"));
        }
        (CmpOp::Eq | CmpOp::NotEq, Operand::Int(_) | Operand::Number(_)) => {
            return Err(format!("tag {name} holds strings: quote the value"));
        }
        (CmpOp::Eq | CmpOp::NotEq, _) => return Err(format!("compare tag {name} with a quoted string")),
        _ => return Err(format!("tag {name} takes =, !=, <>, =~ or !~")),
    };
    if !names.is_tag(name) {
        // No series has this tag: every series holds '' for it.
        return Ok(lit(holds_on_empty));
    }
    let column = ident(name);
    Ok(match (df_op, value.is_empty()) {
        (Operator::Eq, true) => column.is_null(),
        (Operator::NotEq, true) => column.is_not_null(),
        _ => {
            let base = binary(column.clone(), df_op, lit(value));
            if holds_on_empty { base.or(column.is_null()) } else { base }
        }
    })
}

fn binary(l: DfExpr, op: Operator, r: DfExpr) -> DfExpr {
    DfExpr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::query::dialect::parser::parse;

    struct Cpu;
    impl Names for Cpu {
        fn is_tag(&self, n: &str) -> bool {
            n == "host"
        }
        fn is_field(&self, n: &str) -> bool {
            n == "usage"
        }
    }

    fn where_(cond: &str) -> Result<(TimeRange, Option<DfExpr>)> {
        let q = parse(&format!("SELECT usage FROM cpu WHERE {cond}")).unwrap();
        translate(&q.condition.unwrap(), &Cpu, 1_000_000_000_000)
    }

    #[test]
    fn time_bounds_become_one_inclusive_range() {
        let (r, rest) = where_("time > 10 AND time <= '1970-01-01T00:00:01Z' AND time >= 5").unwrap();
        assert_eq!(r, TimeRange { start: Some(11), end: Some(1_000_000_000) });
        assert!(rest.is_none());
        let (r, _) = where_("time >= now() - 1s AND time < now()").unwrap();
        assert_eq!(r, TimeRange { start: Some(999_000_000_000), end: Some(999_999_999_999) });
        let (r, _) = where_("20 > time").unwrap();
        assert_eq!(r.end, Some(19));
    }

    #[test]
    fn bounds_beyond_the_timestamps_match_nothing_or_exclude_nothing() {
        for cond in [
            "time > 9223372036854775807",
            "time >= 9223372036854775808",
            "time = 9223372036854775808",
            "time > 99999999999999999999",
            "time < -9223372036854775808",
            "time <= -9223372036854775809",
            "time >= '2263-01-01T00:00:00Z'",
            "time < '1677-09-21T00:12:43.145224191Z'",
            "time > now() + 15000w + 15000w",
            "time > 1 AND time < 9223372036854775808 AND time >= 9223372036854775808",
            "time > 10 AND time < 5",
        ] {
            let (range, _) = where_(cond).unwrap();
            assert!(range.is_empty(), "{cond} matches nothing, got {range:?}");
        }
        for cond in [
            "time <= 9223372036854775807",
            "time < 9223372036854775808",
            "time >= -9223372036854775808",
            "time > -9223372036854775809",
            "time < '2263-01-01T00:00:00Z'",
            "time > '1677-01-01T00:00:00Z'",
        ] {
            assert_eq!(where_(cond).unwrap().0, TimeRange::default(), "{cond} excludes no timestamp");
        }
        for (cond, range) in [
            ("time >= 9223372036854775807", TimeRange { start: Some(i64::MAX), end: None }),
            ("time > 9223372036854775806", TimeRange { start: Some(i64::MAX), end: None }),
            ("time <= -9223372036854775808", TimeRange { start: None, end: Some(i64::MIN) }),
            ("time < '1677-09-21T00:12:43.145224193Z'", TimeRange { start: None, end: Some(i64::MIN) }),
        ] {
            let (got, _) = where_(cond).unwrap();
            assert_eq!(got, range, "{cond}: the last timestamps still count");
            assert!(!got.is_empty());
        }
    }

    #[test]
    fn tags_follow_influxql_missing_tag_semantics() {
        let (_, p) = where_("host='a'").unwrap();
        assert_eq!(p.unwrap().to_string(), "host = Utf8(\"a\")");
        let (_, p) = where_("host <> 'a'").unwrap();
        assert_eq!(p.unwrap().to_string(), "host != Utf8(\"a\") OR host IS NULL");
        let (_, p) = where_("host = ''").unwrap();
        assert_eq!(p.unwrap().to_string(), "host IS NULL");
        let (_, p) = where_("host =~ /.*/ AND usage > 1").unwrap();
        assert_eq!(p.unwrap().to_string(), "(host ~ Utf8(\".*\") OR host IS NULL) AND usage > Float64(1)");
        let (_, p) = where_("nosuchtag = ''").unwrap();
        assert_eq!(p.unwrap().to_string(), "Boolean(true)");
    }

    #[test]
    fn bad_conditions_are_refused_with_their_position() {
        for (cond, needle) in [
            ("host = 1", "quote"),
            ("usage = 'x'", "number"),
            ("host > 'a'", "takes"),
            ("host =~ /(/", "bad regex"),
            ("time > 1 OR host = 'a'", "not inside OR"),
            ("time != 5", "time takes"),
            ("time > 'yesterday'", "RFC 3339"),
        ] {
            let e = where_(cond).unwrap_err();
            assert!(e.message.contains(needle), "{cond}: {}", e.message);
            assert!(e.at >= 30, "{cond}: points into the condition, got {}", e.at);
        }
    }
}
