//! The series index: series ids <-> series keys, field names, and per
//! measurement the inverted postings `tag key -> value -> series ids`.
//!
//! Invariants: series ids are dense (`0..len`) and never reused; a series' key
//! never changes; postings lists are ascending and hold every series of the
//! measurement that has that tag value. Field ids are dense too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::matcher::{MatchOp, TagMatcher};
use crate::model::SeriesKey;

/// Identifies a series within one database.
pub type SeriesId = u32;
/// Identifies a field name within one database.
pub type FieldId = u32;

/// What the index knows about one measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeasurementIndex {
    /// Its series, ascending.
    pub series: Vec<SeriesId>,
    /// The fields written to it.
    pub fields: BTreeSet<FieldId>,
    /// Tag key -> tag value -> series ids (ascending).
    pub postings: BTreeMap<String, BTreeMap<String, Vec<SeriesId>>>,
}

/// Every series and field name of a database.
#[derive(Debug, Clone, Default)]
pub struct SeriesIndex {
    by_key: HashMap<Vec<u8>, SeriesId>,
    series: Vec<SeriesKey>,
    fields: Vec<String>,
    field_ids: HashMap<String, FieldId>,
    measurements: BTreeMap<String, MeasurementIndex>,
}

impl SeriesIndex {
    /// The id of the series with canonical bytes `canonical`, if known.
    pub fn lookup(&self, canonical: &[u8]) -> Option<SeriesId> {
        self.by_key.get(canonical).copied()
    }

    /// Registers a new series and returns its id (or the existing one).
    pub fn insert(&mut self, key: SeriesKey) -> SeriesId {
        let mut canonical = Vec::new();
        key.encode(&mut canonical);
        if let Some(id) = self.lookup(&canonical) {
            return id;
        }
        let id = self.series.len() as SeriesId;
        let m = self.measurements.entry(key.measurement.clone()).or_default();
        m.series.push(id);
        for (k, v) in &key.tags {
            m.postings.entry(k.clone()).or_default().entry(v.clone()).or_default().push(id);
        }
        self.by_key.insert(canonical, id);
        self.series.push(key);
        id
    }

    /// The id of field `name`, registering it if new.
    pub fn field_id(&mut self, name: &str) -> FieldId {
        if let Some(&id) = self.field_ids.get(name) {
            return id;
        }
        let id = self.fields.len() as FieldId;
        self.fields.push(name.to_string());
        self.field_ids.insert(name.to_string(), id);
        id
    }

    /// The id of field `name`, if it was ever written.
    pub fn find_field(&self, name: &str) -> Option<FieldId> {
        self.field_ids.get(name).copied()
    }

    /// The name of field `id`.
    pub fn field_name(&self, id: FieldId) -> Option<&str> {
        self.fields.get(id as usize).map(String::as_str)
    }

    /// Every field name, by id.
    pub fn field_names(&self) -> &[String] {
        &self.fields
    }

    /// Records that `measurement` has field `field`.
    pub fn add_field(&mut self, measurement: &str, field: FieldId) {
        if let Some(m) = self.measurements.get_mut(measurement) {
            m.fields.insert(field);
        }
    }

    /// The key of series `id`.
    pub fn key(&self, id: SeriesId) -> Option<&SeriesKey> {
        self.series.get(id as usize)
    }

    /// Every series key, by id.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.series
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there is no series.
    #[cfg(any(test, feature = "testing"))]
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every measurement, by name.
    pub fn measurements(&self) -> &BTreeMap<String, MeasurementIndex> {
        &self.measurements
    }

    /// One measurement.
    pub fn measurement(&self, name: &str) -> Option<&MeasurementIndex> {
        self.measurements.get(name)
    }

    /// The series of `measurement` that pass every matcher, ascending.
    pub fn select(&self, measurement: &str, matchers: &[TagMatcher]) -> Vec<SeriesId> {
        let Some(m) = self.measurements.get(measurement) else { return Vec::new() };
        // Start from the shortest postings list of a non-empty equality, else all series.
        let seed = matchers
            .iter()
            .filter(|x| x.op == MatchOp::Eq && !x.value.is_empty())
            .map(|x| m.postings.get(&x.key).and_then(|vals| vals.get(&x.value)).map_or(&[][..], Vec::as_slice))
            .min_by_key(|ids| ids.len())
            .unwrap_or(&m.series);
        seed.iter()
            .copied()
            .filter(|&id| self.key(id).is_some_and(|key| matchers.iter().all(|x| x.matches(key.tag(&x.key)))))
            .collect()
    }

    /// Rebuilds an index from its parts (as stored in the file's index block).
    pub fn from_parts(
        series: Vec<SeriesKey>,
        fields: Vec<String>,
        measurements: BTreeMap<String, MeasurementIndex>,
    ) -> Self {
        let by_key = series
            .iter()
            .enumerate()
            .map(|(id, key)| {
                let mut canonical = Vec::new();
                key.encode(&mut canonical);
                (canonical, id as SeriesId)
            })
            .collect();
        let field_ids = fields.iter().enumerate().map(|(id, f)| (f.clone(), id as FieldId)).collect();
        Self { by_key, series, fields, field_ids, measurements }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, dc: Option<&str>) -> SeriesKey {
        let mut tags = vec![("host".to_string(), host.to_string())];
        tags.extend(dc.map(|d| ("dc".to_string(), d.to_string())));
        SeriesKey::new("cpu", tags)
    }

    #[test]
    fn select_uses_postings_and_matcher_semantics() {
        let mut index = SeriesIndex::default();
        let a = index.insert(key("a", Some("x")));
        let b = index.insert(key("b", None));
        let c = index.insert(key("c", Some("y")));
        assert_eq!(index.insert(key("a", Some("x"))), a, "the same key keeps its id");
        assert_eq!(index.select("cpu", &[]), vec![a, b, c]);
        assert_eq!(index.select("cpu", &[TagMatcher::eq("host", "b")]), vec![b]);
        assert_eq!(index.select("cpu", &[TagMatcher::not_eq("dc", "x")]), vec![b, c]);
        assert_eq!(index.select("cpu", &[TagMatcher::eq("dc", "")]), vec![b]);
        let re = TagMatcher::regex("host", "[ac]").expect("valid");
        assert_eq!(index.select("cpu", &[re, TagMatcher::eq("dc", "y")]), vec![c]);
        assert!(index.select("mem", &[]).is_empty());
        assert_eq!(index.measurement("cpu").map(|m| m.postings["dc"].len()), Some(2));
    }
}
