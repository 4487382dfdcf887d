//! Selectors: which (measurement, field) pairs a metric name stands for,
//! reading their series with the matchers and the time window pushed down
//! to the scan, and choosing each step's sample of an instant selector
//! (the latest within the lookback delta, unless it is a staleness marker).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimestampNanosecondType};
use promql_parser::label::{MatchOp as PromMatchOp, Matcher};
use promql_parser::parser::VectorSelector;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::{Matrix, Range, RawSeries, Val, offset_ms};
use super::value::{Labels, METRIC_NAME};
use crate::db::Db;
use crate::ingest::remote_write::STALE_NAN_BITS;
use crate::model::VALUE_FIELD;
use crate::storage::matcher::{MatchOp as StorageMatchOp, TagMatcher};
use crate::storage::scan::ScanRequest;

/// Whether `v` is a staleness marker.
pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A metric as PromQL sees it: its name and where it is stored.
#[derive(Clone, Debug)]
pub(crate) struct Metric {
    pub name: String,
    pub measurement: String,
    pub field: String,
}

/// Every metric of the database: each (measurement, field) pair, named
/// `measurement` for the field `value`, else `measurement_field`.
pub(crate) fn catalog(db: &Db) -> Result<Vec<Metric>> {
    let mut out = Vec::new();
    for measurement in db.measurements()? {
        for field in db.fields(&measurement)? {
            let name = if field == VALUE_FIELD { measurement.clone() } else { format!("{measurement}_{field}") };
            out.push(Metric { name, measurement: measurement.clone(), field });
        }
    }
    Ok(out)
}

/// A Chronicle tag matcher equivalent to a PromQL one.
fn tag_matcher(m: &Matcher) -> Result<TagMatcher> {
    Ok(match &m.op {
        PromMatchOp::Equal => TagMatcher::eq(&m.name, &m.value),
        PromMatchOp::NotEqual => TagMatcher::not_eq(&m.name, &m.value),
        PromMatchOp::Re(_) => TagMatcher::regex(&m.name, &m.value).map_err(|e| PromError::BadData(e.to_string()))?,
        PromMatchOp::NotRe(_) => {
            TagMatcher::not_regex(&m.name, &m.value).map_err(|e| PromError::BadData(e.to_string()))?
        }
    })
}

/// `PromSeriesScan`: the raw series of one selector, read from the
/// measurement tables of the metrics it names with its matchers and time
/// window pushed down to the scan; a leaf of the plan.
#[derive(Debug)]
pub(crate) struct SeriesScan {
    /// The selector as written (for `EXPLAIN`).
    selector: String,
    selection: Selection,
    /// The metrics each alternative of the selector names.
    tables: Vec<(usize, Metric)>,
    /// Points with a millisecond time in `(lo, hi]`.
    lo: i64,
    hi: i64,
    /// Staleness markers are left out (range selectors skip them).
    drop_stale: bool,
}

impl SeriesScan {
    /// The scan of the series `vs` selects with every point a step of
    /// `steps` can see: from the first step's window, `width` wide, to the
    /// last step's time (both moved by the selector's offset, or fixed by
    /// its `@`). Also gives the label names its series can have.
    pub fn try_new(
        ctx: &QueryContext,
        vs: &VectorSelector,
        steps: Range,
        width: i64,
        drop_stale: bool,
    ) -> Result<(SeriesScan, BTreeSet<String>)> {
        let at = ctx.at_time(vs.at.as_ref());
        let offset = offset_ms(vs.offset.as_ref());
        let (first, last) = match at {
            Some(t) => (t, t),
            None => (steps.start, steps.at(steps.len().saturating_sub(1))),
        };
        let lo = first.saturating_sub(offset).saturating_sub(width);
        let hi = last.saturating_sub(offset);
        let selection = Selection::new(vs)?;
        let metrics = catalog(&ctx.db)?;
        let mut tables = Vec::new();
        let mut labels = BTreeSet::from([METRIC_NAME.to_owned()]);
        for (g, Group { names, .. }) in selection.groups.iter().enumerate() {
            for metric in metrics.iter().filter(|metric| names.iter().all(|n| n.matches(Some(&metric.name)))) {
                labels.extend(ctx.db.tag_keys(Some(&metric.measurement))?);
                tables.push((g, metric.clone()));
            }
        }
        let selector = vs.to_string();
        Ok((SeriesScan { selector, selection, tables, lo, hi, drop_stale }, labels))
    }
}

impl Operator for SeriesScan {
    fn name(&self) -> &'static str {
        "PromSeriesScan"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables: Vec<String> = self.tables.iter().map(|(_, m)| format!("{}.{}", m.measurement, m.field)).collect();
        write!(f, "selector={}, tables=[{}], matchers=[", self.selector, tables.join(", "))?;
        for (i, g) in self.selection.groups.iter().enumerate() {
            let all: Vec<String> = g.names.iter().chain(&g.tags).map(matcher_text).collect();
            write!(f, "{}{}", if i == 0 { "" } else { " or " }, all.join(", "))?;
        }
        write!(f, "], window=({}, {}] ms", self.lo, self.hi)?;
        if self.drop_stale {
            f.write_str(", without staleness markers")?;
        }
        Ok(())
    }

    fn apply(&self, ctx: &QueryContext, _inputs: Vec<Val>) -> Result<Val> {
        let start_ns = self.lo.saturating_add(1).saturating_mul(1_000_000);
        let end_ns = self.hi.saturating_add(1).saturating_mul(1_000_000).saturating_sub(1);
        let mut out: Vec<RawSeries> = Vec::new();
        let mut seen: HashSet<Labels> = HashSet::new();
        for (g, metric) in &self.tables {
            let mut request = ScanRequest::new(&metric.measurement)
                .with_fields([metric.field.as_str()])
                .with_present([metric.field.as_str()])
                .with_time_range(start_ns, end_ns);
            for t in &self.selection.groups[*g].tags {
                request = request.with_matcher(t.clone());
            }
            for series in scan(ctx, &request, metric)? {
                // One series can match two alternatives of an `or` selector.
                if seen.insert(series.labels.clone()) {
                    out.push(if self.drop_stale { without_stale(series) } else { series });
                }
            }
        }
        // The window each step sees is the consumer's business.
        Ok(Val::Matrix(Matrix { series: out, range: 0, offset: 0, at: None }))
    }
}

/// A matcher as PromQL writes it: `host="a"`.
fn matcher_text(m: &TagMatcher) -> String {
    let op = match m.op {
        StorageMatchOp::Eq => "=",
        StorageMatchOp::NotEq => "!=",
        StorageMatchOp::Regex => "=~",
        StorageMatchOp::NotRegex => "!~",
    };
    format!("{}{op}{:?}", m.key, m.value)
}

/// The matchers of a selector: alternatives (`{a="1" or b="2"}`), each
/// with its conditions on the metric name and on the other labels.
#[derive(Debug)]
pub(crate) struct Selection {
    groups: Vec<Group>,
}

/// One alternative of a selector.
#[derive(Debug)]
struct Group {
    names: Vec<TagMatcher>,
    tags: Vec<TagMatcher>,
}

impl Selection {
    /// The matchers of `vs`, regexes compiled.
    pub fn new(vs: &VectorSelector) -> Result<Selection> {
        let alternatives: Vec<Vec<&Matcher>> = if vs.matchers.or_matchers.is_empty() {
            vec![vs.matchers.matchers.iter().collect()]
        } else {
            vs.matchers.or_matchers.iter().map(|g| g.iter().chain(&vs.matchers.matchers).collect()).collect()
        };
        let mut groups = Vec::with_capacity(alternatives.len());
        for alternative in alternatives {
            let mut group = Group { names: Vec::new(), tags: Vec::new() };
            if let Some(name) = &vs.name {
                group.names.push(TagMatcher::eq(METRIC_NAME, name));
            }
            for m in alternative {
                if m.name == METRIC_NAME { group.names.push(tag_matcher(m)?) } else { group.tags.push(tag_matcher(m)?) }
            }
            groups.push(group);
        }
        Ok(Selection { groups })
    }

    /// Whether a series with these labels is selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.groups.iter().any(|g| {
            g.names.iter().all(|m| m.matches(labels.metric_name()))
                && g.tags.iter().all(|m| m.matches(labels.get(&m.key)))
        })
    }
}

/// The series of one metric a request reads, points sorted by time.
fn scan(ctx: &QueryContext, request: &ScanRequest, metric: &Metric) -> Result<Vec<RawSeries>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<RawSeries> = Vec::new();
    let mut key = String::new();
    for batch in ctx.db.scan(request)? {
        let batch = batch?;
        let schema = batch.schema();
        let times = batch
            .column_by_name("time")
            .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
            .ok_or_else(|| PromError::Execution("scan without a time column".into()))?;
        let values = batch
            .column_by_name(&metric.field)
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or_else(|| PromError::Execution(format!("scan without the field {}", metric.field)))?;
        let mut tag_columns = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if f.name() != "time" && f.name() != &metric.field {
                let column =
                    cast(batch.column(i), &DataType::Utf8).map_err(datafusion::error::DataFusionError::from)?;
                tag_columns.push((f.name().clone(), column));
            }
        }
        let tags: Vec<(&str, &StringArray)> =
            tag_columns.iter().map(|(n, c)| (n.as_str(), c.as_string::<i32>())).collect();
        ctx.hold(batch.num_rows())?;
        for row in 0..batch.num_rows() {
            if values.is_null(row) {
                continue;
            }
            key.clear();
            for (_, column) in &tags {
                if column.is_valid(row) {
                    key.push_str(column.value(row));
                }
                key.push('\u{0}');
            }
            let i = match index.get(key.as_str()) {
                Some(&i) => i,
                None => {
                    let mut pairs = vec![(METRIC_NAME.to_owned(), metric.name.clone())];
                    for (name, column) in &tags {
                        if column.is_valid(row) {
                            pairs.push(((*name).to_owned(), column.value(row).to_owned()));
                        }
                    }
                    index.insert(key.clone(), out.len());
                    out.push(RawSeries { labels: Labels::new(pairs), ..RawSeries::default() });
                    out.len() - 1
                }
            };
            let series = &mut out[i];
            series.ts.push(times.value(row).div_euclid(1_000_000));
            series.vs.push(values.value(row));
        }
    }
    for series in &mut out {
        if !series.ts.is_sorted() {
            let mut points: Vec<(i64, f64)> = series.ts.iter().copied().zip(series.vs.iter().copied()).collect();
            points.sort_by_key(|p| p.0);
            (series.ts, series.vs) = points.into_iter().unzip();
        }
    }
    Ok(out)
}

/// The series without its staleness markers (range selectors skip them).
fn without_stale(mut s: RawSeries) -> RawSeries {
    if s.vs.iter().any(|&v| is_stale(v)) {
        let (ts, vs) = s.ts.iter().zip(&s.vs).filter(|(_, v)| !is_stale(**v)).map(|(t, v)| (*t, *v)).unzip();
        s.ts = ts;
        s.vs = vs;
    }
    s
}
