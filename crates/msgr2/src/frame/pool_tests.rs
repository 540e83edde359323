#![allow(clippy::cast_possible_truncation)]

//! The receive-buffer pool of large frames, through the decoder as the driver uses it.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::crypto::secure_pair;

const SECRET: [u8; 64] = [0x5c; 64];

fn message(data_len: usize, fill: u8) -> Frame {
    Frame {
        tag: Tag::MESSAGE,
        segments: [
            Bytes::from(vec![1u8; 41]),
            Bytes::from(vec![2u8; 100]),
            Bytes::new(),
            Bytes::from(
                (0..data_len)
                    .map(|i| fill ^ (i % 253) as u8)
                    .collect::<Vec<u8>>(),
            ),
        ],
        data_tail: Vec::new(),
    }
}

fn limits(min_frame: usize, max_buffers: usize, max_bytes: usize) -> FrameLimits {
    FrameLimits {
        recv_pool: RecvPoolLimits {
            min_frame,
            max_buffers,
            max_bytes,
        },
        ..FrameLimits::default()
    }
}

/// Both ends of one direction of a connection, crc or secure.
struct Link {
    enc: FrameEncoder,
    dec: FrameDecoder,
    input: BytesMut,
}

impl Link {
    fn crc(limits: FrameLimits) -> Self {
        Link {
            enc: FrameEncoder::crc(),
            dec: FrameDecoder::crc(limits),
            input: BytesMut::new(),
        }
    }

    fn secure(limits: FrameLimits) -> Self {
        let (_, tx) = secure_pair(&SECRET, true).unwrap();
        let (rx, _) = secure_pair(&SECRET, false).unwrap();
        Link {
            enc: FrameEncoder::secure(tx),
            dec: FrameDecoder::secure(rx, limits),
            input: BytesMut::new(),
        }
    }

    /// Sends `frames` and receives them as the driver does: reads of at most `chunk` bytes
    /// into whatever `recv_target` offers (never past a pooled buffer's capacity).
    fn transfer(&mut self, frames: &[Frame], chunk: usize) -> Vec<Frame> {
        let mut wire = Vec::new();
        for f in frames {
            let mut out = Vec::new();
            self.enc.encode(f, &mut out).unwrap();
            for c in out {
                wire.extend_from_slice(&c);
            }
        }
        let mut got = Vec::new();
        let mut pos = 0;
        loop {
            while let Some(f) = self.dec.decode(&mut self.input).unwrap() {
                got.push(f);
            }
            if pos == wire.len() {
                break;
            }
            let large = self.dec.receiving_large(&self.input);
            let target = self.dec.recv_target(&mut self.input);
            let room = if large {
                target.capacity() - target.len()
            } else {
                chunk
            };
            assert!(room > 0);
            let n = chunk.min(room).min(wire.len() - pos);
            let before = target.as_ptr();
            target.extend_from_slice(&wire[pos..pos + n]);
            if large {
                assert_eq!(target.as_ptr(), before, "a pooled buffer never moves");
            }
            pos += n;
        }
        assert_eq!(got.as_slice(), frames);
        assert!(self.input.is_empty());
        assert_eq!(self.dec.buffered(&self.input), 0);
        got
    }

    fn stats(&self) -> RecvPoolStats {
        self.dec.pool_stats()
    }
}

fn data_ptr(f: &Frame) -> usize {
    f.segments[3].as_ptr() as usize
}

#[test]
fn a_dropped_frames_buffer_is_reused() {
    for secure in [false, true] {
        let lim = limits(64 << 10, 4, 16 << 20);
        let mut link = if secure {
            Link::secure(lim)
        } else {
            Link::crc(lim)
        };
        let first = link.transfer(&[message(1 << 20, 1)], 64 << 10);
        let ptr = data_ptr(&first[0]);
        drop(first);
        for round in 0..5u8 {
            let again = link.transfer(&[message(1 << 20, round)], 64 << 10);
            assert_eq!(data_ptr(&again[0]), ptr, "secure={secure} round {round}");
        }
        assert_eq!(
            link.stats(),
            RecvPoolStats {
                reused: 5,
                allocated: 1,
                unpooled: 0,
                dropped: 0
            },
            "secure={secure}"
        );
        // a smaller large frame fits the same buffer
        let smaller = link.transfer(&[message(200 << 10, 9)], 4096);
        assert_eq!(data_ptr(&smaller[0]), ptr, "secure={secure}");
    }
}

#[test]
fn a_buffer_still_referenced_is_not_overwritten() {
    for secure in [false, true] {
        let lim = limits(64 << 10, 4, 16 << 20);
        let mut link = if secure {
            Link::secure(lim)
        } else {
            Link::crc(lim)
        };
        let kept = link.transfer(&[message(300 << 10, 1)], 100_000);
        // only a slice of the frame is kept: it still pins the buffer
        let data = kept[0].segments[3].slice(10..20_000);
        drop(kept);
        let next = link.transfer(&[message(300 << 10, 2)], 100_000);
        assert_ne!(data_ptr(&next[0]), data.as_ptr() as usize - 10);
        assert_eq!(data, message(300 << 10, 1).segments[3].slice(10..20_000));
        assert_eq!(link.stats().allocated, 2);
        drop(data);
        drop(next);
        link.transfer(&[message(300 << 10, 3)], 100_000);
        assert_eq!(link.stats().reused, 1, "secure={secure}");
    }
}

#[test]
fn back_to_back_frames_in_one_stream_mix_pooled_and_small() {
    let mut link = Link::crc(limits(64 << 10, 4, 16 << 20));
    let frames = [
        message(10, 1),
        message(500 << 10, 2),
        message(0, 3),
        message(70 << 10, 4),
        message(64 << 10, 5),
        message(1, 6),
    ];
    // odd read sizes put frame boundaries in the middle of reads
    for chunk in [1 << 20, 65_537, 4093, 333] {
        let got = link.transfer(&frames, chunk);
        drop(got);
    }
    let stats = link.stats();
    assert_eq!(stats.unpooled, 0);
    // at most one buffer per large frame of the batch (all are held until it ends)
    assert!(stats.allocated <= 3, "{stats:?}");
}

#[test]
fn small_frames_and_whole_frames_in_the_buffer_skip_the_pool() {
    let mut link = Link::crc(limits(64 << 10, 4, 16 << 20));
    link.transfer(&[message(60 << 10, 1), message(10, 2)], 4096);
    assert_eq!(link.stats(), RecvPoolStats::default());
    // a large frame already complete in the receive buffer is split off it, not copied
    let mut wire = Vec::new();
    link.enc.encode(&message(1 << 20, 3), &mut wire).unwrap();
    let mut input = BytesMut::new();
    for c in wire {
        input.extend_from_slice(&c);
    }
    let f = link.dec.decode(&mut input).unwrap().unwrap();
    assert_eq!(f, message(1 << 20, 3));
    assert_eq!(link.stats(), RecvPoolStats::default());
}

#[test]
fn the_pool_stays_within_its_limits() {
    // two buffers of at most 1.5 MiB
    let mut link = Link::crc(limits(64 << 10, 2, 1536 << 10));
    let held: Vec<Frame> = (0..4)
        .flat_map(|i| link.transfer(&[message(512 << 10, i)], 64 << 10))
        .collect();
    let s = link.stats();
    assert_eq!((s.allocated, s.unpooled), (2, 2), "{s:?}");
    assert!(link.dec.pooled_bytes() <= 1536 << 10);
    drop(held);
    // too large for the pool's byte limit: a buffer of its own, every time
    for _ in 0..2 {
        link.transfer(&[message(2 << 20, 7)], 64 << 10);
    }
    assert_eq!(link.stats().unpooled, 4);
    // a larger frame replaces the idle buffers that are too small (both: 1.5 MiB in all)
    link.transfer(&[message(1 << 20, 8)], 64 << 10);
    let s = link.stats();
    assert_eq!((s.allocated, s.dropped), (3, 2), "{s:?}");
    assert!(link.dec.pooled_bytes() <= 1536 << 10);
}

#[test]
fn buffers_the_caller_keeps_are_forgotten() {
    let mut link = Link::crc(limits(64 << 10, 2, 16 << 20));
    let kept = link.transfer(&[message(100 << 10, 1)], 64 << 10);
    for i in 0..80u8 {
        link.transfer(&[message(100 << 10, i)], 64 << 10);
    }
    let s = link.stats();
    assert_eq!((s.allocated, s.reused, s.dropped), (2, 79, 0), "{s:?}");
    // two frames at once need two buffers: the kept one is forgotten, not reused
    link.transfer(&[message(100 << 10, 2), message(100 << 10, 3)], 64 << 10);
    let s = link.stats();
    assert_eq!((s.allocated, s.reused, s.dropped), (3, 80, 1), "{s:?}");
    assert_eq!(kept[0], message(100 << 10, 1));
    assert_eq!(
        link.dec.pooled_bytes(),
        2 * ((100 << 10) + 41 + 100 + 32 + 4 + 13)
    );
}

#[test]
fn a_closing_connection_drops_its_partial_frame() {
    let mut link = Link::crc(limits(64 << 10, 2, 16 << 20));
    let mut wire = Vec::new();
    link.enc.encode(&message(1 << 20, 1), &mut wire).unwrap();
    let mut input = BytesMut::new();
    input.extend_from_slice(&wire[0][..]);
    assert!(link.dec.decode(&mut input).unwrap().is_none());
    assert!(link.dec.receiving_large(&input));
    assert!(link.dec.buffered(&input) > 0 && input.is_empty());
    link.dec.discard_partial();
    assert_eq!(link.dec.buffered(&input), 0);
    assert!(!link.dec.receiving_large(&input));
}

/// `n` crc links whose decoders share one pool with these limits.
fn sharing(n: usize, max_buffers: usize, max_bytes: usize) -> (SharedRecvPool, Vec<Link>) {
    let pool = SharedRecvPool::new(RecvPoolLimits {
        min_frame: 64 << 10,
        max_buffers,
        max_bytes,
    });
    let links = (0..n)
        .map(|_| {
            let mut link = Link::crc(FrameLimits::default());
            link.dec.use_recv_pool(pool.clone());
            link
        })
        .collect();
    (pool, links)
}

#[test]
fn connections_sharing_a_pool_reuse_each_others_buffers() {
    let (pool, mut links) = sharing(3, 2, 16 << 20);
    let first = links[0].transfer(&[message(1 << 20, 1)], 64 << 10);
    let ptr = data_ptr(&first[0]);
    drop(first);
    for round in 0..6 {
        let link = &mut links[(round + 1) % 3];
        let got = link.transfer(&[message(1 << 20, round as u8)], 100_000);
        assert_eq!(data_ptr(&got[0]), ptr, "round {round}");
    }
    let s = pool.stats();
    assert_eq!((s.allocated, s.reused, s.unpooled), (1, 6, 0), "{s:?}");
    assert_eq!(links[2].dec.pool_stats(), s);
    assert_eq!(links[1].dec.pooled_frames(), 2);
    assert_eq!(pool.pooled_bytes(), links[0].dec.pooled_bytes());
}

#[test]
fn a_shared_pool_is_bounded_in_total() {
    let (pool, mut links) = sharing(3, 2, 16 << 20);
    assert!(pool.has_room());
    let held: Vec<Frame> = links
        .iter_mut()
        .flat_map(|l| l.transfer(&[message(512 << 10, 1)], 64 << 10))
        .collect();
    // two pooled buffers, both busy; the third connection's frame got a one-off buffer
    let s = pool.stats();
    assert_eq!((s.allocated, s.unpooled), (2, 1), "{s:?}");
    assert!(pool.pooled_bytes() < 2 * (520 << 10));
    assert!(!pool.has_room());
    let mut held = held.into_iter();
    drop(held.next());
    assert!(pool.has_room(), "a dropped reply frees its buffer");
    // the byte limit counts too: a busy buffer of ~2,000 KiB leaves no room for another
    // large frame (64 KiB and up) in a 2 MiB pool; one of ~1.5 MiB would
    let (pool, mut links) = sharing(1, 4, 2 << 20);
    let kept = links[0].transfer(&[message(2000 << 10, 2)], 64 << 10);
    assert_eq!(pool.stats().allocated, 1);
    assert!(!pool.has_room());
    drop(kept);
    assert!(pool.has_room());
    // a pool that keeps no buffers never has anything to wait for
    let (pool, mut links) = sharing(1, 0, 2 << 20);
    let kept = links[0].transfer(&[message(100 << 10, 3)], 64 << 10);
    assert_eq!(pool.stats().unpooled, 1);
    assert!(pool.has_room());
    drop(kept);
}

#[test]
fn a_caller_holding_every_buffer_does_not_stall_receipt() {
    // the pool never waits: frames beyond its buffers get one-off allocations, so a caller
    // that keeps every reply while it waits for more still gets them
    let (pool, mut links) = sharing(2, 2, 16 << 20);
    let mut held = Vec::new();
    for i in 0..10u8 {
        let link = &mut links[usize::from(i % 2)];
        held.extend(link.transfer(&[message(300 << 10, i), message(10, i)], 50_000));
    }
    assert_eq!(held.len(), 20);
    for (i, f) in held.chunks(2).enumerate() {
        assert_eq!(f[0], message(300 << 10, i as u8));
    }
    let s = pool.stats();
    assert_eq!((s.allocated, s.unpooled), (2, 8), "{s:?}");
    assert!(!pool.has_room());
    // once the caller lets go, the pool's buffers serve again
    drop(held);
    assert!(pool.has_room());
    links[1].transfer(&[message(300 << 10, 1)], 50_000);
    assert_eq!(pool.stats().reused, 1);
}
