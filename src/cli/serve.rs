//! `chronicle serve`: opens the data directory's database and serves it
//! over HTTP and Arrow Flight SQL until SIGINT or SIGTERM.
//!
//! Order of shutdown: both servers stop accepting and let in-flight
//! requests finish (one signal reaches both), then the database is flushed
//! and closed on the blocking pool. Once both are bound, the exact lines
//! `listening on http://ADDR` and then `flight on grpc://ADDR` go to stdout
//! (flushed) so scripts can read the ports; the HTTP line stays first.
//!
//! With a cold tier and `tier.older_than` set, a task tiers the partitions
//! due ([`chronicle::Db::tier_due`]) at start and every [`TIER_CHECK`]
//! until shutdown; a failure is logged and retried at the next check
//! (nothing leaves the local file unless its upload was verified).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chronicle::Db;
use chronicle::http::Server;
use clap::ArgMatches;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::config::{self, ServeArgs};
use super::{CliError, data_dir, logging};

/// Runs the server with the settings of `args` (and of `matches`, which
/// say where each came from); returns once it has shut down cleanly.
pub fn run(args: &ServeArgs, matches: &ArgMatches) -> Result<(), CliError> {
    let settings = config::resolve(args, matches)?;
    logging::init(&settings.log, "info");
    tracing::info!(settings = %settings.summary(), "starting chronicle {}", env!("CARGO_PKG_VERSION"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: config::ServeSettings) -> Result<(), CliError> {
    let dir = settings.data_dir.clone();
    let db_config = settings.db.clone();
    let db = tokio::task::spawn_blocking(move || data_dir::open_or_create(&dir, db_config))
        .await
        .map_err(|e| CliError::Failed(format!("opening the database panicked: {e}")))??;
    let report = db.recovery_report();
    tracing::info!(
        path = %db.path().display(),
        wal_records_replayed = report.replayed,
        clean = report.is_clean(),
        "database open"
    );
    let db = Arc::new(db);
    let addr = settings.server.http_addr;
    let server = Server::bind(Arc::clone(&db), settings.server.clone())
        .await
        .map_err(|e| CliError::Failed(format!("cannot listen on {addr} (setting http_addr): {e}")))?;
    let flight = chronicle::flight::service(Arc::clone(&db), &settings.server, server.query_slots())
        .map_err(|e| CliError::Failed(format!("cannot set up Flight SQL: {e}")))?;
    let flight_addr = settings.flight_addr;
    let flight_listener = TcpListener::bind(flight_addr)
        .await
        .map_err(|e| CliError::Failed(format!("cannot listen on {flight_addr} (setting flight_addr): {e}")))?;
    let shutdown = shared(shutdown_signal()?);
    let no_address = |e: std::io::Error| CliError::Failed(format!("no local address: {e}"));
    let bound = server.local_addr().map_err(no_address)?;
    let flight_bound = flight_listener.local_addr().map_err(no_address)?;
    {
        let mut out = std::io::stdout().lock();
        // A closed stdout (a script that stopped reading) must not stop the server.
        let _ = writeln!(out, "listening on http://{bound}")
            .and_then(|()| writeln!(out, "flight on grpc://{flight_bound}"))
            .and_then(|()| out.flush());
    }
    tracing::info!(addr = %bound, flight_addr = %flight_bound, "listening");
    if settings.db.tier.as_ref().is_some_and(|t| t.older_than.is_some()) {
        tokio::spawn(tier_periodically(Arc::clone(&db), shutdown.wait()));
    }
    let (served, flight_served) =
        tokio::join!(server.run(shutdown.wait()), flight.serve(flight_listener, shutdown.wait()));
    tracing::info!("no longer accepting; in-flight requests answered; flushing the database");
    let closed = tokio::task::spawn_blocking(move || db.flush().and_then(|()| db.close()))
        .await
        .map_err(|e| CliError::Failed(format!("closing the database panicked: {e}")))?;
    served.map_err(|e| CliError::Failed(format!("the HTTP server failed: {e}")))?;
    flight_served.map_err(|e| CliError::Failed(format!("the Flight SQL server failed: {e}")))?;
    closed?;
    tracing::info!("database closed; bye");
    Ok(())
}

/// How often the server looks for partitions due for the cold tier.
const TIER_CHECK: Duration = Duration::from_secs(60);

/// Tiers what is due now and every [`TIER_CHECK`] until `stop` completes.
async fn tier_periodically(db: Arc<Db>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        match db.tier_due().await {
            Ok(files) if !files.is_empty() => {
                let bytes: u64 = files.iter().map(|f| f.size).sum();
                tracing::info!(files = files.len(), bytes, "partitions moved to the cold tier");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "tiering failed; retried at the next check"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(TIER_CHECK) => {}
        }
    }
}

/// One shutdown signal for several servers: every [`Shutdown::wait`]
/// completes once the signal has.
struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            // An error means the sender is gone, which only happens after it signalled.
            let _ = rx.wait_for(|&stop| stop).await;
        }
    }
}

/// Shares `signal` between the servers.
fn shared(signal: impl std::future::Future<Output = ()> + Send + 'static) -> Shutdown {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = tx.send(true);
    });
    Shutdown(rx)
}

/// Installs the SIGINT and SIGTERM handlers now (before the address is
/// announced, so a signal sent right after never kills the process
/// unflushed) and returns a future that completes on the first of them.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| CliError::Failed(format!("cannot listen for {name}: {e}")))
    };
    let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received; shutting down");
        }
    })
}
