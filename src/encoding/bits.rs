//! Bit-granular writing and reading, least significant bit first.
//!
//! Bits fill each byte from its lowest bit up, and bytes follow in order, so a
//! little-endian `u64` load at any byte gives the next bits in its low end. That
//! makes the reader's hot path one unaligned load and a shift, and lets unary
//! codes be read with one `trailing_zeros`.
//!
//! The reader never fails mid-stream: bits past the end read as zero and the
//! caller asks [`BitReader::check`] once at the end whether it overran. Every
//! decode loop is bounded by a count validated beforehand, so this cannot spin.

use super::error::{Error, Result};

/// Where encoders put bits: a real [`BitWriter`] or a [`BitCounter`] that only
/// measures, so candidate encodings can be sized without being written.
pub trait BitSink {
    /// Appends the low `n` bits of `bits` (`n <= 64`; higher bits must be zero).
    fn put(&mut self, bits: u64, n: u32);
}

/// Appends bits to a byte vector.
#[derive(Debug)]
#[must_use = "call finish() to flush the last partial word"]
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    filled: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer appending to `out` from its current end.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, acc: 0, filled: 0 }
    }

    /// Flushes the last partial byte(s); unused high bits of the last byte are zero.
    pub fn finish(self) {
        let bytes = self.filled.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

impl BitSink for BitWriter<'_> {
    #[inline]
    fn put(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 64 && (n == 64 || bits >> n == 0), "{bits:#x} does not fit {n} bits");
        if n == 0 {
            return;
        }
        self.acc |= bits << self.filled;
        let total = self.filled + n;
        if total >= 64 {
            self.out.extend_from_slice(&self.acc.to_le_bytes());
            let used = 64 - self.filled;
            self.acc = if used == 64 { 0 } else { bits >> used };
            self.filled = total - 64;
        } else {
            self.filled = total;
        }
    }
}

/// Counts bits instead of writing them.
#[derive(Debug, Default, Clone, Copy)]
pub struct BitCounter(pub u64);

impl BitSink for BitCounter {
    #[inline]
    fn put(&mut self, _bits: u64, n: u32) {
        self.0 += u64::from(n);
    }
}

/// Size in bytes of what `write` puts, measured without writing it.
pub fn sized(write: impl FnOnce(&mut BitCounter)) -> usize {
    let mut counter = BitCounter::default();
    write(&mut counter);
    counter.0.div_ceil(8) as usize
}

/// Appends what `write` puts to `out`, padding the last byte with zeros.
pub fn written(out: &mut Vec<u8>, write: impl FnOnce(&mut BitWriter<'_>)) {
    let mut w = BitWriter::new(out);
    write(&mut w);
    w.finish();
}

/// Refuses a Gorilla-style stream too short for `count` items: one raw 64-bit
/// item, then at least one bit for each other item.
pub fn check_stream_floor(payload: &[u8], count: usize, what: &'static str) -> Result<()> {
    if count > 0 && (count as u64 - 1).saturating_add(64) > payload.len() as u64 * 8 {
        return Err(Error::Truncated { what, offset: payload.len() });
    }
    Ok(())
}

/// Reads bits written by [`BitWriter`].
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Bits [`BitReader::peek`] guarantees to be valid.
pub const PEEK_BITS: u32 = 56;

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// The next bits, at least [`PEEK_BITS`] of them valid, without consuming them.
    /// Past the end of the data they read as zero.
    #[inline]
    pub fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let word = match self.data.get(byte..byte + 8) {
            Some(s) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                u64::from_le_bytes(a)
            }
            None => self.tail_word(byte),
        };
        word >> (self.pos & 7)
    }

    #[cold]
    fn tail_word(&self, byte: usize) -> u64 {
        let mut a = [0u8; 8];
        if let Some(rest) = self.data.get(byte..) {
            a[..rest.len()].copy_from_slice(rest);
        }
        u64::from_le_bytes(a)
    }

    /// Consumes `n` bits.
    #[inline]
    pub fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n <= 56` bits.
    #[inline]
    pub fn read(&mut self, n: u32) -> u64 {
        debug_assert!(n <= PEEK_BITS);
        let v = self.peek() & low_mask(n);
        self.pos += n as usize;
        v
    }

    /// Reads `n <= 64` bits.
    #[inline]
    pub fn read_long(&mut self, n: u32) -> u64 {
        if n <= PEEK_BITS {
            return self.read(n);
        }
        let low = self.read(32);
        low | (self.read(n - 32) << 32)
    }

    /// Byte offset of the read position, clamped to the data: where an error
    /// found at this point is reported.
    pub fn byte_offset(&self) -> usize {
        (self.pos / 8).min(self.data.len())
    }

    /// Bits left before the end of the data (0 once past it).
    pub fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Fails if more bits were consumed than the data holds.
    pub fn check(&self, what: &'static str) -> Result<()> {
        if self.pos > self.data.len() * 8 {
            return Err(Error::Truncated { what, offset: self.data.len() });
        }
        Ok(())
    }
}

/// A mask of the low `n` bits, `n <= 64`.
#[inline]
pub fn low_mask(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_every_width() {
        let mut buf = Vec::new();
        let mut w = BitWriter::new(&mut buf);
        let mut count = BitCounter::default();
        for n in 0..=64u32 {
            let v = 0xA5A5_5A5A_F0F0_0F0Fu64 & low_mask(n);
            w.put(v, n);
            count.put(v, n);
        }
        w.finish();
        assert_eq!(buf.len() as u64, count.0.div_ceil(8));
        let mut r = BitReader::new(&buf);
        for n in 0..=64u32 {
            assert_eq!(r.read_long(n), 0xA5A5_5A5A_F0F0_0F0Fu64 & low_mask(n), "width {n}");
        }
        assert!(r.check("bits").is_ok());
        r.skip(8);
        assert!(r.check("bits").is_err(), "reading past the end must be reported");
    }

    #[test]
    fn unary_codes_read_with_trailing_zeros() {
        let mut buf = Vec::new();
        let mut w = BitWriter::new(&mut buf);
        w.put(1 << 5, 6); // five zeros then a one
        w.finish();
        let r = BitReader::new(&buf);
        assert_eq!(r.peek().trailing_zeros(), 5);
    }
}
