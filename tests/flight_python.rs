//! ADBC Flight SQL from Python, as data scientists use it
//! (tests/python/test_flight_*.py, pytest): `chronicle serve` runs as a
//! real process on free ports and each script talks to it with
//! `adbc-driver-flightsql`, pyarrow, pandas and polars. The scripts
//! compare every answer with values they generated themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
const READ_TOKEN: &str = "flight-read-secret";
const WRITE_TOKEN: &str = "flight-write-secret";

/// A running `chronicle serve` with tokens `reader` and `writer`.
struct Serving {
    child: Child,
    http: String,
    flight: String,
    _stdout: BufReader<ChildStdout>,
    _dir: TempDir,
}

impl Serving {
    fn start(test: &str) -> Serving {
        let dir = TempDir::new(test);
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("CHRONICLE_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path("data"))
            .args(["--http-addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0", "--query-timeout", "20m"])
            .args(["--auth-token", &format!("reader:read:{READ_TOKEN}")])
            .args(["--auth-token", &format!("writer:read-write:{WRITE_TOKEN}")])
            .args(["--log-level", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chronicle starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = |prefix: &str| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            match line.trim_end().strip_prefix(prefix) {
                Some(addr) => addr.to_owned(),
                None => panic!("expected a line {prefix}ADDR, got {line:?}"),
            }
        };
        let http = format!("http://{}", line("listening on http://"));
        let flight = format!("grpc://{}", line("flight on grpc://"));
        Serving { child, http, flight, _stdout: stdout, _dir: dir }
    }

    /// Runs pytest on `script`; panics with its output if it fails.
    fn pytest(&self, script: &str) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
        let out = Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-s", script])
            .current_dir(dir)
            .env("CHRONICLE_FLIGHT_URI", &self.flight)
            .env("CHRONICLE_HTTP_URL", &self.http)
            .env("CHRONICLE_PID", self.child.id().to_string())
            .env("CHRONICLE_TOKEN_READ", READ_TOKEN)
            .env("CHRONICLE_TOKEN_WRITE", WRITE_TOKEN)
            .output()
            .expect("python3 runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("{text}");
        assert!(out.status.success(), "{script} failed (missing packages? run scripts/install-test-deps.sh):\n{text}");
    }

    /// SIGTERM; both servers stop and the process exits 0.
    fn stop(mut self) {
        let kill = format!("kill -TERM {}", self.child.id());
        assert!(Command::new("sh").args(["-c", &kill]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(status.code(), Some(0), "stderr: {err}");
    }
}

impl Drop for Serving {
    /// A test that failed before `stop` leaves no server behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn adbc_queries_prepared_statements_and_metadata() {
    let server = Serving::start("flight_python_query");
    server.pytest("test_flight_query.py");
    server.stop();
}

#[test]
fn adbc_ingest_from_pandas_and_polars() {
    let server = Serving::start("flight_python_ingest");
    server.pytest("test_flight_ingest.py");
    server.stop();
}

#[test]
fn errors_reach_python_with_their_message() {
    let server = Serving::start("flight_python_errors");
    server.pytest("test_flight_errors.py");
    server.stop();
}

#[test]
fn a_large_result_streams_with_bounded_server_memory() {
    let server = Serving::start("flight_python_large");
    server.pytest("test_flight_large.py");
    server.stop();
}
