//! Bucket layouts: turning spans and bucket vectors into absolute
//! `(index, count)` lists and back, compaction, and lowering resolution.
//!
//! Every rewrite of a layout goes through an index-sorted list of present
//! buckets, so the spans it builds never hold zero-length spans and never
//! have two spans touching (a zero offset after the first span).

use super::buckets::PresentBuckets;
use super::error::{HistogramError, Result};
use super::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span};

/// The present buckets of one side as `(absolute index, count)`, in index
/// order, checking that the spans and the bucket vector agree.
pub(crate) fn indexed(spans: &[Span], buckets: &[f64]) -> Result<Vec<(i32, f64)>> {
    if let Some((n, span)) = spans.iter().enumerate().skip(1).find(|(_, s)| s.offset < 0) {
        return Err(HistogramError::NegativeSpanOffset { span: n + 1, offset: span.offset });
    }
    let spans_need: usize = spans.iter().map(|s| s.length as usize).sum();
    if spans_need != buckets.len() {
        return Err(HistogramError::SpansBucketsMismatch { spans_need, have: buckets.len() });
    }
    Ok(PresentBuckets::new(spans, buckets).collect())
}

/// Builds spans and buckets from index-sorted, distinct entries. Entries at
/// most `fill_gaps` indexes apart share a span, with empty buckets filling
/// the gap; with 0 only consecutive indexes share one.
pub(crate) fn rebuild(entries: &[(i32, f64)], fill_gaps: u64) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::with_capacity(entries.len());
    let mut last: Option<i32> = None;
    for &(index, count) in entries {
        match last {
            Some(prev) if (i64::from(index) - i64::from(prev) - 1) as u64 <= fill_gaps => {
                let gap = (index - prev - 1) as u32;
                buckets.extend(std::iter::repeat_n(0.0, gap as usize));
                if let Some(span) = spans.last_mut() {
                    span.length += gap + 1;
                }
            }
            Some(prev) => spans.push(Span { offset: index - prev - 1, length: 1 }),
            None => spans.push(Span { offset: index, length: 1 }),
        }
        buckets.push(count);
        last = Some(index);
    }
    (spans, buckets)
}

/// The index at `target` schema of the bucket holding bucket `index` of
/// the finer schema `origin`.
pub(crate) fn target_index(index: i32, origin: i32, target: i32) -> i32 {
    ((index - 1) >> (origin - target)) + 1
}

/// Merges index-sorted entries of schema `origin` into the buckets of the
/// coarser schema `target`, keeping index order.
pub(crate) fn merge_to_schema(entries: &[(i32, f64)], origin: i32, target: i32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(entries.len());
    for &(index, count) in entries {
        let to = target_index(index, origin, target);
        match out.last_mut() {
            Some((last, sum)) if *last == to => *sum += count,
            _ => out.push((to, count)),
        }
    }
    out
}

/// Lowers the resolution of one side from `origin` to `target` schema.
fn reduce_side(spans: &[Span], buckets: &[f64], origin: i32, target: i32) -> Result<(Vec<Span>, Vec<f64>)> {
    let entries = indexed(spans, buckets)?;
    Ok(rebuild(&merge_to_schema(&entries, origin, target), 0))
}

impl FloatHistogram {
    /// Drops empty buckets at the edges of spans and runs of more than
    /// `max_empty_buckets` empty buckets inside them, and joins spans at
    /// most that many indexes apart (Prometheus's `Compact`).
    pub fn compact(&mut self, max_empty_buckets: usize) -> Result<()> {
        let fill = max_empty_buckets as u64;
        let positive = indexed(&self.positive_spans, &self.positive_buckets)?;
        let negative = indexed(&self.negative_spans, &self.negative_buckets)?;
        let keep =
            |entries: Vec<(i32, f64)>| -> Vec<(i32, f64)> { entries.into_iter().filter(|(_, c)| *c != 0.0).collect() };
        (self.positive_spans, self.positive_buckets) = rebuild(&keep(positive), fill);
        (self.negative_spans, self.negative_buckets) = rebuild(&keep(negative), fill);
        Ok(())
    }

    /// Merges buckets so the histogram has the lower resolution
    /// `target_schema` (Prometheus's `ReduceResolution`).
    pub fn reduce_resolution(&mut self, target_schema: i32) -> Result<()> {
        if self.uses_custom_buckets() || target_schema == CUSTOM_BUCKETS_SCHEMA || target_schema >= self.schema {
            return Err(HistogramError::CannotReduceResolution { from: self.schema, to: target_schema });
        }
        let positive = reduce_side(&self.positive_spans, &self.positive_buckets, self.schema, target_schema)?;
        let negative = reduce_side(&self.negative_spans, &self.negative_buckets, self.schema, target_schema)?;
        (self.positive_spans, self.positive_buckets) = positive;
        (self.negative_spans, self.negative_buckets) = negative;
        self.schema = target_schema;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn span(offset: i32, length: u32) -> Span {
        Span { offset, length }
    }

    #[test]
    fn compact_drops_edges_and_long_runs() {
        let mut h = FloatHistogram {
            positive_spans: vec![span(-2, 6), span(3, 2)],
            positive_buckets: vec![0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 3.0, 0.0],
            ..Default::default()
        };
        h.compact(0).unwrap();
        assert_eq!(h.positive_spans, vec![span(-1, 1), span(2, 1), span(4, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 2.0, 3.0]);
        h.compact(2).unwrap();
        assert_eq!(h.positive_spans, vec![span(-1, 4), span(4, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 0.0, 0.0, 2.0, 3.0]);
        h.compact(usize::MAX).unwrap();
        assert_eq!(h.positive_spans, vec![span(-1, 9)]);
    }

    #[test]
    fn compact_of_touching_and_empty_spans() {
        let mut h = FloatHistogram {
            negative_spans: vec![span(0, 0), span(1, 2), span(0, 1)],
            negative_buckets: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        h.compact(0).unwrap();
        assert_eq!(h.negative_spans, vec![span(1, 3)]);
    }

    #[test]
    fn reduce_resolution_merges_pairs() {
        // Schema 1 indexes 0..=3 map to schema 0 indexes 0, 1, 1, 2.
        let mut h = FloatHistogram {
            schema: 1,
            positive_spans: vec![span(0, 4), span(2, 1)],
            positive_buckets: vec![1.0, 2.0, 3.0, 4.0, 5.0],
            ..Default::default()
        };
        h.reduce_resolution(0).unwrap();
        assert_eq!(h.schema, 0);
        assert_eq!(h.positive_spans, vec![span(0, 4)]);
        assert_eq!(h.positive_buckets, vec![1.0, 5.0, 4.0, 5.0]);
        assert!(h.reduce_resolution(0).is_err());
    }

    #[test]
    fn mismatched_layout_is_an_error() {
        let mut h =
            FloatHistogram { positive_spans: vec![span(0, 3)], positive_buckets: vec![1.0], ..Default::default() };
        assert!(matches!(h.compact(0), Err(HistogramError::SpansBucketsMismatch { .. })));
    }
}
