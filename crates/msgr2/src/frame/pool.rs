//! Reusable receive buffers for large frames.
//!
//! A 4 MiB read reply received into a fresh allocation costs ~1,000 page faults (the memory
//! is first touched by the socket copy, and glibc hands it back to the kernel when the reply
//! is dropped). The pool keeps a few large buffers per connection and lends one to each
//! large frame; the frame's segments are `Bytes` slices of it, as before (zero-copy). A
//! buffer goes back into service once every slice of its last frame has been dropped: the
//! pool keeps one empty `BytesMut` handle on each buffer and asks `BytesMut::try_reclaim`,
//! which succeeds only when that handle is the last one. A buffer that the caller keeps is
//! therefore never overwritten; if it is kept for long, the pool forgets it (the caller's
//! slices keep the memory alive, and free it when dropped) and may allocate another.
//!
//! Each decoder has a pool of its own unless it is given a [`SharedRecvPool`]: then several
//! connections (e.g. every OSD session of one client) draw from one set of buffers, bounded
//! in total. A buffer is busy only from the start of its frame's receipt until the caller
//! drops the reply, and a connection receives one frame at a time, so a client needs about
//! one buffer per busy connection plus the replies its callers still hold; separate pools
//! each grow to their own connection's peak instead. The pool never waits for a buffer:
//! when all are busy a frame gets a one-off allocation, so a caller holding every buffer
//! cannot stall the connections.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::BytesMut;

/// How the decoder pools receive buffers of large frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvPoolLimits {
    /// Frames at least this long on the wire are received into a pooled buffer; smaller
    /// ones share the connection's ordinary receive buffer. `usize::MAX` disables pooling.
    pub min_frame: usize,
    /// Most buffers the pool keeps.
    pub max_buffers: usize,
    /// Most bytes the pool keeps (sum of its buffers' sizes). A frame larger than this is
    /// received into a buffer of its own, freed when its slices are dropped.
    pub max_bytes: usize,
}

impl Default for RecvPoolLimits {
    /// Frames of 256 KiB and more; up to 8 buffers and 32 MiB per connection: 8 replies of
    /// 4 MiB in flight on one connection (a client's 16 in flight spread over its OSDs
    /// rarely need more; beyond that frames get one-off buffers). The pool is per
    /// connection, so a client's total is this times its busy OSD connections.
    fn default() -> Self {
        RecvPoolLimits {
            min_frame: 256 << 10,
            max_buffers: 8,
            max_bytes: 32 << 20,
        }
    }
}

/// Counters of what the pool did (for tests and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvPoolStats {
    /// Frames received into a pooled buffer that had been used before.
    pub reused: u64,
    /// Buffers allocated and added to the pool.
    pub allocated: u64,
    /// Frames received into a one-off buffer (pool full, or frame above its limits).
    pub unpooled: u64,
    /// Buffers the pool forgot (kept by the caller for long, or too small).
    pub dropped: u64,
}

/// A buffer not lent again for this many large frames is forgotten: either the caller keeps
/// its last frame, or the connection's working set is smaller (the pool shrinks to it).
const KEPT_AFTER_FRAMES: u32 = 64;

#[derive(Debug)]
struct Slot {
    /// An empty handle on the buffer (capacity 0); unique once the frame's slices are gone.
    handle: BytesMut,
    /// The buffer's size.
    size: usize,
    /// Large frames received since this buffer was last lent.
    lent_for: u32,
}

/// A receive-buffer pool that several connections' decoders share (see
/// [`FrameDecoder::use_recv_pool`](super::FrameDecoder::use_recv_pool) and
/// `ConnectionConfig::recv_pool`); cloning it gives another handle on the same buffers. The
/// limits bound the pool's total; frames beyond them get one-off buffers.
#[derive(Debug, Clone)]
pub struct SharedRecvPool {
    /// Copied out of the limits so that small frames never take the lock.
    min_frame: usize,
    inner: Arc<Mutex<RecvPool>>,
}

impl SharedRecvPool {
    /// An empty pool with these limits (buffers are allocated on demand).
    pub fn new(limits: RecvPoolLimits) -> Self {
        SharedRecvPool {
            min_frame: limits.min_frame,
            inner: Arc::new(Mutex::new(RecvPool::new(limits))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecvPool> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's limits.
    pub fn limits(&self) -> RecvPoolLimits {
        self.lock().limits
    }

    /// What the pool has done so far, for all its connections together.
    pub fn stats(&self) -> RecvPoolStats {
        self.lock().stats
    }

    /// Bytes held in pooled buffers (busy or free).
    pub fn pooled_bytes(&self) -> usize {
        self.lock().pooled_bytes
    }

    /// True if the next large frame would get a pooled buffer (a free one, or a new one
    /// within the limits) rather than a one-off allocation. A driver that receives faster
    /// than its callers consume can wait a little while this is false (it must not wait
    /// for long: the callers may be holding every buffer until more replies arrive).
    pub fn has_room(&self) -> bool {
        self.lock().has_room()
    }

    /// True if a frame of `len` on-wire bytes should go into a pooled buffer.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.min_frame
    }

    /// An empty buffer of capacity exactly `len`: a free pooled one, a new pooled one if the
    /// limits allow, else a one-off allocation. Never waits.
    pub(crate) fn take(&self, len: usize) -> BytesMut {
        self.lock().take(len)
    }
}

/// The buffers of one pool.
#[derive(Debug, Default)]
struct RecvPool {
    limits: RecvPoolLimits,
    slots: Vec<Slot>,
    pooled_bytes: usize,
    stats: RecvPoolStats,
}

impl RecvPool {
    fn new(limits: RecvPoolLimits) -> Self {
        RecvPool {
            limits,
            ..RecvPool::default()
        }
    }

    /// See [`SharedRecvPool::has_room`]: a free buffer, or room for another of the smallest
    /// pooled size; also true for a pool that keeps no buffers (waiting would not help).
    fn has_room(&mut self) -> bool {
        if self.limits.max_buffers == 0 || self.limits.max_bytes < self.limits.min_frame {
            return true;
        }
        let grow = self.slots.len() < self.limits.max_buffers
            && self.pooled_bytes.saturating_add(self.limits.min_frame) <= self.limits.max_bytes;
        grow || self.slots.iter_mut().any(|s| is_free(&mut s.handle))
    }

    /// An empty buffer whose capacity is exactly `len` (reads into it cannot run past the
    /// frame).
    fn take(&mut self, len: usize) -> BytesMut {
        for slot in &mut self.slots {
            slot.lent_for = slot.lent_for.saturating_add(1);
        }
        // the smallest free buffer that fits
        let mut best: Option<(usize, usize)> = None;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let smaller = best.is_none_or(|(_, size)| slot.size < size);
            if slot.size >= len && smaller && is_free(&mut slot.handle) {
                best = Some((i, slot.size));
            }
        }
        if let Some(slot) = best.and_then(|(i, _)| self.slots.get_mut(i)) {
            slot.lent_for = 0;
            self.stats.reused += 1;
            return lend(&mut slot.handle, len);
        }
        self.forget_kept();
        if len <= self.limits.max_bytes {
            self.make_room(len);
            if self.slots.len() < self.limits.max_buffers
                && self.pooled_bytes + len <= self.limits.max_bytes
            {
                let mut handle = BytesMut::with_capacity(len);
                let buf = lend(&mut handle, len);
                self.slots.push(Slot {
                    handle,
                    size: len,
                    lent_for: 0,
                });
                self.pooled_bytes += len;
                self.stats.allocated += 1;
                return buf;
            }
        }
        self.stats.unpooled += 1;
        exact(BytesMut::with_capacity(len), len)
    }

    /// Forgets buffers not lent for many frames: kept by the caller (the memory is the
    /// caller's now) or not needed.
    fn forget_kept(&mut self) {
        let before = self.slots.len();
        let mut freed = 0;
        self.slots.retain(|s| {
            let keep = s.lent_for < KEPT_AFTER_FRAMES;
            if !keep {
                freed += s.size;
            }
            keep
        });
        self.pooled_bytes -= freed;
        self.stats.dropped += (before - self.slots.len()) as u64;
    }

    /// Frees idle buffers (too small for `len`, since no fitting one was free) until a
    /// buffer of `len` fits within the limits, or none is left to free.
    fn make_room(&mut self, len: usize) {
        while self.slots.len() >= self.limits.max_buffers
            || self.pooled_bytes + len > self.limits.max_bytes
        {
            let Some(i) = self.slots.iter_mut().position(|s| is_free(&mut s.handle)) else {
                return;
            };
            let slot = self.slots.swap_remove(i);
            self.pooled_bytes -= slot.size;
            self.stats.dropped += 1;
        }
    }
}

/// True if nothing but the pool's handle refers to the buffer. Never allocates.
fn is_free(handle: &mut BytesMut) -> bool {
    // the handle has capacity 0, so this asks the shared buffer whether it is unique; on
    // success the handle gets capacity 1 (no copy), given back by `lend`'s split
    handle.try_reclaim(1)
}

/// Splits the whole buffer off the pool's handle, limited to `len` bytes of capacity.
fn lend(handle: &mut BytesMut, len: usize) -> BytesMut {
    if handle.capacity() < len && !handle.try_reclaim(len) {
        // not reachable for a free buffer of at least `len` bytes; stay correct anyway
        return exact(BytesMut::with_capacity(len), len);
    }
    exact(handle.split_off(0), len)
}

/// `buf` with its capacity cut to `len`, so that a read into it stops at the frame's end.
fn exact(mut buf: BytesMut, len: usize) -> BytesMut {
    if buf.capacity() > len {
        // the rest of the capacity goes to a handle dropped at once
        drop(buf.split_off(len));
    }
    buf
}
