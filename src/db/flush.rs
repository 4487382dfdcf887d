//! Turning series data into partition blocks: the encoding half of a flush
//! and of a compaction.
//!
//! Fields of a series whose timestamps are identical share one chunk (the
//! timestamps are stored once); a field with other timestamps gets its own.
//! Chunks hold at most [`MAX_POINTS_PER_CHUNK`] points, so a scan of a short
//! range never decodes much more than it needs.

use crate::encoding::{ChunkEncoder, Result};
use crate::storage::file::partition_block::PartitionBlockBuilder;
use crate::storage::merge::FieldSeries;
use crate::storage::series_index::{FieldId, SeriesId};

/// Largest chunk, in points per field.
pub const MAX_POINTS_PER_CHUNK: usize = 16_384;

/// Adds the chunks of one series (fields ascending by id) to `builder`.
pub fn add_series(
    builder: &mut PartitionBlockBuilder,
    encoder: &mut ChunkEncoder,
    series: SeriesId,
    fields: &[(FieldId, FieldSeries)],
) -> Result<()> {
    // (fields, their shared times, their values)
    type Group<'a> = (Vec<FieldId>, &'a [i64], Vec<&'a [f64]>);
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (field, data) in fields.iter().filter(|(_, d)| !d.is_empty()) {
        match groups.iter_mut().find(|g| g.1 == data.times.as_slice()) {
            Some(g) => {
                g.0.push(*field);
                g.2.push(&data.values);
            }
            None => groups.push((vec![*field], &data.times, vec![&data.values])),
        }
    }
    for (ids, times, columns) in &groups {
        for start in (0..times.len()).step_by(MAX_POINTS_PER_CHUNK) {
            let end = (start + MAX_POINTS_PER_CHUNK).min(times.len());
            let slices: Vec<&[f64]> = columns.iter().map(|c| &c[start..end]).collect();
            builder.add_chunk(encoder, series, ids, &times[start..end], &slices)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sharing_times_share_a_chunk_and_long_series_split() {
        let mut b = PartitionBlockBuilder::new(0);
        let mut enc = ChunkEncoder::default();
        let n = MAX_POINTS_PER_CHUNK + 5;
        let times: Vec<i64> = (0..n as i64).collect();
        let same = FieldSeries { times: times.clone(), values: vec![1.0; n] };
        let other = FieldSeries { times: vec![3], values: vec![2.0] };
        add_series(&mut b, &mut enc, 7, &[(0, same.clone()), (1, other), (2, same)]).expect("encodes");
        let block = b.finish(&mut Vec::new(), 0).expect("finishes");
        let shapes: Vec<(Vec<FieldId>, u32)> = block.entries.iter().map(|e| (e.fields.to_vec(), e.count)).collect();
        assert_eq!(shapes, vec![(vec![0, 2], MAX_POINTS_PER_CHUNK as u32), (vec![0, 2], 5), (vec![1], 1)]);
    }
}
