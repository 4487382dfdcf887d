//! The series index: series ids <-> series keys, field names, and per
//! measurement the inverted postings `tag key -> value -> series ids`.
//!
//! Invariants: series ids are dense (`0..len`) and never reused; a series' key
//! never changes; postings lists are ascending and hold every series of the
//! measurement that has that tag value. Field ids are dense too.
//!
//! Compact for millions of series: names are interned once (a series is a
//! measurement id and a run of (key id, value id) pairs in one flat array,
//! 8 bytes a tag), and the lookup from canonical key bytes keeps a 64-bit
//! hash per series, not the bytes: a hit is confirmed against the interned
//! names, and the rare key whose hash another already took is kept whole in
//! a side table.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::head::IdHasher;
use super::matcher::{MatchOp, TagMatcher};
use crate::encoding::varint::ByteReader;
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

/// Strings stored once, by dense id.
#[derive(Debug, Clone, Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| &**s)
    }
}

/// Hashes keys that are already hashes: passes them through.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PassHasher(u64);

impl Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = key_hash(bytes);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A map keyed by canonical key hashes ([`key_hash`]), which need no
/// hashing again.
pub(crate) type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PassHasher>>;

/// Series to register at once, their names given as positions in `strings`
/// (as a series block stores them): series `i` is measurement
/// `measurements[i]` with tags `tags[tag_starts[i]..tag_starts[i + 1]]`
/// (sorted by key), and `hashes[i]` is the [`key_hash`] of its canonical
/// key.
#[derive(Debug, Clone, Copy)]
pub struct InternedSeries<'a> {
    /// The names.
    pub strings: &'a [String],
    /// Measurement name, per series.
    pub measurements: &'a [u32],
    /// Where each series' tags start (one more than series).
    pub tag_starts: &'a [usize],
    /// (key, value) of each series' tags.
    pub tags: &'a [(u32, u32)],
    /// Canonical key hash, per series.
    pub hashes: &'a [u64],
}

/// A 64-bit hash of canonical key bytes, a word at a time. Not keyed: keys
/// that collide are still found (through the side table), only slower.
pub(crate) fn key_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// Every series and field name of a database.
#[derive(Debug, Clone, Default)]
pub struct SeriesIndex {
    strings: Interner,
    /// Measurement name id, per series.
    measurement_of: Vec<u32>,
    /// Where each series' tags start in `tags` (one more entry than series).
    tag_starts: Vec<u32>,
    /// (key id, value id) of every series' tags, sorted by key per series.
    tags: Vec<(u32, u32)>,
    /// Hash of canonical key -> the first series with that hash.
    by_hash: HashKeyed<SeriesId>,
    /// Canonical key -> series, for keys whose hash an earlier key took.
    collisions: HashMap<Vec<u8>, SeriesId>,
    fields: Vec<String>,
    field_ids: HashMap<String, FieldId>,
    measurements: BTreeMap<String, MeasurementIndex>,
}

/// One series of an index, read in place.
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'a> {
    index: &'a SeriesIndex,
    id: usize,
}

impl<'a> SeriesView<'a> {
    /// Its measurement.
    pub fn measurement(&self) -> &'a str {
        self.index.strings.get(self.index.measurement_of[self.id])
    }

    /// Its tags as (key, value) string ids of the index, sorted by key
    /// ([`SeriesView::name`] gives the strings): equal ids are equal strings.
    pub(crate) fn tag_ids(&self) -> &'a [(u32, u32)] {
        let (start, end) = (self.index.tag_starts[self.id], self.index.tag_starts[self.id + 1]);
        &self.index.tags[start as usize..end as usize]
    }

    /// The string of an id of [`SeriesView::tag_ids`].
    pub(crate) fn name(&self, id: u32) -> &'a str {
        self.index.strings.get(id)
    }

    /// Its tags, sorted by key.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + 'a {
        let strings = &self.index.strings;
        self.tag_ids().iter().map(move |&(k, v)| (strings.get(k), strings.get(v)))
    }

    /// The value of tag `key`, if the series has it.
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        let strings = &self.index.strings;
        let tags = self.tag_ids();
        let at = tags.binary_search_by(|&(k, _)| strings.get(k).cmp(key)).ok()?;
        Some(strings.get(tags[at].1))
    }

    /// Its key, owned.
    pub fn to_key(self) -> SeriesKey {
        let tags = self.tags().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SeriesKey { measurement: self.measurement().to_string(), tags }
    }

    /// Whether `canonical` is the canonical form of its key.
    fn is(&self, canonical: &[u8]) -> bool {
        let name = |r: &mut ByteReader<'_>, s: &str| {
            r.varint_len(canonical.len(), "length").and_then(|n| r.take(n, "name")).is_ok_and(|b| b == s.as_bytes())
        };
        let mut r = ByteReader::new(canonical, 0);
        name(&mut r, self.measurement())
            && r.varint("tag count").ok() == Some(self.tag_ids().len() as u64)
            && self.tags().all(|(k, v)| name(&mut r, k) && name(&mut r, v))
            && r.remaining().is_empty()
    }
}

impl SeriesIndex {
    /// The id of the series with canonical bytes `canonical`, if known.
    pub fn lookup(&self, canonical: &[u8]) -> Option<SeriesId> {
        self.lookup_hashed(key_hash(canonical), canonical)
    }

    /// [`Self::lookup`] with the key's [`key_hash`] already computed.
    pub fn lookup_hashed(&self, hash: u64, canonical: &[u8]) -> Option<SeriesId> {
        let &id = self.by_hash.get(&hash)?;
        if self.series(id).is_some_and(|s| s.is(canonical)) {
            return Some(id);
        }
        self.collisions.get(canonical).copied()
    }

    /// Registers a new series and returns its id (or the existing one).
    pub fn insert(&mut self, key: SeriesKey) -> SeriesId {
        self.insert_parts(&key.measurement, key.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Registers the series of `measurement` and `tags` (sorted by distinct
    /// keys) and returns its id (or the existing one).
    pub fn insert_parts<'a>(
        &mut self,
        measurement: &str,
        tags: impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> SeriesId {
        let before = self.len();
        let id = self.register(measurement, tags.clone());
        if self.len() == before {
            return id;
        }
        if !self.measurements.contains_key(measurement) {
            self.measurements.insert(measurement.to_string(), MeasurementIndex::default());
        }
        let Some(m) = self.measurements.get_mut(measurement) else { return id };
        m.series.push(id);
        for (k, v) in tags {
            if !m.postings.contains_key(k) {
                m.postings.insert(k.to_string(), BTreeMap::new());
            }
            let Some(values) = m.postings.get_mut(k) else { continue };
            match values.get_mut(v) {
                Some(ids) => ids.push(id),
                None => _ = values.insert(v.to_string(), vec![id]),
            }
        }
        id
    }

    /// Adds a series to the series (not to the postings) unless known; its id.
    fn register<'a>(
        &mut self,
        measurement: &str,
        tags: impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> SeriesId {
        let mut canonical = Vec::new();
        SeriesKey::encode_parts(measurement, tags.clone(), &mut canonical);
        if let Some(id) = self.lookup(&canonical) {
            return id;
        }
        let id = self.len() as SeriesId;
        let measurement = self.strings.id(measurement);
        self.measurement_of.push(measurement);
        if self.tag_starts.is_empty() {
            self.tag_starts.push(0);
        }
        for (k, v) in tags {
            let pair = (self.strings.id(k), self.strings.id(v));
            self.tags.push(pair);
        }
        self.tag_starts.push(self.tags.len() as u32);
        let hash = key_hash(&canonical);
        match self.by_hash.entry(hash) {
            Entry::Occupied(_) => _ = self.collisions.insert(canonical, id),
            Entry::Vacant(slot) => _ = slot.insert(id),
        }
        id
    }

    /// Registers `batch`, whose series the caller checked to be new to the
    /// index and distinct; ids follow the index's. Names are interned once
    /// per distinct string of the batch and postings are grouped by ids, so
    /// this costs a few hash probes per tag, not a string lookup per tag.
    pub fn extend_interned(&mut self, batch: InternedSeries<'_>) {
        let names: Vec<u32> = batch.strings.iter().map(|s| self.strings.id(s)).collect();
        let name = |sid: u32| names.get(sid as usize).copied().unwrap_or_default();
        let first = self.len();
        let count = batch.measurements.len();
        self.measurement_of.reserve(count);
        self.tag_starts.reserve(count + 1);
        self.by_hash.reserve(count);
        if self.tag_starts.is_empty() {
            self.tag_starts.push(0);
        }
        type Grouped<K> = HashMap<K, Vec<SeriesId>, BuildHasherDefault<IdHasher>>;
        let mut members: Grouped<u32> = Grouped::default();
        let mut postings: Grouped<(u32, u32, u32)> = Grouped::default();
        let parts = batch.measurements.iter().zip(batch.tag_starts.windows(2)).zip(batch.hashes);
        for (i, ((&m, range), &hash)) in parts.enumerate() {
            let id = (first + i) as SeriesId;
            let m = name(m);
            self.measurement_of.push(m);
            members.entry(m).or_default().push(id);
            for &(k, v) in batch.tags.get(range[0]..range[1]).unwrap_or_default() {
                let pair = (name(k), name(v));
                self.tags.push(pair);
                postings.entry((m, pair.0, pair.1)).or_default().push(id);
            }
            self.tag_starts.push(self.tags.len() as u32);
            if let Entry::Vacant(slot) = self.by_hash.entry(hash) {
                slot.insert(id);
            } else if let Some(series) = self.series(id) {
                let mut canonical = Vec::new();
                SeriesKey::encode_parts(series.measurement(), series.tags(), &mut canonical);
                self.collisions.insert(canonical, id);
            }
        }
        let mut members: Vec<(u32, Vec<SeriesId>)> = members.into_iter().collect();
        members.sort_unstable_by_key(|(m, _)| *m);
        for (m, ids) in members {
            let name = self.strings.get(m);
            if !self.measurements.contains_key(name) {
                self.measurements.insert(name.to_string(), MeasurementIndex::default());
            }
            if let Some(index) = self.measurements.get_mut(name) {
                index.series.extend(ids);
            }
        }
        let mut postings: Vec<((u32, u32, u32), Vec<SeriesId>)> = postings.into_iter().collect();
        postings.sort_unstable_by_key(|(key, _)| *key);
        let mut run = Vec::new();
        let mut postings = postings.into_iter().peekable();
        while let Some(((m, k, v), ids)) = postings.next() {
            run.push((v, ids));
            if postings.peek().is_none_or(|((m2, k2, _), _)| (*m2, *k2) != (m, k)) {
                self.post(m, k, std::mem::take(&mut run));
            }
        }
    }

    /// Adds the postings `run` (of measurement `m` and tag key `k`: value
    /// id and series ids, by value id) to the measurement's.
    fn post(&mut self, m: u32, k: u32, run: Vec<(u32, Vec<SeriesId>)>) {
        let strings = &self.strings;
        let Some(index) = self.measurements.get_mut(strings.get(m)) else { return };
        let key = strings.get(k);
        if !index.postings.contains_key(key) {
            index.postings.insert(key.to_string(), BTreeMap::new());
        }
        let Some(values) = index.postings.get_mut(key) else { return };
        let value = |v: u32| strings.get(v).to_string();
        if values.is_empty() {
            // Built in one go from the whole run, not value by value.
            *values = run.into_iter().map(|(v, ids)| (value(v), ids)).collect();
            return;
        }
        for (v, ids) in run {
            match values.get_mut(strings.get(v)) {
                Some(list) => list.extend(ids),
                None => _ = values.insert(value(v), ids),
            }
        }
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

    /// Series `id`, read in place.
    pub fn series(&self, id: SeriesId) -> Option<SeriesView<'_>> {
        ((id as usize) < self.len()).then_some(SeriesView { index: self, id: id as usize })
    }

    /// The key of series `id`, owned.
    pub fn key(&self, id: SeriesId) -> Option<SeriesKey> {
        self.series(id).map(|s| s.to_key())
    }

    /// Every series key, by id, owned.
    #[cfg(any(test, feature = "testing"))]
    pub fn keys(&self) -> Vec<SeriesKey> {
        (0..self.len() as SeriesId).filter_map(|id| self.key(id)).collect()
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.measurement_of.len()
    }

    /// Whether there is no series.
    #[cfg(any(test, feature = "testing"))]
    pub fn is_empty(&self) -> bool {
        self.measurement_of.is_empty()
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
            .filter(|&id| self.series(id).is_some_and(|s| matchers.iter().all(|x| x.matches(s.tag(&x.key)))))
            .collect()
    }

    /// Rebuilds an index from its parts (as a version 1 index block stores
    /// them; the caller has checked that the postings agree with the keys).
    pub fn from_parts(
        series: Vec<SeriesKey>,
        fields: Vec<String>,
        measurements: BTreeMap<String, MeasurementIndex>,
    ) -> Self {
        let mut index = Self::default();
        for key in &series {
            index.register(&key.measurement, key.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        index.field_ids = fields.iter().enumerate().map(|(id, f)| (f.clone(), id as FieldId)).collect();
        index.fields = fields;
        index.measurements = measurements;
        index
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
