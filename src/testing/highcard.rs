//! A high-cardinality data set: many hosts, each reporting one gauge per
//! measurement of the devops kind (TSBS's ten host tags), every 10 s.
//!
//! Series `s` is host `s / 10`, measurement [`HIGHCARD_MEASUREMENTS`]`[s % 10]`,
//! field `value`. Values are one-decimal gauges derived from a hash of (seed,
//! series, step), so any point can be produced alone and a writer holds only
//! the batch in hand: rows borrow their tags from the batch's hosts.

use std::ops::Range;

use super::tsbs::{ARCHES, ENVIRONMENTS, OSES, REGIONS, TEAMS};
use super::{SECOND_NS, START_NS};
use crate::model::{VALUE_FIELD, WriteRow};

/// The measurements each host reports, one series each.
pub const HIGHCARD_MEASUREMENTS: [&str; 10] =
    ["cpu", "disk", "diskio", "kernel", "mem", "net", "nginx", "postgresql", "redis", "system"];

/// SplitMix64: a cheap, well-mixed hash of one word.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The generator: `series` series (a multiple of the measurement count).
#[derive(Debug, Clone, Copy)]
pub struct Highcard {
    /// Number of series.
    pub series: usize,
    /// Seed of every value and tag.
    pub seed: u64,
}

/// One host's ten tags, keys in TSBS order.
#[derive(Debug, Clone)]
pub struct HighcardHost {
    /// Host number.
    pub number: usize,
    /// (tag key, tag value).
    pub tags: [(&'static str, String); 10],
}

/// One point: a host's gauge in one measurement at one step.
#[derive(Debug, Clone, Copy)]
pub struct HighcardRow<'a> {
    /// The measurement.
    pub measurement: &'static str,
    /// The host, whose tags the series carries.
    pub host: &'a HighcardHost,
    /// Timestamp, ns.
    pub timestamp: i64,
    /// The value of field `value`.
    pub value: f64,
}

impl WriteRow for HighcardRow<'_> {
    fn measurement(&self) -> &str {
        self.measurement
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.host.tags.iter().map(|(k, v)| (*k, v.as_str()))
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn field_count(&self) -> usize {
        1
    }
    fn field(&self, _: usize) -> (&str, f64) {
        (VALUE_FIELD, self.value)
    }
}

/// The hosts of one batch at one step; [`HighcardBatch::rows`] borrows them.
#[derive(Debug, Clone)]
pub struct HighcardBatch {
    /// The step (timestamp `START_NS + step * 10 s`).
    pub step: usize,
    /// The hosts, each writing one point per measurement.
    pub hosts: Vec<HighcardHost>,
    seed: u64,
}

impl HighcardBatch {
    /// Every point of the batch: host by host, measurement by measurement.
    pub fn rows(&self) -> Vec<HighcardRow<'_>> {
        let timestamp = START_NS + self.step as i64 * 10 * SECOND_NS;
        let m = HIGHCARD_MEASUREMENTS.len();
        let mut rows = Vec::with_capacity(self.hosts.len() * m);
        for host in &self.hosts {
            for (i, &measurement) in HIGHCARD_MEASUREMENTS.iter().enumerate() {
                let value = value(self.seed, host.number * m + i, self.step);
                rows.push(HighcardRow { measurement, host, timestamp, value });
            }
        }
        rows
    }
}

/// The value of series `series` at `step`: a level in [0, 100) plus a step
/// of at most +/- 1, one decimal.
pub fn value(seed: u64, series: usize, step: usize) -> f64 {
    let level = mix(seed ^ series as u64) % 1000;
    let wiggle = mix(seed ^ mix(series as u64) ^ step as u64) % 21;
    (level + wiggle) as f64 / 10.0
}

impl Highcard {
    /// A generator of `series` series.
    pub fn new(series: usize, seed: u64) -> Self {
        Self { series, seed }
    }

    /// Number of hosts (each has one series per measurement).
    pub fn hosts(&self) -> usize {
        self.series / HIGHCARD_MEASUREMENTS.len()
    }

    /// Host `number` and its tags.
    pub fn host(&self, number: usize) -> HighcardHost {
        let h = |salt: u64| mix(self.seed ^ mix(number as u64) ^ salt);
        let pick = |list: &[&'static str], salt| list[h(salt) as usize % list.len()].to_string();
        let region = REGIONS[h(1) as usize % REGIONS.len()];
        HighcardHost {
            number,
            tags: [
                ("hostname", format!("host_{number}")),
                ("region", region.to_string()),
                ("datacenter", format!("{region}{}", ['a', 'b', 'c'][h(2) as usize % 3])),
                ("rack", (h(3) % 100).to_string()),
                ("os", pick(&OSES, 4)),
                ("arch", pick(&ARCHES, 5)),
                ("team", pick(&TEAMS, 6)),
                ("service", (h(7) % 20).to_string()),
                ("service_version", (h(8) % 2).to_string()),
                ("service_environment", pick(&ENVIRONMENTS, 9)),
            ],
        }
    }

    /// The batches of hosts `hosts` for `steps` steps, time first (every
    /// host at step 0, then step 1, ...), `hosts_per_batch` hosts a batch.
    pub fn batches(
        &self,
        hosts: Range<usize>,
        steps: usize,
        hosts_per_batch: usize,
    ) -> impl Iterator<Item = HighcardBatch> + use<> {
        assert!(hosts_per_batch > 0, "batches hold at least one host");
        let this = *self;
        (0..steps).flat_map(move |step| {
            let hosts = hosts.clone();
            hosts.clone().step_by(hosts_per_batch).map(move |first| HighcardBatch {
                step,
                hosts: (first..(first + hosts_per_batch).min(hosts.end)).map(|n| this.host(n)).collect(),
                seed: this.seed,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_series_once_per_step() {
        let g = Highcard::new(70, 3);
        let batches: Vec<HighcardBatch> = g.batches(0..g.hosts(), 2, 3).collect();
        assert_eq!(batches.iter().map(|b| b.hosts.len()).collect::<Vec<_>>(), [3, 3, 1, 3, 3, 1]);
        let mut seen = std::collections::HashSet::new();
        for b in &batches {
            for r in b.rows() {
                let tags: Vec<(&str, &str)> = r.tags().collect();
                assert!(seen.insert((r.measurement, tags[0].1.to_string(), r.timestamp)), "{r:?}");
                assert_eq!(tags.len(), 10);
                assert!((0.0..=102.0).contains(&r.value));
            }
        }
        assert_eq!(seen.len(), 70 * 2);
        assert_eq!(g.host(5).tags[0].1, "host_5");
        assert_eq!(g.host(5).tags[1].1, Highcard::new(70, 3).host(5).tags[1].1, "deterministic");
    }
}
