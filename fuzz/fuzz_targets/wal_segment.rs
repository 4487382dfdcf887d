//! Fuzzes a WAL segment file, read as replay reads it and opened as a log; see `chronicle::testing::fuzz::wal_segment` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/wal_segment/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::wal_segment(data);
});
