use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use denc::{AddrType, EntityAddr, EntityAddrVec, EntityType, UTime};

use super::*;
use crate::frame::{FrameDecoder, FrameEncoder, FrameLimits};
use crate::message::{Message, MsgHeader2};

fn addr(s: &str, ty: AddrType, nonce: u32) -> EntityAddr {
    EntityAddr::new(ty, s.parse::<SocketAddr>().unwrap(), nonce)
}

/// One value of every control frame.
pub(crate) fn every_control_frame() -> Vec<ControlFrame> {
    let mon = addr("10.0.0.1:3300", AddrType::MSGR2, 0);
    let me = addr("10.0.0.9:0", AddrType::ANY, 0x1234_5678);
    let addrs = EntityAddrVec(vec![mon, addr("10.0.0.1:6789", AddrType::LEGACY, 0)]);
    vec![
        ControlFrame::Hello(Hello {
            entity_type: EntityType::CLIENT,
            peer_addr: mon,
        }),
        ControlFrame::AuthRequest(AuthRequest {
            method: AuthMethod::CEPHX,
            preferred_modes: vec![ConMode::SECURE, ConMode::CRC],
            payload: Bytes::from_static(b"\x0aauth request payload"),
        }),
        ControlFrame::AuthBadMethod(AuthBadMethod {
            method: AuthMethod::NONE,
            result: -13,
            allowed_methods: vec![AuthMethod::CEPHX],
            allowed_modes: vec![ConMode::SECURE, ConMode::CRC],
        }),
        ControlFrame::AuthReplyMore(AuthMore {
            payload: Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        }),
        ControlFrame::AuthRequestMore(AuthMore {
            payload: Bytes::from(vec![0xab; 200]),
        }),
        ControlFrame::AuthDone(AuthDone {
            global_id: 4242,
            con_mode: ConMode::SECURE,
            payload: Bytes::from(vec![7; 300]),
        }),
        ControlFrame::AuthSignature(AuthSignature {
            signature: [0x5a; 32],
        }),
        ControlFrame::ClientIdent(ClientIdent {
            addrs: EntityAddrVec(vec![me]),
            target_addr: mon,
            global_id: 4242,
            global_seq: 7,
            supported_features: denc::features::ALL,
            required_features: denc::features::MSG_ADDR2,
            flags: IDENT_FLAG_LOSSY,
            cookie: 0xfeed_beef,
        }),
        ControlFrame::ServerIdent(ServerIdent {
            addrs: addrs.clone(),
            global_id: 0,
            global_seq: 99,
            supported_features: denc::features::ALL,
            required_features: 0,
            flags: IDENT_FLAG_LOSSY,
            cookie: 0,
        }),
        ControlFrame::IdentMissingFeatures(1 << 40),
        ControlFrame::SessionReconnect(SessionReconnect {
            addrs: EntityAddrVec(vec![me]),
            client_cookie: 1,
            server_cookie: 2,
            global_seq: 3,
            connect_seq: 4,
            msg_seq: 5,
        }),
        ControlFrame::SessionReset(true),
        ControlFrame::SessionRetry(6),
        ControlFrame::SessionRetryGlobal(77),
        ControlFrame::SessionReconnectOk(12),
        ControlFrame::Wait,
        ControlFrame::Keepalive2(UTime::new(1_700_000_000, 123)),
        ControlFrame::Keepalive2Ack(UTime::new(1_700_000_000, 123)),
        ControlFrame::Ack(31),
        ControlFrame::CompressionRequest {
            is_compress: true,
            preferred_methods: vec![3, 1],
        },
        ControlFrame::CompressionDone {
            is_compress: false,
            method: 0,
        },
    ]
}

#[test]
fn every_tag_is_covered() {
    let tags: Vec<u8> = every_control_frame().iter().map(|f| f.tag().0).collect();
    let mut want: Vec<u8> = (1..=22).filter(|&t| t != 17).collect();
    want.sort_unstable();
    let mut got = tags.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    for t in tags {
        assert!(Tag(t).name().is_some());
    }
}

#[test]
fn every_control_frame_round_trips_in_both_modes() {
    let secret: Vec<u8> = (0..64u8).collect();
    let (_, c_tx) = crate::secure_pair(&secret, true).unwrap();
    let (s_rx, _) = crate::secure_pair(&secret, false).unwrap();
    let mut modes = [
        (
            FrameEncoder::crc(),
            FrameDecoder::crc(FrameLimits::default()),
        ),
        (
            FrameEncoder::secure(c_tx),
            FrameDecoder::secure(s_rx, FrameLimits::default()),
        ),
    ];
    for (enc, dec) in &mut modes {
        for cf in every_control_frame() {
            let frame = cf.to_frame().unwrap();
            let mut out = Vec::new();
            enc.encode(&frame, &mut out).unwrap();
            let mut wire = BytesMut::new();
            for c in out {
                wire.extend_from_slice(&c);
            }
            let back = dec.decode(&mut wire).unwrap().unwrap();
            assert_eq!(back, frame);
            assert_eq!(ControlFrame::decode(&back).unwrap().unwrap(), cf);
        }
    }
}

#[test]
fn truncated_payloads_are_typed_errors() {
    for cf in every_control_frame() {
        let payload = cf.encode_payload().unwrap();
        for cut in 0..payload.len() {
            let f = Frame::control(cf.tag(), payload.slice(..cut));
            match ControlFrame::decode(&f) {
                Err(Error::BadPayload { tag, .. }) => assert_eq!(tag, cf.tag()),
                // an empty first segment is a valid WAIT-like shape only for WAIT
                other => panic!("{} cut at {cut}: {other:?}", cf.tag()),
            }
        }
    }
}

#[test]
fn trailing_payload_bytes_are_ignored_like_ceph() {
    let cf = ControlFrame::Ack(9);
    let mut p = cf.encode_payload().unwrap().to_vec();
    p.extend_from_slice(b"future fields");
    let f = Frame::control(Tag::ACK, Bytes::from(p));
    assert_eq!(ControlFrame::decode(&f).unwrap().unwrap(), cf);
}

#[test]
fn control_frames_with_extra_segments_are_malformed() {
    let mut f = ControlFrame::Ack(1).to_frame().unwrap();
    f.segments[1] = Bytes::from_static(b"x");
    assert!(matches!(
        ControlFrame::decode(&f),
        Err(Error::MalformedFrame { .. })
    ));
    // MESSAGE and unknown tags are left to the caller
    assert!(
        ControlFrame::decode(&Frame::control(Tag::MESSAGE, Bytes::new()))
            .unwrap()
            .is_none()
    );
    assert!(
        ControlFrame::decode(&Frame::control(Tag(77), Bytes::new()))
            .unwrap()
            .is_none()
    );
}

/// Payload layouts checked byte by byte (frames_v2.h field order, denc encodings).
#[test]
fn payload_layouts() {
    let p = ControlFrame::AuthRequest(AuthRequest {
        method: AuthMethod::CEPHX,
        preferred_modes: vec![ConMode::SECURE, ConMode::CRC],
        payload: Bytes::from_static(b"xy"),
    })
    .encode_payload()
    .unwrap();
    assert_eq!(
        &p[..],
        &[
            2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'x', b'y'
        ]
    );

    let p = ControlFrame::AuthDone(AuthDone {
        global_id: 0x0102,
        con_mode: ConMode::CRC,
        payload: Bytes::new(),
    })
    .encode_payload()
    .unwrap();
    assert_eq!(&p[..], &[2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);

    let p = ControlFrame::Keepalive2(UTime::new(5, 6))
        .encode_payload()
        .unwrap();
    assert_eq!(&p[..], &[5, 0, 0, 0, 6, 0, 0, 0]);

    // HELLO: u8 type + entity_addr_t (marker 1, ENC(1,1), type, nonce, len 16, sockaddr_in
    // with le16 family and big-endian port/address)
    let p = ControlFrame::Hello(Hello {
        entity_type: EntityType::CLIENT,
        peer_addr: addr("127.0.0.1:3300", AddrType::MSGR2, 0),
    })
    .encode_payload()
    .unwrap();
    let mut want = vec![
        8u8, 1, 1, 1, 28, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0,
    ];
    want.extend_from_slice(&[2, 0, 0x0c, 0xe4, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&p[..], &want[..]);

    let p = ControlFrame::CompressionRequest {
        is_compress: true,
        preferred_methods: vec![3],
    }
    .encode_payload()
    .unwrap();
    assert_eq!(&p[..], &[1, 1, 0, 0, 0, 3, 0, 0, 0]);
    assert!(ControlFrame::Wait.encode_payload().unwrap().is_empty());
}

#[test]
fn message_frames_round_trip_with_every_data_size_in_both_modes() {
    let secret: Vec<u8> = (100..164u8).collect();
    let (_, c_tx) = crate::secure_pair(&secret, true).unwrap();
    let (s_rx, _) = crate::secure_pair(&secret, false).unwrap();
    let mut modes = [
        (
            FrameEncoder::crc(),
            FrameDecoder::crc(FrameLimits::default()),
        ),
        (
            FrameEncoder::secure(c_tx),
            FrameDecoder::secure(s_rx, FrameLimits::default()),
        ),
    ];
    for (enc, dec) in &mut modes {
        for data_len in [0usize, 1, 47, 48, 49, 4096, 4 << 20] {
            for front_len in [0usize, 10, 48, 200] {
                let mut m = Message::new(42, 8, 3, Bytes::from(vec![0xf0; front_len]))
                    .with_data(Bytes::from(vec![0xda; data_len]));
                m.header = MsgHeader2 {
                    seq: 5,
                    tid: 77,
                    ack_seq: 4,
                    data_off: 512,
                    ..m.header
                };
                let mut out = Vec::new();
                enc.encode(&m.to_frame(), &mut out).unwrap();
                let mut wire = BytesMut::new();
                for c in out {
                    wire.extend_from_slice(&c);
                }
                let frame = dec.decode(&mut wire).unwrap().unwrap();
                assert!(wire.is_empty());
                assert_eq!(Message::from_frame(frame).unwrap(), m);
            }
        }
    }
}
