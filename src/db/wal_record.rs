//! The WAL record of one write batch: validated rows, series keys once each.
//!
//! ```text
//! record := version u8 (= 1)
//!           | varint k | k x (varint len | canonical series key)   (model::SeriesKey)
//!           | varint f | f x (varint len | field name)
//!           | varint n | n x row
//! row    := varint key index | time i64 LE | varint m | m x (varint field index | value f64 LE bits)
//! ```
//! Encoding validates every row first, so a record Chronicle wrote is always
//! valid; values keep their exact bit patterns (NaN payloads, -0.0). Applying
//! ([`apply`]) trusts nothing of a record (replay reads it from disk): it
//! checks every count, index and name first, then applies all of it.

use std::collections::HashMap;
use std::ops::Range;

use crate::encoding::varint::{ByteReader, put_str, put_varint};
use crate::encoding::{Error as CodecError, Result as CodecResult};
use crate::error::{Error, Result};
use crate::model::{
    BatchNames, InvalidInput, SeriesKey, WriteRow, validate_field_name, validate_measurement, validate_tag,
    validate_written_field,
};
use crate::storage::head::Head;
use crate::storage::series_index::{FieldId, HashKeyed, SeriesId, SeriesIndex, key_hash};

/// Record layout version.
pub const RECORD_VERSION: u8 = 1;

/// A batch as one record, with the names it gives each measurement.
#[derive(Debug)]
pub struct Encoded<'a> {
    /// The record.
    pub bytes: Vec<u8>,
    /// Its tag keys and fields per measurement, for the clash checks.
    pub names: BatchNames<'a>,
}

/// Validates `rows` (names, tags, fields, and names that would clash as SQL
/// columns within the batch) and encodes them as one record.
pub fn encode<R: WriteRow>(rows: &[R]) -> Result<Encoded<'_>> {
    let mut keys = BatchKeys::default();
    let mut names = BatchNames::default();
    let mut key_table = Vec::new();
    let mut fields: HashMap<&str, u64> = HashMap::new();
    let mut field_table = Vec::new();
    let mut body = Vec::with_capacity(rows.len() * 16);
    let mut canonical = Vec::new();
    let mut sorted: Vec<(&str, &str)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let invalid = |source| Error::InvalidRow { row: i, source };
        sorted.clear();
        sorted.extend(row.tags());
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(invalid(InvalidInput::DuplicateTag(w[0].0.to_owned())));
        }
        canonical.clear();
        let tags = sorted.iter().copied();
        SeriesKey::encode_parts(row.measurement(), tags, &mut canonical);
        let hash = key_hash(&canonical);
        let (key_index, measurement) = match keys.find(hash, &canonical, &key_table) {
            Some(k) => k,
            None => {
                validate_measurement(row.measurement()).map_err(invalid)?;
                let measurement = names.measurement(row.measurement());
                for (k, v) in &sorted {
                    validate_tag(k, v, false).map_err(invalid)?;
                    names.tag_key(measurement, k, i)?;
                }
                put_varint(&mut key_table, canonical.len() as u64);
                let start = key_table.len();
                key_table.extend_from_slice(&canonical);
                keys.add(hash, start..key_table.len(), measurement)
            }
        };
        let m = row.field_count();
        if m == 0 {
            return Err(invalid(InvalidInput::NoFields));
        }
        put_varint(&mut body, key_index);
        body.extend_from_slice(&row.timestamp().to_le_bytes());
        put_varint(&mut body, m as u64);
        for j in 0..m {
            let (name, value) = row.field(j);
            if (0..j).any(|x| row.field(x).0 == name) {
                return Err(invalid(InvalidInput::DuplicateField(name.to_string())));
            }
            let field_index = match fields.get(name) {
                Some(&f) => f,
                None => {
                    validate_written_field(name).map_err(invalid)?;
                    put_str(&mut field_table, name);
                    let f = fields.len() as u64;
                    fields.insert(name, f);
                    f
                }
            };
            names.field(measurement, field_index as usize, name, i)?;
            put_varint(&mut body, field_index);
            body.extend_from_slice(&value.to_bits().to_le_bytes());
        }
    }
    names.check()?;
    let mut out = Vec::with_capacity(16 + key_table.len() + field_table.len() + body.len());
    out.push(RECORD_VERSION);
    put_varint(&mut out, keys.spans.len() as u64);
    out.extend_from_slice(&key_table);
    put_varint(&mut out, fields.len() as u64);
    out.extend_from_slice(&field_table);
    put_varint(&mut out, rows.len() as u64);
    out.extend_from_slice(&body);
    Ok(Encoded { bytes: out, names })
}

/// The distinct series keys of a batch being encoded, found by their
/// [`key_hash`]: each canonical key is hashed once and kept only in the
/// record's key table, which a hit is compared against.
#[derive(Default)]
struct BatchKeys {
    /// Key index of the first key with each hash.
    by_hash: HashKeyed<u64>,
    /// Per key index: its bytes in the key table, its batch-local
    /// measurement id, and the next key index with the same hash.
    spans: Vec<(Range<usize>, usize, Option<u64>)>,
}

impl BatchKeys {
    /// The key index and measurement id of `canonical`, if the batch has it.
    fn find(&self, hash: u64, canonical: &[u8], table: &[u8]) -> Option<(u64, usize)> {
        let mut at = self.by_hash.get(&hash).copied();
        while let Some(k) = at {
            let (span, measurement, next) = &self.spans[k as usize];
            if table.get(span.clone()) == Some(canonical) {
                return Some((k, *measurement));
            }
            at = *next;
        }
        None
    }

    /// Adds a key not in the batch yet, held at `span` of the key table;
    /// returns its key index and measurement id.
    fn add(&mut self, hash: u64, span: Range<usize>, measurement: usize) -> (u64, usize) {
        let k = self.spans.len() as u64;
        let next = self.by_hash.insert(hash, k);
        self.spans.push((span, measurement, next));
        (k, measurement)
    }
}

/// A parsed record; rows are read by [`Record::for_each_row`].
#[derive(Debug)]
pub struct Record<'a> {
    /// Canonical series keys.
    pub keys: Vec<&'a [u8]>,
    /// Field names.
    pub fields: Vec<String>,
    rows: usize,
    body: ByteReader<'a>,
}

impl<'a> Record<'a> {
    /// Reads the tables of a record.
    pub fn parse(payload: &'a [u8]) -> CodecResult<Self> {
        let mut r = ByteReader::new(payload, 0);
        let version = r.u8("record version")?;
        if version != RECORD_VERSION {
            return Err(CodecError::corrupt("record version", 0, format!("unknown version {version}")));
        }
        let k = r.varint_len(payload.len(), "key count")?;
        let keys = (0..k)
            .map(|_| {
                let len = r.varint_len(payload.len(), "key length")?;
                r.take(len, "series key")
            })
            .collect::<CodecResult<Vec<_>>>()?;
        let f = r.varint_len(payload.len(), "field count")?;
        let fields = (0..f).map(|_| r.string("field name")).collect::<CodecResult<Vec<_>>>()?;
        let at = r.offset();
        let rows = r.varint_len(payload.len(), "row count")?;
        if rows > 0 && keys.is_empty() {
            return Err(CodecError::corrupt("row count", at, "rows without a key table"));
        }
        let body = ByteReader::new(r.remaining(), r.offset());
        Ok(Self { keys, fields, rows, body })
    }

    /// Calls `f(key index, time, fields)` for every row, fields as (field
    /// index, value), every index in range; stops at the first malformed row:
    /// an index out of range, no field, a field twice, or trailing bytes.
    pub fn for_each_row(&self, mut f: impl FnMut(usize, i64, &[(usize, f64)])) -> CodecResult<()> {
        let mut r = self.body.clone();
        let mut values = Vec::new();
        // The last row that named each field, to find a field named twice.
        let mut named_in = vec![usize::MAX; self.fields.len()];
        for row in 0..self.rows {
            let at = r.offset();
            let key = r.varint_len(self.keys.len().saturating_sub(1), "row key")?;
            let time = r.u64_le("row time")? as i64;
            let m = r.varint_len(self.fields.len(), "row field count")?;
            if m == 0 {
                return Err(CodecError::corrupt("row", at, "a row without fields"));
            }
            values.clear();
            for _ in 0..m {
                let field_at = r.offset();
                let field = r.varint_len(self.fields.len().saturating_sub(1), "row field")?;
                match named_in.get_mut(field) {
                    Some(last) if *last != row => *last = row,
                    _ => {
                        return Err(CodecError::corrupt(
                            "row field",
                            field_at,
                            format!("field {field} twice in a row"),
                        ));
                    }
                }
                values.push((field, f64::from_bits(r.u64_le("row value")?)));
            }
            f(key, time, &values);
        }
        if !r.remaining().is_empty() {
            return Err(CodecError::corrupt("record", r.offset(), "trailing bytes"));
        }
        Ok(())
    }
}

/// A series of a record: already in the index, or new (decoded and checked).
#[derive(Debug)]
enum Series {
    Known(SeriesId),
    New(SeriesKey),
}

/// Decodes a series key of a record and checks its names against the naming
/// rules (reserved tag keys allowed: Chronicle sets them itself).
fn decode_key(i: usize, bytes: &[u8]) -> CodecResult<SeriesKey> {
    let key = SeriesKey::decode(bytes)?;
    let valid = validate_measurement(&key.measurement)
        .and_then(|()| key.tags.iter().try_for_each(|(k, v)| validate_tag(k, v, true)));
    valid.map_err(|e| CodecError::corrupt("series key", 0, format!("key {i}: {e}")))?;
    Ok(key)
}

/// A record checked and decoded against an index, ready to apply: its
/// series resolved to ids where the index knew them, its rows unpacked.
/// Series ids never change, so it stays valid while the index grows: the
/// write path prepares a record under the read lock (writers prepare in
/// parallel) and applies it under the write lock, in LSN order.
#[derive(Debug)]
pub struct Prepared {
    series: Vec<Series>,
    fields: Vec<String>,
    /// (key index, time, end of its fields in `values`) per row.
    rows: Vec<(u32, i64, u32)>,
    /// (field index, value) of every row, back to back.
    values: Vec<(u32, f64)>,
}

/// Checks record `payload` against `index` and unpacks it. Every count,
/// index and name is checked before use, since a checksum that matches only
/// says the bytes are the ones written, not that they make sense.
pub fn prepare(payload: &[u8], index: &SeriesIndex) -> CodecResult<Prepared> {
    let record = Record::parse(payload)?;
    let mut rows = Vec::with_capacity(record.rows);
    let mut values = Vec::new();
    record.for_each_row(|key, time, fields| {
        values.extend(fields.iter().map(|&(f, v)| (f as u32, v)));
        rows.push((key as u32, time, values.len() as u32));
    })?;
    let series = (record.keys.iter().enumerate())
        .map(|(i, key)| match index.lookup(key) {
            Some(id) => Ok(Series::Known(id)),
            None => decode_key(i, key).map(Series::New),
        })
        .collect::<CodecResult<Vec<_>>>()?;
    for name in record.fields.iter().filter(|name| index.find_field(name).is_none()) {
        validate_field_name(name).map_err(|e| CodecError::corrupt("field name", 0, e.to_string()))?;
    }
    Ok(Prepared { series, fields: record.fields, rows, values })
}

impl Prepared {
    /// Applies the record, logged as WAL record `lsn`, to `index` and `head`
    /// (partitions of `partition_ns` nanoseconds); `index` is the one it was
    /// prepared against, or a later state of it. Cannot fail: every check
    /// ran in [`prepare`]. Returns the newest timestamp of the record.
    pub fn apply(self, lsn: u64, partition_ns: i64, index: &mut SeriesIndex, head: &mut Head) -> Option<i64> {
        let series: Vec<SeriesId> = (self.series.into_iter())
            .map(|slot| match slot {
                Series::Known(id) => id,
                Series::New(key) => index.insert(key),
            })
            .collect();
        let fields: Vec<FieldId> = self.fields.iter().map(|f| index.field_id(f)).collect();
        let mut new_fields: Vec<(SeriesId, FieldId)> = Vec::new();
        let mut row = Vec::new();
        let mut newest: Option<i64> = None;
        let mut start = 0;
        for (key, time, end) in self.rows {
            row.clear();
            let values = self.values.get(start..end as usize).unwrap_or_default();
            row.extend(values.iter().map(|&(f, v)| (fields[f as usize], v)));
            start = end as usize;
            let id = series[key as usize];
            head.push_row(time.div_euclid(partition_ns), lsn, id, time, &row, |f| new_fields.push((id, f)));
            newest = Some(newest.map_or(time, |n| n.max(time)));
        }
        for (id, f) in new_fields {
            if let Some(m) = index.series(id).map(|s| s.measurement().to_string()) {
                index.add_field(&m, f);
            }
        }
        newest
    }
}

/// Applies record `lsn` to `index` and `head` (partitions of `partition_ns`
/// nanoseconds): all of it, or nothing if any part is malformed
/// ([`prepare`], then [`Prepared::apply`]). Returns the newest timestamp of
/// the record.
pub fn apply(
    payload: &[u8],
    lsn: u64,
    partition_ns: i64,
    index: &mut SeriesIndex,
    head: &mut Head,
) -> CodecResult<Option<i64>> {
    Ok(prepare(payload, index)?.apply(lsn, partition_ns, index, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Point, Row};

    #[test]
    fn records_round_trip_bit_exact() {
        let nan = f64::from_bits(0x7ff8_dead_beef_0001);
        let rows = vec![
            Row::new("cpu", i64::MIN).with_tag("host", "a").with_field("x", nan).with_field("y", -0.0),
            Row::new("cpu", i64::MAX).with_tag("host", "a").with_field("y", f64::INFINITY),
        ];
        let bytes = encode(&rows).expect("valid").bytes;
        let rec = Record::parse(&bytes).expect("parses");
        assert_eq!(rec.keys.len(), 1, "a key is logged once per record");
        assert_eq!(rec.fields, vec!["x", "y"]);
        let mut seen = Vec::new();
        rec.for_each_row(|k, t, f| seen.push((k, t, f.iter().map(|(i, v)| (*i, v.to_bits())).collect::<Vec<_>>())))
            .expect("rows");
        assert_eq!(seen[0], (0, i64::MIN, vec![(0, nan.to_bits()), (1, (-0.0f64).to_bits())]));
        assert_eq!(seen[1], (0, i64::MAX, vec![(1, f64::INFINITY.to_bits())]));
        for cut in 0..bytes.len() {
            let whole = Record::parse(&bytes[..cut]).and_then(|r| r.for_each_row(|_, _, _| {}));
            assert!(whole.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn each_distinct_key_is_logged_once_and_rows_name_theirs() {
        let rows: Vec<Point> =
            (0..30).map(|i| Point::new("cpu", 1.0, i).with_tag("host", format!("h{}", i % 3))).collect();
        let bytes = encode(&rows).expect("valid").bytes;
        let rec = Record::parse(&bytes).expect("parses");
        assert_eq!(rec.keys.len(), 3);
        let mut seen = Vec::new();
        rec.for_each_row(|k, t, _| seen.push((k, t))).expect("rows");
        let wanted: Vec<(usize, i64)> = (0..30).map(|i| ((i % 3) as usize, i)).collect();
        assert_eq!(seen, wanted);
    }

    #[test]
    fn keys_sharing_a_hash_are_told_apart() {
        let table = b"aaabbb".to_vec();
        let mut keys = BatchKeys::default();
        assert_eq!(keys.add(7, 0..3, 0), (0, 0));
        assert_eq!(keys.add(7, 3..6, 1), (1, 1));
        assert_eq!(keys.find(7, b"aaa", &table), Some((0, 0)));
        assert_eq!(keys.find(7, b"bbb", &table), Some((1, 1)));
        assert_eq!(keys.find(7, b"ccc", &table), None);
        assert_eq!(keys.find(8, b"aaa", &table), None);
    }

    #[test]
    fn bad_rows_are_named() {
        let dup = vec![Point::new("m", 1.0, 0), Point::new("m", 1.0, 0).with_tag("a", "1").with_tag("a", "2")];
        assert!(matches!(encode(&dup), Err(Error::InvalidRow { row: 1, source: InvalidInput::DuplicateTag(_) })));
        let reserved = vec![Point::new("m", 1.0, 0).with_tag("__tenant__", "x")];
        assert!(matches!(encode(&reserved), Err(Error::InvalidRow { row: 0, source: InvalidInput::TagKey(..) })));
        let empty = vec![Row::new("m", 0)];
        assert!(matches!(encode(&empty), Err(Error::InvalidRow { row: 0, source: InvalidInput::NoFields })));
        let twice = vec![Row::new("m", 0).with_field("f", 1.0).with_field("f", 2.0)];
        assert!(matches!(encode(&twice), Err(Error::InvalidRow { source: InvalidInput::DuplicateField(_), .. })));
        assert!(encode(&[Point::new("bad name", 1.0, 0)]).is_err());
        assert!(encode(&[Row::new("m", 0).with_field("1f", 1.0)]).is_err());
    }

    /// A row built by hand: key index, time, (field index, value)*.
    type CraftedRow<'a> = (u64, i64, &'a [(u64, f64)]);

    /// A record built by hand: canonical keys, field names, then rows.
    fn craft(keys: &[Vec<u8>], fields: &[&str], rows: &[CraftedRow<'_>]) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        put_varint(&mut out, keys.len() as u64);
        for k in keys {
            put_varint(&mut out, k.len() as u64);
            out.extend_from_slice(k);
        }
        put_varint(&mut out, fields.len() as u64);
        fields.iter().for_each(|f| put_str(&mut out, f));
        put_varint(&mut out, rows.len() as u64);
        for (key, time, values) in rows {
            put_varint(&mut out, *key);
            out.extend_from_slice(&time.to_le_bytes());
            put_varint(&mut out, values.len() as u64);
            for (f, v) in *values {
                put_varint(&mut out, *f);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        out
    }

    fn key(measurement: &str, tags: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        SeriesKey::encode_parts(measurement, tags.iter().copied(), &mut out);
        out
    }

    #[test]
    fn crafted_records_are_refused_whole_and_change_nothing() {
        let cpu = key("cpu", &[("host", "a")]);
        let good: CraftedRow<'_> = (0, 5, &[(0, 1.0)]);
        let mut trailing = craft(std::slice::from_ref(&cpu), &["f"], &[good]);
        trailing.push(0);
        let cases = [
            ("rows without a key table", craft(&[], &["f"], &[good])),
            ("a row without fields", craft(std::slice::from_ref(&cpu), &["f"], &[good, (0, 6, &[])])),
            ("a key index out of range", craft(std::slice::from_ref(&cpu), &["f"], &[good, (1, 6, &[(0, 1.0)])])),
            ("a field index out of range", craft(std::slice::from_ref(&cpu), &["f"], &[good, (0, 6, &[(1, 1.0)])])),
            (
                "a field twice in a row",
                craft(std::slice::from_ref(&cpu), &["f", "g"], &[good, (0, 6, &[(0, 1.0), (0, 2.0)])]),
            ),
            ("a key that does not decode", craft(&[cpu.clone(), b"\x05cpu".to_vec()], &["f"], &[good])),
            ("a measurement breaking the rules", craft(&[cpu.clone(), key("bad name", &[])], &["f"], &[good])),
            ("a tag key breaking the rules", craft(&[cpu.clone(), key("cpu", &[("bad-key", "x")])], &["f"], &[good])),
            ("an empty tag value", craft(&[cpu.clone(), key("cpu", &[("host", "")])], &["f"], &[good])),
            ("a field name breaking the rules", craft(std::slice::from_ref(&cpu), &["f", "1f"], &[good])),
            ("trailing bytes", trailing),
        ];
        for (why, bytes) in cases {
            let (mut index, mut head) = (SeriesIndex::default(), Head::default());
            assert!(apply(&bytes, 1, 10, &mut index, &mut head).is_err(), "{why}");
            assert!(
                index.is_empty() && index.field_names().is_empty() && head.partitions().is_empty(),
                "{why}: nothing applied"
            );
        }
        let (mut index, mut head) = (SeriesIndex::default(), Head::default());
        let reserved = key("cpu", &[("__tenant__", "t")]);
        let bytes = craft(&[cpu, reserved], &["f", "g"], &[good, (1, -15, &[(1, 2.0), (0, 3.0)])]);
        assert_eq!(apply(&bytes, 1, 10, &mut index, &mut head).expect("applies"), Some(5));
        assert_eq!((index.len(), index.field_names().len()), (2, 2), "reserved tag keys are Chronicle's own");
        assert_eq!(head.partitions().keys().copied().collect::<Vec<_>>(), vec![-2, 0]);
    }
}
