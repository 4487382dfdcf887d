//! The settings of a PromQL evaluation, with Prometheus's defaults.

use std::time::Duration;

/// How a PromQL query is evaluated.
#[derive(Clone, Debug)]
pub struct PromOptions {
    /// How far back an instant selector looks for a sample (Prometheus's
    /// `--query.lookback-delta`, 5 minutes).
    pub lookback_delta_ms: i64,
    /// The most samples a query may hold in memory at once
    /// (`--query.max-samples`, 50,000,000).
    pub max_samples: usize,
    /// The longest a query may run (`--query.timeout`, 2 minutes).
    pub timeout: Duration,
    /// The deepest expression nesting accepted; deeper queries are refused
    /// before parsing, so no input can exhaust the stack.
    pub max_depth: usize,
}

impl Default for PromOptions {
    fn default() -> Self {
        PromOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_depth: 200,
        }
    }
}
