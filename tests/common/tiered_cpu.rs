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
use chronicle::{Db, Row};
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

/// Asserts that every query of [`QUERIES`] answers the same on both.
pub async fn assert_same_answers(local: &Db, tiered: &Db) {
    for sql in QUERIES {
        assert_eq!(answer(tiered, sql).await, answer(local, sql).await, "{sql}");
    }
}
