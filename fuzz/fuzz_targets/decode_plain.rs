//! Fuzzes the `Plain` decoder, as timestamps (`i64`) and as values (`f64`):
//! the first 2 bytes of the input are the item count (little-endian), the rest
//! the payload. A payload of the wrong length must give an error, never a
//! panic; see `chronicle_fuzz::check_codec`.
#![no_main]

use chronicle::encoding::Plain;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chronicle_fuzz::fuzz_codec::<i64>(&Plain, data);
    chronicle_fuzz::fuzz_codec::<f64>(&Plain, data);
});
