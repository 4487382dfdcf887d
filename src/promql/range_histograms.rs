//! Range-vector functions over windows that hold native histograms, as
//! Prometheus evaluates them: `rate`, `increase` and `delta` subtract the
//! first histogram from the last (at the coarsest schema in the window,
//! adding back what counter resets lost) and extrapolate like floats;
//! `irate` / `idelta` use the last two samples; `sum_over_time` and
//! `avg_over_time` add histograms; `count_over_time`, `present_over_time`,
//! `first_over_time`, `last_over_time`, `ts_of_*_over_time`, `resets` and
//! `changes` look at floats and histograms together; the functions of
//! floats only ignore the histograms with an info.
//!
//! Windows that mix floats and histograms give nothing where Prometheus
//! warns about the mix. Results that are histograms are gauges.

use chronicle_udfs::{Extrapolation, RangeFn, RangeWindow, kahan_add};

use super::context::QueryContext;
use crate::model::histogram::{CounterResetHint, FloatHistogram, HistogramError};

/// What one step of a range function gives.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Sample {
    /// A float.
    Float(f64),
    /// A native histogram.
    Hist(FloatHistogram),
}

/// The points one step sees of one series, floats and histograms apart.
pub(crate) struct MixedWindow<'a> {
    /// Times (milliseconds) and values of the floats, ascending.
    pub ts: &'a [i64],
    /// The float values.
    pub vs: &'a [f64],
    /// Times of the histograms, ascending.
    pub hts: &'a [i64],
    /// The histograms.
    pub hs: &'a [FloatHistogram],
    /// The window is `(end - range, end]`.
    pub end: i64,
    /// Its width in milliseconds.
    pub range: i64,
    /// The time of the step.
    pub eval_time: i64,
}

/// Where annotations go.
pub(crate) trait Annotate {
    /// Records a warning.
    fn warn(&self, message: String);
    /// Records an info.
    fn info(&self, message: String);
}

impl Annotate for QueryContext {
    fn warn(&self, message: String) {
        QueryContext::warn(self, message);
    }

    fn info(&self, message: String) {
        QueryContext::info(self, message);
    }
}

/// Raises Prometheus's annotations about one series' histograms, at the
/// position of the function's first argument.
pub(crate) struct Notes<'a> {
    pub sink: &'a dyn Annotate,
    /// The series' metric name.
    pub metric: &'a str,
    /// ` (line:column)` of the first argument, or empty.
    pub at: &'a str,
}

impl Notes<'_> {
    fn warn(&self, what: &str) {
        self.sink.warn(format!("PromQL warning: {what}{}", self.at));
    }

    fn info(&self, what: &str) {
        self.sink.info(format!("PromQL info: {what}{}", self.at));
    }

    fn mixed_floats(&self) {
        self.warn(&format!("encountered a mix of histograms and floats for metric name {:?}", self.metric));
    }

    fn not_counter(&self) {
        self.warn(&format!("this native histogram metric is not a counter: {:?}", self.metric));
    }

    fn not_gauge(&self) {
        self.warn(&format!("this native histogram metric is not a gauge: {:?}", self.metric));
    }

    fn mixed_schemas(&self) {
        self.warn(&format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            self.metric
        ));
    }

    fn ignored_in_mixed_range(&self) {
        self.info(&format!(
            "ignored histograms in a range containing both floats and histograms for metric name {:?}",
            self.metric
        ));
    }

    fn reconciled(&self, operation: &str) {
        self.info(&format!("mismatched custom buckets were reconciled during {operation}"));
    }

    fn collision(&self, operation: &str) {
        self.warn(&format!("conflicting counter resets during histogram {operation}"));
    }
}

/// `name` over a window holding at least one histogram; `float` is its
/// arithmetic over floats alone, `args` the step's scalar parameters.
pub(crate) fn eval(name: &str, float: RangeFn, w: &MixedWindow<'_>, args: &[f64], notes: &Notes<'_>) -> Option<Sample> {
    let mixed = !w.vs.is_empty();
    match name {
        "rate" | "increase" | "delta" => {
            if mixed {
                notes.mixed_floats();
                return None;
            }
            extrapolated(w, name != "delta", name == "rate", notes).map(Sample::Hist)
        }
        "irate" | "idelta" => instant(w, name == "irate", notes),
        "sum_over_time" | "avg_over_time" => {
            if mixed {
                notes.mixed_floats();
                return None;
            }
            let mut sum = sum(w.hs, notes)?;
            if name == "avg_over_time" {
                sum.div(w.hs.len() as f64);
            }
            Some(Sample::Hist(sum))
        }
        "count_over_time" => Some(Sample::Float((w.vs.len() + w.hs.len()) as f64)),
        "present_over_time" => Some(Sample::Float(1.0)),
        "last_over_time" => match (w.ts.last(), w.hts.last(), w.hs.last()) {
            (Some(&tf), Some(&th), _) if tf > th => w.vs.last().map(|&v| Sample::Float(v)),
            (_, _, Some(h)) => Some(Sample::Hist(h.clone())),
            _ => None,
        },
        "first_over_time" => match (w.ts.first(), w.hts.first(), w.hs.first()) {
            (Some(&tf), Some(&th), _) if tf < th => w.vs.first().map(|&v| Sample::Float(v)),
            (_, _, Some(h)) => Some(Sample::Hist(h.clone())),
            _ => None,
        },
        "ts_of_first_over_time" => {
            let first = w.ts.first().into_iter().chain(w.hts.first()).min()?;
            Some(Sample::Float(*first as f64 / 1000.0))
        }
        "ts_of_last_over_time" => {
            let last = w.ts.last().into_iter().chain(w.hts.last()).max()?;
            Some(Sample::Float(*last as f64 / 1000.0))
        }
        "resets" | "changes" => Some(Sample::Float(transitions(w, name == "resets"))),
        _ => {
            // Functions of floats: the histograms are ignored.
            if !mixed {
                return None;
            }
            notes.ignored_in_mixed_range();
            RangeWindow::new(w.ts, w.vs, w.end, w.range, w.eval_time).and_then(|fw| float(&fw, args)).map(Sample::Float)
        }
    }
}

/// The sum of the histograms (the count and sum with compensated
/// summation), with Prometheus's annotations for an aggregation; `None`
/// when exponential and custom buckets mix.
fn sum(hs: &[FloatHistogram], notes: &Notes<'_>) -> Option<FloatHistogram> {
    let (first, rest) = hs.split_first()?;
    let mut sum = first.clone();
    let (mut reconciled, mut reset, mut not_reset) = (false, false, false);
    for h in hs {
        match h.counter_reset_hint {
            CounterResetHint::CounterReset => reset = true,
            CounterResetHint::NotCounterReset => not_reset = true,
            _ => {}
        }
    }
    for h in rest {
        match sum.add(h) {
            Ok(done) => reconciled |= done.custom_bounds_reconciled,
            Err(_) => {
                notes.mixed_schemas();
                return None;
            }
        }
    }
    // Compensated sums of the totals, which cancel out most often.
    let compensated = |part: fn(&FloatHistogram) -> f64| {
        let (total, c) = hs.iter().fold((0.0, 0.0), |(total, c), h| kahan_add(part(h), total, c));
        if total.is_infinite() { total } else { total + c }
    };
    sum.count = compensated(|h| h.count);
    sum.sum = compensated(|h| h.sum);
    if reset && not_reset {
        notes.collision("aggregation");
    }
    if reconciled {
        notes.reconciled("aggregation");
    }
    Some(sum)
}

/// `rate` / `increase` (`counter`) and `delta` of a window of histograms
/// only.
fn extrapolated(w: &MixedWindow<'_>, counter: bool, per_second: bool, notes: &Notes<'_>) -> Option<FloatHistogram> {
    let n = w.hs.len();
    if n < 2 {
        return None;
    }
    let mut change = change(w.hs, counter, notes)?;
    let first = &w.hs[0];
    let zero_ratio = (change.count > 0.0 && first.count >= 0.0).then(|| first.count / change.count);
    let edges = Extrapolation { first_t: w.hts[0], last_t: w.hts[n - 1], points: n, end: w.end, range: w.range };
    change.mul(edges.factor(counter, zero_ratio, per_second));
    Some(change)
}

/// The last histogram minus the first at the coarsest schema among them;
/// for counters, plus the histogram before each counter reset (Prometheus's
/// `histogramRate`). `None`, with a warning, when the buckets cannot be
/// combined.
fn change(hs: &[FloatHistogram], counter: bool, notes: &Notes<'_>) -> Option<FloatHistogram> {
    let (first, last) = (&hs[0], &hs[hs.len() - 1]);
    let gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
    if counter && (gauge(first) || gauge(last)) {
        notes.not_counter();
    }
    // After a reset between the first two samples the first one is not
    // needed, nor is its layout.
    let reset_first = FloatHistogram {
        schema: hs[1].schema,
        custom_values: hs[1].custom_values.clone(),
        ..FloatHistogram::default()
    };
    let start = if counter && hs[1].detect_reset(first) { &reset_first } else { first };
    if last.uses_custom_buckets() != start.uses_custom_buckets() {
        notes.mixed_schemas();
        return None;
    }
    let mut min_schema = last.schema.min(start.schema);
    if counter {
        for h in &hs[1..hs.len() - 1] {
            if gauge(h) {
                notes.not_counter();
            }
            if h.uses_custom_buckets() != start.uses_custom_buckets() {
                notes.mixed_schemas();
                return None;
            }
            min_schema = min_schema.min(h.schema);
        }
    }
    let mut out = last.clone();
    if !out.uses_custom_buckets() && out.schema > min_schema && out.reduce_resolution(min_schema).is_err() {
        notes.mixed_schemas();
        return None;
    }
    let combine = |out: &mut FloatHistogram, other: &FloatHistogram, add: bool| -> Option<()> {
        let done = if add { out.add(other) } else { out.sub(other) };
        match done {
            Ok(done) => {
                if done.custom_bounds_reconciled {
                    notes.reconciled(if add { "addition" } else { "subtraction" });
                }
                Some(())
            }
            Err(HistogramError::MixedSchemas) => {
                notes.mixed_schemas();
                None
            }
            // Layout errors cannot come from histograms that were read.
            Err(_) => Some(()),
        }
    };
    combine(&mut out, start, false)?;
    if counter {
        let mut prev = start;
        for h in &hs[1..] {
            if h.detect_reset(prev) {
                combine(&mut out, prev, true)?;
            }
            prev = h;
        }
    } else if !gauge(first) || !gauge(last) {
        notes.not_gauge();
    }
    out.counter_reset_hint = CounterResetHint::Gauge;
    // Compacting a histogram whose layout was just built cannot fail.
    let _ = out.compact(0);
    Some(out)
}

/// `irate` / `idelta` (Prometheus's `instantValue`): from the last two
/// samples, floats or histograms.
fn instant(w: &MixedWindow<'_>, per_second: bool, notes: &Notes<'_>) -> Option<Sample> {
    if w.vs.len() + w.hs.len() < 2 {
        return None;
    }
    // The last two samples by time: (time, float or histogram).
    let mut last_two: Vec<(i64, Result<f64, &FloatHistogram>)> = Vec::with_capacity(4);
    let floats = w.vs.len().saturating_sub(2);
    last_two.extend(w.ts[floats..].iter().zip(&w.vs[floats..]).map(|(&t, &v)| (t, Ok(v))));
    let hists = w.hs.len().saturating_sub(2);
    last_two.extend(w.hts[hists..].iter().zip(&w.hs[hists..]).map(|(&t, h)| (t, Err(h))));
    last_two.sort_by_key(|(t, _)| *t);
    let [(t0, s0), (t1, s1)] = last_two[last_two.len() - 2..] else { return None };
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    let seconds = interval as f64 / 1000.0;
    match (s0, s1) {
        (Ok(v0), Ok(v1)) => {
            let mut result = if per_second && v1 < v0 { v1 } else { v1 - v0 };
            if per_second {
                result /= seconds;
            }
            Some(Sample::Float(result))
        }
        (Err(h0), Err(h1)) => {
            let gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
            if per_second && (gauge(h0) || gauge(h1)) {
                notes.not_counter();
            }
            if !per_second && (!gauge(h0) || !gauge(h1)) {
                notes.not_gauge();
            }
            let mut out = h1.clone();
            if !per_second || !h1.detect_reset(h0) {
                match out.sub(h0) {
                    Ok(done) if done.custom_bounds_reconciled => notes.reconciled("subtraction"),
                    Err(HistogramError::MixedSchemas) => {
                        notes.mixed_schemas();
                        return None;
                    }
                    _ => {}
                }
            }
            out.counter_reset_hint = CounterResetHint::Gauge;
            let _ = out.compact(0);
            if per_second {
                out.div(seconds);
            }
            Some(Sample::Hist(out))
        }
        _ => {
            notes.mixed_floats();
            None
        }
    }
}

/// `resets` (or `changes`) over floats and histograms in time order: a
/// switch between a float and a histogram counts as one.
fn transitions(w: &MixedWindow<'_>, resets: bool) -> f64 {
    let (mut i, mut j) = (0, 0);
    let mut prev: Option<Result<f64, &FloatHistogram>> = None;
    let mut count = 0.0;
    while i < w.vs.len() || j < w.hs.len() {
        let float_next = j >= w.hs.len() || (i < w.vs.len() && w.ts[i] < w.hts[j]);
        let cur = if float_next {
            i += 1;
            Ok(w.vs[i - 1])
        } else {
            j += 1;
            Err(&w.hs[j - 1])
        };
        let counts = match (prev, cur) {
            (None, _) => false,
            (Some(Ok(a)), Ok(b)) if resets => b < a,
            (Some(Ok(a)), Ok(b)) => a != b && !(a.is_nan() && b.is_nan()),
            (Some(Err(a)), Err(b)) if resets => b.detect_reset(a),
            (Some(Err(a)), Err(b)) => !b.equals(a),
            _ => true,
        };
        if counts {
            count += 1.0;
        }
        prev = Some(cur);
    }
    count
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::model::histogram::Span;
    use chronicle_udfs::range_function;
    use std::cell::RefCell;

    /// Annotations gathered by a test: (warnings, infos).
    #[derive(Default)]
    struct Gathered(RefCell<(Vec<String>, Vec<String>)>);

    impl Annotate for Gathered {
        fn warn(&self, message: String) {
            self.0.borrow_mut().0.push(message);
        }

        fn info(&self, message: String) {
            self.0.borrow_mut().1.push(message);
        }
    }

    fn hist(count: f64, sum: f64, buckets: Vec<f64>) -> FloatHistogram {
        FloatHistogram {
            count,
            sum,
            positive_spans: vec![Span { offset: 0, length: buckets.len() as u32 }],
            positive_buckets: buckets,
            ..FloatHistogram::default()
        }
    }

    fn window<'a>(hts: &'a [i64], hs: &'a [FloatHistogram], end: i64, range: i64) -> MixedWindow<'a> {
        MixedWindow { ts: &[], vs: &[], hts, hs, end, range, eval_time: end }
    }

    #[test]
    fn rate_extrapolates_like_floats_and_adds_back_resets() {
        let gathered = Gathered::default();
        let notes = Notes { sink: &gathered, metric: "m", at: "" };
        // Samples every 10s from 10s to 50s in the window (0s, 55s]: the
        // change is extrapolated by 5s at the end and by 10s at the start,
        // where the counter would reach zero.
        let hs: Vec<FloatHistogram> = (1..=5).map(|i| hist(i as f64, 2.0 * i as f64, vec![i as f64])).collect();
        let hts: Vec<i64> = (1..=5).map(|i| i * 10_000).collect();
        let Some(Sample::Hist(h)) = eval("increase", |_, _| None, &window(&hts, &hs, 55_000, 55_000), &[], &notes)
        else {
            panic!("no histogram")
        };
        // Change 4 over 40s, extrapolated to 55s: 4 * 55 / 40.
        assert_eq!(h.count, 5.5);
        assert_eq!(h.sum, 11.0);
        assert_eq!(h.positive_buckets, vec![5.5]);
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);

        // A reset after the third sample: 1, 2, 3, 1, 2 counts 3 + 2 - 1 = 4.
        let hs: Vec<FloatHistogram> = [1.0, 2.0, 3.0, 1.0, 2.0].iter().map(|&c| hist(c, c, vec![c])).collect();
        let Some(Sample::Hist(h)) = eval("rate", |_, _| None, &window(&hts, &hs, 50_000, 40_000), &[], &notes) else {
            panic!("no histogram")
        };
        assert_eq!(h.count, 4.0 / 40.0);
        assert_eq!(h.positive_buckets, vec![4.0 / 40.0]);
    }

    #[test]
    fn mixed_windows_warn_or_ignore_histograms() {
        let gathered = Gathered::default();
        let notes = Notes { sink: &gathered, metric: "m", at: "" };
        let hs = [hist(1.0, 1.0, vec![1.0])];
        let w = MixedWindow {
            ts: &[1_000, 3_000],
            vs: &[1.0, 5.0],
            hts: &[2_000],
            hs: &hs,
            end: 4_000,
            range: 4_000,
            eval_time: 4_000,
        };
        assert_eq!(eval("rate", |_, _| Some(0.0), &w, &[], &notes), None);
        let max = range_function("max_over_time").unwrap();
        assert_eq!(eval("max_over_time", max, &w, &[], &notes), Some(Sample::Float(5.0)));
        assert_eq!(eval("count_over_time", |_, _| None, &w, &[], &notes), Some(Sample::Float(3.0)));
        assert_eq!(eval("changes", |_, _| None, &w, &[], &notes), Some(Sample::Float(2.0)));
        assert_eq!(eval("last_over_time", |_, _| None, &w, &[], &notes), Some(Sample::Float(5.0)));
        let (warnings, infos) = gathered.0.into_inner();
        assert_eq!(warnings, ["PromQL warning: encountered a mix of histograms and floats for metric name \"m\""]);
        assert_eq!(
            infos,
            ["PromQL info: ignored histograms in a range containing both floats and histograms for metric name \"m\""]
        );
    }
}
