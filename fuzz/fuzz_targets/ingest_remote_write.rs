//! Fuzzes Prometheus remote write and read decoding. The first byte picks
//! what the rest is: even, an uncompressed protobuf body (compressed here, so
//! the fuzzer reaches the protobuf and label checks); odd, a raw snappy body
//! (the snappy decoder and its length check). Never a panic, and never more
//! than the limit decompressed.
#![no_main]

use chronicle::ingest::{Error, remote_read, remote_write, snappy};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let body = if mode % 2 == 0 {
        match snappy::compress(rest) {
            Ok(body) => body,
            Err(e) => panic!("compressing {} bytes failed: {e}", rest.len()),
        }
    } else {
        rest.to_vec()
    };
    for result in [remote_write::parse(&body, LIMIT).map(|_| ()), remote_read::decode_request(&body, LIMIT).map(|_| ())] {
        if let Err(Error::TooLarge { len, limit }) = result {
            assert!(len > limit as u64);
        }
    }
});
