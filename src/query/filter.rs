//! Which SQL filters a Chronicle scan applies, and how.
//!
//! A filter is **Exact** when the scan applies it completely, so DataFusion
//! drops it: comparisons of `time` with a timestamp (and `BETWEEN`), tag
//! `=`, `!=`, `IN`, `NOT IN`, regex match and not-match (`~`, `~*`, `!~`,
//! `!~*`), tag `IS [NOT] NULL`, field `IS NOT NULL` and `OR`s of those (the
//! scan's `present` conditions), and `AND` of these. It is **Inexact** when
//! the scan only uses it to skip chunks by their min/max stats: comparisons
//! of a field with a number. Anything else is **Unsupported**.
//!
//! A column is seen through a cast only when the cast keeps every value
//! (`time` to a nanosecond timestamp of any zone, a tag to any string type,
//! a field to `Float64`): `CAST(usage AS BIGINT) = 5` is not a range on
//! `usage`, since 5.4 meets it.
//!
//! SQL semantics are kept exactly: a row whose tag is NULL (the series lacks
//! it) fails `tag = x`, `tag != x`, `tag ~ re` and `tag NOT IN (..)` alike, so
//! those conditions also require the tag to be present; `tag = ''` matches
//! nothing (empty tag values are never stored). SQL regex matches are
//! unanchored, so a pattern `p` becomes the anchored matcher `(?s).*(?:p).*`.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};

use crate::storage::matcher::TagMatcher;
use crate::storage::scan::FieldRange;

/// What the table knows about its columns.
pub(crate) trait Columns {
    /// Whether `name` is a tag column.
    fn is_tag(&self, name: &str) -> bool;
    /// Whether `name` is a field column.
    fn is_field(&self, name: &str) -> bool;
}

/// The conditions a scan applies, gathered from pushed-down filters.
#[derive(Debug, Clone)]
pub(crate) struct Pushdown {
    /// Earliest time, inclusive.
    pub start: i64,
    /// Latest time, inclusive.
    pub end: i64,
    /// Tag conditions, all of which must hold.
    pub matchers: Vec<TagMatcher>,
    /// Field ranges used to skip chunks (the filters stay above the scan).
    pub field_ranges: Vec<FieldRange>,
    /// Conditions "one of these fields has a value", all of which hold.
    pub present: Vec<Vec<String>>,
    /// A condition no row can meet was found.
    pub never: bool,
}

impl Default for Pushdown {
    fn default() -> Self {
        Self {
            start: i64::MIN,
            end: i64::MAX,
            matchers: Vec::new(),
            field_ranges: Vec::new(),
            present: Vec::new(),
            never: false,
        }
    }
}

impl Pushdown {
    /// Gathers what the scan can use from `filters` (each already classified
    /// Exact or Inexact by [`support`]).
    pub(crate) fn from_filters(filters: &[Expr], columns: &dyn Columns) -> Self {
        let mut out = Self::default();
        for f in filters {
            let mut exact = Self { field_ranges: Vec::new(), ..out.clone() };
            if add_exact(f, columns, &mut exact) {
                exact.field_ranges = out.field_ranges;
                out = exact;
            } else {
                add_ranges(f, columns, &mut out);
            }
        }
        out
    }
}

/// How far a scan can take `filter`.
pub(crate) fn support(filter: &Expr, columns: &dyn Columns) -> TableProviderFilterPushDown {
    if add_exact(filter, columns, &mut Pushdown::default()) {
        TableProviderFilterPushDown::Exact
    } else if add_ranges(filter, columns, &mut Pushdown::default()) {
        TableProviderFilterPushDown::Inexact
    } else {
        TableProviderFilterPushDown::Unsupported
    }
}

/// The column an expression names, looking through casts that keep every
/// value of the column (see the module docs).
fn column<'a>(e: &'a Expr, columns: &dyn Columns) -> Option<&'a str> {
    let (inner, to) = match e {
        Expr::Column(c) => return Some(c.name.as_str()),
        Expr::Cast(c) => (&c.expr, c.field.data_type()),
        Expr::TryCast(c) => (&c.expr, c.field.data_type()),
        _ => return None,
    };
    let name = column(inner, columns)?;
    let keeps = if name == "time" {
        matches!(to, DataType::Timestamp(TimeUnit::Nanosecond, _))
    } else if columns.is_tag(name) {
        is_string(to)
    } else {
        columns.is_field(name) && to == &DataType::Float64
    };
    keeps.then_some(name)
}

fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string(values),
        _ => false,
    }
}

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

/// A timestamp literal in nanoseconds (saturating).
fn timestamp_ns(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampNanosecond(Some(t), _) => Some(*t),
        ScalarValue::TimestampMicrosecond(Some(t), _) => Some(t.saturating_mul(1_000)),
        ScalarValue::TimestampMillisecond(Some(t), _) => Some(t.saturating_mul(1_000_000)),
        ScalarValue::TimestampSecond(Some(t), _) => Some(t.saturating_mul(1_000_000_000)),
        _ => None,
    }
}

/// A string literal.
fn string(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
        ScalarValue::Dictionary(_, inner) => string(inner),
        _ => None,
    }
}

/// A numeric literal as f64, when the conversion is exact.
fn number(v: &ScalarValue) -> Option<f64> {
    /// Integers beyond 2^53 may not be floats: comparing as f64 would round.
    const EXACT: u64 = 1 << 53;
    match v {
        ScalarValue::Float64(Some(x)) => Some(*x),
        ScalarValue::Float32(Some(x)) => Some(f64::from(*x)),
        ScalarValue::Int64(Some(x)) => (x.unsigned_abs() <= EXACT).then_some(*x as f64),
        ScalarValue::Int32(Some(x)) => Some(f64::from(*x)),
        ScalarValue::Int16(Some(x)) => Some(f64::from(*x)),
        ScalarValue::Int8(Some(x)) => Some(f64::from(*x)),
        ScalarValue::UInt64(Some(x)) => (*x <= EXACT).then_some(*x as f64),
        ScalarValue::UInt32(Some(x)) => Some(f64::from(*x)),
        ScalarValue::UInt16(Some(x)) => Some(f64::from(*x)),
        ScalarValue::UInt8(Some(x)) => Some(f64::from(*x)),
        _ => None,
    }
}

/// `(column, op, literal)` with the column on the left.
fn comparison<'a>(b: &'a BinaryExpr, columns: &dyn Columns) -> Option<(&'a str, Operator, &'a ScalarValue)> {
    if let (Some(c), Some(v)) = (column(&b.left, columns), literal(&b.right)) {
        return Some((c, b.op, v));
    }
    let (c, v) = (column(&b.right, columns)?, literal(&b.left)?);
    Some((c, b.op.swap()?, v))
}

fn narrow_time(out: &mut Pushdown, op: Operator, t: i64) -> bool {
    match op {
        Operator::Eq => {
            out.start = out.start.max(t);
            out.end = out.end.min(t);
        }
        Operator::Gt => match t.checked_add(1) {
            Some(t) => out.start = out.start.max(t),
            None => out.never = true,
        },
        Operator::GtEq => out.start = out.start.max(t),
        Operator::Lt => match t.checked_sub(1) {
            Some(t) => out.end = out.end.min(t),
            None => out.never = true,
        },
        Operator::LtEq => out.end = out.end.min(t),
        _ => return false,
    }
    true
}

/// The tag must be present (SQL: a NULL tag fails the condition).
fn present(tag: &str) -> TagMatcher {
    TagMatcher::not_eq(tag, "")
}

fn tag_condition(out: &mut Pushdown, tag: &str, op: Operator, value: &str) -> bool {
    let unanchored = |p: &str, case_insensitive: bool| {
        let flags = if case_insensitive { "(?si)" } else { "(?s)" };
        format!("{flags}.*(?:{p}).*")
    };
    let matcher = match op {
        Operator::Eq if value.is_empty() => {
            out.never = true;
            return true;
        }
        Operator::Eq => TagMatcher::eq(tag, value),
        Operator::NotEq => TagMatcher::not_eq(tag, value),
        Operator::RegexMatch | Operator::RegexIMatch => {
            match TagMatcher::regex(tag, unanchored(value, op == Operator::RegexIMatch)) {
                Ok(m) => m,
                Err(_) => return false,
            }
        }
        Operator::RegexNotMatch | Operator::RegexNotIMatch => {
            match TagMatcher::not_regex(tag, unanchored(value, op == Operator::RegexNotIMatch)) {
                Ok(m) => m,
                Err(_) => return false,
            }
        }
        _ => return false,
    };
    out.matchers.push(matcher);
    out.matchers.push(present(tag));
    true
}

/// Adds `e` to `out` if the scan applies it completely; false (and `out`
/// possibly half-updated) otherwise.
fn add_exact(e: &Expr, columns: &dyn Columns, out: &mut Pushdown) -> bool {
    match e {
        Expr::BinaryExpr(b) if b.op == Operator::And => {
            add_exact(&b.left, columns, out) && add_exact(&b.right, columns, out)
        }
        Expr::BinaryExpr(b) if b.op == Operator::Or => match any_present(e, columns) {
            Some(fields) => {
                out.present.push(fields);
                true
            }
            None => false,
        },
        Expr::BinaryExpr(b) => match comparison(b, columns) {
            Some(("time", op, v)) => timestamp_ns(v).is_some_and(|t| narrow_time(out, op, t)),
            Some((tag, op, v)) if columns.is_tag(tag) => string(v).is_some_and(|s| tag_condition(out, tag, op, s)),
            _ => false,
        },
        Expr::Between(Between { expr, negated: false, low, high }) if column(expr, columns) == Some("time") => {
            match (literal(low).and_then(timestamp_ns), literal(high).and_then(timestamp_ns)) {
                (Some(lo), Some(hi)) => narrow_time(out, Operator::GtEq, lo) && narrow_time(out, Operator::LtEq, hi),
                _ => false,
            }
        }
        Expr::InList(list) => {
            let Some(tag) = column(&list.expr, columns).filter(|c| columns.is_tag(c)) else { return false };
            let Some(values) = list.list.iter().map(|v| literal(v).and_then(string)).collect::<Option<Vec<_>>>() else {
                return false;
            };
            let alternatives: Vec<String> = values.iter().filter(|v| !v.is_empty()).map(|v| regex::escape(v)).collect();
            if alternatives.is_empty() {
                if !list.negated {
                    out.never = true;
                }
                out.matchers.push(present(tag));
                return true;
            }
            let pattern = alternatives.join("|");
            let matcher =
                if list.negated { TagMatcher::not_regex(tag, pattern) } else { TagMatcher::regex(tag, pattern) };
            match matcher {
                Ok(m) => {
                    out.matchers.push(m);
                    out.matchers.push(present(tag));
                    true
                }
                Err(_) => false,
            }
        }
        Expr::IsNull(inner) => match column(inner, columns) {
            Some(tag) if columns.is_tag(tag) => {
                out.matchers.push(TagMatcher::eq(tag, ""));
                true
            }
            _ => false,
        },
        Expr::IsNotNull(inner) => match column(inner, columns) {
            Some("time") => true,
            Some(tag) if columns.is_tag(tag) => {
                out.matchers.push(present(tag));
                true
            }
            Some(field) if columns.is_field(field) => {
                out.present.push(vec![field.to_string()]);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// The fields of `e` when it is `f IS NOT NULL`, or an `OR` of such.
fn any_present(e: &Expr, columns: &dyn Columns) -> Option<Vec<String>> {
    match e {
        Expr::BinaryExpr(b) if b.op == Operator::Or => {
            let mut fields = any_present(&b.left, columns)?;
            fields.extend(any_present(&b.right, columns)?);
            Some(fields)
        }
        Expr::IsNotNull(inner) => column(inner, columns).filter(|c| columns.is_field(c)).map(|c| vec![c.to_string()]),
        _ => None,
    }
}

/// Adds the field ranges of `e` (a field compared with a number, or an AND
/// of such and of exact conditions) to `out`; false if `e` has none usable.
fn add_ranges(e: &Expr, columns: &dyn Columns, out: &mut Pushdown) -> bool {
    match e {
        Expr::BinaryExpr(b) if b.op == Operator::And => {
            let left = add_ranges(&b.left, columns, out) || add_exact(&b.left, columns, &mut Pushdown::default());
            let right = add_ranges(&b.right, columns, out) || add_exact(&b.right, columns, &mut Pushdown::default());
            left && right
        }
        Expr::BinaryExpr(b) => {
            let Some((name, op, v)) = comparison(b, columns) else { return false };
            let Some(x) = number(v).filter(|x| !x.is_nan()) else { return false };
            if !columns.is_field(name) {
                return false;
            }
            let range = match op {
                Operator::Eq => FieldRange { field: name.into(), lower: Some((x, true)), upper: Some((x, true)) },
                Operator::Gt => FieldRange { field: name.into(), lower: Some((x, false)), upper: None },
                Operator::GtEq => FieldRange { field: name.into(), lower: Some((x, true)), upper: None },
                Operator::Lt => FieldRange { field: name.into(), lower: None, upper: Some((x, false)) },
                Operator::LtEq => FieldRange { field: name.into(), lower: None, upper: Some((x, true)) },
                _ => return false,
            };
            out.field_ranges.push(range);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    struct Cols;
    impl Columns for Cols {
        fn is_tag(&self, name: &str) -> bool {
            name == "host" || name == "dc"
        }
        fn is_field(&self, name: &str) -> bool {
            name == "usage"
        }
    }

    fn ts(t: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into())))
    }

    #[test]
    fn time_and_tag_conditions_are_exact_and_narrow_the_scan() {
        let filters = vec![
            col("time").gt_eq(ts(10)),
            col("time").lt(ts(20)),
            col("host").eq(lit("a")),
            col("dc").not_eq(lit("x")),
            col("host").in_list(vec![lit("a"), lit("b")], false),
        ];
        for f in &filters {
            assert_eq!(support(f, &Cols), TableProviderFilterPushDown::Exact, "{f}");
        }
        let p = Pushdown::from_filters(&filters, &Cols);
        assert_eq!((p.start, p.end, p.never), (10, 19, false));
        let passes = |host: Option<&str>, dc: Option<&str>| {
            p.matchers.iter().all(|m| m.matches(if m.key == "host" { host } else { dc }))
        };
        assert!(passes(Some("a"), Some("y")));
        assert!(!passes(Some("a"), None), "SQL: NULL != 'x' is not true");
        assert!(!passes(Some("b"), Some("y")), "host = 'a'");
    }

    #[test]
    fn field_comparisons_are_inexact_and_others_unsupported() {
        assert_eq!(support(&col("usage").gt(lit(90.0)), &Cols), TableProviderFilterPushDown::Inexact);
        let mixed = col("usage").gt(lit(90)).and(col("host").eq(lit("a")));
        assert_eq!(support(&mixed, &Cols), TableProviderFilterPushDown::Inexact);
        let p = Pushdown::from_filters(&[mixed], &Cols);
        assert_eq!(p.field_ranges.len(), 1);
        assert!(p.matchers.is_empty(), "an inexact filter's tag part is left to the filter above");
        let or = col("host").eq(lit("a")).or(col("host").eq(lit("b")));
        assert_eq!(support(&or, &Cols), TableProviderFilterPushDown::Unsupported);
        assert_eq!(support(&col("time").not_eq(ts(1)), &Cols), TableProviderFilterPushDown::Unsupported);
    }

    #[test]
    fn field_presence_is_exact_and_lossy_casts_are_not_seen_through() {
        let either = col("usage").is_not_null().or(col("usage").is_not_null());
        assert_eq!(support(&either, &Cols), TableProviderFilterPushDown::Exact);
        let p = Pushdown::from_filters(&[either, col("host").is_not_null()], &Cols);
        assert_eq!(p.present, vec![vec!["usage".to_string(); 2]]);
        assert_eq!(support(&col("usage").is_null(), &Cols), TableProviderFilterPushDown::Unsupported);
        let mixed = col("usage").is_not_null().or(col("host").eq(lit("a")));
        assert_eq!(support(&mixed, &Cols), TableProviderFilterPushDown::Unsupported);

        let cast = |e: Expr, t: DataType| Expr::Cast(datafusion::logical_expr::Cast::new(Box::new(e), t));
        let lossy = cast(col("usage"), DataType::Int64).eq(lit(5i64));
        assert_eq!(support(&lossy, &Cols), TableProviderFilterPushDown::Unsupported, "5.4 casts to 5");
        assert_eq!(
            support(&cast(col("usage"), DataType::Float64).gt(lit(1.0)), &Cols),
            TableProviderFilterPushDown::Inexact
        );
        assert_eq!(support(&cast(col("host"), DataType::Utf8).eq(lit("a")), &Cols), TableProviderFilterPushDown::Exact);
        let to_ms = cast(col("time"), DataType::Timestamp(TimeUnit::Millisecond, None));
        assert_eq!(support(&to_ms.gt(ts(5)), &Cols), TableProviderFilterPushDown::Unsupported, "ms truncate");
        let beyond = col("usage").gt(lit((1i64 << 53) + 1));
        assert_eq!(support(&beyond, &Cols), TableProviderFilterPushDown::Unsupported, "not exact as a float");
    }

    #[test]
    fn sql_null_and_regex_semantics_are_kept() {
        let p = Pushdown::from_filters(&[col("host").eq(lit(""))], &Cols);
        assert!(p.never, "no stored tag value is empty");
        let re = Expr::BinaryExpr(BinaryExpr::new(Box::new(col("host")), Operator::RegexMatch, Box::new(lit("b"))));
        let p = Pushdown::from_filters(&[re], &Cols);
        let ok = |v: Option<&str>| p.matchers.iter().all(|m| m.matches(v));
        assert!(ok(Some("abc")), "SQL regex matches are unanchored");
        assert!(!ok(Some("xyz")) && !ok(None));
        let p = Pushdown::from_filters(&[col("host").is_null()], &Cols);
        assert!(p.matchers[0].matches(None) && !p.matchers[0].matches(Some("a")));
    }
}
