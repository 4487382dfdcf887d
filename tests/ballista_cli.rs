//! `chronicle ballista` as the README runs it: a scheduler and an executor
//! as two processes on loopback, and `chronicle ballista query` over a
//! `file://` tier, whose answer (with a Chronicle aggregate) equals the
//! database's own. An unreachable scheduler is exit code 1 with a message
//! naming it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chronicle::testing::{TsbsCpu, cpu_row_batches};
use chronicle::{Config, Db, TierConfig};
use common::TempDir;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
const HOSTS: usize = 4;
/// Two hours at 10 s: two tiered partitions.
const STEPS: usize = 2 * 360;
const SQL: &str = "SELECT hostname, count(*) AS n, max(usage_user) AS top, spread(usage_idle) AS spread FROM cpu GROUP BY hostname ORDER BY hostname";

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> Killed {
    let child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts chronicle");
    Killed(child)
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (bounded) until something accepts connections on `port`.
fn await_listening(port: u16, server: &mut Killed) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(server.0.try_wait().unwrap().is_none(), "the server exited before listening on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {port} after 30 s");
}

/// The database's own answer to [`SQL`] as CSV lines (header first).
async fn local_answer(db: &Db) -> Vec<String> {
    let batches = db.session_context().sql(SQL).await.unwrap().collect().await.unwrap();
    let mut lines = vec!["hostname,n,top,spread".to_string()];
    for batch in &batches {
        let options = FormatOptions::default();
        let columns: Vec<_> = batch.columns().iter().map(|c| ArrayFormatter::try_new(c, &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            lines.push(columns.iter().map(|c| c.value(row).to_string()).collect::<Vec<_>>().join(","));
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_and_an_executor_process_answer_a_query_over_the_tier() {
    let dir = TempDir::new("ballista-cli");
    let tier = format!("file://{}", dir.path("cold").display());
    let db = Db::open(dir.path("tsbs.chronicle"), Config::default().with_tier(TierConfig::new(&tier))).unwrap();
    for batch in cpu_row_batches(&TsbsCpu::new(HOSTS, 3).generate(STEPS), 1000) {
        db.write_rows(&batch).unwrap();
    }
    db.flush().unwrap();
    for partition in db.partitions().unwrap() {
        db.tier_partition(partition.start).await.unwrap();
    }
    let expected = local_answer(&db).await;
    assert_eq!(expected.len(), 1 + HOSTS);
    assert!(expected[1].starts_with(&format!("host_0,{STEPS},")), "{expected:?}");
    db.close().unwrap();

    let (scheduler_port, flight_port) = (free_port(), free_port());
    let scheduler = format!("127.0.0.1:{scheduler_port}");
    let mut scheduler_process = start(&["ballista", "scheduler", "--bind", &scheduler]);
    await_listening(scheduler_port, &mut scheduler_process);
    let flight_port = flight_port.to_string();
    let _executor =
        start(&["ballista", "executor", "--scheduler", &scheduler, "--port", &flight_port, "--concurrent-tasks", "2"]);

    let output = Command::new(BIN)
        .args(["ballista", "query", "--scheduler", &format!("df://{scheduler}"), "--tier", &tier])
        .args(["--format", "csv", SQL])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "query failed: {stderr}");
    let lines: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(lines, expected, "stderr: {stderr}");
}

#[test]
fn a_query_to_an_unreachable_scheduler_fails_naming_it() {
    let dir = TempDir::new("ballista-cli-unreachable");
    let scheduler = format!("df://127.0.0.1:{}", free_port());
    let tier = format!("file://{}", dir.as_path().display());
    let output = Command::new(BIN)
        .args(["ballista", "query", "--scheduler", &scheduler, "--tier", &tier, "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unreachable") && stderr.contains(&scheduler), "{stderr}");
}
