//! Metrics shaped like what Prometheus exporters expose for one host, the
//! dashboard data beside TSBS cpu-only: node_exporter's CPU-seconds and
//! network-byte counters and a classic request-duration histogram
//! (cumulative `le` buckets, `_sum` and `_count`).
//!
//! Every series is a counter: it never decreases, except that a network
//! counter restarts from 0 with probability 1e-4 per scrape, as after an
//! interface reset, so `rate` and friends meet resets. Each metric is a row
//! of its own with the field `value`, so its metric name is the
//! measurement's. Deterministic for a seed and a host number.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Row;

/// The CPUs of each host (`cpu` label).
pub const EXPORTER_CPUS: usize = 2;
/// The `mode` label of `node_cpu_seconds_total`.
pub const CPU_MODES: [&str; 4] = ["user", "system", "iowait", "idle"];
/// The `device` label of the network counters.
pub const NET_DEVICES: [&str; 2] = ["eth0", "lo"];
/// The `handler` label of the histogram.
pub const HANDLERS: [&str; 2] = ["/api/query", "/api/write"];
/// The finite upper bounds of the histogram's buckets; `+Inf` follows.
pub const BUCKET_BOUNDS: [f64; 7] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// The series each host exposes: CPU seconds, received and transmitted
/// bytes per device, and per handler every bucket plus `_sum` and `_count`.
pub const EXPORTER_SERIES_PER_HOST: usize =
    EXPORTER_CPUS * CPU_MODES.len() + 2 * NET_DEVICES.len() + HANDLERS.len() * (BUCKET_BOUNDS.len() + 3);

/// One handler's histogram counters.
#[derive(Debug, Clone)]
struct Histogram {
    /// Requests at or under each bound, the last one `+Inf`.
    buckets: [f64; BUCKET_BOUNDS.len() + 1],
    sum: f64,
}

/// One host's exporter counters, advanced one scrape at a time.
#[derive(Debug, Clone)]
pub struct ExporterHost {
    rng: ChaCha8Rng,
    /// Seconds per CPU and mode.
    cpu: [[f64; CPU_MODES.len()]; EXPORTER_CPUS],
    /// Bytes received and transmitted per device.
    net: [[f64; 2]; NET_DEVICES.len()],
    histograms: [Histogram; HANDLERS.len()],
}

impl ExporterHost {
    /// Host number `h`'s counters at their (random) starting values.
    pub fn new(h: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_E4B0 ^ (h as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let cpu =
            std::array::from_fn(|_| std::array::from_fn(|_| (rng.random_range(1e3..1e5) * 100.0f64).round() / 100.0));
        let net = std::array::from_fn(|_| std::array::from_fn(|_| rng.random_range(1e6..1e9f64).round()));
        let histograms = std::array::from_fn(|_| Histogram { buckets: [0.0; BUCKET_BOUNDS.len() + 1], sum: 0.0 });
        Self { rng, cpu, net, histograms }
    }

    /// The rows of one scrape at `timestamp` (ns), each labelled with `tags`
    /// and its own labels; then every counter advances by what
    /// `interval_s` seconds add.
    pub fn scrape(&mut self, tags: &[(String, String)], timestamp: i64, interval_s: f64) -> Vec<Row> {
        let mut rows = Vec::with_capacity(EXPORTER_SERIES_PER_HOST);
        let mut push = |name: &str, labels: &[(&str, &str)], value: f64| {
            let mut all = tags.to_vec();
            all.extend(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            rows.push(Row {
                measurement: name.to_owned(),
                tags: all,
                fields: vec![("value".into(), value)],
                timestamp,
            });
        };
        for (cpu, modes) in self.cpu.iter().enumerate() {
            let cpu = cpu.to_string();
            for (mode, seconds) in CPU_MODES.iter().zip(modes) {
                push("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", mode)], *seconds);
            }
        }
        for (device, [rx, tx]) in NET_DEVICES.iter().zip(&self.net) {
            push("node_network_receive_bytes_total", &[("device", device)], *rx);
            push("node_network_transmit_bytes_total", &[("device", device)], *tx);
        }
        for (handler, histogram) in HANDLERS.iter().zip(&self.histograms) {
            for (b, count) in histogram.buckets.iter().enumerate() {
                let le = BUCKET_BOUNDS.get(b).map_or_else(|| "+Inf".to_owned(), |bound| bound.to_string());
                push("http_request_duration_seconds_bucket", &[("handler", handler), ("le", &le)], *count);
            }
            push("http_request_duration_seconds_sum", &[("handler", handler)], histogram.sum);
            push(
                "http_request_duration_seconds_count",
                &[("handler", handler)],
                histogram.buckets[BUCKET_BOUNDS.len()],
            );
        }
        self.advance(interval_s);
        rows
    }

    fn advance(&mut self, interval_s: f64) {
        let rng = &mut self.rng;
        for modes in &mut self.cpu {
            // Shares of the interval; idle takes the rest. node_exporter
            // reports centiseconds.
            let user = rng.random_range(0.0..0.6);
            let system = rng.random_range(0.0..0.2);
            let iowait = rng.random_range(0.0..0.05);
            for (seconds, share) in modes.iter_mut().zip([user, system, iowait, 1.0 - user - system - iowait]) {
                *seconds = ((*seconds + share * interval_s) * 100.0).round() / 100.0;
            }
        }
        for (d, counters) in self.net.iter_mut().enumerate() {
            let per_second = if d == 0 { 1e5 } else { 1e3 };
            for bytes in counters {
                if rng.random_bool(1e-4) {
                    *bytes = 0.0;
                } else {
                    *bytes += (rng.random_range(0.2..2.0) * per_second * interval_s).round();
                }
            }
        }
        for (h, histogram) in self.histograms.iter_mut().enumerate() {
            // Log-uniform latencies, the write handler slower.
            let (low, high) = if h == 0 { (0.002f64, 0.8f64) } else { (0.005f64, 3.0f64) };
            let requests = rng.random_range(5..40);
            for _ in 0..requests {
                let latency = rng.random_range(low.ln()..high.ln()).exp();
                histogram.sum += latency;
                let first = BUCKET_BOUNDS.iter().position(|&bound| latency <= bound).unwrap_or(BUCKET_BOUNDS.len());
                for count in &mut histogram.buckets[first..] {
                    *count += 1.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Vec<(String, String)> {
        vec![("hostname".into(), "host_0".into())]
    }

    #[test]
    fn series_are_counters_with_cumulative_buckets() {
        let mut host = ExporterHost::new(3, 42);
        let mut last: Option<Vec<Row>> = None;
        for step in 0..500 {
            let rows = host.scrape(&tags(), step * 10_000_000_000, 10.0);
            assert_eq!(rows.len(), EXPORTER_SERIES_PER_HOST);
            for handler in HANDLERS {
                let buckets: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.measurement.ends_with("_bucket") && r.tags.iter().any(|(_, v)| v == handler))
                    .map(|r| r.fields[0].1)
                    .collect();
                assert_eq!(buckets.len(), BUCKET_BOUNDS.len() + 1);
                assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
            }
            if let Some(last) = &last {
                for (before, now) in last.iter().zip(&rows) {
                    assert_eq!(before.tags, now.tags);
                    let reset = now.measurement.starts_with("node_network") && now.fields[0].1 == 0.0;
                    assert!(reset || now.fields[0].1 >= before.fields[0].1, "{now:?} after {before:?}");
                }
            }
            last = Some(rows);
        }
    }

    #[test]
    fn hosts_are_deterministic_and_distinct() {
        let rows = |h, seed| ExporterHost::new(h, seed).scrape(&tags(), 0, 10.0);
        assert_eq!(rows(1, 7), rows(1, 7));
        assert_ne!(rows(1, 7), rows(2, 7));
        let le: Vec<String> = rows(0, 1)
            .iter()
            .filter(|r| r.measurement == "http_request_duration_seconds_bucket")
            .flat_map(|r| r.tags.iter().filter(|(k, _)| k == "le").map(|(_, v)| v.clone()))
            .take(BUCKET_BOUNDS.len() + 1)
            .collect();
        assert_eq!(le, ["0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"]);
    }
}
