//! Scans: the rows of one measurement's matching series, fields and time
//! range, as Arrow record batches merged from the file and the head.
//!
//! Output schema: `time` (`Timestamp(Nanosecond, "UTC")`), one
//! `Dictionary(Int32, Utf8)` column per tag key of the measurement (sorted;
//! null where a series lacks the tag), then one nullable `Float64` column per
//! asked field. A row exists where any asked field has a value (any field at
//! all when none is asked); a field without a value there is null.
//!
//! Batches come one per (series, partition), ordered by the series' tag
//! values (tag columns in schema order, a missing tag last), then time; so
//! within one partition the output is sorted by (tags..., time).
//! The scan works on a snapshot taken when it starts: later writes are not
//! seen, and a compaction does not disturb it.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::file::partition_block::ChunkEntry;
use super::file::store::FileReader;
use super::matcher::TagMatcher;
use super::merge::FieldSeries;
use super::series_index::FieldId;
use crate::encoding::Chunk;
use crate::error::{Error, Result};

/// What to read.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// The measurement.
    pub measurement: String,
    /// Conditions every series must meet.
    pub matchers: Vec<TagMatcher>,
    /// Fields to return, in order; `None` for all of the measurement's.
    pub fields: Option<Vec<String>>,
    /// Earliest timestamp, inclusive.
    pub start: i64,
    /// Latest timestamp, inclusive.
    pub end: i64,
    /// Value ranges a row must meet: chunks whose stats rule them out may be
    /// skipped (rows from other chunks are not filtered; the caller filters).
    pub field_ranges: Vec<FieldRange>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
}

/// A range of values of one field, each bound with whether it is inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRange {
    /// The field.
    pub field: String,
    /// Lower bound and whether it is inclusive.
    pub lower: Option<(f64, bool)>,
    /// Upper bound and whether it is inclusive.
    pub upper: Option<(f64, bool)>,
}

impl FieldRange {
    /// Whether a chunk column with these min/max stats may hold a value in
    /// range. NaN bounds (a column of NaN only) rule nothing out.
    pub fn admits(&self, min: f64, max: f64) -> bool {
        let above = |(x, inclusive): (f64, bool)| !(max < x || (!inclusive && max == x));
        let below = |(x, inclusive): (f64, bool)| !(min > x || (!inclusive && min == x));
        self.lower.is_none_or(above) && self.upper.is_none_or(below)
    }
}

impl ScanRequest {
    /// Every series, field and time of `measurement`.
    pub fn new(measurement: impl Into<String>) -> Self {
        Self {
            measurement: measurement.into(),
            matchers: Vec::new(),
            fields: None,
            start: i64::MIN,
            end: i64::MAX,
            field_ranges: Vec::new(),
            limit: None,
        }
    }

    /// Adds a tag matcher.
    pub fn with_matcher(mut self, matcher: TagMatcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// Returns only these fields, in this order.
    pub fn with_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Keeps `start <= time <= end`.
    pub fn with_time_range(mut self, start: i64, end: i64) -> Self {
        (self.start, self.end) = (start, end);
        self
    }
}

/// The data type of tag columns.
pub fn tag_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The data type of the time column.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The schema of a scan returning `tags` and `fields`.
pub fn schema(tags: &[String], fields: &[String]) -> SchemaRef {
    let mut columns = vec![Field::new("time", time_type(), false)];
    columns.extend(tags.iter().map(|t| Field::new(t, tag_type(), true)));
    columns.extend(fields.iter().map(|f| Field::new(f, DataType::Float64, true)));
    Arc::new(Schema::new(columns))
}

/// One series' data in one partition, gathered when the scan starts.
#[derive(Debug)]
pub(crate) struct ScanPart {
    /// Index into the scan's series tags.
    pub series: usize,
    /// The partition number.
    pub partition: i64,
    /// Chunks that may hold rows, in file order.
    pub chunks: Vec<ChunkEntry>,
    /// Head points per row field, resolved and restricted to the range.
    pub head: Vec<(FieldId, FieldSeries)>,
}

impl ScanPart {
    /// Per chunk: whether no other source of the part (another chunk, or the
    /// head points) overlaps it in time. Only then are the chunk's points
    /// exactly the part's rows in its span: nothing newer overwrites them and
    /// nothing older shows through.
    pub(crate) fn isolated_chunks(&self) -> Vec<bool> {
        let spans: Vec<(i64, i64)> = self
            .chunks
            .iter()
            .map(|c| (c.min_time, c.max_time))
            .chain(self.head.iter().filter_map(|(_, s)| Some((*s.times.first()?, *s.times.last()?))))
            .collect();
        let overlapped = |me: usize, (lo, hi): (i64, i64)| {
            spans.iter().enumerate().any(|(j, &(a, b))| j != me && a <= hi && b >= lo)
        };
        (0..self.chunks.len()).map(|i| !overlapped(i, spans[i])).collect()
    }
}

/// A running scan: an iterator of record batches.
#[derive(Debug)]
pub struct Scan {
    pub(crate) schema: SchemaRef,
    pub(crate) reader: FileReader,
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Tag values of each series, one per tag column.
    pub(crate) series_tags: Vec<Vec<Option<String>>>,
    /// The fields that decide whether a row exists.
    pub(crate) row_fields: Vec<FieldId>,
    /// Per output field column: its position in `row_fields`, or `None` (unknown field).
    pub(crate) out_fields: Vec<Option<usize>>,
    pub(crate) parts: VecDeque<ScanPart>,
    /// Rows still to return, if limited.
    pub(crate) remaining: Option<usize>,
}

/// What a scan will read, known before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanEstimate {
    /// Partitions holding rows, ascending.
    pub partitions: Vec<i64>,
    /// Upper bound of the rows (duplicates across sources are counted twice).
    pub rows: usize,
    /// Smallest and largest time of the chunks and head points read.
    pub time_bounds: Option<(i64, i64)>,
}

impl Scan {
    /// What the scan will read.
    pub fn estimate(&self) -> ScanEstimate {
        let mut partitions: Vec<i64> = self.parts.iter().map(|p| p.partition).collect();
        partitions.sort_unstable();
        partitions.dedup();
        let mut rows = 0;
        let mut bounds: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        for part in &self.parts {
            // Rows of the first row field: every row has some row field, so
            // this undercounts only rows lacking the first; take the largest.
            let per_field = self.row_fields.iter().map(|f| {
                let chunks: usize = part.chunks.iter().filter(|c| c.fields.contains(f)).map(|c| c.count as usize).sum();
                let head: usize = part.head.iter().filter(|(h, _)| h == f).map(|(_, s)| s.len()).sum();
                chunks + head
            });
            rows += per_field.max().unwrap_or(0);
            for c in &part.chunks {
                widen(c.min_time.max(self.start), c.max_time.min(self.end));
            }
            for (_, s) in &part.head {
                if let (Some(&lo), Some(&hi)) = (s.times.first(), s.times.last()) {
                    widen(lo, hi);
                }
            }
        }
        ScanEstimate { partitions, rows: self.remaining.map_or(rows, |l| rows.min(l)), time_bounds: bounds }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Collects every batch.
    pub fn collect_batches(self) -> Result<Vec<RecordBatch>> {
        self.collect()
    }

    fn decode_part(&self, part: &ScanPart) -> Result<Vec<FieldSeries>> {
        let mut sources = read_chunks(&self.reader, &part.chunks, &self.row_fields, self.start, self.end)?;
        for (field, points) in &part.head {
            if let Some(slot) = self.row_fields.iter().position(|r| r == field) {
                sources[slot].push(points.clone());
            }
        }
        Ok(sources.into_iter().map(FieldSeries::merge).collect())
    }

    /// The rows of one part, sorted by time; `None` if it has none.
    pub(super) fn batch(&self, part: &ScanPart) -> Result<Option<RecordBatch>> {
        let fields = self.decode_part(part)?;
        let first = fields.iter().find(|f| !f.is_empty());
        let Some(first) = first else { return Ok(None) };
        let shared = fields.iter().all(|f| f.is_empty() || f.times == first.times);
        let times: Vec<i64> = if shared && fields.iter().all(|f| !f.is_empty()) {
            first.times.clone()
        } else {
            let mut all: Vec<i64> = fields.iter().flat_map(|f| f.times.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let n = times.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        columns.push(Arc::new(TimestampNanosecondArray::from(times.clone()).with_timezone("UTC")));
        for value in &self.series_tags[part.series] {
            let keys = match value {
                Some(_) => Int32Array::from(vec![0; n]),
                None => Int32Array::new_null(n),
            };
            let values = StringArray::from(value.iter().map(String::as_str).collect::<Vec<_>>());
            let dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            columns.push(Arc::new(dict));
        }
        for slot in &self.out_fields {
            let array = match slot.map(|s| &fields[s]) {
                Some(f) if f.times.len() == n => Float64Array::from(f.values.clone()),
                Some(f) => spread(f, &times),
                None => Float64Array::new_null(n),
            };
            columns.push(Arc::new(array));
        }
        RecordBatch::try_new(self.schema(), columns).map(Some).map_err(|e| Error::InvalidArgument(e.to_string()))
    }
}

/// Decodes `chunks` (one series, in file order) and returns, for each of
/// `fields`, its points in `start..=end` from each chunk that holds it, oldest
/// first, ready for [`FieldSeries::merge`].
pub(crate) fn read_chunks<'a>(
    reader: &FileReader,
    chunks: impl IntoIterator<Item = &'a ChunkEntry>,
    fields: &[FieldId],
    start: i64,
    end: i64,
) -> Result<Vec<Vec<FieldSeries>>> {
    let mut sources: Vec<Vec<FieldSeries>> = vec![Vec::new(); fields.len()];
    for entry in chunks {
        let wanted: Vec<(usize, usize)> = entry
            .fields
            .iter()
            .enumerate()
            .filter_map(|(col, f)| fields.iter().position(|r| r == f).map(|slot| (col, slot)))
            .collect();
        if wanted.is_empty() || entry.max_time < start || entry.min_time > end {
            continue;
        }
        let bytes = reader.read(entry.offset, entry.len as usize)?;
        let corrupt = |e| Error::corrupt_at(reader.path(), entry.offset, e);
        let chunk = Chunk::parse(&bytes).map_err(corrupt)?;
        let columns: Vec<usize> = wanted.iter().map(|w| w.0).collect();
        let decoded = chunk.decode_range(start, end, &columns).map_err(corrupt)?;
        let times = decoded.timestamps.values().to_vec();
        for ((_, slot), values) in wanted.iter().zip(decoded.values) {
            sources[*slot].push(FieldSeries { times: times.clone(), values: values.values().to_vec() });
        }
    }
    Ok(sources)
}

/// The values of `f` placed at their times within `times` (a superset), null elsewhere.
fn spread(f: &FieldSeries, times: &[i64]) -> Float64Array {
    let mut j = 0;
    times
        .iter()
        .map(|&t| {
            if f.times.get(j) == Some(&t) {
                j += 1;
                Some(f.values[j - 1])
            } else {
                None
            }
        })
        .collect()
}

impl Iterator for Scan {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            return None;
        }
        while let Some(part) = self.parts.pop_front() {
            match self.batch(&part) {
                Ok(Some(batch)) => {
                    let Some(left) = self.remaining else { return Some(Ok(batch)) };
                    let batch = if batch.num_rows() > left { batch.slice(0, left) } else { batch };
                    self.remaining = Some(left - batch.num_rows());
                    return Some(Ok(batch));
                }
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}
