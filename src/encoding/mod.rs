//! Column codecs: how timestamps and float values are stored under every Arrow
//! batch Chronicle keeps.
//!
//! A [`Chunk`] holds one series' points over a time span: one timestamp column
//! and one or more value columns sharing it, each with its statistics, encoded
//! by the codec that makes it smallest ([`ChunkEncoder`]). Each codec implements
//! [`Codec`] and owns one file with its byte layout:
//!
//! | id | codec | for |
//! |----|-------|-----|
//! | 1  | [`Plain`] (time)            | fallback |
//! | 2  | [`DeltaOfDelta`]            | Gorilla timestamps |
//! | 3  | [`PackedInts`]              | Rice-coded delta / delta-of-delta timestamps |
//! | 16 | [`Plain`] (value)           | fallback, e.g. random full-precision floats |
//! | 17 | [`Constant`]                | one repeated value |
//! | 18 | [`RunLength`]               | step-like values |
//! | 19 | [`GorillaXor`]              | Gorilla XOR floats |
//! | 20 | [`Decimal`]                 | decimals in disguise, as packed integers |
//!
//! Invariants: every codec is lossless bit for bit for any input it accepts
//! (NaN payloads, -0.0, infinities, subnormals, the whole `i64` range); ids are
//! never reused, so old chunks always decode; decoding validates counts against
//! payload sizes before allocating, and damaged input is an [`Error`], never a
//! panic or an endless loop.

mod bits;
mod chunk;
mod chunk_encoder;
mod constant;
mod decimal;
mod delta_of_delta;
mod error;
mod gorilla;
mod packed_ints;
mod plain;
mod rice;
mod run_length;
pub(crate) mod stats;
pub(crate) mod varint;

pub use chunk::{Chunk, DecodedChunk};
pub use chunk_encoder::{ChunkEncoder, EncodingPolicy};
pub use constant::Constant;
pub use decimal::Decimal;
pub use delta_of_delta::DeltaOfDelta;
pub use error::{Error, Result};
pub use gorilla::GorillaXor;
pub use packed_ints::PackedInts;
pub use plain::Plain;
pub use run_length::RunLength;
pub use stats::ColumnStats;

/// Most points one chunk may hold; larger counts in a header are corrupt.
pub const MAX_CHUNK_POINTS: usize = 1 << 22;

/// Reserves room for `n` more items, as an error rather than an abort when a
/// damaged count asks for more memory than can be had.
pub(crate) fn reserve<T>(out: &mut Vec<T>, n: usize, what: &'static str) -> Result<()> {
    out.try_reserve(n).map_err(|_| Error::corrupt(what, 0, format!("cannot hold {n} items")))
}

/// Identifies a codec in a chunk header. Values are part of the file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum EncodingId {
    /// [`Plain`] timestamps.
    PlainTime = 1,
    /// [`DeltaOfDelta`] timestamps.
    DeltaOfDelta = 2,
    /// [`PackedInts`] timestamps.
    PackedTime = 3,
    /// [`Plain`] values.
    PlainValue = 16,
    /// [`Constant`] values.
    Constant = 17,
    /// [`RunLength`] values.
    RunLength = 18,
    /// [`GorillaXor`] values.
    GorillaXor = 19,
    /// [`Decimal`] values.
    Decimal = 20,
}

impl EncodingId {
    /// The time encoding with this id.
    pub fn time(id: u8) -> Result<Self> {
        match id {
            1 => Ok(Self::PlainTime),
            2 => Ok(Self::DeltaOfDelta),
            3 => Ok(Self::PackedTime),
            _ => Err(Error::UnknownEncoding { kind: "time", id }),
        }
    }

    /// The value encoding with this id.
    pub fn value(id: u8) -> Result<Self> {
        match id {
            16 => Ok(Self::PlainValue),
            17 => Ok(Self::Constant),
            18 => Ok(Self::RunLength),
            19 => Ok(Self::GorillaXor),
            20 => Ok(Self::Decimal),
            _ => Err(Error::UnknownEncoding { kind: "value", id }),
        }
    }
}

/// A column codec: encodes a column chunk of `T`, decodes it, and names itself.
pub trait Codec<T> {
    /// The id recorded in the chunk header.
    fn id(&self) -> EncodingId;

    /// Appends the encoding of `items` to `out`. Fails with
    /// [`Error::Unencodable`] if this codec cannot represent them exactly.
    fn encode(&mut self, items: &[T], out: &mut Vec<u8>) -> Result<()>;

    /// Decodes the first `take` of the `count` items stored in `payload`,
    /// appending them to `out`.
    fn decode(&self, payload: &[u8], count: usize, take: usize, out: &mut Vec<T>) -> Result<()>;
}
