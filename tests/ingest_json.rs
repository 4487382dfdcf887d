//! JSON points bodies: points to rows, and each refusal naming its point and key.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use chronicle::Row;
use chronicle::ingest::{Error, json};

const NOW: i64 = 1_767_225_600_000_000_000;

#[track_caller]
fn assert_item(body: &str, at: &str, needle: &str) {
    match json::parse(body.as_bytes(), NOW) {
        Err(Error::Item { at: a, message }) => {
            assert_eq!(a, at, "{body}: {message}");
            assert!(message.contains(needle), "{body}: {message:?} lacks {needle:?}");
        }
        other => panic!("{body}: expected an error at {at}, got {other:?}"),
    }
}

#[test]
fn points_become_rows() {
    let body = r#"{"points": [
        {"metric": "temperature", "tags": {"room": "kitchen", "floor": "1"}, "value": 21.5, "timestamp": 1767225600000000001},
        {"metric": "up", "value": 1},
        {"metric": "load", "tags": {}, "value": -2e-3, "timestamp": -1}
    ]}"#;
    let value = |v: f64| vec![("value".to_string(), v)];
    let mut rows = json::parse(body.as_bytes(), NOW).unwrap();
    rows[0].tags.sort();
    assert_eq!(
        rows,
        [
            Row {
                measurement: "temperature".into(),
                tags: vec![("floor".into(), "1".into()), ("room".into(), "kitchen".into())],
                fields: value(21.5),
                timestamp: 1_767_225_600_000_000_001,
            },
            Row { measurement: "up".into(), tags: vec![], fields: value(1.0), timestamp: NOW },
            Row { measurement: "load".into(), tags: vec![], fields: value(-0.002), timestamp: -1 },
        ]
    );
    assert_eq!(json::parse(br#"{"points": []}"#, NOW).unwrap(), []);
}

#[test]
fn bad_points_name_index_and_key() {
    assert_item(r#"{"points": [{"metric": "a", "value": 1}, {"metric": "b"}]}"#, "points[1].value", "missing");
    assert_item(r#"{"points": [{"value": 1}]}"#, "points[0].metric", "missing");
    assert_item(r#"{"points": [{"metric": "", "value": 1}]}"#, "points[0].metric", "empty");
    assert_item(r#"{"points": [{"metric": "a-b", "value": 1}]}"#, "points[0].metric", "invalid measurement name");
    assert_item(r#"{"points": [{"metric": 5, "value": 1}]}"#, "points[0].metric", "must be a string");
    assert_item(r#"{"points": [{"metric": "a", "value": "1.5"}]}"#, "points[0].value", "must be a number");
    assert_item(r#"{"points": [{"metric": "a", "value": null}]}"#, "points[0].value", "must be a number");
    assert_item(
        r#"{"points": [{"metric": "a", "value": 1, "timestamp": 1.5}]}"#,
        "points[0].timestamp",
        "not a 64-bit integer",
    );
    assert_item(
        r#"{"points": [{"metric": "a", "value": 1, "timestamp": 9223372036854775808}]}"#,
        "points[0].timestamp",
        "not a 64-bit integer",
    );
    assert_item(
        r#"{"points": [{"metric": "a", "value": 1, "timestamp": "1"}]}"#,
        "points[0].timestamp",
        "integer of nanoseconds",
    );
    assert_item(r#"{"points": [{"metric": "a", "value": 1, "timestmp": 1}]}"#, "points[0].timestmp", "unknown key");
    assert_item(
        r#"{"points": [{"metric": "a", "value": 1, "tags": {"host": 1}}]}"#,
        "points[0].tags.host",
        "must be a string",
    );
    assert_item(r#"{"points": [{"metric": "a", "value": 1, "tags": ["x"]}]}"#, "points[0].tags", "object of strings");
    assert_item(
        r#"{"points": [{"metric": "a", "value": 1, "tags": {"__tenant__": "t"}}]}"#,
        "points[0].tags",
        "reserved",
    );
    assert_item(r#"{"points": [{"metric": "a", "value": 1, "tags": {"host": ""}}]}"#, "points[0].tags", "empty");
}

#[test]
fn bodies_that_are_not_json_points() {
    for (body, needle) in [
        (&b"{\"points\": [{\"metric\": \"a\",}]}"[..], "line 1"),
        (b"{}", "missing field `points`"),
        (b"{\"points\": {}}", "invalid type"),
        (b"{\"points\": [], \"extra\": 1}", "unknown field `extra`"),
        (b"[1]", "invalid type"),
        (b"{\"points\": [{\"metric\": \"a\xff\", \"value\": 1}]}", "invalid unicode"),
        (b"", "EOF"),
    ] {
        match json::parse(body, NOW) {
            Err(Error::Syntax { format: "JSON points", message }) => {
                assert!(message.contains(needle), "{:?}: {message:?} lacks {needle:?}", String::from_utf8_lossy(body))
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}
