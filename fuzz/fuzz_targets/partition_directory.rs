//! Fuzzes a partition block directory (an 8-byte scene, then the directory); see `chronicle::testing::fuzz::partition_directory` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/partition_directory/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::partition_directory(data);
});
