//! A histogram as bytes, for the Arrow batches PromQL plan nodes pass each
//! other (a `Binary` value per sample): little-endian, lengths first.
//!
//! `schema i32, hint u8, zero_threshold f64, zero_count f64, count f64,
//! sum f64`, then three lists each as a `u32` length and its items:
//! positive spans (`i32 offset, u32 length`) with their counts (`f64`),
//! negative spans with theirs, custom bounds (`f64`).

use super::{CounterResetHint, FloatHistogram, Span};

/// Bytes that do not hold a histogram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bytes hold no histogram: {0}")]
pub struct BadHistogramBytes(&'static str);

impl FloatHistogram {
    /// Appends this histogram's bytes to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.schema.to_le_bytes());
        out.push(match self.counter_reset_hint {
            CounterResetHint::Unknown => 0,
            CounterResetHint::CounterReset => 1,
            CounterResetHint::NotCounterReset => 2,
            CounterResetHint::Gauge => 3,
        });
        for v in [self.zero_threshold, self.zero_count, self.count, self.sum] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (spans, counts) in
            [(&self.positive_spans, &self.positive_buckets), (&self.negative_spans, &self.negative_buckets)]
        {
            put_len(out, spans.len());
            for s in spans {
                out.extend_from_slice(&s.offset.to_le_bytes());
                out.extend_from_slice(&s.length.to_le_bytes());
            }
            put_floats(out, counts);
        }
        put_floats(out, &self.custom_values);
    }

    /// The histogram [`FloatHistogram::write_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<FloatHistogram, BadHistogramBytes> {
        let mut r = Reader(bytes);
        let schema = i32::from_le_bytes(r.take()?);
        let counter_reset_hint = match r.take::<1>()?[0] {
            0 => CounterResetHint::Unknown,
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => return Err(BadHistogramBytes("counter reset hint")),
        };
        let zero_threshold = r.float()?;
        let zero_count = r.float()?;
        let count = r.float()?;
        let sum = r.float()?;
        let positive_spans = r.spans()?;
        let positive_buckets = r.floats()?;
        let negative_spans = r.spans()?;
        let negative_buckets = r.floats()?;
        let custom_values = r.floats()?;
        if !r.0.is_empty() {
            return Err(BadHistogramBytes("trailing bytes"));
        }
        Ok(FloatHistogram {
            counter_reset_hint,
            schema,
            zero_threshold,
            zero_count,
            count,
            sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values,
        })
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_floats(out: &mut Vec<u8>, vs: &[f64]) {
    put_len(out, vs.len());
    for v in vs {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], BadHistogramBytes> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(BadHistogramBytes("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn float(&mut self) -> Result<f64, BadHistogramBytes> {
        Ok(f64::from_le_bytes(self.take()?))
    }

    /// A list length, checked against the bytes left (`item` bytes each).
    fn len(&mut self, item: usize) -> Result<usize, BadHistogramBytes> {
        let n = usize::try_from(u32::from_le_bytes(self.take()?)).map_err(|_| BadHistogramBytes("length"))?;
        if n.saturating_mul(item) > self.0.len() {
            return Err(BadHistogramBytes("length beyond the bytes"));
        }
        Ok(n)
    }

    fn floats(&mut self) -> Result<Vec<f64>, BadHistogramBytes> {
        let n = self.len(8)?;
        (0..n).map(|_| self.float()).collect()
    }

    fn spans(&mut self) -> Result<Vec<Span>, BadHistogramBytes> {
        let n = self.len(8)?;
        (0..n)
            .map(|_| Ok(Span { offset: i32::from_le_bytes(self.take()?), length: u32::from_le_bytes(self.take()?) }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn bytes_round_trip_and_damage_is_refused() {
        let h = FloatHistogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema: -53,
            zero_threshold: 0.5,
            zero_count: 1.0,
            count: f64::NAN,
            sum: -3.25,
            positive_spans: vec![Span { offset: -1, length: 2 }],
            positive_buckets: vec![1.0, 2.0],
            negative_spans: Vec::new(),
            negative_buckets: Vec::new(),
            custom_values: vec![1.0, 10.0],
        };
        let mut bytes = Vec::new();
        h.write_bytes(&mut bytes);
        let back = FloatHistogram::from_bytes(&bytes).unwrap();
        assert!(back.count.is_nan());
        assert_eq!(FloatHistogram { count: 0.0, ..back }, FloatHistogram { count: 0.0, ..h });
        for cut in 0..bytes.len() {
            assert!(FloatHistogram::from_bytes(&bytes[..cut]).is_err(), "{cut}");
        }
        bytes.push(0);
        assert!(FloatHistogram::from_bytes(&bytes).is_err());
    }
}
