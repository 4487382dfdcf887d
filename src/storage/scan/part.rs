//! One series' data in one time partition, as a scan gathers it when it
//! starts ([`ScanPart`]: chunk directory entries and head points), and the
//! reads that decode chunks of the file.

use super::row_fields::RowFields;
use crate::encoding::{Chunk, DecodedChunk};
use crate::error::{Error, Result};
use crate::storage::file::partition_block::ChunkEntry;
use crate::storage::file::store::FileReader;
use crate::storage::merge::FieldSeries;
use crate::storage::series_index::FieldId;

/// One series' data in one partition, gathered when the scan starts.
#[derive(Debug)]
pub(crate) struct ScanPart {
    /// Index into the scan's series tags.
    pub series: usize,
    /// The partition number.
    pub partition: i64,
    /// Chunks that may hold rows, in file order.
    pub chunks: Vec<ChunkEntry>,
    /// Head points per field, resolved and restricted to the range.
    pub head: Vec<(FieldId, FieldSeries)>,
}

impl ScanPart {
    /// Times known to hold rows within `start..=end`: the bounds of chunks
    /// whose every time is a row, and the ends of head columns whose every
    /// point is a row (the head is already in the scan's range).
    pub(crate) fn known_times<'a>(
        &'a self,
        fields: &'a RowFields,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = i64> + 'a {
        let chunks = self.chunks.iter().filter(|c| fields.all_rows(&c.fields)).flat_map(|c| [c.min_time, c.max_time]);
        let head = self
            .head
            .iter()
            .filter(|(f, _)| fields.all_rows(&[*f]))
            .flat_map(|(_, s)| s.times.first().into_iter().chain(s.times.last()).copied());
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

    /// Per chunk: whether no other source of the part (another chunk, or a
    /// head column) that overlaps it in time `conflicts` with it (given the
    /// chunk and the fields of the other). With every overlap a conflict, a
    /// chunk apart holds exactly the part's rows in its span: nothing newer
    /// overwrites them, nothing older shows through, no other source adds one.
    pub(crate) fn chunks_apart(&self, conflicts: impl Fn(&ChunkEntry, &[FieldId]) -> bool) -> Vec<bool> {
        let chunks = self.chunks.iter().map(|c| (c.min_time, c.max_time, &c.fields[..]));
        let head =
            self.head.iter().filter_map(|(f, s)| Some((*s.times.first()?, *s.times.last()?, std::slice::from_ref(f))));
        let sources: Vec<(i64, i64, &[FieldId])> = chunks.chain(head).collect();
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let overlapping =
                    sources.iter().enumerate().filter(|&(j, &(a, b, _))| j != i && a <= c.max_time && b >= c.min_time);
                !overlapping.into_iter().any(|(_, (_, _, fields))| conflicts(c, fields))
            })
            .collect()
    }

    /// An upper bound of the rows: every row has a value of some field, so
    /// the field with the most points bounds them from below; duplicates
    /// across sources make this an estimate, not an exact count.
    pub(crate) fn estimated_rows(&self) -> usize {
        let mut fields: Vec<FieldId> = self.chunks.iter().flat_map(|c| c.fields.iter().copied()).collect();
        fields.extend(self.head.iter().map(|(f, _)| *f));
        fields.sort_unstable();
        fields.dedup();
        fields
            .iter()
            .map(|f| {
                let chunks: usize = self.chunks.iter().filter(|c| c.fields.contains(f)).map(|c| c.count as usize).sum();
                let head: usize = self.head.iter().filter(|(h, _)| h == f).map(|(_, s)| s.len()).sum();
                chunks + head
            })
            .max()
            .unwrap_or(0)
    }
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
/// its value columns `columns` (none: the timestamps alone).
pub(crate) fn decode_entry(
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

/// Decodes `chunks` (one series, in file order), each given with time
/// ranges whose points are left out (deleted, expired, tiered), and returns,
/// for each of `fields`, its points in `start..=end` from each chunk that
/// holds it, oldest first, ready for [`FieldSeries::merge`].
pub(crate) fn read_masked_chunks<'a>(
    reader: &FileReader,
    chunks: impl IntoIterator<Item = (&'a ChunkEntry, &'a [(i64, i64)])>,
    fields: &[FieldId],
    start: i64,
    end: i64,
) -> Result<Vec<Vec<FieldSeries>>> {
    let mut sources: Vec<Vec<FieldSeries>> = vec![Vec::new(); fields.len()];
    for (entry, deleted) in chunks {
        let wanted: Vec<(usize, usize)> = entry
            .fields
            .iter()
            .enumerate()
            .filter_map(|(col, f)| fields.iter().position(|r| r == f).map(|slot| (col, slot)))
            .collect();
        let gone = deleted.iter().any(|&(s, e)| s <= entry.min_time && entry.max_time <= e);
        if wanted.is_empty() || entry.max_time < start || entry.min_time > end || gone {
            continue;
        }
        let columns: Vec<usize> = wanted.iter().map(|w| w.0).collect();
        let decoded = decode_entry(reader, entry, &columns, start, end)?;
        let times = decoded.timestamps.values().to_vec();
        for ((_, slot), values) in wanted.iter().zip(decoded.values) {
            let mut series = FieldSeries { times: times.clone(), values: values.values().to_vec() };
            series.remove_within(deleted);
            sources[*slot].push(series);
        }
    }
    Ok(sources)
}
