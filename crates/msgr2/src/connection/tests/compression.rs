//! On-wire compression against the scripted server: negotiation (ProtocolV2.cc
//! `send_compression_request` / `handle_compression_done`) and compressed frames both ways.

use super::*;
use crate::compression::{
    CompressionAlgorithm, CompressionMode, CompressionSettings, OnwireCompression,
};
use crate::frame::{FLAG_COMPRESSED, PREAMBLE_LEN};

fn settings(methods: &[CompressionAlgorithm], allow_secure: bool) -> CompressionSettings {
    CompressionSettings {
        mode: CompressionMode::Force,
        methods: methods.to_vec(),
        min_size: 1024,
        allow_secure,
    }
}

/// Handshake (pipelined) up to the COMPRESSION_REQUEST, which is returned; CLIENT_IDENT
/// follows it unanswered.
fn up_to_request(compression: CompressionSettings, mode: ConMode) -> (Pair, bool, Vec<u32>) {
    let mut cfg = config(true);
    cfg.compression = compression;
    let (mut p, offered) = up_to_signatures(cfg, mode, FEATURE_REVISION_1 | FEATURE_COMPRESSION);
    assert_eq!(offered, FEATURE_REVISION_1 | FEATURE_COMPRESSION);
    match p.server.recv() {
        ControlFrame::CompressionRequest {
            is_compress,
            preferred_methods,
        } => (p, is_compress, preferred_methods),
        other => panic!("expected COMPRESSION_REQUEST, got {other:?}"),
    }
}

/// The server grants `algorithm` and turns it on for its own frames (finish_compression).
fn grant(p: &mut Pair, algorithm: CompressionAlgorithm) {
    p.server.send(ControlFrame::CompressionDone {
        is_compress: true,
        method: algorithm.id(),
    });
    p.server.enc.set_compression(Some(OnwireCompression {
        algorithm,
        min_size: 1024,
    }));
    p.server.dec.set_decompression(Some(algorithm));
}

/// The flags byte of the next frame waiting at the server (crc mode only).
fn next_flags(p: &Pair) -> u8 {
    p.server.input[PREAMBLE_LEN - 6]
}

#[test]
fn compressed_messages_flow_both_ways_with_every_algorithm() {
    for algorithm in CompressionAlgorithm::ALL {
        let ours = [CompressionAlgorithm::Zstd, algorithm];
        let (mut p, is_compress, methods) = up_to_request(settings(&ours, false), ConMode::CRC);
        assert!(is_compress);
        assert_eq!(methods, vec![3, algorithm.id()]);
        // pipelined: CLIENT_IDENT went out before COMPRESSION_DONE, uncompressed
        assert_eq!(next_flags(&p), 0);
        assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
        grant(&mut p, algorithm);
        p.server.server_ident(true);
        p.pump();
        assert!(p.client.is_ready(), "{algorithm}");
        assert_eq!(p.client.compression(), Some(algorithm));
        assert!(matches!(p.events().as_slice(), [Event::Connected(_)]));

        // client -> server: 4 MiB of data compressed, a small message not
        let big = Bytes::from(
            (0..4u32 << 20)
                .map(|i| (i / 4096).to_le_bytes()[0])
                .collect::<Vec<u8>>(),
        );
        p.client
            .send_message(Message::new(42, 8, 3, Bytes::from_static(b"op")).with_data(big.clone()))
            .unwrap();
        p.pump();
        assert_eq!(next_flags(&p), FLAG_COMPRESSED, "{algorithm}");
        assert!(
            p.server.input.len() < 1 << 20,
            "{algorithm}: {}",
            p.server.input.len()
        );
        let m = p.server.recv_message();
        assert_eq!((m.header.msg_type, m.front.as_ref()), (42, &b"op"[..]));
        assert_eq!(m.data, big);
        p.client
            .send_message(Message::new(15, 3, 1, Bytes::from_static(b"small")))
            .unwrap();
        p.pump();
        assert_eq!(next_flags(&p), 0, "below ms_osd_compress_min_size");
        assert_eq!(p.server.recv_message().front.as_ref(), b"small");

        // server -> client: compressed and plain frames are both accepted
        let front = Bytes::from(vec![7u8; 5000]);
        p.server
            .send_message(Message::new(43, 1, 1, front.clone()), 2);
        p.server
            .send_message(Message::new(43, 1, 1, Bytes::from_static(b"x")), 2);
        p.pump();
        let fronts: Vec<Bytes> = p
            .events()
            .into_iter()
            .map(|e| match e {
                Event::Message(m) => m.front,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fronts, vec![front, Bytes::from_static(b"x")]);
        assert!(!p.client.is_closed());
    }
}

#[test]
fn secure_mode_compresses_only_with_ms_compress_secure() {
    let (mut p, is_compress, _) = up_to_request(
        settings(&[CompressionAlgorithm::Snappy], false),
        ConMode::SECURE,
    );
    assert!(
        !is_compress,
        "ms_compress_secure=false declines in secure mode"
    );
    p.server.send(ControlFrame::CompressionDone {
        is_compress: false,
        method: 0,
    });
    p.server.server_ident(true);
    p.pump();
    assert!(p.client.is_ready());
    assert_eq!(p.client.compression(), None);

    let (mut p, is_compress, _) = up_to_request(
        settings(&[CompressionAlgorithm::Lz4], true),
        ConMode::SECURE,
    );
    assert!(is_compress);
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    grant(&mut p, CompressionAlgorithm::Lz4);
    p.server.server_ident(true);
    p.pump();
    assert_eq!(p.client.compression(), Some(CompressionAlgorithm::Lz4));
    assert!(matches!(p.events().as_slice(), [Event::Connected(_)]));
    let big = Bytes::from(vec![0x42; 1 << 20]);
    p.client
        .send_message(Message::new(42, 8, 3, Bytes::from_static(b"op")).with_data(big.clone()))
        .unwrap();
    p.pump();
    assert!(
        p.server.input.len() < 64 << 10,
        "compressed before encryption"
    );
    assert_eq!(p.server.recv_message().data, big);
    p.server
        .send_message(Message::new(43, 1, 1, Bytes::from(vec![9u8; 3000])), 1);
    p.pump();
    assert!(matches!(p.events().as_slice(), [Event::Message(m)] if m.front.len() == 3000));
}

#[test]
fn a_server_declining_leaves_compression_off() {
    let (mut p, is_compress, _) = up_to_request(
        settings(&[CompressionAlgorithm::Snappy], false),
        ConMode::CRC,
    );
    assert!(is_compress);
    // what every real server answers a client (compressor_registry.cc get_mode)
    p.server.send(ControlFrame::CompressionDone {
        is_compress: false,
        method: 0,
    });
    p.server.server_ident(true);
    p.pump();
    assert!(p.client.is_ready());
    assert_eq!(p.client.compression(), None);
    p.client
        .send_message(Message::new(42, 8, 3, Bytes::from(vec![0; 10_000])))
        .unwrap();
    p.pump();
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    assert_eq!(next_flags(&p), 0);
    assert_eq!(p.server.recv_message().front.len(), 10_000);
    // and a compressed frame from it is a protocol error
    p.server.enc.set_compression(Some(OnwireCompression {
        algorithm: CompressionAlgorithm::Snappy,
        min_size: 0,
    }));
    p.server
        .send_message(Message::new(43, 1, 1, Bytes::from_static(b"x")), 1);
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::UnexpectedCompression)
    ));
}

#[test]
fn a_method_we_did_not_offer_is_refused() {
    let (mut p, _, _) = up_to_request(
        settings(&[CompressionAlgorithm::Snappy], false),
        ConMode::CRC,
    );
    p.server.send(ControlFrame::CompressionDone {
        is_compress: true,
        method: CompressionAlgorithm::Zlib.id(),
    });
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::CompressionMethodNotOffered(2))
    ));
}

#[test]
fn a_decompression_bomb_closes_the_connection() {
    let (mut p, _, _) = up_to_request(settings(&[CompressionAlgorithm::Zstd], false), ConMode::CRC);
    grant(&mut p, CompressionAlgorithm::Zstd);
    // a control frame whose only segment claims 1 GiB (control frames are capped at 4 MiB)
    let mut bomb = (1u32 << 30).to_le_bytes().to_vec();
    bomb.extend([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    let mut frame = Frame::control(Tag::SERVER_IDENT, Bytes::from(bomb));
    frame.tag = Tag::SERVER_IDENT;
    p.server.enc.set_compression(None);
    let mut chunks = Vec::new();
    p.server.enc.encode(&frame, &mut chunks).unwrap();
    let mut wire: Vec<u8> = chunks.concat();
    // set the compressed flag and fix the preamble crc
    wire[PREAMBLE_LEN - 6] |= FLAG_COMPRESSED;
    let crc = crate::crc::preamble_crc(&wire[..PREAMBLE_LEN - 4]);
    wire[PREAMBLE_LEN - 4..PREAMBLE_LEN].copy_from_slice(&crc.to_le_bytes());
    p.server.send_raw(&wire);
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::DecompressedTooLarge { .. })
    ));
}
