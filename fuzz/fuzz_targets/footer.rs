//! Fuzzes a footer block; see `chronicle::testing::fuzz::footer` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/footer/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::footer(data);
});
