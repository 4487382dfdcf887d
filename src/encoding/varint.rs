//! Byte-level primitives: zigzag mapping, LEB128 varints and a bounds-checked
//! cursor over a byte slice.
//!
//! Varints are unsigned LEB128 (7 bits per byte, low group first, high bit set on
//! every byte but the last). A `u64` takes at most 10 bytes; a longer run of
//! continuation bytes, or bits beyond 64, is reported as corrupt rather than
//! silently wrapped.

use super::error::{Error, Result};

/// Maps signed to unsigned so small magnitudes get small codes: 0, -1, 1, -2 ...
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Number of bytes [`put_varint`] writes for `v`.
#[inline]
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `s` as a varint length and its UTF-8 bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A forward cursor over bytes whose every read is bounds-checked and reports
/// the offset (relative to `base`) of what it could not read.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> ByteReader<'a> {
    /// A cursor at the start of `bytes`; `base` is added to offsets in errors so
    /// they point into the enclosing chunk.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Self { bytes, pos: 0, base }
    }

    /// Offset of the next unread byte, relative to the enclosing chunk.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or(Error::Truncated { what, offset: self.offset() })?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(Error::Truncated { what, offset: self.offset() })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a little-endian `u64`.
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads a length-prefixed UTF-8 string (see [`put_str`]).
    pub fn string(&mut self, what: &'static str) -> Result<String> {
        let at = self.offset();
        let len = self.varint_len(self.bytes.len(), what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::corrupt(what, at, "not UTF-8"))
    }

    /// Reads a LEB128 varint that must fit a `u64`.
    #[inline]
    pub fn varint(&mut self, what: &'static str) -> Result<u64> {
        let start = self.offset();
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let group = u64::from(b & 0x7f);
            if shift == 63 && group > 1 {
                return Err(Error::corrupt(what, start, "varint exceeds 64 bits"));
            }
            v |= group << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt(what, start, "varint longer than 10 bytes"))
    }

    /// Reads a zigzag LEB128 varint.
    pub fn varint_i64(&mut self, what: &'static str) -> Result<i64> {
        self.varint(what).map(unzigzag)
    }

    /// Reads a varint bounded by `max`, as a `usize`.
    pub fn varint_len(&mut self, max: usize, what: &'static str) -> Result<usize> {
        let start = self.offset();
        let v = self.varint(what)?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| Error::corrupt(what, start, format!("{v} exceeds the limit {max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn varints_round_trip_and_report_length() {
        let values = [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX];
        let mut buf = Vec::new();
        for &v in &values {
            let before = buf.len();
            put_varint(&mut buf, v);
            assert_eq!(buf.len() - before, varint_len(v), "length of {v}");
        }
        let mut r = ByteReader::new(&buf, 0);
        for &v in &values {
            assert_eq!(r.varint("test").ok(), Some(v));
        }
        assert!(matches!(r.u8("end"), Err(Error::Truncated { offset, .. }) if offset == buf.len()));
    }

    #[test]
    fn overlong_varints_are_corrupt() {
        let too_wide = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(ByteReader::new(&too_wide, 5).varint("v"), Err(Error::Corrupt { offset: 5, .. })));
        let endless = [0x80u8; 40];
        assert!(matches!(ByteReader::new(&endless, 0).varint("v"), Err(Error::Corrupt { .. })));
        assert!(matches!(ByteReader::new(&[0x80, 0x80], 0).varint("v"), Err(Error::Truncated { .. })));
    }
}
