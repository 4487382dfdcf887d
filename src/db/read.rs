//! The read side of a [`super::Db`]: scan planning and the catalog listings.
//!
//! A scan is planned under the read lock: the matching series, the chunks of
//! every overlapping partition block (cloned directory entries) and the head
//! points in range (copied), so the scan then runs without any lock.

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::error::Result;
use crate::storage::scan::{self, Scan, ScanPart, ScanRequest};
use crate::storage::series_index::{FieldId, SeriesId};

use super::state::State;

impl State {
    /// Plans a scan.
    pub fn plan_scan(&self, req: &ScanRequest) -> Result<Scan> {
        let ns = self.partition_ns;
        let measurement = self.index.measurement(&req.measurement);
        let tags: Vec<String> = measurement.map(|m| m.postings.keys().cloned().collect()).unwrap_or_default();
        let mut all_fields: Vec<&str> = measurement
            .map(|m| m.fields.iter().filter_map(|&f| self.index.field_name(f)).collect())
            .unwrap_or_default();
        all_fields.sort_unstable();
        let out_names: Vec<String> = match &req.fields {
            Some(asked) => asked.clone(),
            None => all_fields.iter().map(|f| f.to_string()).collect(),
        };
        let known = |name: &str| all_fields.contains(&name).then(|| self.index.find_field(name)).flatten();
        let mut row_fields: Vec<FieldId> = Vec::new();
        for id in out_names.iter().filter_map(|n| known(n)) {
            if !row_fields.contains(&id) {
                row_fields.push(id);
            }
        }
        let out_fields: Vec<Option<usize>> =
            out_names.iter().map(|n| known(n).and_then(|id| row_fields.iter().position(|&r| r == id))).collect();
        if out_names.is_empty() {
            row_fields = all_fields.iter().filter_map(|f| self.index.find_field(f)).collect();
        }
        let series = self.index.select(&req.measurement, &req.matchers);
        let series_tags: Vec<Vec<Option<String>>> = series
            .iter()
            .map(|&id| {
                let key = self.index.key(id);
                tags.iter().map(|t| key.and_then(|k| k.tag(t)).map(str::to_string)).collect()
            })
            .collect();
        let mut partitions = BTreeSet::new();
        // An inverted range selects nothing (and `BTreeMap::range` would panic on it).
        if req.start <= req.end {
            let (lo, hi) = (req.start.div_euclid(ns), req.end.div_euclid(ns));
            partitions.extend(self.blocks.range(lo..=hi).map(|(&p, _)| p));
            partitions.extend(self.head.partitions().range(lo..=hi).map(|(&p, _)| p));
        }
        let mut parts = VecDeque::new();
        if req.start <= req.end && !row_fields.is_empty() {
            for (slot, &id) in series.iter().enumerate() {
                for &p in &partitions {
                    let part = self.part(id, p, slot, &row_fields, req.start, req.end);
                    if !part.chunks.is_empty() || !part.head.is_empty() {
                        parts.push_back(part);
                    }
                }
            }
        }
        let schema = scan::schema(&tags, &out_names);
        let range = (req.start, req.end);
        Ok(Scan::new(schema, self.store.reader(), range, series_tags, row_fields, out_fields, parts))
    }

    fn part(&self, id: SeriesId, p: i64, slot: usize, fields: &[FieldId], start: i64, end: i64) -> ScanPart {
        let overlaps = |min: i64, max: i64| min <= end && max >= start;
        let chunks = self
            .blocks
            .get(&p)
            .into_iter()
            .flatten()
            .flat_map(|b| b.series_entries(id))
            .filter(|e| overlaps(e.min_time, e.max_time) && e.fields.iter().any(|f| fields.contains(f)))
            .cloned()
            .collect();
        let columns = self.head.partitions().get(&p).and_then(|hp| hp.series.get(&id));
        let head = columns
            .into_iter()
            .flatten()
            .filter(|c| fields.contains(&c.field))
            .filter_map(|c| {
                let mut points = c.resolved();
                points.restrict(start, end);
                (!points.is_empty()).then_some((c.field, points))
            })
            .collect();
        ScanPart { series: slot, chunks, head }
    }

    /// Series with at least one point in `start..=end`. Exact: a chunk that
    /// reaches past the range may have no point inside it, so it is decoded.
    pub fn series_in_range(&self, start: i64, end: i64) -> Result<HashSet<SeriesId>> {
        let mut found = HashSet::new();
        if start > end {
            return Ok(found);
        }
        let ns = self.partition_ns;
        let (lo, hi) = (start.div_euclid(ns), end.div_euclid(ns));
        for (_, part) in self.head.partitions().range(lo..=hi) {
            for (&id, columns) in &part.series {
                if columns.iter().any(|c| c.times.iter().any(|&t| start <= t && t <= end)) {
                    found.insert(id);
                }
            }
        }
        let mut partial = Vec::new();
        let overlapping = self
            .blocks
            .range(lo..=hi)
            .flat_map(|(_, blocks)| blocks.iter().flat_map(|b| b.entries.iter()))
            .filter(|e| e.min_time <= end && e.max_time >= start);
        for e in overlapping {
            if start <= e.min_time && e.max_time <= end {
                found.insert(e.series);
            } else {
                partial.push(e);
            }
        }
        let reader = self.store.reader();
        for e in partial {
            if found.contains(&e.series) {
                continue;
            }
            let first_field = &e.fields[..e.fields.len().min(1)];
            let points = scan::read_chunks(&reader, [e], first_field, start, end)?;
            if points.iter().flatten().any(|p| !p.is_empty()) {
                found.insert(e.series);
            }
        }
        Ok(found)
    }

    /// Tag values of `key`, optionally within a measurement and a time range.
    pub fn tag_values(&self, key: &str, measurement: Option<&str>, range: Option<(i64, i64)>) -> Result<Vec<String>> {
        let live = range.map(|(s, e)| self.series_in_range(s, e)).transpose()?;
        let mut values = BTreeSet::new();
        for (name, m) in self.index.measurements() {
            if measurement.is_some_and(|x| x != name) {
                continue;
            }
            for (value, ids) in m.postings.get(key).into_iter().flatten() {
                if live.as_ref().is_none_or(|live| ids.iter().any(|id| live.contains(id))) {
                    values.insert(value.clone());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}
