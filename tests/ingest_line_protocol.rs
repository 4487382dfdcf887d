//! InfluxDB line protocol parsing: every feature of the format against rows
//! written by hand, and every refusal with its line and column. Ends with a
//! parsed body written to a database and read back.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::borrow::Cow;

use chronicle::ingest::line_protocol::{self, parse};
use chronicle::ingest::{Error, Precision};
use chronicle::{Config, Db, Row, ScanRequest};
use common::TempDir;

const NOW: i64 = 1_767_225_600_123_456_789;

fn rows(body: &str) -> Vec<Row> {
    parse(body.as_bytes(), Precision::Nanoseconds, NOW).unwrap_or_else(|e| panic!("{body:?}: {e}"))
}

fn row(measurement: &str, tags: &[(&str, &str)], fields: &[(&str, f64)], timestamp: i64) -> Row {
    Row {
        measurement: measurement.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        timestamp,
    }
}

/// The (line, column, message) of the error `body` must give.
fn refusal(body: &[u8]) -> (usize, usize, String) {
    match parse(body, Precision::Nanoseconds, NOW) {
        Err(Error::Line { line, column, message }) => (line, column, message),
        other => panic!("{:?}: expected a line error, got {other:?}", String::from_utf8_lossy(body)),
    }
}

#[track_caller]
fn assert_refused(body: &str, line: usize, column: usize, needle: &str) {
    let (l, c, message) = refusal(body.as_bytes());
    assert_eq!((l, c), (line, column), "{body:?}: {message}");
    assert!(message.contains(needle), "{body:?}: {message:?} lacks {needle:?}");
}

#[test]
fn tags_fields_and_timestamp() {
    assert_eq!(
        rows("cpu,host=a,region=eu-1 usage_user=1.5,usage_idle=97i 1700000000000000000"),
        [row(
            "cpu",
            &[("host", "a"), ("region", "eu-1")],
            &[("usage_user", 1.5), ("usage_idle", 97.0)],
            1_700_000_000_000_000_000
        )]
    );
    assert_eq!(rows("m v=1"), [row("m", &[], &[("v", 1.0)], NOW)]);
    assert_eq!(rows("m,t=é😀 v=-2 -5"), [row("m", &[("t", "é😀")], &[("v", -2.0)], -5)]);
}

#[test]
fn every_field_type() {
    let body = "m a=1,b=-1.5,c=1e3,d=1.5E-2,e=.5,f=-12i,g=12u,h=+3,i=0.0";
    assert_eq!(
        rows(body)[0].fields,
        [
            ("a", 1.0),
            ("b", -1.5),
            ("c", 1000.0),
            ("d", 0.015),
            ("e", 0.5),
            ("f", -12.0),
            ("g", 12.0),
            ("h", 3.0),
            ("i", 0.0)
        ]
        .map(|(k, v)| (k.to_string(), v))
    );
    for (word, value) in [("t", 1.0), ("T", 1.0), ("true", 1.0), ("True", 1.0), ("TRUE", 1.0)].into_iter().chain([
        ("f", 0.0),
        ("F", 0.0),
        ("false", 0.0),
        ("False", 0.0),
        ("FALSE", 0.0),
    ]) {
        assert_eq!(rows(&format!("m b={word}"))[0].fields, [("b".to_string(), value)], "{word}");
    }
    // Integers past 2^53 round to the nearest float64.
    let big = rows("m i=9007199254740993i,u=18446744073709551615u,n=-9223372036854775808i");
    assert_eq!(big[0].fields[0].1, 9_007_199_254_740_992.0);
    assert_eq!(big[0].fields[1].1, 18_446_744_073_709_551_615.0);
    assert_eq!(big[0].fields[2].1, -9_223_372_036_854_775_808.0);
}

#[test]
fn escapes_in_every_name() {
    // Tag values may hold anything once escaped; a backslash before another
    // byte is literal.
    let parsed = rows(r"m,path=a\ b\,c\=d\\e\x v=1");
    assert_eq!(parsed[0].tags, [("path".to_string(), r"a b,c=d\e\x".to_string())]);
    // Escaped separators do not end a measurement, tag key or field key: the
    // names come out unescaped (and are then refused by the naming rules).
    assert_refused(r"my\ cpu\,x v=1", 1, 1, r#"invalid measurement name "my cpu,x""#);
    assert_refused(r"m,ho\=st\ x=a v=1", 1, 3, r#""ho=st x""#);
    assert_refused(r"m f\,x\ y\=z=1", 1, 3, r#"invalid field name "f,x y=z""#);
    // A backslash before a multi-byte character is literal too.
    assert_eq!(rows(r"m,t=\é v=1")[0].tags[0].1, r"\é");
}

#[test]
fn comments_blank_lines_crlf_and_spacing() {
    let body =
        "# a comment\r\n\r\n   \n\tcpu,host=a v=1 10\r\n  # indented comment\ncpu,host=b  v=2   20  \r\ncpu v=3\n";
    assert_eq!(
        rows(body),
        [
            row("cpu", &[("host", "a")], &[("v", 1.0)], 10),
            row("cpu", &[("host", "b")], &[("v", 2.0)], 20),
            row("cpu", &[], &[("v", 3.0)], NOW)
        ]
    );
    assert!(rows("").is_empty());
    assert!(rows("\n\n# only comments\n").is_empty());
}

#[test]
fn precision_scales_timestamps_and_truncates_the_default() {
    for (name, precision, scale) in [
        ("ns", Precision::Nanoseconds, 1),
        ("n", Precision::Nanoseconds, 1),
        ("us", Precision::Microseconds, 1_000),
        ("u", Precision::Microseconds, 1_000),
        ("ms", Precision::Milliseconds, 1_000_000),
        ("s", Precision::Seconds, 1_000_000_000),
        ("m", Precision::Minutes, 60_000_000_000),
        ("h", Precision::Hours, 3_600_000_000_000),
    ] {
        assert_eq!(name.parse::<Precision>().unwrap(), precision);
        assert_eq!(precision.nanos(), scale);
        let parsed = parse(b"m v=1 3\nm v=2", precision, NOW).unwrap();
        assert_eq!(parsed[0].timestamp, 3 * scale, "{name}");
        assert_eq!(parsed[1].timestamp, NOW - NOW % scale, "{name}: the default is truncated to the precision");
    }
    assert!("x".parse::<Precision>().unwrap_err().to_string().contains("unknown precision"));
    let overflow = parse(b"m v=1 9223372036854775807", Precision::Seconds, NOW).unwrap_err();
    assert!(
        overflow.to_string().contains("line 1, column 7: timestamp 9223372036854775807 (s) overflows"),
        "{overflow}"
    );
    assert_eq!(parse(b"m v=1 9223372036854775807", Precision::Nanoseconds, NOW).unwrap()[0].timestamp, i64::MAX);
}

#[test]
fn string_fields_refuse_the_batch() {
    assert_refused(
        "cpu v=1\ncpu,host=a usage=1,msg=\"hello, \\\"world\\\"\" 10\ncpu v=2",
        2,
        24,
        r#"field "msg": string values are not stored (Chronicle stores numbers)"#,
    );
    assert_refused("m s=\"\"", 1, 5, "string values are not stored");
}

#[test]
fn malformed_lines_name_line_and_column() {
    // (body, line, column, what the message says)
    let cases = [
        (",host=a v=1", 1, 1, "missing measurement"),
        (" v=1", 1, 2, r#"invalid measurement name "v=1""#),
        ("cpu", 1, 4, "missing fields"),
        ("cpu,host=a", 1, 11, "missing fields"),
        ("cpu,host=a  ", 1, 13, "missing fields"),
        ("cpu,host v=1", 1, 9, r#"tag "host" has no '=value'"#),
        ("cpu,=a v=1", 1, 5, "missing tag key"),
        ("cpu,host= v=1", 1, 10, r#"tag "host" has an empty value"#),
        ("cpu,host=a=b v=1", 1, 11, "unescaped '=' in a tag value"),
        ("cpu,host=a,host=b v=1", 1, 12, r#"duplicate tag key "host""#),
        ("cpu,__tenant__=x v=1", 1, 5, "reserved"),
        ("cpu v", 1, 6, r#"field "v" has no '=value'"#),
        ("cpu =1", 1, 5, "missing field key"),
        ("cpu v=", 1, 7, r#"field "v": missing value"#),
        ("cpu v=1,", 1, 9, "missing field key"),
        ("cpu v=1,v=2", 1, 9, r#"duplicate field "v""#),
        ("cpu v=abc", 1, 7, "invalid value \"abc\""),
        ("cpu v=NaN", 1, 7, "invalid value"),
        ("cpu v=inf", 1, 7, "invalid value"),
        ("cpu v=1e400", 1, 7, "out of range"),
        ("cpu v=1.2.3", 1, 7, "invalid value"),
        ("cpu v=1é", 1, 7, "invalid value \"1é\""),
        ("cpu v=é", 1, 7, "invalid value"),
        ("cpu v=9223372036854775808i", 1, 7, "invalid integer"),
        ("cpu v=1.5i", 1, 7, "invalid integer"),
        ("cpu v=-1u", 1, 7, "invalid unsigned integer"),
        ("cpu v=1 12a", 1, 9, "invalid timestamp \"12a\""),
        ("cpu v=1 -", 1, 9, "invalid timestamp"),
        ("cpu v=1 1.5", 1, 9, "invalid timestamp"),
        ("cpu v=1 99999999999999999999", 1, 9, "overflows"),
        ("cpu v=1 10 extra", 1, 12, "unexpected text after the timestamp"),
        ("9cpu v=1", 1, 1, "must start with a letter"),
        ("cpu 9v=1", 1, 5, "invalid field name"),
        ("cpu,ho-st=a v=1", 1, 5, "invalid tag key"),
        ("m v=1\n\n# c\n  m,t=a w=x", 4, 11, r#"field "w": invalid value"#),
        ("m v=1\r\nm v=1 x\r\n", 2, 7, "invalid timestamp \"x\""),
    ];
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(body, line, column, needle)| {
            let (l, c, message) = refusal(body.as_bytes());
            ((l, c) != (line, column) || !message.contains(needle)).then(|| format!("{body:?}: {l}:{c} {message}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn names_checked_on_an_earlier_line_are_checked_again_where_they_differ() {
    // Lines repeating the names of the line before skip their checks; a
    // name at another position, a new name or a long value is checked.
    assert_refused("m,a=1,b=2 v=1\nm,b=1,b=2 v=1", 2, 7, r#"duplicate tag key "b""#);
    assert_refused("m,a=1 v=1,w=2\nm,a=1 w=1,w=2", 2, 11, r#"duplicate field "w""#);
    assert_refused("m,a=1 v=1\nm,a=1,b-c=2 v=1", 2, 7, "invalid tag key");
    assert_refused("m,a=1 v=1\nm,a=1,__tenant__=t v=1", 2, 7, "reserved");
    assert_refused("m v=1\nn.x v=1\n9 v=1", 3, 1, "invalid measurement name");
    assert_refused(&format!("m,a=1 v=1\nm,a={} v=1", "x".repeat(4097)), 2, 3, "longer than 4096 bytes");
    assert_refused("m,a=1 v=1\nm,a=1 v=1,9=2", 2, 11, "invalid field name");
    assert_eq!(rows("m,a=1,b=2 v=1,w=2\nm,b=1,a=2 w=1,v=2\nm,a=1 v=1").len(), 3);
}

#[test]
fn lines_are_visited_without_copies() {
    let body = b"cpu,host=a,path=x\\ y usage=1,idle=2i 10\ncpu,host=b usage=3 20\ncpu v=oops";
    let mut seen = Vec::new();
    let result = line_protocol::for_each_line(body, Precision::Nanoseconds, NOW, |line| {
        assert!(matches!(line.measurement, Cow::Borrowed("cpu")));
        let owned: Vec<bool> = line.tags.iter().map(|(_, v)| matches!(v, Cow::Owned(_))).collect();
        seen.push((owned, line.to_row()));
    });
    // Only the escaped value was copied; the lines before the bad one were visited.
    assert!(result.unwrap_err().to_string().starts_with("line 3, column 7"));
    assert_eq!(
        seen,
        [
            (vec![false, true], row("cpu", &[("host", "a"), ("path", "x y")], &[("usage", 1.0), ("idle", 2.0)], 10)),
            (vec![false], row("cpu", &[("host", "b")], &[("usage", 3.0)], 20)),
        ]
    );
}

#[test]
fn invalid_utf8_is_refused_at_its_byte() {
    let (line, column, message) = refusal(b"m v=1\nm,t=ab\xff v=1\n");
    assert_eq!((line, column, message.as_str()), (2, 7, "invalid UTF-8"));
    let (line, column, _) = refusal(b"\xc3");
    assert_eq!((line, column), (1, 1));
}

#[test]
fn a_batch_is_all_or_nothing() {
    let body = "m v=1\nm v=2\nm v=oops\nm v=4";
    let err = parse(body.as_bytes(), Precision::Nanoseconds, NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"line 3, column 5: field "v": invalid value "oops" (a float, an integer with 'i' or 'u', a boolean, or a quoted string)"#
    );
}

#[test]
fn parsed_rows_write_to_a_database() {
    let dir = TempDir::new("ingest-line-protocol");
    let db = Db::open(dir.as_path().join("lp.chronicle"), Config::default()).unwrap();
    let body = "cpu,host=a,dc=x\\ 1 usage=1i,idle=t 1767225600000000000\ncpu,host=b usage=2.5 1767225600000000000\n";
    db.write_rows(&parse(body.as_bytes(), Precision::Nanoseconds, NOW).unwrap()).unwrap();
    let batches = db.scan(&ScanRequest::new("cpu")).unwrap().collect_batches().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    assert_eq!(db.tag_values("dc", Some("cpu"), None).unwrap(), ["x 1"]);
    db.close().unwrap();
}
