//! The histogram functions. `histogram_quantile` and `histogram_fraction`
//! take classic histograms (bucket series told apart by their `le` label,
//! grouped by their other labels, with Prometheus's repairs: coalesced
//! bounds, counts forced monotonic, tiny float differences ignored) and
//! native histograms (each sample on its own) in one vector; a native
//! histogram with the labels of a classic one at a step is ambiguous, and
//! both are left out with a warning. `histogram_count`, `histogram_sum`,
//! `histogram_avg`, `histogram_stddev` and `histogram_stdvar` read native
//! histograms only. All drop the metric name.

use std::collections::{HashMap, HashSet};

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::series::{StepSeries, merge_same_labels};
use super::value::{Labels, METRIC_NAME};
use crate::model::histogram::{FloatHistogram, StatsNote};

/// The label holding a bucket's upper bound.
const BUCKET_LABEL: &str = "le";

/// Float differences this small (relative) between buckets are rounding.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One bucket: its upper bound and cumulative count.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// Which computation over the buckets of a histogram.
pub(crate) enum Over<'a> {
    /// `histogram_quantile(q, ...)`, q per step.
    Quantile(&'a [f64]),
    /// `histogram_fraction(lower, upper, ...)`, both per step.
    Fraction(&'a [f64], &'a [f64]),
}

/// Evaluates `what` over the bucket series of `input`, step by step.
///
/// `at` holds the positions of the parameter and of the vector argument in
/// the query, for the annotations.
pub(crate) fn eval(
    ev: &QueryContext,
    what: Over<'_>,
    input: Vec<StepSeries>,
    n: usize,
    at: &(String, String),
) -> Result<Vec<StepSeries>> {
    let mut groups: HashMap<Labels, usize> = HashMap::new();
    let mut members: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    let mut names: Vec<Option<String>> = Vec::new();
    for (j, s) in input.iter().enumerate() {
        if s.values.iter().all(Option::is_none) {
            continue;
        }
        let Some(upper) = s.labels.get(BUCKET_LABEL).and_then(|le| le.trim().parse::<f64>().ok()) else {
            let name = s.labels.metric_name().unwrap_or_default().to_owned();
            ev.warn(format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {name:?}{}",
                s.labels.get(BUCKET_LABEL).unwrap_or(""),
                at.1
            ));
            continue;
        };
        let key = s.labels.without(|l| l == BUCKET_LABEL || l == METRIC_NAME);
        let g = *groups.entry(key.clone()).or_insert_with(|| {
            members.push((key, Vec::new()));
            names.push(s.labels.metric_name().map(str::to_owned));
            members.len() - 1
        });
        // Buckets of two metrics would end up in one histogram.
        if names[g].as_deref() != s.labels.metric_name() {
            return Err(PromError::Execution("vector cannot contain metrics with the same labelset".into()));
        }
        members[g].1.push((upper, j));
    }
    if let Over::Quantile(q) = &what
        && q.iter().any(|q| !(0.0..=1.0).contains(q))
    {
        let bad = q.iter().find(|q| !(0.0..=1.0).contains(*q)).copied().unwrap_or(f64::NAN);
        ev.warn(format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}{}",
            super::value::format_value(bad),
            at.0
        ));
    }
    let has_bucket = |g: usize, i: usize| members[g].1.iter().any(|&(_, j)| input[j].values[i].is_some());
    // Steps where a native histogram has the labels of a classic one.
    let mut ambiguous: HashSet<(usize, usize)> = HashSet::new();
    let mut out = Vec::with_capacity(members.len());
    for s in input.iter().filter(|s| !s.hists.is_empty()) {
        let name = s.labels.metric_name().unwrap_or_default();
        let twin = (s.labels.get(BUCKET_LABEL).is_none())
            .then(|| groups.get(&s.labels.without_name()).copied())
            .flatten()
            .filter(|&g| names[g].as_deref() == s.labels.metric_name());
        let mut values = vec![None; n];
        for (i, slot) in values.iter_mut().enumerate() {
            let Some(h) = s.hist(i) else { continue };
            if let Some(g) = twin.filter(|&g| has_bucket(g, i)) {
                ev.warn(format!(
                    "PromQL warning: vector contains a mix of classic and native histograms for metric name {name:?}{}",
                    at.1
                ));
                ambiguous.insert((g, i));
                continue;
            }
            *slot = Some(native(ev, &what, h, i, name, &at.1));
        }
        out.push(StepSeries::new(s.labels.clone(), values).without_name());
    }
    for (g, (labels, buckets_of)) in members.into_iter().enumerate() {
        let mut values = vec![None; n];
        for (i, slot) in values.iter_mut().enumerate() {
            if ambiguous.contains(&(g, i)) {
                continue;
            }
            let mut buckets: Vec<Bucket> = buckets_of
                .iter()
                .filter_map(|&(upper, j)| input[j].values[i].map(|count| Bucket { upper, count }))
                .collect();
            if buckets.is_empty() {
                continue;
            }
            *slot = Some(match what {
                Over::Quantile(q) => {
                    let (v, forced) = quantile(q[i], &mut buckets);
                    if forced {
                        let name = labels.metric_name().unwrap_or_default().to_owned();
                        ev.info(format!("PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"));
                    }
                    v
                }
                Over::Fraction(lower, upper) => fraction(lower[i], upper[i], &mut buckets),
            });
        }
        out.push(StepSeries::new(labels, values));
    }
    merge_same_labels(out)
}

/// `what` of one native histogram at step `i`, with Prometheus's infos
/// about NaN observations.
fn native(ev: &QueryContext, what: &Over<'_>, h: &FloatHistogram, i: usize, name: &str, at: &str) -> f64 {
    let (v, note) = match what {
        Over::Quantile(q) => h.quantile(q[i]),
        Over::Fraction(lower, upper) => h.fraction(lower[i], upper[i]),
    };
    let why = match note {
        None => return v,
        Some(StatsNote::QuantileNaNResult) => "input to histogram_quantile has NaN observations, result is NaN",
        Some(StatsNote::QuantileNaNSkew) => "input to histogram_quantile has NaN observations, result is skewed higher",
        Some(StatsNote::FractionNaNs) => {
            "input to histogram_fraction has NaN observations, which are excluded from all fractions"
        }
    };
    ev.info(format!("PromQL info: {why} for metric name {name:?}{at}"));
    v
}

/// `histogram_count`, `histogram_sum`, `histogram_avg`,
/// `histogram_stddev` or `histogram_stdvar` (`name`) of each native
/// histogram; float samples give nothing.
pub(crate) fn native_stat(name: &str, input: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let stat: fn(&FloatHistogram) -> f64 = match name {
        "histogram_count" => |h| h.count,
        "histogram_sum" => |h| h.sum,
        "histogram_avg" => |h| h.sum / h.count,
        "histogram_stddev" => FloatHistogram::stddev,
        "histogram_stdvar" => FloatHistogram::stdvar,
        other => return Err(PromError::BadData(format!("function {other:?} is not supported"))),
    };
    let out = input
        .into_iter()
        .map(|s| {
            let values = (0..s.values.len()).map(|i| s.hist(i).map(stat)).collect();
            StepSeries::new(s.labels, values).without_name()
        })
        .collect();
    merge_same_labels(out)
}

/// Sorts by bound and merges buckets with equal bounds; false when the
/// histogram lacks its +Inf bucket.
fn normalise(buckets: &mut Vec<Bucket>) -> bool {
    buckets.sort_by(|a, b| a.upper.partial_cmp(&b.upper).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return false;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.drain(..) {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(b),
        }
    }
    *buckets = merged;
    true
}

/// Makes counts non-decreasing; true when a real decrease was removed (not
/// just a rounding difference).
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else { return false };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus's relative float comparison.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The q-quantile, interpolated linearly inside its bucket; and whether
/// the counts had to be forced monotonic.
fn quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    if !normalise(buckets) {
        return (f64::NAN, false);
    }
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.count < rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    let mut start = 0.0;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// The estimated fraction of observations between `lower` and `upper`:
/// each bucket inside the range counts whole, one it straddles counts in
/// proportion to the overlap (linear interpolation), except a bucket of
/// infinite width, which counts only when the range covers it. The first
/// bucket starts at 0 when its bound is positive, else at -Inf.
fn fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if !normalise(buckets) {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut inside = 0.0;
    let mut below = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let start = match i {
            0 if b.upper > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].upper,
        };
        let count = b.count - below;
        below = b.count;
        let (from, to) = (lower.max(start), upper.min(b.upper));
        if to <= from {
            continue;
        }
        if lower <= start && upper >= b.upper {
            inside += count;
        } else if start.is_finite() && b.upper.is_finite() && b.upper > start {
            inside += count * (to - from) / (b.upper - start);
        }
    }
    inside / total
}
