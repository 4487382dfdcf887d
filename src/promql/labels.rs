//! The label side of the Prometheus API: the series a set of selectors
//! matches, label names and label values, answered from the series index
//! (and the partition directory for a time range), never by reading points.
//!
//! A series of a measurement is listed under each of the measurement's
//! fields (one metric per field, see [`super::selector`]).

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
        listed.sort_unstable_by(|a, b| a.pairs().cmp(b.pairs()));
        listed.dedup_by(|a, b| a.pairs().eq(b.pairs()));
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

impl<'a> Listed<'a> {
    /// Its labels, sorted by name, as [`Labels`] would hold them.
    fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut name = self.name;
        let mut tags = self.view.tags().peekable();
        std::iter::from_fn(move || match (name, tags.peek()) {
            (Some(n), next) if next.is_none_or(|&(k, _)| METRIC_NAME < k) => {
                name = None;
                Some((METRIC_NAME, n))
            }
            _ => tags.next(),
        })
    }

    /// The value of label `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        match self.name {
            Some(name) if key == METRIC_NAME => Some(name),
            _ => self.view.tag(key),
        }
    }

    fn to_labels(&self) -> Labels {
        Labels::new(self.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())))
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
