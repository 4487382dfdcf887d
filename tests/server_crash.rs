//! SIGKILL the real server during concurrent HTTP writes: every write that
//! got its 204 is there after the crash, and no batch is there in part.
//!
//! Each round starts the `chronicle` binary (`serve --wal-sync always`, port
//! 0) on the same data directory, so from the second round on the server
//! starts by recovering from the crash before. Four writers post small line
//! protocol batches to `/write`; at a random moment the server is killed
//! with SIGKILL. The directory is then copied and the copy opened with the
//! library (the oracle: it never went through the server), where:
//!
//! - every batch answered 204 in any round so far is stored, whole;
//! - every stored point belongs to a batch that was sent, by the writer that
//!   sent it, with the exact values sent, and each batch is all or nothing
//!   (a batch that got no answer may be missing, never torn).
//!
//! The copy keeps the library's recovery (and its flush on close) away from
//! the directory the next server starts on.
//!
//! Batch `b` is [`LINES`] lines `crash,writer=w<W>,line=l<J> a=<v>,b=<v+0.5>`
//! with `v = b * LINES + J`, all at time [`BASE_NS`] + `b` seconds: a time
//! of its own per batch, climbing over the rounds into later partitions so
//! the server also flushes. `CHRONICLE_SERVER_CRASH_ROUNDS` (default 24) and
//! `CHRONICLE_SERVER_CRASH_SEED` reproduce or lengthen a run.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test: failing loudly is the point")]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use chronicle::{Config, Db, ScanRequest};
use common::TempDir;

/// Concurrent writers, each with a connection of its own.
const WRITERS: u64 = 4;
/// Lines (series) per batch.
const LINES: u64 = 10;
/// 2026-01-01T00:00:00Z: batch `b` is at this plus `b` seconds.
const BASE_NS: i64 = 1_767_225_600_000_000_000;
/// The measurement written.
const MEASUREMENT: &str = "crash";
/// How long the server may take to print its address.
const STARTUP: Duration = Duration::from_secs(30);

/// xorshift64*: reproducible kill times.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// The body of batch `b` sent by writer `w`.
fn batch_body(b: u64, w: u64) -> String {
    let time = BASE_NS + b as i64 * 1_000_000_000;
    (0..LINES)
        .map(|j| {
            let v = b * LINES + j;
            format!("{MEASUREMENT},writer=w{w},line=l{j} a={v},b={v}.5 {time}\n")
        })
        .collect()
}

/// A running `chronicle serve`.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts the binary on `data_dir` with `--wal-sync always` on a free
    /// port; returns once it printed `listening on http://ADDR`.
    fn start(data_dir: &Path, log: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chronicle"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0", "--wal-sync", "always"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("creates the server log"));
        // Settings from the environment would change what is tested.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CHRONICLE_") {
                command.env_remove(key);
            }
        }
        let mut child = command.spawn().expect("spawns chronicle serve");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the address, then drains stdout so the server never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    tx.send(addr.trim().to_owned()).ok();
                }
            }
        });
        match rx.recv_timeout(STARTUP) {
            Ok(addr) => Self { child, addr },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().expect("reaps the server");
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("chronicle serve printed no address within {STARTUP:?} ({status}); its log:\n{log}");
            }
        }
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        self.child.kill().expect("kills the server");
        self.child.wait().expect("reaps the server");
    }
}

/// What the writers of all rounds sent and what was acknowledged.
#[derive(Default)]
struct Ledger {
    /// Batch -> the writer that sent it.
    sent: BTreeMap<u64, u64>,
    /// Batches answered 204.
    acked: BTreeSet<u64>,
}

/// Writer `w`: posts the next batch until a request fails to get an answer
/// (the server is gone). Any answer but 204 fails the test.
fn write_until_killed(addr: &str, w: u64, next: &AtomicU64, ledger: &Mutex<Ledger>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}/write?db=crash&precision=ns");
    loop {
        let b = next.fetch_add(1, Ordering::SeqCst);
        ledger.lock().unwrap().sent.insert(b, w);
        let Ok(mut response) = agent.post(&url).header("Content-Type", "text/plain").send(batch_body(b, w)) else {
            return;
        };
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 204, "batch {b} from writer {w}: {body}");
        ledger.lock().unwrap().acked.insert(b);
    }
}

/// Copies the files of `from` into `to` (created), recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creates the copy");
    for entry in std::fs::read_dir(from).expect("lists the data directory") {
        let entry = entry.expect("reads an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("has a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copies a file");
        }
    }
}

/// Checks the database in `data_dir` (read through a copy) against the
/// ledger; returns the batches stored.
fn verify(data_dir: &Path, copy: &Path, ledger: &Ledger) -> BTreeSet<u64> {
    let _ = std::fs::remove_dir_all(copy);
    copy_dir(data_dir, copy);
    let db = Db::open(copy.join("chronicle.db"), Config::default()).expect("opens the crashed database");
    // batch -> lines stored
    let mut per_batch: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for batch in db.scan(&ScanRequest::new(MEASUREMENT)).expect("scans") {
        let batch = batch.expect("reads");
        let times = batch.column_by_name("time").expect("time").as_primitive::<TimestampNanosecondType>();
        let tag = |name: &str, r: usize| {
            let column = batch.column_by_name(name).expect("tag column").as_dictionary::<Int32Type>();
            let values = column.values().as_string::<i32>();
            values.value(column.keys().value(r) as usize).to_owned()
        };
        let a = batch.column_by_name("a").expect("field a").as_primitive::<Float64Type>();
        let b_field = batch.column_by_name("b").expect("field b").as_primitive::<Float64Type>();
        for r in 0..batch.num_rows() {
            let offset = times.value(r) - BASE_NS;
            assert!(offset >= 0 && offset % 1_000_000_000 == 0, "a point at {} was never written", times.value(r));
            let b = (offset / 1_000_000_000) as u64;
            let (writer, line) = (tag("writer", r), tag("line", r));
            let sender = ledger.sent.get(&b).unwrap_or_else(|| panic!("batch {b} was never sent, yet {line} is there"));
            assert_eq!(writer, format!("w{sender}"), "batch {b} line {line}: wrong writer");
            let j: u64 = line.strip_prefix('l').and_then(|j| j.parse().ok()).expect("line tag l<J>");
            let v = (b * LINES + j) as f64;
            assert!(j < LINES && a.is_valid(r) && b_field.is_valid(r), "batch {b} line {line}: a field is missing");
            assert_eq!((a.value(r), b_field.value(r)), (v, v + 0.5), "batch {b} line {line}: wrong values");
            assert!(per_batch.entry(b).or_default().insert(j), "batch {b} line {line} is stored twice");
        }
    }
    db.close().expect("closes the copy");
    for (b, lines) in &per_batch {
        assert_eq!(lines.len() as u64, LINES, "batch {b} is torn: lines {lines:?} of {LINES}");
    }
    for b in &ledger.acked {
        assert!(per_batch.contains_key(b), "batch {b} got its 204 and is lost");
    }
    per_batch.into_keys().collect()
}

#[test]
fn sigkill_during_concurrent_writes_loses_no_acknowledged_batch() {
    let rounds: u64 = std::env::var("CHRONICLE_SERVER_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(24);
    let seed: u64 = std::env::var("CHRONICLE_SERVER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xC0FFEE);
    let mut random = seed;
    let dir = TempDir::new("server-crash");
    let data_dir = dir.path("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next = Arc::new(AtomicU64::new(0));
    for round in 0..rounds {
        let server = Server::start(&data_dir, &dir.path("server.log"));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, next, ledger) = (server.addr.clone(), Arc::clone(&next), Arc::clone(&ledger));
                std::thread::spawn(move || write_until_killed(&addr, w, &next, &ledger))
            })
            .collect();
        // 50 to 649 ms of writing: a few to a few hundred batches a round.
        std::thread::sleep(Duration::from_millis(50 + next_random(&mut random) % 600));
        server.kill();
        for writer in writers {
            writer.join().expect("a writer got an answer other than 204");
        }
        let ledger = ledger.lock().unwrap();
        let stored = verify(&data_dir, &dir.path("copy"), &ledger);
        // Stored although the server died before answering: the kill
        // landed between the WAL and the 204.
        let unanswered_stored = stored.iter().filter(|b| !ledger.acked.contains(b)).count();
        // Shown only if the test fails: the story of the rounds before it.
        eprintln!(
            "round {round} (seed {seed}): {} sent, {} acknowledged, {} stored ({unanswered_stored} of them unanswered)",
            ledger.sent.len(),
            ledger.acked.len(),
            stored.len()
        );
    }
    let acked = ledger.lock().unwrap().acked.len() as u64;
    assert!(acked >= rounds * WRITERS, "the writers made little progress: {acked} batches acknowledged");
}
