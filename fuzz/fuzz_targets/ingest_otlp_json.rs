//! Fuzzes OTLP/JSON metrics decoding and their translation to rows: never a
//! panic.
#![no_main]

use chronicle::ingest::otlp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = otlp::parse_json(data, 1_767_225_600_000_000_000);
});
