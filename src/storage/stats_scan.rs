//! Stats scans: a [`Scan`] that hands whole chunks over as their statistics
//! instead of decoding them, for aggregates that can fold statistics.
//!
//! A chunk is *whole* when it lies wholly inside the scan's time range,
//! every time of it is a row ([`super::scan::RowFields::all_rows`]), and no
//! other source of its series and partition (another chunk, head points)
//! that overlaps it in time holds a decoded field it holds
//! ([`ScanPart::chunks_apart`]; with `present` conditions, no other source
//! overlaps it at all). Then its stats are exactly the values of its fields
//! in the scan's rows within its span, with nothing for last-write-wins to
//! resolve, and the other sources, decoded without it, give the other
//! fields' values at its times (its fields null there). Whole chunks the
//! caller accepts are handed over; everything else is decoded and merged as
//! the scan does.
//!
//! Invariants: every value of a decoded field in the scan's rows is in
//! exactly one item, every group of rows (series, bucket) has an item, and
//! items come in the scan's order: parts (series, partition) as the scan
//! orders them, and within a part by time (rows before a chunk, the chunk,
//! rows after, which may include rows of other fields within its span). So
//! folding the items feeds an aggregate of fields the scan's values, with
//! runs of them replaced by their chunk's stats. Items do not count rows:
//! `count(*)` is not answered this way.

use std::collections::VecDeque;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_schema::SchemaRef;

use super::file::partition_block::ChunkEntry;
use super::scan::{Scan, ScanPart};
use super::series_index::FieldId;
use crate::encoding::stats::ColumnStats;
use crate::error::{Error, Result};

/// A chunk handed over as its statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WholeChunk {
    /// Index of the series among the scan's ([`StatsScan::series_tags`]).
    pub series: usize,
    /// Points of each field it holds (its fields share its timestamps).
    pub count: u32,
    /// Earliest timestamp.
    pub min_time: i64,
    /// Latest timestamp.
    pub max_time: i64,
    /// Per field column of the scan's schema: its stats, `None` if the chunk lacks it.
    pub fields: Vec<Option<ColumnStats>>,
}

/// One item of a stats scan.
#[derive(Debug)]
pub(crate) enum StatsItem {
    /// A whole chunk.
    Chunk(WholeChunk),
    /// Decoded rows of one series, in the scan's schema, sorted by time.
    Rows(RecordBatch),
}

/// A scan handing over whole chunks that `accept` accepts; see the module docs.
#[derive(Debug)]
pub(crate) struct StatsScan<F> {
    scan: Scan,
    accept: F,
    ready: VecDeque<StatsItem>,
}

impl Scan {
    /// This scan as a stats scan. A limited scan hands nothing over (its
    /// limit counts rows) and only returns rows.
    pub(crate) fn with_stats<F: FnMut(&WholeChunk) -> bool>(self, accept: F) -> StatsScan<F> {
        StatsScan { scan: self, accept, ready: VecDeque::new() }
    }
}

impl<F: FnMut(&WholeChunk) -> bool> StatsScan<F> {
    /// The schema of the decoded rows (`time`, the tags, the fields).
    pub(crate) fn schema(&self) -> SchemaRef {
        self.scan.schema()
    }

    /// Tag values of series `series`, one per tag column of the schema.
    pub(crate) fn series_tags(&self, series: usize) -> &[Option<String>] {
        self.scan.series_tags.get(series).map(Vec::as_slice).unwrap_or_default()
    }

    /// Queues the items of the next part; false when no part is left.
    fn next_part(&mut self) -> Result<bool> {
        let Some(mut part) = self.scan.parts.pop_front() else { return Ok(false) };
        let mut whole = self.take_whole(&mut part);
        whole.sort_by_key(|c| c.min_time);
        let Some(rows) = self.scan.batch(&part)? else {
            self.ready.extend(whole.into_iter().map(StatsItem::Chunk));
            return Ok(true);
        };
        let times = rows
            .column(0)
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or_else(|| Error::Internal("a scan batch does not start with its time column".into()))?
            .values();
        let mut at = 0;
        for chunk in whole {
            // No decoded row lies within a whole chunk's span.
            let before = times.partition_point(|&t| t < chunk.min_time);
            if before > at {
                self.ready.push_back(StatsItem::Rows(rows.slice(at, before - at)));
            }
            at = before;
            self.ready.push_back(StatsItem::Chunk(chunk));
        }
        if at < rows.num_rows() {
            self.ready.push_back(StatsItem::Rows(rows.slice(at, rows.num_rows() - at)));
        }
        Ok(true)
    }

    /// Removes the whole chunks of `part` that the caller accepts and returns them.
    fn take_whole(&mut self, part: &mut ScanPart) -> Vec<WholeChunk> {
        let scan = &self.scan;
        // With conditions, rows at a chunk's times may depend on another source.
        let relaxed = scan.fields.present.is_empty();
        let values = &scan.fields.values;
        let conflicts = |c: &ChunkEntry, other: &[FieldId]| {
            !relaxed || other.iter().any(|f| c.fields.contains(f) && values.contains(f))
        };
        let mut isolated = part.chunks_apart(conflicts).into_iter();
        let mut taken = Vec::new();
        part.chunks.retain(|c| {
            let whole = isolated.next().unwrap_or(false)
                && scan.start <= c.min_time
                && c.max_time <= scan.end
                && scan.fields.all_rows(&c.fields);
            if !whole {
                return true;
            }
            let stats_of = |slot: &Option<usize>| {
                let field = scan.fields.values.get((*slot)?)?;
                let column = c.fields.iter().position(|f| f == field)?;
                c.stats.get(column).copied()
            };
            let chunk = WholeChunk {
                series: part.series,
                count: c.count,
                min_time: c.min_time,
                max_time: c.max_time,
                fields: scan.out_fields.iter().map(stats_of).collect(),
            };
            let accepted = (self.accept)(&chunk);
            if accepted {
                taken.push(chunk);
            }
            !accepted
        });
        taken
    }
}

impl<F: FnMut(&WholeChunk) -> bool> Iterator for StatsScan<F> {
    type Item = Result<StatsItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.scan.remaining.is_some() {
            return self.scan.next().map(|rows| rows.map(StatsItem::Rows));
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            match self.next_part() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;
    use crate::storage::scan::ScanRequest;
    use crate::{Config, Db, Row};

    fn rows(times: &[i64], value: f64) -> Vec<Row> {
        times.iter().map(|&t| Row::new("m", t).with_tag("k", "v").with_field("f", value)).collect()
    }

    #[test]
    fn whole_chunks_come_between_the_rows_around_them_and_every_row_once() {
        let dir = std::env::temp_dir().join(format!("chronicle-stats-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config::default().with_partition_duration(std::time::Duration::from_nanos(1_000));
        let db = Db::open(dir.join("db"), config).unwrap();
        // Partition 0: one chunk [10, 20]; then a later block [30, 40] and head points 50, 15.
        db.write_rows(&rows(&[10, 20], 1.0)).unwrap();
        db.flush().unwrap();
        db.write_rows(&rows(&[30, 40], 2.0)).unwrap();
        db.flush().unwrap();
        db.write_rows(&rows(&[50], 3.0)).unwrap();
        let scan = db.scan(&ScanRequest::new("m").with_time_range(0, 45)).unwrap();
        let items: Vec<StatsItem> = scan.with_stats(|_| true).collect::<Result<_>>().unwrap();
        let shape: Vec<String> = items
            .iter()
            .map(|i| match i {
                StatsItem::Chunk(c) => format!("chunk {}..{} x{}", c.min_time, c.max_time, c.count),
                StatsItem::Rows(b) => format!("rows {}", b.num_rows()),
            })
            .collect();
        // The head point 50 is out of range, so both chunks are whole.
        assert_eq!(shape, ["chunk 10..20 x2", "chunk 30..40 x2"]);

        // Head point 15 overwrites inside the first chunk: it is decoded, the second is not.
        db.write_rows(&rows(&[15], 4.0)).unwrap();
        let scan = db.scan(&ScanRequest::new("m").with_time_range(0, 45)).unwrap();
        let items: Vec<StatsItem> = scan.with_stats(|_| true).collect::<Result<_>>().unwrap();
        assert!(
            matches!(&items[..], [StatsItem::Rows(b), StatsItem::Chunk(c)] if b.num_rows() == 3 && c.min_time == 30)
        );
        // A range cutting the second chunk decodes it too; refused chunks are decoded.
        let scan = db.scan(&ScanRequest::new("m").with_time_range(0, 35)).unwrap();
        let items: Vec<StatsItem> = scan.with_stats(|_| true).collect::<Result<_>>().unwrap();
        assert!(matches!(&items[..], [StatsItem::Rows(b)] if b.num_rows() == 4));
        let scan = db.scan(&ScanRequest::new("m").with_time_range(0, 45)).unwrap();
        let items: Vec<StatsItem> = scan.with_stats(|c| c.min_time != 30).collect::<Result<_>>().unwrap();
        assert!(matches!(&items[..], [StatsItem::Rows(b)] if b.num_rows() == 5), "the refused chunk is decoded");
        db.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
