//! SIGKILL crash test: a child process writes batches with `SyncPolicy::Always`
//! while its flush thread flushes and a second thread compacts every 20 ms,
//! and prints each batch it tries and each one that is acknowledged; kills
//! land during writes, background flushes and compactions alike; the parent kills it at a random moment, reopens the
//! database and checks that every acknowledged batch is there, whole, and
//! that nothing was duplicated or invented. Then the next round starts on
//! the same database.
//!
//! `CHRONICLE_CRASH_ROUNDS` sets the number of rounds (50 by default; the
//! soak script `scripts/crash_soak.sh` runs thousands).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: failing loudly is the point")]

use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chronicle::{Db, SyncPolicy};
use common::{TempDir, batch, config, verify};

const CHILD_DIR: &str = "CHRONICLE_CRASH_CHILD_DIR";
const CHILD_START: &str = "CHRONICLE_CRASH_CHILD_START";

/// xorshift64*: random enough kill times, reproducible from the seed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn sigkill_never_loses_an_acknowledged_batch() {
    if std::env::var_os(CHILD_DIR).is_some() {
        return;
    }
    let rounds: u64 = std::env::var("CHRONICLE_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(50);
    let mut seed: u64 = std::env::var("CHRONICLE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED);
    let dir = TempDir::new("crash-kill");
    let path = dir.path("db");
    let exe = std::env::current_exe().expect("knows its own binary");
    let mut acked = BTreeSet::new();
    let mut next = 0u64;
    let mut killed_mid_write = 0;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["crash_kill::crash_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.as_path())
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns the writer");
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let (mut tried, mut ok) = (Vec::new(), Vec::new());
            // The harness's "test crash_child_writer ... " has no newline: the
            // first TRY shares its line, so look for the tag anywhere.
            let tagged = |line: &str, tag: &str| line.rsplit_once(tag).and_then(|(_, i)| i.trim().parse::<u64>().ok());
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = tagged(&line, "TRY ") {
                    tried.push(i);
                } else if let Some(i) = tagged(&line, "ACK ") {
                    ok.push(i);
                }
            }
            (tried, ok)
        });
        // 0 to 99 ms: some kills land while the child is still opening the database.
        std::thread::sleep(Duration::from_millis(next_random(&mut seed) % 100));
        child.kill().expect("kills the writer");
        child.wait().expect("reaps the writer");
        let (tried, ok) = reader.join().expect("reads the writer's output");
        if tried.last() != ok.last() {
            killed_mid_write += 1;
        }
        let acknowledged_now = ok.len();
        acked.extend(ok);
        // Stdout is line-buffered: a batch's TRY line is out before its write starts.
        let attempted = tried.last().map_or(next, |&t| t + 1);
        assert!(tried.first().is_none_or(|&t| t == next), "round {round} starts at {next}: {tried:?}");
        // Shown only if the test fails: the story of the rounds before it.
        eprintln!(
            "round {round}: from {next}, tried {:?}..={:?}, acknowledged {acknowledged_now}",
            tried.first(),
            tried.last()
        );
        let found = verify(&path, &acked, attempted).0;
        next = attempted.max(found.last().map_or(0, |&f| f + 1));
        assert!(round < 5 || !acked.is_empty(), "the writer makes progress");
    }
    eprintln!("{rounds} rounds, {} batches acknowledged, {killed_mid_write} kills between TRY and ACK", acked.len());
    assert!(acked.len() as u64 >= rounds, "the writer acknowledged only {} batches", acked.len());
}

/// The child: writes batches from `CHRONICLE_CRASH_CHILD_START` on until killed.
#[test]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let start: u64 = std::env::var(CHILD_START).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let db = Db::open(std::path::Path::new(&dir).join("db"), config(SyncPolicy::Always)).expect("opens");
    let compactor = db.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(20));
            compactor.compact().expect("compacts");
        }
    });
    for i in start.. {
        println!("TRY {i}");
        db.write(&batch(i)).expect("writes");
        println!("ACK {i}");
    }
}
