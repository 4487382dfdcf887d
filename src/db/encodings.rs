//! Which codecs the chunks of the database file use: a read-only census
//! for `chronicle inspect` and anyone tuning the encoding choice.
//!
//! It reads every chunk's header (the file's blocks are planned under the
//! read lock, then read without it, as scans do); the head, not yet
//! encoded, is not counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Db;
use crate::encoding::{Chunk, EncodingId};
use crate::error::{Error, Result};

/// How much of the file one codec encodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodingCount {
    /// Columns encoded with it: one time column per chunk, one value column
    /// per field of a chunk.
    pub columns: u64,
    /// Values in those columns.
    pub values: u64,
}

/// The codecs of every chunk in the file, each with its count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodingUsage {
    /// Timestamp codecs, by id.
    pub time: Vec<(EncodingId, EncodingCount)>,
    /// Value codecs, by id.
    pub values: Vec<(EncodingId, EncodingCount)>,
}

impl Db {
    /// Counts the codecs of every chunk in the file. Reads every chunk;
    /// damage is an [`Error::Corrupt`] naming its offset.
    pub fn encoding_usage(&self) -> Result<EncodingUsage> {
        let (reader, blocks) = {
            let st = self.read()?;
            (st.reader.clone(), st.blocks.values().flatten().map(Arc::clone).collect::<Vec<_>>())
        };
        let mut time: BTreeMap<u8, (EncodingId, EncodingCount)> = BTreeMap::new();
        let mut values: BTreeMap<u8, (EncodingId, EncodingCount)> = BTreeMap::new();
        let add = |map: &mut BTreeMap<u8, (EncodingId, EncodingCount)>, id: EncodingId, n: usize| {
            let (_, count) = map.entry(id as u8).or_insert((id, EncodingCount::default()));
            count.columns += 1;
            count.values += n as u64;
        };
        for entry in blocks.iter().flat_map(|b| &b.entries) {
            let bytes = reader.read(entry.offset, entry.len as usize)?;
            let corrupt = |e| Error::corrupt_at(reader.path(), entry.offset, e);
            let chunk = Chunk::parse(&bytes).map_err(corrupt)?;
            add(&mut time, chunk.time_encoding(), chunk.count());
            for column in 0..chunk.column_count() {
                add(&mut values, chunk.value_encoding(column).map_err(corrupt)?, chunk.count());
            }
        }
        Ok(EncodingUsage { time: time.into_values().collect(), values: values.into_values().collect() })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use crate::{Config, Point};

    #[test]
    fn counts_every_column_of_every_chunk() {
        let dir = std::env::temp_dir().join(format!("chronicle-db-encodings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::open(dir.join("db"), Config::default()).unwrap();
        assert_eq!(db.encoding_usage().unwrap(), EncodingUsage::default(), "an empty file has no chunks");
        // Regular timestamps; one constant series and one varying one.
        let points: Vec<Point> = (0..100i64)
            .flat_map(|i| {
                [
                    Point::new("m", 1.0, i * 1_000_000_000).with_tag("s", "flat"),
                    Point::new("m", (i as f64).sin(), i * 1_000_000_000).with_tag("s", "wavy"),
                ]
            })
            .collect();
        db.write(&points).unwrap();
        assert_eq!(db.encoding_usage().unwrap(), EncodingUsage::default(), "the head is not counted");
        db.flush().unwrap();
        let usage = db.encoding_usage().unwrap();
        let columns = |list: &[(EncodingId, EncodingCount)]| list.iter().map(|(_, c)| c.columns).sum::<u64>();
        let values = |list: &[(EncodingId, EncodingCount)]| list.iter().map(|(_, c)| c.values).sum::<u64>();
        assert_eq!((columns(&usage.time), values(&usage.time)), (2, 200));
        assert_eq!((columns(&usage.values), values(&usage.values)), (2, 200));
        assert!(usage.values.iter().any(|(id, _)| *id == EncodingId::Constant), "{usage:?}");
        assert!(
            usage.time.iter().all(|(id, _)| *id == EncodingId::DeltaOfDelta || *id == EncodingId::PackedTime),
            "{usage:?}"
        );
        db.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
