//! Small state files kept beside the database file and replaced whole: the
//! tiering manifest (`PATH.tier`) and the rollup progress (`PATH.rollup`).
//! Each is one checked frame around its payload:
//!
//! ```text
//! file := magic (8) | version u16 LE | len u32 LE | crc u32 LE | payload (len bytes)
//!         crc = CRC-32 (IEEE) of the payload
//! ```
//!
//! Saved by [`crate::fs::replace_durably`] (temp, fsync, rename, directory
//! fsync), so a crash leaves the old file or the new one. A missing file
//! reads as `None`; a damaged one is [`Error::Corrupt`] naming the file and
//! the offset of what is wrong (offsets count from the file's start, so a
//! payload decoder starts its reader at [`PAYLOAD_AT`]).

use std::path::Path;

use crate::error::{Error, Result};
use crate::fs::Fs;

/// Where the payload starts: after magic, version, length and CRC.
pub(crate) const PAYLOAD_AT: usize = 8 + 2 + 4 + 4;

/// One kind of framed file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FramedFile {
    /// The first eight bytes.
    pub magic: &'static [u8; 8],
    /// The payload format this build writes and reads.
    pub version: u16,
    /// What the file is, for messages ("tiering manifest").
    pub name: &'static str,
}

impl FramedFile {
    /// The file at `path`, whole bytes handed to `decode` (which checks the
    /// frame with [`FramedFile::payload`]); `None` if there is no file.
    pub fn load<T>(
        &self,
        fs: &dyn Fs,
        path: &Path,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, (usize, String)>,
    ) -> Result<Option<T>> {
        let bytes = match fs.read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", path)(e)),
        };
        decode(&bytes).map(Some).map_err(|(offset, detail)| Error::Corrupt {
            path: path.to_path_buf(),
            offset: offset as u64,
            detail,
        })
    }

    /// Replaces the file at `path` with `payload` framed.
    pub fn save(&self, fs: &dyn Fs, path: &Path, payload: &[u8]) -> Result<()> {
        crate::fs::replace_durably(fs, path, &self.frame(payload))
    }

    /// `payload` in its frame.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_AT + payload.len());
        out.extend_from_slice(self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// The payload of `bytes` once magic, version, length and CRC check; an
    /// error is (offset, what is wrong).
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> std::result::Result<&'a [u8], (usize, String)> {
        let header = bytes.get(..PAYLOAD_AT).ok_or((0, format!("{} bytes, shorter than the header", bytes.len())))?;
        if &header[..8] != self.magic {
            return Err((0, format!("not a {} (bad magic)", self.name)));
        }
        let le32 = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != self.version {
            return Err((8, format!("{} version {version}; this build reads {}", self.name, self.version)));
        }
        let payload = &bytes[PAYLOAD_AT..];
        if payload.len() != le32(10) as usize {
            return Err((10, format!("payload of {} bytes, the header says {}", payload.len(), le32(10))));
        }
        if crc32fast::hash(payload) != le32(14) {
            return Err((14, "checksum mismatch".into()));
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: FramedFile = FramedFile { magic: b"CHRNTEST", version: 3, name: "test file" };

    #[test]
    fn a_frame_gives_its_payload_back_and_every_damage_is_placed() {
        let bytes = TEST.frame(b"payload");
        assert_eq!(TEST.payload(&bytes), Ok(&b"payload"[..]));
        let damage = |at: usize| {
            let mut b = bytes.clone();
            b[at] ^= 1;
            TEST.payload(&b).map(|_| ()).map_err(|(offset, _)| offset)
        };
        assert_eq!(damage(0), Err(0), "magic");
        assert_eq!(damage(8), Err(8), "version");
        assert_eq!(damage(10), Err(10), "length");
        assert_eq!(damage(14), Err(14), "crc");
        assert_eq!(damage(PAYLOAD_AT + 2), Err(14), "payload: the crc catches it");
        assert_eq!(TEST.payload(&bytes[..5]).map(|_| ()).map_err(|(o, _)| o), Err(0));
        let other = FramedFile { version: 4, ..TEST };
        assert!(other.payload(&bytes).unwrap_err().1.contains("test file version 3; this build reads 4"));
    }
}
