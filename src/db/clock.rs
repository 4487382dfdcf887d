//! The clock retention reads "now" from: the system clock by default, or
//! one a test or an embedder sets ([`ManualClock`]), so expiry can be
//! tested without sleeping.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a database reads the current time (nanoseconds since the Unix epoch, UTC).
pub trait Clock: Debug + Send + Sync {
    /// Now, in nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// A clock that reads what it was last set to; clones share the time.
///
/// ```
/// use std::sync::Arc;
/// use chronicle::{Config, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// let config = Config::default().with_clock(Arc::new(clock.clone()));
/// clock.advance(500);
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `now_ns`.
    pub fn new(now_ns: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_ns)))
    }

    /// Sets the time.
    pub fn set(&self, now_ns: i64) {
        self.0.store(now_ns, Ordering::SeqCst);
    }

    /// Moves the time by `ns` (saturating).
    pub fn advance(&self, ns: i64) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| Some(t.saturating_add(ns)));
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
