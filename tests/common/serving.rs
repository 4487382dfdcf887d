//! `chronicle serve` as a real process on free ports, with a read token
//! and a read-write token, for tests that drive it with outside clients
//! (Python ADBC, notebooks). The ports come from the two lines the server
//! prints on stdout; the data directory is the test's own.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use super::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
/// The secret of the token allowed to read.
pub const READ_TOKEN: &str = "flight-read-secret";
/// The secret of the token allowed to read and write.
pub const WRITE_TOKEN: &str = "flight-write-secret";

/// A running `chronicle serve` with tokens `reader` and `writer`.
pub struct Serving {
    child: Child,
    /// `http://ADDR`.
    pub http: String,
    /// `grpc://ADDR`.
    pub flight: String,
    _stdout: BufReader<ChildStdout>,
    dir: TempDir,
}

impl Serving {
    /// A server with the settings every test shares.
    pub fn start(test: &str) -> Serving {
        Self::start_with(test, &[])
    }

    /// A server with the shared settings, where `settings` (flag and
    /// value) replace a shared one of the same flag or come after them.
    pub fn start_with(test: &str, settings: &[(&str, &str)]) -> Serving {
        let dir = TempDir::new(test);
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("CHRONICLE_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        let (read, write) = (format!("reader:read:{READ_TOKEN}"), format!("writer:read-write:{WRITE_TOKEN}"));
        let mut flags: Vec<(&str, &str)> = vec![
            ("--http-addr", "127.0.0.1:0"),
            ("--flight-addr", "127.0.0.1:0"),
            ("--query-timeout", "20m"),
            ("--log-level", "warn"),
        ];
        for &(flag, value) in settings {
            match flags.iter_mut().find(|(shared, _)| *shared == flag) {
                Some(shared) => shared.1 = value,
                None => flags.push((flag, value)),
            }
        }
        cmd.arg("serve").arg("--data-dir").arg(dir.path("data"));
        cmd.args(["--auth-token", &read, "--auth-token", &write]);
        for (flag, value) in flags {
            cmd.args([flag, value]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("chronicle starts");
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
        Serving { child, http, flight, _stdout: stdout, dir }
    }

    /// The test's own directory (the server's data is in `data/` inside).
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// Runs `python3 args` in tests/python with the server's addresses,
    /// process id and token secrets in the environment
    /// (`CHRONICLE_FLIGHT_URI`, `CHRONICLE_HTTP_URL`, `CHRONICLE_PID`,
    /// `CHRONICLE_TOKEN_READ`, `CHRONICLE_TOKEN_WRITE`) and `env` besides.
    pub fn python(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("python3");
        cmd.args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python"))
            .env("CHRONICLE_FLIGHT_URI", &self.flight)
            .env("CHRONICLE_HTTP_URL", &self.http)
            .env("CHRONICLE_PID", self.child.id().to_string())
            .env("CHRONICLE_TOKEN_READ", READ_TOKEN)
            .env("CHRONICLE_TOKEN_WRITE", WRITE_TOKEN);
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.output().expect("python3 runs")
    }

    /// Runs pytest on `script`; panics with its output if it fails.
    pub fn pytest(&self, script: &str) {
        let out = self.python(&["-m", "pytest", "-q", "-p", "no:cacheprovider", "-s", script], &[]);
        let text = output_text(&out);
        println!("{text}");
        assert!(out.status.success(), "{script} failed (missing packages? run scripts/install-test-deps.sh):\n{text}");
    }

    /// SIGTERM; both servers stop and the process exits 0.
    pub fn stop(mut self) {
        let kill = format!("kill -TERM {}", self.child.id());
        assert!(Command::new("sh").args(["-c", &kill]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(status.code(), Some(0), "stderr: {err}");
    }
}

/// A finished process's stdout and stderr, one after the other.
pub fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
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
