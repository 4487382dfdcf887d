//! Function calls: dispatch to the range-vector functions
//! ([`super::range_functions`]), the classic histogram functions
//! ([`super::histogram`]), and the functions of instant vectors and
//! scalars kept here: math and trigonometry, `clamp*`, `round`, the date
//! functions, `timestamp`, `time`, `vector`, `scalar`, `absent*`,
//! `label_replace`, `label_join` and the `sort*` family.

use promql_parser::label::MatchOp;
use std::fmt;

use promql_parser::parser::{Call, Expr, VectorSelector};

use super::context::QueryContext;
use super::dates;
use super::error::{PromError, Result};
use super::histogram::{self, Over};
use super::node::Operator;
use super::series::{Range, StepSeries, Val, merge_same_labels};
use super::value::{Labels, METRIC_NAME};

/// `PromFunction`: a function of instant vectors and scalars, over its
/// arguments' values (planned as its inputs, in order).
#[derive(Debug)]
pub(crate) struct Function {
    pub name: &'static str,
    /// The arguments as the query wrote them (for the positions of
    /// annotations).
    pub args: Vec<String>,
    pub steps: Range,
    /// The labels `absent` / `absent_over_time` give their answer.
    pub absent_labels: Labels,
}

impl Function {
    /// The node of `call` at `steps` (its inputs are planned by the caller).
    pub fn new(call: &Call, steps: Range) -> Function {
        let args: Vec<&Expr> = call.args.args.iter().map(|a| unparen(a)).collect();
        let selector = match args.first() {
            Some(Expr::VectorSelector(vs)) => Some(vs),
            Some(Expr::MatrixSelector(ms)) => Some(&ms.vs),
            _ => None,
        };
        Function {
            name: call.func.name,
            args: args.iter().map(|a| a.to_string()).collect(),
            steps,
            absent_labels: selector.map(absent_labels).unwrap_or_default(),
        }
    }
}

impl Operator for Function {
    fn name(&self) -> &'static str {
        "PromFunction"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}), steps={}", self.name, self.args.join(", "), self.steps)?;
        if !self.absent_labels.is_empty() {
            write!(f, ", labels={}", self.absent_labels)?;
        }
        Ok(())
    }

    fn apply(&self, ctx: &QueryContext, vals: Vec<Val>) -> Result<Val> {
        call(ctx, self, vals)
    }
}

/// Evaluates a function call over its arguments' values.
fn call(ev: &QueryContext, f: &Function, mut vals: Vec<Val>) -> Result<Val> {
    let (name, steps) = (f.name, f.steps);
    if matches!(name, "absent" | "absent_over_time") {
        return absent(name, vals, steps, &f.absent_labels);
    }
    let n = steps.len();
    Ok(match name {
        "time" => Val::Scalar(steps.times().map(|t| t as f64 / 1000.0).collect()),
        "timestamp" => {
            // Of a computed vector: the time of each step.
            let series = vector(vals.remove(0))?;
            let out = series
                .into_iter()
                .map(|s| {
                    let values = (0..n)
                        .map(|i| (s.values[i].is_some() || s.hist(i).is_some()).then(|| steps.at(i) as f64 / 1000.0))
                        .collect();
                    StepSeries { values, hists: Vec::new(), ..s }
                })
                .collect();
            Val::Vector(drop_names(out)?)
        }
        "step" => Val::Scalar(vec![ev.query.step as f64 / 1000.0; n]),
        "range" => Val::Scalar(vec![(ev.query.end - ev.query.start) as f64 / 1000.0; n]),
        "start" => Val::Scalar(vec![ev.query.start as f64 / 1000.0; n]),
        "end" => Val::Scalar(vec![ev.query.end as f64 / 1000.0; n]),
        "min_of" | "max_of" => {
            let a = scalar(vals.remove(0))?;
            let b = scalar(vals.remove(0))?;
            let f = if name == "min_of" { go_min } else { go_max };
            Val::Scalar(a.into_iter().zip(b).map(|(a, b)| f(a, b)).collect())
        }
        "pi" => Val::Scalar(vec![std::f64::consts::PI; n]),
        "vector" => {
            let v = scalar(vals.remove(0))?;
            Val::Vector(vec![StepSeries::new(Labels::default(), v.into_iter().map(Some).collect())])
        }
        "scalar" => {
            let series = vector(vals.remove(0))?;
            Val::Scalar(
                (0..n)
                    .map(|i| {
                        let mut present = series.iter().filter_map(|s| s.values[i]);
                        match (present.next(), present.next()) {
                            (Some(v), None) => v,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            )
        }
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            let mut series = vector(vals.remove(0))?;
            let labels: Vec<String> = vals.into_iter().map(string).collect::<Result<_>>()?;
            if name == "sort" || name == "sort_desc" {
                // Histograms have no order: sorting by value drops them.
                series = series
                    .into_iter()
                    .map(|s| StepSeries { hists: Vec::new(), ..s })
                    .filter(StepSeries::has_samples)
                    .collect();
            }
            if n == 1 {
                sort(name, &mut series, &labels);
            }
            Val::Vector(series)
        }
        "label_replace" => {
            let series = vector(vals.remove(0))?;
            let [dst, replacement, src, regex] = strings::<4>(vals)?;
            Val::Vector(label_replace(series, &dst, &replacement, &src, &regex)?)
        }
        "label_join" => {
            let series = vector(vals.remove(0))?;
            let names: Vec<String> = vals.into_iter().map(string).collect::<Result<_>>()?;
            Val::Vector(label_join(series, &names)?)
        }
        "histogram_quantile" => {
            let q = scalar(vals.remove(0))?;
            let series = vector(vals.remove(0))?;
            let at = (position(ev, f, 0), position(ev, f, 1));
            Val::Vector(histogram::eval(ev, Over::Quantile(&q), series, n, &at)?)
        }
        "histogram_quantiles" => {
            let series = vector(vals.remove(0))?;
            let label = string(vals.remove(0))?;
            let mut out = Vec::new();
            for (i, q) in vals.into_iter().map(scalar).enumerate() {
                let q = q?;
                let value = q.first().map_or_else(|| "NaN".to_owned(), |&q| open_metrics_float(q));
                let at = (position(ev, f, i + 2), position(ev, f, 0));
                let quantiles = histogram::eval(ev, Over::Quantile(&q), series.clone(), n, &at)?;
                out.extend(quantiles.into_iter().map(|s| StepSeries { labels: s.labels.with(&label, &value), ..s }));
            }
            Val::Vector(merge_same_labels(out)?)
        }
        "histogram_fraction" => {
            let lower = scalar(vals.remove(0))?;
            let upper = scalar(vals.remove(0))?;
            let series = vector(vals.remove(0))?;
            let at = (String::new(), position(ev, f, 2));
            Val::Vector(histogram::eval(ev, Over::Fraction(&lower, &upper), series, n, &at)?)
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            let series = vector(vals.remove(0))?;
            Val::Vector(histogram::native_stat(name, series)?)
        }
        "clamp" => {
            let series = vector(vals.remove(0))?;
            let lo = scalar(vals.remove(0))?;
            let hi = scalar(vals.remove(0))?;
            map_values(series, |i, v| {
                (lo[i] <= hi[i] || lo[i].is_nan() || hi[i].is_nan()).then(|| go_max(lo[i], go_min(hi[i], v)))
            })?
        }
        "clamp_min" => {
            let series = vector(vals.remove(0))?;
            let lo = scalar(vals.remove(0))?;
            map_values(series, |i, v| Some(go_max(lo[i], v)))?
        }
        "clamp_max" => {
            let series = vector(vals.remove(0))?;
            let hi = scalar(vals.remove(0))?;
            map_values(series, |i, v| Some(go_min(hi[i], v)))?
        }
        "round" => {
            let series = vector(vals.remove(0))?;
            let to = if vals.is_empty() { vec![1.0; n] } else { scalar(vals.remove(0))? };
            map_values(series, |i, v| {
                let inverse = 1.0 / to[i];
                Some((v * inverse + 0.5).floor() / inverse)
            })?
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let series = match vals.pop() {
                Some(v) => vector(v)?,
                None => {
                    vec![StepSeries::new(Labels::default(), steps.times().map(|t| Some(t as f64 / 1000.0)).collect())]
                }
            };
            map_values(series, |_, v| Some(dates::component(name, v)))?
        }
        _ => match math(name) {
            Some(f) => map_values(vector(vals.remove(0))?, |_, v| Some(f(v)))?,
            None => return Err(PromError::BadData(format!("function {name:?} is not supported"))),
        },
    })
}

/// A float as OpenMetrics writes it in a label: integers keep a `.0`.
fn open_metrics_float(v: f64) -> String {
    let text = super::value::format_value(v);
    if v.is_finite() && !text.contains(['.', 'e']) { format!("{text}.0") } else { text }
}

/// The expression inside any parentheses.
pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// A function of one number, if `name` is one.
fn math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        _ => return None,
    })
}

/// Go's `math.Max`: NaN wins, +0 over -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

/// Applies `f(step, value)` to every value, dropping the metric name.
fn map_values(series: Vec<StepSeries>, f: impl Fn(usize, f64) -> Option<f64>) -> Result<Val> {
    let out = series
        .into_iter()
        .map(|s| {
            let values = s.values.iter().enumerate().map(|(i, v)| v.and_then(|v| f(i, v))).collect();
            StepSeries { values, hists: Vec::new(), ..s }.without_name()
        })
        .collect();
    drop_names(out).map(Val::Vector)
}

/// The series without metric names, merged where that made them equal.
fn drop_names(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    merge_same_labels(series.into_iter().map(StepSeries::without_name).collect())
}

fn vector(v: Val) -> Result<Vec<StepSeries>> {
    match v {
        Val::Vector(v) => Ok(v),
        other => Err(PromError::BadData(format!("expected an instant vector argument, got {}", other.type_name()))),
    }
}

fn scalar(v: Val) -> Result<Vec<f64>> {
    match v {
        Val::Scalar(v) => Ok(v),
        other => Err(PromError::BadData(format!("expected a scalar argument, got {}", other.type_name()))),
    }
}

fn string(v: Val) -> Result<String> {
    match v {
        Val::String(s) => Ok(s),
        other => Err(PromError::BadData(format!("expected a string argument, got {}", other.type_name()))),
    }
}

fn strings<const N: usize>(vals: Vec<Val>) -> Result<[String; N]> {
    let list: Vec<String> = vals.into_iter().map(string).collect::<Result<_>>()?;
    list.try_into().map_err(|_| PromError::BadData(format!("expected {N} string arguments")))
}

/// `absent(v)` / `absent_over_time(m)`: 1 at the steps where the argument
/// has nothing, labelled with the equality matchers of its selector.
fn absent(name: &str, mut vals: Vec<Val>, steps: Range, labels: &Labels) -> Result<Val> {
    let present: Vec<bool> = match vals.pop() {
        Some(Val::Vector(series)) => (0..steps.len()).map(|i| series.iter().any(|s| s.values[i].is_some())).collect(),
        Some(Val::Matrix(m)) => steps
            .times()
            .map(|t| {
                let end = m.window_end(t);
                m.series.iter().any(|s| !s.window(end - m.range, end).is_empty())
            })
            .collect(),
        other => {
            return Err(PromError::BadData(format!(
                "{name} needs a vector, got {}",
                other.map_or("nothing", |v| v.type_name())
            )));
        }
    };
    let values: Vec<Option<f64>> = present.into_iter().map(|p| (!p).then_some(1.0)).collect();
    let out =
        if values.iter().any(Option::is_some) { vec![StepSeries::new(labels.clone(), values)] } else { Vec::new() };
    Ok(Val::Vector(out))
}

/// Where argument `i` of `f` appears in the query, for annotations.
fn position(ev: &QueryContext, f: &Function, i: usize) -> String {
    f.args.get(i).map(|a| ev.position(a)).unwrap_or_default()
}

/// The labels `absent` gives its answer: each label whose only matcher is
/// an equality (the metric name excluded).
fn absent_labels(vs: &VectorSelector) -> Labels {
    let matchers = &vs.matchers.matchers;
    let pairs = matchers.iter().filter(|m| {
        m.name != METRIC_NAME
            && matches!(m.op, MatchOp::Equal)
            && matchers.iter().filter(|other| other.name == m.name).count() == 1
    });
    Labels::new(pairs.map(|m| (m.name.clone(), m.value.clone())).collect::<Vec<_>>())
}

/// Orders an instant vector's series: by value (NaN first, as Prometheus
/// does) or by the values of the given labels, then by all labels.
fn sort(name: &str, series: &mut [StepSeries], labels: &[String]) {
    let value = |s: &StepSeries| s.values[0].unwrap_or(f64::NAN);
    match name {
        "sort" | "sort_desc" => {
            let desc = name == "sort_desc";
            series.sort_by(|a, b| {
                let (x, y) = (value(a), value(b));
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
        }
        _ => {
            let desc = name == "sort_by_label_desc";
            series.sort_by(|a, b| {
                let mut ord = std::cmp::Ordering::Equal;
                for l in labels {
                    ord = natural_cmp(a.labels.get(l).unwrap_or(""), b.labels.get(l).unwrap_or(""));
                    if ord.is_ne() {
                        break;
                    }
                }
                let ord = ord.then_with(|| a.labels.cmp(&b.labels));
                if desc { ord.reverse() } else { ord }
            });
        }
    }
}

/// Compares strings with runs of digits compared as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let i = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let j = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (nx, ny) = (trim_zeros(&x[..i]), trim_zeros(&y[..j]));
                let ord = nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny));
                if ord.is_ne() {
                    return ord;
                }
                (x, y) = (&x[i..], &y[j..]);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                (x, y) = (&x[1..], &y[1..]);
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// Whether `name` is a valid Prometheus label name.
pub fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `label_replace`: where the regex matches the source label's whole
/// value, sets the destination label to the expanded replacement.
fn label_replace(
    series: Vec<StepSeries>,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &str,
) -> Result<Vec<StepSeries>> {
    let re = regex::Regex::new(&format!("^(?s:{regex})$"))
        .map_err(|_| PromError::BadData(format!("invalid regular expression in label_replace(): {regex}")))?;
    if !valid_label_name(dst) {
        return Err(PromError::BadData(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let out = series
        .into_iter()
        .map(|mut s| {
            let value = s.labels.get(src).unwrap_or("").to_owned();
            if let Some(caps) = re.captures(&value) {
                let mut expanded = String::new();
                caps.expand(replacement, &mut expanded);
                s.labels = s.labels.with(dst, &expanded);
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
            s
        })
        .collect();
    merge_same_labels(out)
}

/// `label_join(v, dst, separator, src...)`.
fn label_join(series: Vec<StepSeries>, names: &[String]) -> Result<Vec<StepSeries>> {
    let (dst, rest) = names.split_first().ok_or_else(|| PromError::BadData("label_join needs a destination".into()))?;
    let (separator, sources) =
        rest.split_first().ok_or_else(|| PromError::BadData("label_join needs a separator".into()))?;
    if !valid_label_name(dst) {
        return Err(PromError::BadData(format!("invalid destination label name in label_join(): {dst}")));
    }
    if let Some(bad) = sources.iter().find(|s| !valid_label_name(s)) {
        return Err(PromError::BadData(format!("invalid source label name in label_join(): {bad}")));
    }
    let out = series
        .into_iter()
        .map(|mut s| {
            let joined: Vec<&str> = sources.iter().map(|l| s.labels.get(l).unwrap_or("")).collect();
            s.labels = s.labels.with(dst, &joined.join(separator));
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
            s
        })
        .collect();
    merge_same_labels(out)
}
