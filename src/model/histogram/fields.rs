//! Native histograms as fields of a measurement row, so every part of the
//! storage (WAL, chunks, compaction, tiers, retention) keeps them as it
//! keeps any float field.
//!
//! A histogram sample of metric `m` at time `t` is one row of measurement
//! `m` at `t` with reserved fields: `__hist_count`, `__hist_sum`,
//! `__hist_schema`, `__hist_zero_threshold`, `__hist_zero_count`,
//! `__hist_hint` (0 unknown, 1 reset, 2 not reset, 3 gauge), one field per
//! present bucket (`__hist_p<i>` positive, `__hist_n<i>` negative, with
//! `m` for a minus sign: `__hist_pm3` is positive bucket -3), holding its
//! absolute count (an explicit 0 keeps an empty bucket present), and
//! `__hist_bound<j>` for each custom bound. Counts and bounds compress as
//! any counter column; buckets a sample lacks are null.

use std::collections::HashMap;

use super::buckets::PresentBuckets;
use super::layout::rebuild;
use super::{CounterResetHint, FloatHistogram};

/// The prefix of every histogram field; names starting with `__` are
/// otherwise reserved.
pub const HISTOGRAM_FIELD_PREFIX: &str = "__hist_";
/// The field whose presence marks a row as a histogram sample.
pub const COUNT_FIELD: &str = "__hist_count";

const SUM: &str = "sum";
const SCHEMA: &str = "schema";
const ZERO_THRESHOLD: &str = "zero_threshold";
const ZERO_COUNT: &str = "zero_count";
const HINT: &str = "hint";
const BOUND: &str = "bound";

/// One part of a histogram a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Part {
    Count,
    Sum,
    Schema,
    ZeroThreshold,
    ZeroCount,
    Hint,
    Positive(i32),
    Negative(i32),
    Bound(usize),
}

impl Part {
    /// The part a field name stands for, if it is a histogram field.
    fn of(name: &str) -> Option<Part> {
        let rest = name.strip_prefix(HISTOGRAM_FIELD_PREFIX)?;
        Some(match rest {
            "count" => Part::Count,
            SUM => Part::Sum,
            SCHEMA => Part::Schema,
            ZERO_THRESHOLD => Part::ZeroThreshold,
            ZERO_COUNT => Part::ZeroCount,
            HINT => Part::Hint,
            _ => {
                if let Some(j) = rest.strip_prefix(BOUND) {
                    Part::Bound(canonical_number(j)?.parse().ok()?)
                } else if let Some(i) = rest.strip_prefix('p') {
                    Part::Positive(index(i)?)
                } else {
                    Part::Negative(index(rest.strip_prefix('n')?)?)
                }
            }
        })
    }

    fn name(self) -> String {
        let p = HISTOGRAM_FIELD_PREFIX;
        let signed = |i: i32| if i < 0 { format!("m{}", i.unsigned_abs()) } else { i.to_string() };
        match self {
            Part::Count => COUNT_FIELD.to_owned(),
            Part::Sum => format!("{p}{SUM}"),
            Part::Schema => format!("{p}{SCHEMA}"),
            Part::ZeroThreshold => format!("{p}{ZERO_THRESHOLD}"),
            Part::ZeroCount => format!("{p}{ZERO_COUNT}"),
            Part::Hint => format!("{p}{HINT}"),
            Part::Positive(i) => format!("{p}p{}", signed(i)),
            Part::Negative(i) => format!("{p}n{}", signed(i)),
            Part::Bound(j) => format!("{p}{BOUND}{j}"),
        }
    }
}

/// Digits without a leading zero (but `0` itself), so each index has one name.
fn canonical_number(s: &str) -> Option<&str> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then_some(s)
}

/// A bucket index written `12` or `m12` (minus twelve).
fn index(s: &str) -> Option<i32> {
    match s.strip_prefix('m') {
        Some(abs) if abs != "0" => canonical_number(abs)?.parse::<i32>().ok().map(|i| -i),
        Some(_) => None,
        None => canonical_number(s)?.parse().ok(),
    }
}

/// Whether `name` is a well-formed histogram field name.
pub fn is_histogram_field(name: &str) -> bool {
    Part::of(name).is_some()
}

/// The fields of a row holding `h`.
pub fn to_fields(h: &FloatHistogram) -> Vec<(String, f64)> {
    let hint = match h.counter_reset_hint {
        CounterResetHint::Unknown => 0.0,
        CounterResetHint::CounterReset => 1.0,
        CounterResetHint::NotCounterReset => 2.0,
        CounterResetHint::Gauge => 3.0,
    };
    let mut out = vec![
        (Part::Count.name(), h.count),
        (Part::Sum.name(), h.sum),
        (Part::Schema.name(), f64::from(h.schema)),
        (Part::ZeroThreshold.name(), h.zero_threshold),
        (Part::ZeroCount.name(), h.zero_count),
        (Part::Hint.name(), hint),
    ];
    for (i, count) in PresentBuckets::new(&h.positive_spans, &h.positive_buckets) {
        out.push((Part::Positive(i).name(), count));
    }
    for (i, count) in PresentBuckets::new(&h.negative_spans, &h.negative_buckets) {
        out.push((Part::Negative(i).name(), count));
    }
    out.extend(h.custom_values.iter().enumerate().map(|(j, &b)| (Part::Bound(j).name(), b)));
    out
}

/// Why a row's histogram fields do not make a histogram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("histogram fields hold no valid histogram: {0}")]
pub struct BadHistogramFields(String);

/// Which columns of a batch hold which parts; reads histograms row by row.
#[derive(Clone, Debug, Default)]
pub struct FieldLayout {
    /// (column, part), buckets by ascending index within each sign.
    columns: Vec<(usize, Part)>,
}

impl FieldLayout {
    /// The layout of columns named `names` (non-histogram names ignored).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> FieldLayout {
        let mut columns: Vec<(usize, Part)> =
            names.into_iter().enumerate().filter_map(|(c, n)| Part::of(n).map(|p| (c, p))).collect();
        let order = |p: &Part| match *p {
            Part::Positive(i) => (1, i64::from(i)),
            Part::Negative(i) => (2, i64::from(i)),
            Part::Bound(j) => (3, i64::try_from(j).unwrap_or(i64::MAX)),
            _ => (0, 0),
        };
        columns.sort_by_key(|(_, p)| order(p));
        FieldLayout { columns }
    }

    /// The histogram fields of a measurement with fields `names`.
    pub fn field_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        names.into_iter().filter(|n| is_histogram_field(n)).map(str::to_owned).collect()
    }

    /// The histogram of one row: `value(column)` gives that column's value
    /// (`None` where null). `None` when the row has no count (not a
    /// histogram sample).
    pub fn read(&self, value: impl Fn(usize) -> Option<f64>) -> Result<Option<FloatHistogram>, BadHistogramFields> {
        let mut h = FloatHistogram::default();
        let mut has_count = false;
        let mut positive = Vec::new();
        let mut negative = Vec::new();
        let mut bounds: HashMap<usize, f64> = HashMap::new();
        for &(column, part) in &self.columns {
            let Some(v) = value(column) else { continue };
            match part {
                Part::Count => {
                    h.count = v;
                    has_count = true;
                }
                Part::Sum => h.sum = v,
                Part::Schema => h.schema = schema(v)?,
                Part::ZeroThreshold => h.zero_threshold = v,
                Part::ZeroCount => h.zero_count = v,
                Part::Hint => h.counter_reset_hint = hint(v)?,
                Part::Positive(i) => positive.push((i, v)),
                Part::Negative(i) => negative.push((i, v)),
                Part::Bound(j) => {
                    bounds.insert(j, v);
                }
            }
        }
        if !has_count {
            return Ok(None);
        }
        (h.positive_spans, h.positive_buckets) = rebuild(&positive, 0);
        (h.negative_spans, h.negative_buckets) = rebuild(&negative, 0);
        h.custom_values = (0..bounds.len())
            .map(|j| bounds.get(&j).copied().ok_or_else(|| BadHistogramFields(format!("custom bound {j} missing"))))
            .collect::<Result<_, _>>()?;
        Ok(Some(h))
    }
}

fn schema(v: f64) -> Result<i32, BadHistogramFields> {
    let ok = v.fract() == 0.0 && (-53.0..=8.0).contains(&v);
    // The range check makes the conversion exact.
    #[allow(clippy::cast_possible_truncation, reason = "checked to be a small integer")]
    ok.then_some(v as i32).ok_or_else(|| BadHistogramFields(format!("schema {v} is not an integer in -53..=8")))
}

fn hint(v: f64) -> Result<CounterResetHint, BadHistogramFields> {
    Ok(match v {
        0.0 => CounterResetHint::Unknown,
        1.0 => CounterResetHint::CounterReset,
        2.0 => CounterResetHint::NotCounterReset,
        3.0 => CounterResetHint::Gauge,
        _ => return Err(BadHistogramFields(format!("counter reset hint {v} is not 0, 1, 2 or 3"))),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::model::histogram::Span;

    fn sample() -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: CounterResetHint::Gauge,
            schema: 1,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 12.0,
            sum: 7.5,
            positive_spans: vec![Span { offset: -2, length: 2 }, Span { offset: 3, length: 1 }],
            positive_buckets: vec![1.0, 0.0, 4.0],
            negative_spans: vec![Span { offset: 1, length: 2 }],
            negative_buckets: vec![3.0, 2.0],
            custom_values: Vec::new(),
        }
    }

    fn round_trip(h: &FloatHistogram) -> FloatHistogram {
        let fields = to_fields(h);
        let layout = FieldLayout::new(fields.iter().rev().map(|(n, _)| n.as_str()));
        let n = fields.len();
        layout.read(|c| Some(fields[n - 1 - c].1)).unwrap().unwrap()
    }

    #[test]
    fn a_histogram_survives_its_fields_with_empty_buckets_kept() {
        let h = sample();
        assert_eq!(round_trip(&h), h);
        let names: Vec<String> = to_fields(&h).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"__hist_pm2".to_owned()) && names.contains(&"__hist_p3".to_owned()), "{names:?}");
        assert!(names.iter().all(|n| is_histogram_field(n)), "{names:?}");
    }

    #[test]
    fn custom_bounds_and_zero_length_layouts_survive() {
        let h = FloatHistogram {
            schema: super::super::CUSTOM_BUCKETS_SCHEMA,
            count: 3.0,
            positive_spans: vec![Span { offset: 0, length: 3 }],
            positive_buckets: vec![1.0, 2.0, 0.0],
            custom_values: vec![-2.0, 3.0],
            ..FloatHistogram::default()
        };
        assert_eq!(round_trip(&h), h);
        assert_eq!(round_trip(&FloatHistogram::default()), FloatHistogram::default());
    }

    #[test]
    fn a_row_without_a_count_is_no_histogram_and_bad_parts_are_refused() {
        let layout = FieldLayout::new(["value", COUNT_FIELD, "__hist_schema", "__hist_hint"]);
        assert_eq!(layout.read(|_| None).unwrap(), None);
        assert!(layout.read(|c| Some(if c == 2 { 0.5 } else { 1.0 })).is_err(), "fractional schema");
        assert!(layout.read(|c| Some(if c == 3 { 7.0 } else { 1.0 })).is_err(), "unknown hint");
    }

    #[test]
    fn only_canonical_names_are_histogram_fields() {
        for ok in ["__hist_count", "__hist_p0", "__hist_pm1", "__hist_n12", "__hist_bound0", "__hist_hint"] {
            assert!(is_histogram_field(ok), "{ok}");
        }
        for bad in ["__hist_p01", "__hist_pm0", "__hist_x", "__hist_", "hist_count", "__hist_bound", "__hist_p-1"] {
            assert!(!is_histogram_field(bad), "{bad}");
        }
    }
}
