//! A data set for the cold tier tests and the queries they compare.
//!
//! Measurement `cpu`, hosts `a` (region `eu`), `b` (region `us`) and `c`
//! (no region tag), a row every 10 minutes over three one-hour partitions
//! from [`T0`], with sparse fields (`usage_user` missing at every fourth
//! row, `usage_system` present at every third). [`late`] then writes into
//! the first two partitions again: overwrites of stored values, a field
//! added at a time that had only the other one, new times, and a new
//! series `d`. [`Model`] applies the same writes by hand (last write wins
//! per series, time and field), the oracle for `SELECT *`.

use std::collections::BTreeMap;

use arrow_array::{Array, RecordBatch};
use chronicle::{Db, FieldRange, Row, ScanRequest, TagMatcher};
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::TryStreamExt;

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000_000_000;
pub const MINUTE: i64 = 60_000_000_000;
pub const HOUR: i64 = 60 * MINUTE;

/// One written row: host, time, usage_user, usage_system.
type Written = (&'static str, i64, Option<f64>, Option<f64>);

fn region(host: &str) -> Option<&'static str> {
    match host {
        "a" => Some("eu"),
        "b" | "d" => Some("us"),
        _ => None,
    }
}

/// The first writes: three hours, three hosts.
pub fn initial() -> Vec<Written> {
    let mut rows = Vec::new();
    for (h, host) in ["a", "b", "c"].into_iter().enumerate() {
        for i in 0..18i64 {
            let user = (i % 4 != 3).then_some((i * 7 + h as i64 * 13) as f64 % 97.0);
            let system = (i % 3 == 0).then_some((i + h as i64) as f64 / 4.0);
            let user = if user.is_none() && system.is_none() { Some(-1.0) } else { user };
            rows.push((host, T0 + i * 10 * MINUTE, user, system));
        }
    }
    rows
}

/// Late writes into the first two partitions.
pub fn late() -> Vec<Written> {
    vec![
        ("a", T0, Some(1000.0), None),                     // overwrites usage_user only
        ("a", T0 + 10 * MINUTE, None, Some(55.5)),         // adds usage_system to a user-only row
        ("b", T0 + 60 * MINUTE, Some(2000.0), Some(-0.0)), // overwrites both, second partition
        ("c", T0 + 5 * MINUTE, Some(3.25), None),          // a new time
        ("d", T0 + 20 * MINUTE, Some(42.0), Some(4.2)),    // a new series
        ("d", T0 + 70 * MINUTE, None, Some(7.0)),
    ]
}

/// `rows` as Chronicle rows of `cpu`.
pub fn rows(written: &[Written]) -> Vec<Row> {
    written
        .iter()
        .map(|&(host, time, user, system)| {
            let mut row = Row::new("cpu", time).with_tag("host", host);
            if let Some(region) = region(host) {
                row = row.with_tag("region", region);
            }
            if let Some(v) = user {
                row = row.with_field("usage_user", v);
            }
            if let Some(v) = system {
                row = row.with_field("usage_system", v);
            }
            row
        })
        .collect()
}

/// The expected rows: (host, time) -> (usage_user, usage_system).
#[derive(Default)]
pub struct Model(BTreeMap<(String, i64), (Option<f64>, Option<f64>)>);

impl Model {
    /// Applies writes, the last per field winning.
    pub fn apply(&mut self, written: &[Written]) {
        for &(host, time, user, system) in written {
            let row = self.0.entry((host.to_string(), time)).or_default();
            row.0 = user.or(row.0);
            row.1 = system.or(row.1);
        }
    }

    /// Removes the rows of the hosts `hosts` within `start..=end`.
    pub fn delete(&mut self, hosts: &[&str], start: i64, end: i64) {
        self.0.retain(|(host, time), _| !(hosts.contains(&host.as_str()) && (start..=end).contains(time)));
    }

    /// `SELECT host, region, time, usage_user, usage_system ... ORDER BY host, time`
    /// as [`answer`] prints it.
    pub fn select_all(&self) -> Vec<String> {
        let show = |v: Option<f64>| v.map(|v| format!("{v:?}")).unwrap_or_else(|| "null".into());
        self.0
            .iter()
            .map(|((host, time), (user, system))| {
                format!("{host}|{}|{time}|{}|{}", region(host).unwrap_or("null"), show(*user), show(*system))
            })
            .collect()
    }
}

/// The query the model answers.
pub const SELECT_ALL: &str = "SELECT host, region, CAST(time AS BIGINT) AS t, usage_user, usage_system FROM cpu \
                              ORDER BY host, t";

/// `SELECT_ALL`'s rows as `host|region|t|user|system`, nulls as `null`.
pub async fn select_all(db: &Db) -> Vec<String> {
    let batches: Vec<RecordBatch> = db.query_sql(SELECT_ALL).await.unwrap().try_collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let cell = |c: usize| {
                let column = b.column(c);
                if column.is_null(r) {
                    return "null".to_string();
                }
                let formatter =
                    datafusion::arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
                        .unwrap();
                let text = formatter.value(r).to_string();
                // Floats as Rust prints them, so the model's `{:?}` matches.
                if c >= 3 { format!("{:?}", text.parse::<f64>().unwrap()) } else { text }
            };
            out.push((0..5).map(cell).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

/// Queries whose answers must not change when partitions are tiered:
/// aggregates, filters on time, tags and fields, missing tags, limits.
pub const QUERIES: &[&str] = &[
    "SELECT * FROM cpu ORDER BY host, time",
    "SELECT count(*) FROM cpu",
    "SELECT host, region, count(*), count(usage_user), sum(usage_user), min(usage_system), max(usage_system), \
     avg(usage_user) FROM cpu GROUP BY host, region ORDER BY host",
    "SELECT date_bin(INTERVAL '30 minutes', time) AS bucket, count(*), max(usage_user), sum(usage_system) \
     FROM cpu GROUP BY bucket ORDER BY bucket",
    "SELECT * FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:30:00Z' \
     ORDER BY time",
    "SELECT host, time, usage_user FROM cpu WHERE usage_user > 50 ORDER BY host, time",
    "SELECT host, count(*) FROM cpu WHERE region IS NULL GROUP BY host ORDER BY host",
    "SELECT * FROM cpu WHERE usage_system IS NOT NULL ORDER BY host, time LIMIT 7",
    "SELECT host, time, usage_system FROM cpu WHERE host != 'a' AND usage_system < 2 ORDER BY host, time",
    "SELECT count(*), sum(usage_user) FROM cpu WHERE host IN ('a', 'c') AND usage_user < 30",
    "SELECT host, max(time) FROM cpu GROUP BY host ORDER BY host",
    "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC",
    "SELECT date_bin(INTERVAL '10 minutes', time) AS b, max(usage_user) FROM cpu GROUP BY b ORDER BY b DESC LIMIT 3",
    "SELECT date_bin(INTERVAL '10 minutes', time) AS b, count(*) FROM cpu GROUP BY b ORDER BY b DESC LIMIT 10",
    "SELECT date_bin(INTERVAL '10 minutes', time) AS b, min(usage_system) FROM cpu GROUP BY b ORDER BY b LIMIT 3",
    "SELECT DISTINCT ON (host) host, time, usage_system FROM cpu WHERE host != 'b' ORDER BY host, time DESC",
    "SELECT time, usage_user FROM cpu WHERE time > '2026-01-01T01:45:00Z' ORDER BY time DESC, usage_user LIMIT 4",
];

/// `sql`'s answer on `db`, as a printed table.
pub async fn answer(db: &Db, sql: &str) -> String {
    let batches: Vec<RecordBatch> = match db.query_sql(sql).await {
        Ok(stream) => stream.try_collect().await.unwrap_or_else(|e| panic!("{sql}: {e}")),
        Err(e) => panic!("{sql}: {e}"),
    };
    pretty_format_batches(&batches).unwrap().to_string()
}

/// Scans of the Rust API whose rows (and their order) must not change when
/// partitions are tiered: matchers with a missing tag's semantics, tag and
/// field subsets (named columns the data lacks included), time ranges
/// across both tiers, present conditions, field ranges, limits.
pub fn scans() -> Vec<ScanRequest> {
    let regex = |k: &str, v: &str| TagMatcher::regex(k, v).unwrap();
    vec![
        ScanRequest::new("cpu"),
        ScanRequest::new("cpu").with_matcher(TagMatcher::eq("host", "a")),
        ScanRequest::new("cpu").with_matcher(regex("host", "a|d")).with_fields(["usage_system"]),
        ScanRequest::new("cpu").with_matcher(TagMatcher::eq("region", "")),
        ScanRequest::new("cpu").with_matcher(regex("region", "e.*|")).with_tags(["host"]),
        ScanRequest::new("cpu")
            .with_matcher(TagMatcher::not_eq("region", "eu"))
            .with_tags(["host"])
            .with_time_range(T0 + 25 * MINUTE, T0 + 95 * MINUTE),
        ScanRequest::new("cpu").with_matcher(TagMatcher::eq("zone", "x")),
        ScanRequest::new("cpu").with_matcher(TagMatcher::not_regex("zone", "x").unwrap()).with_fields(["usage_user"]),
        ScanRequest::new("cpu")
            .with_fields(["usage_user", "missing"])
            .with_present(["usage_user"])
            .with_tags(["region", "zone", "host"]),
        ScanRequest::new("cpu").with_present(["missing"]),
        ScanRequest::new("cpu").with_field_range(FieldRange::new(
            "usage_user",
            Some((20.0, false)),
            Some((60.0, true)),
        )),
        ScanRequest::new("cpu").with_time_range(T0 + 50 * MINUTE, T0 + 130 * MINUTE).with_limit(9),
        ScanRequest::new("cpu").with_time_range(T0 + 2 * HOUR, T0 + 3 * HOUR),
        ScanRequest::new("nothing"),
    ]
}

/// A scan's rows as a printed table, in the order the scan returns them.
pub fn scan_answer(db: &Db, request: &ScanRequest) -> String {
    let batches: Vec<RecordBatch> =
        db.scan(request).unwrap_or_else(|e| panic!("{request:?}: {e}")).collect_batches().unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// PromQL range queries (over the data set's three hours and around
/// them) whose answers must not change when partitions are tiered.
pub const PROMQL: &[&str] = &[
    "cpu_usage_user",
    "cpu_usage_system{host=~\"a|d\"}",
    "cpu_usage_user{region=\"\"}",
    "sum by (region) (cpu_usage_user)",
    "count_over_time(cpu_usage_system[40m])",
    "max_over_time(cpu_usage_user{host!=\"b\"}[1h]) - min_over_time(cpu_usage_user{host!=\"b\"}[1h])",
    "rate(cpu_usage_user[30m])",
];

/// `expr`'s answer as a range query, printed.
pub fn promql_answer(db: &Db, expr: &str) -> String {
    let ms = |ns: i64| ns / 1_000_000;
    let batches = db
        .query_promql(expr, ms(T0 - 10 * MINUTE), ms(T0 + 3 * HOUR), ms(5 * MINUTE))
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    pretty_format_batches(&batches).unwrap().to_string()
}

/// Asserts that every query of [`QUERIES`], every scan of [`scans`], every
/// PromQL query of [`PROMQL`] and the series and tag-value listings over
/// time ranges answer the same on both.
pub async fn assert_same_answers(local: &Db, tiered: &Db) {
    for sql in QUERIES {
        assert_eq!(answer(tiered, sql).await, answer(local, sql).await, "{sql}");
    }
    for request in scans() {
        assert_eq!(scan_answer(tiered, &request), scan_answer(local, &request), "{request:?}");
    }
    for expr in PROMQL {
        assert_eq!(promql_answer(tiered, expr), promql_answer(local, expr), "{expr}");
    }
    let ranges = [(T0, T0 + HOUR - 1), (T0 + 15 * MINUTE, T0 + 75 * MINUTE), (T0 + 50 * MINUTE, T0 + 3 * HOUR)];
    for range in ranges {
        assert_eq!(tiered.series_keys(Some(range)).unwrap(), local.series_keys(Some(range)).unwrap(), "{range:?}");
        for key in ["host", "region"] {
            let values = |db: &Db| db.tag_values(key, Some("cpu"), Some(range)).unwrap();
            assert_eq!(values(tiered), values(local), "{key} in {range:?}");
        }
    }
}
