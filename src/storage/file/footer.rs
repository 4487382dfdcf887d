//! The footer: the last block of a cleanly written file, pointing at the index.
//!
//! ```text
//! footer  := block header (type 3, len 24, crc) | payload
//! payload := index offset u64 LE | index block length u64 LE | magic "CHRNFOOT"
//! ```
//! Fixed size ([`FOOTER_LEN`] bytes), so open reads it from the end of the
//! file; the trailing magic lets recovery find older footers scanning backward.

use super::block::{self, BLOCK_HEADER_LEN, BlockHeader, BlockType};

/// Trailing magic of every footer.
pub const MAGIC: [u8; 8] = *b"CHRNFOOT";
/// Bytes of a footer payload.
pub const PAYLOAD_LEN: usize = 24;
/// Bytes of a whole footer block.
pub const FOOTER_LEN: usize = BLOCK_HEADER_LEN + PAYLOAD_LEN;

/// Where the index block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Offset of the index block.
    pub index_offset: u64,
    /// Length of the whole index block (header included).
    pub index_len: u64,
}

impl Footer {
    /// The footer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        let start = block::begin(&mut out, BlockType::Footer);
        out.extend_from_slice(&self.index_offset.to_le_bytes());
        out.extend_from_slice(&self.index_len.to_le_bytes());
        out.extend_from_slice(&MAGIC);
        // 24 bytes always fit a block.
        let _ = block::finish(&mut out, start);
        out
    }

    /// Reads a footer; `None` unless type, length, magic and checksum all hold.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; FOOTER_LEN] = bytes.try_into().ok()?;
        let head = BlockHeader::parse(bytes[..BLOCK_HEADER_LEN].try_into().ok()?);
        let payload = &bytes[BLOCK_HEADER_LEN..];
        let ok = head.kind == BlockType::Footer as u8
            && head.len as usize == PAYLOAD_LEN
            && payload[16..] == MAGIC
            && head.verifies(payload);
        let word = |i: usize| payload[i..i + 8].try_into().ok().map(u64::from_le_bytes);
        ok.then(|| Some(Self { index_offset: word(0)?, index_len: word(8)? })).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footers_round_trip_and_reject_any_flip() {
        let f = Footer { index_offset: 12345, index_len: 678 };
        let bytes = f.encode();
        assert_eq!(bytes.len(), FOOTER_LEN);
        assert_eq!(Footer::parse(&bytes), Some(f));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(Footer::parse(&bad), None, "flip at {i}");
        }
    }
}
