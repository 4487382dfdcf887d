//! Talking to a test server as its real clients do: `curl` (the program)
//! for requests, and what a test reads back from the database directly.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use chronicle::{Db, ScanRequest};

/// An answer: status code and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Runs `curl` with `args` (URL and options), sending `body` (if any) as
/// the request body read from stdin. Fails with the install hint when
/// curl is missing.
pub fn curl(args: &[&str], body: Option<&[u8]>) -> Answer {
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error", "--output", "-", "--write-out", "\n%{http_code}"]);
    if body.is_some() {
        command.args(["--data-binary", "@-"]);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("`curl` does not run ({e}): run scripts/install-test-deps.sh"));
    let mut stdin = child.stdin.take().unwrap();
    if let Some(body) = body {
        stdin.write_all(body).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    Answer { status: code.parse().unwrap(), body: body.to_owned() }
}

/// Every value of `field` in `measurement`, keyed by the series' tags (as
/// `k=v,k=v`, sorted by key) and time in nanoseconds, read with `Db::scan`.
pub fn stored(db: &Db, measurement: &str, field: &str) -> BTreeMap<(String, i64), f64> {
    let mut out = BTreeMap::new();
    let scan = db.scan(&ScanRequest::new(measurement).with_fields([field])).unwrap();
    for batch in scan {
        add(&batch.unwrap(), &mut out);
    }
    out
}

fn add(batch: &RecordBatch, out: &mut BTreeMap<(String, i64), f64>) {
    let schema = batch.schema();
    let n = batch.num_columns();
    let times = batch.column(0).as_primitive::<TimestampNanosecondType>();
    let values = batch.column(n - 1).as_primitive::<Float64Type>();
    for row in 0..batch.num_rows() {
        if values.is_null(row) {
            continue;
        }
        let mut tags = Vec::new();
        for c in 1..n - 1 {
            let column = batch.column(c).as_dictionary::<Int32Type>();
            if column.is_valid(row) {
                let key = column.keys().value(row) as usize;
                let value = column.values().as_string::<i32>().value(key);
                tags.push(format!("{}={value}", schema.field(c).name()));
            }
        }
        tags.sort();
        out.insert((tags.join(","), times.value(row)), values.value(row));
    }
}
