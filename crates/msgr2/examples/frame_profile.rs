//! The 4 KiB crc-mode case of `benches/frames.rs` as a fixed amount of work, for
//! instruction counts and quick A/B timings between builds.
//!
//! `frame_profile <encode|decode|fill|crc|time> [frames]` (build with `--profile bench`).
//! Under `valgrind --tool=callgrind`, the inclusive cost of `encode_one` / `decode_one` /
//! `crc_one` (`callgrind_annotate --inclusive=yes`) divided by the frame count is the cost
//! per frame (valgrind hides AVX-512 from the program, so there `crc-fast` takes its
//! SSE4.2/PCLMULQDQ path, not the VPCLMULQDQ one timed runs take on this machine). Frames are encoded and decoded as the connection does it
//! (`connection/session.rs` `encode_message`; `connection/mod.rs` `recv_buffer` and
//! `process`): chunks into a `Vec`, frames decoded from one receive buffer refilled by
//! "reads" of up to 64 KiB (`FRAMES_PER_READ` overrides how many frames a read brings);
//! `fill` does the reads alone. `time` runs rounds of encodes, decodes (reads untimed) and
//! crc32c passes (`crc-fast`, as the codec; and the `crc32c` crate it used before),
//! alternating, and prints the medians; `ENCODE_ONLY=1` skips the decodes.
//! Wall times here are a rough check; `scripts/bench-frames` is the measurement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use msgr2::{Frame, FrameDecoder, FrameEncoder, FrameLimits, Message};

/// The connection's least receive reservation (`connection/mod.rs` `READ_CHUNK`).
const READ_CHUNK: usize = 64 * 1024;

#[inline(never)]
fn encode_one(enc: &mut FrameEncoder, frame: &Frame) -> Vec<Bytes> {
    let mut chunks = Vec::with_capacity(4);
    enc.encode(frame, &mut chunks).unwrap();
    chunks
}

#[inline(never)]
fn decode_one(dec: &mut FrameDecoder, input: &mut BytesMut) -> Option<Frame> {
    dec.decode(input).unwrap()
}

#[inline(never)]
fn crc_one(data: &[u8]) -> u32 {
    // one pass of the crate the codec uses (msgr2::crc)
    crc_fast::crc32_iscsi(data)
}

/// One pass of the `crc32c` crate the codec used before `crc-fast`, for reference.
#[inline(never)]
fn previous_crc_one(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// One socket read of `n` whole frames.
#[inline(never)]
fn fill(input: &mut BytesMut, wire: &[u8], n: usize) {
    input.reserve(READ_CHUNK);
    for _ in 0..n {
        input.extend_from_slice(wire);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The crcs a decode cannot avoid, where they lie in the received frame `wire`: preamble,
/// then each non-empty segment (the first followed by its crc, the others by nothing).
fn frame_crcs(frame: &Frame, wire: &[u8]) -> u32 {
    let mut acc = msgr2::crc::preamble_crc(&wire[..28]);
    let mut pos = 32;
    for (i, segment) in frame.segments.iter().enumerate() {
        if !segment.is_empty() {
            acc ^= msgr2::crc::segment_crc(&wire[pos..pos + segment.len()]);
        }
        pos += segment.len() + if i == 0 { 4 } else { 0 };
    }
    acc
}

/// Rounds of `frames` encodes, decodes and crc32c passes.
fn time(frame: &Frame, wire: &[u8], frames: usize, per_read: usize) {
    let mut enc = FrameEncoder::crc();
    let mut dec = FrameDecoder::crc(FrameLimits::default());
    let data = vec![0xa5u8; 4096];
    let mut input = BytesMut::new();
    let mut chunks = Vec::new();
    let mut decoded = Vec::with_capacity(per_read);
    let decode_frames = if std::env::var_os("ENCODE_ONLY").is_some() {
        0
    } else {
        frames
    };
    let [mut e, mut d, mut c, mut re, mut rd, mut fc, mut p] = [(); 7].map(|()| Vec::new());
    for _ in 0..31 {
        let t = Instant::now();
        for _ in 0..frames {
            chunks.clear();
            black_box(enc.encode(black_box(frame), &mut chunks).unwrap());
        }
        let enc_ns = t.elapsed().as_secs_f64() * 1e9 / frames as f64;
        let mut dec_time = Duration::ZERO;
        let mut left = decode_frames;
        while left > 0 {
            let n = per_read.min(left);
            fill(&mut input, wire, n);
            left -= n;
            let t = Instant::now();
            for _ in 0..n {
                decoded.push(black_box(decode_one(&mut dec, &mut input).unwrap()));
            }
            dec_time += t.elapsed();
            decoded.clear();
        }
        let dec_ns = dec_time.as_secs_f64() * 1e9 / frames as f64;
        let t = Instant::now();
        for _ in 0..frames {
            black_box(crc_one(black_box(&data)));
        }
        let crc_ns = t.elapsed().as_secs_f64() * 1e9 / frames as f64;
        let t = Instant::now();
        for _ in 0..frames {
            black_box(previous_crc_one(black_box(&data)));
        }
        p.push(t.elapsed().as_secs_f64() * 1e9 / frames as f64);
        let t = Instant::now();
        for _ in 0..frames {
            black_box(frame_crcs(frame, black_box(wire)));
        }
        fc.push(t.elapsed().as_secs_f64() * 1e9 / frames as f64 / crc_ns);
        e.push(enc_ns);
        d.push(dec_ns);
        c.push(crc_ns);
        re.push(enc_ns / crc_ns);
        rd.push(dec_ns / crc_ns);
    }
    println!(
        "encode {:.0} ns, decode {:.0} ns, crc32c {:.0} ns (previous crate {:.0} ns); \
         encode/crc {:.2}x, decode/crc {:.2}x, frame crcs/crc {:.2}x",
        median(&mut e),
        median(&mut d),
        median(&mut c),
        median(&mut p),
        median(&mut re),
        median(&mut rd),
        median(&mut fc)
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "encode".into());
    let frames: usize = args.next().map_or(100_000, |n| n.parse().unwrap());
    let frame = Message::new(42, 1, 3, Bytes::from(vec![1u8; 200]))
        .with_data(Bytes::from(vec![0xa5u8; 4096]))
        .to_frame();
    let mut enc = FrameEncoder::crc();
    let mut dec = FrameDecoder::crc(FrameLimits::default());
    let wire: Vec<u8> = encode_one(&mut enc, &frame).concat();
    let per_read = std::env::var("FRAMES_PER_READ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(READ_CHUNK / wire.len())
        .max(1);
    let mut input = BytesMut::new();
    match mode.as_str() {
        "encode" => {
            for _ in 0..frames {
                black_box(encode_one(&mut enc, black_box(&frame)));
            }
        }
        "crc" => {
            let data = vec![0xa5u8; 4096];
            for _ in 0..frames {
                black_box(crc_one(black_box(&data)));
            }
        }
        "decode" | "fill" => {
            let mut left = frames;
            while left > 0 {
                let n = per_read.min(left);
                fill(&mut input, &wire, n);
                left -= n;
                if mode == "decode" {
                    for _ in 0..n {
                        black_box(decode_one(&mut dec, &mut input).unwrap());
                    }
                } else {
                    input.clear();
                }
            }
        }
        "time" => time(&frame, &wire, frames, per_read),
        other => panic!("unknown mode {other}"),
    }
}
