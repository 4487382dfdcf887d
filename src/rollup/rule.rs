//! [`RollupRule`]: which measurement is downsampled, over which window,
//! with which aggregates, into which measurement; and how the target's
//! fields are named (`<field>_<aggregate>`).

use std::collections::BTreeSet;
use std::time::Duration;

use super::error::RollupError;

/// An aggregate a rule stores per series, window and field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RollupAggregate {
    /// The arithmetic mean (stored for readers; the dialect answers a mean
    /// over several windows from `sum` and `count`, never from means).
    Mean,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The sum.
    Sum,
    /// The number of values.
    Count,
    /// The value at the latest timestamp.
    Last,
}

impl RollupAggregate {
    /// Every aggregate, in field order.
    pub const ALL: [RollupAggregate; 6] = [
        RollupAggregate::Mean,
        RollupAggregate::Min,
        RollupAggregate::Max,
        RollupAggregate::Sum,
        RollupAggregate::Count,
        RollupAggregate::Last,
    ];

    /// The suffix of the target field: `value` becomes `value_<suffix>`.
    pub fn suffix(self) -> &'static str {
        match self {
            RollupAggregate::Mean => "mean",
            RollupAggregate::Min => "min",
            RollupAggregate::Max => "max",
            RollupAggregate::Sum => "sum",
            RollupAggregate::Count => "count",
            RollupAggregate::Last => "last",
        }
    }

    /// The name of the target field holding this aggregate of `field`. No
    /// suffix ends with another one after a `_`, so two (field, aggregate)
    /// pairs never share a name.
    pub fn field_name(self, field: &str) -> String {
        format!("{field}_{}", self.suffix())
    }
}

/// A downsampling rule: every float field of measurement `source`,
/// aggregated per series and `window` into measurement `target`, one row per
/// series and window at the window's start, with every tag of the series.
///
/// ```
/// use std::time::Duration;
/// use chronicle::{Config, RollupAggregate, RollupRule};
///
/// let config = Config::default()
///     .with_rollup(RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m"))
///     .with_rollup(
///         RollupRule::new("cpu", Duration::from_secs(3600), "cpu_1h")
///             .with_aggregates([RollupAggregate::Sum, RollupAggregate::Count]),
///     );
/// assert_eq!(config.rollups.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRule {
    source: String,
    window: Duration,
    target: String,
    aggregates: BTreeSet<RollupAggregate>,
}

impl RollupRule {
    /// A rule computing every aggregate of [`RollupAggregate::ALL`].
    pub fn new(source: impl Into<String>, window: Duration, target: impl Into<String>) -> Self {
        Self { source: source.into(), window, target: target.into(), aggregates: RollupAggregate::ALL.into() }
    }

    /// The rule computing only `aggregates`.
    pub fn with_aggregates(mut self, aggregates: impl IntoIterator<Item = RollupAggregate>) -> Self {
        self.aggregates = aggregates.into_iter().collect();
        self
    }

    /// The measurement read.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The measurement written.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The aggregates computed, in field order.
    pub fn aggregates(&self) -> impl Iterator<Item = RollupAggregate> + '_ {
        self.aggregates.iter().copied()
    }

    /// Whether the rule computes `aggregate`.
    pub fn computes(&self, aggregate: RollupAggregate) -> bool {
        self.aggregates.contains(&aggregate)
    }

    /// The window in nanoseconds (saturating; validated to be positive).
    pub(crate) fn window_ns(&self) -> i64 {
        i64::try_from(self.window.as_nanos()).unwrap_or(i64::MAX)
    }

    /// The start of the window holding `t` (windows start at multiples of
    /// the window from the epoch, like partitions).
    pub(crate) fn window_of(&self, t: i64) -> i64 {
        let w = self.window_ns();
        t - t.rem_euclid(w)
    }

    /// Checks this rule alone, for a file whose partitions last `partition_ns`.
    fn validate(&self, partition_ns: i64) -> Result<(), RollupError> {
        let target = || self.target.clone();
        if self.source.is_empty() {
            return Err(RollupError::EmptyName { which: "source" });
        }
        if self.target.is_empty() {
            return Err(RollupError::EmptyName { which: "target" });
        }
        if self.source == self.target {
            return Err(RollupError::TargetIsSource { target: target() });
        }
        if self.aggregates.is_empty() {
            return Err(RollupError::NoAggregates { target: target() });
        }
        let window_ns = self.window_ns();
        if window_ns == 0 {
            return Err(RollupError::ZeroWindow { target: target() });
        }
        if partition_ns % window_ns != 0 {
            return Err(RollupError::WindowNotDividingPartition { target: target(), window_ns, partition_ns });
        }
        Ok(())
    }
}

/// Checks `rules` together, for a file whose partitions last `partition_ns`.
pub(crate) fn validate_rules(rules: &[RollupRule], partition_ns: i64) -> Result<(), RollupError> {
    let mut targets = BTreeSet::new();
    for rule in rules {
        rule.validate(partition_ns)?;
        if !targets.insert(rule.target.as_str()) {
            return Err(RollupError::DuplicateTarget { target: rule.target.clone() });
        }
    }
    match rules.iter().find(|r| targets.contains(r.source.as_str())) {
        Some(r) => Err(RollupError::TargetIsARuleSource { target: r.source.clone() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn rule(window_s: u64) -> RollupRule {
        RollupRule::new("cpu", Duration::from_secs(window_s), "cpu_rollup")
    }

    #[test]
    fn windows_start_at_multiples_from_the_epoch_also_before_it() {
        let r = rule(300);
        let w = 300_000_000_000;
        assert_eq!(r.window_of(0), 0);
        assert_eq!(r.window_of(w - 1), 0);
        assert_eq!(r.window_of(w), w);
        assert_eq!(r.window_of(-1), -w);
    }

    #[test]
    fn each_bad_rule_is_refused_with_its_reason() {
        assert_eq!(validate_rules(&[rule(300)], HOUR), Ok(()));
        assert!(matches!(
            validate_rules(&[rule(7 * 60)], HOUR),
            Err(RollupError::WindowNotDividingPartition { window_ns: 420_000_000_000, partition_ns: HOUR, .. })
        ));
        assert!(matches!(validate_rules(&[rule(0)], HOUR), Err(RollupError::ZeroWindow { .. })));
        assert!(matches!(
            validate_rules(&[rule(300).with_aggregates([])], HOUR),
            Err(RollupError::NoAggregates { .. })
        ));
        let same = RollupRule::new("cpu", Duration::from_secs(300), "cpu");
        assert_eq!(validate_rules(&[same], HOUR), Err(RollupError::TargetIsSource { target: "cpu".into() }));
        let nameless = RollupRule::new("cpu", Duration::from_secs(300), "");
        assert_eq!(validate_rules(&[nameless], HOUR), Err(RollupError::EmptyName { which: "target" }));
        assert_eq!(
            validate_rules(&[rule(300), rule(600)], HOUR),
            Err(RollupError::DuplicateTarget { target: "cpu_rollup".into() })
        );
        let chained = RollupRule::new("cpu_rollup", Duration::from_secs(3600), "cpu_1h");
        assert_eq!(
            validate_rules(&[rule(300), chained], HOUR),
            Err(RollupError::TargetIsARuleSource { target: "cpu_rollup".into() })
        );
    }

    #[test]
    fn field_names_never_collide() {
        let mut names = BTreeSet::new();
        for field in ["a", "a_sum", "a_min", "sum", "a_count"] {
            for agg in RollupAggregate::ALL {
                assert!(names.insert(agg.field_name(field)), "{field} {agg:?}");
            }
        }
    }
}
