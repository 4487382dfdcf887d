//! The runtime synchronous callers run the cold tier's I/O on.
//!
//! [`crate::Db::scan`] and what is built on it (PromQL selectors, remote
//! read, the series and label listings), [`crate::Db::delete`] and
//! compaction are synchronous, while a plan over tiered partitions
//! (DataFusion's operators) and the object store's client need a tokio
//! runtime. One thread per process runs a current-thread runtime for the
//! life of the process, driving its I/O and timers; a caller runs its
//! future on a thread of its own inside that runtime's context (so it may
//! borrow), from any thread, inside another runtime or not. One long-lived
//! runtime rather than one per call: an S3 client's pooled connections
//! belong to the runtime that opened them.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

use crate::error::{Error, Result};

/// The runtime's handle, or why it did not start.
static RUNTIME: OnceLock<Result<Handle, String>> = OnceLock::new();

/// Starts the thread and its runtime.
fn start() -> Result<Handle, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("chronicle-tier-io".into())
        .spawn(move || match Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => {
                let _ = tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(std::future::pending::<()>());
            }
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())?
}

/// Runs `work` to completion in the tier's runtime and returns its answer.
pub(crate) fn run<T: Send>(work: impl Future<Output = Result<T>> + Send) -> Result<T> {
    let handle = RUNTIME
        .get_or_init(start)
        .as_ref()
        .map_err(|e| Error::Internal(format!("the cold tier's I/O thread did not start: {e}")))?;
    // A thread of its own: `Handle::block_on` refuses a thread that is
    // already in a runtime, as the caller's may be.
    std::thread::scope(|s| s.spawn(|| handle.block_on(work)).join())
        .map_err(|_| Error::Internal("the cold tier's I/O panicked".into()))?
}
