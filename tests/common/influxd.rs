//! A real InfluxDB 1.x server (`influxd`) for reference tests.
//!
//! [`InfluxD::start`] runs `influxd` on loopback with a generated config: HTTP
//! and RPC ports chosen free on 127.0.0.1, meta, data and WAL directories
//! inside the caller's directory, usage reporting, monitoring, retention
//! enforcement, continuous queries and HTTP auth off. It returns once
//! `GET /ping` answers 204. Dropping the handle kills the process and reaps
//! it, so a failing test leaves nothing running. A machine without `influxd`
//! fails the test with the command that installs it; it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test fixture: failing loudly is the point")]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long `influxd` may take to answer its first ping.
const STARTUP: Duration = Duration::from_secs(60);

/// A running `influxd`, killed on drop.
pub struct InfluxD {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl InfluxD {
    /// Starts `influxd` with every file under `dir` (which must exist).
    pub fn start(dir: &Path) -> Self {
        let installed = Command::new("influxd").arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "`influxd` (InfluxDB 1.x) is not installed or does not run: run scripts/install-test-deps.sh"
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        // A free port can be taken by someone else before influxd binds it:
        // a server that exits during startup is retried on fresh ports.
        let mut last_log = String::new();
        for attempt in 0..3 {
            let [http, rpc] = free_ports();
            let config = dir.join(format!("influxdb-{attempt}.conf"));
            std::fs::write(&config, config_text(dir, http, rpc)).expect("writes the influxd config");
            let log = dir.join(format!("influxd-{attempt}.log"));
            let log_file = std::fs::File::create(&log).expect("creates the influxd log");
            let mut command = Command::new("influxd");
            command.arg("run").arg("-config").arg(&config).current_dir(dir);
            // INFLUXDB_* variables override the config file; none may leak in.
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("INFLUXDB_") {
                    command.env_remove(key);
                }
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("clones the log handle"))
                .stderr(log_file)
                .spawn()
                .expect("spawns influxd");
            let mut server = Self { child, base: format!("http://127.0.0.1:{http}"), agent: agent.clone() };
            if server.wait_ready() {
                return server;
            }
            drop(server);
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("influxd did not start in three tries; its last log:\n{last_log}");
    }

    /// Waits for `GET /ping` to answer 204; false if the process exited.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if self.child.try_wait().expect("polls influxd").is_some() {
                return false;
            }
            if let Ok(response) = self.agent.get(format!("{}/ping", self.base)).call()
                && response.status().as_u16() == 204
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("influxd did not answer /ping within {STARTUP:?}");
    }

    /// `http://127.0.0.1:PORT`, for clients other than these helpers.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Creates database `name`.
    pub fn create_database(&self, name: &str) {
        let (status, body) = self.request(
            self.agent
                .post(format!("{}/query", self.base))
                .query("q", format!("CREATE DATABASE \"{name}\""))
                .send_empty(),
        );
        assert!(status == 200 && !body.contains("\"error\""), "CREATE DATABASE {name}: {status} {body}");
    }

    /// Writes line protocol (nanosecond timestamps) into `db`.
    pub fn write(&self, db: &str, lines: &str) {
        let (status, body) = self.request(
            self.agent.post(format!("{}/write", self.base)).query("db", db).query("precision", "ns").send(lines),
        );
        assert_eq!(status, 204, "write to {db}: {body}");
    }

    /// Runs one statement in `db` with nanosecond epoch times; returns its
    /// result (`results[0]`: `series` or `error`).
    pub fn query(&self, db: &str, q: &str) -> Value {
        let (status, body) = self.request(
            self.agent.get(format!("{}/query", self.base)).query("db", db).query("epoch", "ns").query("q", q).call(),
        );
        let mut answer: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{q}: influxd answered {status} with non-JSON ({e}): {body}"));
        if let Some(error) = answer.get("error") {
            panic!("{q}: influxd answered {status}: {error}");
        }
        answer["results"][0].take()
    }

    fn request(&self, sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
        let mut response = sent.unwrap_or_else(|e| panic!("influxd at {} is unreachable: {e}", self.base));
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("reads the influxd answer"))
    }
}

impl Drop for InfluxD {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct ports free on 127.0.0.1 right now.
fn free_ports() -> [u16; 2] {
    let a = TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    [a.local_addr().unwrap().port(), b.local_addr().unwrap().port()]
}

/// The whole config: anything not set here is influxd's default, and the
/// defaults that reach outside the directory or the loopback are overridden.
fn config_text(dir: &Path, http: u16, rpc: u16) -> String {
    let dir = dir.display();
    format!(
        r#"reporting-enabled = false
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{dir}/meta"
  logging-enabled = false

[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"#
    )
}
