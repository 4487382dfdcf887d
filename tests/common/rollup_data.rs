//! Raw `cpu` points for the rollup tests, and the rollups they must give,
//! computed here from the generated points (never by Chronicle).
//!
//! Three series: `host=a,region=eu`, `host=b,region=us`, and `host=c`
//! without a region. Each has a row every 30 to 90 seconds (jittered by a
//! seeded generator) with field `usage`, and `idle` on two rows of three.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use chronicle::{Db, Row, ScanRequest};

pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;

/// A series' tags, sorted by key.
pub type Tags = Vec<(String, String)>;
/// Rollup rows: (series, window start) -> target field -> value.
pub type Rollup = BTreeMap<(Tags, i64), BTreeMap<String, f64>>;
/// Raw values by (series, window start), then field, as (time, value).
type Windows = BTreeMap<(Tags, i64), BTreeMap<&'static str, Vec<(i64, f64)>>>;

/// One raw point.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPoint {
    pub tags: Tags,
    pub field: &'static str,
    pub time: i64,
    pub value: f64,
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    let mut t: Tags = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    t.sort();
    t
}

/// The series of the data set.
pub fn series() -> Vec<Tags> {
    vec![tags(&[("host", "a"), ("region", "eu")]), tags(&[("host", "b"), ("region", "us")]), tags(&[("host", "c")])]
}

/// A small seeded generator (SplitMix64).
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value in [-50, 150) with a fractional part.
    pub fn value(&mut self) -> f64 {
        (self.below(200_000) as f64) / 1000.0 - 50.0 + (self.below(7) as f64) / 7.0
    }
}

/// Points of every series in `start..end`.
pub fn generate(seed: u64, start: i64, end: i64) -> Vec<RawPoint> {
    let mut rng = Seeded::new(seed);
    let mut out = Vec::new();
    for s in series() {
        let mut t = start + rng.below(30) as i64 * SECOND;
        let mut row = 0;
        while t < end {
            out.push(RawPoint { tags: s.clone(), field: "usage", time: t, value: rng.value() });
            if row % 3 != 2 {
                out.push(RawPoint { tags: s.clone(), field: "idle", time: t, value: rng.value() });
            }
            row += 1;
            t += (30 + rng.below(61) as i64) * SECOND + rng.below(1000) as i64;
        }
    }
    out
}

/// The points as rows to write, one field each.
pub fn rows(points: &[RawPoint]) -> Vec<Row> {
    points
        .iter()
        .map(|p| {
            let mut row = Row::new("cpu", p.time).with_field(p.field, p.value);
            row.tags = p.tags.clone();
            row
        })
        .collect()
}

/// What the database holds after `points` were written in order: the last
/// write of a (series, field, time) wins.
pub fn latest(points: &[RawPoint]) -> BTreeMap<(Tags, &'static str, i64), f64> {
    points.iter().map(|p| ((p.tags.clone(), p.field, p.time), p.value)).collect()
}

/// The rollup with `window` of the points before `before`, with every
/// aggregate: `<field>_mean`, `_min`, `_max`, `_sum`, `_count`, `_last`.
pub fn expected_rollup(points: &[RawPoint], window: i64, before: i64) -> Rollup {
    let mut grouped = Windows::new();
    for ((tags, field, time), value) in latest(points) {
        if time >= before {
            continue;
        }
        let w = time - time.rem_euclid(window);
        grouped.entry((tags, w)).or_default().entry(field).or_default().push((time, value));
    }
    grouped
        .into_iter()
        .map(|(key, fields)| {
            let mut out = BTreeMap::new();
            for (field, mut values) in fields {
                values.sort_by_key(|v| v.0);
                let n = values.len() as f64;
                let sum: f64 = values.iter().map(|v| v.1).sum();
                let min = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
                let max = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
                let last = values.last().map(|v| v.1).unwrap();
                out.insert(format!("{field}_mean"), sum / n);
                out.insert(format!("{field}_min"), min);
                out.insert(format!("{field}_max"), max);
                out.insert(format!("{field}_sum"), sum);
                out.insert(format!("{field}_count"), n);
                out.insert(format!("{field}_last"), last);
            }
            (key, out)
        })
        .collect()
}

/// The rollup stored in measurement `target`.
pub fn stored_rollup(db: &Db, target: &str) -> Rollup {
    let mut out = Rollup::new();
    for batch in db.scan(&ScanRequest::new(target)).expect("scans") {
        add_rows(&batch.expect("reads"), &mut out);
    }
    out
}

fn add_rows(b: &RecordBatch, out: &mut Rollup) {
    let times = b.column_by_name("time").expect("time").as_primitive::<TimestampNanosecondType>();
    let schema = b.schema();
    for r in 0..b.num_rows() {
        let mut tags = Tags::new();
        let mut fields = BTreeMap::new();
        for (i, f) in schema.fields().iter().enumerate().skip(1) {
            let column = b.column(i);
            if column.is_null(r) {
                continue;
            }
            match f.data_type() {
                DataType::Float64 => {
                    fields.insert(f.name().clone(), column.as_primitive::<Float64Type>().value(r));
                }
                _ => {
                    let dict = column.as_dictionary::<Int32Type>();
                    let value = dict.values().as_string::<i32>().value(dict.keys().value(r) as usize);
                    tags.push((f.name().clone(), value.to_string()));
                }
            }
        }
        tags.sort();
        let previous = out.insert((tags.clone(), times.value(r)), fields);
        assert!(previous.is_none(), "{tags:?} at {} stored twice", times.value(r));
    }
}

/// `a` and `b` agree within 1e-9 relative (absolute near zero).
pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `actual` has exactly the rows and fields of `expected`, each value within 1e-9 relative.
pub fn assert_rollup_eq(actual: &Rollup, expected: &Rollup) {
    let missing: Vec<_> = expected.keys().filter(|k| !actual.contains_key(*k)).take(5).collect();
    let extra: Vec<_> = actual.keys().filter(|k| !expected.contains_key(*k)).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} rows stored, {} expected; missing {missing:?}, extra {extra:?}",
        actual.len(),
        expected.len()
    );
    for (key, want) in expected {
        let got = &actual[key];
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "fields of {key:?}");
        for (field, w) in want {
            assert!(close(got[field], *w), "{key:?} {field}: stored {} expected {w}", got[field]);
        }
    }
}
