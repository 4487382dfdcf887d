//! An in-process server on `127.0.0.1:0` over a fresh database, for tests
//! that talk HTTP to it (with `ureq`, `curl` or a real client).
//!
//! The server runs on a runtime of its own in a thread of its own, so sync
//! tests and `#[tokio::test]`s use it alike. Dropping the fixture shuts the
//! server down gracefully (in-flight requests finish), then closes the
//! database.

use std::net::SocketAddr;
use std::sync::Arc;

use chronicle::http::{Server, ServerConfig};
use chronicle::{Config, Db};

use super::TempDir;

/// A running server, its database and its directory.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The database it serves (also readable directly by the test).
    pub db: Arc<Db>,
    /// The database's directory.
    pub dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with the default settings over a fresh database.
    pub fn start(test: &str) -> Self {
        Self::start_with(test, Config::default(), ServerConfig::default())
    }

    /// A server with `server` settings (its address is replaced by
    /// `127.0.0.1:0`) over a fresh database opened with `config`.
    pub fn start_with(test: &str, config: Config, mut server: ServerConfig) -> Self {
        let dir = TempDir::new(test);
        let db = Arc::new(Db::open(dir.path("db"), config).unwrap());
        server.http_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&db);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(async move {
                let server = Server::bind(served, server).await?;
                addr_tx.send(server.local_addr()?).ok();
                server
                    .run(async move {
                        stopped.await.ok();
                    })
                    .await
            })
        });
        let addr = addr_rx.recv().expect("the server binds 127.0.0.1:0");
        Self { addr, db, dir, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://ADDR` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            let outcome = thread.join();
            if !std::thread::panicking() {
                outcome.expect("the server thread ends").expect("the server shuts down cleanly");
            }
        }
        if !std::thread::panicking() {
            self.db.close().expect("the database closes");
        }
    }
}
