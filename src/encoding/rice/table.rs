//! Lookup tables that decode several short Rice codes at once.
//!
//! For a parameter `k` up to [`MAX_K`], the entry at index `i` holds the codes
//! that lie wholly inside the low [`BITS`] bits of `i` (least significant bit
//! first, as [`super::super::bits`] stores them), up to [`CODES`] of them: their
//! residuals and how many bits they take. An entry with no code (a long code or
//! an escape starts the window) sends the decoder to its code-at-a-time path.
//! Residuals are always stored in all [`CODES`] lanes (zero past `count`), so the
//! decoder copies a fixed-size block and needs no per-code branch.
//!
//! Tables are built on first use and shared by every decoder.

use std::sync::OnceLock;

use super::ESCAPE;

/// Bits one lookup reads.
pub const BITS: u32 = 11;
/// Most codes one entry holds.
pub const CODES: usize = 6;
/// Largest parameter with a table: past it codes are too long for several to fit.
pub const MAX_K: u8 = 4;

/// The codes at the start of one [`BITS`]-bit window.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(16))]
pub struct Entry {
    /// Residuals of the first `count` codes, zero after.
    pub residuals: [u16; CODES],
    /// Codes decoded, 0 ..= [`CODES`].
    pub count: u8,
    /// Bits those codes take.
    pub bits: u8,
}

/// The table of one parameter.
#[derive(Debug)]
pub struct Table(Box<[Entry]>);

impl Table {
    /// The entry for the low [`BITS`] bits of `word`.
    #[inline]
    pub fn lookup(&self, word: u64) -> Entry {
        self.0[(word & ((1 << BITS) - 1)) as usize]
    }

    fn build(k: u32) -> Self {
        let entries = (0..1u32 << BITS)
            .map(|window| {
                let mut entry = Entry::default();
                let mut pos = 0;
                while usize::from(entry.count) < CODES && pos < BITS {
                    let rest = window >> pos;
                    let q = rest.trailing_zeros();
                    let len = q + 1 + k;
                    if q >= ESCAPE || pos + len > BITS {
                        break;
                    }
                    let residual = (q << k) | ((rest >> (q + 1)) & ((1 << k) - 1));
                    entry.residuals[usize::from(entry.count)] = residual as u16;
                    entry.count += 1;
                    pos += len;
                }
                entry.bits = pos as u8;
                entry
            })
            .collect();
        Self(entries)
    }
}

/// The table for parameter `k`, if it has one.
#[inline]
pub fn for_parameter(k: u8) -> Option<&'static Table> {
    static TABLES: [OnceLock<Table>; MAX_K as usize + 1] = [const { OnceLock::new() }; MAX_K as usize + 1];
    let cell = TABLES.get(usize::from(k))?;
    Some(cell.get_or_init(|| Table::build(u32::from(k))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_the_codes_that_fit() {
        // k = 1, least significant bit first: "1" "0" is 0, "01" "1" is 3, then
        // nothing but zeros, which no code fits.
        let window = 0b11001u64;
        let e = for_parameter(1).expect("k = 1 has a table").lookup(window);
        assert_eq!((e.count, e.bits), (2, 5));
        assert_eq!(&e.residuals[..2], &[0, 3]);
        assert!(e.residuals[2..].iter().all(|&r| r == 0));
        let e = for_parameter(0).expect("k = 0 has a table").lookup(u64::MAX);
        assert_eq!((e.count, e.bits), (CODES as u8, CODES as u8), "one-bit codes, capped");
        assert_eq!(for_parameter(0).expect("table").lookup(0).count, 0, "a long unary run fits no code");
        assert!(for_parameter(MAX_K + 1).is_none());
    }
}
