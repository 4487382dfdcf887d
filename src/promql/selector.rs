//! Selectors: which (measurement, field) pairs a metric name stands for,
//! reading their series with the matchers and the time window pushed down
//! to the scan, and choosing each step's sample of an instant selector
//! (the latest within the lookback delta, unless it is a staleness marker).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, TimestampNanosecondType};
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
use crate::model::histogram::FloatHistogram;
use crate::model::histogram::fields::{COUNT_FIELD, FieldLayout, is_histogram_field};
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

impl Metric {
    /// Whether the metric's samples are native histograms (stored in the
    /// fields of [`crate::model::histogram::fields`]).
    pub fn is_histogram(&self) -> bool {
        self.field == COUNT_FIELD
    }
}

/// Every metric of the database: each (measurement, field) pair, named
/// `measurement` for the field `value`, else `measurement_field`, and the
/// native histograms of a measurement, named `measurement` (they share the
/// name, and the series, with the field `value`, as a Prometheus series
/// holds floats and histograms).
pub(crate) fn catalog(db: &Db) -> Result<Vec<Metric>> {
    let mut out = Vec::new();
    for measurement in db.measurements()? {
        for field in db.fields(&measurement)? {
            let name = if field == VALUE_FIELD || field == COUNT_FIELD {
                measurement.clone()
            } else if is_histogram_field(&field) {
                continue;
            } else {
                format!("{measurement}_{field}")
            };
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
        let tables: Vec<String> = (self.tables.iter())
            .map(|(_, m)| {
                let field = if m.is_histogram() { "histogram" } else { m.field.as_str() };
                format!("{}.{field}", m.measurement)
            })
            .collect();
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
        // Each series' place in `out` and the table it came from.
        let mut seen: HashMap<Labels, (usize, usize)> = HashMap::new();
        for (table, (g, metric)) in self.tables.iter().enumerate() {
            let fields = if metric.is_histogram() {
                FieldLayout::field_names(ctx.db.fields(&metric.measurement)?.iter().map(String::as_str))
            } else {
                vec![metric.field.clone()]
            };
            let mut request = ScanRequest::new(&metric.measurement)
                .with_fields(fields.iter().map(String::as_str))
                .with_present([metric.field.as_str()])
                .with_time_range(start_ns, end_ns);
            for t in &self.selection.groups[*g].tags {
                request = request.with_matcher(t.clone());
            }
            for series in scan(ctx, &request, metric)? {
                match seen.get(&series.labels) {
                    None => {
                        seen.insert(series.labels.clone(), (out.len(), table));
                        out.push(if self.drop_stale { without_stale(series) } else { series });
                    }
                    // The histograms of a series whose floats came from
                    // the field `value` (or the other way round).
                    Some(&(i, from)) if self.tables[from].1.is_histogram() != metric.is_histogram() => {
                        let target = &mut out[i];
                        if metric.is_histogram() {
                            (target.hts, target.hs) = (series.hts, series.hs);
                        } else {
                            let series = if self.drop_stale { without_stale(series) } else { series };
                            (target.ts, target.vs) = (series.ts, series.vs);
                        }
                    }
                    // One series can match two alternatives of an `or`
                    // selector; of two metrics with one name, the first wins.
                    Some(_) => {}
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

    /// Whether a series of metric `name` can match: some alternative's
    /// name matchers accept it.
    pub fn may_name(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.names.iter().all(|m| m.matches(Some(name))))
    }

    /// Whether a series is selected whose label `name` is `label(name)`.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.groups.iter().any(|g| {
            g.names.iter().all(|m| m.matches(label(METRIC_NAME))) && g.tags.iter().all(|m| m.matches(label(&m.key)))
        })
    }
}

/// The series of one metric a request reads, points sorted by time.
///
/// A scan hands out runs of rows of one series (a batch per series and
/// partition, a series' batches in a row), so rows are taken a run at a
/// time and appended by slices: no tag value is looked at per row, and a
/// run with the tag keys of the run before (in the same dictionaries)
/// joins that run's series without resolving its labels.
fn scan(ctx: &QueryContext, request: &ScanRequest, metric: &Metric) -> Result<Vec<RawSeries>> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<RawSeries> = Vec::new();
    let mut last: Option<LastRun> = None;
    for batch in ctx.db.scan(request)? {
        let batch = batch?;
        let times = batch
            .column_by_name("time")
            .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
            .ok_or_else(|| PromError::Execution("scan without a time column".into()))?;
        let schema = batch.schema();
        let mut tags = Vec::new();
        let mut fields: Vec<(&str, &PrimitiveArray<Float64Type>)> = Vec::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let name = field.name().as_str();
            if name == metric.field || (metric.is_histogram() && is_histogram_field(name)) {
                let values = column
                    .as_primitive_opt::<Float64Type>()
                    .ok_or_else(|| PromError::Execution(format!("scan field {name} is not Float64")))?;
                fields.push((name, values));
            } else if name != "time" {
                tags.push(TagColumn::try_new(name, column.as_ref())?);
            }
        }
        let points = if metric.is_histogram() {
            Points::Histograms(FieldLayout::new(fields.iter().map(|(n, _)| *n)), fields.iter().map(|f| f.1).collect())
        } else {
            let values = fields
                .first()
                .ok_or_else(|| PromError::Execution(format!("scan without the field {}", metric.field)))?
                .1;
            Points::Floats(values)
        };
        ctx.hold(batch.num_rows())?;
        for run in runs(&tags, batch.num_rows()) {
            let i = match last.as_ref().filter(|l| l.is_at(&tags, run.start)) {
                Some(l) => l.series,
                None => {
                    let mut pairs = vec![(METRIC_NAME.to_owned(), metric.name.clone())];
                    pairs.extend(
                        tags.iter().filter_map(|t| t.value(run.start).map(|v| (t.name.to_owned(), v.to_owned()))),
                    );
                    let labels = Labels::new(pairs);
                    let i = match index.get(&labels) {
                        Some(&i) => i,
                        None => {
                            index.insert(labels.clone(), out.len());
                            out.push(RawSeries { labels, ..RawSeries::default() });
                            out.len() - 1
                        }
                    };
                    last = Some(LastRun::new(&tags, run.start, i));
                    i
                }
            };
            match &points {
                Points::Floats(values) => append(&mut out[i], times, values, run),
                Points::Histograms(layout, columns) => append_histograms(&mut out[i], times, layout, columns, run)?,
            }
        }
    }
    for series in &mut out {
        if !series.ts.is_sorted() {
            let mut points: Vec<(i64, f64)> = series.ts.iter().copied().zip(series.vs.iter().copied()).collect();
            points.sort_by_key(|p| p.0);
            (series.ts, series.vs) = points.into_iter().unzip();
        }
        if !series.hts.is_sorted() {
            let mut points: Vec<(i64, FloatHistogram)> = series.hts.drain(..).zip(series.hs.drain(..)).collect();
            points.sort_by_key(|p| p.0);
            (series.hts, series.hs) = points.into_iter().unzip();
        }
    }
    Ok(out)
}

/// The value columns of a scan batch: one float field, or the fields of
/// native histograms with which columns hold which parts.
enum Points<'a> {
    Floats(&'a PrimitiveArray<Float64Type>),
    Histograms(FieldLayout, Vec<&'a PrimitiveArray<Float64Type>>),
}

/// Appends the histograms of `rows` (those with a count), times in
/// milliseconds.
fn append_histograms(
    series: &mut RawSeries,
    times: &PrimitiveArray<TimestampNanosecondType>,
    layout: &FieldLayout,
    columns: &[&PrimitiveArray<Float64Type>],
    rows: std::ops::Range<usize>,
) -> Result<()> {
    for row in rows {
        let value = |c: usize| columns.get(c).filter(|a| a.is_valid(row)).map(|a| a.value(row));
        let h = layout.read(value).map_err(|e| PromError::Execution(format!("series {}: {e}", series.labels)))?;
        if let Some(h) = h {
            series.hts.push(times.value(row).div_euclid(1_000_000));
            series.hs.push(h);
        }
    }
    Ok(())
}

/// The series of the last run whose labels were resolved, and its tags
/// as keys into their dictionaries.
struct LastRun {
    series: usize,
    keys: Vec<(Option<i32>, ArrayRef)>,
}

impl LastRun {
    fn new(tags: &[TagColumn<'_>], row: usize, series: usize) -> Self {
        LastRun { series, keys: tags.iter().map(|t| (t.key(row), Arc::clone(t.dictionary))).collect() }
    }

    /// Whether the tags at `row` are this run's: the same keys into the
    /// same dictionaries (a scan shares its dictionaries across batches).
    fn is_at(&self, tags: &[TagColumn<'_>], row: usize) -> bool {
        self.keys.len() == tags.len()
            && self.keys.iter().zip(tags).all(|((k, d), t)| *k == t.key(row) && Arc::ptr_eq(d, t.dictionary))
    }
}

/// One tag column of a scan batch: dictionary keys into the tag's values.
struct TagColumn<'a> {
    name: &'a str,
    keys: &'a PrimitiveArray<Int32Type>,
    /// The dictionary, as an array (its identity tells batches sharing it).
    dictionary: &'a ArrayRef,
    values: &'a StringArray,
}

impl<'a> TagColumn<'a> {
    fn try_new(name: &'a str, column: &'a dyn Array) -> Result<Self> {
        let dictionary = column.as_dictionary_opt::<Int32Type>();
        let values = dictionary.and_then(|d| d.values().as_string_opt::<i32>());
        match (dictionary, values) {
            (Some(d), Some(values)) => Ok(TagColumn { name, keys: d.keys(), dictionary: d.values(), values }),
            _ => Err(PromError::Execution(format!(
                "scan tag column {name} is {}, not a dictionary of strings",
                column.data_type()
            ))),
        }
    }

    /// The key at `row`, `None` where the series lacks the tag.
    fn key(&self, row: usize) -> Option<i32> {
        self.keys.is_valid(row).then(|| self.keys.value(row))
    }

    /// The tag's value at `row`, `None` where the series lacks the tag.
    fn value(&self, row: usize) -> Option<&'a str> {
        let key = self.key(row).and_then(|k| usize::try_from(k).ok());
        key.filter(|&k| k < self.values.len()).map(|k| self.values.value(k))
    }

    /// Whether every row has the same key (or every row lacks the tag).
    fn is_constant(&self) -> bool {
        match self.keys.null_count() {
            0 => self.keys.values().first().is_none_or(|&k| self.keys.values().iter().all(|&x| x == k)),
            nulls => nulls == self.keys.len(),
        }
    }

    /// Whether rows `a` and `b` have the same key.
    fn same(&self, a: usize, b: usize) -> bool {
        match (self.keys.is_valid(a), self.keys.is_valid(b)) {
            (true, true) => self.keys.value(a) == self.keys.value(b),
            (valid_a, valid_b) => valid_a == valid_b,
        }
    }
}

/// The runs of consecutive rows with the same tag keys: one series each
/// (a batch of one series, the usual case, is checked column by column
/// without a per-row loop).
fn runs(tags: &[TagColumn<'_>], rows: usize) -> Vec<std::ops::Range<usize>> {
    if rows == 0 {
        return Vec::new();
    }
    if tags.iter().all(TagColumn::is_constant) {
        return std::iter::once(0..rows).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    for row in 1..rows {
        if !tags.iter().all(|t| t.same(row - 1, row)) {
            out.push(start..row);
            start = row;
        }
    }
    out.push(start..rows);
    out
}

/// Appends the points of `rows` that have a value, times in milliseconds.
fn append(
    series: &mut RawSeries,
    times: &PrimitiveArray<TimestampNanosecondType>,
    values: &PrimitiveArray<Float64Type>,
    rows: std::ops::Range<usize>,
) {
    let ms = |t: i64| t.div_euclid(1_000_000);
    if values.null_count() == 0 {
        series.ts.extend(times.values()[rows.clone()].iter().map(|&t| ms(t)));
        series.vs.extend_from_slice(&values.values()[rows]);
    } else {
        for row in rows.filter(|&row| values.is_valid(row)) {
            series.ts.push(ms(times.value(row)));
            series.vs.push(values.value(row));
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

    use datafusion::arrow::array::{DictionaryArray, Int32Array};

    use super::*;

    fn dictionary(keys: Vec<Option<i32>>, values: &[&str]) -> DictionaryArray<Int32Type> {
        DictionaryArray::try_new(Int32Array::from(keys), Arc::new(StringArray::from(values.to_vec()))).unwrap()
    }

    #[test]
    fn rows_of_one_series_are_one_run() {
        let host = dictionary(vec![Some(1); 4], &["a", "b"]);
        let rack = dictionary(vec![None; 4], &["r1"]);
        let tags = [TagColumn::try_new("host", &host).unwrap(), TagColumn::try_new("rack", &rack).unwrap()];
        assert_eq!(runs(&tags, 4), vec![0..4]);
        assert_eq!(tags[0].value(3), Some("b"));
        assert_eq!(tags[1].value(0), None);
        assert!(runs(&tags[..0], 0).is_empty());
    }

    #[test]
    fn rows_of_several_series_split_where_any_key_changes() {
        // Series (a, r1), (b, r1), (b, none), (a, r1) again: a series may
        // come back, and a missing tag differs from any value.
        let host = dictionary(vec![Some(0), Some(0), Some(1), Some(1), Some(1), Some(0)], &["a", "b"]);
        let rack = dictionary(vec![Some(0), Some(0), Some(0), None, None, Some(0)], &["r1"]);
        let tags = [TagColumn::try_new("host", &host).unwrap(), TagColumn::try_new("rack", &rack).unwrap()];
        assert_eq!(runs(&tags, 6), vec![0..2, 2..3, 3..5, 5..6]);
        assert_eq!((tags[0].value(2), tags[1].value(3)), (Some("b"), None));
    }

    #[test]
    fn a_run_joins_the_last_series_only_with_its_keys_in_its_dictionaries() {
        let first = dictionary(vec![Some(1), Some(1)], &["a", "b"]);
        let tags = [TagColumn::try_new("host", &first).unwrap()];
        let last = LastRun::new(&tags, 0, 7);
        // The next batch of the scan: the same dictionary, sliced keys.
        let next = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![Some(1), Some(0), None]),
            Arc::clone(first.values()),
        )
        .unwrap();
        let next_tags = [TagColumn::try_new("host", &next).unwrap()];
        assert!(last.is_at(&next_tags, 0));
        assert!(!last.is_at(&next_tags, 1), "another key");
        assert!(!last.is_at(&next_tags, 2), "no tag");
        // Key 1 of an equal but distinct dictionary need not be "b".
        let other = dictionary(vec![Some(1)], &["a", "b"]);
        assert!(!last.is_at(&[TagColumn::try_new("host", &other).unwrap()], 0));
        assert!(!last.is_at(&[], 0), "other columns");
        assert_eq!(last.series, 7);
    }

    #[test]
    fn a_tag_column_of_plain_strings_is_refused() {
        let plain = StringArray::from(vec!["a"]);
        let error = TagColumn::try_new("host", &plain).err().expect("a plain string column");
        assert!(error.to_string().contains("host"), "{error}");
    }

    #[test]
    fn points_without_a_value_are_skipped_and_times_become_milliseconds() {
        let times = PrimitiveArray::<TimestampNanosecondType>::from(vec![-1_500_000, 2_000_000, 3_999_999, 5_000_000]);
        let values = PrimitiveArray::<Float64Type>::from(vec![Some(1.0), None, Some(3.0), Some(4.0)]);
        let mut series = RawSeries::default();
        append(&mut series, &times, &values, 0..3);
        assert_eq!((series.ts.as_slice(), series.vs.as_slice()), (&[-2, 3][..], &[1.0, 3.0][..]));
        let dense = PrimitiveArray::<Float64Type>::from(vec![1.0, 2.0, 3.0, 4.0]);
        append(&mut series, &times, &dense, 1..4);
        assert_eq!(series.ts, vec![-2, 3, 2, 3, 5]);
        assert_eq!(series.vs, vec![1.0, 3.0, 2.0, 3.0, 4.0]);
    }
}
