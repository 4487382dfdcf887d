//! Time buckets: `date_bin(stride, time, origin)` with a fixed stride, as
//! the query layer recognises it and the storage layer uses it to bound
//! scans.

use std::fmt;

/// `date_bin(stride, time, origin)` with a stride of whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBucket {
    /// Bucket width in nanoseconds, positive.
    pub stride: i64,
    /// A bucket boundary, in nanoseconds (the epoch unless given).
    pub origin: i64,
}

impl TimeBucket {
    /// The start of the bucket holding `t`, as DataFusion's `date_bin`
    /// computes it (the floor to a multiple of the stride from the origin);
    /// `None` where that computation overflows (`date_bin` fails there).
    pub fn of(&self, t: i64) -> Option<i64> {
        let from_origin = t.checked_sub(self.origin)?;
        let delta = from_origin.div_euclid(self.stride).checked_mul(self.stride)?;
        self.origin.checked_add(delta)
    }
}

impl fmt::Display for TimeBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stride % 1_000_000_000 {
            0 => write!(f, "date_bin({}s", self.stride / 1_000_000_000)?,
            _ => write!(f, "date_bin({}ns", self.stride)?,
        }
        match self.origin {
            0 => write!(f, ")"),
            origin => write!(f, ", origin={origin})"),
        }
    }
}
