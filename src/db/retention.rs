//! Retention: which partitions have expired, decided from the clock, the
//! configured ages and the bytes the database holds.
//!
//! A partition (or one measurement's part of it) is expired once its end is
//! older than now minus the age (the measurement's own, or the database's).
//! Over the size limit, the oldest partitions expire until the rest fits;
//! the bytes are those of the file's partition blocks plus the tiered
//! Parquet files (a tiered partition counts both copies until compaction
//! drops its local chunks); the head and the WAL do not count.
//!
//! Expiry is always a prefix of a measurement's partitions, so it is one
//! time per measurement, [`Expiry::live_from`]: a read decides it once when
//! it is planned and starts its time range there, so a query sees a whole
//! partition or none of it. The size cut never moves back within a process
//! (compaction's deduplication may shrink the file below the limit again);
//! compaction removes what expired, so it does not come back after a reopen.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::state::State;
use crate::error::Result;
use crate::tier::Tier;

/// How long data is kept and how much of it: see the module docs of
/// `db::retention`. Empty by default (data is kept forever).
///
/// ```
/// use std::time::Duration;
/// use chronicle::{Config, Retention};
///
/// let day = Duration::from_secs(86_400);
/// let config = Config::default()
///     .with_retention(Retention::new().max_age(30 * day).max_bytes(10 << 30).measurement("debug_trace", day));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Partitions whose end is older than this expire (every measurement
    /// without its own age).
    pub max_age: Option<Duration>,
    /// Over this many bytes (file blocks plus tiered files), the oldest
    /// partitions expire until the rest fits.
    pub max_bytes: Option<u64>,
    /// Ages of single measurements, overriding `max_age`.
    pub measurements: BTreeMap<String, Duration>,
}

impl Retention {
    /// Keeps everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the database-wide age.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Sets the database-wide size limit in bytes.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Sets the age of `measurement`.
    pub fn measurement(mut self, measurement: impl Into<String>, age: Duration) -> Self {
        self.measurements.insert(measurement.into(), age);
        self
    }

    /// Whether anything ever expires.
    fn is_empty(&self) -> bool {
        self.max_age.is_none() && self.max_bytes.is_none() && self.measurements.is_empty()
    }
}

/// What has expired at one instant: the first live nanosecond of each measurement.
#[derive(Debug, Clone)]
pub(crate) struct Expiry {
    /// First live nanosecond for measurements without an age of their own.
    default_from: i64,
    /// First live nanosecond of measurements with their own age.
    own_from: HashMap<String, i64>,
}

impl Expiry {
    /// Nothing expired.
    pub fn none() -> Self {
        Self { default_from: i64::MIN, own_from: HashMap::new() }
    }

    /// The first nanosecond of `measurement` not expired: the start of its
    /// first live partition.
    pub fn live_from(&self, measurement: &str) -> i64 {
        self.own_from.get(measurement).copied().unwrap_or(self.default_from)
    }

    /// Whether partition `p` (of duration `ns`) of `measurement` expired.
    pub fn expired(&self, measurement: &str, p: i64, ns: i64) -> bool {
        i128::from(p) * i128::from(ns) < i128::from(self.live_from(measurement))
    }
}

/// The start of the first partition (of `ns` nanoseconds) whose end is not before `cutoff`.
fn first_partition_ending_after(cutoff: i64, ns: i64) -> i64 {
    clamp(i128::from(cutoff.div_euclid(ns)) * i128::from(ns))
}

fn clamp(t: i128) -> i64 {
    t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The size cut kept between decisions, so it never moves back.
#[derive(Debug)]
pub(crate) struct SizeFloor(AtomicI64);

impl Default for SizeFloor {
    fn default() -> Self {
        Self(AtomicI64::new(i64::MIN))
    }
}

impl State {
    /// What has expired at `now_ns` under `retention`; `tier` adds the sizes
    /// of tiered files, `floor` keeps the size cut from moving back.
    pub(crate) fn expiry(&self, retention: &Retention, now_ns: i64, tier: &Tier, floor: &SizeFloor) -> Result<Expiry> {
        if retention.is_empty() {
            return Ok(Expiry::none());
        }
        let ns = self.partition_ns;
        let age_from = |age: &Duration| {
            let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
            first_partition_ending_after(now_ns.saturating_sub(age), ns)
        };
        let mut size_from = floor.0.load(Ordering::SeqCst);
        if let Some(max) = retention.max_bytes {
            let mut bytes: BTreeMap<i64, u64> =
                self.blocks.iter().map(|(&p, blocks)| (p, blocks.iter().map(|b| b.len).sum())).collect();
            for (p, size) in tier.partition_bytes(ns)? {
                *bytes.entry(p).or_default() += size;
            }
            let mut total: u64 = bytes.values().sum();
            for (&p, &size) in &bytes {
                if total <= max {
                    break;
                }
                total -= size;
                size_from = size_from.max(clamp((i128::from(p) + 1) * i128::from(ns)));
            }
            size_from = floor.0.fetch_max(size_from, Ordering::SeqCst).max(size_from);
        }
        let default_from = retention.max_age.as_ref().map_or(i64::MIN, age_from).max(size_from);
        let own_from =
            retention.measurements.iter().map(|(m, age)| (m.clone(), age_from(age).max(size_from))).collect();
        Ok(Expiry { default_from, own_from })
    }
}

impl super::Inner {
    /// What has expired now.
    pub(super) fn expiry(&self) -> Result<Expiry> {
        let c = &self.config;
        self.read()?.expiry(&c.retention, c.clock.now_ns(), &self.tier, &self.size_floor)
    }
}

impl super::Db {
    /// What has expired now, decided once for a read.
    pub(crate) fn expiry(&self) -> Result<Expiry> {
        self.inner.expiry()
    }

    /// Now, by the configured clock.
    pub(crate) fn now_ns(&self) -> i64 {
        self.inner.config.clock.now_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_expires_once_its_end_is_older_than_the_cutoff() {
        // Partitions of 10 ns: p = 2 is 20..=29.
        assert_eq!(first_partition_ending_after(25, 10), 20);
        assert_eq!(first_partition_ending_after(29, 10), 20, "its end 29 is not older than 29");
        assert_eq!(first_partition_ending_after(30, 10), 30);
        assert_eq!(first_partition_ending_after(-1, 10), -10);
        assert_eq!(first_partition_ending_after(i64::MIN, 10), i64::MIN);
        let e = Expiry { default_from: 30, own_from: HashMap::from([("m".to_string(), 10)]) };
        assert!(e.expired("x", 2, 10) && !e.expired("x", 3, 10));
        assert!(!e.expired("m", 1, 10) && e.expired("m", 0, 10));
    }
}
