//! Session setup answers: WAIT, missing features, reconnect/retry/reset, compression.

use super::*;

#[test]
fn wait_closes_with_wait() {
    let mut p = up_to_ident(config(true));
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    p.server.send(ControlFrame::Wait);
    p.pump();
    assert!(matches!(p.closed_reason(), CloseReason::Wait));
}

#[test]
fn ident_missing_features_closes() {
    let mut p = up_to_ident(config(true));
    p.server.recv();
    p.server.send(ControlFrame::IdentMissingFeatures(1 << 61));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::IdentMissingFeatures(f)) if f == 1 << 61
    ));
}

#[test]
fn server_ident_from_the_wrong_address_closes() {
    let mut p = up_to_ident(config(true));
    p.server.recv();
    p.server.send(ControlFrame::ServerIdent(ServerIdent {
        addrs: EntityAddrVec(vec![client_seen_addr()]),
        global_id: 0,
        global_seq: 1,
        supported_features: denc::features::ALL,
        required_features: 0,
        flags: IDENT_FLAG_LOSSY,
        cookie: 0,
    }));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::PeerAddrMismatch { .. })
    ));
}

#[test]
fn retry_when_not_reconnecting_is_a_protocol_error() {
    let mut p = up_to_ident(config(true));
    p.server.recv();
    p.server.send(ControlFrame::SessionRetry(3));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::UnexpectedFrame {
            tag: Tag::SESSION_RETRY,
            ..
        })
    ));
}

#[test]
fn reconnect_with_retry_retry_global_and_ok() {
    let mut cfg = config(true);
    cfg.lossy = false;
    cfg.global_seq = 10;
    cfg.resume = Some(ResumeSession {
        server_cookie: 0xc00c1e,
        connect_seq: 1,
        in_seq: 5,
        out_seq: 9,
    });
    let mut p = up_to_ident(cfg);
    let first = match p.server.recv() {
        ControlFrame::SessionReconnect(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            first.client_cookie,
            first.server_cookie,
            first.global_seq,
            first.connect_seq,
            first.msg_seq
        ),
        (0x5eed, 0xc00c1e, 10, 1, 5)
    );
    p.server.send(ControlFrame::SessionRetry(4));
    p.pump();
    match p.server.recv() {
        ControlFrame::SessionReconnect(r) => assert_eq!(r.connect_seq, 5),
        other => panic!("{other:?}"),
    }
    p.server.send(ControlFrame::SessionRetryGlobal(40));
    p.pump();
    match p.server.recv() {
        ControlFrame::SessionReconnect(r) => assert_eq!((r.global_seq, r.connect_seq), (41, 5)),
        other => panic!("{other:?}"),
    }
    p.server.send(ControlFrame::SessionReconnectOk(8));
    p.pump();
    match p.events().as_slice() {
        [Event::Connected(info)] => {
            assert_eq!(info.resumed_at, Some(8));
            assert!(!info.lossy);
        }
        other => panic!("{other:?}"),
    }
    // the sequence continues, and the lossless session acks what it receives
    p.client
        .send_message(Message::new(1, 1, 1, Bytes::new()))
        .unwrap();
    p.server.out_seq = 5;
    p.server
        .send_message(Message::new(2, 1, 1, Bytes::from_static(b"x")), 10);
    p.pump();
    assert_eq!(p.server.recv_message().header.seq, 10);
    assert_eq!(p.server.recv(), ControlFrame::Ack(6));
}

#[test]
fn session_reset_falls_back_to_client_ident() {
    let mut cfg = config(true);
    cfg.lossy = false;
    cfg.resume = Some(ResumeSession {
        server_cookie: 0xc00c1e,
        connect_seq: 1,
        in_seq: 5,
        out_seq: 9,
    });
    let mut p = up_to_ident(cfg);
    assert!(matches!(p.server.recv(), ControlFrame::SessionReconnect(_)));
    p.server.send(ControlFrame::SessionReset(true));
    p.pump();
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    p.server.server_ident(false);
    p.pump();
    match p.events().as_slice() {
        [Event::Connected(info)] => {
            assert_eq!(info.server_cookie, 0xc00c1e);
            assert_eq!(info.resumed_at, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.client.seqs(), (0, 0));
}

#[test]
fn compression_is_negotiated_off() {
    let mut cfg = config(true);
    cfg.negotiate_compression = true;
    let (mut p, offered) =
        up_to_signatures(cfg, ConMode::CRC, FEATURE_REVISION_1 | FEATURE_COMPRESSION);
    assert_eq!(offered, FEATURE_REVISION_1 | FEATURE_COMPRESSION);
    assert_eq!(
        p.server.recv(),
        ControlFrame::CompressionRequest {
            is_compress: false,
            preferred_methods: vec![]
        }
    );
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    p.server.send(ControlFrame::CompressionDone {
        is_compress: false,
        method: 0,
    });
    p.server.server_ident(true);
    p.pump();
    assert!(p.client.is_ready());
}

/// Large messages from the server reach a connection in reads of 64 KiB, as from a socket.
fn receive_in_reads(p: &mut Pair) {
    let wire = std::mem::take(&mut p.server.out);
    for piece in wire.chunks(64 << 10) {
        let mut piece = piece;
        while !piece.is_empty() {
            let target = p.client.recv_buffer();
            let room = (target.capacity() - target.len()).max(1);
            let (now, rest) = piece.split_at(room.min(piece.len()));
            target.extend_from_slice(now);
            p.client.process_received(p.now);
            piece = rest;
        }
    }
}

#[test]
fn connections_given_one_pool_share_its_buffers() {
    use crate::frame::{RecvPoolLimits, SharedRecvPool};
    for mode in [ConMode::CRC, ConMode::SECURE] {
        let pool = SharedRecvPool::new(RecvPoolLimits {
            min_frame: 64 << 10,
            max_buffers: 1,
            max_bytes: 8 << 20,
        });
        let mut pairs: Vec<Pair> = (0..2)
            .map(|_| {
                let mut cfg = config(true);
                cfg.recv_pool = Some(pool.clone());
                // the secure switch after AUTH_DONE keeps the shared pool
                handshake_with(cfg, mode)
            })
            .collect();
        let big = Bytes::from(vec![0x5a; 1 << 20]);
        for (round, i) in [0usize, 1, 0, 1].into_iter().enumerate() {
            let p = &mut pairs[i];
            let m = Message::new(43, 1, 1, Bytes::from_static(b"reply")).with_data(big.clone());
            p.server.send_message(m, 0);
            receive_in_reads(p);
            let got: Vec<Bytes> = p
                .events()
                .into_iter()
                .map(|e| match e {
                    Event::Message(m) => m.data,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(got, vec![big.clone()], "{mode:?} round {round}");
            // dropped at once: the one buffer serves both connections in turn
        }
        let s = pool.stats();
        assert_eq!(
            (s.allocated, s.reused, s.unpooled),
            (1, 3, 0),
            "{mode:?} {s:?}"
        );
        assert_eq!(pairs[0].client.pooled_frames_received(), 2);
        assert_eq!(pairs[1].client.recv_pool_stats(), s);
    }
}
