//! The series block: the series and field names a flush adds to the
//! database, written in the same append as the flush's partition blocks.
//!
//! ```text
//! payload := version u8 (= 1) | varint first | varint first_field
//!            | strings | fields | series
//! strings := varint n | n x str        measurement names, tag keys and values of `series`
//! fields  := varint n | n x str        field names, ids first_field, first_field + 1, ...
//! series  := varint n | n x (varint measurement sid | varint t | t x (varint key sid | varint value sid))
//!                                      series ids first, first + 1, ...; tags sorted by key
//! str     := varint length | UTF-8 bytes
//! ```
//! Series and field ids are append-only, so a block is "the series with ids
//! in `[first, first + n)`": it can be cut from the index at any count taken
//! earlier. The index block lists the series blocks whose ranges chain from
//! 0 to every series; a later block may cover again a range an earlier one
//! covered (consolidation), and must then name the same series. Postings are
//! not stored: open rebuilds them from the series, so they cannot disagree.
//! Decoding trusts nothing: counts are bounded by the payload, string ids by
//! their table, tags are sorted by distinct keys, names follow the naming
//! rules, and a block applies only where its range meets the index.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::encoding::varint::{ByteReader, put_str, put_varint};
use crate::encoding::{Error, Result};
use crate::model::{SeriesKey, validate_field_name, validate_measurement, validate_tag};
use crate::storage::series_index::{FieldId, HashKeyed, InternedSeries, SeriesId, SeriesIndex, SeriesView, key_hash};

/// Series block layout version.
pub const SERIES_VERSION: u8 = 1;

/// Where one series block is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesBlockRef {
    /// Offset of the block.
    pub offset: u64,
    /// Length of the whole block.
    pub len: u64,
    /// Series it holds (ids from the end of the blocks before it).
    pub series: u64,
    /// Field names it holds (likewise).
    pub fields: u64,
}

/// Series and field counts that the blocks `refs` cover together.
pub fn covered(refs: &[SeriesBlockRef]) -> (u64, u64) {
    refs.iter().fold((0, 0), |(s, f), r| (s + r.series, f + r.fields))
}

/// Appends the payload of a series block holding series `series` and field
/// names `fields` of `index` to `out`.
pub fn encode(index: &SeriesIndex, series: Range<usize>, fields: Range<usize>, out: &mut Vec<u8>) {
    let mut ids: HashMap<&str, u64> = HashMap::new();
    let mut strings: Vec<&str> = Vec::new();
    let keys: Vec<SeriesView<'_>> = series.clone().filter_map(|id| index.series(id as SeriesId)).collect();
    let mut body = Vec::new();
    let mut intern = |s| {
        let next = strings.len() as u64;
        *ids.entry(s).or_insert_with(|| {
            strings.push(s);
            next
        })
    };
    put_varint(&mut body, keys.len() as u64);
    for key in &keys {
        put_varint(&mut body, intern(key.measurement()));
        put_varint(&mut body, key.tags().len() as u64);
        for (k, v) in key.tags() {
            put_varint(&mut body, intern(k));
            put_varint(&mut body, intern(v));
        }
    }
    out.push(SERIES_VERSION);
    put_varint(out, series.start as u64);
    put_varint(out, fields.start as u64);
    put_varint(out, strings.len() as u64);
    strings.iter().for_each(|s| put_str(out, s));
    let names = index.field_names().get(fields).unwrap_or_default();
    put_varint(out, names.len() as u64);
    names.iter().for_each(|f| put_str(out, f));
    out.extend_from_slice(&body);
}

/// A decoded series block, not yet applied: its series as ids into its
/// own string table, so reading a million series allocates no string per
/// series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesDelta {
    /// Id of the first series.
    pub first: u64,
    /// Id of the first field name.
    pub first_field: u64,
    /// Field names, by id from `first_field`.
    pub fields: Vec<String>,
    strings: Vec<String>,
    /// Measurement string of each series.
    measurements: Vec<u32>,
    /// Where each series' tags start in `tags` (one more than series).
    tag_starts: Vec<usize>,
    /// (key string, value string) of each series' tags.
    tags: Vec<(u32, u32)>,
}

/// Reads a series block payload (checksum already verified).
pub fn decode(payload: &[u8]) -> Result<SeriesDelta> {
    let mut r = ByteReader::new(payload, 0);
    let version = r.u8("series block version")?;
    if version != SERIES_VERSION {
        return Err(Error::corrupt("series block version", 0, format!("version {version} is not {SERIES_VERSION}")));
    }
    let first = r.varint("first series")?;
    let first_field = r.varint("first field")?;
    let limit = payload.len();
    let n = r.varint_len(limit, "string count")?;
    let strings = (0..n).map(|_| r.string("string")).collect::<Result<Vec<_>>>()?;
    let n = r.varint_len(limit, "field count")?;
    let fields = (0..n).map(|_| r.string("field name")).collect::<Result<Vec<_>>>()?;
    for f in &fields {
        validate_field_name(f).map_err(|e| Error::corrupt("field name", r.offset(), e.to_string()))?;
    }
    // Which strings are valid measurement names, tag keys and tag values,
    // each checked once.
    let valid = |check: &dyn Fn(&str) -> bool| strings.iter().map(|s| check(s)).collect::<Vec<bool>>();
    let as_measurement = valid(&|s| validate_measurement(s).is_ok());
    let as_key = valid(&|s| validate_tag(s, "v", true).is_ok());
    let as_value = valid(&|s| validate_tag("k", s, true).is_ok());
    let string = |r: &mut ByteReader<'_>, ok: &[bool], what: &'static str| -> Result<u32> {
        let at = r.offset();
        let v = r.varint(what)?;
        match usize::try_from(v).ok().and_then(|i| ok.get(i)) {
            Some(true) => Ok(v as u32),
            Some(false) => Err(Error::corrupt(what, at, format!("{:?} breaks the naming rules", strings[v as usize]))),
            None => Err(Error::corrupt(what, at, format!("string {v} out of range"))),
        }
    };
    let n = r.varint_len(limit, "series count")?;
    let mut delta = SeriesDelta {
        first,
        first_field,
        fields,
        strings: Vec::new(),
        measurements: Vec::with_capacity(n),
        tag_starts: Vec::with_capacity(n + 1),
        tags: Vec::new(),
    };
    delta.tag_starts.push(0);
    for _ in 0..n {
        let at = r.offset();
        delta.measurements.push(string(&mut r, &as_measurement, "measurement")?);
        let t = r.varint_len(limit, "tag count")?;
        let start = delta.tags.len();
        for _ in 0..t {
            let k = string(&mut r, &as_key, "tag key")?;
            let v = string(&mut r, &as_value, "tag value")?;
            if delta.tags[start..].last().is_some_and(|&(last, _)| strings[last as usize] >= strings[k as usize]) {
                return Err(Error::corrupt("series tags", at, "not sorted by distinct keys"));
            }
            delta.tags.push((k, v));
        }
        delta.tag_starts.push(delta.tags.len());
    }
    if !r.remaining().is_empty() {
        return Err(Error::corrupt("series block", r.offset(), "trailing bytes"));
    }
    delta.strings = strings;
    Ok(delta)
}

impl SeriesDelta {
    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.measurements.len()
    }

    /// Series `i` of the block as (measurement, tags).
    fn parts(&self, i: usize) -> (&str, impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_) {
        let tags = &self.tags[self.tag_starts[i]..self.tag_starts[i + 1]];
        let s = |id: u32| self.strings[id as usize].as_str();
        (s(self.measurements[i]), tags.iter().map(move |&(k, v)| (s(k), s(v))))
    }

    /// Its series keys, owned.
    #[cfg(test)]
    pub fn keys(&self) -> Vec<SeriesKey> {
        (0..self.series_count())
            .map(|i| {
                let (m, tags) = self.parts(i);
                SeriesKey { measurement: m.into(), tags: tags.map(|(k, v)| (k.into(), v.into())).collect() }
            })
            .collect()
    }

    /// Series `i`'s canonical key bytes, into `out` (cleared first).
    fn canonical(&self, i: usize, out: &mut Vec<u8>) {
        out.clear();
        let (m, tags) = self.parts(i);
        SeriesKey::encode_parts(m, tags, out);
    }

    /// Adds what `index` lacks of this block: its range must start within
    /// the index (at most at its end) and agree with what the index holds
    /// there, and its new series and fields must be distinct and unknown.
    /// All or nothing.
    pub fn apply(&self, index: &mut SeriesIndex) -> Result<()> {
        let (len, field_len) = (index.len() as u64, index.field_names().len() as u64);
        if self.first > len || self.first_field > field_len {
            let why = format!(
                "starts at series {} and field {}, the index has {len} and {field_len}",
                self.first, self.first_field
            );
            return Err(Error::corrupt("series block", 0, why));
        }
        let known_series = ((len - self.first) as usize).min(self.series_count());
        let known_fields = ((field_len - self.first_field) as usize).min(self.fields.len());
        let series_agree = (0..known_series).all(|i| {
            let (m, mut tags) = self.parts(i);
            index.series(self.first as SeriesId + i as SeriesId).is_some_and(|s| {
                s.measurement() == m && s.tags().len() == tags.len() && s.tags().all(|t| tags.next() == Some(t))
            })
        });
        let fields_agree = (self.fields[..known_fields].iter())
            .zip(self.first_field as FieldId..)
            .all(|(f, id)| index.field_name(id) == Some(f.as_str()));
        if !series_agree || !fields_agree {
            return Err(Error::corrupt("series block", 0, "names other series or fields than the index holds"));
        }
        let mut names = HashSet::new();
        let new_fields = &self.fields[known_fields..];
        if let Some(f) = new_fields.iter().find(|f| !names.insert(*f) || index.find_field(f).is_some()) {
            return Err(Error::corrupt("series block", 0, format!("field {f:?} appears twice")));
        }
        // New series must be new and distinct: hashes first, bytes compared
        // only when two hashes meet.
        let (mut canonical, mut other) = (Vec::new(), Vec::new());
        let new_series = known_series..self.series_count();
        let mut seen: HashKeyed<usize> = HashKeyed::default();
        seen.reserve(new_series.len());
        let mut hashes = Vec::with_capacity(new_series.len());
        for i in new_series.clone() {
            self.canonical(i, &mut canonical);
            let hash = key_hash(&canonical);
            let twice = index.lookup_hashed(hash, &canonical).is_some()
                || seen.insert(hash, i).is_some_and(|j| {
                    self.canonical(j, &mut other);
                    other == canonical
                });
            if twice {
                return Err(Error::corrupt("series block", 0, format!("series {i} of the block appears twice")));
            }
            hashes.push(hash);
        }
        new_fields.iter().for_each(|f| _ = index.field_id(f));
        index.extend_interned(InternedSeries {
            strings: &self.strings,
            measurements: self.measurements.get(new_series.clone()).unwrap_or_default(),
            tag_starts: self.tag_starts.get(new_series.start..=new_series.end).unwrap_or_default(),
            tags: &self.tags,
            hashes: &hashes,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: u32) -> SeriesKey {
        SeriesKey::new("cpu", vec![("host".into(), format!("h{host}")), ("dc".into(), "x".into())])
    }

    fn index(hosts: &[u32], fields: &[&str]) -> SeriesIndex {
        let mut index = SeriesIndex::default();
        hosts.iter().for_each(|&h| _ = index.insert(key(h)));
        fields.iter().for_each(|f| _ = index.field_id(f));
        index
    }

    #[test]
    fn a_block_round_trips_and_applies_only_where_it_meets_the_index() {
        let full = index(&[0, 1, 2, 3, 4], &["a", "b"]);
        let mut out = Vec::new();
        encode(&full, 2..5, 1..2, &mut out);
        let delta = decode(&out).expect("decodes");
        assert_eq!((delta.first, delta.first_field, &delta.fields[..]), (2, 1, &["b".to_string()][..]));
        assert_eq!(delta.keys(), full.keys()[2..]);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        let mut partial = index(&[0, 1], &["a"]);
        delta.apply(&mut partial).expect("applies at the end");
        assert_eq!((partial.keys(), partial.field_names()), (full.keys(), full.field_names()));
        delta.apply(&mut partial).expect("a range the index holds, agreeing, adds nothing");
        assert_eq!(partial.len(), 5);
        let mut short = index(&[0], &["a"]);
        assert!(delta.apply(&mut short).is_err(), "a gap before the range");
        assert_eq!(short.len(), 1, "nothing applied");
        let mut other = index(&[0, 1, 9], &["a"]);
        assert!(delta.apply(&mut other).is_err(), "series 2 is another series");
        let mut twice = index(&[0, 3], &["a"]);
        assert!(delta.apply(&mut twice).is_err(), "a key the index holds under another id");
        assert_eq!(twice.len(), 2);
    }

    #[test]
    fn applied_blocks_build_the_index_inserting_builds() {
        // Two measurements, tags shared and not, across two blocks.
        let keys: Vec<SeriesKey> = (0..40u32)
            .map(|i| {
                let m = if i % 3 == 0 { "mem" } else { "cpu" };
                let mut tags =
                    vec![("host".to_string(), format!("h{}", i % 7)), ("dc".to_string(), format!("d{}", i % 2))];
                if i % 5 == 0 {
                    tags.push(("rack".to_string(), format!("r{i}")));
                }
                SeriesKey::new(m, tags)
            })
            .collect();
        let mut full = SeriesIndex::default();
        let ids: Vec<SeriesId> = keys.iter().map(|k| full.insert(k.clone())).collect();
        assert!(full.len() > 25, "keys repeat, yet more than the first block holds");
        let mut applied = SeriesIndex::default();
        for range in [0..25, 25..full.len()] {
            let mut out = Vec::new();
            encode(&full, range, 0..0, &mut out);
            decode(&out).expect("decodes").apply(&mut applied).expect("applies");
        }
        assert_eq!(applied.keys(), full.keys());
        assert_eq!(applied.measurements(), full.measurements(), "series lists and postings");
        for (key, id) in keys.iter().zip(ids) {
            let mut canonical = Vec::new();
            key.encode(&mut canonical);
            assert_eq!(applied.lookup(&canonical), Some(id));
        }
    }
}
