//! Fuzzes the `PackedInts` decoder (Rice-coded integers, the timestamp codec
//! and the integer stage of `Decimal`): the first 2 bytes of the input are the
//! item count (little-endian), the rest the payload. Damaged payloads must give
//! an error, never a panic; see `chronicle_fuzz::check_codec`.
#![no_main]

use chronicle::encoding::PackedInts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chronicle_fuzz::fuzz_codec::<i64>(&PackedInts::default(), data);
});
