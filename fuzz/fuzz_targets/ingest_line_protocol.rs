//! Fuzzes the line protocol parser: any body gives rows or an error naming a
//! line and column inside it, never a panic.
#![no_main]

use chronicle::ingest::{Error, Precision, line_protocol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match line_protocol::parse(data, Precision::Milliseconds, 1_767_225_600_000_000_000) {
        Ok(rows) => assert!(rows.iter().all(|r| !r.fields.is_empty())),
        Err(Error::Line { line, column, .. }) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!((1..=lines).contains(&line) && column >= 1, "line {line} of {lines}, column {column}");
        }
        Err(other) => panic!("line protocol gave a non-line error: {other:?}"),
    }
});
