//! The series listing behind `/api/v1/series`, `/api/v1/labels` and label
//! values (`chronicle::promql::labels`), on label sets whose order is not
//! the order of their tags: tag keys that sort before `__name__`
//! (upper case), sparse tags, two fields of one measurement (two metrics per
//! series), and a metric name two measurements both give. The expected
//! listing is built here from the written rows and sorted as label sets.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::collections::BTreeSet;

use chronicle::{Config, Db, Row, promql};

const T0: i64 = 1_767_225_600_000_000_000;

/// A written row: measurement, tags, fields.
type Written = (&'static str, Vec<(&'static str, String)>, Vec<&'static str>);

/// Every written row.
fn rows() -> Vec<Written> {
    let mut out = Vec::new();
    for i in 0..40 {
        let mut tags = vec![("host", format!("h{:02}", 39 - i))];
        if i % 3 == 0 {
            tags.push(("Zone", format!("z{}", i % 4)));
        }
        if i % 5 == 0 {
            tags.push(("AZ", "east".to_string()));
        }
        if i % 2 == 0 {
            tags.push(("region", format!("r{}", i % 7)));
        }
        out.push(("cpu", tags.clone(), vec!["usage_user", "usage_idle"]));
        out.push(("cpu_usage", tags, vec!["user"]));
    }
    out
}

/// The label sets a listing must answer for metrics whose name `wanted` accepts, sorted.
fn expected(wanted: impl Fn(&str) -> bool) -> Vec<Vec<(String, String)>> {
    let mut out = BTreeSet::new();
    for (measurement, tags, fields) in rows() {
        for field in fields {
            let name = format!("{measurement}_{field}");
            if wanted(&name) {
                let mut labels: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                labels.push(("__name__".to_string(), name));
                labels.sort();
                out.insert(labels);
            }
        }
    }
    out.into_iter().collect()
}

fn listed(db: &Db, selectors: &[&str]) -> Vec<Vec<(String, String)>> {
    let selectors: Vec<String> = selectors.iter().map(|s| s.to_string()).collect();
    let listed = promql::labels::series(db, &selectors, None).expect("lists");
    listed.iter().map(|l| l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).collect()
}

#[test]
fn listings_are_sorted_as_label_sets_and_told_apart() {
    let dir = std::env::temp_dir().join(format!("chronicle-series-listing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("db"), Config::default()).expect("opens");
    let written: Vec<Row> = rows()
        .into_iter()
        .map(|(measurement, tags, fields)| {
            let row = tags.iter().fold(Row::new(measurement, T0), |r, (k, v)| r.with_tag(*k, v.clone()));
            fields.iter().fold(row, |r, f| r.with_field(*f, 1.0))
        })
        .collect();
    db.write_rows(&written).expect("writes");

    // `cpu_usage_user` is named by both measurements: each label set once.
    assert_eq!(listed(&db, &["cpu_usage_user"]), expected(|n| n == "cpu_usage_user"));
    assert_eq!(listed(&db, &[r#"{__name__=~"cpu_.*"}"#]), expected(|n| n.starts_with("cpu_")));
    assert_eq!(listed(&db, &[]), expected(|_| true));
    let zoned = listed(&db, &[r#"cpu_usage_idle{Zone="z0"}"#]);
    assert_eq!(zoned.len(), 4, "i in 0, 12, 24, 36: {zoned:?}");
    assert!(zoned.iter().all(|l| l.contains(&("Zone".to_string(), "z0".to_string()))));
    db.close().expect("closes");
    let _ = std::fs::remove_dir_all(&dir);
}
