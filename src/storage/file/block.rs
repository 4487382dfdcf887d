//! The file header and the framing every block shares.
//!
//! ```text
//! file   := header block*
//! header := magic "CHRONDB\0" (8) | version u16 LE (= 1)
//! block  := type u8 | len u32 LE | crc u32 LE | payload (len bytes)
//! ```
//! `crc` is CRC-32 (IEEE) of the type byte and the payload, so a block whose
//! type, length or payload is damaged fails its check. Block types are
//! [`BlockType`]; the layout of each payload is in its own module.

/// First bytes of every database file.
pub const MAGIC: [u8; 8] = *b"CHRONDB\0";
/// Layout version written by this build.
pub const VERSION: u16 = 1;
/// Bytes of the file header.
pub const HEADER_LEN: u64 = 10;
/// Bytes of a block header (type, len, crc).
pub const BLOCK_HEADER_LEN: usize = 9;

/// What a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    /// Chunks of one time partition and their directory (`partition_block`).
    Partition = 1,
    /// The lists of series blocks and partition blocks (`index_block`).
    Index = 2,
    /// Where the latest index block is (`footer`).
    Footer = 3,
    /// The series a flush adds (`series_block`).
    Series = 4,
}

impl BlockType {
    /// The type of a type byte, if known.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(BlockType::Partition),
            2 => Some(BlockType::Index),
            3 => Some(BlockType::Footer),
            4 => Some(BlockType::Series),
            _ => None,
        }
    }
}

/// The file header.
pub fn file_header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Starts a block in `out`: reserves its header and returns where it starts.
/// Append the payload, then call [`finish`].
pub fn begin(out: &mut Vec<u8>, kind: BlockType) -> usize {
    let start = out.len();
    out.push(kind as u8);
    out.extend_from_slice(&[0; BLOCK_HEADER_LEN - 1]);
    start
}

/// Fills in the header of the block begun at `start` (its payload runs to the
/// end of `out`). Fails if the payload exceeds 4 GiB (its length is a u32).
pub fn finish(out: &mut [u8], start: usize) -> Result<(), String> {
    let payload_len = out.len() - start - BLOCK_HEADER_LEN;
    let len = u32::try_from(payload_len).map_err(|_| format!("block of {payload_len} bytes exceeds 4 GiB"))?;
    let crc = checksum(out[start], &out[start + BLOCK_HEADER_LEN..]);
    out[start + 1..start + 5].copy_from_slice(&len.to_le_bytes());
    out[start + 5..start + 9].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The checksum of a block of type byte `kind` with `payload`.
pub fn checksum(kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// A parsed block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// The type byte as stored (maybe unknown).
    pub kind: u8,
    /// Payload length.
    pub len: u32,
    /// Stored checksum.
    pub crc: u32,
}

impl BlockHeader {
    /// Reads a header.
    pub fn parse(bytes: &[u8; BLOCK_HEADER_LEN]) -> Self {
        let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Self { kind: bytes[0], len: word(1), crc: word(5) }
    }

    /// Bytes of the whole block.
    pub fn block_len(&self) -> u64 {
        BLOCK_HEADER_LEN as u64 + u64::from(self.len)
    }

    /// Whether `payload` matches the stored checksum.
    pub fn verifies(&self, payload: &[u8]) -> bool {
        checksum(self.kind, payload) == self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_catches_damage() {
        let mut out = vec![7u8; 3];
        let start = begin(&mut out, BlockType::Index);
        out.extend_from_slice(b"payload");
        finish(&mut out, start).expect("fits");
        let mut head = [0u8; BLOCK_HEADER_LEN];
        head.copy_from_slice(&out[3..3 + BLOCK_HEADER_LEN]);
        let h = BlockHeader::parse(&head);
        assert_eq!((BlockType::from_byte(h.kind), h.len), (Some(BlockType::Index), 7));
        assert!(h.verifies(b"payload"));
        assert!(!h.verifies(b"paylaod"));
        assert!(!BlockHeader { kind: 1, ..h }.verifies(b"payload"), "the type is covered");
    }
}
