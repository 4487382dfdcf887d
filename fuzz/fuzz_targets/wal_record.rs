//! Fuzzes a WAL record payload, applied to an empty index and head; see `chronicle::testing::fuzz::wal_record` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/wal_record/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::wal_record(data);
});
