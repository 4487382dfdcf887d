//! Fuzzes `Chunk::parse` and every decode of a chunk. The input is a chunk
//! body: its correct CRC-32 is appended before parsing, so the fuzzer reaches
//! the header, the column directory and the codecs instead of stopping at the
//! checksum. Then the timestamps, every column (in full and in part), the
//! statistics, `decode` and a few ranges are decoded; see
//! `chronicle_fuzz::check_chunk` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut chunk = data.to_vec();
    chunk.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    chronicle_fuzz::check_chunk(&chunk);
});
