//! Fuzzes the JSON points parser: never a panic.
#![no_main]

use chronicle::ingest::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = json::parse(data, 1_767_225_600_000_000_000);
});
