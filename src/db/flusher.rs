//! The flush thread: runs the flushes writes find due, and the WAL's
//! segment upkeep, so no writer waits for encoding or an fsync.
//!
//! A write that finds partitions due (under the state lock) adds them to
//! `State::due` and rings [`FlushBell`]; the thread wakes, and runs
//! [`super::Inner::flush`] with [`Which::Due`] under the flush mutex. Rings
//! while a flush runs coalesce into one more flush. A write that finds the
//! WAL wanting upkeep (a spare segment to prepare, a closed one to make
//! durable: [`crate::wal::Wal::maintain`]) rings too. A flush that fails has
//! poisoned the database; the thread logs it and the next call reports it.
//! After each flush, and whenever `check_interval` passes without a ring,
//! it asks the compaction policy ([`super::compaction_policy`]) whether a
//! compaction is due, and runs it.
//! The thread holds the database alive while it runs and stops when its
//! owner ([`Flusher`], dropped with the last [`super::Db`] clone) says so,
//! finishing the flush in hand first.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Inner;
use super::flush::Which;
use crate::error::Error;

#[derive(Debug, Default)]
struct Rung {
    /// A flush was asked for since the thread last looked.
    flush: bool,
    /// WAL upkeep was asked for since the thread last looked.
    wal: bool,
    /// The thread should stop.
    stop: bool,
}

/// How writers wake the flush thread.
#[derive(Debug, Default)]
pub(super) struct FlushBell {
    rung: Mutex<Rung>,
    changed: Condvar,
}

impl FlushBell {
    /// Asks for a flush of the partitions found due.
    pub fn ring_flush(&self) {
        self.ring(|rung| rung.flush = true);
    }

    /// Asks for the WAL's segment upkeep.
    pub fn ring_wal(&self) {
        self.ring(|rung| rung.wal = true);
    }

    fn ring(&self, set: impl FnOnce(&mut Rung)) {
        if let Ok(mut rung) = self.rung.lock() {
            set(&mut rung);
            self.changed.notify_one();
        }
    }

    fn stop(&self) {
        self.ring(|rung| rung.stop = true);
    }

    /// Waits for a ring, or for `interval` to pass; returns what was asked
    /// for (flush, WAL upkeep: both false when the wait timed out), or
    /// `None` once the thread should stop.
    fn wait(&self, interval: Duration) -> Option<(bool, bool)> {
        let mut rung = self.rung.lock().ok()?;
        if !rung.flush && !rung.wal && !rung.stop {
            rung = self.changed.wait_timeout_while(rung, interval, |r| !r.flush && !r.wal && !r.stop).ok()?.0;
        }
        let asked = (std::mem::take(&mut rung.flush), std::mem::take(&mut rung.wal));
        (!rung.stop).then_some(asked)
    }
}

/// The flush thread's handle; stops and joins it when dropped.
#[derive(Debug)]
pub(super) struct Flusher {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flush thread of `inner`.
    pub fn start(inner: &Arc<Inner>) -> std::io::Result<Flusher> {
        let db = Arc::clone(inner);
        let thread = std::thread::Builder::new().name("chronicle-flush".into()).spawn(move || {
            let interval = db.config.compaction.check_interval;
            while let Some((flush, wal)) = db.bell.wait(interval) {
                if wal && let Err(e) = db.wal.maintain() {
                    tracing::warn!(error = %e, "WAL segment upkeep failed");
                }
                if flush {
                    match db.flush(Which::Due) {
                        Ok(()) | Err(Error::Closed) => {}
                        Err(e) => tracing::warn!(error = %e, "background flush failed"),
                    }
                }
                // After a flush, or a wait that timed out; not after WAL upkeep alone.
                if flush || !wal {
                    match db.compact_if_due() {
                        Ok(_) | Err(Error::Closed) => {}
                        Err(e) => tracing::warn!(error = %e, "background compaction failed"),
                    }
                }
            }
        })?;
        Ok(Flusher { inner: Arc::clone(inner), thread: Some(thread) })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.inner.bell.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The last handle is gone: close as `Db::close` would, ignoring
        // errors (they were or will be reported to the calls that hit them).
        self.inner.close_quietly();
    }
}
