//! Why a downsampling rule was refused: [`RollupError`], checked by
//! [`crate::Db::open`] against the rules of its [`crate::Config`] and the
//! file's partition duration.

/// A downsampling rule that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RollupError {
    /// The source or target measurement name is empty.
    #[error("rollup rule: the {which} measurement name is empty")]
    EmptyName {
        /// `source` or `target`.
        which: &'static str,
    },
    /// The rule would write into the measurement it reads.
    #[error("rollup rule {target}: the target is its own source measurement")]
    TargetIsSource {
        /// The measurement.
        target: String,
    },
    /// The rule computes nothing.
    #[error("rollup rule {target}: no aggregates")]
    NoAggregates {
        /// The target measurement.
        target: String,
    },
    /// The window is zero.
    #[error("rollup rule {target}: the window is zero")]
    ZeroWindow {
        /// The target measurement.
        target: String,
    },
    /// Windows would straddle partitions: the window must divide the
    /// partition duration, so a partition holds whole windows.
    #[error(
        "rollup rule {target}: a window of {window_ns} ns does not divide the partition duration of {partition_ns} ns"
    )]
    WindowNotDividingPartition {
        /// The target measurement.
        target: String,
        /// The window, in nanoseconds.
        window_ns: i64,
        /// The partition duration of the database file, in nanoseconds.
        partition_ns: i64,
    },
    /// Two rules write the same measurement.
    #[error("rollup rules: {target} is the target of two rules")]
    DuplicateTarget {
        /// The target measurement.
        target: String,
    },
    /// A rule reads what another rule writes (rollups of rollups are not supported).
    #[error("rollup rules: {target} is the target of one rule and the source of another")]
    TargetIsARuleSource {
        /// The measurement.
        target: String,
    },
}
