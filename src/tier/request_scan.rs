//! [`crate::Db::scan`] over tiered partitions: the [`ScanRequest`] answered
//! by the plan of the measurement's SQL table ([`crate::ChronicleTable`],
//! whose scan merges both tiers, see [`super::scan`]), so the two read
//! paths agree on which rows exist, which value wins (the local one) and
//! what a delete hides.
//!
//! The request's conditions become filters with the request's semantics:
//! a matcher compares a missing tag as `""` and its regex is anchored, so a
//! matcher that holds for `""` also admits a NULL tag (SQL's comparisons
//! fail on NULL) and one on a tag the table lacks either holds for every
//! row or for none. A `present` clause or a field range naming no field of
//! the table holds nowhere. Field ranges keep NaN and zeros, as the local
//! scan does (the caller filters exactly). Rows come sorted by the
//! returned tags (a missing tag last), then time: the order of a local
//! scan's series. The plan runs in the tier's runtime
//! ([`super::runtime`]).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{Column, ScalarValue};
use datafusion::functions::math::expr_fn::isnan;
use datafusion::logical_expr::utils::disjunction;
use datafusion::logical_expr::{Expr, Operator, binary_expr, cast, lit};

use super::runtime;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::ChronicleTable;
use crate::query::filter::Columns;
use crate::storage::matcher::{MatchOp, TagMatcher};
use crate::storage::scan::{FieldRange, ScanRequest};

/// The rows `req` selects, both tiers merged, as batches of `schema` (the
/// schema of a local scan of `req`). The caller applies retention to the
/// request's range first.
pub(crate) fn scan_request(db: &Db, req: &ScanRequest, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    if !db.has_measurement(&req.measurement)? {
        return Ok(Vec::new());
    }
    let table = ChronicleTable::try_new(db, &req.measurement)?;
    let Some(filters) = filters(req, &table)? else { return Ok(Vec::new()) };
    let mut order: Vec<_> =
        schema.fields().iter().filter(|f| table.is_tag(f.name())).map(|f| column(f.name()).sort(true, false)).collect();
    order.push(column("time").sort(true, false));
    let select: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| {
            let name = f.name();
            if name == "time" || table.is_tag(name) || table.is_field(name) {
                column(name)
            } else {
                cast(lit(ScalarValue::Null), f.data_type().clone()).alias(name)
            }
        })
        .collect();
    let (ctx, limit, schema) = (db.session_context(), req.limit, Arc::clone(schema));
    runtime::run(async move {
        let mut frame = ctx.read_table(Arc::new(table))?;
        for f in filters {
            frame = frame.filter(f)?;
        }
        frame = frame.sort(order)?.select(select)?;
        if limit.is_some() {
            frame = frame.limit(0, limit)?;
        }
        let batches = frame.collect().await?;
        batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| RecordBatch::try_new(Arc::clone(&schema), b.columns().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(format!("a tiered scan's rows do not fit its schema: {e}")))
    })
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

fn time(t: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(Some(t), Some("UTC".into())))
}

/// The filters of `req` over `table`; `None` if no row can meet them.
fn filters(req: &ScanRequest, table: &ChronicleTable) -> Result<Option<Vec<Expr>>> {
    if req.start > req.end {
        return Ok(None);
    }
    let mut out = Vec::new();
    if req.start > i64::MIN {
        out.push(column("time").gt_eq(time(req.start)));
    }
    if req.end < i64::MAX {
        out.push(column("time").lt_eq(time(req.end)));
    }
    for m in &req.matchers {
        match matcher(m, table) {
            Some(Some(e)) => out.push(e),
            Some(None) => {}
            None => return Ok(None),
        }
    }
    for clause in &req.present {
        let known = clause.iter().filter(|f| table.is_field(f)).map(|f| column(f).is_not_null());
        match disjunction(known) {
            Some(e) => out.push(e),
            None => return Ok(None),
        }
    }
    for range in &req.field_ranges {
        if !table.is_field(&range.field) {
            return Ok(None);
        }
        out.push(field_range(range));
    }
    Ok(Some(out))
}

/// `m` as a filter: `Some(None)` when it holds for every row, `None` when
/// for none (a tag the table lacks).
fn matcher(m: &TagMatcher, table: &ChronicleTable) -> Option<Option<Expr>> {
    let missing = m.matches(None);
    if !table.is_tag(&m.key) {
        return missing.then_some(None);
    }
    let tag = column(&m.key);
    let anchored = || lit(format!("^(?:{})$", m.value));
    let text = || cast(tag.clone(), DataType::Utf8);
    let holds = match m.op {
        MatchOp::Eq => tag.clone().eq(lit(m.value.clone())),
        MatchOp::NotEq => tag.clone().not_eq(lit(m.value.clone())),
        MatchOp::Regex => binary_expr(text(), Operator::RegexMatch, anchored()),
        MatchOp::NotRegex => binary_expr(text(), Operator::RegexNotMatch, anchored()),
    };
    Some(Some(if missing { tag.is_null().or(holds) } else { holds }))
}

/// Rows with a value of the range's field that may be in range: in it by
/// IEEE comparison, or NaN, or a zero ([`FieldRange`]).
fn field_range(range: &FieldRange) -> Expr {
    let v = column(&range.field);
    let mut within = v.clone().is_not_null();
    if let Some((x, inclusive)) = range.lower {
        within = within.and(if inclusive { v.clone().gt_eq(lit(x)) } else { v.clone().gt(lit(x)) });
    }
    if let Some((x, inclusive)) = range.upper {
        within = within.and(if inclusive { v.clone().lt_eq(lit(x)) } else { v.clone().lt(lit(x)) });
    }
    v.clone().is_not_null().and(isnan(v.clone()).or(v.eq(lit(0.0))).or(within))
}
