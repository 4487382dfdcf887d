//! The values a PromQL query returns: label sets, samples, series, and the
//! four result types (scalar, string, instant vector, range vector), with
//! the warnings and infos Prometheus attaches to a result.
//!
//! Times are milliseconds since the Unix epoch, as in Prometheus's API.

use std::fmt;

use crate::model::histogram::FloatHistogram;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// A label set: (name, value) pairs sorted by name, names unique, no empty
/// values (in PromQL an empty label value is the same as no label).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The label set of `pairs`: sorted, empty values dropped; of two pairs
    /// with one name, the last wins.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut pairs: Vec<(String, String)> = pairs.into_iter().collect();
        // A stable sort keeps the written order among equal names, so the
        // dedup below can keep the last one.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == name => last.1 = value,
                _ => out.push((name, value)),
            }
        }
        out.retain(|(_, value)| !value.is_empty());
        Labels(out)
    }

    /// The value of label `name`, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// This set with label `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut pairs = self.0.clone();
        match pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                pairs.remove(i);
            }
            Ok(i) => pairs[i].1 = value.to_owned(),
            Err(_) if value.is_empty() => {}
            Err(i) => pairs.insert(i, (name.to_owned(), value.to_owned())),
        }
        Labels(pairs)
    }

    /// This set without the labels for which `drop` is true.
    pub fn without(&self, mut drop: impl FnMut(&str) -> bool) -> Labels {
        Labels(self.0.iter().filter(|(n, _)| !drop(n)).cloned().collect())
    }

    /// This set without its metric name.
    pub fn without_name(&self) -> Labels {
        self.without(|n| n == METRIC_NAME)
    }

    /// A stable 64-bit hash of the set (FNV-1a over `name 0xff value 0xff`
    /// for each label), the same in every build and process.
    pub fn stable_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (n, v) in &self.0 {
            for &b in n.as_bytes().iter().chain([0xff].iter()).chain(v.as_bytes()).chain([0xff].iter()) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }

    /// The pairs, owned.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `{a="1", b="2"}`, the metric name in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One sample of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value (0 for a histogram sample).
    pub v: f64,
    /// The native histogram, for a histogram sample.
    pub h: Option<FloatHistogram>,
}

/// One series of a range vector (a matrix): points in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// (milliseconds since the epoch, value), ascending by time.
    pub points: Vec<(i64, f64)>,
    /// (milliseconds since the epoch, native histogram), ascending by time.
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum PromValue {
    /// A number at an evaluation time.
    Scalar {
        /// Milliseconds since the epoch.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at an evaluation time.
    String {
        /// Milliseconds since the epoch.
        t: i64,
        /// The value.
        s: String,
    },
    /// An instant vector: one sample per series, at one time.
    Vector(Vec<Sample>),
    /// A range vector: the points of each series (the answer of a range query,
    /// or of an instant query of a range selector).
    Matrix(Vec<Series>),
}

impl PromValue {
    /// Prometheus's name of the type: `scalar`, `string`, `vector`, `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            PromValue::Scalar { .. } => "scalar",
            PromValue::String { .. } => "string",
            PromValue::Vector(_) => "vector",
            PromValue::Matrix(_) => "matrix",
        }
    }
}

/// A result with the annotations Prometheus attaches to it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: PromValue,
    /// Warnings (`PromQL warning: ...`): the answer may be wrong.
    pub warnings: Vec<String>,
    /// Infos (`PromQL info: ...`): the answer is right but the query looks odd.
    pub infos: Vec<String>,
}

/// A float as Prometheus writes sample values (Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`): the shortest exact decimal, no
/// exponent, and `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}
