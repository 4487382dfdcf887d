//! Fuzzes a whole database: a file and its WAL segment, opened, read, written, flushed, compacted; see `chronicle::testing::fuzz::database` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/database/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::database(data);
});
