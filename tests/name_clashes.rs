//! Names that would make duplicate SQL columns are refused at write time:
//! a tag key or field named `time`, and a tag key equal to a field name of
//! the same measurement, whether the other name is already stored, in the
//! same batch, in a batch written concurrently, or in the file and WAL of a
//! reopened database. The whole batch is refused and nothing of it stored.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use chronicle::InvalidInput;
use chronicle::{Config, Db, Error, Point, Row, ScanRequest, SyncPolicy};
use common::TempDir;

fn config() -> Config {
    Config::default().with_sync(SyncPolicy::None)
}

/// Asserts `result` refuses row `row` because `name` clashes in `measurement`,
/// with a message that names both and says why.
#[track_caller]
fn assert_clash(result: Result<(), Error>, row: usize, measurement: &str, name: &str) {
    let e = result.expect_err("the batch is refused");
    let message = e.to_string();
    match &e {
        Error::InvalidRow { row: r, source: InvalidInput::ColumnClash { measurement: m, name: n, .. } } => {
            assert_eq!((*r, m.as_str(), n.as_str()), (row, measurement, name), "{message}");
        }
        other => panic!("not a column clash: {other}"),
    }
    assert!(message.contains(&format!("{measurement:?}")) && message.contains(&format!("{name:?}")), "{message}");
    assert!(message.contains("time column") || message.contains("both a tag key and a field"), "{message}");
}

fn cpu(time: i64) -> Row {
    Row::new("cpu", time).with_tag("host", "a")
}

#[test]
fn a_tag_key_or_field_named_time_is_refused() {
    let dir = TempDir::new("clash-time");
    let db = Db::open(dir.path("db"), config()).unwrap();
    assert_clash(db.write_rows(&[cpu(1).with_tag("time", "x").with_field("f", 1.0)]), 0, "cpu", "time");
    assert_clash(db.write_rows(&[cpu(1).with_field("f", 1.0), cpu(2).with_field("time", 1.0)]), 1, "cpu", "time");
    assert_clash(db.write(&[Point::new("mem", 1.0, 1).with_tag("time", "now")]), 0, "mem", "time");
    assert!(db.measurements().unwrap().is_empty(), "nothing of the refused batches is stored");
    // Other spellings are other columns.
    db.write_rows(&[cpu(1).with_tag("Time", "x").with_field("times", 1.0)]).unwrap();
}

#[test]
fn a_name_stored_as_a_field_cannot_become_a_tag_key_and_back() {
    let dir = TempDir::new("clash-stored");
    let db = Db::open(dir.path("db"), config()).unwrap();
    db.write_rows(&[cpu(1).with_field("usage", 1.0)]).unwrap();
    let batch = [cpu(2).with_field("usage", 2.0), cpu(3).with_tag("usage", "high").with_field("idle", 1.0)];
    assert_clash(db.write_rows(&batch), 1, "cpu", "usage");
    assert_clash(db.write_rows(&[cpu(4).with_field("host", 1.0)]), 0, "cpu", "host");
    // A point writes the field `value`.
    db.write(&[Point::new("temp", 20.0, 1).with_tag("room", "a")]).unwrap();
    assert_clash(db.write(&[Point::new("temp", 21.0, 2).with_tag("value", "x")]), 0, "temp", "value");
    // Nothing of a refused batch is stored, not even its good rows.
    assert_eq!(db.fields("cpu").unwrap(), ["usage"]);
    assert_eq!(db.tag_keys(Some("cpu")).unwrap(), ["host"]);
    assert_eq!(rows(&db, "cpu"), 1);
    db.flush().unwrap();
    assert_clash(db.write_rows(&[cpu(5).with_tag("usage", "x").with_field("f", 1.0)]), 0, "cpu", "usage");
}

#[test]
fn a_clash_within_one_batch_refuses_it_whole() {
    let dir = TempDir::new("clash-batch");
    let db = Db::open(dir.path("db"), config()).unwrap();
    let batch = [
        cpu(1).with_field("load", 1.0),
        Row::new("mem", 1).with_tag("load", "x").with_field("free", 1.0),
        cpu(2).with_tag("load", "x").with_field("idle", 1.0),
    ];
    assert_clash(db.write_rows(&batch), 2, "cpu", "load");
    let batch = [cpu(1).with_tag("dc", "x").with_field("idle", 1.0), cpu(2).with_field("dc", 1.0)];
    assert_clash(db.write_rows(&batch), 1, "cpu", "dc");
    assert!(db.measurements().unwrap().is_empty());
}

#[test]
fn other_measurements_may_use_the_name_either_way() {
    let dir = TempDir::new("clash-other");
    let db = Db::open(dir.path("db"), config()).unwrap();
    db.write_rows(&[cpu(1).with_field("load", 1.0), Row::new("mem", 1).with_tag("load", "x").with_field("f", 1.0)])
        .unwrap();
    db.write_rows(&[Row::new("disk", 1).with_tag("load", "x").with_field("f", 1.0)]).unwrap();
    assert_eq!(db.tag_keys(Some("mem")).unwrap(), ["load"]);
    assert_eq!(db.fields("cpu").unwrap(), ["load"]);
}

/// Copies the database file and its WAL directory while the database is open
/// (closing would flush the WAL into the file).
fn copy_open_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    let wal = |p: &Path| PathBuf::from(format!("{}.wal", p.display()));
    std::fs::create_dir_all(wal(to)).unwrap();
    for entry in std::fs::read_dir(wal(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), wal(to).join(entry.file_name())).unwrap();
    }
}

#[test]
fn names_are_known_after_a_reopen_from_the_file_and_from_the_wal() {
    let dir = TempDir::new("clash-reopen");
    let (flushed, logged) = (dir.path("flushed"), dir.path("logged"));
    let db = Db::open(&flushed, config()).unwrap();
    db.write_rows(&[cpu(1).with_field("usage", 1.0)]).unwrap();
    db.flush().unwrap();
    db.write_rows(&[Row::new("mem", 1).with_tag("kind", "x").with_field("free", 1.0)]).unwrap();
    copy_open_db(&flushed, &logged);
    db.close().unwrap();
    for path in [&flushed, &logged] {
        let db = Db::open(path, config()).unwrap();
        assert_clash(db.write_rows(&[cpu(2).with_tag("usage", "x").with_field("f", 1.0)]), 0, "cpu", "usage");
        assert_clash(db.write_rows(&[Row::new("mem", 2).with_field("kind", 1.0)]), 0, "mem", "kind");
        db.close().unwrap();
    }
}

#[test]
fn concurrent_batches_cannot_make_one_name_both_a_tag_key_and_a_field() {
    const THREADS: usize = 6;
    const ROUNDS: usize = 30;
    let dir = TempDir::new("clash-concurrent");
    let path = dir.path("db");
    // Under `Always` each batch waits for its fsync after it is written, so
    // batches are often written but not yet applied when the next one comes.
    let db = Db::open(&path, Config::default().with_sync(SyncPolicy::Always)).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, barrier) = (db.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let row = Row::new(format!("m{round}"), t as i64).with_tag("host", format!("h{t}"));
                    let row =
                        if t % 2 == 0 { row.with_field("x", 1.0) } else { row.with_tag("x", "v").with_field("f", 1.0) };
                    barrier.wait();
                    match db.write_rows(&[row]) {
                        Ok(()) => {}
                        Err(Error::InvalidRow { source: InvalidInput::ColumnClash { .. }, .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let check = |db: &Db| {
        for round in 0..ROUNDS {
            let m = format!("m{round}");
            let as_tag = db.tag_keys(Some(&m)).unwrap().contains(&"x".to_string());
            let as_field = db.fields(&m).unwrap().contains(&"x".to_string());
            assert!(as_tag != as_field, "{m}: x is a tag key: {as_tag}, a field: {as_field}");
        }
    };
    check(&db);
    db.close().unwrap();
    check(&Db::open(&path, config()).unwrap());
}

/// Rows a scan of `measurement` returns.
fn rows(db: &Db, measurement: &str) -> usize {
    let batches = db.scan(&ScanRequest::new(measurement)).unwrap().collect_batches().unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}
