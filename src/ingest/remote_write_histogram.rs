//! A remote-write native histogram sample (`prometheus.Histogram`) read in
//! place: integer histograms (bucket counts as deltas) and float histograms
//! (absolute counts) both become a [`FloatHistogram`]; repeated numbers are
//! read packed or not, as protobuf allows.
//!
//! Fields: 1 `count_int` / 2 `count_float`, 3 `sum`, 4 `schema` (sint32),
//! 5 `zero_threshold`, 6 `zero_count_int` / 7 `zero_count_float`,
//! 8 / 11 negative / positive spans (`BucketSpan`: 1 offset sint32,
//! 2 length), 9 / 12 negative / positive deltas (sint64), 10 / 13
//! negative / positive counts (double), 14 `reset_hint`, 15 `timestamp`,
//! 16 `custom_values` (double).

use super::protobuf::{FIXED64, LEN, Reader, VARINT};
use super::{Error, Result};
use crate::model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};

/// The sample's milliseconds and histogram; `at` names it in errors.
pub(super) fn histogram(at: &str, bytes: &[u8]) -> Result<(i64, FloatHistogram)> {
    let mut h = FloatHistogram::default();
    let mut timestamp = 0i64;
    let (mut positive_deltas, mut negative_deltas) = (Vec::new(), Vec::new());
    let mut message = Reader::new(bytes);
    while !message.done() {
        match message.key()? {
            (1, VARINT) => h.count = message.varint()? as f64,
            (2, FIXED64) => h.count = f64::from_bits(message.fixed64()?),
            (3, FIXED64) => h.sum = f64::from_bits(message.fixed64()?),
            (4, VARINT) => {
                let schema = unzigzag(message.varint()?);
                h.schema = i32::try_from(schema).map_err(|_| Error::item(format!("{at}.schema"), "out of range"))?;
            }
            (5, FIXED64) => h.zero_threshold = f64::from_bits(message.fixed64()?),
            (6, VARINT) => h.zero_count = message.varint()? as f64,
            (7, FIXED64) => h.zero_count = f64::from_bits(message.fixed64()?),
            (8, LEN) => h.negative_spans.push(span(message.bytes()?)?),
            (11, LEN) => h.positive_spans.push(span(message.bytes()?)?),
            (9, wire) => varints(&mut message, 9, wire, &mut negative_deltas)?,
            (12, wire) => varints(&mut message, 12, wire, &mut positive_deltas)?,
            (10, wire) => doubles(&mut message, 10, wire, &mut h.negative_buckets)?,
            (13, wire) => doubles(&mut message, 13, wire, &mut h.positive_buckets)?,
            (16, wire) => doubles(&mut message, 16, wire, &mut h.custom_values)?,
            (14, VARINT) => {
                h.counter_reset_hint = match message.varint()? {
                    1 => CounterResetHint::CounterReset,
                    2 => CounterResetHint::NotCounterReset,
                    3 => CounterResetHint::Gauge,
                    _ => CounterResetHint::Unknown,
                }
            }
            // int64 is the two's complement of the varint.
            (15, VARINT) => timestamp = message.varint()? as i64,
            (field @ 1..=16, wire) => {
                return Err(Error::item(at.to_owned(), format!("field {field} has wire type {wire}")));
            }
            (_, wire) => message.skip(wire)?,
        }
    }
    if !positive_deltas.is_empty() || !negative_deltas.is_empty() {
        h.positive_buckets = absolute(&positive_deltas);
        h.negative_buckets = absolute(&negative_deltas);
    }
    check(at, &h)?;
    Ok((timestamp, h))
}

/// Counts from deltas (each bucket's count minus the one before).
fn absolute(deltas: &[i64]) -> Vec<f64> {
    let mut count = 0i64;
    deltas
        .iter()
        .map(|&d| {
            count = count.wrapping_add(d);
            count as f64
        })
        .collect()
}

/// Refuses a histogram whose spans and counts disagree or whose schema
/// Prometheus does not define.
fn check(at: &str, h: &FloatHistogram) -> Result<()> {
    if !(-4..=8).contains(&h.schema) && h.schema != CUSTOM_BUCKETS_SCHEMA {
        return Err(Error::item(format!("{at}.schema"), format!("schema {} is not -4..=8 or -53", h.schema)));
    }
    for (sign, spans, counts) in
        [("positive", &h.positive_spans, &h.positive_buckets), ("negative", &h.negative_spans, &h.negative_buckets)]
    {
        let want: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
        if want != counts.len() as u64 {
            return Err(Error::item(
                format!("{at}.{sign}_spans"),
                format!("spans hold {want} buckets but {} counts were sent", counts.len()),
            ));
        }
    }
    if h.schema == CUSTOM_BUCKETS_SCHEMA && !h.negative_buckets.is_empty() {
        return Err(Error::item(format!("{at}.negative_spans"), "a custom-bucket histogram has no negative buckets"));
    }
    Ok(())
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A `BucketSpan`.
fn span(bytes: &[u8]) -> Result<Span> {
    let mut s = Span { offset: 0, length: 0 };
    let mut message = Reader::new(bytes);
    while !message.done() {
        match message.key()? {
            (1, VARINT) => s.offset = i32::try_from(unzigzag(message.varint()?)).unwrap_or(i32::MAX),
            (2, VARINT) => s.length = u32::try_from(message.varint()?).unwrap_or(u32::MAX),
            (_, wire) => message.skip(wire)?,
        }
    }
    Ok(s)
}

/// One sint64 or a packed run of them.
fn varints(message: &mut Reader<'_>, field: u64, wire: u8, out: &mut Vec<i64>) -> Result<()> {
    if wire == VARINT {
        out.push(unzigzag(message.varint()?));
        return Ok(());
    }
    message.expect(field, wire, LEN)?;
    let mut packed = Reader::new(message.bytes()?);
    while !packed.done() {
        out.push(unzigzag(packed.varint()?));
    }
    Ok(())
}

/// One double or a packed run of them.
fn doubles(message: &mut Reader<'_>, field: u64, wire: u8, out: &mut Vec<f64>) -> Result<()> {
    if wire == FIXED64 {
        out.push(f64::from_bits(message.fixed64()?));
        return Ok(());
    }
    message.expect(field, wire, LEN)?;
    let mut packed = Reader::new(message.bytes()?);
    while !packed.done() {
        out.push(f64::from_bits(packed.fixed64()?));
    }
    Ok(())
}
