//! The InfluxQL-like dialect answers like InfluxDB 1.x itself. The same data
//! is written to Chronicle and to a real `influxd` (tests/common/influxd.rs);
//! every query of [`QUERIES`] runs on both and the answers must agree: the
//! same columns, the same rows in the same order, times exact, tags equal,
//! numbers within 1e-9 relative, null where InfluxDB has null. Where
//! Chronicle deliberately answers otherwise, the query's [`Expect`] says so.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chronicle::{Config, Db, Row};
use common::TempDir;
use common::influxd::InfluxD;
use datafusion::arrow::compute::cast;
use serde_json::Value;

/// 2026-01-01T00:00:00Z: every point lies in the two hours after it.
const T0: i64 = 1_767_225_600_000_000_000;
const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
/// The InfluxDB database the reference data goes to.
const DB: &str = "reference";

/// The reference data, as rows for Chronicle and line protocol for InfluxDB:
/// - `cpu` (tags host, region; fields usage_user, usage_system): hosts a and
///   b in regions us-east and us-west, host c without a region; a point about
///   every 90 s with a few seconds of jitter, all three at the same instant
///   every 30 min; each host misses 15 minutes (a 20-35, b 50-65, c 80-95) and
///   all miss 100-110, so grouped buckets come out empty; host c lacks
///   usage_system on every ninth point. Values repeat with period 23 (17 for
///   usage_system), so maxima and modes tie in long windows.
/// - `mem` (tag host; field used): every 5 min, host b misses two.
/// - `net` (tag host; field bytes): a counter a minute per host; host a's
///   resets at 70 min, host b misses ten minutes.
/// - `disk` (tag host; fields reads, writes, util), sparse: a row a minute per
///   host for an hour, each field present on its own pattern (reads on two
///   minutes in three, writes on three in four, util every fifth minute), so
///   rows hold every combination and some minutes none; host c has no reads
///   and util every minute. Values are small integers: reads tie often,
///   writes include zeros (for division).
fn dataset() -> Vec<Row> {
    let mut rows = Vec::new();
    for (s, (host, region)) in [("a", Some("us-east")), ("b", Some("us-west")), ("c", None)].into_iter().enumerate() {
        let s = s as i64;
        let gap = [20..35, 50..65, 80..95][s as usize].clone();
        for i in 0..80i64 {
            let jitter = if i % 20 == 0 { 0 } else { (i * 7 + s * 13) % 11 };
            let time = T0 + i * 90 * S + jitter * S;
            let minute = (time - T0) / MIN;
            if gap.contains(&minute) || (100..110).contains(&minute) {
                continue;
            }
            let mut row = Row::new("cpu", time).with_tag("host", host);
            if let Some(region) = region {
                row = row.with_tag("region", region);
            }
            row = row.with_field("usage_user", ((i * 37 + s * 11) % 23) as f64 * 1.5 + s as f64 * 0.25);
            if !(s == 2 && i % 9 == 4) {
                row = row.with_field("usage_system", ((i * 13 + s * 5) % 17) as f64 * 0.5 + 1.0);
            }
            rows.push(row);
        }
    }
    for (s, host) in ["a", "b"].into_iter().enumerate() {
        let s = s as i64;
        for i in 0..24i64 {
            if s == 1 && (10..12).contains(&i) {
                continue;
            }
            let used = 1000.0 + ((i * 29 + s * 7) % 31) as f64 * 8.0;
            rows.push(Row::new("mem", T0 + i * 5 * MIN + s * 30 * S).with_tag("host", host).with_field("used", used));
        }
    }
    for (s, host) in ["a", "b", "c"].into_iter().enumerate() {
        let s = s as i64;
        for i in 0..60i64 {
            let mut row = Row::new("disk", T0 + i * MIN + s * 10 * S).with_tag("host", host);
            if i % 3 != 1 && s != 2 {
                row = row.with_field("reads", ((i * 5 + s) % 4) as f64);
            }
            if i % 4 != 2 {
                row = row.with_field("writes", ((i * 7 + s * 3) % 9) as f64);
            }
            if i % 5 == 0 || s == 2 {
                row = row.with_field("util", 10.0 + ((i * 3 + s) % 7) as f64 * 1.5);
            }
            if !row.fields.is_empty() {
                rows.push(row);
            }
        }
    }
    for (s, host) in ["a", "b"].into_iter().enumerate() {
        let s = s as i64;
        let mut total = 0.0;
        for i in 0..120i64 {
            let increment = 100.0 + ((i * 17 + s) % 7) as f64 * 25.0;
            total = if s == 0 && i == 70 { increment } else { total + increment };
            if s == 1 && (40..50).contains(&i) {
                continue;
            }
            rows.push(Row::new("net", T0 + i * MIN + s * 5 * S).with_tag("host", host).with_field("bytes", total));
        }
    }
    rows
}

/// `rows` as InfluxDB line protocol. Names and tag values are plain words
/// (nothing to escape); floats print in their shortest exact form.
fn line_protocol(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&row.measurement);
        for (key, value) in &row.tags {
            write!(out, ",{key}={value}").unwrap();
        }
        for (i, (name, value)) in row.fields.iter().enumerate() {
            write!(out, "{}{name}={value:?}", if i == 0 { ' ' } else { ',' }).unwrap();
        }
        writeln!(out, " {}", row.timestamp).unwrap();
    }
    out
}

/// What Chronicle must answer to a query.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// What InfluxDB answers.
    Influx,
    /// InfluxDB's rows, but every `time` is this instant.
    TimeAt(i64),
    /// No rows (InfluxDB returns no series); other queries must return rows,
    /// so a typo cannot turn a case into a vacuous comparison.
    Nothing,
}

/// One reference query.
struct Case {
    query: &'static str,
    expect: Expect,
}

const fn same(query: &'static str) -> Case {
    Case { query, expect: Expect::Influx }
}

/// Every reference query. Each gives both time bounds (RFC 3339 strings or
/// integer nanoseconds) at the top level of WHERE.
///
/// Deliberate differences (the query states them with its [`Expect`]):
/// - `integral()` without GROUP BY time: InfluxDB 1.6 stamps the row with
///   the epoch (time 0); Chronicle, like every other aggregate there, with
///   the query's lower time bound.
/// - `integral()` with GROUP BY time: InfluxDB carries the area between the
///   last point of a bucket and the next point across the bucket edge
///   (interpolating at the edge, and crediting a whole gap to the bucket of
///   the point after it); Chronicle integrates each bucket's own points. The
///   query is compared with Chronicle's own figure in the dialect's golden
///   file instead.
///
/// InfluxDB 1.6 behaviour the harness normalises rather than copies:
/// - `integral()` emits its series in reverse tag order, and with GROUP BY
///   time plus a tag splits each series into one JSON series per window; the
///   harness orders InfluxDB's series by tag values (reversed under ORDER BY
///   time DESC), as InfluxDB itself does for every other function.
///
/// Left out on purpose, as InfluxDB 1.6 quirks Chronicle need not copy:
/// - `integral()` next to another aggregate without GROUP BY time (two rows:
///   the integral at time 0, the others at the lower bound, each padded with
///   nulls).
/// - Transformations under ORDER BY time DESC (computed on the reversed
///   stream, with the look-back bucket taken after the upper bound).
/// - derivative/difference/moving_average of an aggregate with fill(<number>)
///   when the bucket before the lower bound is empty: InfluxDB fills that
///   look-back bucket too and reports a rate from the fill value at the lower
///   bound. (The look-back itself, over real data, is covered.)
/// - Ties InfluxDB breaks by Go's unstable sort: mode() between values that
///   occur equally often (at least twice), and the time percentile() reports
///   when the value at its rank occurs more than once in a window of more
///   than 12 points. The windows below avoid both. (Up to 12 points Go sorts
///   by insertion, keeping time order, as Chronicle does: ties there are
///   compared.)
///
/// Also deliberate, and tested against Chronicle alone (`tests/slt/dialect.slt`):
/// a time bound past the timestamps' range (`time > 9223372036854775807`,
/// `time < -9223372036854775808`, an integer beyond `i64`, an RFC 3339 time
/// after 2262) matches nothing or excludes nothing, where InfluxDB 1.6 wraps
/// around and returns points, or refuses the query; so does
/// `time >= -9223372036854775808`, for which InfluxDB returns nothing.
/// - Transformations of raw fields over several series without GROUP BY:
///   InfluxDB runs them over the merged time-ordered stream, so points of
///   different series at the same instant make the answer hinge on tie order.
/// - A time bound inside OR: InfluxDB extracts time bounds ignoring OR.
#[rustfmt::skip]
const QUERIES: &[Case] = &[
    // Raw selections, tag and field conditions, LIMIT and OFFSET.
    same("SELECT * FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT * FROM mem WHERE time >= 1767225600000000000 AND time < 1767232800000000000"),
    same("SELECT usage_user FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT usage_user, usage_system FROM cpu WHERE host = 'c' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT usage_system FROM cpu WHERE host = 'c' AND time >= 1767225600000000000 AND time < 1767229200000000000"),
    same("SELECT usage_user AS u, usage_system AS s FROM cpu WHERE host <> 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:20:00Z'"),
    same("SELECT usage_user FROM cpu WHERE region != 'us-east' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT usage_user FROM cpu WHERE region = '' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT usage_user FROM cpu WHERE host =~ /^(a|c)$/ AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT * FROM cpu WHERE region !~ /west/ AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT usage_user FROM cpu WHERE (host = 'a' OR region = 'us-west') AND usage_user > 20 AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT * FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' AND (usage_user >= 30 OR usage_system < 1.5)"),
    same("SELECT * FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:10:00Z' GROUP BY host"),
    same("SELECT usage_user FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:10:00Z' GROUP BY *"),
    same("SELECT * FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' ORDER BY time DESC LIMIT 7"),
    same("SELECT * FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' LIMIT 5 OFFSET 3"),
    same("SELECT usage_user FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host LIMIT 3 OFFSET 2"),
    same("SELECT usage_user FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY * ORDER BY time DESC LIMIT 2"),
    same("SELECT bytes FROM net WHERE time >= 1767229500000000000 AND time <= 1767229980000000000"),
    // Aggregates and selectors over the whole range.
    same("SELECT count(usage_user), sum(usage_user), mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT median(usage_user), spread(usage_user), stddev(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT max(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT min(usage_system) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT first(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT last(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time <= '2026-01-01T00:30:00Z'"),
    same("SELECT first(usage_user), last(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT percentile(usage_user, 75) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY host"),
    same("SELECT mode(usage_system) FROM cpu WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:27:00Z'"),
    Case {
        query: "SELECT integral(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host",
        expect: Expect::TimeAt(T0),
    },
    Case {
        query: "SELECT integral(usage_user, 1m) FROM cpu WHERE host='b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'",
        expect: Expect::TimeAt(T0),
    },
    same("SELECT mean(usage_user), mean(usage_system), max(usage_user) AS peak FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY region"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY region, host"),
    same("SELECT count(usage_system) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY *"),
    same("SELECT sum(used) FROM mem WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host ORDER BY time DESC"),
    same("SELECT mean(used) AS avg_used FROM mem WHERE time >= 1767225600000000000 AND time < 1767232800000000000"),
    same("SELECT mean(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:02:00Z' AND time < '2026-01-01T00:17:00Z'"),
    // GROUP BY time: empty buckets, fill, offsets, tags, order and limits.
    same("SELECT count(usage_user), mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(10m)"),
    same("SELECT count(usage_user), sum(usage_user), min(usage_user), max(usage_user), first(usage_user), last(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    same("SELECT median(usage_user), spread(usage_user), stddev(usage_user), percentile(usage_user, 90), percentile(usage_user, 10) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY time(2m)"),
    same("SELECT mode(usage_user) FROM cpu WHERE host='c' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(15m), host"),
    same("SELECT count(usage_user), max(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:02:00Z' AND time < '2026-01-01T00:17:00Z' GROUP BY time(5m)"),
    same("SELECT max(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(30m), *"),
    same("SELECT count(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m, 3m)"),
    same("SELECT mean(usage_user) FROM cpu WHERE host='b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m, -3m)"),
    same("SELECT count(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m) fill(null)"),
    same("SELECT count(usage_user) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m) fill(previous)"),
    same("SELECT mean(usage_user) FROM cpu WHERE host='b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(5m) fill(none)"),
    same("SELECT mean(usage_user) FROM cpu WHERE host='b' AND time >= '2026-01-01T00:50:00Z' AND time < '2026-01-01T01:15:00Z' GROUP BY time(5m) fill(previous)"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m), host fill(linear)"),
    same("SELECT max(usage_user) FROM cpu WHERE host='c' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(5m) fill(0)"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m), host ORDER BY time DESC LIMIT 2 OFFSET 1"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(10m) LIMIT 3 OFFSET 2"),
    same("SELECT mean(usage_user) FROM cpu WHERE time >= 1767225600000000000 AND time < 1767229200000000000 GROUP BY time(20m), region"),
    Case {
        query: "SELECT mean(usage_user) FROM cpu WHERE time >= '2026-01-01T01:40:00Z' AND time < '2026-01-01T01:50:00Z' GROUP BY time(5m)",
        expect: Expect::Nothing,
    },
    // Transformations of raw fields and of aggregates.
    same("SELECT derivative(usage_user, 1s) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT derivative(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY host"),
    same("SELECT non_negative_derivative(bytes, 1s) FROM net WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT difference(bytes) FROM net WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT moving_average(usage_user, 3) FROM cpu WHERE host='b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT cumulative_sum(used) FROM mem WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT derivative(mean(usage_user), 1m) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(1m)"),
    same("SELECT derivative(mean(usage_user)) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    same("SELECT derivative(mean(usage_user), 1m) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:10:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m) fill(0)"),
    same("SELECT non_negative_derivative(max(bytes), 1m) FROM net WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(5m), host"),
    same("SELECT difference(mean(usage_user)) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m) fill(previous)"),
    same("SELECT moving_average(mean(usage_user), 3) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(5m)"),
    same("SELECT moving_average(mean(usage_user), 2) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:10:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    same("SELECT cumulative_sum(sum(usage_user)) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(10m), host"),
    same("SELECT difference(mean(usage_user)), cumulative_sum(mean(usage_user)) FROM cpu WHERE host='a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    // Sparse rows: a row per asked field with a value.
    same("SELECT reads FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT reads, util FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT * FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:20:00Z'"),
    same("SELECT reads FROM disk WHERE util > 14 AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT mean(reads) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(2m) fill(none)"),
    same("SELECT count(reads), count(util) FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY host"),
    same("SELECT count(reads), count(util) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:20:00Z' GROUP BY time(2m) fill(none)"),
    same("SELECT count(reads), mean(util) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:20:00Z' GROUP BY time(2m)"),
    same("SELECT first(reads) FROM disk WHERE time >= '2026-01-01T00:00:30Z' AND time < '2026-01-01T01:00:00Z' GROUP BY host"),
    // Arithmetic between fields and numbers.
    same("SELECT usage_user + usage_system AS busy, usage_user FROM cpu WHERE host = 'c' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z'"),
    same("SELECT usage_user + usage_system FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY host"),
    same("SELECT usage_user * 2, -usage_user, 100 - usage_user / 4 FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT (usage_user - 1.5) * (usage_system + 2) % 7 FROM cpu WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT reads / writes, reads % writes, writes / 0 FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:40:00Z'"),
    same("SELECT reads - writes AS net, (reads + writes) * util FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY host"),
    // Arithmetic of aggregates, filled first and then computed.
    same("SELECT mean(usage_user) * 2 FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT max(usage_user) - min(usage_user) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(10m)"),
    same("SELECT max(usage_user) - min(usage_user) AS range FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(15m), host"),
    same("SELECT (mean(usage_user) + mean(usage_system)) / 2 FROM cpu WHERE host = 'c' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY time(15m)"),
    same("SELECT max(usage_user) + 1 FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    same("SELECT last(usage_user), last(usage_user) * 2 FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z' GROUP BY host"),
    same("SELECT sum(reads) / count(reads), count(writes) - 1 FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY host"),
    same("SELECT count(reads) + count(writes), count(util) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY time(2m) fill(none)"),
    same("SELECT count(reads) + 1 FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z' GROUP BY time(2m)"),
    same("SELECT mean(reads) / mean(writes) FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m), host fill(0)"),
    same("SELECT mean(reads) - mean(util) FROM disk WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:40:00Z' GROUP BY time(5m) fill(previous)"),
    same("SELECT derivative(mean(usage_user), 1m) * 60 FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(5m)"),
    same("SELECT difference(bytes) / 60 FROM net WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T02:00:00Z'"),
    // percentile() is a selector: alone, the time of its point (ties in time order), else the bucket start.
    same("SELECT percentile(reads, 50) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:10:00Z'"),
    same("SELECT percentile(reads, 75) FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:06:00Z' GROUP BY host"),
    same("SELECT percentile(reads, 90) FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:06:00Z'"),
    same("SELECT percentile(reads, 30) * 10 FROM disk WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:12:00Z'"),
    same("SELECT percentile(usage_user, 50) FROM cpu WHERE host = 'b' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:30:00Z'"),
    same("SELECT percentile(reads, 50) FROM disk WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m), host"),
    Case {
        query: "SELECT percentile(reads, 5) FROM disk WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:10:00Z'",
        expect: Expect::Nothing,
    },
    // Time bounds at the ends of the timestamps' range.
    Case { query: "SELECT * FROM cpu WHERE time >= 9223372036854775807", expect: Expect::Nothing },
    Case { query: "SELECT usage_user FROM cpu WHERE time <= -9223372036854775808", expect: Expect::Nothing },
    Case { query: "SELECT usage_user FROM cpu WHERE time < -9223372036854775807", expect: Expect::Nothing },
    Case { query: "SELECT count(usage_user) FROM cpu WHERE time > 9223372036854775806", expect: Expect::Nothing },
    Case { query: "SELECT max(usage_user) FROM cpu WHERE time = 9223372036854775807", expect: Expect::Nothing },
    same("SELECT usage_user FROM cpu WHERE host = 'a' AND time >= '2026-01-01T01:30:00Z' AND time <= 9223372036854775807"),
    same("SELECT usage_user FROM cpu WHERE host = 'b' AND time >= -9223372036854775806 AND time < '2026-01-01T00:30:00Z'"),
];

/// One value of an answer.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Num(f64),
    Str(String),
}

impl Cell {
    fn matches(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            _ => self == other,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Num(v) => write!(f, "{v:?}"),
            Cell::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// An answer in one shape for both systems: columns `time`, the GROUP BY
/// tags, the selected values; rows in output order.
#[derive(Debug, Default)]
struct Table {
    columns: Vec<String>,
    rows: Vec<(i64, Vec<Cell>)>,
}

/// InfluxDB's `results[0]` as a table: one row per value row of each series,
/// the series' tags (absent = "" = null) after `time`.
fn influx_table(result: &Value, descending: bool) -> Table {
    if let Some(error) = result.get("error") {
        panic!("InfluxDB refused a reference query: {error}");
    }
    let Some(series) = result.get("series").and_then(Value::as_array) else { return Table::default() };
    let tags = |s: &Value| -> Vec<(String, String)> {
        s.get("tags")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
            .unwrap_or_default()
    };
    let mut series: Vec<&Value> = series.iter().collect();
    // Stable, so a series InfluxDB splits into several keeps its row order.
    series.sort_by(|a, b| {
        let order = tags(a).cmp(&tags(b));
        if descending { order.reverse() } else { order }
    });
    let mut table = Table::default();
    for s in series {
        let tags = tags(s);
        let columns: Vec<String> =
            s["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        assert_eq!(columns[0], "time", "InfluxDB's first column is time");
        let names: Vec<String> = std::iter::once("time".to_string())
            .chain(tags.iter().map(|(k, _)| k.clone()))
            .chain(columns[1..].iter().cloned())
            .collect();
        if table.columns.is_empty() {
            table.columns = names;
        } else {
            assert_eq!(table.columns, names, "InfluxDB's series disagree on columns");
        }
        for values in s["values"].as_array().unwrap() {
            let values = values.as_array().unwrap();
            let tag_cells = tags.iter().map(|(_, v)| if v.is_empty() { Cell::Null } else { Cell::Str(v.clone()) });
            let value_cells = values[1..].iter().map(|v| match v {
                Value::Null => Cell::Null,
                Value::Number(n) => Cell::Num(n.as_f64().unwrap()),
                Value::String(s) => Cell::Str(s.clone()),
                other => panic!("unexpected InfluxDB value {other}"),
            });
            table.rows.push((values[0].as_i64().unwrap(), tag_cells.chain(value_cells).collect()));
        }
    }
    table
}

/// Chronicle's batches as a table; an error names a column of a type the
/// dialect's contract does not allow.
fn chronicle_table(batches: &[RecordBatch]) -> Result<Table, String> {
    let mut table = Table::default();
    let Some(first) = batches.first() else { return Ok(table) };
    let schema = first.schema();
    table.columns = schema.fields().iter().map(|f| f.name().clone()).collect();
    let utc = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    if table.columns.first().map(String::as_str) != Some("time") || schema.field(0).data_type() != &utc {
        return Err(format!("the first column must be `time` {utc}; the schema is {schema:?}"));
    }
    for batch in batches {
        let times = batch.column(0).as_primitive::<TimestampNanosecondType>();
        if times.null_count() > 0 {
            return Err("`time` has nulls".into());
        }
        let mut columns = Vec::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()).skip(1) {
            let cells: Vec<Cell> = match column.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                    let strings = cast(column, &DataType::Utf8).map_err(|e| format!("column {}: {e}", field.name()))?;
                    let strings = strings.as_string::<i32>();
                    (0..strings.len())
                        .map(|r| if strings.is_null(r) { Cell::Null } else { Cell::Str(strings.value(r).to_string()) })
                        .collect()
                }
                t if t.is_numeric() => {
                    let numbers =
                        cast(column, &DataType::Float64).map_err(|e| format!("column {}: {e}", field.name()))?;
                    let numbers = numbers.as_primitive::<Float64Type>();
                    (0..numbers.len())
                        .map(|r| if numbers.is_null(r) { Cell::Null } else { Cell::Num(numbers.value(r)) })
                        .collect()
                }
                other => return Err(format!("column {} has type {other}", field.name())),
            };
            columns.push(cells);
        }
        for r in 0..batch.num_rows() {
            table.rows.push((times.value(r), columns.iter().map(|c| c[r].clone()).collect()));
        }
    }
    Ok(table)
}

/// `time` as an offset from T0, e.g. `T0+1h01m31s`, with the raw value.
fn show_time(t: i64) -> String {
    let d = t - T0;
    let (sign, d) = if d < 0 { ("-", -d) } else { ("+", d) };
    let (h, m, s, ns) = (d / (60 * MIN), d / MIN % 60, d / S % 60, d % S);
    let frac = if ns == 0 { String::new() } else { format!(".{ns:09}") };
    format!("T0{sign}{h}h{m:02}m{s:02}{frac}s ({t})")
}

fn show_row(row: &(i64, Vec<Cell>)) -> String {
    std::iter::once(show_time(row.0)).chain(row.1.iter().map(Cell::to_string)).collect::<Vec<_>>().join(" | ")
}

/// The first way `actual` differs from `expected`, if any.
fn first_difference(expected: &Table, actual: &Table) -> Option<String> {
    if !expected.rows.is_empty() && expected.columns != actual.columns {
        return Some(format!("columns: InfluxDB {:?}, Chronicle {:?}", expected.columns, actual.columns));
    }
    let same_row = |e: &(i64, Vec<Cell>), a: &(i64, Vec<Cell>)| {
        e.0 == a.0 && e.1.len() == a.1.len() && e.1.iter().zip(&a.1).all(|(x, y)| x.matches(y))
    };
    let first_bad = expected.rows.iter().zip(&actual.rows).position(|(e, a)| !same_row(e, a));
    let counts = format!("InfluxDB has {} rows, Chronicle {}", expected.rows.len(), actual.rows.len());
    match first_bad {
        Some(i) => Some(format!(
            "{counts}; first difference at row {i} ({:?}):\n      InfluxDB:  {}\n      Chronicle: {}",
            expected.columns,
            show_row(&expected.rows[i]),
            show_row(&actual.rows[i])
        )),
        None if expected.rows.len() != actual.rows.len() => {
            let n = expected.rows.len().min(actual.rows.len());
            let (who, extra) =
                if expected.rows.len() > n { ("InfluxDB", &expected.rows) } else { ("Chronicle", &actual.rows) };
            Some(format!("{counts}; the first {n} agree, then {who} has {}", show_row(&extra[n])))
        }
        None => None,
    }
}

#[tokio::test]
async fn the_dialect_answers_like_influxdb_1x() {
    let dir = TempDir::new("influx-reference");
    let rows = dataset();

    let influx_dir = dir.path("influxd");
    std::fs::create_dir_all(&influx_dir).unwrap();
    let influx = InfluxD::start(&influx_dir);
    influx.create_database(DB);
    influx.write(DB, &line_protocol(&rows));

    let db = Db::open(dir.path("chronicle"), Config::default()).unwrap();
    db.write_rows(&rows).unwrap();
    db.flush().unwrap();

    let mut failures = Vec::new();
    for case in QUERIES {
        let mut expected = influx_table(&influx.query(DB, case.query), case.query.contains("ORDER BY time DESC"));
        match case.expect {
            Expect::Influx => {}
            Expect::TimeAt(t) => expected.rows.iter_mut().for_each(|row| row.0 = t),
            Expect::Nothing => assert!(expected.rows.is_empty(), "InfluxDB has rows for {}", case.query),
        }
        if !matches!(case.expect, Expect::Nothing) {
            assert!(!expected.rows.is_empty(), "InfluxDB has no rows for {}: the case tests nothing", case.query);
        }
        let difference = match db.query_dialect(case.query).await {
            Ok(batches) => match chronicle_table(&batches) {
                Ok(actual) => first_difference(&expected, &actual),
                Err(e) => Some(e),
            },
            Err(e) => Some(format!("Chronicle refused it: {e}")),
        };
        if let Some(difference) = difference {
            failures.push(format!("{}\n    {difference}", case.query));
        }
    }
    db.close().unwrap();
    drop(influx);
    assert!(
        failures.is_empty(),
        "{} of {} queries differ from InfluxDB 1.x:\n\n{}",
        failures.len(),
        QUERIES.len(),
        failures.join("\n\n")
    );
}
