//! The README's codec section as a program: an hour of temperatures at 10 s
//! encoded into one chunk, parsed back (the CRC checked) and ten points of it
//! decoded to Arrow arrays. `readme()` holds the README's code as written
//! there (tests/readme_examples.rs checks it line by line). Nothing touches
//! the disk.
//!
//! Run: `cargo run --example codecs`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    readme()
}

/// The README's snippet, as written there (unformatted: rustfmt would re-wrap its lines).
#[rustfmt::skip]
fn readme() -> Result<(), Box<dyn std::error::Error>> {
    use chronicle::encoding::{Chunk, ChunkEncoder, EncodingPolicy};

    let times: Vec<i64> = (0..360).map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000).collect();
    let temps: Vec<f64> = (0..360).map(|i| 20.0 + f64::from(i % 7) / 10.0).collect();
    let mut bytes = Vec::new();
    ChunkEncoder::new(EncodingPolicy::Adaptive).encode(&times, &[&temps], &mut bytes)?;
    let chunk = Chunk::parse(&bytes)?;                        // checks the CRC
    let part = chunk.decode_range(times[10], times[19], &[0])?; // Arrow arrays
    println!("{} points in {} bytes; {} decoded, max {}", times.len(), bytes.len(), part.timestamps.len(), chunk.stats(0)?.max);
    Ok(())
}
