//! `DialectPlanner`: a [`Select`] as a DataFusion logical plan, built with
//! `LogicalPlanBuilder` over the measurement's [`ChronicleTable`].
//!
//! ```text
//! raw:        scan ─ filter(time, WHERE) ─ [window: transformations] ─ project ─ sort ─ [limit per series]
//! aggregate:  scan ─ filter ─ aggregate(group tags, date_bin(time)) ─ filter(non-empty) ─ project
//!             ─ [GapFill: fill()] ─ [window: transformations] ─ project ─ sort ─ [limit per series]
//! ```
//! Output columns: `time`, the GROUP BY tags (Utf8, null where a series
//! lacks the tag), then one column per selected expression, named as InfluxDB
//! names it (`mean`, `mean_1` for a second `mean`, the alias of `AS`).
//! Rows are ordered by the group tags (a missing tag first), then time.
//! `LIMIT` and `OFFSET` count rows per series, as in InfluxQL.
//!
//! Deliberate differences from InfluxDB 1.x: a name that is neither a field
//! nor a tag is an error (InfluxDB returns nothing); a `GROUP BY time` query
//! without time bounds fills from its first to its last point (InfluxDB fills
//! up to `now()`); `integral` with `GROUP BY time` sums each bucket's own
//! points (InfluxDB interpolates across bucket edges); `percentile` reports
//! the bucket or range start, not its sample's time.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::datasource::provider_as_source;
use datafusion::functions::expr_fn::date_bin;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, SortExpr, cast, lit};
use datafusion::prelude::{Expr as DfExpr, SessionContext, ident};

use super::ast::{Explain, Expr, Fill, Select};
use super::condition::{self, Names, TimeRange};
use super::error::SyntaxError;
use super::functions::{Aggregate, Transform};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::gap_fill::{Buckets, ColumnFill, GapFillNode};
use crate::query::table::ChronicleTable;

/// The time column of scans and of results.
const TIME: &str = "time";

/// Plans one [`Select`] of `text` over `db`.
pub struct DialectPlanner<'a> {
    db: &'a Db,
    ctx: &'a SessionContext,
    text: &'a str,
    now: i64,
}

/// What one output column computes before any transformation.
#[derive(Debug, Clone)]
enum Value {
    /// A field or a tag, as stored.
    Raw(String),
    /// An aggregate of a field.
    Agg(Aggregate, String),
}

/// One output column.
#[derive(Debug, Clone)]
struct Output {
    name: String,
    value: Value,
    transform: Option<Transform>,
    at: usize,
}

/// The time range the query asks for, and the one it scans (earlier when
/// transformations look back).
#[derive(Debug, Clone, Copy)]
struct Ranges {
    asked: TimeRange,
    scan: TimeRange,
}

/// The measurement's tags and fields.
struct Columns {
    tags: BTreeSet<String>,
    fields: BTreeSet<String>,
}

impl Names for Columns {
    fn is_tag(&self, name: &str) -> bool {
        self.tags.contains(name)
    }

    fn is_field(&self, name: &str) -> bool {
        self.fields.contains(name)
    }
}

impl<'a> DialectPlanner<'a> {
    /// A planner for the query `text`, evaluating `now()` as `now` (ns).
    pub fn new(db: &'a Db, ctx: &'a SessionContext, text: &'a str, now: i64) -> Self {
        Self { db, ctx, text, now }
    }

    fn refuse(&self, at: usize, message: impl Into<String>) -> Error {
        SyntaxError::new(at, message).locate(self.text)
    }

    /// The plan of `select`; `None` when the measurement does not exist (no rows).
    pub async fn plan(&self, select: &Select) -> Result<Option<LogicalPlan>> {
        if !self.db.has_measurement(&select.from)? {
            return Ok(None);
        }
        let table = ChronicleTable::try_new(self.db, &select.from)?;
        let columns = Columns {
            tags: self.db.tag_keys(Some(&select.from))?.into_iter().collect(),
            fields: self.db.fields(&select.from)?.into_iter().collect(),
        };
        let outputs = self.outputs(select, &columns)?;
        let (range, predicate) = match &select.condition {
            Some(c) => condition::translate(c, &columns, self.now).map_err(|e| e.locate(self.text))?,
            None => (TimeRange::default(), None),
        };
        let aggregated = outputs.iter().any(|o| matches!(o.value, Value::Agg(..)));
        let groups: Vec<String> = if select.group_by.all_tags {
            columns.tags.iter().cloned().collect()
        } else {
            select.group_by.tags.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
        };
        let mut scan = LogicalPlanBuilder::scan(&select.from, provider_as_source(Arc::new(table)), None)?;
        // Transformations of aggregates look back before the first bucket, as InfluxDB does.
        let lookback = outputs.iter().filter_map(|o| o.transform.map(|t| t.lookback())).max().unwrap_or(0);
        let scan_range = match (select.group_by.time, range.start) {
            (Some(b), Some(start)) if aggregated && lookback > 0 => {
                TimeRange { start: Some(start.saturating_sub(lookback.saturating_mul(b.every))), ..range }
            }
            _ => range,
        };
        if let Some(filter) = time_filter(scan_range).into_iter().chain(predicate).reduce(DfExpr::and) {
            scan = scan.filter(filter)?;
        }
        let builder = if aggregated {
            self.aggregate(select, scan, &outputs, &groups, &columns, Ranges { asked: range, scan: scan_range }).await?
        } else {
            self.raw(select, scan, &outputs, &groups, &columns)?
        };
        // Raw points of several series at one instant come in series order.
        let ties: Vec<String> = if aggregated {
            Vec::new()
        } else {
            columns.tags.iter().filter(|t| !groups.contains(t)).cloned().collect()
        };
        let plan = finish(builder, select, &outputs, &groups, &ties)?;
        Ok(Some(match select.explain {
            Some(how) => LogicalPlanBuilder::from(plan).explain(false, how == Explain::Analyze)?.build()?,
            None => plan,
        }))
    }

    /// Expands `*`, resolves names, checks the shape of the query and names the outputs.
    fn outputs(&self, select: &Select, columns: &Columns) -> Result<Vec<Output>> {
        let mut outputs = Vec::new();
        for field in &select.fields {
            let alias = field.alias.clone();
            match &field.expr {
                Expr::Wildcard { at } => {
                    let grouped: BTreeSet<&String> = select.group_by.tags.iter().collect();
                    let all: BTreeSet<&String> = columns
                        .fields
                        .iter()
                        .chain(columns.tags.iter().filter(|t| !grouped.contains(t) && !select.group_by.all_tags))
                        .collect();
                    outputs.extend(all.into_iter().map(|n| Output {
                        name: n.clone(),
                        value: Value::Raw(n.clone()),
                        transform: None,
                        at: *at,
                    }));
                }
                Expr::Ref { name, .. } if name.eq_ignore_ascii_case(TIME) => {}
                Expr::Ref { name, at } => {
                    self.known(name, *at, columns, true)?;
                    outputs.push(Output {
                        name: alias.unwrap_or_else(|| name.clone()),
                        value: Value::Raw(name.clone()),
                        transform: None,
                        at: *at,
                    });
                }
                Expr::Call { name, args, at } => outputs.extend(self.call(name, args, *at, alias, columns)?),
                Expr::Number(_) | Expr::Duration(_) => {
                    return Err(
                        self.refuse(field.expr.at().unwrap_or(0), "select fields, tags or functions, not literals")
                    );
                }
            }
        }
        let aggregated = outputs.iter().any(|o| matches!(o.value, Value::Agg(..)));
        if let Some(raw) = outputs.iter().find(|o| aggregated && matches!(o.value, Value::Raw(_))) {
            return Err(self.refuse(raw.at, "mixing aggregate and non-aggregate columns is not supported"));
        }
        if aggregated
            && select.group_by.time.is_none()
            && let Some(o) = outputs.iter().find(|o| o.transform.is_some())
        {
            return Err(self.refuse(o.at, format!("{} of an aggregate needs GROUP BY time(...)", o.name)));
        }
        if !aggregated {
            if let Some(t) = &select.group_by.time {
                return Err(self.refuse(t.at, "GROUP BY time(...) needs an aggregate such as mean(field)"));
            }
            if !outputs.iter().any(|o| matches!(&o.value, Value::Raw(n) if columns.is_field(n))) {
                let at = select.fields.first().and_then(|f| f.expr.at()).unwrap_or(0);
                return Err(self.refuse(at, "select at least one field"));
            }
        }
        dedup_names(&mut outputs);
        Ok(outputs)
    }

    fn known(&self, name: &str, at: usize, columns: &Columns, tags_too: bool) -> Result<()> {
        if columns.is_field(name) || (tags_too && columns.is_tag(name)) {
            return Ok(());
        }
        let what = if columns.is_tag(name) { "is a tag; aggregate a field" } else { "is not a field" };
        Err(self.refuse(at, format!("{name} {what} of this measurement")))
    }

    /// The outputs of one call: an aggregate (over `*`, one per field), or a transformation.
    fn call(
        &self,
        name: &str,
        args: &[Expr],
        at: usize,
        alias: Option<String>,
        columns: &Columns,
    ) -> Result<Vec<Output>> {
        let Some((first, extra)) = args.split_first() else {
            return Err(self.refuse(at, format!("{name}() needs an argument")));
        };
        if let Some(transform) = Transform::parse(name, extra, at).map_err(|e| e.locate(self.text))? {
            let value = match first {
                Expr::Ref { name: f, at } => {
                    self.known(f, *at, columns, false)?;
                    Value::Raw(f.clone())
                }
                Expr::Call { name: inner, args, at } => match self.call(inner, args, *at, None, columns)?.as_slice() {
                    [Output { value: value @ Value::Agg(..), transform: None, .. }] => value.clone(),
                    _ => return Err(self.refuse(*at, format!("{name} takes a field or one aggregate of a field"))),
                },
                _ => return Err(self.refuse(at, format!("{name} takes a field or an aggregate"))),
            };
            return Ok(vec![Output {
                name: alias.unwrap_or_else(|| transform.name().to_string()),
                value,
                transform: Some(transform),
                at,
            }]);
        }
        let Some(agg) = Aggregate::parse(name, extra, at).map_err(|e| e.locate(self.text))? else {
            return Err(self.refuse(at, format!("unknown function {name}")));
        };
        match first {
            Expr::Ref { name: f, at } => {
                self.known(f, *at, columns, false)?;
                Ok(vec![Output {
                    name: alias.unwrap_or_else(|| agg.name().to_string()),
                    value: Value::Agg(agg, f.clone()),
                    transform: None,
                    at: *at,
                }])
            }
            Expr::Wildcard { at } => Ok(columns
                .fields
                .iter()
                .map(|f| Output {
                    name: format!("{}_{f}", agg.name()),
                    value: Value::Agg(agg, f.clone()),
                    transform: None,
                    at: *at,
                })
                .collect()),
            other => Err(self.refuse(other.at().unwrap_or(at), format!("{name} takes a field"))),
        }
    }

    /// Raw rows: returns the builder with `time`, the groups and the outputs projected.
    fn raw(
        &self,
        select: &Select,
        mut builder: LogicalPlanBuilder,
        outputs: &[Output],
        groups: &[String],
        columns: &Columns,
    ) -> Result<LogicalPlanBuilder> {
        // Rows exist where a selected field has a value; a WHERE on other
        // fields brings rows the selection must not show.
        let selected: Vec<&str> = outputs
            .iter()
            .filter_map(|o| match &o.value {
                Value::Raw(n) if columns.is_field(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        let mut in_where = Vec::new();
        if let Some(c) = &select.condition {
            condition::fields_in(c, columns, &mut in_where);
        }
        if in_where.iter().any(|f| !selected.contains(&f.as_str())) {
            let present = selected.iter().map(|f| ident(*f).is_not_null()).reduce(DfExpr::or).unwrap_or(lit(true));
            builder = builder.filter(present)?;
        }
        let mut exprs = vec![ident(TIME)];
        exprs.extend(groups.iter().map(|g| tag_column(g, columns)));
        let mut windows = Vec::new();
        for (i, o) in outputs.iter().enumerate() {
            let Value::Raw(n) = &o.value else { continue };
            let value = if columns.is_tag(n) { cast(ident(n), DataType::Utf8) } else { ident(n) };
            match o.transform {
                Some(t) => {
                    windows.push(window(t, value, None, groups, columns)?.alias(hidden(i)));
                    exprs.push(ident(hidden(i)).alias(&o.name));
                }
                None => exprs.push(value.alias(&o.name)),
            }
        }
        if !windows.is_empty() {
            builder = builder.window(windows)?;
        }
        Ok(builder.project(exprs)?)
    }

    /// Aggregated rows: returns the builder with `time`, the groups and the outputs projected.
    async fn aggregate(
        &self,
        select: &Select,
        builder: LogicalPlanBuilder,
        outputs: &[Output],
        groups: &[String],
        columns: &Columns,
        ranges: Ranges,
    ) -> Result<LogicalPlanBuilder> {
        let Ranges { asked: range, scan: scan_range } = ranges;
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
        let mut aggs = Vec::new();
        let mut present = Vec::new();
        for (i, o) in outputs.iter().enumerate() {
            let Value::Agg(agg, field) = &o.value else { continue };
            aggs.push(agg.expr(ident(field), ident(TIME), seconds)?.alias(hidden(i)));
            present.push(match agg {
                Aggregate::Count => ident(hidden(i)).gt(lit(0i64)),
                _ => ident(hidden(i)).is_not_null(),
            });
        }
        let selector = match (buckets, outputs) {
            (None, [Output { value: Value::Agg(agg, field), transform: None, .. }]) => {
                agg.selector_time(ident(field), ident(TIME))
            }
            _ => None,
        };
        let has_selector = selector.is_some();
        if let Some(time) = selector {
            aggs.push(time?.alias(SELECTED_TIME));
        }
        let mut builder = builder.aggregate(group_exprs, aggs)?;
        if let Some(p) = present.into_iter().reduce(DfExpr::or) {
            builder = builder.filter(p)?;
        }
        // time, the groups, the values.
        let time = if buckets.is_some() {
            ident(TIME)
        } else if has_selector {
            ident(SELECTED_TIME).alias(TIME)
        } else {
            timestamp(scan_range.start.unwrap_or(0)).alias(TIME)
        };
        let mut exprs = vec![time];
        exprs.extend(groups.iter().map(|g| ident(g.as_str())));
        exprs.extend((0..outputs.len()).map(|i| ident(hidden(i))));
        builder = builder.project(exprs)?;
        if let (Some(b), Some(start), Some(end)) = (buckets, scan_range.start, scan_range.end)
            && select.fill != Fill::None
        {
            let grid = Buckets {
                first: bucket_of(start, b.every, b.offset),
                last: bucket_of(end, b.every, b.offset),
                every: b.every,
            };
            let fills = outputs
                .iter()
                .enumerate()
                .filter_map(|(i, o)| {
                    let Value::Agg(agg, _) = o.value else { return None };
                    let fill = match select.fill {
                        Fill::Null | Fill::None => agg.empty(),
                        Fill::Previous => ColumnFill::Previous,
                        Fill::Linear => ColumnFill::Linear,
                        Fill::Value(v) => ColumnFill::value(v),
                    };
                    Some((hidden(i), fill))
                })
                .collect();
            let node = GapFillNode::try_new(builder.build()?, groups.to_vec(), TIME.to_string(), grid, fills)?;
            builder = LogicalPlanBuilder::from(node.into_plan());
        }
        let mut windows = Vec::new();
        let mut exprs = vec![ident(TIME)];
        exprs.extend(groups.iter().map(|g| ident(g.as_str())));
        for (i, o) in outputs.iter().enumerate() {
            match o.transform {
                Some(t) => {
                    let every = buckets.map(|b| b.every);
                    windows.push(window(t, ident(hidden(i)), every, groups, columns)?.alias(transformed(i)));
                    exprs.push(ident(transformed(i)).alias(&o.name));
                }
                None => exprs.push(ident(hidden(i)).alias(&o.name)),
            }
        }
        if !windows.is_empty() {
            builder = builder.window(windows)?;
        }
        if let (Some(b), Some(start)) = (buckets, range.start)
            && scan_range.start != range.start
        {
            builder = builder.filter(ident(TIME).gt_eq(timestamp(bucket_of(start, b.every, b.offset))))?;
        }
        Ok(builder.project(exprs)?)
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

/// Filters the transformations' empty rows, sorts by series, time and
/// (raw points of one instant) the other tags, and applies LIMIT / OFFSET per
/// series. Under `ORDER BY time DESC` series come in reverse order too, as in InfluxDB.
fn finish(
    mut builder: LogicalPlanBuilder,
    select: &Select,
    outputs: &[Output],
    groups: &[String],
    ties: &[String],
) -> Result<LogicalPlan> {
    // A row stays where any transformation has a value.
    if let Some(p) = outputs
        .iter()
        .filter(|o| o.transform.is_some())
        .map(|o| ident(o.name.as_str()).is_not_null())
        .reduce(DfExpr::or)
    {
        builder = builder.filter(p)?;
    }
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

/// InfluxDB's naming of repeated columns: `mean`, `mean_1`, `mean_2`.
fn dedup_names(outputs: &mut [Output]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for o in outputs.iter_mut() {
        let n = seen.entry(o.name.clone()).or_insert(0);
        if *n > 0 {
            o.name = format!("{}_{}", o.name, n);
        }
        *n += 1;
    }
}
