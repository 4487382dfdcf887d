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
//! [`Scan::with_batch_rows`] gathers consecutive parts into larger batches,
//! in the same order. Every batch of a scan shares one dictionary per tag
//! column.
//! The scan works on a snapshot taken when it starts: later writes are not
//! seen, and a compaction does not disturb it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::BooleanArray;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow_select::concat::concat;
use arrow_select::filter::FilterBuilder;

use super::file::partition_block::ChunkEntry;
use super::file::store::FileReader;
use super::matcher::TagMatcher;
use super::merge::FieldSeries;
use super::series_index::FieldId;
use super::time_bucket::TimeBucket;
use crate::encoding::{Chunk, DecodedChunk};
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
    /// Value ranges a row must meet: chunks whose stats rule them out are
    /// not read, and rows without a value of the field or clearly outside a
    /// range are dropped. NaN and zeros are kept: SQL engines order them
    /// differently, so the caller filters the rows exactly.
    pub field_ranges: Vec<FieldRange>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
    /// Return only the latest row of each series (the limit counts those).
    pub latest: bool,
    /// Only rows of these time buckets are needed: the scan may drop rows
    /// of later (or earlier) buckets; see [`TopBuckets`].
    pub top_buckets: Option<TopBuckets>,
}

/// The first `count` non-empty time buckets, newest or oldest first: what
/// `GROUP BY date_bin(..) ORDER BY .. DESC LIMIT count` reads. Chunk time
/// bounds, head points and (read when planning, from the partitions at the
/// cut's side inward) chunk timestamps are times known to hold rows; when
/// they cover `count` buckets, rows beyond the `count`-th of those cannot be
/// among the first `count` buckets, and the scan's range is cut there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopBuckets {
    /// The buckets.
    pub bucket: TimeBucket,
    /// How many buckets are read.
    pub count: usize,
    /// Newest first (else oldest first).
    pub newest: bool,
}

impl TopBuckets {
    /// The range `start..=end` cut to the first `count` buckets among
    /// those of `known` (times known to hold rows, all within the range).
    pub(crate) fn cut(&self, known: impl IntoIterator<Item = i64>, start: i64, end: i64) -> (i64, i64) {
        let buckets: BTreeSet<i64> = known.into_iter().filter_map(|t| self.bucket.of(t)).collect();
        let k = self.count.saturating_sub(1);
        let nth = if self.newest { buckets.iter().rev().nth(k) } else { buckets.iter().nth(k) };
        match (nth, self.newest) {
            (None, _) => (start, end),
            (Some(&b), true) => (start.max(b), end),
            (Some(&b), false) => (start, end.min(b.saturating_add(self.bucket.stride - 1))),
        }
    }
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
    /// range. A column that may hold NaN (`maybe_nan`; min/max skip NaN)
    /// rules nothing out, whatever order a caller gives NaN, and a zero
    /// bound stands for either zero.
    pub fn admits(&self, min: f64, max: f64, maybe_nan: bool) -> bool {
        if maybe_nan || min.is_nan() || max.is_nan() {
            return true;
        }
        let (min, max) = (if min == 0.0 { -0.0 } else { min }, if max == 0.0 { 0.0 } else { max });
        let above = |(x, inclusive): (f64, bool)| max.total_cmp(&x).is_gt() || (inclusive && max.total_cmp(&x).is_eq());
        let below = |(x, inclusive): (f64, bool)| min.total_cmp(&x).is_lt() || (inclusive && min.total_cmp(&x).is_eq());
        self.lower.is_none_or(above) && self.upper.is_none_or(below)
    }

    /// Whether a row with value `v` may meet the range: in range by IEEE
    /// comparison, or NaN or a zero (which orders differently under
    /// totalOrder). The caller's filter decides those exactly.
    fn may_hold(&self, v: f64) -> bool {
        let above = |(x, inclusive): (f64, bool)| v > x || (inclusive && v == x);
        let below = |(x, inclusive): (f64, bool)| v < x || (inclusive && v == x);
        v.is_nan() || v == 0.0 || (self.lower.is_none_or(above) && self.upper.is_none_or(below))
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
            latest: false,
            top_buckets: None,
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
    /// Times known to hold rows within `start..=end`: chunk bounds and the
    /// ends of the head points (which are already in the scan's range).
    pub(crate) fn known_times(&self, start: i64, end: i64) -> impl Iterator<Item = i64> + '_ {
        let chunks = self.chunks.iter().flat_map(|c| [c.min_time, c.max_time]);
        let head = self.head.iter().flat_map(|(_, s)| s.times.first().into_iter().chain(s.times.last()).copied());
        chunks.filter(move |t| (start..=end).contains(t)).chain(head)
    }

    /// Keeps what overlaps `start..=end`; false if nothing is left.
    pub(crate) fn restrict(&mut self, start: i64, end: i64) -> bool {
        self.chunks.retain(|c| c.min_time <= end && c.max_time >= start);
        for (_, points) in &mut self.head {
            points.restrict(start, end);
        }
        self.head.retain(|(_, points)| !points.is_empty());
        !self.chunks.is_empty() || !self.head.is_empty()
    }

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
    /// Per tag column: the dictionary every batch shares.
    pub(crate) tag_dictionaries: Vec<TagDictionary>,
    /// Rows still to return, if limited.
    pub(crate) remaining: Option<usize>,
    /// Parts are gathered into batches of at least this many rows (1: one batch per part).
    pub(crate) batch_rows: usize,
    /// Only the latest row of each series is returned.
    pub(crate) latest: bool,
    /// The field ranges rows must meet, by position in `row_fields`.
    pub(crate) row_ranges: Vec<(usize, FieldRange)>,
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

    /// Returns batches of about `rows` rows (the parts of several series, in
    /// order) instead of one per (series, partition).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// The rows of one part that meet the field ranges; `None` if none do.
    fn part_rows(&self, part: &ScanPart) -> Result<Option<PartRows>> {
        let Some(rows) = self.decoded_rows(part)? else { return Ok(None) };
        if self.row_ranges.is_empty() {
            return Ok(Some(rows));
        }
        let n = rows.times.len();
        let mut keep = vec![true; n];
        for (slot, range) in &self.row_ranges {
            let Some(values) = rows.fields.get(*slot) else { continue };
            for (i, k) in keep.iter_mut().enumerate() {
                *k = *k && values.is_valid(i) && range.may_hold(values.value(i));
            }
        }
        match keep.iter().filter(|&&k| k).count() {
            0 => Ok(None),
            kept if kept == n => Ok(Some(rows)),
            _ => rows.filter(&BooleanArray::from(keep)).map(Some),
        }
    }

    /// The decoded rows of one part; `None` if it has none.
    fn decoded_rows(&self, part: &ScanPart) -> Result<Option<PartRows>> {
        if let ([entry], true) = (part.chunks.as_slice(), part.head.is_empty()) {
            // One chunk and nothing else: its points are the rows.
            let columns: Vec<Option<usize>> =
                self.row_fields.iter().map(|f| entry.fields.iter().position(|c| c == f)).collect();
            let held: Vec<usize> = columns.iter().flatten().copied().collect();
            let decoded = decode_entry(&self.reader, entry, &held, self.start, self.end)?;
            let n = decoded.timestamps.len();
            if n == 0 {
                return Ok(None);
            }
            let mut values = decoded.values.into_iter();
            let fields = columns
                .iter()
                .map(|c| c.and_then(|_| values.next()).unwrap_or_else(|| Float64Array::new_null(n)))
                .collect();
            return Ok(Some(PartRows { times: decoded.timestamps, fields }));
        }
        let mut sources = read_chunks(&self.reader, &part.chunks, &self.row_fields, self.start, self.end)?;
        for (field, points) in &part.head {
            if let Some(slot) = self.row_fields.iter().position(|r| r == field) {
                sources[slot].push(points.clone());
            }
        }
        let merged: Vec<FieldSeries> = sources.into_iter().map(FieldSeries::merge).collect();
        let Some(first) = merged.iter().find(|f| !f.is_empty()) else { return Ok(None) };
        let times: Vec<i64> = if merged.iter().all(|f| f.times == first.times) {
            first.times.clone()
        } else {
            let mut all: Vec<i64> = merged.iter().flat_map(|f| f.times.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let fields = merged
            .into_iter()
            .map(|f| if f.times.len() == times.len() { Float64Array::from(f.values) } else { spread(&f, &times) })
            .collect();
        Ok(Some(PartRows { times: TimestampNanosecondArray::from(times).with_timezone("UTC"), fields }))
    }

    /// The latest row of `part` from the stats of its newest chunk, when
    /// that chunk alone reaches the part's latest time (so no other source
    /// adds to or overwrites that row) and the time is in the scan's range.
    fn latest_from_stats(&self, part: &ScanPart) -> Option<PartRows> {
        let newest = part.chunks.iter().max_by_key(|c| c.max_time)?;
        let t = newest.max_time;
        let alone = part.chunks.iter().filter(|c| c.max_time >= t).count() == 1
            && part.head.iter().all(|(_, s)| s.times.last().is_none_or(|&h| h < t));
        if !alone || t < self.start || t > self.end {
            return None;
        }
        let last = |f: &FieldId| {
            let column = newest.fields.iter().position(|c| c == f)?;
            newest.stats.get(column).map(|s| s.last)
        };
        let fields = self.row_fields.iter().map(|f| Float64Array::from(vec![last(f)])).collect();
        Some(PartRows { times: TimestampNanosecondArray::from(vec![t]).with_timezone("UTC"), fields })
    }

    /// The rows of one part, sorted by time; `None` if it has none.
    pub(super) fn batch(&self, part: &ScanPart) -> Result<Option<RecordBatch>> {
        match self.part_rows(part)? {
            Some(rows) => self.assemble(&[(part.series, rows)]).map(Some),
            None => Ok(None),
        }
    }

    /// One batch of the scan's schema holding `parts` (series, rows) in order.
    fn assemble(&self, parts: &[(usize, PartRows)]) -> Result<RecordBatch> {
        let joined = |arrays: Vec<&dyn Array>| -> Result<ArrayRef> {
            match arrays.as_slice() {
                [one] => Ok(one.slice(0, one.len())),
                _ => concat(&arrays).map_err(arrow_error),
            }
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        columns.push(joined(parts.iter().map(|(_, p)| &p.times as &dyn Array).collect())?);
        for dictionary in &self.tag_dictionaries {
            columns.push(dictionary.column(parts.iter().map(|(series, p)| (*series, p.times.len())))?);
        }
        for slot in &self.out_fields {
            let column = match slot {
                Some(s) => {
                    joined(parts.iter().filter_map(|(_, p)| p.fields.get(*s).map(|f| f as &dyn Array)).collect())?
                }
                None => Arc::new(Float64Array::new_null(parts.iter().map(|(_, p)| p.times.len()).sum())),
            };
            columns.push(column);
        }
        RecordBatch::try_new(self.schema(), columns).map_err(arrow_error)
    }

    /// The next part's rows (in latest mode: the next series' latest row),
    /// cut to the limit, with its series.
    fn next_part_rows(&mut self) -> Option<Result<(usize, PartRows)>> {
        if self.remaining == Some(0) {
            return None;
        }
        let next = if self.latest { self.next_latest_row() } else { self.next_rows() };
        let (series, rows) = match next? {
            Ok(next) => next,
            Err(e) => return Some(Err(e)),
        };
        let Some(left) = self.remaining else { return Some(Ok((series, rows))) };
        let rows = if rows.times.len() > left { rows.slice(0, left) } else { rows };
        self.remaining = Some(left - rows.times.len());
        Some(Ok((series, rows)))
    }

    /// The rows of the next part that has any.
    fn next_rows(&mut self) -> Option<Result<(usize, PartRows)>> {
        while let Some(part) = self.parts.pop_front() {
            match self.part_rows(&part) {
                Ok(Some(rows)) => return Some(Ok((part.series, rows))),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    /// The latest row of the next series that has any: its parts are
    /// consecutive, oldest partition first, so the newest part with rows
    /// holds it and older parts are not read. Chunk stats give it where
    /// they can; otherwise the part is decoded.
    fn next_latest_row(&mut self) -> Option<Result<(usize, PartRows)>> {
        while let Some(series) = self.parts.front().map(|p| p.series) {
            let count = self.parts.iter().take_while(|p| p.series == series).count();
            let parts: Vec<ScanPart> = self.parts.drain(..count).collect();
            for part in parts.iter().rev() {
                // Stats say nothing of which rows meet field ranges.
                if let Some(row) = self.row_ranges.is_empty().then(|| self.latest_from_stats(part)).flatten() {
                    return Some(Ok((series, row)));
                }
                match self.part_rows(part) {
                    Ok(Some(rows)) => return Some(Ok((series, rows.slice(rows.times.len() - 1, 1)))),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        None
    }
}

/// The rows of one part: their times, ascending, and per row field its
/// values (null where it has none).
struct PartRows {
    times: TimestampNanosecondArray,
    fields: Vec<Float64Array>,
}

impl PartRows {
    /// The rows where `keep` is true.
    fn filter(&self, keep: &BooleanArray) -> Result<Self> {
        let predicate = FilterBuilder::new(keep).optimize().build();
        let times =
            predicate.filter(&self.times).map_err(arrow_error)?.as_primitive::<TimestampNanosecondType>().clone();
        let fields = self
            .fields
            .iter()
            .map(|f| Ok(predicate.filter(f).map_err(arrow_error)?.as_primitive::<Float64Type>().clone()))
            .collect::<Result<_>>()?;
        Ok(Self { times, fields })
    }

    fn slice(&self, offset: usize, len: usize) -> Self {
        Self {
            times: self.times.slice(offset, len),
            fields: self.fields.iter().map(|f| f.slice(offset, len)).collect(),
        }
    }
}

/// One tag column's dictionary, shared by every batch of a scan: the
/// distinct values among the scan's series, sorted, and each series' key.
/// Sharing it lets batches of several series concatenate without merging
/// dictionaries.
#[derive(Debug)]
pub(crate) struct TagDictionary {
    values: ArrayRef,
    /// Per series: the key of its value, `None` where it lacks the tag.
    keys: Vec<Option<i32>>,
    /// Per series: the longest column of its value built so far, sliced
    /// for the batches of that series alone.
    built: Mutex<Vec<Option<ArrayRef>>>,
}

impl TagDictionary {
    /// One per tag column, from the tag values of each series (one per column).
    pub(crate) fn for_series(series_tags: &[Vec<Option<String>>], columns: usize) -> Result<Vec<TagDictionary>> {
        (0..columns)
            .map(|c| {
                fn value(tags: &[Option<String>], c: usize) -> Option<&str> {
                    tags.get(c).and_then(Option::as_deref)
                }
                let distinct: BTreeSet<&str> = series_tags.iter().filter_map(|t| value(t, c)).collect();
                let keys_by_value: BTreeMap<&str, i32> = distinct
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| i32::try_from(k).map(|k| (v, k)))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| Error::InvalidArgument("more than 2^31 values of one tag in a scan".into()))?;
                let keys =
                    series_tags.iter().map(|t| value(t, c).and_then(|v| keys_by_value.get(v).copied())).collect();
                let values: ArrayRef = Arc::new(StringArray::from_iter_values(distinct));
                let built = Mutex::new(vec![None; series_tags.len()]);
                Ok(TagDictionary { values, keys, built })
            })
            .collect()
    }

    /// The column of runs of (series, rows): each series' value, `rows` times.
    fn column(&self, runs: impl Iterator<Item = (usize, usize)>) -> Result<ArrayRef> {
        let runs: Vec<(usize, usize)> = runs.collect();
        let [(series, n)] = runs[..] else { return self.build(runs.into_iter()) };
        // The cache holds finished arrays only, so a poisoned lock still holds valid ones.
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(column) = built.get(series).and_then(Option::as_ref).filter(|c| c.len() >= n) {
            return Ok(column.slice(0, n));
        }
        let column = self.build(runs.into_iter())?;
        if let Some(slot) = built.get_mut(series) {
            *slot = Some(Arc::clone(&column));
        }
        Ok(column)
    }

    fn build(&self, runs: impl Iterator<Item = (usize, usize)>) -> Result<ArrayRef> {
        let mut keys: Vec<i32> = Vec::new();
        let mut valid: Vec<bool> = Vec::new();
        for (series, n) in runs {
            let key = self.keys.get(series).copied().flatten();
            if key.is_none() && valid.is_empty() {
                valid.resize(keys.len(), true);
            }
            if !valid.is_empty() || key.is_none() {
                valid.extend(std::iter::repeat_n(key.is_some(), n));
            }
            keys.extend(std::iter::repeat_n(key.unwrap_or(0), n));
        }
        let nulls = (!valid.is_empty()).then(|| NullBuffer::from(valid));
        let keys = Int32Array::new(keys.into(), nulls);
        let dictionary = DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&self.values)).map_err(arrow_error)?;
        Ok(Arc::new(dictionary))
    }
}

/// An Arrow error as this crate's.
fn arrow_error(e: arrow_schema::ArrowError) -> Error {
    Error::InvalidArgument(e.to_string())
}

/// Reads, verifies and decodes the timestamps of `entry`.
pub(crate) fn chunk_times(reader: &FileReader, entry: &ChunkEntry) -> Result<Vec<i64>> {
    let bytes = reader.read(entry.offset, entry.len as usize)?;
    let corrupt = |e| Error::corrupt_at(reader.path(), entry.offset, e);
    let chunk = Chunk::parse(&bytes).map_err(corrupt)?;
    let mut times = Vec::with_capacity(chunk.count());
    chunk.decode_timestamps(chunk.count(), &mut times).map_err(corrupt)?;
    Ok(times)
}

/// Reads, verifies and decodes the points of `entry` in `start..=end`, of
/// its value columns `columns`.
fn decode_entry(
    reader: &FileReader,
    entry: &ChunkEntry,
    columns: &[usize],
    start: i64,
    end: i64,
) -> Result<DecodedChunk> {
    let bytes = reader.read(entry.offset, entry.len as usize)?;
    let corrupt = |e| Error::corrupt_at(reader.path(), entry.offset, e);
    Chunk::parse(&bytes).map_err(corrupt)?.decode_range(start, end, columns).map_err(corrupt)
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
        let columns: Vec<usize> = wanted.iter().map(|w| w.0).collect();
        let decoded = decode_entry(reader, entry, &columns, start, end)?;
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
        let mut parts = Vec::new();
        let mut rows = 0;
        while rows < self.batch_rows {
            match self.next_part_rows() {
                Some(Ok(part)) => {
                    rows += part.1.times.len();
                    parts.push(part);
                }
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        (!parts.is_empty()).then(|| self.assemble(&parts))
    }
}
