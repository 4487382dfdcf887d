//! An S3-compatible server for tests: moto, started on a free loopback
//! port in the test's directory and killed on drop. Without moto the test
//! fails and says how to install it (`scripts/install-test-deps.sh`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chronicle::ExportOptions;

/// A moto S3 server on `127.0.0.1:<free port>`, killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    pub fn start(dir: &Path) -> Self {
        let probe = Command::new("python3").args(["-c", "import moto.server, boto3"]).output().expect("python3 runs");
        assert!(
            probe.status.success(),
            "moto (the S3-compatible test server) is missing: run scripts/install-test-deps.sh\n{}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("moto.log");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("moto.err")).unwrap())
            .spawn()
            .expect("python3 -m moto.server starts");
        let mut moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto exited ({status}) before answering: {}", moto.logs());
            }
            if moto.request("GET", "/").is_ok_and(|status| status.starts_with("HTTP/1.")) {
                return moto;
            }
            assert!(Instant::now() < deadline, "moto did not answer on port {port} within 60 s: {}", moto.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends a bodiless request; returns the status line.
    pub fn request(&self, method: &str, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let host = format!("127.0.0.1:{}", self.port);
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer.lines().next().unwrap_or_default().to_string())
    }

    pub fn create_bucket(&self, bucket: &str) {
        let status = self.request("PUT", &format!("/{bucket}")).unwrap();
        assert!(status.contains(" 200 "), "PUT /{bucket}: {status}");
    }

    pub fn logs(&self) -> String {
        let err = std::fs::read_to_string(self.log.with_file_name("moto.err")).unwrap_or_default();
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("{out}{err}")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Explicit options for the server: the process environment stays as it is.
pub fn options(moto: &Moto) -> ExportOptions {
    ExportOptions::new()
        .with_storage_option("aws_endpoint", moto.endpoint())
        .with_storage_option("aws_allow_http", "true")
        .with_storage_option("aws_region", "us-east-1")
        .with_storage_option("aws_access_key_id", "testing")
        .with_storage_option("aws_secret_access_key", "testing")
}

impl Moto {
    /// Kills the server now, as a store going down would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
