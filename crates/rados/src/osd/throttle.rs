//! Backpressure on OSD ops (the Objecter's `op_throttle_ops` / `op_throttle_bytes`):
//! at most `objecter_inflight_ops` ops and `objecter_inflight_op_bytes` bytes in flight.
//!
//! A request larger than the whole byte budget is charged the whole budget, so it passes
//! once nothing else is in flight instead of waiting forever; waiting is first come,
//! first served and cancel-safe (dropping a waiting future gives nothing back because it
//! holds nothing yet).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// The two budgets; a limit of 0 means unlimited.
#[derive(Debug)]
pub(crate) struct Throttle {
    ops: Option<Arc<Semaphore>>,
    bytes: Option<Arc<Semaphore>>,
    max_bytes: u64,
}

/// What an op holds while in flight; dropping it returns the budget.
#[derive(Debug)]
pub(crate) struct Permits {
    _ops: Option<OwnedSemaphorePermit>,
    _bytes: Option<OwnedSemaphorePermit>,
}

impl Throttle {
    /// Limits of `max_ops` ops and `max_bytes` bytes (0 = no limit).
    pub(crate) fn new(max_ops: u64, max_bytes: u64) -> Self {
        // tokio caps a semaphore's permits; clamp far above any sane budget
        let cap = |n: u64| {
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(Semaphore::MAX_PERMITS)
        };
        let max_bytes = max_bytes.min(u64::from(u32::MAX));
        Throttle {
            ops: (max_ops > 0).then(|| Arc::new(Semaphore::new(cap(max_ops)))),
            bytes: (max_bytes > 0).then(|| Arc::new(Semaphore::new(cap(max_bytes)))),
            max_bytes,
        }
    }

    /// Waits for room for one op of `bytes` bytes.
    pub(crate) async fn acquire(&self, bytes: u64) -> Result<Permits> {
        let bytes_permit = match &self.bytes {
            Some(s) if bytes > 0 => {
                let n = u32::try_from(bytes.min(self.max_bytes)).unwrap_or(u32::MAX);
                Some(
                    Arc::clone(s)
                        .acquire_many_owned(n)
                        .await
                        .map_err(|_| Error::Shutdown)?,
                )
            }
            _ => None,
        };
        let ops_permit = match &self.ops {
            Some(s) => Some(
                Arc::clone(s)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::Shutdown)?,
            ),
            None => None,
        };
        Ok(Permits {
            _ops: ops_permit,
            _bytes: bytes_permit,
        })
    }

    /// Ends all waiting: later and pending acquisitions fail with [`Error::Shutdown`].
    pub(crate) fn close(&self) {
        if let Some(s) = &self.ops {
            s.close();
        }
        if let Some(s) = &self.bytes {
            s.close();
        }
    }

    /// Ops that could start now without waiting.
    #[cfg(test)]
    pub(crate) fn available_ops(&self) -> Option<usize> {
        self.ops.as_ref().map(|s| s.available_permits())
    }

    /// Bytes that could be charged now without waiting.
    #[cfg(test)]
    pub(crate) fn available_bytes(&self) -> Option<usize> {
        self.bytes.as_ref().map(|s| s.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_oversized_request_passes_when_alone() {
        let t = Throttle::new(4, 100);
        // far larger than the budget: takes all of it, does not wait forever
        let big = tokio::time::timeout(Duration::from_secs(1), t.acquire(u64::MAX))
            .await
            .expect("an oversized request alone must pass")
            .unwrap();
        assert_eq!(t.available_bytes(), Some(0));
        // a small one now waits for it
        let small = t.acquire(10);
        tokio::pin!(small);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut small)
                .await
                .is_err()
        );
        drop(big);
        let s = tokio::time::timeout(Duration::from_secs(1), small)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.available_bytes(), Some(90));
        assert_eq!(t.available_ops(), Some(3));
        drop(s);
        assert_eq!(t.available_ops(), Some(4));
    }

    #[tokio::test]
    async fn op_count_limit_and_cancel_safety() {
        let t = Throttle::new(2, 0);
        let a = t.acquire(0).await.unwrap();
        let _b = t.acquire(1 << 40).await.unwrap();
        {
            // a waiter dropped before it got anything leaves the budget alone
            let waiting = t.acquire(5);
            assert!(
                tokio::time::timeout(Duration::from_millis(20), waiting)
                    .await
                    .is_err()
            );
        }
        assert_eq!(t.available_ops(), Some(0));
        drop(a);
        assert_eq!(t.available_ops(), Some(1));
        t.close();
        assert!(matches!(t.acquire(1).await, Err(Error::Shutdown)));
        // unlimited
        let free = Throttle::new(0, 0);
        assert!(free.acquire(1 << 50).await.is_ok());
        assert_eq!(free.available_ops(), None);
    }
}
