//! Deletes over tiered files: the predicate that keeps the rows of a
//! Parquet scan that no delete covers.
//!
//! A delete lists the tiered files it was made over (a file tiered after it
//! was exported from reads that already left its points out). For each
//! such file in a scan, the rows of its partition within the delete's time
//! range whose tags match the delete's matchers are dropped, with the
//! matchers' semantics (a missing tag compares as the empty string;
//! regexes are anchored).

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Expr, Operator, binary_expr, cast, lit, not, when};

use super::TieredFile;
use crate::error::Result;
use crate::storage::matcher::{MatchOp, TagMatcher};
use crate::storage::tombstone::Tombstone;

/// The value a matcher compares, as an expression over `schema` (whose
/// tag columns are dictionaries): the tag, or `""` where it is null or
/// the schema lacks it.
fn tag_value(schema: &SchemaRef, key: &str) -> Result<Expr> {
    Ok(match schema.field_with_name(key) {
        Ok(f) if matches!(f.data_type(), DataType::Dictionary(_, _)) => {
            let column = Expr::Column(Column::from_name(key));
            // A CASE, not `coalesce`: the physical planner takes the
            // expression as it is, without the simplifier that rewrites one.
            when(column.clone().is_null(), lit("")).otherwise(cast(column, DataType::Utf8))?
        }
        _ => lit(""),
    })
}

fn matches(schema: &SchemaRef, m: &TagMatcher) -> Result<Expr> {
    let value = tag_value(schema, &m.key)?;
    let anchored = || lit(format!("^(?:{})$", m.value));
    Ok(match m.op {
        MatchOp::Eq => value.eq(lit(m.value.clone())),
        MatchOp::NotEq => value.not_eq(lit(m.value.clone())),
        MatchOp::Regex => binary_expr(value, Operator::RegexMatch, anchored()),
        MatchOp::NotRegex => binary_expr(value, Operator::RegexNotMatch, anchored()),
    })
}

fn time(t: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into())))
}

/// Conditions that keep the rows of `files` (partitions of `ns`) no delete
/// of `deletes` covers, over the merged `schema`; empty if none applies.
pub(crate) fn kept_rows(
    deletes: &[impl AsRef<Tombstone>],
    files: &[TieredFile],
    ns: i64,
    schema: &SchemaRef,
) -> Result<Vec<Expr>> {
    let mut kept = Vec::new();
    for t in deletes.iter().map(AsRef::as_ref) {
        for f in files.iter().filter(|f| t.tiered.contains(&f.url)) {
            let (start, end) = (t.start.max(f.partition_start), t.end.min(f.partition_start.saturating_add(ns - 1)));
            if start > end {
                continue;
            }
            let column = Expr::Column(Column::from_name("time"));
            let mut covered = column.clone().gt_eq(time(start)).and(column.lt_eq(time(end)));
            for m in &t.matchers {
                covered = covered.and(matches(schema, m)?);
            }
            kept.push(not(covered));
        }
    }
    Ok(kept)
}
