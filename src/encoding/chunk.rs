//! The chunk: one series' points over a time span, one timestamp column and
//! the value columns (fields) that share it, self-describing and checksummed.
//!
//! Byte layout:
//! ```text
//! offset  size    field
//! 0       1       format version (1)
//! 1       varint  count n, 1..=MAX_CHUNK_POINTS
//!         1       time encoding id (see super::EncodingId)
//!         1       time scale s, 0..=18: every timestamp is a multiple of 10^s
//!         varint  zz(min_time / 10^s)
//!         varint  (max_time - min_time) / 10^s
//!         varint  time payload length, then the payload: the n offsets
//!                 (t - min_time) / 10^s under the time encoding
//!         varint  value column count c
//!         c x     { 1 byte value encoding id,
//!                   column stats (see super::stats),
//!                   varint payload length, then the payload }
//! end-4   4       CRC-32 (IEEE) of every byte before it, little-endian
//! ```
//! Invariants: timestamps are non-decreasing, so `min_time` / `max_time` are the
//! first and last; a chunk is parsed only after its checksum matches, and a
//! decoded time column must end at `max_time`, so damage is reported, not read.

use arrow_array::{Float64Array, TimestampNanosecondArray};

use super::error::{Error, Result};
use super::stats::ColumnStats;
use super::varint::ByteReader;
use super::{
    Codec, Constant, Decimal, DeltaOfDelta, EncodingId, GorillaXor, MAX_CHUNK_POINTS, Plain, RunLength, packed_ints,
};

/// Version of the chunk layout written by this build.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of the trailing checksum.
pub const CRC_LEN: usize = 4;
/// Largest time scale exponent.
pub const MAX_TIME_SCALE: u8 = 18;

/// Powers of ten as integers, for time scales.
pub(crate) const POW10: [u64; MAX_TIME_SCALE as usize + 1] = {
    let mut p = [1u64; MAX_TIME_SCALE as usize + 1];
    let mut i = 1;
    while i < p.len() {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// One value column of a parsed chunk.
#[derive(Debug, Clone)]
struct Column<'a> {
    encoding: EncodingId,
    stats: ColumnStats,
    payload: &'a [u8],
    offset: usize,
}

/// A parsed, checksum-verified chunk; columns decode on demand.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    count: usize,
    time_encoding: EncodingId,
    time_scale: u8,
    min_time: i64,
    max_time: i64,
    time_payload: &'a [u8],
    time_offset: usize,
    columns: Vec<Column<'a>>,
}

/// Decoded columns as Arrow arrays: UTC nanosecond timestamps and one
/// `Float64Array` per asked value column.
#[derive(Debug, Clone)]
pub struct DecodedChunk {
    /// The timestamps.
    pub timestamps: TimestampNanosecondArray,
    /// The value columns, in the order asked.
    pub values: Vec<Float64Array>,
}

impl<'a> Chunk<'a> {
    /// Verifies the checksum and reads the header and column directory.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let body_len =
            bytes.len().checked_sub(CRC_LEN).ok_or(Error::Truncated { what: "chunk checksum", offset: bytes.len() })?;
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(Error::Checksum { len: bytes.len(), stored, computed });
        }
        Self::parse_body(body)
    }

    fn parse_body(body: &'a [u8]) -> Result<Self> {
        let mut r = ByteReader::new(body, 0);
        let version = r.u8("chunk version")?;
        if version != FORMAT_VERSION {
            return Err(Error::corrupt("chunk version", 0, format!("version {version} is not {FORMAT_VERSION}")));
        }
        let at = r.offset();
        let count = r.varint_len(MAX_CHUNK_POINTS, "point count")?;
        if count == 0 {
            return Err(Error::corrupt("point count", at, "a chunk holds at least one point"));
        }
        let time_encoding = EncodingId::time(r.u8("time encoding")?)?;
        let at = r.offset();
        let time_scale = r.u8("time scale")?;
        if time_scale > MAX_TIME_SCALE {
            return Err(Error::corrupt("time scale", at, format!("{time_scale} exceeds {MAX_TIME_SCALE}")));
        }
        let unit = POW10[usize::from(time_scale)];
        let at = r.offset();
        let min_scaled = r.varint_i64("min time")?;
        let min_time = i64::try_from(i128::from(min_scaled) * i128::from(unit))
            .map_err(|_| Error::corrupt("min time", at, "out of the i64 range"))?;
        let at = r.offset();
        let span = r.varint("time span")?.checked_mul(unit);
        let max_time = span
            .and_then(|s| i64::try_from(i128::from(min_time) + i128::from(s)).ok())
            .ok_or_else(|| Error::corrupt("time span", at, "max time out of the i64 range"))?;
        let len = r.varint_len(body.len(), "time payload length")?;
        let time_offset = r.offset();
        let time_payload = r.take(len, "time payload")?;
        let n_columns = r.varint_len(body.len(), "column count")?;
        let mut columns = Vec::with_capacity(n_columns);
        for _ in 0..n_columns {
            let encoding = EncodingId::value(r.u8("value encoding")?)?;
            let stats = ColumnStats::decode(&mut r)?;
            let len = r.varint_len(body.len(), "value payload length")?;
            let offset = r.offset();
            let payload = r.take(len, "value payload")?;
            columns.push(Column { encoding, stats, payload, offset });
        }
        if !r.remaining().is_empty() {
            return Err(Error::corrupt("chunk", r.offset(), "trailing bytes after the last column"));
        }
        Ok(Self { count, time_encoding, time_scale, min_time, max_time, time_payload, time_offset, columns })
    }

    /// Points in the chunk.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Earliest timestamp (ns).
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// Latest timestamp (ns).
    pub fn max_time(&self) -> i64 {
        self.max_time
    }

    /// Number of value columns.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Codec of the timestamps.
    pub fn time_encoding(&self) -> EncodingId {
        self.time_encoding
    }

    /// Codec of value column `column`.
    pub fn value_encoding(&self, column: usize) -> Result<EncodingId> {
        self.column(column).map(|c| c.encoding)
    }

    /// Statistics of value column `column`.
    pub fn stats(&self, column: usize) -> Result<&ColumnStats> {
        self.column(column).map(|c| &c.stats)
    }

    fn column(&self, column: usize) -> Result<&Column<'a>> {
        self.columns.get(column).ok_or_else(|| {
            Error::Unencodable(format!("column {column} asked of a chunk with {} columns", self.columns.len()))
        })
    }

    /// Appends the first `take` timestamps to `out`.
    pub fn decode_timestamps(&self, take: usize, out: &mut Vec<i64>) -> Result<()> {
        let take = take.min(self.count);
        let start = out.len();
        let (p, n) = (self.time_payload, self.count);
        let min = self.min_time;
        // Offsets back to timestamps: min + offset * 10^s, all wrapping.
        let to_time = packed_ints::Affine { mul: POW10[usize::from(self.time_scale)] as i64, add: min };
        let decoded = match self.time_encoding {
            EncodingId::PackedTime => packed_ints::decode_mapped(p, n, take, |v| to_time.apply(v), out),
            EncodingId::DeltaOfDelta => DeltaOfDelta.decode(p, n, take, out),
            _ => Codec::<i64>::decode(&Plain, p, n, take, out),
        };
        decoded.map_err(|e| e.shifted(self.time_offset))?;
        if self.time_encoding != EncodingId::PackedTime {
            out[start..].iter_mut().for_each(|t| *t = to_time.apply(*t));
        }
        let ends = (out.get(start).copied(), out.last().copied());
        let expected = (Some(min), Some(self.max_time));
        if take > 0 && (ends.0 != expected.0 || (take == self.count && ends.1 != expected.1)) {
            return Err(Error::corrupt("timestamps", self.time_offset, "decoded times disagree with the header"));
        }
        Ok(())
    }

    /// Appends the first `take` values of column `column` to `out`.
    pub fn decode_values(&self, column: usize, take: usize, out: &mut Vec<f64>) -> Result<()> {
        let c = self.column(column)?;
        let (p, n) = (c.payload, self.count);
        match c.encoding {
            EncodingId::Decimal => Decimal::default().decode(p, n, take, out),
            EncodingId::GorillaXor => GorillaXor.decode(p, n, take, out),
            EncodingId::Constant => Constant.decode(p, n, take, out),
            EncodingId::RunLength => RunLength.decode(p, n, take, out),
            _ => Codec::<f64>::decode(&Plain, p, n, take, out),
        }
        .map_err(|e| e.shifted(c.offset))
    }

    /// Decodes every timestamp and every value column.
    pub fn decode(&self) -> Result<DecodedChunk> {
        let all: Vec<usize> = (0..self.columns.len()).collect();
        self.decode_range(i64::MIN, i64::MAX, &all)
    }

    /// Decodes the points with `start <= time <= end` of the asked columns.
    /// Values after the range are not decoded; a chunk outside the range
    /// decodes nothing.
    pub fn decode_range(&self, start: i64, end: i64, columns: &[usize]) -> Result<DecodedChunk> {
        let mut times = Vec::new();
        let (lo, hi) = if end < self.min_time || start > self.max_time || start > end {
            (0, 0)
        } else {
            self.decode_timestamps(self.count, &mut times)?;
            if start <= self.min_time && end >= self.max_time {
                (0, self.count)
            } else {
                (times.partition_point(|&t| t < start), times.partition_point(|&t| t <= end))
            }
        };
        times.truncate(hi);
        times.drain(..lo);
        let mut values = Vec::with_capacity(columns.len());
        for &c in columns {
            let mut v = Vec::new();
            if hi > 0 {
                self.decode_values(c, hi, &mut v)?;
                v.drain(..lo);
            } else {
                self.column(c)?;
            }
            values.push(Float64Array::from(v));
        }
        let timestamps = TimestampNanosecondArray::from(times).with_timezone("UTC");
        Ok(DecodedChunk { timestamps, values })
    }
}
