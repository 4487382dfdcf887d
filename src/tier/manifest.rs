//! The tiering manifest: which (measurement, partition) has a verified
//! Parquet file in the cold tier. Its own file, `PATH.tier`, beside the
//! database file.
//!
//! ```text
//! file    := frame (crate::framed_file) with magic "CHRNTIER", version 1
//! payload := varint n | n x entry                       (sorted by measurement, then partition)
//! entry   := str measurement | varint zz(partition start) | str url
//!            | varint size | crc u32 LE (CRC-32 of the object's bytes) | varint rows
//! str     := varint length | UTF-8
//! ```
//!
//! Saved whole by write-temp (`PATH.tier.tmp`) + fsync + rename + fsync of
//! the directory, so a crash leaves the old manifest or the new one, never
//! a mix. A missing file is an empty manifest; a damaged one is an error
//! naming the file and offset (the tier's files are never guessed at).

use std::collections::BTreeMap;
use std::path::Path;

use crate::encoding::varint::{ByteReader, put_str, put_varint, zigzag};
use crate::error::Result;
use crate::framed_file::{FramedFile, PAYLOAD_AT};
use crate::fs::Fs;

const FILE: FramedFile = FramedFile { magic: b"CHRNTIER", version: 1, name: "tiering manifest" };

/// One tiered (measurement, partition): a Parquet file whose upload was
/// verified before it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TieredFile {
    /// The measurement.
    pub measurement: String,
    /// First nanosecond of the partition.
    pub partition_start: i64,
    /// Where the file is.
    pub url: String,
    /// Its size in bytes.
    pub size: u64,
    /// CRC-32 (IEEE) of its bytes.
    pub crc32: u32,
    /// Rows (series x timestamps) it holds.
    pub rows: u64,
}

/// Every tiered file, by (measurement, partition start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub files: BTreeMap<(String, i64), TieredFile>,
}

impl Manifest {
    /// The manifest at `path`: empty if there is none.
    pub(crate) fn load(fs: &dyn Fs, path: &Path) -> Result<Self> {
        Ok(FILE.load(fs, path, Self::decode)?.unwrap_or_default())
    }

    /// Replaces the manifest at `path` with this one, atomically and durably.
    pub(crate) fn save(&self, fs: &dyn Fs, path: &Path) -> Result<()> {
        FILE.save(fs, path, &self.payload())
    }

    fn payload(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        put_varint(&mut payload, self.files.len() as u64);
        for f in self.files.values() {
            put_str(&mut payload, &f.measurement);
            put_varint(&mut payload, zigzag(f.partition_start));
            put_str(&mut payload, &f.url);
            put_varint(&mut payload, f.size);
            payload.extend_from_slice(&f.crc32.to_le_bytes());
            put_varint(&mut payload, f.rows);
        }
        payload
    }

    /// Decodes a manifest file; an error is (offset, what is wrong).
    fn decode(bytes: &[u8]) -> Result<Self, (usize, String)> {
        let payload = FILE.payload(bytes)?;
        let corrupt = |e: crate::encoding::Error| (PAYLOAD_AT, e.to_string());
        let mut r = ByteReader::new(payload, PAYLOAD_AT);
        let n = r.varint_len(payload.len(), "manifest entry count").map_err(corrupt)?;
        let mut files = BTreeMap::new();
        for _ in 0..n {
            let at = r.offset();
            let measurement = r.string("measurement").map_err(corrupt)?;
            let partition_start = r.varint_i64("partition start").map_err(corrupt)?;
            let url = r.string("url").map_err(corrupt)?;
            let size = r.varint("size").map_err(corrupt)?;
            let crc = r.take(4, "file checksum").map_err(corrupt)?;
            let crc32 = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
            let rows = r.varint("rows").map_err(corrupt)?;
            let file = TieredFile { measurement, partition_start, url, size, crc32, rows };
            let key = (file.measurement.clone(), partition_start);
            if files.insert(key, file).is_some() {
                return Err((at, "a (measurement, partition) listed twice".into()));
            }
        }
        if !r.remaining().is_empty() {
            return Err((r.offset(), "trailing bytes after the last entry".into()));
        }
        Ok(Self { files })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use crate::fs::OsFs;

    fn manifest() -> Manifest {
        let mut m = Manifest::default();
        for (measurement, start) in [("cpu", -3_600_000_000_000i64), ("cpu", 0), ("disk.io", 7_200_000_000_000)] {
            let file = TieredFile {
                measurement: measurement.into(),
                partition_start: start,
                url: format!("s3://b/{measurement}/{start}-0000abcd.parquet"),
                size: 12_345,
                crc32: 0xdead_beef,
                rows: 360,
            };
            m.files.insert((measurement.into(), start), file);
        }
        m
    }

    #[test]
    fn a_saved_manifest_loads_back_and_replaces_the_old_one_whole() {
        let fs = OsFs;
        let dir = std::env::temp_dir().join(format!("chronicle-tier-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = &dir.join("metrics.tier");
        let _ = std::fs::remove_file(path);
        assert_eq!(Manifest::load(&fs, path).unwrap(), Manifest::default(), "missing = empty");
        Manifest::default().save(&fs, path).unwrap();
        let full = manifest();
        full.save(&fs, path).unwrap();
        assert_eq!(Manifest::load(&fs, path).unwrap(), full);
        assert!(fs.read(&crate::fs::temp_path(path)).is_err(), "the temporary file was renamed away");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_damaged_byte_is_reported_with_its_offset() {
        let bytes = FILE.frame(&manifest().payload());
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            let (offset, detail) = Manifest::decode(&damaged).unwrap_err();
            assert!(offset <= i.max(PAYLOAD_AT), "byte {i}: reported at {offset} ({detail})");
        }
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err(), "cut at {cut} is refused");
        }
    }
}
