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
    let mut out = BTreeSet::new();
    for measurement in measurements {
        for key in db.measurement_series_keys(measurement, ns)? {
            for metric in metrics.iter().filter(|m| m.measurement == key.measurement) {
                let labels = labels_of(metric, &key.tags);
                if selectors.is_empty() || selectors.iter().any(|s| s.matches(&labels)) {
                    out.insert(labels);
                }
            }
        }
    }
    Ok(out.into_iter().collect())
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

/// The labels of a series of `metric` with these tags.
fn labels_of(metric: &Metric, tags: &[(String, String)]) -> Labels {
    Labels::new(std::iter::once((METRIC_NAME.to_owned(), metric.name.clone())).chain(tags.iter().cloned()))
}

/// A `match[]` argument: one vector selector.
fn parse_selector(text: &str) -> Result<Selection> {
    match parser::parse(text).map_err(PromError::BadData)? {
        Expr::VectorSelector(vs) => Selection::new(&vs),
        _ => Err(PromError::BadData(format!("invalid parameter \"match[]\": {text:?} is not a series selector"))),
    }
}
