//! Prometheus's own PromQL tests (`tests/promql/*.test`, copied unmodified
//! from prometheus/prometheus `promql/promqltest/testdata`) run against
//! Chronicle's engine through `Db::promql_instant` / `Db::promql_range`,
//! judged as Prometheus's harness (`promql/promqltest/test.go`) judges them.
//!
//! Per file: a fresh database; `load` writes each series as rows of its
//! metric (field `value`), `clear` starts a new database, and each `eval`
//! passes or fails as a whole. An instant eval is also run, as test.go does,
//! at the middle step of a range query around its time and, when it is
//! step-invariant, with every selector pinned by `@` at five other times.
//! Values compare with test.go's `almost.Equal` (relative 1e-6, NaN equals
//! NaN, the staleness marker only itself), results unordered unless
//! `ordered`, matrices sorted by labels.
//!
//! An eval fails (and the file goes on) when the engine errs where it should
//! not, panics, or reads a series the load could not write: one without a
//! metric name or with labels Chronicle refuses. Native histogram samples
//! (`{{...}}`) are written as the fields of a histogram row.
//!
//! It prints `promqltest <file>: passed N of M` per file and a total, and
//! fails when a file passes fewer evals than `tests/promql/baseline.tsv`
//! says. Environment:
//! - `PROMQLTEST_FILE=functions` runs one file;
//! - `PROMQLTEST_VERBOSE=1` prints each failure (file:line, query, why);
//! - `PROMQLTEST_BLESS=1` rewrites the baseline with the counts measured.
//!
//! `cargo test --test integration promql_conformance:: -- --nocapture` shows the counts.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;
#[path = "common/promqltest.rs"]
mod promqltest;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use chronicle::histogram::FloatHistogram;
use chronicle::histogram::fields::to_fields as histogram_fields;
use chronicle::promql::{Labels, METRIC_NAME, PromOptions, PromValue, QueryResult, Sample};
use chronicle::{Config, Db, Row};
use common::TempDir;
use promql_parser::parser::{self as ast, AtModifier, Expr};
use promqltest::{Command, Eval, SeqValue, SeriesDef, Unloadable};
use regex::Regex;

/// test.go's `defaultEpsilon`: the relative error allowed for values.
const EPSILON: f64 = 0.000_001;

/// Functions whose result depends on the evaluation time even when their
/// arguments do not (Prometheus's `AtModifierUnsafeFunctions`): an eval
/// using one is not repeated with `@`.
const AT_UNSAFE_FUNCTIONS: [&str; 15] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// The files of the 95% target (issue 12): float PromQL without native
/// histograms or experimental syntax.
const TARGET_FILES: [&str; 14] = [
    "aggregators",
    "at_modifier",
    "collision",
    "functions",
    "histograms",
    "limit",
    "literals",
    "name_label_dropping",
    "operators",
    "range_queries",
    "selectors",
    "staleness",
    "subquery",
    "trig_functions",
];

/// Queries whose answer depends on the query's own range: not compared
/// with a range query (test.go's `reQueryContextFuncs`).
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").unwrap());

fn test_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promql")
}

/// The engine settings of Prometheus's test engine (`NewTestEngine` with
/// `DefaultMaxSamplesPerQuery`): 10,000 samples, 100 s, lookback 5 m.
fn options() -> PromOptions {
    PromOptions { max_samples: 10_000, timeout: Duration::from_secs(100), ..PromOptions::default() }
}

/// test.go's `almost.Equal`: equal within `epsilon` relative to the sum of
/// magnitudes (absolute near zero), NaN equal to NaN, and a staleness marker
/// equal only to a staleness marker.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let stale = |x: f64| x.to_bits() == promqltest::STALE_NAN_BITS;
    if stale(a) || stale(b) {
        return stale(a) && stale(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// One file's database and what its loads could not write.
struct Store {
    db: Db,
    _dir: TempDir,
    /// The loads since the last `clear`, to rebuild the database when a
    /// panic may have left it poisoned.
    loads: Vec<(i64, Vec<SeriesDef>, Vec<Unloadable>)>,
    unloadable: Vec<Unloadable>,
}

impl Store {
    fn new() -> Store {
        let dir = TempDir::new("promqltest");
        let db = Db::open(dir.path("db"), Config::default()).expect("opens a fresh database");
        Store { db, _dir: dir, loads: Vec::new(), unloadable: Vec::new() }
    }

    /// Writes each series as rows of its metric, one batch per series so a
    /// refused series does not take the others with it.
    fn load(&mut self, interval: i64, series: &[SeriesDef], unloadable: &[Unloadable]) {
        self.loads.push((interval, series.to_vec(), unloadable.to_vec()));
        self.unloadable.extend(unloadable.iter().cloned());
        for s in series {
            let written = catch_unwind(AssertUnwindSafe(|| write_series(&self.db, interval, s)))
                .unwrap_or_else(|_| Err("the write panicked".into()));
            if let Err(reason) = written {
                self.unloadable.push(Unloadable { labels: Some(s.labels.clone()), reason });
            }
        }
    }

    /// A new database holding what this one was loaded with.
    fn rebuilt(&self) -> Store {
        let mut fresh = Store::new();
        for (interval, series, unloadable) in &self.loads {
            fresh.load(*interval, series, unloadable);
        }
        fresh
    }
}

fn write_series(db: &Db, interval: i64, s: &SeriesDef) -> Result<(), String> {
    let labels = Labels::new(s.labels.clone());
    let name = labels.metric_name().ok_or("a series without a metric name cannot be stored")?;
    let mut rows = Vec::new();
    for (i, v) in s.values.iter().enumerate() {
        let fields = match v {
            SeqValue::Float(v) => vec![("value".to_owned(), *v)],
            SeqValue::Histogram(h, _) => histogram_fields(h),
            SeqValue::Omitted => continue,
        };
        let t_ns = (i as i64 * interval).checked_mul(1_000_000).ok_or("time overflows nanoseconds")?;
        let mut row = Row::new(name, t_ns);
        for (k, value) in labels.iter().filter(|(k, _)| *k != METRIC_NAME) {
            row = row.with_tag(k, value);
        }
        for (field, value) in fields {
            row = row.with_field(&field, value);
        }
        rows.push(row);
    }
    db.write_rows(&rows).map_err(|e| format!("{labels} was refused: {e}"))
}

/// What one file scored.
#[derive(Default)]
struct Outcome {
    passed: usize,
    total: usize,
    /// (line, query, why) of each failed eval.
    failures: Vec<(usize, String, String)>,
    /// (line, query, why) of the passing evals whose `@` variants could not
    /// be written down faithfully, so did not run.
    unpinned: Vec<(usize, String, String)>,
}

fn run_file(text: &str) -> Outcome {
    let mut out = Outcome::default();
    let mut store = Store::new();
    for command in promqltest::parse_file(text) {
        match command {
            Command::Clear => store = Store::new(),
            Command::Load { interval, series, unloadable } => store.load(interval, &series, &unloadable),
            Command::Broken { line, text, reason } => {
                out.total += 1;
                out.failures.push((line, text, format!("cannot parse the block: {reason}")));
            }
            Command::Eval(ev) => {
                out.total += 1;
                let result = match unloaded_dependency(&ev.expr, &store.unloadable) {
                    Some(reason) => Err(format!("reads a series not loaded: {reason}")),
                    None => match catch_unwind(AssertUnwindSafe(|| run_eval(&store.db, &ev))) {
                        Ok(result) => result,
                        Err(panic) => {
                            store = store.rebuilt();
                            Err(format!("the engine panicked: {}", panic_message(&*panic)))
                        }
                    },
                };
                match result {
                    Ok(unpinned) => {
                        out.passed += 1;
                        if let Some(why) = unpinned {
                            out.unpinned.push((ev.line, ev.expr.clone(), why));
                        }
                    }
                    Err(why) => out.failures.push((ev.line, ev.expr.clone(), why)),
                }
            }
        }
    }
    out
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Why `expr` cannot be judged on this data: it selects a series the load
/// could not write. An expression the parser here cannot read is assumed to
/// select everything.
fn unloaded_dependency(expr: &str, unloadable: &[Unloadable]) -> Option<String> {
    let first = unloadable.first()?;
    let Ok(parsed) = ast::parse(expr) else {
        return Some(first.reason.clone());
    };
    let mut selectors = Vec::new();
    collect_selectors(&parsed, &mut selectors);
    unloadable
        .iter()
        .find(|u| match &u.labels {
            None => true,
            Some(labels) => selectors.iter().any(|vs| selects(vs, labels)),
        })
        .map(|u| u.reason.clone())
}

fn collect_selectors<'a>(expr: &'a Expr, out: &mut Vec<&'a ast::VectorSelector>) {
    match expr {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Subquery(e) => collect_selectors(&e.expr, out),
        Expr::Paren(e) => collect_selectors(&e.expr, out),
        Expr::Unary(e) => collect_selectors(&e.expr, out),
        Expr::Binary(e) => {
            collect_selectors(&e.lhs, out);
            collect_selectors(&e.rhs, out);
        }
        Expr::Aggregate(e) => {
            collect_selectors(&e.expr, out);
            if let Some(p) = &e.param {
                collect_selectors(p, out);
            }
        }
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Whether selector `vs` selects the series `labels` (a missing label reads
/// as the empty string, as in Prometheus).
fn selects(vs: &ast::VectorSelector, labels: &[(String, String)]) -> bool {
    let get = |name: &str| labels.iter().rev().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    vs.name.as_deref().is_none_or(|n| n == get(METRIC_NAME))
        && all(&vs.matchers.matchers)
        && (vs.matchers.or_matchers.is_empty() || vs.matchers.or_matchers.iter().any(|g| all(g)))
}

/// Runs one eval; `Ok(Some(why))` when it passed but its `@` variants could
/// not be run (the expression does not survive printing by the parser here).
fn run_eval(db: &Db, ev: &Eval) -> Result<Option<String>, String> {
    if ev.is_range {
        return match db.promql_range(&ev.expr, ev.start, ev.end, ev.step, &options()) {
            Err(e) if ev.is_fail() => check_expected_failure(ev, &e.to_string()),
            Err(e) => Err(format!("error evaluating the range query: {e}")),
            Ok(_) if ev.is_fail() => Err("expected an error, got none".into()),
            Ok(res) => {
                check_annotations(ev, &res)?;
                compare(ev, &res.value)
            }
        }
        .map(|()| None);
    }
    run_instant(db, ev, &ev.expr, ev.eval_time)?;
    let (pinned, times) = match at_variants(&ev.expr, ev.eval_time) {
        Ok(Some(variants)) => variants,
        Ok(None) => return Ok(None),
        Err(unprintable) => return Ok(Some(unprintable)),
    };
    for t in times {
        run_instant(db, ev, &pinned, t).map_err(|e| format!("with @ at {t} ms: `{pinned}`: {e}"))?;
    }
    Ok(None)
}

/// test.go's `atModifierTestCases`: `expr` with every selector (outside
/// subqueries) and outermost subquery pinned by `@ t`, and the times to run
/// it at. `Ok(None)` when there are none to run: the expression uses a
/// time-dependent function, or the parser here cannot read it (nor, then,
/// can the engine). `Err` when the pinned form does not print back as
/// written, so it cannot be run faithfully.
fn at_variants(expr: &str, t: i64) -> Result<Option<(String, Vec<i64>)>, String> {
    let Ok(mut parsed) = ast::parse(expr) else {
        return Ok(None);
    };
    let at = AtModifier::At(SystemTime::UNIX_EPOCH + Duration::from_millis(t.max(0) as u64));
    let mut time_dependent = false;
    pin(&mut parsed, &at, &mut time_dependent);
    if time_dependent {
        return Ok(None);
    }
    let printed = parsed.to_string();
    let read_back = ast::parse(&printed).map(canonical).ok();
    if read_back != Some(canonical(parsed)) {
        return Err(format!("the @ form `{printed}` does not read back as written"));
    }
    let times = if t == 0 { vec![-1000, 0, 1000] } else { vec![-10 * t, 0, t / 5, t, 10 * t] };
    Ok(Some((printed, times)))
}

/// `expr` with what promql-parser's printer normalises normalised too:
/// matchers sorted, an empty `by ()` or `ignoring ()` dropped, and a binary
/// modifier that says nothing dropped. The rest must print back exactly.
fn canonical(mut expr: Expr) -> Expr {
    fn walk(expr: &mut Expr) {
        let sort = |m: &mut promql_parser::label::Matchers| {
            let key = |m: &promql_parser::label::Matcher| (m.name.clone(), m.op.to_string(), m.value.clone());
            m.matchers.sort_by_key(key);
            m.or_matchers.iter_mut().for_each(|g| g.sort_by_key(key));
        };
        match expr {
            Expr::VectorSelector(vs) => sort(&mut vs.matchers),
            Expr::MatrixSelector(ms) => sort(&mut ms.vs.matchers),
            Expr::Subquery(e) => walk(&mut e.expr),
            Expr::Paren(e) => walk(&mut e.expr),
            Expr::Unary(e) => walk(&mut e.expr),
            Expr::Binary(e) => {
                if let Some(m) = &mut e.modifier {
                    if matches!(&m.matching, Some(ast::LabelModifier::Exclude(l)) if l.is_empty()) {
                        m.matching = None;
                    }
                    if *m == ast::BinModifier::default() {
                        e.modifier = None;
                    }
                }
                walk(&mut e.lhs);
                walk(&mut e.rhs);
            }
            Expr::Aggregate(e) => {
                if matches!(&e.modifier, Some(ast::LabelModifier::Include(l)) if l.is_empty()) {
                    e.modifier = None;
                }
                walk(&mut e.expr);
                if let Some(p) = &mut e.param {
                    walk(p);
                }
            }
            Expr::Call(c) => c.args.args.iter_mut().for_each(|a| walk(a)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    walk(&mut expr);
    expr
}

/// As test.go: a node without a timestamp gets `at`; `@ start()` and
/// `@ end()` are not timestamps there, so they are replaced too.
fn pin_at(slot: &mut Option<AtModifier>, at: &AtModifier) {
    if !matches!(slot, Some(AtModifier::At(_))) {
        *slot = Some(at.clone());
    }
}

fn pin(expr: &mut Expr, at: &AtModifier, time_dependent: &mut bool) {
    match expr {
        Expr::VectorSelector(vs) => pin_at(&mut vs.at, at),
        Expr::MatrixSelector(ms) => pin_at(&mut ms.vs.at, at),
        // Inside a subquery the selectors keep their own times.
        Expr::Subquery(sq) => pin_at(&mut sq.at, at),
        Expr::Paren(e) => pin(&mut e.expr, at, time_dependent),
        Expr::Unary(e) => pin(&mut e.expr, at, time_dependent),
        Expr::Binary(e) => {
            pin(&mut e.lhs, at, time_dependent);
            pin(&mut e.rhs, at, time_dependent);
        }
        Expr::Aggregate(e) => {
            pin(&mut e.expr, at, time_dependent);
            if let Some(p) = &mut e.param {
                pin(p, at, time_dependent);
            }
        }
        Expr::Call(c) => {
            *time_dependent |= AT_UNSAFE_FUNCTIONS.contains(&c.func.name);
            c.args.args.iter_mut().for_each(|a| pin(a, at, time_dependent));
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// test.go's `runInstantQuery`: the instant query, then the same at the
/// middle step of a range query from `t - 1m` to `t + 1m`.
fn run_instant(db: &Db, ev: &Eval, expr: &str, t: i64) -> Result<(), String> {
    let res = match db.promql_instant(expr, t, &options()) {
        Err(e) if ev.is_fail() => return check_expected_failure(ev, &e.to_string()),
        Err(e) => return Err(format!("error evaluating the query: {e}")),
        Ok(_) if ev.is_fail() => return Err("expected an error, got none".into()),
        Ok(res) => res,
    };
    check_annotations(ev, &res)?;
    compare(ev, &res.value)?;
    if ev.exclude_from_range_query || QUERY_CONTEXT_FUNCS.is_match(expr) {
        return Ok(());
    }
    let range = db
        .promql_range(expr, t - 60_000, t + 60_000, 60_000, &options())
        .map_err(|e| format!("error evaluating it as a range query: {e}"))?;
    if ev.is_ordered() {
        // A range query's series are sorted by labels, not by value.
        return Ok(());
    }
    let PromValue::Matrix(series) = &range.value else {
        return Err(format!("the range query returned a {}, not a matrix", range.value.type_name()));
    };
    check_sorted(series)?;
    let at_t: Vec<Sample> = series
        .iter()
        .filter_map(|s| {
            let float = s.points.iter().find(|(pt, _)| *pt == t).map(|&(t, v)| (t, v, None));
            let histogram = s.histograms.iter().find(|(pt, _)| *pt == t).map(|(t, h)| (*t, 0.0, Some(h.clone())));
            float.or(histogram).map(|(t, v, h)| Sample { labels: s.labels.clone(), t, v, h })
        })
        .collect();
    let middle = match res.value {
        PromValue::Scalar { .. } => {
            let v = at_t.first().ok_or("the range query has no point at the instant")?.v;
            PromValue::Scalar { t, v }
        }
        _ => PromValue::Vector(at_t),
    };
    compare(ev, &middle).map_err(|e| format!("in range mode: {e}"))
}

/// test.go's `checkExpectedFailure`.
fn check_expected_failure(ev: &Eval, message: &str) -> Result<(), String> {
    if let Some(m) = ev.fail_message.as_deref().filter(|m| !m.is_empty())
        && m != message
    {
        return Err(format!("expected error {m:?}, got {message:?}"));
    }
    if let Some(r) = &ev.fail_regexp
        && !r.is_match(message)
    {
        return Err(format!("expected an error matching {:?}, got {message:?}", r.as_str()));
    }
    if let Some(m) = &ev.expects.fail
        && !m.matches(message)
    {
        return Err(format!("expected an error matching {m}, got {message:?}"));
    }
    Ok(())
}

/// test.go's `checkAnnotations`.
fn check_annotations(ev: &Eval, res: &QueryResult) -> Result<(), String> {
    if ev.warn && res.warnings.is_empty() {
        return Err("expected warnings, got none".into());
    }
    if ev.info && res.infos.is_empty() {
        return Err("expected info annotations, got none".into());
    }
    check_annotation_kind("warn", &ev.expects.warn, &res.warnings)?;
    check_annotation_kind("info", &ev.expects.info, &res.infos)?;
    if ev.expects.no_warn && !res.warnings.is_empty() {
        return Err(format!("unexpected warnings {:?}", res.warnings));
    }
    if ev.expects.no_info && !res.infos.is_empty() {
        return Err(format!("unexpected infos {:?}", res.infos));
    }
    Ok(())
}

/// Every expectation matches some annotation and every annotation some
/// expectation (test.go's `validateExpectedAnnotationsOfType`).
fn check_annotation_kind(kind: &str, expected: &[promqltest::MessageMatch], actual: &[String]) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    if let Some(e) = expected.iter().find(|e| !actual.iter().any(|a| e.matches(a))) {
        return Err(format!("expected a {kind} annotation matching {e}, got {actual:?}"));
    }
    if let Some(a) = actual.iter().find(|a| !expected.iter().any(|e| e.matches(a))) {
        return Err(format!("unexpected {kind} annotation {a:?}"));
    }
    Ok(())
}

/// Matrices come sorted by labels (test.go's `assertMatrixSorted`).
fn check_sorted(series: &[chronicle::promql::Series]) -> Result<(), String> {
    match series.windows(2).find(|w| w[0].labels > w[1].labels) {
        Some(w) => Err(format!("matrix not sorted by labels: {} before {}", w[0].labels, w[1].labels)),
        None => Ok(()),
    }
}

fn expected_float(v: &SeqValue) -> Result<f64, String> {
    match v {
        SeqValue::Float(f) => Ok(*f),
        // test.go reads an omitted value's zero.
        SeqValue::Omitted => Ok(0.0),
        SeqValue::Histogram(h, _) => Err(format!("expected the histogram {h}, got a float")),
    }
}

/// test.go's `compareNativeHistogram` of both histograms compacted: the
/// hint compared only when the expected notation set it.
fn same_histogram(expected: &FloatHistogram, hint_set: bool, actual: &FloatHistogram) -> bool {
    expected.matches_expected(actual, |a, b| almost_equal(a, b, EPSILON), hint_set)
}

/// test.go's `compareResult`.
fn compare(ev: &Eval, value: &PromValue) -> Result<(), String> {
    match value {
        PromValue::Matrix(series) => {
            if ev.is_ordered() {
                return Err("expected an ordered result, got a matrix".into());
            }
            if ev.expect_scalar.is_some() {
                return Err(format!("expected a scalar, got a matrix of {} series", series.len()));
            }
            check_sorted(series)?;
            for s in series {
                let exp = ev
                    .expected
                    .get(&s.labels)
                    .ok_or_else(|| format!("unexpected series {} {:?}", s.labels, s.points))?;
                let mut expected = Vec::new();
                let mut expected_histograms = Vec::new();
                for (i, v) in exp.values.iter().enumerate() {
                    let t = ev.start + i as i64 * ev.step;
                    if t > ev.end {
                        return Err(format!(
                            "expected {} points for {}: more than the range has",
                            exp.values.len(),
                            s.labels
                        ));
                    }
                    match v {
                        SeqValue::Float(f) => expected.push((t, *f)),
                        SeqValue::Omitted => {}
                        SeqValue::Histogram(h, hint_set) => expected_histograms.push((t, h, *hint_set)),
                    }
                }
                let matches = expected.len() == s.points.len()
                    && expected.iter().zip(&s.points).all(|(e, a)| e.0 == a.0 && almost_equal(a.1, e.1, EPSILON));
                if !matches {
                    return Err(format!("{}: expected {:?}, got {:?}", s.labels, expected, s.points));
                }
                let matches = expected_histograms.len() == s.histograms.len()
                    && (expected_histograms.iter().zip(&s.histograms))
                        .all(|((t, h, hint_set), (at, ah))| t == at && same_histogram(h, *hint_set, ah));
                if !matches {
                    let want: Vec<String> = expected_histograms.iter().map(|(t, h, _)| format!("{t}: {h}")).collect();
                    let got: Vec<String> = s.histograms.iter().map(|(t, h)| format!("{t}: {h}")).collect();
                    return Err(format!("{}: expected histograms {want:?}, got {got:?}", s.labels));
                }
            }
            if let Some(missing) = ev.expected.keys().find(|l| !series.iter().any(|s| &s.labels == *l)) {
                return Err(format!("expected series {missing} not found"));
            }
        }
        PromValue::Vector(samples) => {
            if ev.expect_scalar.is_some() {
                return Err(format!("expected a scalar, got a vector of {} samples", samples.len()));
            }
            for (pos, s) in samples.iter().enumerate() {
                let exp =
                    ev.expected.get(&s.labels).ok_or_else(|| format!("unexpected sample {} {}", s.labels, s.v))?;
                if ev.is_ordered() && exp.pos != pos + 1 {
                    return Err(format!("expected {} at position {}, got it at {}", s.labels, exp.pos, pos + 1));
                }
                let exp0 = exp.values.first().ok_or("an expected series without a value")?;
                match (exp0, &s.h) {
                    (SeqValue::Histogram(want, hint_set), Some(got)) => {
                        if !same_histogram(want, *hint_set, got) {
                            return Err(format!("expected {want} for {}, got {got}", s.labels));
                        }
                    }
                    (_, Some(got)) => {
                        return Err(format!("expected a float for {}, got the histogram {got}", s.labels));
                    }
                    (exp0, None) => {
                        let want = expected_float(exp0)?;
                        if !almost_equal(want, s.v, EPSILON) {
                            return Err(format!("expected {want} for {}, got {}", s.labels, s.v));
                        }
                    }
                }
            }
            if let Some(missing) = ev.expected.keys().find(|l| !samples.iter().any(|s| &s.labels == *l)) {
                return Err(format!("expected sample {missing} not found"));
            }
        }
        PromValue::Scalar { v, .. } => {
            let want =
                ev.expect_scalar.as_ref().ok_or_else(|| format!("expected a vector or matrix, got scalar {v}"))?;
            let want = expected_float(want)?;
            if !almost_equal(want, *v, EPSILON) {
                return Err(format!("expected scalar {want}, got {v}"));
            }
        }
        PromValue::String { s, .. } => {
            let want = ev.expected_string.as_deref().unwrap_or("");
            if want != s {
                return Err(format!("expected string {want:?}, got {s:?}"));
            }
        }
    }
    Ok(())
}

/// `file<TAB>passed` lines; `#` comments.
fn read_baseline(path: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (file, n) = l.split_once('\t').unwrap_or_else(|| panic!("baseline line {l:?} is not file<TAB>passed"));
            (file.to_owned(), n.trim().parse().unwrap_or_else(|_| panic!("baseline line {l:?}: bad count")))
        })
        .collect()
}

fn write_baseline(path: &Path, counts: &BTreeMap<String, usize>) {
    let mut text = String::from(
        "# Evals of each Prometheus test file that Chronicle passes; the conformance\n\
         # test fails when a file passes fewer. PROMQLTEST_BLESS=1 rewrites it.\n",
    );
    for (file, n) in counts {
        text.push_str(&format!("{file}\t{n}\n"));
    }
    std::fs::write(path, text).expect("writes the baseline");
}

#[test]
fn prometheus_test_files() {
    let dir = test_dir();
    let only = std::env::var("PROMQLTEST_FILE").ok().map(|f| f.trim_end_matches(".test").to_owned());
    let verbose = std::env::var("PROMQLTEST_VERBOSE").is_ok_and(|v| v == "1");
    let bless = std::env::var("PROMQLTEST_BLESS").is_ok_and(|v| v == "1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reads tests/promql")
        .map(|e| e.expect("lists tests/promql").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .filter(|p| only.as_deref().is_none_or(|o| p.file_stem().is_some_and(|s| s == o)))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test file in {} matches {only:?}", dir.display());

    let baseline_path = dir.join("baseline.tsv");
    let baseline = read_baseline(&baseline_path);
    let mut counts = BTreeMap::new();
    let (mut passed, mut total, mut unpinned) = (0, 0, 0);
    let (mut target_passed, mut target_total) = (0, 0);
    let mut regressions = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let outcome = run_file(&std::fs::read_to_string(path).expect("reads the test file"));
        println!("promqltest {name}: passed {} of {}", outcome.passed, outcome.total);
        if verbose {
            for (line, expr, why) in &outcome.failures {
                println!("  FAIL {name}:{line}: {expr}: {}", why.lines().next().unwrap_or(""));
            }
            for (line, expr, why) in &outcome.unpinned {
                println!("  NO @ VARIANTS {name}:{line}: {expr}: {why}");
            }
        }
        let floor = baseline.get(&name).copied().unwrap_or(0);
        if outcome.passed < floor {
            regressions
                .push(format!("{name}: passed {} of {}, the baseline says {floor}", outcome.passed, outcome.total));
        } else if outcome.passed > floor && !bless {
            println!(
                "promqltest {name}: passes {} more than the baseline ({floor}); PROMQLTEST_BLESS=1 updates it",
                outcome.passed - floor
            );
        }
        passed += outcome.passed;
        total += outcome.total;
        unpinned += outcome.unpinned.len();
        if TARGET_FILES.contains(&name.trim_end_matches(".test")) {
            target_passed += outcome.passed;
            target_total += outcome.total;
        }
        counts.insert(name, outcome.passed);
    }
    println!("promqltest total: passed {passed} of {total}");
    if target_total > 0 {
        println!("promqltest target files: passed {target_passed} of {target_total}");
    }
    if unpinned > 0 {
        println!(
            "promqltest note: {unpinned} passing evals ran without their @ variants (not printable by promql-parser)"
        );
    }
    if bless {
        let mut updated = baseline.clone();
        updated.extend(counts);
        write_baseline(&baseline_path, &updated);
        println!("promqltest: wrote {}", baseline_path.display());
    }
    assert!(regressions.is_empty(), "fewer evals pass than the baseline:\n{}", regressions.join("\n"));
}

/// Parses an eval block for the comparison tests.
fn eval_of(block: &str) -> Eval {
    match promqltest::parse_file(block).into_iter().next() {
        Some(Command::Eval(ev)) => *ev,
        other => panic!("not an eval: {other:?}"),
    }
}

fn floats(values: &[SeqValue]) -> Vec<Option<f64>> {
    values
        .iter()
        .map(|v| match v {
            SeqValue::Float(f) => Some(*f),
            _ => None,
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
}

#[test]
fn series_notation_expands_as_prometheus() {
    let SeriesDef { labels: l, values: v } =
        promqltest::parse_series(r#"http_requests{job="api", instance="0"} 0+10x3 1-1x2 _x2 _ 5x2"#).unwrap();
    assert_eq!(
        l,
        vec![
            ("__name__".into(), "http_requests".into()),
            ("job".into(), "api".into()),
            ("instance".into(), "0".into())
        ]
    );
    let want = [Some(0.0), Some(10.0), Some(20.0), Some(30.0), Some(1.0), Some(0.0), Some(-1.0), None, None, None];
    assert_eq!(floats(&v)[..10], want);
    assert_eq!(floats(&v)[10..], [Some(5.0), Some(5.0), Some(5.0)]);
    assert!(v[7..10].iter().all(|x| matches!(x, SeqValue::Omitted)));

    let v = promqltest::parse_series("m stale Inf -Inf NaN 1e3 -2.5+0.5x1").unwrap().values;
    let SeqValue::Float(stale) = v[0] else { panic!("stale is a float") };
    assert_eq!(stale.to_bits(), promqltest::STALE_NAN_BITS);
    assert_eq!(
        v[1..3].iter().map(|x| expected_float(x).unwrap()).collect::<Vec<_>>(),
        [f64::INFINITY, f64::NEG_INFINITY]
    );
    let SeqValue::Float(nan) = v[3] else { panic!("NaN is a float") };
    assert!(nan.is_nan() && nan.to_bits() != promqltest::STALE_NAN_BITS);
    assert_eq!(floats(&v[4..]), [Some(1000.0), Some(-2.5), Some(-2.0)]);
}

#[test]
fn series_notation_reads_labels_histograms_and_refuses_junk() {
    // Label values with blanks, escapes and a quoted metric name.
    let SeriesDef { labels: l, values: v } =
        promqltest::parse_series(r#"{"my.metric", a="x y", b='q\'s', c="\x41\n"} 1"#).unwrap();
    assert_eq!(
        labels(&l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>()),
        labels(&[("__name__", "my.metric"), ("a", "x y"), ("b", "q's"), ("c", "A\n")])
    );
    assert_eq!(floats(&v), [Some(1.0)]);
    // Native histograms stay whole although they contain blanks.
    let v =
        promqltest::parse_series("h {{schema:0 sum:5 buckets:[1 2]}}x2 {{count:1}}+{{count:2}}x1 7").unwrap().values;
    assert_eq!(v.len(), 6);
    assert!(v[..5].iter().all(|x| matches!(x, SeqValue::Histogram(..))));
    let counts: Vec<f64> =
        v[3..5].iter().map(|x| if let SeqValue::Histogram(h, _) = x { h.count } else { f64::NAN }).collect();
    assert_eq!(counts, [1.0, 3.0], "{{count:1}}+{{count:2}}x1 adds");
    assert_eq!(floats(&v[5..]), [Some(7.0)]);
    // A name-less series parses (the load refuses it later).
    assert!(promqltest::parse_series(r#"{a="b"} 1"#).unwrap().labels.iter().all(|(k, _)| k != "__name__"));
    for bad in ["m 1+x3", "m abc", r#"m{a="b} 1"#, "m{a=b} 1", "m 1x", "m {{count:1"] {
        assert!(promqltest::parse_series(bad).is_err(), "{bad:?} parses");
    }
    assert_eq!(promqltest::parse_duration("1h5m10s53ms").unwrap(), 3_910_053);
    assert_eq!(promqltest::parse_duration("0").unwrap(), 0);
    assert!(promqltest::parse_duration("5x").is_err() && promqltest::parse_duration("").is_err());
    assert_eq!(promqltest::parse_number("0x10"), Some(16.0));
    assert_eq!(promqltest::parse_number("-Inf"), Some(f64::NEG_INFINITY));
    assert_eq!(promqltest::parse_number("m 1"), None);
}

#[test]
fn almost_equal_is_prometheus_almost_equal() {
    assert!(almost_equal(1.0, 1.0 + 1e-7, EPSILON));
    assert!(!almost_equal(1.0, 1.0 + 1e-5, EPSILON));
    assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7), EPSILON));
    assert!(almost_equal(f64::NAN, -f64::NAN, EPSILON));
    assert!(!almost_equal(f64::NAN, 1.0, EPSILON));
    let stale = f64::from_bits(promqltest::STALE_NAN_BITS);
    assert!(almost_equal(stale, stale, EPSILON));
    assert!(!almost_equal(stale, f64::NAN, EPSILON), "a staleness marker is not any NaN");
    assert!(almost_equal(f64::INFINITY, f64::INFINITY, EPSILON));
    assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, EPSILON));
    // Near zero the tolerance is absolute and tiny.
    assert!(!almost_equal(0.0, 1e-300, EPSILON));
    assert!(almost_equal(0.0, -0.0, EPSILON));
}

#[test]
fn results_compare_as_prometheus_compares_them() {
    let ev = eval_of("eval instant at 5m foo\n  foo{a=\"1\"} 3\n  foo{a=\"2\"} NaN\n");
    let sample = |a: &str, v: f64| Sample { labels: labels(&[("__name__", "foo"), ("a", a)]), t: 300_000, v, h: None };
    // Any order, NaN equals NaN, 1e-7 relative error is equal.
    assert!(compare(&ev, &PromValue::Vector(vec![sample("2", f64::NAN), sample("1", 3.0000001)])).is_ok());
    assert!(compare(&ev, &PromValue::Vector(vec![sample("1", 3.1), sample("2", f64::NAN)])).is_err());
    assert!(compare(&ev, &PromValue::Vector(vec![sample("1", 3.0)])).is_err(), "a missing sample");
    assert!(compare(&ev, &PromValue::Vector(vec![sample("1", 3.0), sample("2", f64::NAN), sample("3", 1.0)])).is_err());
    assert!(compare(&ev, &PromValue::Scalar { t: 0, v: 3.0 }).is_err());

    let ordered = eval_of("eval_ordered instant at 0 sort(foo)\n  foo{a=\"1\"} 1\n  foo{a=\"2\"} 2\n");
    assert!(compare(&ordered, &PromValue::Vector(vec![sample("1", 1.0), sample("2", 2.0)])).is_ok());
    assert!(compare(&ordered, &PromValue::Vector(vec![sample("2", 2.0), sample("1", 1.0)])).is_err());

    let scalar = eval_of("eval instant at 0 1 + 1\n  2\n");
    assert!(compare(&scalar, &PromValue::Scalar { t: 0, v: 2.0 }).is_ok());
    assert!(compare(&scalar, &PromValue::Vector(vec![])).is_err());

    let range = eval_of("eval range from 0 to 2m step 1m foo\n  foo{a=\"1\"} 1 _ 3\n");
    let series = |points: Vec<(i64, f64)>| {
        PromValue::Matrix(vec![chronicle::promql::Series {
            labels: labels(&[("__name__", "foo"), ("a", "1")]),
            points,
            histograms: Vec::new(),
        }])
    };
    assert!(compare(&range, &series(vec![(0, 1.0), (120_000, 3.0)])).is_ok());
    assert!(compare(&range, &series(vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)])).is_err(), "a point where `_` is");
    assert!(compare(&range, &series(vec![(0, 1.0), (60_000, 3.0)])).is_err(), "a point at the wrong time");

    let fail = eval_of("eval instant at 0 foo\n  expect fail msg: bad thing\n");
    assert!(fail.is_fail());
    assert!(check_expected_failure(&fail, "bad thing").is_ok());
    assert!(check_expected_failure(&fail, "other thing").is_err());
    let warn = eval_of("eval instant at 0 foo\n  expect warn regex: quantile .* NaN\n");
    let res = |warnings: &[&str]| QueryResult {
        value: PromValue::Vector(vec![]),
        warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        infos: vec![],
    };
    assert!(
        check_annotations(&warn, &res(&["PromQL warning: quantile value should be between 0 and 1, got NaN"])).is_ok()
    );
    assert!(check_annotations(&warn, &res(&[])).is_err());
    assert!(
        check_annotations(&warn, &res(&["PromQL warning: quantile x NaN", "other"])).is_err(),
        "an unexpected warning"
    );
}

#[test]
fn evals_reading_unloadable_series_are_found() {
    let u = |l: &[(&str, &str)]| Unloadable {
        labels: Some(l.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        reason: "refused".into(),
    };
    let hist = [u(&[("__name__", "h"), ("job", "x")])];
    assert!(unloaded_dependency("rate(h[5m])", &hist).is_some());
    assert!(unloaded_dependency(r#"sum({job=~"x|y"})"#, &hist).is_some());
    assert!(unloaded_dependency(r#"h{job="y"} + other"#, &hist).is_none());
    assert!(unloaded_dependency("other", &hist).is_none());
    assert!(unloaded_dependency("other", &[Unloadable { labels: None, reason: "unparsable".into() }]).is_some());
}

#[test]
fn at_variants_pin_selectors_outside_subqueries() {
    let (pinned, times) = at_variants("sum(rate(foo[5m])) + bar", 100_000).unwrap().unwrap();
    assert_eq!(times, [-1_000_000, 0, 20_000, 100_000, 1_000_000]);
    let parsed = ast::parse(&pinned).unwrap();
    let mut selectors = Vec::new();
    collect_selectors(&parsed, &mut selectors);
    assert_eq!(selectors.len(), 2);
    assert!(selectors.iter().all(|vs| vs.at.is_some()), "{pinned}");
    assert!(at_variants("time() + foo", 60_000).unwrap().is_none(), "time() is not step-invariant");
    // The printer sorts matchers and drops `by ()`: still the same query.
    assert!(at_variants(r#"sum by () (foo{b="1", a="2"}) + ignoring() bar"#, 60_000).unwrap().is_some());
    assert_eq!(at_variants("foo", 0).unwrap().unwrap().1, [-1000, 0, 1000]);
    // `@ start()` becomes the eval time, an explicit `@` stays.
    let (pinned, _) = at_variants("foo @ start() + bar @ 50", 100_000).unwrap().unwrap();
    assert_eq!(pinned, "foo @ 100.000 + bar @ 50.000");
}

#[test]
fn every_block_of_the_shipped_files_parses() {
    for entry in std::fs::read_dir(test_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "test") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let evals = text.lines().filter(|l| l.trim_start().starts_with("eval")).count();
        let commands = promqltest::parse_file(&text);
        let broken: Vec<_> = commands.iter().filter(|c| matches!(c, Command::Broken { .. })).collect();
        assert!(broken.is_empty(), "{}: {broken:?}", path.display());
        let parsed = commands.iter().filter(|c| matches!(c, Command::Eval(_))).count();
        assert_eq!(parsed, evals, "{}: every eval line is an eval", path.display());
        let unparsed_series = commands.iter().any(|c| match c {
            Command::Load { unloadable, .. } => unloadable.iter().any(|u| u.labels.is_none()),
            _ => false,
        });
        assert!(!unparsed_series, "{}: a series line does not parse", path.display());
    }
}
