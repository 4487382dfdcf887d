//! The identity of a series and its canonical bytes.
//!
//! Canonical form (the bytes the WAL logs and the registry hashes):
//! ```text
//! varint len | measurement | varint tag count | (varint len | key | varint len | value)*
//! ```
//! with tags sorted by key, so one series has exactly one encoding.

use crate::encoding::varint::{ByteReader, put_str, put_varint};
use crate::encoding::{Error, Result};

/// A measurement and its tags, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The measurement name.
    pub measurement: String,
    /// Tags sorted by key, keys distinct.
    pub tags: Vec<(String, String)>,
}

impl SeriesKey {
    /// A key from tags in any order (they are sorted here).
    pub fn new(measurement: impl Into<String>, mut tags: Vec<(String, String)>) -> Self {
        tags.sort_unstable();
        Self { measurement: measurement.into(), tags }
    }

    /// The value of tag `key`, if the series has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| self.tags[i].1.as_str())
    }

    /// Appends the canonical bytes of `measurement` and `sorted_tags` to `out`.
    pub fn encode_parts<'a>(
        measurement: &str,
        sorted_tags: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        out: &mut Vec<u8>,
    ) {
        put_str(out, measurement);
        put_varint(out, sorted_tags.len() as u64);
        for (k, v) in sorted_tags {
            put_str(out, k);
            put_str(out, v);
        }
    }

    /// Appends the canonical bytes of this key to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        Self::encode_parts(&self.measurement, self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), out);
    }

    /// Reads canonical bytes; the tags must be sorted with distinct keys.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = ByteReader::new(bytes, 0);
        let measurement = r.string("measurement")?;
        let n = r.varint_len(bytes.len(), "tag count")?;
        let mut tags: Vec<(String, String)> = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.offset();
            let key = r.string("tag key")?;
            if tags.last().is_some_and(|(last, _)| *last >= key) {
                return Err(Error::corrupt("tag key", at, "tags are not sorted by distinct keys"));
            }
            tags.push((key, r.string("tag value")?));
        }
        if !r.remaining().is_empty() {
            return Err(Error::corrupt("series key", r.offset(), "trailing bytes"));
        }
        Ok(Self { measurement, tags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_round_trip_and_ignore_tag_order() {
        let a = SeriesKey::new("cpu", vec![("z".into(), "1".into()), ("a".into(), "é".into())]);
        let b = SeriesKey::new("cpu", vec![("a".into(), "é".into()), ("z".into(), "1".into())]);
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        a.encode(&mut ea);
        b.encode(&mut eb);
        assert_eq!(ea, eb);
        assert_eq!(SeriesKey::decode(&ea).expect("decodes"), a);
        assert_eq!(a.tag("a"), Some("é"));
        assert_eq!(a.tag("b"), None);
    }

    #[test]
    fn unsorted_or_truncated_bytes_are_refused() {
        let mut bytes = Vec::new();
        SeriesKey::encode_parts("m", [("b", "1"), ("a", "2")].into_iter(), &mut bytes);
        assert!(SeriesKey::decode(&bytes).is_err());
        let mut ok = Vec::new();
        SeriesKey::new("m", vec![("a".into(), "1".into())]).encode(&mut ok);
        for cut in 0..ok.len() {
            assert!(SeriesKey::decode(&ok[..cut]).is_err(), "cut at {cut}");
        }
    }
}
