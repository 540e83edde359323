//! Bodies of the fuzz targets (the `fuzz/` crate calls these). Each must never panic and keep
//! memory bounded whatever the input.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use denc::{AddrType, AuthName, EntityAddr, EntityAddrVec, EntityType};

use crate::auth::{AuthNone, ConMode};
use crate::banner::{Banner, FEATURE_REVISION_1};
use crate::compression::CompressionAlgorithm;
use crate::connection::{Connection, ConnectionConfig};
use crate::crypto::secure_pair;
use crate::frame::{Frame, FrameDecoder, FrameEncoder, FrameLimits, Tag};
use crate::frames::{AuthDone, AuthSignature, ControlFrame, Hello, IDENT_FLAG_LOSSY, ServerIdent};
use crate::message::Message;

/// Small limits so a fuzz input cannot ask for more than a few MiB.
const LIMITS: FrameLimits = FrameLimits {
    max_message_len: 1 << 20,
    max_control_len: 64 << 10,
    // small, so that fuzzed frames go through the pooled buffers too
    recv_pool: crate::frame::RecvPoolLimits {
        min_frame: 256,
        max_buffers: 4,
        max_bytes: 1 << 20,
    },
};

/// The fixed connection secret of the secure-mode targets.
const SECRET: [u8; 40] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
];

/// Splits `data` into chunks whose sizes come from the data itself, so that partial reads
/// are exercised deterministically.
fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    let mut step = 1usize;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        step = (step * 7 + usize::from(rest.first().copied().unwrap_or(0))) % 97 + 1;
        let n = step.min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// Feeds `data` to `dec` in pieces, decoding every frame; typed decoding is attempted too.
fn drive_decoder(dec: &mut FrameDecoder, data: &[u8]) {
    let mut input = BytesMut::new();
    for piece in chunks(data) {
        input.extend_from_slice(piece);
        loop {
            match dec.decode(&mut input) {
                Ok(Some(frame)) => inspect(frame),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

fn inspect(frame: Frame) {
    if frame.tag == Tag::MESSAGE {
        let _ = Message::from_frame(frame);
    } else if let Ok(Some(cf)) = ControlFrame::decode(&frame) {
        // typed frames re-encode
        let _ = cf.to_frame();
    }
}

/// The crc-mode frame decoder on arbitrary bytes. If the first byte is odd, the crcs in the
/// rest are fixed up first (preamble, first segment, epilogue), so that mutations reach the
/// checks behind them: lengths, late status, typed payloads.
///
/// If the first byte has bit 1 set, compression is negotiated (algorithm from bits 2-3):
/// frames flagged compressed are decompressed, and the rest of the input is also fed to
/// that algorithm's segment decompressor directly.
pub fn fuzz_frame_decoder_crc(data: &[u8]) {
    let mut dec = FrameDecoder::crc(LIMITS);
    match data.split_first() {
        Some((sel, rest)) => {
            if sel & 2 == 2 {
                let algorithm = CompressionAlgorithm::ALL
                    .get(usize::from(sel >> 2) % CompressionAlgorithm::ALL.len())
                    .copied()
                    .unwrap_or(CompressionAlgorithm::Snappy);
                dec.set_decompression(Some(algorithm));
                let _ = algorithm.decompress(rest, 1 << 20);
            }
            if sel & 1 == 1 {
                let mut fixed = rest.to_vec();
                fix_crcs(&mut fixed);
                drive_decoder(&mut dec, &fixed);
            } else {
                drive_decoder(&mut dec, data);
            }
        }
        None => drive_decoder(&mut dec, data),
    }
}

/// Rewrites the crcs of consecutive crc-mode frames in `buf` so they verify.
fn fix_crcs(buf: &mut [u8]) {
    use crate::crc::{preamble_crc, segment_crc};
    use crate::frame::{CRC_LEN, EPILOGUE_CRC_LEN, PREAMBLE_LEN};
    let mut pos = 0usize;
    while let Some(pre) = buf.get_mut(pos..pos + PREAMBLE_LEN) {
        let crc = preamble_crc(pre.get(..PREAMBLE_LEN - CRC_LEN).unwrap_or_default());
        if let Some(slot) = pre.get_mut(PREAMBLE_LEN - CRC_LEN..) {
            slot.copy_from_slice(&crc.to_le_bytes());
        }
        let Ok(block) = <[u8; PREAMBLE_LEN]>::try_from(&*pre) else {
            return;
        };
        let Ok(p) = crate::frame::Preamble::decode(&block) else {
            return;
        };
        pos += PREAMBLE_LEN;
        let mut crcs = [0u32; 4];
        for (i, c) in crcs.iter_mut().enumerate().take(p.num_segments) {
            let len = p.len(i);
            let Some(seg) = buf.get(pos..pos + len) else {
                return;
            };
            *c = segment_crc(seg);
            pos += len;
            if i == 0 && len > 0 {
                let Some(slot) = buf.get_mut(pos..pos + CRC_LEN) else {
                    return;
                };
                slot.copy_from_slice(&c.to_le_bytes());
                pos += CRC_LEN;
            }
        }
        if p.num_segments > 1 {
            let Some(epi) = buf.get_mut(pos..pos + EPILOGUE_CRC_LEN) else {
                return;
            };
            for (slot, c) in epi
                .get_mut(1..)
                .unwrap_or_default()
                .chunks_exact_mut(4)
                .zip(&crcs[1..])
            {
                slot.copy_from_slice(&c.to_le_bytes());
            }
            pos += EPILOGUE_CRC_LEN;
        }
    }
}

/// The secure-mode decoder with a fixed key: arbitrary bytes as ciphertext (which must fail
/// authentication cleanly), then the input reinterpreted as frame shapes and contents that
/// are encrypted and must decrypt back to the same frames.
pub fn fuzz_frame_decoder_secure(data: &[u8]) {
    let Ok((raw_rx, _)) = secure_pair(&SECRET, false) else {
        return;
    };
    drive_decoder(&mut FrameDecoder::secure(raw_rx, LIMITS), data);

    let (Ok((_, client_tx)), Ok((server_rx, _))) =
        (secure_pair(&SECRET, true), secure_pair(&SECRET, false))
    else {
        return;
    };
    let mut enc = FrameEncoder::secure(client_tx);
    let mut dec = FrameDecoder::secure(server_rx, LIMITS);
    let mut rest = data;
    let mut wire = BytesMut::new();
    let mut sent = Vec::new();
    while let [tag, l0, l1, l2, l3, tail @ ..] = rest {
        let take = |len: u8| {
            let n = usize::from(len).min(tail.len());
            Bytes::copy_from_slice(tail.get(..n).unwrap_or_default())
        };
        let frame = Frame {
            tag: Tag(*tag),
            segments: [take(*l0), take(*l1), take(*l2), take(*l3)],
            data_tail: Vec::new(),
        };
        rest = tail.get(usize::from(*l0) % 8..).unwrap_or_default();
        let mut out = Vec::new();
        if enc.encode(&frame, &mut out).is_err() {
            return;
        }
        for c in out {
            wire.extend_from_slice(&c);
        }
        sent.push(frame);
    }
    for frame in sent {
        match dec.decode(&mut wire) {
            Ok(Some(back)) if back == frame => {}
            // a mismatch is a bug: make it loud for the fuzzer
            other => unreachable_frame(&frame, &other),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_frame(sent: &Frame, got: &Result<Option<Frame>, crate::Error>) {
    panic!("secure round trip lost a frame: sent {sent:?}, got {got:?}");
}

/// The client state machine fed arbitrary server bytes. The first input byte picks how much
/// of a valid handshake precedes the fuzz bytes (none, banner, up to AUTH_SIGNATURE, up to
/// READY), so every phase is reached.
pub fn fuzz_client_handshake(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mon = EntityAddr::new(
        AddrType::MSGR2,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 3300)),
        0,
    );
    let mut config = ConnectionConfig::new(mon, Some(EntityType::MON), 1, 2);
    config.limits = LIMITS;
    config.pipeline = mode & 0x10 == 0;
    let mut now = Instant::now();
    let mut conn = Connection::new(
        config,
        Box::new(AuthNone::for_monitor(AuthName::client("fuzz"))),
        now,
    );
    let prefix = valid_prefix(mode % 4, mon);
    for piece in chunks(&prefix).chain(chunks(rest)) {
        conn.handle_input(piece, now);
        while conn.poll_transmit().is_some() {}
        while conn.poll_event().is_some() {}
        now += Duration::from_millis(u64::from(piece.first().copied().unwrap_or(0)) * 50);
        conn.handle_timeout(now);
        let _ = conn.send_message(Message::new(15, 1, 1, Bytes::from_static(b"m")));
    }
    conn.handle_eof();
    while conn.poll_transmit().is_some() {}
    while conn.poll_event().is_some() {}
}

/// A well-formed server stream up to some point of the handshake (auth none, crc mode).
fn valid_prefix(depth: u8, mon: EntityAddr) -> Vec<u8> {
    let mut out = Vec::new();
    if depth == 0 {
        return out;
    }
    out.extend_from_slice(
        &Banner {
            supported: FEATURE_REVISION_1,
            required: 0,
        }
        .encode(),
    );
    let mut frames = vec![ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: EntityAddr::new(
            AddrType::MSGR2,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
            0,
        ),
    })];
    if depth >= 2 {
        frames.push(ControlFrame::AuthDone(AuthDone {
            global_id: 4100,
            con_mode: ConMode::CRC,
            payload: Bytes::new(),
        }));
        frames.push(ControlFrame::AuthSignature(AuthSignature {
            signature: [0; 32],
        }));
    }
    if depth >= 3 {
        frames.push(ControlFrame::ServerIdent(ServerIdent {
            addrs: EntityAddrVec(vec![mon]),
            global_id: 0,
            global_seq: 1,
            supported_features: denc::features::ALL,
            required_features: 0,
            flags: IDENT_FLAG_LOSSY,
            cookie: 0,
        }));
    }
    let mut enc = FrameEncoder::crc();
    for f in frames {
        let mut chunks = Vec::new();
        if let Ok(frame) = f.to_frame() {
            if enc.encode(&frame, &mut chunks).is_ok() {
                for c in chunks {
                    out.extend_from_slice(&c);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap deterministic sweep over inputs (the real fuzzing runs in `fuzz/`).
    fn inputs() -> Vec<Vec<u8>> {
        let mut v = vec![Vec::new(), vec![0], vec![0xff; 300]];
        let mut x: u32 = 0x1234_5678;
        for len in [1usize, 7, 32, 33, 96, 200, 1000, 5000] {
            for _ in 0..8 {
                let mut d = Vec::with_capacity(len);
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    d.push(x.to_le_bytes()[0]);
                }
                v.push(d);
            }
        }
        v
    }

    #[test]
    fn targets_survive_random_inputs() {
        for d in inputs() {
            fuzz_frame_decoder_crc(&d);
            fuzz_frame_decoder_secure(&d);
            for mode in 0..4u8 {
                let mut m = vec![mode];
                m.extend_from_slice(&d);
                fuzz_client_handshake(&m);
                m[0] |= 0x10;
                fuzz_client_handshake(&m);
            }
        }
    }

    #[test]
    fn handshake_prefix_reaches_ready() {
        let mon = EntityAddr::new(
            AddrType::MSGR2,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 3300)),
            0,
        );
        let mut config = ConnectionConfig::new(mon, Some(EntityType::MON), 1, 2);
        config.limits = LIMITS;
        let now = Instant::now();
        let mut conn = Connection::new(
            config,
            Box::new(AuthNone::for_monitor(AuthName::client("fuzz"))),
            now,
        );
        conn.handle_input(&valid_prefix(3, mon), now);
        assert!(conn.is_ready());
    }

    #[test]
    fn crc_fix_up_repairs_frames() {
        let mut data = Vec::new();
        for f in crate::frames::tests::every_control_frame() {
            let mut out = Vec::new();
            FrameEncoder::crc()
                .encode(&f.to_frame().unwrap(), &mut out)
                .unwrap();
            for c in out {
                data.extend_from_slice(&c);
            }
        }
        let m = Message::new(1, 1, 1, Bytes::from_static(b"front"))
            .with_data(Bytes::from_static(b"data"));
        let mut out = Vec::new();
        FrameEncoder::crc().encode(&m.to_frame(), &mut out).unwrap();
        for c in out {
            data.extend_from_slice(&c);
        }
        let good = data;
        let mut fixed = good.clone();
        fix_crcs(&mut fixed);
        assert_eq!(fixed, good, "fix-up of a valid stream changes nothing");
        // break the first preamble crc and the message's epilogue crcs: the fix-up repairs
        let mut broken = good.clone();
        broken[28] ^= 0xff;
        let n = broken.len();
        for b in &mut broken[n - 12..] {
            *b ^= 0x55;
        }
        fix_crcs(&mut broken);
        assert_eq!(broken, good);
        let mut dec = FrameDecoder::crc(LIMITS);
        let mut input = BytesMut::from(&broken[..]);
        let mut n = 0;
        while dec.decode(&mut input).unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 22);
    }

    /// Frames Ceph OSDs compressed (see compression/testdata), through the crc target with
    /// compression negotiated, whole and mutated (crcs repaired, so the corrupt compressed
    /// segments reach the decompressors).
    #[test]
    fn compressed_frames_from_ceph_and_mutations() {
        let frames: [&[u8]; 4] = [
            include_bytes!("compression/testdata/snappy-4seg.bin"),
            include_bytes!("compression/testdata/zlib-4seg.bin"),
            include_bytes!("compression/testdata/zstd-4seg.bin"),
            include_bytes!("compression/testdata/lz4-4seg.bin"),
        ];
        for (i, frame) in (0u8..).zip(frames) {
            let mut data = vec![1 | 2 | (i << 2)];
            data.extend_from_slice(frame);
            fuzz_frame_decoder_crc(&data);
            let mut x = 0x2545_f491_u32 ^ u32::from(i);
            for _ in 0..300 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let mut m = data.clone();
                let at = 1 + (x as usize) % (m.len() - 1);
                m[at] ^= x.to_le_bytes()[1] | 1;
                fuzz_frame_decoder_crc(&m);
            }
        }
    }

    #[test]
    fn valid_crc_streams_decode() {
        let mut data = Vec::new();
        for f in crate::frames::tests::every_control_frame() {
            let mut out = Vec::new();
            FrameEncoder::crc()
                .encode(&f.to_frame().unwrap(), &mut out)
                .unwrap();
            for c in out {
                data.extend_from_slice(&c);
            }
        }
        fuzz_frame_decoder_crc(&data);
        fuzz_frame_decoder_secure(&data);
    }
}
