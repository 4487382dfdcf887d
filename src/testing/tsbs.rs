//! The TSBS "cpu-only" use case: hosts reporting ten CPU fields every 10 s.
//!
//! As in TSBS, each field is a random walk started at U(0, 100) with N(0, 1)
//! steps, clamped to [0, 100] and reported as an integer; each host carries ten
//! tags. `scale` is the number of hosts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{SECOND_NS, START_NS};
use crate::Row;
use crate::model::WriteRow;

/// The ten fields of measurement `cpu`, in TSBS order.
pub const CPU_FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// TSBS's devops tag vocabulary, shared with the high-cardinality generator.
pub(super) const REGIONS: [&str; 9] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];
pub(super) const OSES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
pub(super) const ARCHES: [&str; 2] = ["x64", "x86"];
pub(super) const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
pub(super) const ENVIRONMENTS: [&str; 3] = ["production", "staging", "test"];

/// The TSBS cpu-only generator.
#[derive(Debug, Clone, Copy)]
pub struct TsbsCpu {
    /// Number of hosts.
    pub scale: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// One host: its tags and its ten fields over time.
#[derive(Debug, Clone)]
pub struct HostSeries {
    /// (tag key, tag value), keys in TSBS order starting with `hostname`.
    pub tags: Vec<(&'static str, String)>,
    /// Timestamps every 10 s from the start, ns.
    pub timestamps: Vec<i64>,
    /// One column per entry of [`CPU_FIELDS`].
    pub fields: Vec<Vec<f64>>,
}

impl TsbsCpu {
    /// A generator for `scale` hosts.
    pub fn new(scale: usize, seed: u64) -> Self {
        Self { scale, seed }
    }

    /// Every host with `steps` points (10 s apart) of every field.
    pub fn generate(&self, steps: usize) -> Vec<HostSeries> {
        (0..self.scale).map(|h| self.host(h, steps)).collect()
    }

    /// Host number `h` with `steps` points of every field.
    pub fn host(&self, h: usize, steps: usize) -> HostSeries {
        let mut walks = self.walks(h, steps);
        let fields = walks.walks.iter_mut().map(|w| (0..steps).map(|_| w.next()).collect()).collect();
        let timestamps = (0..steps as i64).map(|i| START_NS + i * 10 * SECOND_NS).collect();
        HostSeries { tags: walks.tags, timestamps, fields }
    }

    /// The rows of [`cpu_row_batches`] over [`TsbsCpu::generate`]`(steps)`,
    /// the same values, generated batch by batch: only the batch in hand
    /// and each walk's state are in memory.
    pub fn row_batches(&self, steps: usize, batch_rows: usize) -> impl Iterator<Item = Vec<Row>> + use<> {
        assert!(batch_rows > 0, "batches hold at least one row");
        let mut hosts: Vec<HostWalks> = (0..self.scale).map(|h| self.walks(h, steps)).collect();
        let tags: Vec<Vec<(String, String)>> =
            hosts.iter().map(|h| h.tags.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()).collect();
        let scale = self.scale;
        let mut rows = (0..scale * steps).map(move |row| {
            let (step, h) = (row / scale, row % scale);
            Row {
                measurement: "cpu".into(),
                tags: tags[h].clone(),
                fields: CPU_FIELDS.iter().zip(&mut hosts[h].walks).map(|(f, w)| (f.to_string(), w.next())).collect(),
                timestamp: START_NS + step as i64 * 10 * SECOND_NS,
            }
        });
        std::iter::from_fn(move || {
            let batch: Vec<Row> = rows.by_ref().take(batch_rows).collect();
            (!batch.is_empty()).then_some(batch)
        })
    }

    /// Host `h`'s tags and one walk per field, each from the random state
    /// where [`TsbsCpu::host`] starts it (after the earlier fields' `steps`).
    fn walks(&self, h: usize, steps: usize) -> HostWalks {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ (h as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let region = REGIONS[rng.random_range(0..REGIONS.len())];
        let tags = vec![
            ("hostname", format!("host_{h}")),
            ("region", region.to_string()),
            ("datacenter", format!("{region}{}", ['a', 'b', 'c'][rng.random_range(0..3)])),
            ("rack", rng.random_range(0..100).to_string()),
            ("os", OSES[rng.random_range(0..OSES.len())].to_string()),
            ("arch", ARCHES[rng.random_range(0..ARCHES.len())].to_string()),
            ("team", TEAMS[rng.random_range(0..TEAMS.len())].to_string()),
            ("service", rng.random_range(0..20).to_string()),
            ("service_version", rng.random_range(0..2).to_string()),
            ("service_environment", ENVIRONMENTS[rng.random_range(0..ENVIRONMENTS.len())].to_string()),
        ];
        let walks = CPU_FIELDS
            .iter()
            .map(|_| {
                let walk = Walk::start(&mut rng);
                let mut skip = walk.clone();
                for _ in 0..steps {
                    skip.next();
                }
                rng = skip.rng.clone();
                walk
            })
            .collect();
        HostWalks { tags, walks }
    }
}

impl HostSeries {
    /// The row of step `step` as a view borrowing this host's data.
    pub fn row(&self, step: usize) -> CpuRow<'_> {
        CpuRow { host: self, step }
    }
}

/// One row of measurement `cpu` (a host at one step), borrowing its host:
/// writers can build batches of these for nothing.
#[derive(Debug, Clone, Copy)]
pub struct CpuRow<'a> {
    host: &'a HostSeries,
    step: usize,
}

impl WriteRow for CpuRow<'_> {
    fn measurement(&self) -> &str {
        "cpu"
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.host.tags.iter().map(|(k, v)| (*k, v.as_str()))
    }
    fn timestamp(&self) -> i64 {
        self.host.timestamps[self.step]
    }
    fn field_count(&self) -> usize {
        CPU_FIELDS.len()
    }
    fn field(&self, i: usize) -> (&str, f64) {
        (CPU_FIELDS[i], self.host.fields[i][self.step])
    }
}

/// One host's tags and the walks of its fields.
struct HostWalks {
    tags: Vec<(&'static str, String)>,
    walks: Vec<Walk>,
}

/// One field's random walk: U(0, 100) then N(0, 1) steps clamped to
/// [0, 100], reported rounded.
#[derive(Clone)]
struct Walk {
    rng: ChaCha8Rng,
    value: f64,
    step: Normal<f64>,
}

impl Walk {
    /// A walk drawing its start, then its steps, from `rng`.
    fn start(rng: &mut ChaCha8Rng) -> Self {
        let value = rng.random_range(0.0..100.0);
        Self { rng: rng.clone(), value, step: Normal::new(0.0, 1.0).unwrap() }
    }

    /// The value reported now; the walk then takes a step.
    fn next(&mut self) -> f64 {
        let reported = self.value.round();
        self.value = (self.value + self.step.sample(&mut self.rng)).clamp(0.0, 100.0);
        reported
    }
}

/// The rows of measurement `cpu` for `hosts` in the order TSBS emits them
/// (every host at the first step, then every host at the next, ...), in
/// batches of `batch_rows` (the last may be shorter), built lazily so a
/// caller can time the writes alone.
pub fn cpu_row_batches(hosts: &[HostSeries], batch_rows: usize) -> impl Iterator<Item = Vec<Row>> + '_ {
    assert!(batch_rows > 0, "batches hold at least one row");
    let tags: Vec<Vec<(String, String)>> =
        hosts.iter().map(|h| h.tags.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()).collect();
    let steps = hosts.iter().map(|h| h.timestamps.len()).min().unwrap_or(0);
    let mut rows = (0..hosts.len() * steps).map(move |row| {
        let (step, h) = (row / hosts.len(), row % hosts.len());
        let host = &hosts[h];
        Row {
            measurement: "cpu".into(),
            tags: tags[h].clone(),
            fields: CPU_FIELDS.iter().zip(&host.fields).map(|(f, col)| (f.to_string(), col[step])).collect(),
            timestamp: host.timestamps[step],
        }
    });
    std::iter::from_fn(move || {
        let batch: Vec<Row> = rows.by_ref().take(batch_rows).collect();
        (!batch.is_empty()).then_some(batch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_deterministic_bounded_integers() {
        let cpu = TsbsCpu::new(3, 7);
        let a = cpu.generate(100);
        let b = cpu.generate(100);
        assert_eq!(a[2].fields, b[2].fields);
        assert_eq!(a[1].tags[0], ("hostname", "host_1".to_string()));
        assert_eq!(a[0].tags.len(), 10);
        for v in a.iter().flat_map(|h| h.fields.iter().flatten()) {
            assert!((0.0..=100.0).contains(v) && v.fract() == 0.0, "{v}");
        }
        assert_ne!(a[0].fields[0], a[1].fields[0]);
    }

    #[test]
    fn streamed_rows_equal_the_generated_ones() {
        let cpu = TsbsCpu::new(4, 11);
        let generated: Vec<Vec<Row>> = cpu_row_batches(&cpu.generate(50), 7).collect();
        let streamed: Vec<Vec<Row>> = cpu.row_batches(50, 7).collect();
        assert_eq!(streamed.len(), generated.len());
        for (s, g) in streamed.iter().flatten().zip(generated.iter().flatten()) {
            assert_eq!((&s.tags, &s.fields, s.timestamp), (&g.tags, &g.fields, g.timestamp));
        }
    }

    #[test]
    fn row_views_read_their_host() {
        let hosts = TsbsCpu::new(2, 5).generate(4);
        let row = hosts[1].row(3);
        assert_eq!(row.timestamp(), hosts[1].timestamps[3]);
        assert_eq!(row.tags().next(), Some(("hostname", "host_1")));
        assert_eq!(row.field(2), ("usage_idle", hosts[1].fields[2][3]));
        assert_eq!(row.field_count(), 10);
    }

    #[test]
    fn row_batches_go_step_by_step() {
        let hosts = TsbsCpu::new(3, 7).generate(5);
        let batches: Vec<Vec<Row>> = cpu_row_batches(&hosts, 4).collect();
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 4, 3]);
        let second = &batches[0][1];
        assert_eq!(second.tags[0], ("hostname".to_string(), "host_1".to_string()));
        assert_eq!(second.timestamp, hosts[1].timestamps[0]);
        assert_eq!(second.fields[2], ("usage_idle".to_string(), hosts[1].fields[2][0]));
        assert_eq!(batches[1][0].timestamp, hosts[1].timestamps[1]);
    }
}
