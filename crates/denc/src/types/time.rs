//! `utime_t` (src/include/utime.h).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Decode, Encode, Reader, Result, Writer};

/// A wall-clock time as Ceph encodes it: le32 seconds and le32 nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UTime {
    /// Seconds since the Unix epoch.
    pub sec: u32,
    /// Nanoseconds within the second.
    pub nsec: u32,
}

impl UTime {
    /// A time from seconds and nanoseconds.
    pub const fn new(sec: u32, nsec: u32) -> Self {
        UTime { sec, nsec }
    }

    /// The current time (saturating at the limits of the 32-bit seconds field).
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// As a duration since the epoch (nanoseconds above 10^9 carry into seconds).
    pub fn as_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.sec)) + Duration::from_nanos(u64::from(self.nsec))
    }

    /// True for the zero time, which Ceph uses for "unset".
    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.nsec == 0
    }
}

impl From<SystemTime> for UTime {
    fn from(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        UTime {
            sec: u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
            nsec: d.subsec_nanos(),
        }
    }
}

impl From<UTime> for SystemTime {
    fn from(t: UTime) -> Self {
        UNIX_EPOCH + t.as_duration()
    }
}

impl fmt::Display for UTime {
    /// Seconds and microseconds, as Ceph prints a relative `utime_t`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.sec, self.nsec / 1000)
    }
}

impl Decode for UTime {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(UTime {
            sec: r.u32()?,
            nsec: r.u32()?,
        })
    }
}

impl Encode for UTime {
    fn encode(&self, w: &mut Writer) {
        w.put_u32(self.sec);
        w.put_u32(self.nsec);
    }
}
