//! Scans: the rows of one measurement's matching series, fields and time
//! range, as Arrow record batches merged from the file and the head.
//!
//! Output schema: `time` (`Timestamp(Nanosecond, "UTC")`), one
//! `Dictionary(Int32, Utf8)` column per returned tag key (null where a
//! series lacks the tag), then one nullable `Float64` column per returned
//! field. A row is a (series, time) at which any field of the measurement
//! has a value, whatever the scan returns ([`row_fields`]); a field without
//! a value there is null.
//!
//! Batches come one per (series, partition), ordered by the series' values
//! of the returned tags (in column order, a missing tag last), then time; so
//! within one partition the output is sorted by (tags..., time) when every
//! tag is returned. [`Scan::with_batch_rows`] gathers consecutive parts into
//! larger batches, in the same order. Every batch of a scan shares one
//! dictionary per tag column ([`tag_dictionary`]).
//! The scan works on a snapshot taken when it starts: later writes are not
//! seen, and a compaction does not disturb it.

mod chunk_rows;
mod part;
mod part_rows;
mod request;
mod row_fields;
mod tag_dictionary;

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow_select::concat::concat;

pub(crate) use part::{ScanPart, chunk_times, read_masked_chunks};
use part_rows::{PartRows, arrow_error};
pub use request::{FieldRange, ScanRequest};
pub(crate) use request::{ScanOptions, TopBuckets};
pub(crate) use row_fields::RowFields;
pub(crate) use tag_dictionary::TagDictionary;

use crate::error::Result;
use crate::storage::file::store::FileReader;

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

/// A running scan: an iterator of record batches.
#[derive(Debug)]
pub struct Scan {
    pub(crate) schema: SchemaRef,
    pub(crate) reader: FileReader,
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Values of the returned tags of each series, one per tag column.
    pub(crate) series_tags: Vec<Vec<Option<String>>>,
    /// The decoded fields and the conditions rows meet.
    pub(crate) fields: RowFields,
    /// Per output field column: its slot in `fields`, or `None` (unknown field).
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
    /// Consecutive parts of one partition whose series have equal tag
    /// values are merged by time (see [`ScanOptions::sorted`]).
    pub(crate) sorted: bool,
    /// Rows read before the scan started (the cold tier's, see
    /// [`Scan::with_rows`]), returned before the parts.
    pub(crate) ready: VecDeque<RecordBatch>,
}

/// What a scan will read, known before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScanEstimate {
    /// Partitions holding rows, ascending.
    pub partitions: Vec<i64>,
    /// An estimate of the rows (see [`ScanPart::estimated_rows`]).
    pub rows: usize,
    /// Smallest and largest time of the chunks and head points read.
    pub time_bounds: Option<(i64, i64)>,
}

impl Scan {
    /// What the scan will read.
    pub(crate) fn estimate(&self) -> ScanEstimate {
        let mut partitions: Vec<i64> = self.parts.iter().map(|p| p.partition).collect();
        partitions.sort_unstable();
        partitions.dedup();
        let mut rows = 0;
        let mut bounds: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        for part in &self.parts {
            rows += part.estimated_rows();
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

    /// This scan returning only the latest row of each series, as if
    /// planned with [`ScanOptions::latest`] (which changes what is
    /// returned, not what is read).
    pub(crate) fn in_latest_mode(mut self) -> Self {
        self.latest = true;
        self.sorted = false;
        self
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// This scan returning `rows` (of its schema) first: rows read
    /// elsewhere, such as the cold tier's ([`crate::Db::scan`]).
    pub(crate) fn with_rows(mut self, rows: Vec<RecordBatch>) -> Self {
        self.ready.extend(rows);
        self
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

    /// The rows of one part that may meet the field ranges; `None` if none do.
    fn part_rows(&self, part: &ScanPart) -> Result<Option<PartRows>> {
        self.fields.rows(&self.reader, part, self.start, self.end)
    }

    /// The latest row of `part` from the stats of its newest chunk, when
    /// that chunk alone reaches the part's latest time (so no other source
    /// adds to or overwrites that row), its times are rows, and the time is
    /// in the scan's range.
    fn latest_from_stats(&self, part: &ScanPart) -> Option<PartRows> {
        let newest = part.chunks.iter().max_by_key(|c| c.max_time)?;
        let t = newest.max_time;
        let alone = part.chunks.iter().filter(|c| c.max_time >= t).count() == 1
            && part.head.iter().all(|(_, s)| s.times.last().is_none_or(|&h| h < t));
        if !alone || t < self.start || t > self.end || !self.fields.all_rows(&newest.fields) {
            return None;
        }
        let last = |f: &crate::storage::series_index::FieldId| {
            let column = newest.fields.iter().position(|c| c == f)?;
            newest.stats.get(column).map(|s| s.last)
        };
        let fields = self.fields.values.iter().map(|f| Float64Array::from(vec![last(f)])).collect();
        Some(PartRows::new(TimestampNanosecondArray::from(vec![t]), fields))
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
            columns.push(dictionary.column(parts.iter().map(|(series, p)| (*series, p.len())))?);
        }
        for slot in &self.out_fields {
            let column = match slot {
                Some(s) => {
                    joined(parts.iter().filter_map(|(_, p)| p.fields.get(*s).map(|f| f as &dyn Array)).collect())?
                }
                None => Arc::new(Float64Array::new_null(parts.iter().map(|(_, p)| p.len()).sum())),
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
        let rows = if rows.len() > left { rows.slice(0, left) } else { rows };
        self.remaining = Some(left - rows.len());
        Some(Ok((series, rows)))
    }

    /// The rows of the next part that has any; when sorted, merged by time
    /// with the parts right after it of the same partition and tag values.
    fn next_rows(&mut self) -> Option<Result<(usize, PartRows)>> {
        while let Some(part) = self.parts.pop_front() {
            let mut group = vec![part];
            while self.sorted
                && let Some(next) = self.parts.front()
                && next.partition == group[0].partition
                && self.series_tags.get(next.series) == self.series_tags.get(group[0].series)
            {
                group.extend(self.parts.pop_front());
            }
            let mut rows = Vec::with_capacity(group.len());
            for part in &group {
                match self.part_rows(part) {
                    Ok(Some(r)) => rows.push(r),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            if rows.is_empty() {
                continue;
            }
            return Some(PartRows::merge_by_time(&rows).map(|rows| (group[0].series, rows)));
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
                if let Some(row) = self.fields.ranges.is_empty().then(|| self.latest_from_stats(part)).flatten() {
                    return Some(Ok((series, row)));
                }
                match self.part_rows(part) {
                    Ok(Some(rows)) => return Some(Ok((series, rows.slice(rows.len() - 1, 1)))),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        None
    }
}

impl Iterator for Scan {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(rows) = self.ready.pop_front() {
            return Some(Ok(rows));
        }
        let mut parts = Vec::new();
        let mut rows = 0;
        while rows < self.batch_rows {
            match self.next_part_rows() {
                Some(Ok(part)) => {
                    rows += part.1.len();
                    parts.push(part);
                }
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        (!parts.is_empty()).then(|| self.assemble(&parts))
    }
}
