//! Fuzzes an index block payload, decoded and encoded again; see `chronicle::testing::fuzz::index_block` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/index_block/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::index_block(data);
});
