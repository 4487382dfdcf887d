//! Fuzzes the `Constant` decoder: the first 2 bytes of the input are the item
//! count (little-endian), the rest the payload. Damaged payloads must give an
//! error, never a panic; see `chronicle_fuzz::check_codec` for what is checked.
#![no_main]

use chronicle::encoding::Constant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chronicle_fuzz::fuzz_codec::<f64>(&Constant, data);
});
