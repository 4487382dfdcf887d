//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, minimized with
//! `cargo fuzz cmin`, every crash found and fixed kept as an input) through
//! the entry points the fuzz targets call (`chronicle::testing::fuzz`), so CI
//! runs them without libFuzzer. Any input may be accepted or refused; none
//! may panic. Each corpus must also reach its accepting path at least once,
//! so a decoder that starts refusing everything does not pass unnoticed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::path::PathBuf;

use chronicle::testing::fuzz;

fn replay(target: &str, run: fn(&[u8]) -> chronicle::Result<()>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{target} has a corpus");
    let mut accepted = 0;
    for file in &files {
        let input = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&input));
        match outcome {
            Ok(result) => accepted += usize::from(result.is_ok()),
            Err(_) => panic!("{target} panicked on {}", file.display()),
        }
    }
    assert!(accepted > 0, "{target}: none of {} inputs accepted", files.len());
}

#[test]
fn wal_records() {
    replay("wal_record", fuzz::wal_record);
}

#[test]
fn wal_segments() {
    replay("wal_segment", fuzz::wal_segment);
}

#[test]
fn index_blocks() {
    replay("index_block", fuzz::index_block);
}

#[test]
fn partition_directories() {
    replay("partition_directory", fuzz::partition_directory);
}

#[test]
fn footers() {
    replay("footer", fuzz::footer);
}

#[test]
fn databases() {
    replay("database", fuzz::database);
}

#[test]
fn dialect_queries() {
    replay("dialect", fuzz::dialect);
}
