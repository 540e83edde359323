//! Frame codec throughput: a MESSAGE frame encoded and decoded in crc and in secure mode, for
//! 4 KiB and 4 MiB data segments, beside the raw primitives on the same bytes (crc32c over
//! the payload, by `crc-fast` as the codec computes it, and for reference by the `crc32c`
//! crate the codec used before; AES-128-GCM sealing in place, which costs the same as
//! opening). Encoding and decoding each make one primitive pass, so each side's target is
//! within 1.5x of one raw pass; in crc mode the crcs a frame carries, timed alone ("crcs a
//! frame requires"), are the floor neither side can go below. Decoding works as the
//! connection does, on one receive buffer refilled by reads of up to 64 KiB. Results:
//! docs/benchmarks.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInOut, KeyInit};
use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use msgr2::{FrameDecoder, FrameEncoder, FrameLimits, Message, secure_pair};

const SIZES: [(usize, &str); 2] = [(4 << 10, "4KiB"), (4 << 20, "4MiB")];
/// The connection's least receive reservation (connection/mod.rs `READ_CHUNK`).
const READ_CHUNK: usize = 64 * 1024;

fn codecs(secure: bool) -> (FrameEncoder, FrameDecoder) {
    if secure {
        let secret: Vec<u8> = (0..64u8).collect();
        let (_, tx) = secure_pair(&secret, true).unwrap();
        let (rx, _) = secure_pair(&secret, false).unwrap();
        (
            FrameEncoder::secure(tx),
            FrameDecoder::secure(rx, FrameLimits::default()),
        )
    } else {
        (
            FrameEncoder::crc(),
            FrameDecoder::crc(FrameLimits::default()),
        )
    }
}

fn frame_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let data = Bytes::from(vec![0xa5u8; size]);
        // an MOSDOp-sized front and the payload as the data segment
        let frame = Message::new(42, 1, 3, Bytes::from(vec![1u8; 200]))
            .with_data(data)
            .to_frame();
        for (mode, secure) in [("crc", false), ("secure", true)] {
            let (mut enc, _) = codecs(secure);
            let mut chunks = Vec::new();
            group.bench_function(BenchmarkId::new(format!("encode {mode}"), label), |b| {
                b.iter(|| {
                    chunks.clear();
                    black_box(enc.encode(&frame, &mut chunks).unwrap());
                })
            });
            // Decoding starts from the bytes as the socket left them in the connection's
            // receive buffer (connection/mod.rs `recv_buffer` and `process`): one buffer kept
            // across reads, READ_CHUNK reserved before each read, which brings as many whole
            // frames as fit (at least one), all decoded before the next read. Filling it is
            // the kernel's copy and dropping the frames is their owner's work: neither is
            // timed. A fresh pair keeps the nonces of sender and receiver in step.
            let (mut enc, mut dec) = codecs(secure);
            let mut input = BytesMut::new();
            let crc_len = FrameEncoder::crc().encode(&frame, &mut Vec::new()).unwrap();
            let per_read = (READ_CHUNK / crc_len).max(1);
            let mut decoded = Vec::with_capacity(per_read);
            group.bench_function(BenchmarkId::new(format!("decode {mode}"), label), |b| {
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = per_read.min(usize::try_from(left).unwrap_or(usize::MAX));
                        input.reserve(READ_CHUNK);
                        for _ in 0..n {
                            chunks.clear();
                            enc.encode(&frame, &mut chunks).unwrap();
                            for chunk in &chunks {
                                input.extend_from_slice(chunk);
                            }
                        }
                        let start = Instant::now();
                        for _ in 0..n {
                            decoded.push(black_box(dec.decode(&mut input).unwrap().unwrap()));
                        }
                        elapsed += start.elapsed();
                        decoded.clear();
                        left -= n as u64;
                    }
                    elapsed
                })
            });
        }
    }
    group.finish();
}

fn raw_primitives(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw primitive, one pass");
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&[7u8; 16]).unwrap();
    let nonce = aes_gcm::Nonce::from([1u8; 12]);
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0xa5u8; size];
        group.bench_function(BenchmarkId::new("crc32c", label), |b| {
            b.iter(|| black_box(crc_fast::crc32_iscsi(black_box(&buf))))
        });
        group.bench_function(BenchmarkId::new("crc32c, previous crate", label), |b| {
            b.iter(|| black_box(crc32c::crc32c(black_box(&buf))))
        });
        group.bench_function(BenchmarkId::new("aes-128-gcm seal", label), |b| {
            b.iter(|| {
                black_box(
                    cipher
                        .encrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into())
                        .unwrap(),
                )
            })
        });
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            let src = vec![0x5au8; size];
            b.iter(|| buf.copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

/// The floor of crc mode: only the crcs a MESSAGE frame carries (preamble, and every used
/// segment: header, front, data), each one call of the fastest entry, no copy, no allocation.
/// Encode and decode each compute all of them, so neither can cost less.
fn frame_crcs(c: &mut Criterion) {
    let mut group = c.benchmark_group("crcs a frame requires");
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let frame = Message::new(42, 1, 3, Bytes::from(vec![1u8; 200]))
            .with_data(Bytes::from(vec![0xa5u8; size]))
            .to_frame();
        assert!(frame.data_tail.is_empty());
        let segments: Vec<Bytes> = frame
            .segments
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        let preamble = [0x5au8; 28];
        group.bench_function(BenchmarkId::new("crc32c", label), |b| {
            b.iter(|| {
                let mut all = crc_fast::crc32_iscsi(black_box(&preamble));
                for segment in &segments {
                    all ^= crc_fast::crc32_iscsi(black_box(segment));
                }
                black_box(all)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, frame_codec, raw_primitives, frame_crcs);
criterion_main!(benches);
