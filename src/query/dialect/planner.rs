//! `DialectPlanner`: a [`Select`] as a DataFusion logical plan, built with
//! `LogicalPlanBuilder` over the measurement's [`ChronicleTable`].
//!
//! ```text
//! raw:        scan ─ filter(time, asked fields present, WHERE) ─ [window: transformations]
//!             ─ project(outputs) ─ sort ─ [limit per series]
//! aggregate:  scan ─ filter(same) ─ aggregate(group tags, date_bin(time)) ─ filter(non-empty) ─ project
//!             ─ [GapFill: fill()] ─ [window: transformations] ─ project(outputs) ─ sort ─ [limit per series]
//! ```
//! The plan computes each distinct term of the [`SelectList`] once (a
//! field, an aggregate, a transformation), fills the aggregates, and only
//! then evaluates each output's arithmetic over them (see `arithmetic`).
//! Rows follow InfluxQL, not the SQL table: a row per asked field with a
//! value. The SQL table has a row wherever any field of the measurement has
//! a value, so every plan says which rows it wants right above the scan:
//! `(f1 IS NOT NULL OR f2 IS NOT NULL ...)` over the fields the query reads
//! (for `*`, every field). Raw rows are exactly those; aggregates see only
//! them, so a bucket, a series, or the data range that bounds an unbounded
//! `GROUP BY time`, comes from the asked fields alone. A query selecting only
//! tags is refused (InfluxDB returns nothing).
//!
//! Output columns: `time`, the GROUP BY tags (Utf8, null where a series
//! lacks the tag), then one column per selected expression, named as InfluxDB
//! names it (`mean`, `mean_1` for a second `mean`, `a_b` for `a + b`, the
//! alias of `AS`).
//! An aggregating `GROUP BY time` query may read a downsampling rollup of
//! the measurement instead of its raw fields, per the session setting
//! `chronicle.rollup`; `rollup_source` says when and how.
//! Rows are ordered by the group tags (a missing tag first), then time.
//! `LIMIT` and `OFFSET` count rows per series, as in InfluxQL.
//!
//! Deliberate differences from InfluxDB 1.x: a name that is neither a field
//! nor a tag is an error (InfluxDB returns nothing, or nulls in arithmetic);
//! a `GROUP BY time` query without time bounds fills from the first to the
//! last point of its fields (InfluxDB fills up to `now()`); `integral` with
//! `GROUP BY time` sums each bucket's own points (InfluxDB interpolates
//! across bucket edges); a time bound past the timestamps' range matches
//! nothing (InfluxDB 1.6 wraps around, see `condition`).

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::datasource::provider_as_source;
use datafusion::functions::expr_fn::{date_bin, nullif};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, lit};
use datafusion::prelude::{Expr as DfExpr, SessionContext, ident};

use super::ast::{Explain, Fill, Select};
use super::condition::{self, Names, TimeRange};
use super::error::SyntaxError;
use super::functions::{Aggregate, Transform};
use super::rollup_source::{self, AggregateInput};
use super::select_list::{Columns, SelectList, Value};
use crate::db::Db;
use crate::error::Result;
use crate::query::ChronicleSettings;
use crate::query::gap_fill::{Buckets, ColumnFill, GapFillNode};
use crate::query::table::ChronicleTable;

/// The time column of scans and of results (selectable, never computed).
pub(super) const TIME: &str = "time";

/// Plans one [`Select`] of `text` over `db`.
pub struct DialectPlanner<'a> {
    db: &'a Db,
    ctx: &'a SessionContext,
    text: &'a str,
    now: i64,
}

/// The time range the query asks for, the one it scans (earlier when
/// transformations look back), and what its aggregates read.
#[derive(Debug, Clone, Copy)]
struct Reading<'r> {
    asked: TimeRange,
    scan: TimeRange,
    input: &'r AggregateInput,
}

impl<'a> DialectPlanner<'a> {
    /// A planner for the query `text`, evaluating `now()` as `now` (ns).
    pub fn new(db: &'a Db, ctx: &'a SessionContext, text: &'a str, now: i64) -> Self {
        Self { db, ctx, text, now }
    }

    /// The plan of `select`; `None` when the measurement does not exist (no rows).
    pub async fn plan(&self, select: &Select) -> Result<Option<LogicalPlan>> {
        if !self.db.has_measurement(&select.from)? {
            return Ok(None);
        }
        let locate = |e: SyntaxError| e.locate(self.text);
        let columns = Columns {
            tags: self.db.tag_keys(Some(&select.from))?.into_iter().collect(),
            fields: self.db.fields(&select.from)?.into_iter().collect(),
        };
        let list = SelectList::resolve(select, &columns).map_err(locate)?;
        let (range, predicate) = match &select.condition {
            Some(c) => condition::translate(c, &columns, self.now).map_err(locate)?,
            None => (TimeRange::default(), None),
        };
        let aggregated = list.aggregated();
        let groups: Vec<String> = if select.group_by.all_tags {
            columns.tags.iter().cloned().collect()
        } else {
            select.group_by.tags.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
        };
        // Transformations of aggregates look back before the first bucket, as InfluxDB does.
        let lookback = list.terms.iter().filter_map(|t| t.transform.map(|t| t.lookback())).max().unwrap_or(0);
        let scan_range = match (select.group_by.time, range.start) {
            (Some(b), Some(start)) if aggregated && lookback > 0 => {
                TimeRange { start: Some(start.saturating_sub(lookback.saturating_mul(b.every))), ..range }
            }
            _ => range,
        };
        let input = if aggregated {
            let query =
                rollup_source::Query { select, list: &list, columns: &columns, groups: &groups, range: scan_range };
            rollup_source::choose(self.db, ChronicleSettings::of(self.ctx).rollup, &query)?
        } else {
            AggregateInput::Raw
        };
        let from = input.table(&select.from);
        let table = ChronicleTable::try_new(self.db, from)?;
        let mut scan = LogicalPlanBuilder::scan(from, provider_as_source(Arc::new(table)), None)?;
        // A row per asked field with a value, as InfluxQL: the table has a row
        // wherever any field has one, and WHERE may name fields not selected.
        let present = list.asked_fields(&columns).map(|f| input.present(f).is_not_null()).reduce(DfExpr::or);
        if let Some(filter) = time_filter(scan_range).into_iter().chain(present).chain(predicate).reduce(DfExpr::and) {
            scan = scan.filter(filter)?;
        }
        let builder = if aggregated {
            let reading = Reading { asked: range, scan: scan_range, input: &input };
            self.aggregate(select, scan, &list, &groups, &columns, reading).await?
        } else {
            raw(scan, &list, &groups, &columns)?
        };
        // Raw points of several series at one instant come in series order.
        let ties: Vec<String> = if aggregated {
            Vec::new()
        } else {
            columns.tags.iter().filter(|t| !groups.contains(t)).cloned().collect()
        };
        let plan = finish(builder, select, &groups, &ties)?;
        Ok(Some(match select.explain {
            Some(how) => LogicalPlanBuilder::from(plan).explain(false, how == Explain::Analyze)?.build()?,
            None => plan,
        }))
    }

    /// Aggregated rows: returns the builder with `time`, the groups and the outputs projected.
    async fn aggregate(
        &self,
        select: &Select,
        builder: LogicalPlanBuilder,
        list: &SelectList,
        groups: &[String],
        columns: &Columns,
        reading: Reading<'_>,
    ) -> Result<LogicalPlanBuilder> {
        let Reading { asked: range, scan: scan_range, input } = reading;
        let buckets = select.group_by.time;
        let scan_range = match buckets {
            Some(_) if scan_range.start.is_none() || scan_range.end.is_none() => {
                self.data_range(&builder, scan_range).await?
            }
            _ => scan_range,
        };
        let seconds = match (buckets, scan_range.start, scan_range.end) {
            (Some(b), _, _) => b.every as f64 / 1e9,
            (None, Some(s), Some(e)) => (e as f64 - s as f64 + 1.0) / 1e9,
            _ => f64::NAN,
        };
        let mut group_exprs: Vec<DfExpr> = groups.iter().map(|g| tag_column(g, columns)).collect();
        if let Some(b) = buckets {
            let stride = lit(ScalarValue::new_interval_mdn(0, 0, b.every));
            group_exprs.push(date_bin(stride, ident(TIME), timestamp(b.offset.rem_euclid(b.every))).alias(TIME));
        }
        // One column per distinct aggregate; the terms (and transformations)
        // share them. An aggregated list holds aggregates only.
        let mut calls: Vec<(Aggregate, &str)> = Vec::new();
        let call_of: Vec<usize> = list
            .terms
            .iter()
            .map(|t| {
                let Value::Agg(agg, field) = &t.value else { return 0 };
                calls.iter().position(|c| *c == (*agg, field.as_str())).unwrap_or_else(|| {
                    calls.push((*agg, field));
                    calls.len() - 1
                })
            })
            .collect();
        let mut aggs = Vec::new();
        let mut present = Vec::new();
        for (j, (agg, field)) in calls.iter().enumerate() {
            aggs.push(input.expr(*agg, field, seconds)?.alias(hidden(j)));
            present.push(match agg {
                Aggregate::Count => ident(hidden(j)).gt(lit(0i64)),
                _ => ident(hidden(j)).is_not_null(),
            });
        }
        let selector = match buckets {
            None => {
                list.lone_selector().and_then(|(agg, field)| Some((agg, agg.selector_time(ident(field), ident(TIME))?)))
            }
            Some(_) => None,
        };
        let selected = match selector {
            Some((agg, time)) => {
                aggs.push(time?.alias(SELECTED_TIME));
                Some(agg.selected_time(ident(SELECTED_TIME)))
            }
            None => None,
        };
        let mut builder = builder.aggregate(group_exprs, aggs)?;
        if let Some(p) = present.into_iter().reduce(DfExpr::or) {
            builder = builder.filter(p)?;
        }
        // time, the groups, the aggregates; a count of no point is none, as
        // in InfluxDB (so fill() and arithmetic see a missing value, not 0).
        let time = match (buckets, selected) {
            (Some(_), _) => ident(TIME),
            (None, Some(time)) => time.alias(TIME),
            (None, None) => timestamp(scan_range.start.unwrap_or(0)).alias(TIME),
        };
        let mut exprs = vec![time];
        exprs.extend(groups.iter().map(|g| ident(g.as_str())));
        exprs.extend(calls.iter().enumerate().map(|(j, (agg, _))| match agg {
            Aggregate::Count => nullif(ident(hidden(j)), lit(0i64)).alias(hidden(j)),
            _ => ident(hidden(j)),
        }));
        builder = builder.project(exprs)?;
        if let (Some(b), Some(start), Some(end)) = (buckets, scan_range.start, scan_range.end)
            && select.fill != Fill::None
            && start <= end
        {
            let grid = Buckets {
                first: bucket_of(start, b.every, b.offset),
                last: bucket_of(end, b.every, b.offset),
                every: b.every,
            };
            let fills = calls
                .iter()
                .enumerate()
                .map(|(j, (agg, _))| {
                    let fill = match select.fill {
                        Fill::Null | Fill::None => agg.empty(),
                        Fill::Previous => ColumnFill::Previous,
                        Fill::Linear => ColumnFill::Linear,
                        Fill::Value(v) => ColumnFill::value(v),
                    };
                    (hidden(j), fill)
                })
                .collect();
            let node = GapFillNode::try_new(builder.build()?, groups.to_vec(), TIME.to_string(), grid, fills)?;
            builder = LogicalPlanBuilder::from(node.into_plan());
        }
        let mut windows = Vec::new();
        for (i, t) in list.terms.iter().enumerate() {
            if let Some(transform) = t.transform {
                let every = buckets.map(|b| b.every);
                windows
                    .push(window(transform, ident(hidden(call_of[i])), every, groups, columns)?.alias(transformed(i)));
            }
        }
        if !windows.is_empty() {
            builder = builder.window(windows)?;
        }
        let mut keep = transformed_present(list);
        if let (Some(b), Some(start)) = (buckets, range.start)
            && scan_range.start != range.start
        {
            let asked = ident(TIME).gt_eq(timestamp(bucket_of(start, b.every, b.offset)));
            keep = Some(keep.map_or(asked.clone(), |k| asked.and(k)));
        }
        if let Some(keep) = keep {
            builder = builder.filter(keep)?;
        }
        let term = |i: usize| match list.terms[i].transform {
            Some(_) => ident(transformed(i)),
            None => ident(hidden(call_of[i])),
        };
        let groups = groups.iter().map(|g| ident(g.as_str())).collect();
        Ok(builder.project(output_exprs(list, groups, &term)?)?)
    }

    /// `range` with its open ends replaced by the first and last matching time.
    async fn data_range(&self, filtered: &LogicalPlanBuilder, range: TimeRange) -> Result<TimeRange> {
        let plan = filtered
            .clone()
            .aggregate(
                Vec::<DfExpr>::new(),
                vec![
                    datafusion::functions_aggregate::expr_fn::min(ident(TIME)).alias("lo"),
                    datafusion::functions_aggregate::expr_fn::max(ident(TIME)).alias("hi"),
                ],
            )?
            .project(vec![cast(ident("lo"), DataType::Int64), cast(ident("hi"), DataType::Int64)])?
            .build()?;
        let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
        let bound = |col: usize| {
            batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
                let a = b.column(col).as_any().downcast_ref::<Int64Array>()?;
                a.is_valid(0).then(|| a.value(0))
            })
        };
        Ok(TimeRange { start: range.start.or(bound(0)), end: range.end.or(bound(1)) })
    }
}

/// The name of the time a lone selector picked.
const SELECTED_TIME: &str = "__selected_time";

/// Raw rows: returns the builder with `time`, the groups and the outputs projected.
fn raw(
    mut builder: LogicalPlanBuilder,
    list: &SelectList,
    groups: &[String],
    columns: &Columns,
) -> Result<LogicalPlanBuilder> {
    let mut windows = Vec::new();
    for (i, t) in list.terms.iter().enumerate() {
        if let Some(transform) = t.transform {
            windows.push(window(transform, ident(t.value.column()), None, groups, columns)?.alias(transformed(i)));
        }
    }
    if !windows.is_empty() {
        builder = builder.window(windows)?;
    }
    if let Some(keep) = transformed_present(list) {
        builder = builder.filter(keep)?;
    }
    let term = |i: usize| {
        let t = &list.terms[i];
        match t.value.column() {
            _ if t.transform.is_some() => ident(transformed(i)),
            tag if columns.is_tag(tag) => cast(ident(tag), DataType::Utf8),
            field => ident(field),
        }
    };
    let groups = groups.iter().map(|g| tag_column(g, columns)).collect();
    Ok(builder.project(output_exprs(list, groups, &term)?)?)
}

/// A row stays where any transformation has a value (none: every row stays).
fn transformed_present(list: &SelectList) -> Option<DfExpr> {
    list.terms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.transform.is_some())
        .map(|(i, _)| ident(transformed(i)).is_not_null())
        .reduce(DfExpr::or)
}

/// `time`, the `groups` columns, then each output computed from the `term` columns.
fn output_exprs(list: &SelectList, groups: Vec<DfExpr>, term: &impl Fn(usize) -> DfExpr) -> Result<Vec<DfExpr>> {
    let mut exprs = vec![ident(TIME)];
    exprs.extend(groups);
    for o in &list.outputs {
        exprs.push(o.calc.expr(term)?.alias(&o.name));
    }
    Ok(exprs)
}

fn hidden(i: usize) -> String {
    format!("__value_{i}")
}

fn transformed(i: usize) -> String {
    format!("__transformed_{i}")
}

fn timestamp(ns: i64) -> DfExpr {
    lit(ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into())))
}

/// The start of the bucket holding `t`.
fn bucket_of(t: i64, every: i64, offset: i64) -> i64 {
    let offset = offset.rem_euclid(every);
    let shifted = i128::from(t) - i128::from(offset);
    let start = shifted - shifted.rem_euclid(i128::from(every)) + i128::from(offset);
    start.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn time_filter(range: TimeRange) -> Vec<DfExpr> {
    if range.is_empty() {
        return vec![lit(false)];
    }
    let mut out = Vec::new();
    if let Some(s) = range.start {
        out.push(ident(TIME).gt_eq(timestamp(s)));
    }
    if let Some(e) = range.end {
        out.push(ident(TIME).lt_eq(timestamp(e)));
    }
    out
}

/// A GROUP BY tag as a Utf8 column (null for a tag the measurement lacks).
fn tag_column(tag: &str, columns: &Columns) -> DfExpr {
    if columns.is_tag(tag) {
        cast(ident(tag), DataType::Utf8).alias(tag)
    } else {
        lit(ScalarValue::Utf8(None)).alias(tag)
    }
}

/// `t` over `value`, per series, in time order.
fn window(t: Transform, value: DfExpr, bucket: Option<i64>, groups: &[String], columns: &Columns) -> Result<DfExpr> {
    let partition: Vec<DfExpr> = groups.iter().filter(|g| columns.is_tag(g)).map(|g| ident(g.as_str())).collect();
    let call = t.call(value, ident(TIME), bucket);
    Ok(call.partition_by(partition).order_by(vec![ident(TIME).sort(true, false)]).build()?)
}

/// Sorts by series, time and (raw points of one instant) the other tags,
/// and applies LIMIT / OFFSET per series. Under `ORDER BY time DESC` series
/// come in reverse order too, as in InfluxDB.
fn finish(mut builder: LogicalPlanBuilder, select: &Select, groups: &[String], ties: &[String]) -> Result<LogicalPlan> {
    let ascending = !select.descending;
    let time_order = ident(TIME).sort(ascending, false);
    let by_tag = |t: &String| ident(t.as_str()).sort(ascending, ascending);
    let mut order: Vec<SortExpr> = groups.iter().map(by_tag).collect();
    order.push(time_order.clone());
    order.extend(ties.iter().map(by_tag));
    if select.limit.is_some() || select.offset > 0 {
        if groups.is_empty() {
            return Ok(builder.sort(order)?.limit(select.offset, select.limit)?.build()?);
        }
        let names: Vec<DfExpr> = builder.schema().columns().into_iter().map(DfExpr::Column).collect();
        let rank = row_number()
            .partition_by(groups.iter().map(|g| ident(g.as_str())).collect())
            .order_by(vec![time_order])
            .build()?
            .alias("__row");
        builder = builder.window(vec![rank])?;
        let from = lit(select.offset as u64);
        let keep = match select.limit {
            Some(n) => ident("__row").gt(from).and(ident("__row").lt_eq(lit((select.offset + n) as u64))),
            None => ident("__row").gt(from),
        };
        builder = builder.filter(keep)?.project(names)?;
        // The other tags are gone from the schema by now; the rank fixed the rows.
        order.truncate(groups.len() + 1);
    }
    Ok(builder.sort(order)?.build()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly")]

    use datafusion::arrow::datatypes::DataType;
    use datafusion::arrow::util::display::array_value_to_string;

    use crate::{Config, Db, Row};

    const MINUTE: i64 = 60_000_000_000;

    /// `disk`, sparse: host a has `read` at 0m and 3m, `write` at 0m, 1m and
    /// 4m, `util` at 2m, 4m and 5m; host b only `util`, at 0m and 6m.
    fn sparse_db(name: &str) -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("chronicle-dialect-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::open(dir.join("db"), Config::default()).unwrap();
        let a = |m: i64| Row::new("disk", m * MINUTE).with_tag("host", "a");
        let b = |m: i64| Row::new("disk", m * MINUTE).with_tag("host", "b");
        db.write_rows(&[
            a(0).with_field("read", 1.0).with_field("write", 10.0),
            a(1).with_field("write", 20.0),
            a(2).with_field("util", 5.0),
            a(3).with_field("read", 3.0),
            a(4).with_field("write", 40.0).with_field("util", 7.0),
            a(5).with_field("util", 9.0),
            b(0).with_field("util", 1.0),
            b(6).with_field("util", 2.0),
        ])
        .unwrap();
        (db, dir)
    }

    /// Every cell as Arrow displays it, `-` for null.
    fn cells(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for b in batches {
            for r in 0..b.num_rows() {
                out.push(
                    b.columns()
                        .iter()
                        .map(|c| if c.is_null(r) { "-".into() } else { array_value_to_string(c, r).unwrap() })
                        .collect(),
                );
            }
        }
        out
    }

    fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    async fn dialect(db: &Db, q: &str) -> Vec<Vec<String>> {
        cells(&db.query_dialect(q).await.unwrap())
    }

    async fn sql(db: &Db, q: &str) -> Vec<Vec<String>> {
        cells(&db.session_context().sql(q).await.unwrap().collect().await.unwrap())
    }

    /// The dialect keeps a row per asked field with a value, as InfluxQL,
    /// while SQL has a row wherever any field of the measurement has one:
    /// both on the same sparse data, against rows worked out by hand.
    #[tokio::test]
    async fn rows_exist_where_an_asked_field_has_a_value() {
        let (db, dir) = sparse_db("rows");
        let t = |m: i64| format!("1970-01-01T00:0{m}:00Z");
        let (t0, t1, t2, t3, t4, t5, t6) = (t(0), t(1), t(2), t(3), t(4), t(5), t(6));
        assert_eq!(
            sql(&db, "SELECT time, host, read, write, util FROM disk ORDER BY host, time").await,
            table(&[
                &[&t0, "a", "1.0", "10.0", "-"],
                &[&t1, "a", "-", "20.0", "-"],
                &[&t2, "a", "-", "-", "5.0"],
                &[&t3, "a", "3.0", "-", "-"],
                &[&t4, "a", "-", "40.0", "7.0"],
                &[&t5, "a", "-", "-", "9.0"],
                &[&t0, "b", "-", "-", "1.0"],
                &[&t6, "b", "-", "-", "2.0"],
            ]),
            "SQL: a row wherever any field has a value"
        );
        assert_eq!(dialect(&db, "SELECT read FROM disk").await, table(&[&[&t0, "1.0"], &[&t3, "3.0"]]),);
        assert_eq!(
            dialect(&db, "SELECT read, write FROM disk WHERE host = 'a'").await,
            table(&[&[&t0, "1.0", "10.0"], &[&t1, "-", "20.0"], &[&t3, "3.0", "-"], &[&t4, "-", "40.0"]]),
        );
        // Buckets from the first to the last `read`, not to the last point of the measurement.
        assert_eq!(
            dialect(&db, "SELECT mean(read) FROM disk GROUP BY time(1m)").await,
            table(&[&[&t0, "1.0"], &[&t1, "-"], &[&t2, "-"], &[&t3, "3.0"]]),
        );
        assert_eq!(dialect(&db, "SELECT count(read) FROM disk GROUP BY host").await, table(&[&[&t0, "a", "2"]]),);
        assert_eq!(
            dialect(&db, "SELECT * FROM disk WHERE time >= 4m").await,
            table(&[&[&t4, "a", "-", "7.0", "40.0"], &[&t5, "a", "-", "9.0", "-"], &[&t6, "b", "-", "2.0", "-"]]),
        );
        let tags_only = db.query_dialect("SELECT host FROM disk").await.unwrap_err();
        assert!(tags_only.to_string().contains("select at least one field"), "{tags_only}");
        db.close().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    /// GROUP BY tags come out as strings, raw or aggregated, and a tag no
    /// series has is a column of nulls.
    #[tokio::test]
    async fn group_tags_are_utf8_columns() {
        let (db, dir) = sparse_db("groups");
        for q in ["SELECT read + 1 FROM disk GROUP BY host, rack", "SELECT max(read) * 2 FROM disk GROUP BY host, rack"]
        {
            let batches = db.query_dialect(q).await.unwrap();
            let schema = batches[0].schema();
            for tag in ["host", "rack"] {
                assert_eq!(schema.field_with_name(tag).unwrap().data_type(), &DataType::Utf8, "{q}: {tag}");
            }
            assert_eq!(cells(&batches)[0][1..3], ["a", "-"], "{q}");
        }
        db.close().unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
