//! The thread PromQL queries are planned and run on. A plan is as deep as
//! its expression, and planning, DataFusion's walks over the plan, the
//! nested streams of its execs and dropping it all recurse once per level:
//! a chain of binary operators as long as the guard admits
//! ([`super::guard`]) needs far more stack than a runtime's or a test's
//! thread has. So each query runs on a thread of its own whose stack fits
//! the deepest admitted expression; the memory is reserved, and only the
//! pages a query touches are used.

use std::thread;

use super::error::{PromError, Result};

/// The stack of a query's thread: enough for the deepest expression the
/// guard admits, in a debug build.
const STACK_BYTES: usize = 512 << 20;

/// Runs `f` on a thread with [`STACK_BYTES`] of stack and waits for it.
pub(crate) fn on_query_thread<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    thread::scope(|scope| {
        let thread = thread::Builder::new()
            .name("promql-query".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| PromError::Execution(format!("cannot start the query's thread: {e}")))?;
        thread.join().unwrap_or_else(|_| Err(PromError::Execution("the query's thread panicked".into())))
    })
}
