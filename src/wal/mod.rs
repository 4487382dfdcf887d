//! The write-ahead log: every acknowledged write is in it before it is in memory.
//!
//! A directory of segment files ([`segment`] has the byte layout) holding
//! length- and CRC-framed records with growing log sequence numbers (LSNs).
//! [`Wal::append`] frames and writes a record and, under
//! [`SyncPolicy::Always`], returns only once an fsync covers it, with
//! concurrent writers sharing one fsync (group commit, see [`writer`]).
//! [`Wal::open`] replays the log ([`recovery`]): intact records come back in
//! order, a torn or corrupt tail is cut off and reported, never fatal.
//! [`Wal::checkpoint`] removes segments once their data is durable elsewhere.

pub mod error;
pub mod recovery;
pub mod segment;
pub mod writer;

pub use error::Error;
pub use recovery::{Damage, RecoveryReport};
pub use writer::{SyncPolicy, Wal, WalOptions};
