//! The promqltest format: Prometheus's PromQL test files
//! (`promql/promqltest/testdata/*.test`), parsed into commands the way
//! Prometheus's own harness (`promql/promqltest/test.go`) reads them.
//!
//! A file is a sequence of blocks; a blank line ends a block, and so does a
//! comment line (test.go blanks comments before parsing):
//! - `load <interval>` / `load_with_nhcb <interval>`, then one series per line
//!   in series notation (`metric{l="v"} 0+10x3 _ stale`), sample `i` at
//!   `i * interval`; a `metric@st ...` start-timestamp line is read and ignored;
//! - `clear`;
//! - `eval instant at <t> <expr>` or `eval range from <t> to <t> step <d> <expr>`
//!   (`eval_fail`, `eval_warn`, `eval_info`, `eval_ordered`), then `expect ...`
//!   lines and the expected result: `{labels} v ...` per series, or a bare
//!   number for a scalar.
//!
//! Invariant: nothing in a file stops the rest of it from being read. A block
//! that cannot be parsed becomes [`Command::Broken`] (counted as a failed
//! eval), a series line that cannot be parsed an [`Unloadable`] of its load.

use std::collections::HashMap;
use std::sync::LazyLock;

use chronicle::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span};
use chronicle::promql::{Labels, METRIC_NAME};
use regex::Regex;

/// Prometheus's staleness marker: a NaN with this bit pattern
/// (`model/value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Milliseconds per unit of Prometheus's durations (`model.ParseDuration`).
const UNITS_MS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

static LOAD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap());
static EVAL_INSTANT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").unwrap());
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$").unwrap()
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$").unwrap()
});
static EXPECT_RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").unwrap());
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$").unwrap()
});
/// One item of a float sequence: a value, optionally `x<n>` or
/// `<signed delta>x<n>` (the lexer's tokens of test.go's series grammar).
static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    let number = r"(?:(?i:inf|nan)|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)";
    Regex::new(&format!(r"^(stale|[+-]?{number})(?:([+-]{number})?x([0-9]+))?$")).unwrap()
});

/// One position of a series in series notation.
#[derive(Clone, Debug)]
pub enum SeqValue {
    /// A float sample (maybe NaN, ±Inf or the staleness marker).
    Float(f64),
    /// No sample (`_`).
    Omitted,
    /// A native histogram (`{{...}}`), and whether its notation set the
    /// counter reset hint (an expected histogram's hint is compared only then).
    Histogram(Box<FloatHistogram>, bool),
}

/// Label (name, value) pairs as written; the metric name as `__name__`.
pub type LabelPairs = Vec<(String, String)>;

/// A series line that could not become rows to load, and why.
#[derive(Clone, Debug)]
pub struct Unloadable {
    /// Its labels, when the line could be parsed that far.
    pub labels: Option<LabelPairs>,
    /// Why it was not loaded.
    pub reason: String,
}

/// One parsed series line of a `load`: labels (the name as `__name__`) and
/// the values at 0, interval, 2 interval, ...
#[derive(Clone, Debug)]
pub struct SeriesDef {
    /// Label pairs as written, `__name__` included.
    pub labels: LabelPairs,
    /// One value per interval.
    pub values: Vec<SeqValue>,
}

/// What `expect fail|warn|info ... msg:|regex:` requires of a message.
#[derive(Clone, Debug)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// Exactly this message.
    Exact(String),
    /// A message this (unanchored) pattern matches.
    Pattern(Regex),
}

impl MessageMatch {
    /// Whether `message` satisfies the expectation.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            MessageMatch::Any => true,
            MessageMatch::Exact(m) => m == message,
            MessageMatch::Pattern(r) => r.is_match(message),
        }
    }
}

impl std::fmt::Display for MessageMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageMatch::Any => f.write_str("anything"),
            MessageMatch::Exact(m) => write!(f, "message {m:?}"),
            MessageMatch::Pattern(r) => write!(f, "pattern {:?}", r.as_str()),
        }
    }
}

/// The `expect` lines of an eval, by kind.
#[derive(Clone, Debug, Default)]
pub struct Expects {
    /// `expect ordered`.
    pub ordered: bool,
    /// `expect fail ...` (at most one).
    pub fail: Option<MessageMatch>,
    /// `expect warn ...`.
    pub warn: Vec<MessageMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect info ...`.
    pub info: Vec<MessageMatch>,
    /// `expect no_info`.
    pub no_info: bool,
}

/// An expected series: its position among the result lines (for ordered
/// results, from 1) and its values.
#[derive(Clone, Debug)]
pub struct ExpectedSeries {
    /// Line position among the expectations, from 1.
    pub pos: usize,
    /// One value per step.
    pub values: Vec<SeqValue>,
}

/// One `eval` block.
#[derive(Clone, Debug)]
pub struct Eval {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// A range query (`eval range`), else an instant one.
    pub is_range: bool,
    /// Range start, or the instant time; ms.
    pub start: i64,
    /// Range end, ms; `i64::MIN` for an instant eval without
    /// `expect range vector` (test.go leaves its zero time there, before any
    /// step, so no matrix point can be expected).
    pub end: i64,
    /// Range step, ms (0 for an instant eval).
    pub step: i64,
    /// When an instant eval runs, ms.
    pub eval_time: i64,
    /// `eval_fail`.
    pub fail: bool,
    /// `eval_warn`.
    pub warn: bool,
    /// `eval_info`.
    pub info: bool,
    /// `eval_ordered`.
    pub ordered: bool,
    /// `expected_fail_message <text>`.
    pub fail_message: Option<String>,
    /// `expected_fail_regexp <pattern>`.
    pub fail_regexp: Option<Regex>,
    /// The `expect` lines.
    pub expects: Expects,
    /// The result is a scalar (a bare number was the last result line).
    pub expect_scalar: Option<SeqValue>,
    /// The expected series, by label set.
    pub expected: HashMap<Labels, ExpectedSeries>,
    /// `expect string "..."`.
    pub expected_string: Option<String>,
    /// Not checked again as a range query (a range vector or a string result).
    pub exclude_from_range_query: bool,
}

impl Eval {
    /// Ordering is checked (`eval_ordered` or `expect ordered`).
    pub fn is_ordered(&self) -> bool {
        self.ordered || self.expects.ordered
    }

    /// The query must fail (`eval_fail` or `expect fail`).
    pub fn is_fail(&self) -> bool {
        self.fail || self.expects.fail.is_some()
    }
}

/// One command of a test file.
#[derive(Clone, Debug)]
pub enum Command {
    /// `load`: the series to write.
    Load {
        /// Milliseconds between a series' values.
        interval: i64,
        /// The series that can be written.
        series: Vec<SeriesDef>,
        /// The lines that cannot.
        unloadable: Vec<Unloadable>,
    },
    /// `clear`: drop all data.
    Clear,
    /// `eval ...`.
    Eval(Box<Eval>),
    /// A block that could not be parsed; it counts as a failed eval.
    Broken {
        /// 1-based line where the block starts.
        line: usize,
        /// The first line of the block.
        text: String,
        /// What was wrong.
        reason: String,
    },
}

/// Parses a whole test file. Never fails: see the module invariant.
pub fn parse_file(input: &str) -> Vec<Command> {
    let lines: Vec<&str> = input.split('\n').map(str::trim).map(|l| if l.starts_with('#') { "" } else { l }).collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split([' ', '\t']).next().unwrap_or("").to_lowercase();
        let parsed = if word == "clear" {
            Ok((i, Command::Clear))
        } else if word.starts_with("load") {
            parse_load(&lines, i)
        } else if word.starts_with("eval") {
            parse_eval(&lines, i).map(|(i, e)| (i, Command::Eval(Box::new(e))))
        } else {
            Err(format!("invalid command {l:?}"))
        };
        match parsed {
            Ok((last, command)) => {
                commands.push(command);
                i = last + 1;
            }
            Err(reason) => {
                commands.push(Command::Broken { line: i + 1, text: l.to_owned(), reason });
                // Skip the rest of the block: its lines belong to the broken command.
                while i < lines.len() && !lines[i].is_empty() {
                    i += 1;
                }
            }
        }
    }
    commands
}

/// Parses a `load` block starting at line `i`; returns its last line.
fn parse_load(lines: &[&str], mut i: usize) -> Result<(usize, Command), String> {
    let caps = LOAD.captures(lines[i]).ok_or("invalid load command. (load[_with_nhcb] <step:duration>)")?;
    let interval = parse_duration(&caps[2])?;
    let mut series: Vec<SeriesDef> = Vec::new();
    let mut unloadable = Vec::new();
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let def = lines[i];
        // Start timestamps (`metric@st <offsets>`): Chronicle stores none.
        if def.split([' ', '\t']).next().is_some_and(|w| w.ends_with("@st")) {
            continue;
        }
        let SeriesDef { labels, values } = match parse_series(def) {
            Ok(parsed) => parsed,
            Err(reason) => {
                unloadable.push(Unloadable { labels: None, reason: format!("line {}: {reason}", i + 1) });
                continue;
            }
        };
        // As test.go's map keyed by the label set: a later line replaces an earlier one.
        let key = Labels::new(labels.clone());
        series.retain(|s| Labels::new(s.labels.clone()) != key);
        series.push(SeriesDef { labels, values });
    }
    if caps.get(1).is_some() {
        match nhcb_series(&series) {
            Ok(converted) => series.extend(converted),
            Err(reason) => unloadable.push(Unloadable { labels: None, reason: format!("load_with_nhcb: {reason}") }),
        }
    }
    Ok((i, Command::Load { interval, series, unloadable }))
}

/// What `load_with_nhcb` adds (test.go's `appendCustomHistogram`): the
/// classic histograms among `series` (`<name>_bucket` with `le`,
/// `<name>_count`, `<name>_sum`) as native histograms with custom bounds,
/// one series per base name and labels without `le`, a histogram wherever
/// one of its classic series has a float.
fn nhcb_series(series: &[SeriesDef]) -> Result<Vec<SeriesDef>, String> {
    /// One time's classic histogram: cumulative (le, count), count, sum.
    #[derive(Default)]
    struct Classic {
        buckets: Vec<(f64, f64)>,
        count: Option<f64>,
        sum: f64,
    }
    let mut groups: Vec<(Labels, Vec<Option<Classic>>)> = Vec::new();
    for def in series {
        let labels = Labels::new(def.labels.clone());
        let Some(name) = labels.metric_name() else { continue };
        let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
            let Some(le) = labels.get("le").and_then(parse_number).filter(|le| !le.is_nan()) else {
                continue;
            };
            (b, Some(le))
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, None)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, None)
        } else {
            continue;
        };
        let key = labels.with(METRIC_NAME, base).without(|n| n == "le");
        let at = match groups.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                groups.push((key, Vec::new()));
                groups.len() - 1
            }
        };
        let times = &mut groups[at].1;
        for (i, v) in def.values.iter().enumerate() {
            let SeqValue::Float(v) = v else { continue };
            if times.len() <= i {
                times.resize_with(i + 1, || None);
            }
            let h = times[i].get_or_insert_with(Classic::default);
            match part {
                Some(le) => {
                    if *v < 0.0 {
                        return Err(format!("negative bucket count le={le} count={v}"));
                    }
                    match h.buckets.binary_search_by(|b| b.0.total_cmp(&le)) {
                        Ok(_) => {}
                        Err(j) => h.buckets.insert(j, (le, *v)),
                    }
                }
                None if name.ends_with("_count") => h.count = Some(*v),
                None => h.sum = *v,
            }
        }
    }
    let mut out = Vec::new();
    for (labels, times) in groups {
        let mut values = Vec::with_capacity(times.len());
        for h in times {
            let Some(Classic { mut buckets, count, sum }) = h else {
                values.push(SeqValue::Omitted);
                continue;
            };
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{labels}: bucket counts are not cumulative"));
            }
            let count = count.or(buckets.last().map(|b| b.1)).unwrap_or(0.0);
            if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                buckets.push((f64::INFINITY, count));
            }
            if buckets.last().is_some_and(|b| b.1 != count) {
                return Err(format!("{labels}: count {count} differs from the +Inf bucket"));
            }
            let mut previous = 0.0;
            let counts: Vec<f64> = buckets.iter().map(|b| std::mem::replace(&mut previous, b.1)).collect();
            let deltas: Vec<f64> = buckets.iter().zip(counts).map(|(b, before)| b.1 - before).collect();
            let h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count,
                sum,
                positive_spans: vec![Span { offset: 0, length: deltas.len() as u32 }],
                positive_buckets: deltas,
                custom_values: buckets.iter().map(|b| b.0).filter(|le| le.is_finite()).collect(),
                ..FloatHistogram::default()
            };
            values.push(SeqValue::Histogram(Box::new(h), false));
        }
        out.push(SeriesDef { labels: labels.into_pairs(), values });
    }
    Ok(out)
}

/// Parses an `eval` block starting at line `i`; returns its last line.
fn parse_eval(lines: &[&str], mut i: usize) -> Result<(usize, Eval), String> {
    let text = lines[i];
    let (modifier, expr, is_range, start, end, step) = if let Some(c) = EVAL_INSTANT.captures(text) {
        let at = parse_duration(c.get(2).map_or("", |m| m.as_str()))?;
        (c.get(1).map(|m| m.as_str().to_owned()), c[3].to_owned(), false, at, i64::MIN, 0)
    } else if let Some(c) = EVAL_RANGE.captures(text) {
        let (from, to, step) = parse_range(&c[2], &c[3], &c[4])?;
        (c.get(1).map(|m| m.as_str().to_owned()), c[5].to_owned(), true, from, to, step)
    } else {
        return Err("invalid evaluation command".into());
    };
    let mut eval = Eval {
        line: i + 1,
        expr,
        is_range,
        start,
        end,
        step,
        eval_time: start,
        fail: modifier.as_deref() == Some("fail"),
        warn: modifier.as_deref() == Some("warn"),
        info: modifier.as_deref() == Some("info"),
        ordered: modifier.as_deref() == Some("ordered"),
        fail_message: None,
        fail_regexp: None,
        expects: Expects::default(),
        expect_scalar: None,
        expected: HashMap::new(),
        expected_string: None,
        exclude_from_range_query: false,
    };
    let mut expect_range_vector = false;
    // Position of the next result line; `expect` lines do not count, the
    // `expect range vector` and `expect string` lines do (as in test.go).
    let mut pos = 1;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let def = lines[i];
        if eval.fail
            && let Some(rest) = def.strip_prefix("expected_fail_message")
        {
            eval.fail_message = Some(rest.trim().to_owned());
            break;
        }
        if eval.fail
            && let Some(rest) = def.strip_prefix("expected_fail_regexp")
        {
            let pattern = rest.trim();
            eval.fail_regexp = Some(Regex::new(pattern).map_err(|e| format!("invalid regexp {pattern:?}: {e}"))?);
            break;
        }
        if def.starts_with("expect range vector") {
            let c = EXPECT_RANGE.captures(def).ok_or_else(|| format!("invalid range vector definition {def:?}"))?;
            let (from, to, step) = parse_range(&c[1], &c[2], &c[3])?;
            (eval.start, eval.end, eval.step, eval.eval_time) = (from, to, step, to);
            eval.exclude_from_range_query = true;
            expect_range_vector = true;
            pos += 1;
            continue;
        }
        if def.starts_with("expect string") {
            eval.expected_string = Some(parse_expect_string(def)?);
            eval.exclude_from_range_query = true;
            pos += 1;
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            parse_expect(def, &mut eval.expects)?;
            continue;
        }
        if let Some(v) = parse_number(def) {
            eval.expect_scalar = Some(SeqValue::Float(v));
            break;
        }
        let SeriesDef { labels, values } = parse_series(def).map_err(|e| format!("line {}: {e}", i + 1))?;
        if values.len() > 1 && !is_range && !expect_range_vector {
            return Err(format!("line {}: multiple values in an instant evaluation", i + 1));
        }
        eval.expect_scalar = None;
        eval.expected.insert(Labels::new(labels), ExpectedSeries { pos, values });
        pos += 1;
    }
    Ok((i, eval))
}

/// Parses one `expect <kind> [msg:|regex:<text>]` line into `expects`.
fn parse_expect(line: &str, expects: &mut Expects) -> Result<(), String> {
    let c = EXPECT.captures(line.trim()).ok_or_else(|| format!("invalid expect statement {line:?}"))?;
    let matcher = match (c.get(2).map(|m| m.as_str()), c.get(3).map(|m| m.as_str().trim())) {
        (Some("msg"), Some(text)) => MessageMatch::Exact(text.to_owned()),
        (Some("regex"), Some(text)) => {
            MessageMatch::Pattern(Regex::new(text).map_err(|e| format!("invalid regex {text:?}: {e}"))?)
        }
        _ => MessageMatch::Any,
    };
    match &c[1] {
        "ordered" => expects.ordered = true,
        "fail" if expects.fail.is_some() => return Err("multiple expect fail lines".into()),
        "fail" => expects.fail = Some(matcher),
        "warn" => expects.warn.push(matcher),
        "no_warn" => expects.no_warn = true,
        "info" => expects.info.push(matcher),
        _ => expects.no_info = true,
    }
    if (!expects.warn.is_empty() && expects.no_warn) || (!expects.info.is_empty() && expects.no_info) {
        return Err("warn/no_warn or info/no_info used together".into());
    }
    Ok(())
}

/// `expect string <Go string literal>`.
fn parse_expect_string(line: &str) -> Result<String, String> {
    let literal = line.strip_prefix("expect string ").filter(|s| !s.is_empty()).ok_or("a quoted string is required")?;
    let (s, used) = read_quoted(literal)?;
    if used != literal.len() {
        return Err(format!("trailing text after the string in {line:?}"));
    }
    Ok(s)
}

/// From, to and step of a range, as durations since the epoch.
fn parse_range(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let (from, to, step) = (parse_duration(from)?, parse_duration(to)?, parse_duration(step)?);
    if to < from {
        return Err(format!("end ({to} ms) is before start ({from} ms)"));
    }
    Ok((from, to, step))
}

/// A Prometheus duration (`1h5m`, `10s53ms`, `0`) in milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let c = DURATION.captures(s).filter(|_| !s.is_empty()).ok_or_else(|| format!("invalid duration {s:?}"))?;
    let mut ms: i64 = 0;
    for (k, (_, unit)) in UNITS_MS.iter().enumerate() {
        if let Some(n) = c.get(k + 1) {
            let n: i64 = n.as_str().parse().map_err(|_| format!("invalid duration {s:?}"))?;
            ms = n
                .checked_mul(*unit)
                .and_then(|v| ms.checked_add(v))
                .ok_or_else(|| format!("duration {s:?} overflows"))?;
        }
    }
    Ok(ms)
}

/// A number as test.go's `parseNumber` reads it: Go's `ParseInt(s, 0, 64)`
/// (with `0x`, `0o`, `0b` and leading-zero octal), else `ParseFloat`.
pub fn parse_number(s: &str) -> Option<f64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b.trim_start_matches('_'))
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b.trim_start_matches('_'))
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.trim_start_matches('_'))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // Go allows underscores between digits only with a base prefix.
    let body = if radix == 10 { body.to_owned() } else { body.replace('_', "") };
    if !body.is_empty()
        && let Ok(n) = i64::from_str_radix(&body, radix)
    {
        return Some(if negative { -(n as f64) } else { n as f64 });
    }
    // Rust, like Go, reads inf, infinity and nan in any case.
    s.parse::<f64>().ok()
}

/// Parses a series line `metric{labels} values...` into its labels (the
/// name as `__name__`, in written order) and values.
pub fn parse_series(line: &str) -> Result<SeriesDef, String> {
    let (labels, rest) = parse_metric(line.trim())?;
    Ok(SeriesDef { labels, values: parse_values(rest)? })
}

/// Parses a sequence of series items separated by blanks.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for item in split_items(s)? {
        out.extend(parse_item(item)?);
    }
    Ok(out)
}

/// Splits the value part into items; a histogram item (`{{a:1 b:[1 2]}}`,
/// `{{...}}+{{...}}x3`) contains blanks and is kept whole.
fn split_items(s: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        while i < bytes.len() && (depth > 0 || !bytes[i].is_ascii_whitespace()) {
            if bytes[i..].starts_with(b"{{") {
                depth += 1;
                i += 2;
            } else if bytes[i..].starts_with(b"}}") && depth > 0 {
                depth -= 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        if depth > 0 {
            return Err(format!("unclosed histogram in {:?}", &s[start..]));
        }
        items.push(&s[start..i]);
    }
    Ok(items)
}

/// Expands one item: `_`, `_xN`, `v`, `vxN` (N+1 copies), `v±dxN` (N+1
/// values stepping by d, accumulated as test.go's parser does), `stale`,
/// or a histogram.
pub fn parse_item(item: &str) -> Result<Vec<SeqValue>, String> {
    if item.starts_with("{{") {
        return parse_histogram_item(item);
    }
    if item == "_" {
        return Ok(vec![SeqValue::Omitted]);
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("invalid repeat in {item:?}"))?;
        return Ok(vec![SeqValue::Omitted; n]);
    }
    let c = ITEM.captures(item).ok_or_else(|| format!("invalid series value {item:?}"))?;
    let first = item_value(&c[1])?;
    let Some(times) = c.get(3) else {
        return Ok(vec![SeqValue::Float(first)]);
    };
    let times: usize = times.as_str().parse().map_err(|_| format!("invalid repeat in {item:?}"))?;
    let delta = match c.get(2) {
        Some(d) => item_value(d.as_str())?,
        None => 0.0,
    };
    let mut values = Vec::with_capacity(times + 1);
    let mut v = first;
    for _ in 0..=times {
        values.push(SeqValue::Float(v));
        v += delta;
    }
    Ok(values)
}

/// A histogram item: `{{h}}`, `{{h}}xN` (N+1 copies), or `{{h}}+{{d}}xN`
/// / `{{h}}-{{d}}xN` (N+1 histograms, each the one before plus or minus
/// `d`, as test.go's parser combines them).
fn parse_histogram_item(item: &str) -> Result<Vec<SeqValue>, String> {
    let split = |s: &str| -> Result<(FloatHistogram, bool, usize), String> {
        let end = s.find("}}").ok_or_else(|| format!("unclosed histogram in {item:?}"))? + 2;
        let h = s[..end].parse::<FloatHistogram>().map_err(|e| format!("invalid histogram {:?}: {e}", &s[..end]))?;
        Ok((h, s[..end].contains("counter_reset_hint:"), end))
    };
    let (base, hint_set, end) = split(item)?;
    let rest = &item[end..];
    let repeat = |tail: &str| -> Result<usize, String> {
        let n = tail.strip_prefix('x').ok_or_else(|| format!("invalid histogram item {item:?}"))?;
        n.parse::<usize>().map_err(|_| format!("invalid repeat in {item:?}"))
    };
    let one = |h: FloatHistogram| SeqValue::Histogram(Box::new(h), hint_set);
    if rest.is_empty() {
        return Ok(vec![one(base)]);
    }
    let Some(sign) = rest.strip_prefix(['+', '-']).map(|r| (rest.starts_with('+'), r)) else {
        return Ok(vec![one(base); repeat(rest)? + 1]);
    };
    let (plus, rest) = sign;
    let (delta, _, end) = split(rest)?;
    let times = repeat(&rest[end..])?;
    let mut out = vec![one(base.clone())];
    let mut cur = base;
    for _ in 0..times {
        if cur.schema > delta.schema {
            return Err(format!(
                "error combining histograms: cannot merge from schema {} to {}",
                delta.schema, cur.schema
            ));
        }
        let mut next = cur.clone();
        let combined = if plus { next.add(&delta) } else { next.sub(&delta) };
        combined.map_err(|e| format!("error combining histograms: {e}"))?;
        out.push(one(next.clone()));
        cur = next;
    }
    Ok(out)
}

/// One value of an item: a number, `Inf`, `NaN` (any case, signed) or `stale`.
fn item_value(s: &str) -> Result<f64, String> {
    if s == "stale" {
        return Ok(f64::from_bits(STALE_NAN_BITS));
    }
    s.replace('_', "").parse::<f64>().map_err(|_| format!("invalid number {s:?}"))
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// Parses `name`, `name{l="v", ...}` or `{"name", l="v"}` at the start of
/// `s`; returns the labels and the rest of `s`.
fn parse_metric(s: &str) -> Result<(LabelPairs, &str), String> {
    let mut labels = Vec::new();
    let name_len = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    if name_len > 0 {
        if !s.starts_with(is_name_start) {
            return Err(format!("invalid metric name in {s:?}"));
        }
        labels.push((METRIC_NAME.to_owned(), s[..name_len].to_owned()));
    }
    let mut rest = &s[name_len..];
    if let Some(body) = rest.strip_prefix('{') {
        rest = parse_label_block(body, &mut labels)?;
    }
    if labels.is_empty() && !s.starts_with('{') {
        return Err(format!("expected a metric in {s:?}"));
    }
    if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(format!("unexpected {rest:?} after the metric"));
    }
    Ok((labels, rest))
}

/// Parses the label pairs after `{` through `}`; returns what follows.
fn parse_label_block<'a>(mut s: &'a str, labels: &mut LabelPairs) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let (key, quoted) = if s.starts_with(['"', '\'', '`']) {
            let (key, used) = read_quoted(s)?;
            s = &s[used..];
            (key, true)
        } else {
            let len = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
            if len == 0 || !s.starts_with(is_name_start) {
                return Err(format!("expected a label name at {s:?}"));
            }
            let key = s[..len].to_owned();
            s = &s[len..];
            (key, false)
        };
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('=') {
            let rest = rest.trim_start();
            let (value, used) = read_quoted(rest)?;
            labels.push((key, value));
            s = &rest[used..];
        } else if quoted {
            // A lone quoted string is the metric name.
            labels.push((METRIC_NAME.to_owned(), key));
        } else {
            return Err(format!("expected = after label {key:?}"));
        }
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!("expected , or }} at {s:?}"));
        }
    }
}

/// Reads a Go string literal (`"..."` or `'...'` with escapes, or a raw
/// `` `...` ``) at the start of `s`; returns it and the bytes it took.
pub fn read_quoted(s: &str) -> Result<(String, usize), String> {
    let quote = s
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
        .ok_or_else(|| format!("expected a string at {s:?}"))?;
    let body = &s[1..];
    if quote == '`' {
        let end = body.find('`').ok_or("unterminated raw string")?;
        return Ok((body[..end].to_owned(), end + 2));
    }
    let mut out: Vec<u8> = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((String::from_utf8_lossy(&out).into_owned(), i + 2));
        }
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let (_, e) = chars.next().ok_or("unterminated escape")?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            '\'' => Some(b'\''),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (len, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(format!("unknown escape \\{e}")),
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        for _ in 0..len {
            digits.push(chars.next().ok_or("short escape")?.1);
        }
        let n = u32::from_str_radix(&digits, radix).map_err(|_| format!("invalid escape {digits:?}"))?;
        if matches!(e, 'u' | 'U') {
            let c = char::from_u32(n).ok_or_else(|| format!("invalid code point {n:#x}"))?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            out.push(u8::try_from(n).map_err(|_| format!("escape {digits:?} out of range"))?);
        }
    }
    Err("unterminated string".into())
}
