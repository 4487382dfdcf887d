//! The label side of the Prometheus API: the series a set of selectors
//! matches, label names and label values, answered from the series index
//! (and the partition directory for a time range), never by reading points.
//!
//! A series of a measurement is listed under each of the measurement's
//! fields (one metric per field, see [`super::selector`]).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use promql_parser::parser::{self, Expr};

use super::error::{PromError, Result};
use super::selector::{self, Metric, Selection};
use super::value::{Labels, METRIC_NAME};
use crate::db::Db;
use crate::storage::series_index::SeriesView;

/// The label sets of the series matching any of `selectors` (every series
/// when there are none) with a point in `range` (milliseconds, inclusive;
/// `None` for all time), sorted.
pub fn series(db: &Db, selectors: &[String], range: Option<(i64, i64)>) -> Result<Vec<Labels>> {
    let selectors: Vec<Selection> = selectors.iter().map(|s| parse_selector(s)).collect::<Result<_>>()?;
    let ns = range.map(|(s, e)| (s.saturating_mul(1_000_000), e.saturating_mul(1_000_000).saturating_add(999_999)));
    // Only the measurements of metrics a selector can name are listed, each
    // from its own index entry.
    let metrics: Vec<Metric> = selector::catalog(db)?
        .into_iter()
        .filter(|m| selectors.is_empty() || selectors.iter().any(|s| s.may_name(&m.name)))
        .collect();
    let measurements: BTreeSet<&str> = metrics.iter().map(|m| m.measurement.as_str()).collect();
    let measurements: Vec<&str> = measurements.into_iter().collect();
    // Matched, sorted and told apart on the index's own strings; only the
    // listed label sets are copied out.
    let listed = db.with_series(Some(&measurements), ns, |views| {
        let mut listed: Vec<Listed<'_>> = Vec::new();
        for view in views {
            let overridden = view.tag(METRIC_NAME).is_some();
            for metric in metrics.iter().filter(|m| m.measurement == view.measurement()) {
                let series = Listed { name: (!overridden).then_some(metric.name.as_str()), view };
                if selectors.is_empty() || selectors.iter().any(|s| s.matches(|k| series.get(k))) {
                    listed.push(series);
                }
            }
        }
        listed.sort_unstable_by(|a, b| a.cmp(b));
        listed.dedup_by(|a, b| a.cmp(b) == Ordering::Equal);
        listed.iter().map(Listed::to_labels).collect()
    })?;
    Ok(listed)
}

/// A series listed under one metric: the labels it has, read from the index.
struct Listed<'a> {
    /// The metric's name, unless a tag named `__name__` takes its place.
    name: Option<&'a str>,
    view: SeriesView<'a>,
}

/// One label of a [`Listed`] series: the metric's name, or a tag as the
/// index's string ids (read only where two series differ).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label<'a> {
    Name(&'a str),
    Tag(u32, u32),
}

impl<'a> Listed<'a> {
    /// Its labels, sorted by name, as [`Labels`] would hold them.
    fn labels(&self) -> impl Iterator<Item = Label<'a>> + 'a {
        let (view, mut name) = (self.view, self.name);
        let mut tags = view.tag_ids().iter().peekable();
        std::iter::from_fn(move || match (name, tags.peek()) {
            (Some(n), next) if next.is_none_or(|&&(k, _)| METRIC_NAME < view.name(k)) => {
                name = None;
                Some(Label::Name(n))
            }
            _ => tags.next().map(|&(k, v)| Label::Tag(k, v)),
        })
    }

    /// The (name, value) of one of its labels.
    fn pair(&self, label: Label<'a>) -> (&'a str, &'a str) {
        match label {
            Label::Name(n) => (METRIC_NAME, n),
            Label::Tag(k, v) => (self.view.name(k), self.view.name(v)),
        }
    }

    /// The order of [`Labels`]: label by label, strings compared only
    /// where the ids differ.
    fn cmp(&self, other: &Listed<'a>) -> Ordering {
        let (mut mine, mut theirs) = (self.labels(), other.labels());
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => match self.pair(a).cmp(&other.pair(b)) {
                    Ordering::Equal => {}
                    unequal => return unequal,
                },
            }
        }
    }

    /// The value of label `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        match self.name {
            Some(name) if key == METRIC_NAME => Some(name),
            _ => self.view.tag(key),
        }
    }

    fn to_labels(&self) -> Labels {
        Labels::new(self.labels().map(|l| self.pair(l)).map(|(k, v)| (k.to_owned(), v.to_owned())))
    }
}

/// The label names of the matching series, sorted.
pub fn label_names(db: &Db, selectors: &[String], range: Option<(i64, i64)>) -> Result<Vec<String>> {
    let names: BTreeSet<String> =
        series(db, selectors, range)?.iter().flat_map(|l| l.iter().map(|(n, _)| n.to_owned())).collect();
    Ok(names.into_iter().collect())
}

/// The values of label `name` over the matching series, sorted.
pub fn label_values(db: &Db, name: &str, selectors: &[String], range: Option<(i64, i64)>) -> Result<Vec<String>> {
    let values: BTreeSet<String> =
        series(db, selectors, range)?.iter().filter_map(|l| l.get(name).map(str::to_owned)).collect();
    Ok(values.into_iter().collect())
}

/// A `match[]` argument: one vector selector.
fn parse_selector(text: &str) -> Result<Selection> {
    match parser::parse(text).map_err(PromError::BadData)? {
        Expr::VectorSelector(vs) => Selection::new(&vs),
        _ => Err(PromError::BadData(format!("invalid parameter \"match[]\": {text:?} is not a series selector"))),
    }
}
