//! Protocol and integrity failures, timeouts, closing.

use super::*;

#[test]
fn msgr1_peer_is_recognised() {
    let mut p = Pair::new(config(true), cephx(&[ConMode::CRC]));
    p.server.out.extend_from_slice(b"ceph v027");
    p.server.out.extend_from_slice(&[0; 20]);
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::Msgr1Peer)
    ));
}

#[test]
fn wrong_peer_type_closes() {
    let mut p = Pair::new(config(true), cephx(&[ConMode::CRC]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::OSD,
        peer_addr: client_seen_addr(),
    }));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::PeerTypeMismatch { .. })
    ));
}

#[test]
fn corruption_in_ready_closes_without_panic() {
    for mode in [ConMode::CRC, ConMode::SECURE] {
        let mut p = handshake(mode, true);
        p.server
            .send_message(Message::new(43, 1, 1, Bytes::from(vec![1; 100])), 0);
        // inside the front segment (crc mode) / the tail ciphertext (secure mode); the
        // epilogue's crc slots of unused segments are not checked, as in Ceph
        let n = p.server.out.len();
        p.server.out[n - 20] ^= 0x20;
        p.pump();
        match p.closed_reason() {
            CloseReason::Error(Error::BadSegmentCrc { segment: 1, .. }) if mode == ConMode::CRC => {
            }
            CloseReason::Error(Error::BadAuthTag { .. }) if mode == ConMode::SECURE => {}
            other => panic!("{mode}: {other:?}"),
        }
        assert!(p.client.is_closed());
        assert!(p.client.send_message(Message::default()).is_err());
        assert!(p.client.poll_timeout().is_none());
    }
}

#[test]
fn bad_preamble_crc_closes() {
    let mut p = handshake(ConMode::CRC, true);
    p.server.send(ControlFrame::Ack(1));
    let n = p.server.out.len();
    p.server.out[n - 12 - 5] ^= 1; // inside the preamble's crc
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::BadPreambleCrc { .. })
    ));
}

#[test]
fn truncated_frame_then_eof() {
    let mut p = handshake(ConMode::SECURE, true);
    p.server
        .send_message(Message::new(43, 1, 1, Bytes::from(vec![1; 1000])), 0);
    let out = std::mem::take(&mut p.server.out);
    p.client.handle_input(&out[..500], p.now);
    assert!(p.events().is_empty(), "needs more");
    p.client.handle_eof();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::Truncated { .. })
    ));

    let mut p = handshake(ConMode::CRC, true);
    p.client.handle_eof();
    assert!(matches!(p.closed_reason(), CloseReason::PeerClosed));
}

#[test]
fn oversized_frame_closes_before_buffering() {
    let mut cfg = config(true);
    cfg.limits.max_message_len = 1 << 20;
    let mut p = Pair::new(cfg, cephx(&[ConMode::CRC]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.pump();
    let bogus = crate::frame::Preamble {
        tag: Tag::MESSAGE,
        num_segments: 4,
        lens: [41, 0, 0, 1 << 30],
        aligns: [8; 4],
        flags: 0,
    }
    .encode();
    p.client.handle_input(&bogus, p.now);
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::FrameTooLarge { .. })
    ));
}

#[test]
fn unexpected_frames_close() {
    // MESSAGE before READY (Ceph: "not in ready state")
    let mut p = Pair::new(config(true), cephx(&[ConMode::CRC]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send_frame(&Message::default().to_frame());
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::UnexpectedFrame {
            tag: Tag::MESSAGE,
            ..
        })
    ));
    // unknown tag
    let mut p = handshake(ConMode::CRC, true);
    p.server
        .send_frame(&Frame::control(Tag(99), Bytes::from_static(b"?")));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::UnknownTag(99))
    ));
    // a handshake frame once READY
    let mut p = handshake(ConMode::SECURE, true);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::UnexpectedFrame {
            tag: Tag::HELLO,
            ..
        })
    ));
}

#[test]
fn old_messages_are_dropped() {
    let mut p = handshake(ConMode::CRC, true);
    p.server
        .send_message(Message::new(43, 1, 1, Bytes::new()), 0);
    p.server.out_seq = 0;
    p.server
        .send_message(Message::new(43, 1, 1, Bytes::new()), 0);
    p.pump();
    assert_eq!(p.events().len(), 1);
}

#[test]
fn timeouts() {
    // handshake
    let mut p = Pair::new(config(true), cephx(&[ConMode::CRC]));
    let t = p.client.poll_timeout().unwrap();
    assert_eq!(t, p.now + Duration::from_secs(30));
    p.client.handle_timeout(p.now + Duration::from_secs(29));
    assert!(!p.client.is_closed());
    p.client.handle_timeout(t);
    assert!(matches!(p.closed_reason(), CloseReason::HandshakeTimeout));

    // idle: keepalives go out but nothing comes back
    let mut p = handshake(ConMode::CRC, true);
    let start = p.now;
    for s in [10u64, 20] {
        p.client.handle_timeout(start + Duration::from_secs(s));
        assert!(!p.client.is_closed());
    }
    p.client.handle_timeout(start + Duration::from_secs(30));
    assert!(matches!(p.closed_reason(), CloseReason::IdleTimeout));
}

#[test]
fn local_close() {
    let mut p = handshake(ConMode::CRC, true);
    p.client
        .send_message(Message::new(1, 1, 1, Bytes::new()))
        .unwrap();
    p.client.close();
    assert!(p.client.poll_transmit().is_none());
    assert!(matches!(p.closed_reason(), CloseReason::Local));
    p.client.close();
    assert!(p.events().is_empty(), "Closed is reported once");
}
