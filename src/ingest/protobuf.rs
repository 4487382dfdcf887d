//! A reader of protobuf wire format that borrows: length-delimited fields
//! come back as slices of the input, so a message can be walked without
//! allocating (the remote-write hot path; `prost` decodes the rest).
//!
//! Every read is bounds-checked; a truncated or malformed input is
//! [`Error::Syntax`] saying what was wrong and at which byte.

use super::{Error, Result};

/// Wire types.
pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn fail(&self, what: &str) -> Error {
        Error::Syntax { format: "protobuf", message: format!("{what} at byte {}", self.pos) }
    }

    /// A base-128 varint.
    pub fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else { return Err(self.fail("truncated varint")) };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.fail("varint longer than 10 bytes"))
    }

    /// A field key: (field number, wire type).
    pub fn key(&mut self) -> Result<(u64, u8)> {
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.fail("field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    /// A length-delimited field's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let end = usize::try_from(len).ok().and_then(|l| self.pos.checked_add(l)).filter(|&e| e <= self.buf.len());
        let Some(end) = end else { return Err(self.fail("length past the end of the message")) };
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A length-delimited field as UTF-8 text.
    pub fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| Error::Syntax {
            format: "protobuf",
            message: format!("invalid UTF-8 in a string at byte {at}"),
        })
    }

    /// Eight little-endian bytes.
    pub fn fixed64(&mut self) -> Result<u64> {
        let Some(bytes) = self.buf.get(self.pos..self.pos + 8) else { return Err(self.fail("truncated fixed64")) };
        self.pos += 8;
        let mut le = [0u8; 8];
        le.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(le))
    }

    /// Skips a field of wire type `wire`.
    pub fn skip(&mut self, wire: u8) -> Result<()> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => match self.pos.checked_add(4).filter(|&e| e <= self.buf.len()) {
                Some(end) => {
                    self.pos = end;
                    Ok(())
                }
                None => Err(self.fail("truncated fixed32")),
            },
            other => Err(self.fail(&format!("unsupported wire type {other}"))),
        }
    }

    /// A field of the expected wire type, or an error naming the field.
    pub fn expect(&self, field: u64, wire: u8, expected: u8) -> Result<()> {
        if wire == expected { Ok(()) } else { Err(self.fail(&format!("field {field} has wire type {wire}"))) }
    }
}
