//! The series with rows in tiered partitions within a time range, for the
//! listings that take a range ([`Db::series_keys`], [`Db::tag_values`], so
//! the Prometheus series and label APIs). Read through [`Db::scan`]: a
//! series counts exactly when a scan of the range returns a row of it, so
//! one held only by a Parquet file counts, and deleted or expired rows do
//! not.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use arrow_array::{Array, StringArray};
use arrow_schema::DataType;

use super::Db;
use crate::error::{Error, Result};
use crate::storage::matcher::TagMatcher;
use crate::storage::scan::ScanRequest;
use crate::storage::series_index::SeriesId;

impl Db {
    /// The series (of `measurement`, or of all) with a row in a tiered
    /// partition within `start..=end`.
    pub(super) fn tiered_series(&self, measurement: Option<&str>, start: i64, end: i64) -> Result<HashSet<SeriesId>> {
        let ns = self.partition_duration_ns()?;
        // Per measurement: the part of the range its tiered partitions cover.
        let mut spans: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let files = self.tier().files()?;
        for f in files.into_iter().filter(|f| measurement.is_none_or(|m| m == f.measurement)) {
            let (lo, hi) = (f.partition_start.max(start), f.partition_start.saturating_add(ns - 1).min(end));
            if lo <= hi {
                let span = spans.entry(f.measurement).or_insert((lo, hi));
                *span = (span.0.min(lo), span.1.max(hi));
            }
        }
        let mut found = HashSet::new();
        for (measurement, (lo, hi)) in spans {
            let request = ScanRequest::new(&measurement).with_fields(Vec::<String>::new()).with_time_range(lo, hi);
            let mut tags: Vec<String> = Vec::new();
            let mut seen: BTreeSet<Vec<Option<String>>> = BTreeSet::new();
            for batch in self.scan(&request)? {
                let batch = batch?;
                tags = batch.schema().fields().iter().skip(1).map(|f| f.name().clone()).collect();
                let values = batch.columns()[1..]
                    .iter()
                    .map(|c| {
                        let text = datafusion::arrow::compute::cast(c, &DataType::Utf8)
                            .map_err(|e| Error::Internal(e.to_string()))?;
                        text.as_any()
                            .downcast_ref::<StringArray>()
                            .cloned()
                            .ok_or_else(|| Error::Internal("a tag column cast to text is not text".into()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                for row in 0..batch.num_rows() {
                    seen.insert(values.iter().map(|v| v.is_valid(row).then(|| v.value(row).to_string())).collect());
                }
            }
            let st = self.read()?;
            for values in seen {
                let matchers: Vec<TagMatcher> =
                    tags.iter().zip(values).map(|(k, v)| TagMatcher::eq(k, v.unwrap_or_default())).collect();
                found.extend(st.index.select(&measurement, &matchers));
            }
        }
        Ok(found)
    }
}
