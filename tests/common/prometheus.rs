//! Real Prometheus-family programs as child processes for tests: started
//! with their own directory and a free loopback port, waited for until
//! ready, killed and reaped on drop. A machine without them fails, saying
//! to run scripts/install-test-deps.sh.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed and reaped on drop.
pub struct Process {
    child: Child,
    name: &'static str,
    log: std::path::PathBuf,
}

impl Process {
    pub fn start(name: &'static str, program: &str, args: &[String], dir: &Path) -> Self {
        let installed = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "`{program}` is not installed or does not run: run scripts/install-test-deps.sh"
        );
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{program} does not start ({e}): run scripts/install-test-deps.sh"));
        Self { child, name, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `url` answers 200.
    pub fn wait_ready(&mut self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited with {status} while starting; its log:\n{}", self.name, self.log());
            }
            if ureq::get(url).call().is_ok_and(|r| r.status().as_u16() == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not answer {url} within 60 s; its log:\n{}", self.name, self.log());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Prometheus with `config` (and any `extra` flags), its TSDB under `dir`;
/// returns the process and its base URL once `/-/ready` answers.
pub fn prometheus(name: &'static str, dir: &Path, config: &str, extra: &[&str]) -> (Process, String) {
    let port = free_port();
    let config_path = dir.join(format!("{name}.yml"));
    std::fs::write(&config_path, config).unwrap();
    let args = [
        format!("--config.file={}", config_path.display()),
        format!("--storage.tsdb.path={}", dir.join(format!("{name}-data")).display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ];
    let args: Vec<String> = args.into_iter().chain(extra.iter().map(|a| (*a).to_owned())).collect();
    let mut process = Process::start(name, "prometheus", &args, dir);
    let base = format!("http://127.0.0.1:{port}");
    process.wait_ready(&format!("{base}/-/ready"));
    (process, base)
}
