//! Fuzzes a query of the Chronicle dialect, parsed; see `chronicle::testing::fuzz::dialect` for what is checked.
//! `tests/fuzz_corpus.rs` replays `corpus/dialect/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chronicle::testing::fuzz::dialect(data);
});
