//! The version 1 index block, written before series blocks existed: a whole
//! snapshot of the series index (with its postings) and the list of
//! partition blocks. Files written then are still read; new files get
//! version 2 (`index_block`). The encoder stays for tests and fuzzing, which
//! build old files with it.
//!
//! ```text
//! payload      := version u8 (= 1) | varint durable_lsn | varint partition_ns
//!                 | strings | fields | series | measurements | blocks
//! strings      := varint n | n x str        every measurement name, tag key and tag value
//! fields       := varint n | n x str        field names; field id = position
//! series       := varint n | n x (varint measurement sid | varint t | t x (varint key sid | varint value sid))
//!                                           series id = position; tags sorted by key
//! measurements := varint n | n x (varint name sid | ids (its series) | varint f | f x varint field id
//!                 | varint k | k x (varint key sid | varint v | v x (varint value sid | ids)))
//! blocks       := varint n | n x (varint zz(partition) | varint offset | varint length)
//! ids          := varint n | n x varint delta (ascending; the first from 0)
//! str          := varint length | UTF-8 bytes
//! ```
//! `durable_lsn`: every WAL record up to it is wholly in the blocks listed, so
//! replay skips it. A valid checksum only says the bytes are the ones
//! written, so decode trusts nothing: every count is bounded by the payload,
//! every id by its table, `durable_lsn` by the largest LSN; names follow the
//! naming rules; series keys are distinct; each series is listed under its
//! own measurement and nowhere else; every posting names a series with that
//! tag, and every tag of every series is posted; blocks lie after the file
//! header, in ascending order, without overlapping.

#[cfg(any(test, feature = "testing"))]
use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};

#[cfg(any(test, feature = "testing"))]
use super::index_block::BlockRef;
use super::index_block::{IndexSnapshot, read_blocks};
use crate::encoding::varint::ByteReader;
#[cfg(any(test, feature = "testing"))]
use crate::encoding::varint::{put_str, put_varint, zigzag};
use crate::encoding::{Error, Result};
use crate::model::{SeriesKey, validate_field_name, validate_measurement, validate_tag};
use crate::storage::series_index::{MeasurementIndex, SeriesId, SeriesIndex};

/// Layout version of these blocks.
pub const VERSION: u8 = 1;

#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct Strings<'a> {
    ids: HashMap<&'a str, u64>,
    list: Vec<&'a str>,
}

#[cfg(any(test, feature = "testing"))]
impl<'a> Strings<'a> {
    fn id(&mut self, s: &'a str) -> u64 {
        let next = self.list.len() as u64;
        *self.ids.entry(s).or_insert_with(|| {
            self.list.push(s);
            next
        })
    }
}

#[cfg(any(test, feature = "testing"))]
fn put_ids(out: &mut Vec<u8>, ids: &[SeriesId]) {
    put_varint(out, ids.len() as u64);
    let mut previous = 0;
    for &id in ids {
        put_varint(out, u64::from(id - previous));
        previous = id;
    }
}

/// Appends the payload of a version 1 index block to `out`.
#[cfg(any(test, feature = "testing"))]
pub fn encode(durable_lsn: u64, partition_ns: i64, index: &SeriesIndex, blocks: &[BlockRef], out: &mut Vec<u8>) {
    let mut strings = Strings::default();
    let mut body = Vec::new();
    put_varint(&mut body, index.field_names().len() as u64);
    index.field_names().iter().for_each(|f| put_str(&mut body, f));
    put_varint(&mut body, index.len() as u64);
    let keys = index.keys();
    for key in &keys {
        put_varint(&mut body, strings.id(&key.measurement));
        put_varint(&mut body, key.tags.len() as u64);
        for (k, v) in &key.tags {
            put_varint(&mut body, strings.id(k));
            put_varint(&mut body, strings.id(v));
        }
    }
    put_varint(&mut body, index.measurements().len() as u64);
    for (name, m) in index.measurements() {
        put_varint(&mut body, strings.id(name));
        put_ids(&mut body, &m.series);
        put_varint(&mut body, m.fields.len() as u64);
        m.fields.iter().for_each(|&f| put_varint(&mut body, u64::from(f)));
        put_varint(&mut body, m.postings.len() as u64);
        for (key, values) in &m.postings {
            put_varint(&mut body, strings.id(key));
            put_varint(&mut body, values.len() as u64);
            for (value, ids) in values {
                put_varint(&mut body, strings.id(value));
                put_ids(&mut body, ids);
            }
        }
    }
    put_varint(&mut body, blocks.len() as u64);
    for b in blocks {
        put_varint(&mut body, zigzag(b.partition));
        put_varint(&mut body, b.offset);
        put_varint(&mut body, b.len);
    }
    out.push(VERSION);
    put_varint(out, durable_lsn);
    put_varint(out, partition_ns as u64);
    put_varint(out, strings.list.len() as u64);
    strings.list.iter().for_each(|s| put_str(out, s));
    out.extend_from_slice(&body);
}

struct Reader<'a> {
    r: ByteReader<'a>,
    limit: usize,
}

impl Reader<'_> {
    fn count(&mut self, what: &'static str) -> Result<usize> {
        self.r.varint_len(self.limit, what)
    }

    /// An id below `bound`.
    fn id(&mut self, bound: usize, what: &'static str) -> Result<usize> {
        let at = self.r.offset();
        let v = self.r.varint(what)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v < bound)
            .ok_or_else(|| Error::corrupt(what, at, format!("{v} out of range")))
    }

    fn ids(&mut self, bound: usize) -> Result<Vec<SeriesId>> {
        let n = self.count("id count")?;
        let mut ids = Vec::with_capacity(n);
        let mut current = 0u64;
        for i in 0..n {
            let at = self.r.offset();
            let delta = self.r.varint("series id delta")?;
            current = current.saturating_add(delta);
            if (i > 0 && delta == 0) || current >= bound as u64 {
                return Err(Error::corrupt("series ids", at, "not ascending or out of range"));
            }
            ids.push(current as SeriesId);
        }
        Ok(ids)
    }
}

/// Reads the rest of a version 1 index payload, after its version,
/// `durable_lsn` and `partition_ns` (read by `index_block::decode`).
pub(super) fn decode_rest(r: ByteReader<'_>, durable_lsn: u64, partition_ns: i64) -> Result<IndexSnapshot> {
    let limit = r.remaining().len();
    let mut rd = Reader { r, limit };
    let n = rd.count("string count")?;
    let strings = (0..n).map(|_| rd.r.string("string")).collect::<Result<Vec<_>>>()?;
    let n = rd.count("field count")?;
    let fields = (0..n).map(|_| rd.r.string("field name")).collect::<Result<Vec<_>>>()?;
    let n_series = rd.count("series count")?;
    let mut series = Vec::with_capacity(n_series);
    for _ in 0..n_series {
        let at = rd.r.offset();
        let measurement = strings[rd.id(strings.len(), "measurement")?].clone();
        let t = rd.count("tag count")?;
        let mut tags: Vec<(String, String)> = Vec::with_capacity(t);
        for _ in 0..t {
            let k = strings[rd.id(strings.len(), "tag key")?].clone();
            let v = strings[rd.id(strings.len(), "tag value")?].clone();
            if tags.last().is_some_and(|(last, _)| *last >= k) {
                return Err(Error::corrupt("series tags", at, "not sorted by distinct keys"));
            }
            tags.push((k, v));
        }
        series.push(SeriesKey { measurement, tags });
    }
    let at = rd.r.offset();
    check_names(&series, &fields).map_err(|e| Error::corrupt("names", at, e.to_string()))?;
    let distinct: HashSet<&SeriesKey> = series.iter().collect();
    if distinct.len() != series.len() {
        return Err(Error::corrupt("series", at, "a series key appears twice"));
    }
    let n = rd.count("measurement count")?;
    let mut measurements = BTreeMap::new();
    for _ in 0..n {
        let name = strings[rd.id(strings.len(), "measurement")?].clone();
        let mut m = MeasurementIndex { series: rd.ids(n_series)?, ..MeasurementIndex::default() };
        let f = rd.count("field count")?;
        for _ in 0..f {
            m.fields.insert(rd.id(fields.len(), "field id")? as u32);
        }
        let k = rd.count("tag key count")?;
        for _ in 0..k {
            let key = strings[rd.id(strings.len(), "tag key")?].clone();
            let v = rd.count("tag value count")?;
            let mut values = BTreeMap::new();
            for _ in 0..v {
                let value = strings[rd.id(strings.len(), "tag value")?].clone();
                values.insert(value, rd.ids(n_series)?);
            }
            m.postings.insert(key, values);
        }
        measurements.insert(name, m);
    }
    check_postings(&series, &measurements).map_err(|why| Error::corrupt("measurements", at, why))?;
    let blocks = read_blocks(&mut rd.r)?;
    if !rd.r.remaining().is_empty() {
        return Err(Error::corrupt("index", rd.r.offset(), "trailing bytes"));
    }
    Ok(IndexSnapshot {
        durable_lsn,
        partition_ns,
        series: SeriesIndex::from_parts(series, fields, measurements),
        series_blocks: Vec::new(),
        blocks,
        tombstones: Vec::new(),
    })
}

/// Checks every name against the naming rules (reserved tag keys allowed:
/// Chronicle sets them itself).
fn check_names(series: &[SeriesKey], fields: &[String]) -> Result<(), crate::model::InvalidInput> {
    for key in series {
        validate_measurement(&key.measurement)?;
        key.tags.iter().try_for_each(|(k, v)| validate_tag(k, v, true))?;
    }
    fields.iter().try_for_each(|f| validate_field_name(f))
}

/// Checks that the measurements agree with the series keys: each series is
/// listed under its own measurement and nowhere else, each posting names
/// series that have that tag, and every tag of every series is posted.
fn check_postings(series: &[SeriesKey], measurements: &BTreeMap<String, MeasurementIndex>) -> Result<(), String> {
    let key = |id: SeriesId| series.get(id as usize);
    let (mut listed, mut posted) = (0, 0);
    for (name, m) in measurements {
        if let Some(&id) = m.series.iter().find(|&&id| key(id).is_none_or(|k| k.measurement != *name)) {
            return Err(format!("series {id} is listed under measurement {name:?}, not its own"));
        }
        listed += m.series.len();
        for (tag, values) in &m.postings {
            for (value, ids) in values {
                let has = |id: SeriesId| key(id).is_some_and(|k| k.measurement == *name && k.tag(tag) == Some(value));
                if let Some(id) = ids.iter().find(|&&id| !has(id)) {
                    return Err(format!("posting {name:?} {tag}={value:?} names series {id}, which lacks it"));
                }
                posted += ids.len();
            }
        }
    }
    // Lists hold distinct ids and postings distinct (tag, value) pairs, so
    // equal totals mean nothing is missing.
    if listed != series.len() {
        return Err(format!("{listed} series listed under measurements, {} exist", series.len()));
    }
    let tags: usize = series.iter().map(|k| k.tags.len()).sum();
    if posted != tags {
        return Err(format!("{posted} postings for {tags} tags"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::file::index_block::{Decoded, decode as decode_any};
    use crate::wal::segment::MAX_LSN;

    fn decode(payload: &[u8]) -> Result<IndexSnapshot> {
        match decode_any(payload)? {
            Decoded::Whole(snapshot) => Ok(*snapshot),
            Decoded::Manifest(_) => panic!("a version 1 payload decodes as version 2"),
        }
    }

    #[test]
    fn the_index_round_trips() {
        let mut index = SeriesIndex::default();
        let a = index.insert(SeriesKey::new("cpu", vec![("host".into(), "a".into()), ("dc".into(), "x".into())]));
        index.insert(SeriesKey::new("mem", vec![("host".into(), "a".into())]));
        let f = index.field_id("usage");
        index.add_field("cpu", f);
        let blocks = [BlockRef { partition: -3, offset: 10, len: 99 }];
        let mut out = Vec::new();
        encode(77, 3600, &index, &blocks, &mut out);
        let snap = decode(&out).expect("decodes");
        assert_eq!((snap.durable_lsn, snap.partition_ns, snap.blocks.as_slice()), (77, 3600, &blocks[..]));
        assert_eq!(snap.series.keys(), index.keys());
        assert_eq!(snap.series.measurements(), index.measurements());
        assert_eq!(snap.series.field_names(), index.field_names());
        assert_eq!(snap.series.select("cpu", &[]), vec![a]);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut]).is_err(), "cut at {cut}");
        }
    }

    fn key(measurement: &str, host: &str) -> SeriesKey {
        SeriesKey::new(measurement, vec![("host".into(), host.into())])
    }

    /// A measurement's name, series, and postings of tag `host` (value, ids).
    type Listing<'a> = (&'a str, &'a [SeriesId], &'a [(&'a str, &'a [SeriesId])]);

    /// An index from its parts, consistent or not.
    fn parts(keys: &[SeriesKey], measurements: &[Listing<'_>]) -> SeriesIndex {
        let measurements = measurements
            .iter()
            .map(|(name, series, hosts)| {
                let values = hosts.iter().map(|(v, ids)| (v.to_string(), ids.to_vec())).collect();
                let postings =
                    if hosts.is_empty() { BTreeMap::new() } else { BTreeMap::from([("host".into(), values)]) };
                (name.to_string(), MeasurementIndex { series: series.to_vec(), postings, ..Default::default() })
            })
            .collect();
        SeriesIndex::from_parts(keys.to_vec(), Vec::new(), measurements)
    }

    fn decoded(durable_lsn: u64, index: &SeriesIndex, blocks: &[BlockRef]) -> Result<IndexSnapshot> {
        let mut out = Vec::new();
        encode(durable_lsn, 10, index, blocks, &mut out);
        decode(&out)
    }

    #[test]
    fn indexes_that_disagree_with_themselves_are_refused() {
        let (a, b, mem) = (key("cpu", "a"), key("cpu", "b"), key("mem", "a"));
        let good = parts(&[a.clone(), b.clone()], &[("cpu", &[0, 1], &[("a", &[0]), ("b", &[1])])]);
        decoded(MAX_LSN, &good, &[]).expect("a consistent index decodes");
        let cases = [
            ("a key twice", parts(&[a.clone(), a.clone()], &[("cpu", &[0, 1], &[("a", &[0, 1])])])),
            (
                "a series under another measurement",
                parts(&[a.clone(), mem.clone()], &[("cpu", &[0, 1], &[("a", &[0, 1])])]),
            ),
            ("a series under no measurement", parts(&[a.clone(), mem], &[("cpu", &[0], &[("a", &[0])])])),
            (
                "a posting naming a series without the tag",
                parts(&[a.clone(), b.clone()], &[("cpu", &[0, 1], &[("a", &[0, 1])])]),
            ),
            ("a tag not posted", parts(&[a, b], &[("cpu", &[0, 1], &[("a", &[0])])])),
            ("an empty tag value", parts(&[key("cpu", "")], &[("cpu", &[0], &[("", &[0])])])),
            ("a measurement breaking the rules", parts(&[key("9cpu", "a")], &[("9cpu", &[0], &[("a", &[0])])])),
        ];
        for (why, index) in cases {
            assert!(decoded(1, &index, &[]).is_err(), "{why}");
        }
        assert!(decoded(MAX_LSN + 1, &good, &[]).is_err(), "an LSN beyond the largest");
        let block = |offset, len| BlockRef { partition: 0, offset, len };
        decoded(1, &good, &[block(10, 40), block(50, 1)]).expect("blocks back to back");
        for blocks in [[block(10, 41), block(50, 1)], [block(50, 1), block(10, 40)], [block(9, 1), block(10, 1)]] {
            assert!(decoded(1, &good, &blocks).is_err(), "{blocks:?}");
        }
        assert!(decoded(1, &good, &[block(u64::MAX - 1, 5)]).is_err(), "a block wrapping past the end");
    }
}
