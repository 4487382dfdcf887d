//! The embedded API end to end: what is written comes back from a scan, from
//! the head before a flush and from the file after a flush and a reopen.
//!
//! Covered: bit-exact edge values and timestamps; out-of-order and duplicate
//! points (the last write wins in the head, across flushes and after
//! compaction); late points for flushed partitions; multi-field rows with
//! fields at different times; tag matchers and inclusive time ranges; the
//! catalog listings; validation (a bad row refuses its whole batch, naming the
//! row); concurrent writers; locking, closing and dropping; the partition
//! duration of an existing file; flushes driven by the memory budget; and a
//! file that is not a database.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chronicle::InvalidInput;
use chronicle::{Config, Db, Error, Point, Row, ScanRequest, SyncPolicy, TagMatcher};
use common::TempDir;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// One hour in nanoseconds: the default partition duration.
const H: i64 = 3_600_000_000_000;
/// One second in nanoseconds.
const S: i64 = 1_000_000_000;
/// Bytes of the file header: all a database file holds before its first flush.
const FILE_HEADER_LEN: u64 = 10;

/// The configuration most tests use: no fsync per write (durability is not
/// what they test).
fn config() -> Config {
    Config::default().with_sync(SyncPolicy::None)
}

fn open(path: &Path) -> Db {
    Db::open(path, config()).unwrap()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// A float compared by its bits, printed as a number and as bits.
#[derive(Clone, Copy, PartialEq, Eq)]
struct F(u64);

impl fmt::Debug for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:#018x})", f64::from_bits(self.0), self.0)
    }
}

/// A present field value.
fn v(x: f64) -> Option<F> {
    Some(F(x.to_bits()))
}

/// One output row: time, tag columns (schema order), field columns (schema order).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    time: i64,
    tags: Vec<Option<String>>,
    values: Vec<Option<F>>,
}

fn line(time: i64, tags: &[Option<&str>], values: &[Option<F>]) -> Line {
    Line { time, tags: tags.iter().map(|t| t.map(String::from)).collect(), values: values.to_vec() }
}

/// Every row of `batches`, in order, checking each column's type on the way.
fn lines(batches: &[RecordBatch]) -> Vec<Line> {
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            "the time column"
        );
        assert!(!schema.field(0).is_nullable());
        let times = batch.column(0).as_primitive::<TimestampNanosecondType>();
        assert_eq!(times.null_count(), 0);
        let mut rows: Vec<Line> =
            times.values().iter().map(|&t| Line { time: t, tags: vec![], values: vec![] }).collect();
        for (field, column) in schema.fields().iter().zip(batch.columns()).skip(1) {
            match field.data_type() {
                DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                    let dict = column.as_dictionary::<Int32Type>();
                    let values: &StringArray = dict.values().as_string();
                    for (i, row) in rows.iter_mut().enumerate() {
                        let value = dict.key(i).map(|k| values.value(k).to_string());
                        row.tags.push(value);
                    }
                }
                DataType::Float64 => {
                    let floats = column.as_primitive::<Float64Type>();
                    for (i, row) in rows.iter_mut().enumerate() {
                        row.values.push(floats.is_valid(i).then(|| F(floats.value(i).to_bits())));
                    }
                }
                other => panic!("column {} has unexpected type {other}", field.name()),
            }
        }
        out.extend(rows);
    }
    out
}

fn batches(db: &Db, req: &ScanRequest) -> Vec<RecordBatch> {
    db.scan(req).unwrap().collect_batches().unwrap()
}

fn scan(db: &Db, req: &ScanRequest) -> Vec<Line> {
    lines(&batches(db, req))
}

/// The column names of a scan's schema.
fn columns(db: &Db, req: &ScanRequest) -> Vec<String> {
    db.scan(req).unwrap().schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// Runs `check` on a database: now (head), after a flush, and after a reopen.
fn in_head_file_and_reopened(path: &Path, db: Db, check: impl Fn(&Db, &str)) {
    check(&db, "head");
    db.flush().unwrap();
    check(&db, "flushed");
    db.close().unwrap();
    drop(db);
    let db = open(path);
    assert!(db.recovery_report().is_clean(), "{:?}", db.recovery_report());
    check(&db, "reopened");
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Values and timestamps
// ---------------------------------------------------------------------------

#[test]
fn edge_values_and_timestamps_round_trip_bit_exactly() {
    let dir = TempDir::new("edge_values");
    let path = dir.path("db.chronicle");
    let values = [
        f64::from_bits(0x7ff8_dead_beef_0001), // quiet NaN with a payload
        f64::from_bits(0xfff0_0000_0000_0abc), // negative signalling NaN with a payload
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::from_bits(1), // the smallest subnormal
        f64::MIN,
        f64::MAX,
    ];
    let times = [i64::MIN, i64::MIN + 1, -H - 1, -1, 0, 1, H, i64::MAX - 1, i64::MAX];
    let db = open(&path);
    // i64::MAX first: once the newest time is that far ahead every older
    // partition is due, so writing it first keeps the rest in the head.
    db.write(&[Point::new("edge", values[0], i64::MAX).with_tag("kind", "time")]).unwrap();
    let mut batch: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(i, &x)| Point::new("edge", x, 1_000 + i as i64).with_tag("kind", "value"))
        .collect();
    batch.extend(
        times[..times.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, &t)| Point::new("edge", values[(i + 1) % values.len()], t).with_tag("kind", "time")),
    );
    db.write(&batch).unwrap();
    assert_eq!(file_len(&path), FILE_HEADER_LEN, "nothing flushed yet: the first scans read the head");

    let expect_values: Vec<Line> =
        values.iter().enumerate().map(|(i, &x)| line(1_000 + i as i64, &[Some("value")], &[v(x)])).collect();
    let mut expect_times: Vec<Line> = times[..times.len() - 1]
        .iter()
        .enumerate()
        .map(|(i, &t)| line(t, &[Some("time")], &[v(values[(i + 1) % values.len()])]))
        .collect();
    expect_times.push(line(i64::MAX, &[Some("time")], &[v(values[0])]));

    in_head_file_and_reopened(&path, db, |db, when| {
        let req = ScanRequest::new("edge").with_matcher(TagMatcher::eq("kind", "value"));
        assert_eq!(scan(db, &req), expect_values, "{when}");
        let req = ScanRequest::new("edge").with_matcher(TagMatcher::eq("kind", "time"));
        assert_eq!(scan(db, &req), expect_times, "{when}");
        let first = req.clone().with_time_range(i64::MIN, i64::MIN);
        assert_eq!(scan(db, &first), expect_times[..1], "{when}: the earliest instant alone");
        let last = req.clone().with_time_range(i64::MAX, i64::MAX);
        assert_eq!(scan(db, &last), expect_times[times.len() - 1..], "{when}: the latest instant alone");
        let negative = req.clone().with_time_range(i64::MIN, -1);
        assert_eq!(scan(db, &negative), expect_times[..4], "{when}: negative times");
        let around_zero = req.with_time_range(-1, 1);
        assert_eq!(scan(db, &around_zero), expect_times[3..6], "{when}: -1, 0, 1");
    });
}

#[test]
fn out_of_order_points_come_back_sorted() {
    let dir = TempDir::new("out_of_order");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    let order = [50, 10, 40, 20, 30];
    db.write(&order.map(|t| Point::new("m", t as f64, t * S))).unwrap();
    db.write(&[Point::new("m", 45.0, 45 * S), Point::new("m", 5.0, 5 * S)]).unwrap();
    let expect: Vec<Line> = [5, 10, 20, 30, 40, 45, 50].iter().map(|&t| line(t * S, &[], &[v(t as f64)])).collect();
    in_head_file_and_reopened(&path, db, |db, when| {
        let got = batches(db, &ScanRequest::new("m"));
        assert_eq!(got.len(), 1, "{when}: one series in one partition is one batch");
        assert_eq!(lines(&got), expect, "{when}");
    });
}

#[test]
fn the_last_write_wins_in_the_head_across_flushes_and_after_compaction() {
    let dir = TempDir::new("last_write_wins");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    let at = |t: i64, x: f64| Point::new("m", x, t * S).with_tag("s", "a");
    let scan_a = |db: &Db| scan(db, &ScanRequest::new("m"));
    let expect = |x: f64| vec![line(S, &[Some("a")], &[v(1.0)]), line(2 * S, &[Some("a")], &[v(x)])];

    // Within one batch and across batches, in the head.
    db.write(&[at(1, 1.0), at(2, 10.0), at(2, 11.0)]).unwrap();
    assert_eq!(scan_a(&db), expect(11.0), "within one batch");
    db.write(&[at(2, 12.0)]).unwrap();
    assert_eq!(scan_a(&db), expect(12.0), "a later batch");
    db.flush().unwrap();
    assert_eq!(scan_a(&db), expect(12.0), "flushed");
    // The head overrides the file, and a later block an earlier one.
    db.write(&[at(2, 13.0)]).unwrap();
    assert_eq!(scan_a(&db), expect(13.0), "head over file");
    db.flush().unwrap();
    assert_eq!(scan_a(&db), expect(13.0), "newer block over older block");
    db.write(&[at(2, 14.0), at(2, 15.0)]).unwrap();
    db.flush().unwrap();
    assert_eq!(scan_a(&db), expect(15.0), "three blocks");

    // Per field: a row overwriting one field keeps the other.
    db.write_rows(&[Row::new("r", 0).with_field("a", 1.0).with_field("b", 2.0)]).unwrap();
    db.flush().unwrap();
    db.write_rows(&[Row::new("r", 0).with_field("b", 3.0)]).unwrap();
    let expect_r = vec![line(0, &[], &[v(1.0), v(3.0)])];
    assert_eq!(scan(&db, &ScanRequest::new("r")), expect_r);
    db.close().unwrap();
    drop(db);

    let db = open(&path);
    assert_eq!(scan_a(&db), expect(15.0), "reopened");
    assert_eq!(scan(&db, &ScanRequest::new("r")), expect_r, "reopened");
    let before = file_len(&path);
    db.compact().unwrap();
    assert!(file_len(&path) < before, "compaction drops overwritten points and old indexes");
    assert_eq!(scan_a(&db), expect(15.0), "compacted");
    assert_eq!(scan(&db, &ScanRequest::new("r")), expect_r, "compacted");
    db.write(&[at(2, 16.0)]).unwrap();
    assert_eq!(scan_a(&db), expect(16.0), "head over a compacted file");
    db.close().unwrap();
    drop(db);

    let db = open(&path);
    assert_eq!(scan_a(&db), expect(16.0), "reopened after compaction");
    assert_eq!(scan(&db, &ScanRequest::new("r")), expect_r, "reopened after compaction");
    db.close().unwrap();
}

#[test]
fn a_late_point_for_a_flushed_partition_is_kept() {
    let dir = TempDir::new("late_point");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    let p = |host: &str, t: i64| Point::new("cpu", t as f64, t).with_tag("host", host);
    db.write(&[p("a", H + 100 * S), p("b", H + 100 * S), p("a", 3 * H)]).unwrap();
    db.flush().unwrap();
    db.write(&[p("a", H + 50 * S)]).unwrap();
    db.flush().unwrap();
    // An even later point, still in the head at the scan.
    db.write(&[p("a", H + 10 * S)]).unwrap();
    db.close().unwrap();
    drop(db);

    let db = open(&path);
    let got = batches(&db, &ScanRequest::new("cpu"));
    let rows: Vec<usize> = got.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(rows, [3, 1, 1], "one batch per (series, partition): (a, 1), (a, 3), (b, 1)");
    let a = |t: i64| line(t, &[Some("a")], &[v(t as f64)]);
    let b = |t: i64| line(t, &[Some("b")], &[v(t as f64)]);
    assert_eq!(lines(&got), [a(H + 10 * S), a(H + 50 * S), a(H + 100 * S), a(3 * H), b(H + 100 * S)]);
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

#[test]
fn multi_field_rows_with_fields_at_different_times() {
    let dir = TempDir::new("multi_field");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    let row = |t: i64| Row::new("m", t * S).with_tag("host", "h");
    db.write_rows(&[
        row(1).with_field("a", 1.0).with_field("b", 10.0),
        row(2).with_field("a", 2.0),
        row(3).with_field("b", 30.0),
        row(4).with_field("b", 40.0).with_field("a", 4.0),
    ])
    .unwrap();
    db.write(&[Point::new("other", 1.0, 0)]).unwrap();
    let h = Some("h");
    in_head_file_and_reopened(&path, db, |db, when| {
        assert_eq!(db.fields("m").unwrap(), ["a", "b"], "{when}");
        let all = ScanRequest::new("m");
        assert_eq!(columns(db, &all), ["time", "host", "a", "b"], "{when}");
        let expect = [
            line(S, &[h], &[v(1.0), v(10.0)]),
            line(2 * S, &[h], &[v(2.0), None]),
            line(3 * S, &[h], &[None, v(30.0)]),
            line(4 * S, &[h], &[v(4.0), v(40.0)]),
        ];
        assert_eq!(scan(db, &all), expect, "{when}: a row wherever any field has a value");

        // Asking for fewer fields never changes which rows exist.
        let only_a = all.clone().with_fields(["a"]);
        assert_eq!(columns(db, &only_a), ["time", "host", "a"], "{when}");
        let expect_a: Vec<Line> = expect.iter().map(|l| Line { values: vec![l.values[0]], ..l.clone() }).collect();
        assert_eq!(scan(db, &only_a), expect_a, "{when}: every row, a null where a has no value");
        let present_a = only_a.clone().with_present(["a"]);
        let with_a: Vec<Line> = expect_a.iter().filter(|l| l.values[0].is_some()).cloned().collect();
        assert_eq!(with_a.len(), 3);
        assert_eq!(scan(db, &present_a), with_a, "{when}: only rows where a has a value");
        let present_both = all.clone().with_present(["a"]).with_present(["b"]);
        assert_eq!(scan(db, &present_both), [expect[0].clone(), expect[3].clone()], "{when}: both conditions");
        let present_either = all.clone().with_fields(["a"]).with_present(["a", "b"]);
        assert_eq!(scan(db, &present_either), expect_a, "{when}: either field");

        let b_then_a = all.clone().with_fields(["b", "a"]);
        assert_eq!(columns(db, &b_then_a), ["time", "host", "b", "a"], "{when}");
        assert_eq!(scan(db, &b_then_a)[1], line(2 * S, &[h], &[None, v(2.0)]), "{when}: the asked order");

        // An unknown field is a null column; it changes no row.
        let with_unknown = all.clone().with_fields(["a", "nope"]);
        assert_eq!(columns(db, &with_unknown), ["time", "host", "a", "nope"], "{when}");
        let expect_unknown: Vec<Line> =
            expect_a.iter().map(|l| Line { values: vec![l.values[0], None], ..l.clone() }).collect();
        assert_eq!(scan(db, &with_unknown), expect_unknown, "{when}");
        let unknown_only = all.clone().with_fields(["nope"]);
        assert_eq!(columns(db, &unknown_only), ["time", "host", "nope"], "{when}");
        assert_eq!(scan(db, &unknown_only).len(), 4, "{when}: the rows exist, the column is null");
        assert_eq!(scan(db, &all.clone().with_present(["nope"])), [], "{when}: no row has a value of nope");
        // `value` is a field of another measurement, not of this one.
        assert!(scan(db, &all.with_fields(["value"])).iter().all(|l| l.values == [None]), "{when}");
        assert_eq!(scan(db, &ScanRequest::new("absent")), [], "{when}: unknown measurement");
    });
}

// ---------------------------------------------------------------------------
// Series selection and time ranges
// ---------------------------------------------------------------------------

#[test]
fn tag_matchers_and_inclusive_time_ranges_select_the_right_rows() {
    let dir = TempDir::new("matchers");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    let series: [(&str, Option<&str>); 4] = [("a", Some("x")), ("b", None), ("c", Some("y")), ("ab", Some("x"))];
    let mut points = Vec::new();
    for (host, dc) in series {
        for t in [10, 20, 30, 40] {
            let mut p = Point::new("cpu", t as f64, t * S).with_tag("host", host);
            if let Some(dc) = dc {
                p = p.with_tag("dc", dc);
            }
            points.push(p);
        }
    }
    points.push(Point::new("mem", 1.0, 10 * S).with_tag("host", "a"));
    db.write(&points).unwrap();

    // (dc, host) of the series a scan returns, in output order, once each.
    let hosts = |db: &Db, req: &ScanRequest| {
        let mut seen: Vec<(Option<String>, Option<String>)> = Vec::new();
        for l in scan(db, req) {
            let key = (l.tags[0].clone(), l.tags[1].clone());
            if seen.last() != Some(&key) {
                seen.push(key);
            }
        }
        seen.into_iter().map(|(dc, host)| format!("{}/{}", host.unwrap(), dc.unwrap_or_default())).collect::<Vec<_>>()
    };
    let m = |matchers: Vec<TagMatcher>| matchers.into_iter().fold(ScanRequest::new("cpu"), ScanRequest::with_matcher);
    in_head_file_and_reopened(&path, db, |db, when| {
        assert_eq!(columns(db, &ScanRequest::new("cpu")), ["time", "dc", "host", "value"], "{when}: tags sorted");
        // Output order: by tag values (dc, then host), a missing tag last.
        assert_eq!(hosts(db, &m(vec![])), ["a/x", "ab/x", "c/y", "b/"], "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::eq("host", "a")])), ["a/x"], "{when}");
        assert_eq!(
            hosts(db, &m(vec![TagMatcher::not_eq("dc", "x")])),
            ["c/y", "b/"],
            "{when}: keeps series lacking dc"
        );
        assert_eq!(hosts(db, &m(vec![TagMatcher::regex("host", "a.*").unwrap()])), ["a/x", "ab/x"], "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::regex("host", "a").unwrap()])), ["a/x"], "{when}: anchored");
        assert_eq!(hosts(db, &m(vec![TagMatcher::regex("host", "b").unwrap()])), ["b/"], "{when}: anchored");
        assert_eq!(hosts(db, &m(vec![TagMatcher::not_regex("host", "a.*").unwrap()])), ["c/y", "b/"], "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::not_regex("dc", "x|y").unwrap()])), ["b/"], "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::eq("dc", "")])), ["b/"], "{when}: empty = lacks the tag");
        assert_eq!(hosts(db, &m(vec![TagMatcher::not_eq("dc", "")])), ["a/x", "ab/x", "c/y"], "{when}");
        let both = vec![TagMatcher::regex("host", "a|b|c").unwrap(), TagMatcher::not_eq("dc", "y")];
        assert_eq!(hosts(db, &m(both)), ["a/x", "b/"], "{when}: matchers combine with and");
        assert_eq!(hosts(db, &m(vec![TagMatcher::eq("host", "zzz")])), Vec::<String>::new(), "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::eq("nokey", "v")])), Vec::<String>::new(), "{when}");
        assert_eq!(hosts(db, &m(vec![TagMatcher::not_eq("nokey", "v")])).len(), 4, "{when}");
        assert_eq!(scan(db, &ScanRequest::new("mem")).len(), 1, "{when}: other measurements stay apart");

        let times = |req: ScanRequest| scan(db, &req).iter().map(|l| l.time / S).collect::<Vec<_>>();
        let a = m(vec![TagMatcher::eq("host", "a")]);
        assert_eq!(times(a.clone().with_time_range(20 * S, 30 * S)), [20, 30], "{when}: inclusive both ends");
        assert_eq!(times(a.clone().with_time_range(20 * S, 20 * S)), [20], "{when}: one instant");
        assert_eq!(times(a.clone().with_time_range(20 * S + 1, 30 * S - 1)), [] as [i64; 0], "{when}");
        assert_eq!(times(a.clone().with_time_range(41 * S, i64::MAX)), [] as [i64; 0], "{when}");
        assert_eq!(times(a.clone().with_time_range(40 * S, 10 * S)), [] as [i64; 0], "{when}: inverted range");
        assert_eq!(times(a.clone().with_time_range(i64::MIN, 10 * S)), [10], "{when}");
        assert_eq!(times(a.with_time_range(2 * H, 0)), [] as [i64; 0], "{when}: inverted across partitions");
    });
}

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

#[test]
fn listings_name_measurements_fields_tags_and_series() {
    let dir = TempDir::new("listings");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    assert_eq!(db.measurements().unwrap(), Vec::<String>::new());
    assert_eq!(db.series_count().unwrap(), 0);
    db.write_rows(&[
        Row::new("cpu", 10 * S).with_tag("host", "a").with_tag("region", "eu").with_field("user", 1.0),
        Row::new("cpu", 20 * S).with_tag("host", "a").with_tag("region", "eu").with_field("system", 2.0),
        Row::new("cpu", 5 * H).with_tag("host", "b").with_field("user", 3.0),
        Row::new("mem", 5 * H + S).with_tag("host", "c").with_tag("kind", "rss").with_field("used", 4.0),
    ])
    .unwrap();
    // Points at the two ends of a partition, none in between.
    db.write(&[
        Point::new("disk", 1.0, 2 * H).with_tag("dev", "sda"),
        Point::new("disk", 2.0, 3 * H - 1).with_tag("dev", "sda"),
    ])
    .unwrap();
    db.write(&[Point::new("disk", 3.0, 2 * H + H / 2).with_tag("dev", "sdb")]).unwrap();
    in_head_file_and_reopened(&path, db, |db, when| {
        assert_eq!(db.measurements().unwrap(), ["cpu", "disk", "mem"], "{when}");
        assert_eq!(db.fields("cpu").unwrap(), ["system", "user"], "{when}");
        assert_eq!(db.fields("disk").unwrap(), ["value"], "{when}");
        assert_eq!(db.fields("absent").unwrap(), Vec::<String>::new(), "{when}");
        assert_eq!(db.tag_keys(Some("cpu")).unwrap(), ["host", "region"], "{when}");
        assert_eq!(db.tag_keys(Some("mem")).unwrap(), ["host", "kind"], "{when}");
        assert_eq!(db.tag_keys(Some("absent")).unwrap(), Vec::<String>::new(), "{when}");
        assert_eq!(db.tag_keys(None).unwrap(), ["dev", "host", "kind", "region"], "{when}");
        assert_eq!(db.tag_values("host", None, None).unwrap(), ["a", "b", "c"], "{when}");
        assert_eq!(db.tag_values("host", Some("cpu"), None).unwrap(), ["a", "b"], "{when}");
        assert_eq!(db.tag_values("host", Some("disk"), None).unwrap(), Vec::<String>::new(), "{when}");
        assert_eq!(db.tag_values("region", None, None).unwrap(), ["eu"], "{when}");
        assert_eq!(db.tag_values("nokey", None, None).unwrap(), Vec::<String>::new(), "{when}");
        // Time ranges: a series with data only outside the range is left out.
        assert_eq!(db.tag_values("host", None, Some((0, H))).unwrap(), ["a"], "{when}");
        assert_eq!(db.tag_values("host", None, Some((5 * H, 6 * H))).unwrap(), ["b", "c"], "{when}");
        assert_eq!(db.tag_values("host", Some("cpu"), Some((5 * H, 5 * H))).unwrap(), ["b"], "{when}: inclusive");
        assert_eq!(db.tag_values("host", None, Some((20 * S, 20 * S))).unwrap(), ["a"], "{when}: inclusive");
        assert_eq!(db.tag_values("host", None, Some((20 * S + 1, 5 * H - 1))).unwrap(), Vec::<String>::new(), "{when}");
        assert_eq!(db.tag_values("region", None, Some((H, 10 * H))).unwrap(), Vec::<String>::new(), "{when}");
        assert_eq!(db.tag_values("dev", None, Some((2 * H, 3 * H))).unwrap(), ["sda", "sdb"], "{when}");
        assert_eq!(db.tag_values("dev", None, Some((2 * H + 1, 3 * H - 2))).unwrap(), ["sdb"], "{when}: a gap");
        assert_eq!(db.tag_values("host", None, Some((6 * H, 0))).unwrap(), Vec::<String>::new(), "{when}: inverted");
        assert_eq!(db.series_count().unwrap(), 5, "{when}");
    });
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[test]
fn an_invalid_row_refuses_its_whole_batch_and_names_the_row() {
    let dir = TempDir::new("invalid_rows");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    db.write(&[Point::new("base", 1.0, 0)]).unwrap();
    let good = |i: i64| Row::new("fresh", i).with_tag("host", format!("h{i}")).with_field("f", 1.0);
    let ok = || Row::new("bad", 0).with_field("f", 1.0);
    type Check = fn(&InvalidInput) -> bool;
    let cases: Vec<(&str, Row, Check)> = vec![
        (
            "measurement starts with a digit",
            Row::new("9cpu", 0).with_field("f", 1.0),
            |e| matches!(e, InvalidInput::Measurement(m, _) if m == "9cpu"),
        ),
        ("measurement with a dash", Row::new("cpu-load", 0).with_field("f", 1.0), |e| {
            matches!(e, InvalidInput::Measurement(..))
        }),
        ("empty measurement", Row::new("", 0).with_field("f", 1.0), |e| matches!(e, InvalidInput::Measurement(..))),
        (
            "field starts with a digit",
            ok().with_field("1f", 2.0),
            |e| matches!(e, InvalidInput::Field(f, _) if f == "1f"),
        ),
        ("field with a space", Row::new("bad", 0).with_field("a b", 1.0), |e| matches!(e, InvalidInput::Field(..))),
        (
            "tag key with a dash",
            ok().with_tag("bad-key", "v"),
            |e| matches!(e, InvalidInput::TagKey(k, _) if k == "bad-key"),
        ),
        ("tag key with a colon", ok().with_tag("a:b", "v"), |e| matches!(e, InvalidInput::TagKey(..))),
        (
            "reserved tag key",
            ok().with_tag("__name", "v"),
            |e| matches!(e, InvalidInput::TagKey(k, _) if k == "__name"),
        ),
        ("empty tag value", ok().with_tag("host", ""), |e| matches!(e, InvalidInput::TagValue(k, _) if k == "host")),
        ("tag value over 4096 bytes", ok().with_tag("host", "v".repeat(4097)), |e| {
            matches!(e, InvalidInput::TagValue(..))
        }),
        (
            "duplicate tag key",
            ok().with_tag("host", "a").with_tag("host", "b"),
            |e| matches!(e, InvalidInput::DuplicateTag(k) if k == "host"),
        ),
        ("duplicate field", ok().with_field("f", 2.0), |e| matches!(e, InvalidInput::DuplicateField(f) if f == "f")),
        ("row without fields", Row::new("bad", 0).with_tag("host", "a"), |e| matches!(e, InvalidInput::NoFields)),
    ];
    let unchanged = |db: &Db, what: &str| {
        assert_eq!(db.series_count().unwrap(), 1, "{what}");
        assert_eq!(db.measurements().unwrap(), ["base"], "{what}");
        assert_eq!(scan(db, &ScanRequest::new("fresh")), [], "{what}");
        assert_eq!(scan(db, &ScanRequest::new("bad")), [], "{what}");
    };
    for (what, bad, check) in &cases {
        for at in [0, 2] {
            let mut batch: Vec<Row> = (0..at as i64).map(good).collect();
            batch.push(bad.clone());
            batch.push(good(10));
            match db.write_rows(&batch) {
                Err(Error::InvalidRow { row, source }) => {
                    assert_eq!(row, at, "{what}: {source}");
                    assert!(check(&source), "{what}: unexpected reason {source:?}");
                }
                other => panic!("{what}: expected InvalidRow, got {other:?}"),
            }
            unchanged(&db, what);
        }
    }
    // The same through `write`, with the bad point last.
    let points = [Point::new("fresh", 1.0, 0), Point::new("fresh", 1.0, 1).with_tag("__x", "v")];
    assert!(matches!(db.write(&points), Err(Error::InvalidRow { row: 1, source: InvalidInput::TagKey(..) })));
    unchanged(&db, "points");
    // Limits are inclusive: a 4096-byte value and a 256-byte name pass.
    let at_limit = ok().with_tag("host", "é".repeat(2048)).with_tag(format!("k{}", "x".repeat(255)), "v");
    db.write_rows(&[at_limit]).unwrap();
    assert_eq!(db.series_count().unwrap(), 2);
    db.close().unwrap();
    drop(db);

    let db = open(&path);
    assert!(db.recovery_report().is_clean());
    assert_eq!(db.measurements().unwrap(), ["bad", "base"], "nothing refused reached the log");
    assert_eq!(scan(&db, &ScanRequest::new("fresh")), []);
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Concurrency, locking, closing
// ---------------------------------------------------------------------------

#[test]
fn concurrent_writers_with_sync_always_lose_nothing() {
    const THREADS: i64 = 4;
    const BATCHES: i64 = 50;
    const POINTS: i64 = 5;
    let dir = TempDir::new("concurrent_writers");
    let path = dir.path("db.chronicle");
    let db = Db::open(&path, Config::default().with_sync(SyncPolicy::Always)).unwrap();
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for b in 0..BATCHES {
                    let batch: Vec<Point> = (0..POINTS)
                        .map(|i| {
                            let n = b * POINTS + i;
                            Point::new("load", (t * 10_000 + n) as f64, n * S).with_tag("thread", t.to_string())
                        })
                        .collect();
                    db.write(&batch).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let check = |db: &Db, when: &str| {
        assert_eq!(db.series_count().unwrap(), THREADS as usize, "{when}");
        for t in 0..THREADS {
            let got = scan(db, &ScanRequest::new("load").with_matcher(TagMatcher::eq("thread", t.to_string())));
            let expect: Vec<Line> = (0..BATCHES * POINTS)
                .map(|n| line(n * S, &[Some(&t.to_string())], &[v((t * 10_000 + n) as f64)]))
                .collect();
            assert_eq!(got, expect, "{when}: thread {t}");
        }
    };
    check(&db, "head");
    db.close().unwrap();
    drop(db);
    let db = open(&path);
    check(&db, "reopened");
    db.close().unwrap();
}

#[test]
fn a_second_open_is_locked_and_a_closed_database_refuses_calls() {
    let dir = TempDir::new("lock_and_close");
    let path = dir.path("db.chronicle");
    let db = open(&path);
    match Db::open(&path, config()) {
        Err(Error::Locked(p)) => assert_eq!(p, path),
        other => panic!("expected Locked, got {other:?}"),
    }
    db.write(&[Point::new("m", 1.0, 0)]).unwrap();
    let clone = db.clone();
    db.close().unwrap();
    assert!(matches!(db.write(&[Point::new("m", 2.0, 1)]), Err(Error::Closed)));
    assert!(matches!(clone.write_rows(&[Row::new("m", 1).with_field("f", 1.0)]), Err(Error::Closed)));
    assert!(matches!(clone.flush(), Err(Error::Closed)));
    assert!(matches!(clone.compact(), Err(Error::Closed)));
    assert!(matches!(db.scan(&ScanRequest::new("m")), Err(Error::Closed)));
    assert!(matches!(db.measurements(), Err(Error::Closed)));
    assert!(matches!(db.series_count(), Err(Error::Closed)));
    // Closing releases the lock even while handles are still around.
    let again = open(&path);
    assert_eq!(scan(&again, &ScanRequest::new("m")), [line(0, &[], &[v(1.0)])], "the refused write left no trace");
    assert!(matches!(db.write(&[Point::new("m", 3.0, 2)]), Err(Error::Closed)), "the old handle stays closed");
    again.close().unwrap();
    drop((db, clone, again));

    let db = open(&path);
    assert_eq!(scan(&db, &ScanRequest::new("m")), [line(0, &[], &[v(1.0)])]);
    db.close().unwrap();
}

#[test]
fn dropping_without_close_persists_the_data() {
    let dir = TempDir::new("drop_persists");
    let path = dir.path("db.chronicle");
    let db = Db::open(&path, Config::default()).unwrap();
    let clone = db.clone();
    db.write(&[Point::new("m", 1.5, 7).with_tag("k", "v")]).unwrap();
    drop(db);
    clone.write(&[Point::new("m", 2.5, 8).with_tag("k", "v")]).unwrap();
    assert_eq!(file_len(&path), FILE_HEADER_LEN, "dropping one clone of several does not close");
    drop(clone);
    assert!(file_len(&path) > FILE_HEADER_LEN, "dropping the last clone flushes");

    let db = open(&path);
    assert_eq!(db.recovery_report().replayed, 0, "the data came from the file, not the log");
    assert!(db.recovery_report().is_clean());
    assert_eq!(scan(&db, &ScanRequest::new("m")), [line(7, &[Some("v")], &[v(1.5)]), line(8, &[Some("v")], &[v(2.5)])]);
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

#[test]
fn an_existing_file_keeps_its_partition_duration() {
    let dir = TempDir::new("partition_duration");
    let minute = Duration::from_secs(60);
    let m = 60 * S;
    let rows_per_batch =
        |db: &Db| batches(db, &ScanRequest::new("m")).iter().map(RecordBatch::num_rows).collect::<Vec<_>>();

    // A new file takes the configured duration: points minutes apart are separate partitions.
    let fresh = dir.path("fresh.chronicle");
    let db = Db::open(&fresh, config().with_partition_duration(minute)).unwrap();
    db.write(&[Point::new("m", 1.0, 0), Point::new("m", 2.0, 20 * m)]).unwrap();
    assert_eq!(rows_per_batch(&db), [1, 1], "one-minute partitions");
    db.close().unwrap();
    drop(db);

    let path = dir.path("db.chronicle");
    let db = open(&path);
    db.write(&[Point::new("m", 1.0, 0), Point::new("m", 2.0, 20 * m)]).unwrap();
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config().with_partition_duration(minute)).unwrap();
    db.write(&[Point::new("m", 3.0, 40 * m)]).unwrap();
    assert_eq!(rows_per_batch(&db), [3], "the file's one-hour partitions (file and head together)");
    db.close().unwrap();
    drop(db);
    let db = Db::open(&path, config().with_partition_duration(minute)).unwrap();
    assert_eq!(rows_per_batch(&db), [3], "still one hour after flushing under a one-minute config");
    db.close().unwrap();
}

/// Waits until at most `points` points are in memory (head and frozen):
/// the flush a write asked for has run. The deadline only guards against a hang.
fn wait_for_memory_at_most(db: &Db, points: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let memory: u64 = db.partitions().unwrap().iter().map(|p| p.memory_points).sum();
        if memory <= points {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{memory} points still in memory");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_memory_budget_triggers_flushes() {
    let dir = TempDir::new("memory_budget");
    let path = dir.path("db.chronicle");
    let db = Db::open(&path, config().with_memory_budget(4 << 10)).unwrap();
    let mut sizes = Vec::new();
    for b in 0..40i64 {
        let batch: Vec<Point> =
            (0..50).map(|i| Point::new("m", (b * 50 + i) as f64, (b * 50 + i) * S).with_tag("host", "a")).collect();
        db.write(&batch).unwrap();
        // 4 KiB hold 250 points of one column (16 bytes each, 96 for the
        // column): a write that goes past them asks the flush thread to
        // flush everything. Wait until it has.
        wait_for_memory_at_most(&db, 250);
        sizes.push(file_len(&path));
    }
    // Every sixth batch (300 points) went past the budget.
    assert_eq!(db.flush_count().unwrap(), 6, "the budget flushed again and again");
    let grew = sizes.windows(2).filter(|w| w[1] > w[0]).count();
    assert_eq!(grew, 6, "the file grew at each flush and only then: {sizes:?}");
    assert!(sizes[5] > FILE_HEADER_LEN, "the first flush, without an explicit one");
    let expect: Vec<Line> = (0..2000).map(|n| line(n * S, &[Some("a")], &[v(n as f64)])).collect();
    assert_eq!(scan(&db, &ScanRequest::new("m")), expect);
    db.close().unwrap();
    drop(db);
    let db = open(&path);
    assert_eq!(scan(&db, &ScanRequest::new("m")), expect, "reopened");
    db.close().unwrap();
}

// ---------------------------------------------------------------------------
// Not a database
// ---------------------------------------------------------------------------

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = TempDir::new("not_a_database");
    // A deterministic pseudo-random byte stream (xorshift).
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut wrong_version = b"CHRONDB\0".to_vec();
    wrong_version.extend_from_slice(&2u16.to_le_bytes());
    wrong_version.extend_from_slice(&random[..100]);
    let cases: [(&str, Vec<u8>); 4] = [
        ("random", random.clone()),
        ("short", random[..5].to_vec()),
        ("text", b"hello, world: not a database at all\n".to_vec()),
        ("version", wrong_version),
    ];
    for (name, bytes) in cases {
        let path = dir.path(name);
        std::fs::write(&path, &bytes).unwrap();
        match Db::open(&path, config()) {
            Err(Error::NotADatabase { path: p, .. }) => assert_eq!(p, path, "{name}"),
            other => panic!("{name}: expected NotADatabase, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}: the file is not touched");
    }
}
