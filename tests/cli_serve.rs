//! `chronicle serve` as a real process: the `listening on` line, /health,
//! SIGTERM and SIGINT shut it down with exit 0 and the data survives, a
//! write in flight when SIGTERM arrives is answered and kept,
//! settings from file < environment < flag, and bad settings exit 2
//! naming the setting and where it came from.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use chronicle::{Config, Db, Row, ScanRequest, TierConfig};
use common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_chronicle");
const T0: i64 = 1_767_225_600_000_000_000;

/// A `chronicle` command with no CHRONICLE_* variables from the outside,
/// its Flight SQL server on a free port (tests run at once).
fn chronicle(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("CHRONICLE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("CHRONICLE_FLIGHT_ADDR", "127.0.0.1:0");
    cmd
}

/// A running server and the address it printed.
struct Serving {
    child: Child,
    url: String,
}

impl Serving {
    fn start(mut cmd: Command) -> Serving {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("chronicle starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(addr) = line.trim_end().strip_prefix("listening on ") else {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("no listening line, got {line:?}; stderr: {err}");
        };
        Serving { child, url: addr.to_owned() }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
        let mut response = agent.get(format!("{}{path}", self.url)).call().expect("the server answers");
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
    }

    /// Sends `signal` and waits for the exit; returns the exit code and stderr.
    fn stop(mut self, signal: &str) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        // The shell's own `kill`: no procps needed.
        let kill = format!("kill -{signal} {pid}");
        assert!(Command::new("sh").args(["-c", &kill]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code(), err)
    }
}

fn rows() -> Vec<Row> {
    (0..50i64)
        .map(|i| {
            Row::new("cpu", T0 + i * 1_000_000_000)
                .with_tag("host", ["a", "b"][i as usize % 2])
                .with_field("usage", i as f64 / 4.0)
        })
        .collect()
}

/// Every (time, usage) of measurement cpu, sorted by time.
fn stored(path: &Path) -> Vec<(i64, f64)> {
    stored_with(path, Config::default())
}

/// [`stored`], opening the database with `config` (a tiered one needs its tier).
fn stored_with(path: &Path, config: Config) -> Vec<(i64, f64)> {
    let db = Db::open(path, config).unwrap();
    let mut out = Vec::new();
    for batch in db.scan(&ScanRequest::new("cpu")).unwrap() {
        let batch = batch.unwrap();
        let times = batch.column_by_name("time").unwrap().as_primitive::<arrow_array::types::TimestampNanosecondType>();
        let usage = batch.column_by_name("usage").unwrap().as_primitive::<Float64Type>();
        out.extend((0..batch.num_rows()).map(|i| (times.value(i), usage.value(i))));
    }
    db.close().unwrap();
    out.sort_by_key(|(t, _)| *t);
    out
}

#[test]
fn serve_prints_its_address_answers_health_and_keeps_data_across_sigterm_and_sigint() {
    let dir = TempDir::new("cli-serve-restart");
    let db_path = dir.path("data").join("chronicle.db");
    let db = Db::open(&db_path, Config::default()).unwrap();
    db.write_rows(&rows()).unwrap();
    db.close().unwrap();
    let expected: Vec<(i64, f64)> = rows().iter().map(|r| (r.timestamp, r.fields[0].1)).collect();

    // The default data directory is ./data.
    for signal in ["TERM", "INT"] {
        let mut cmd = chronicle(dir.as_path());
        cmd.args(["serve", "--http-addr", "127.0.0.1:0"]);
        let server = Serving::start(cmd);
        assert!(server.url.starts_with("http://127.0.0.1:") && !server.url.ends_with(":0"), "{}", server.url);
        let (status, body) = server.get("/health");
        assert_eq!(status, 200, "{body}");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["series"], 2, "the two series written before serving: {body}");
        let (code, stderr) = server.stop(signal);
        assert_eq!(code, Some(0), "SIG{signal} exits 0; stderr: {stderr}");
        assert!(stderr.contains(&format!("SIG{signal} received")), "{stderr}");
        assert!(stderr.contains("database closed"), "{stderr}");
        assert_eq!(stored(&db_path), expected, "after SIG{signal}");
    }
}

#[test]
fn a_write_in_flight_at_sigterm_is_answered_and_kept() {
    let dir = TempDir::new("cli-serve-in-flight");
    let mut cmd = chronicle(dir.as_path());
    cmd.args(["serve", "--http-addr", "127.0.0.1:0"]);
    let mut server = Serving::start(cmd);
    let lines: String =
        (0..200i64).map(|i| format!("cpu,host=h{} usage={} {}\n", i % 3, i as f64 / 2.0, T0 + i * 1_000_000)).collect();
    let (first, second) = lines.as_bytes().split_at(lines.len() / 2);

    // The request line, the headers and half the body are sent before the
    // signal; the rest after it. The server must read it to the end, store
    // it and answer before it closes the database.
    let mut conn = TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        conn,
        "POST /write?db=x HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        lines.len()
    )
    .unwrap();
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    // Time for the server to read the headers and start on the body.
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.child.try_wait().unwrap().is_none(), "the server waits for the request in flight");
    conn.write_all(second).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");

    let status = server.child.wait().unwrap();
    let mut err = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("SIGTERM received") && err.contains("database closed"), "{err}");
    let stored = stored(&dir.path("data").join("chronicle.db"));
    let expected: Vec<(i64, f64)> = (0..200i64).map(|i| (T0 + i * 1_000_000, i as f64 / 2.0)).collect();
    assert_eq!(stored, expected, "every line of the request answered 204 is kept");
}

#[test]
fn a_second_server_on_the_same_directory_or_port_fails_clearly() {
    let dir = TempDir::new("cli-serve-conflict");
    let mut cmd = chronicle(dir.as_path());
    cmd.args(["serve", "--data-dir", "one", "--http-addr", "127.0.0.1:0"]);
    let first = Serving::start(cmd);

    let out =
        chronicle(dir.as_path()).args(["serve", "--data-dir", "one", "--http-addr", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("open in another process"), "{out:?}");

    // The one-shot commands say what to do instead of failing on the lock.
    std::fs::create_dir_all(dir.path("one")).unwrap();
    let out = chronicle(dir.as_path()).args(["query", "--data-dir", "one", "SELECT 1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open in another process") && stderr.contains("--server"), "{stderr}");

    let port = first.url.rsplit(':').next().unwrap();
    let out = chronicle(dir.as_path())
        .args(["serve", "--data-dir", "two", "--http-addr", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port} (setting http_addr)")), "{stderr}");
    let out = chronicle(dir.as_path())
        .args([
            "serve",
            "--data-dir",
            "three",
            "--http-addr",
            "127.0.0.1:0",
            "--flight-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port} (setting flight_addr)")), "{stderr}");

    let (code, stderr) = first.stop("TERM");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_server_with_a_tier_moves_old_partitions_to_it_and_still_answers_from_them() {
    let dir = TempDir::new("cli-serve-tier");
    let db_path = dir.path("data").join("chronicle.db");
    let db = Db::open(&db_path, Config::default()).unwrap();
    db.write_rows(&rows()).unwrap();
    db.close().unwrap();
    let expected: Vec<(i64, f64)> = rows().iter().map(|r| (r.timestamp, r.fields[0].1)).collect();
    let cold = dir.path("cold");
    let url = format!("file://{}", cold.display());

    let mut cmd = chronicle(dir.as_path());
    cmd.args(["serve", "--http-addr", "127.0.0.1:0", "--tier-url", &url, "--tier-older-than", "1h"]);
    let server = Serving::start(cmd);
    // Tiering runs at start: the partition of T0 (2026-01-01) ended long ago.
    let parquet = |dir: &Path| -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    found.push(path);
                }
            }
        }
        found
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while parquet(&cold).is_empty() || !dir.path("data").join("chronicle.db.tier").is_file() {
        assert!(std::time::Instant::now() < deadline, "nothing was tiered to {}", cold.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(parquet(&cold).len(), 1, "one file: one measurement in one partition");
    let (status, body) = server.get("/query?q=SELECT%20count(usage)%20AS%20n%20FROM%20cpu");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("50"), "every point counted once across both tiers: {body}");
    let (code, stderr) = server.stop("TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("partitions moved to the cold tier"), "{stderr}");
    assert!(stderr.contains(&format!("tier.url={url}")), "{stderr}");
    assert_eq!(stored_with(&db_path, Config::default().with_tier(TierConfig::new(url))), expected);
}

#[test]
fn settings_come_from_the_file_then_the_environment_then_flags() {
    let dir = TempDir::new("cli-serve-precedence");
    std::fs::write(
        dir.path("chronicle.toml"),
        "data_dir = \"from-file\"\nhttp_addr = \"127.0.0.1:0\"\n[limits]\nquery_timeout = \"7s\"\nrequest_timeout = \"8s\"\n\
         max_concurrent_queries = 3\n[wal]\nsync = \"none\"\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)], flags: &[&str]| {
        let mut cmd = chronicle(dir.as_path());
        cmd.args(["serve", "--config", "chronicle.toml"]).args(flags).envs(env.iter().copied());
        let server = Serving::start(cmd);
        let (code, stderr) = server.stop("TERM");
        assert_eq!(code, Some(0), "{stderr}");
        stderr
    };
    let has_db = |name: &str| dir.path(name).join("chronicle.db").is_file();

    let log = run(&[], &[]);
    assert!(has_db("from-file"));
    assert!(log.contains("limits.query_timeout=7s") && log.contains("wal.sync=none"), "{log}");

    let log = run(&[("CHRONICLE_DATA_DIR", "from-env"), ("CHRONICLE_QUERY_TIMEOUT", "9s")], &[]);
    assert!(has_db("from-env"));
    assert!(log.contains("limits.query_timeout=9s") && log.contains("limits.request_timeout=8s"), "{log}");

    let log = run(
        &[("CHRONICLE_DATA_DIR", "from-env-2"), ("CHRONICLE_QUERY_TIMEOUT", "9s")],
        &["--data-dir", "from-flag", "--query-timeout", "2m", "--wal-sync", "always"],
    );
    assert!(has_db("from-flag") && !has_db("from-env-2"));
    assert!(log.contains("limits.query_timeout=2m") && log.contains("wal.sync=always"), "{log}");
    assert!(log.contains("limits.max_concurrent_queries=3"), "the file still sets what nothing overrides: {log}");
}

#[test]
fn bad_settings_exit_2_naming_the_setting_and_its_source() {
    let dir = TempDir::new("cli-serve-bad");
    let fail = |env: &[(&str, &str)], flags: &[&str]| -> String {
        let out: Output = chronicle(dir.as_path()).arg("serve").args(flags).envs(env.iter().copied()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stdout.is_empty(), "nothing listened: {out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    std::fs::write(dir.path("bad.toml"), "# limits\n[limits]\nmax_body_size = \"ten megs\"\n").unwrap();
    let e = fail(&[], &["--config", "bad.toml"]);
    assert!(e.contains("limits.max_body_size") && e.contains("bad.toml, line 3") && e.contains("\"ten megs\""), "{e}");

    std::fs::write(dir.path("typo.toml"), "[wal]\nsink = \"always\"\n").unwrap();
    let e = fail(&[], &["--config", "typo.toml"]);
    assert!(e.contains("line 2") && e.contains("unknown setting \"wal.sink\""), "{e}");

    let e = fail(&[("CHRONICLE_PARTITION_DURATION", "0s")], &[]);
    assert!(
        e.contains("storage.partition_duration") && e.contains("environment variable CHRONICLE_PARTITION_DURATION"),
        "{e}"
    );
    let e = fail(&[], &["--wal-sync-interval", "soon"]);
    assert!(e.contains("wal.sync_interval") && e.contains("flag --wal-sync-interval"), "{e}");
    let e = fail(&[("CHRONICLE_AUTH_TOKENS", "ci:admin:hunter2")], &[]);
    assert!(e.contains("auth.tokens") && e.contains("\"admin\"") && !e.contains("hunter2"), "{e}");
    let e = fail(&[], &["--config", "missing.toml"]);
    assert!(e.contains("missing.toml") && e.contains("cannot read"), "{e}");
    let e = fail(&[], &["--no-such-flag"]);
    assert!(e.contains("--no-such-flag"), "{e}");
}

#[test]
fn serve_help_documents_every_setting() {
    let out = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env, key) in [
        ("--data-dir", "CHRONICLE_DATA_DIR", "data_dir"),
        ("--http-addr", "CHRONICLE_HTTP_ADDR", "http_addr"),
        ("--wal-sync", "CHRONICLE_WAL_SYNC", "wal.sync"),
        ("--wal-sync-interval", "CHRONICLE_WAL_SYNC_INTERVAL", "wal.sync_interval"),
        ("--partition-duration", "CHRONICLE_PARTITION_DURATION", "storage.partition_duration"),
        ("--memory-budget", "CHRONICLE_MEMORY_BUDGET", "storage.memory_budget"),
        ("--max-body-size", "CHRONICLE_MAX_BODY_SIZE", "limits.max_body_size"),
        ("--max-decompressed-size", "CHRONICLE_MAX_DECOMPRESSED_SIZE", "limits.max_decompressed_size"),
        ("--request-timeout", "CHRONICLE_REQUEST_TIMEOUT", "limits.request_timeout"),
        ("--query-timeout", "CHRONICLE_QUERY_TIMEOUT", "limits.query_timeout"),
        ("--max-concurrent-queries", "CHRONICLE_MAX_CONCURRENT_QUERIES", "limits.max_concurrent_queries"),
        ("--auth-token", "CHRONICLE_AUTH_TOKENS", "auth.tokens"),
        ("--log-level", "CHRONICLE_LOG_LEVEL", "log.level"),
        ("--log-format", "CHRONICLE_LOG_FORMAT", "log.format"),
        ("--config", "CHRONICLE_CONFIG", "[toml:"),
    ] {
        assert!(help.contains(flag) && help.contains(env) && help.contains(key), "{flag} {env} {key} in:\n{help}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = TempDir::new("cli-serve-json-log");
    let mut cmd = chronicle(dir.as_path());
    cmd.args(["serve", "--http-addr", "127.0.0.1:0", "--log-format", "json", "--auth-token", "ci:read:hunter2"]);
    let server = Serving::start(cmd);
    std::thread::sleep(Duration::from_millis(50));
    let (code, stderr) = server.stop("TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("hunter2"), "a secret was logged: {stderr}");
    let lines: Vec<serde_json::Value> = stderr.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "listening"), "{stderr}");
    assert!(lines.iter().all(|l| l["level"].is_string()), "{stderr}");
}
