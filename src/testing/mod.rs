//! Seeded data generators for tests and benchmarks (feature `testing`), file
//! systems that fail on cue ([`FaultyFs`]) or live in memory ([`MemFs`]), and
//! the fuzz entry points ([`fuzz`]).
//!
//! Every generator is deterministic for a given seed, so a failing property test
//! or a benchmark figure can be reproduced exactly. Timestamps are nanoseconds
//! from [`START_NS`] (2026-01-01T00:00:00Z) and always ascend.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "generator parameters are constants known to be valid")]

mod exporter;
mod faulty_fs;
pub mod fuzz;
mod highcard;
mod mem_fs;
mod reference;
mod series;
mod tsbs;

pub use exporter::{
    BUCKET_BOUNDS, CPU_MODES, EXPORTER_CPUS, EXPORTER_SERIES_PER_HOST, ExporterHost, HANDLERS, NET_DEVICES,
};
pub use faulty_fs::{FaultyFs, Hold, Op};
pub use highcard::{HIGHCARD_MEASUREMENTS, Highcard, HighcardBatch, HighcardHost, HighcardRow};
pub use mem_fs::MemFs;
pub use reference::Reference;

pub use series::{Series, constant, counter, gauge_1dp, irregular_ts, random_f64};
pub use tsbs::{CPU_FIELDS, CpuRow, HostSeries, TsbsCpu, cpu_row_batches};

/// 2026-01-01T00:00:00Z in nanoseconds.
pub const START_NS: i64 = 1_767_225_600_000_000_000;
/// One second in nanoseconds.
pub const SECOND_NS: i64 = 1_000_000_000;
/// One hour in nanoseconds: the default partition duration.
pub const HOUR_NS: i64 = 3_600 * SECOND_NS;

/// Splits ascending `timestamps` at multiples of `partition_ns`: the index
/// ranges one chunk per time partition would hold.
pub fn partition_ranges(timestamps: &[i64], partition_ns: i64) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < timestamps.len() {
        let bucket = timestamps[start].div_euclid(partition_ns);
        let len = timestamps[start..].partition_point(|t| t.div_euclid(partition_ns) == bucket);
        ranges.push(start..start + len);
        start += len;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_split_at_hour_boundaries() {
        let ts: Vec<i64> = (0..1000).map(|i| START_NS + i * 10 * SECOND_NS).collect();
        let ranges = partition_ranges(&ts, HOUR_NS);
        assert_eq!(ranges.len(), 3);
        assert_eq!(ranges[0], 0..360);
        assert_eq!(ranges[2], 720..1000);
    }
}
