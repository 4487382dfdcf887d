//! Single-series generators shaped like common metrics.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use super::{SECOND_NS, START_NS};

/// One generated series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Ascending timestamps, ns.
    pub timestamps: Vec<i64>,
    /// One value per timestamp.
    pub values: Vec<f64>,
}

fn regular(n: usize, interval_s: i64) -> Vec<i64> {
    (0..n as i64).map(|i| START_NS + i * interval_s * SECOND_NS).collect()
}

/// A monotonic counter every 15 s: increments ~ Poisson(100), reset to 0 with
/// probability 1e-4 per step.
pub fn counter(n: usize, seed: u64) -> Series {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let step: Poisson<f64> = Poisson::new(100.0).unwrap();
    let mut v = 0.0f64;
    let values = (0..n)
        .map(|_| {
            if rng.random_bool(1e-4) {
                v = 0.0;
            } else {
                v += step.sample(&mut rng).round();
            }
            v
        })
        .collect();
    Series { timestamps: regular(n, 15), values }
}

/// A sensor reading every 10 s with one decimal: starts at 20.0, each step
/// `round(previous + N(0, 0.3), 1)`.
pub fn gauge_1dp(n: usize, seed: u64) -> Series {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Series { timestamps: regular(n, 10), values: walk_1dp(n, &mut rng) }
}

fn walk_1dp(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let noise = Normal::new(0.0, 0.3).unwrap();
    let mut v = 20.0f64;
    (0..n)
        .map(|_| {
            let out = v;
            v = ((v + noise.sample(rng)) * 10.0).round() / 10.0;
            out
        })
        .collect()
}

/// Uniformly random full-precision floats in [0, 1), every 10 s.
pub fn random_f64(n: usize, seed: u64) -> Series {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Series { timestamps: regular(n, 10), values: (0..n).map(|_| rng.random::<f64>()).collect() }
}

/// The value 42.0, every 10 s.
pub fn constant(n: usize) -> Series {
    Series { timestamps: regular(n, 10), values: vec![42.0; n] }
}

/// A one-decimal gauge on irregular timestamps: 10 s +/- up to 2 s of jitter
/// (millisecond precision), with a gap of 1 to 10 minutes once every ~500 steps.
pub fn irregular_ts(n: usize, seed: u64) -> Series {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = START_NS;
    let mut timestamps = Vec::with_capacity(n);
    for _ in 0..n {
        timestamps.push(t);
        let jitter_ms = rng.random_range(-2_000..=2_000);
        t += 10 * SECOND_NS + jitter_ms * 1_000_000;
        if rng.random_bool(0.002) {
            t += rng.random_range(60..=600) * SECOND_NS;
        }
    }
    Series { timestamps, values: walk_1dp(n, &mut rng) }
}
