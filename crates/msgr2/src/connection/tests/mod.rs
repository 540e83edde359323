//! The client state machine against a scripted in-memory server built from the same frame
//! types. The server keeps its own pre-auth transcripts and checks our signature.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use denc::{AddrType, EntityAddr, EntityAddrVec, EntityType, UTime};
use hmac::{KeyInit, Mac};

use super::*;
use crate::auth::{AuthError, AuthMethod, AuthNone, AuthSuccess};
use crate::banner::{FEATURE_COMPRESSION, FEATURE_REVISION_1};
use crate::frame::Frame;
use crate::frames::{
    AuthBadMethod, AuthDone, AuthMore, AuthSignature, Hello, IDENT_FLAG_LOSSY, ServerIdent,
};

const SESSION_KEY: [u8; 16] = [0x11; 16];

fn secret() -> Vec<u8> {
    (0..64u8).map(|i| i.wrapping_mul(13)).collect()
}

fn mon_addr() -> EntityAddr {
    EntityAddr::new(
        AddrType::MSGR2,
        "10.1.2.3:3300".parse::<SocketAddr>().unwrap(),
        0,
    )
}

fn client_seen_addr() -> EntityAddr {
    EntityAddr::new(
        AddrType::MSGR2,
        "10.9.9.9:51234".parse::<SocketAddr>().unwrap(),
        0,
    )
}

/// A CephX-shaped auth client: one REPLY_MORE round, a session key, a secret in secure mode.
struct FakeCephx {
    modes: Vec<ConMode>,
    rounds: usize,
}

impl AuthClient for FakeCephx {
    fn method(&self) -> AuthMethod {
        AuthMethod::CEPHX
    }
    fn preferred_modes(&self) -> Vec<ConMode> {
        self.modes.clone()
    }
    fn build_request(&mut self) -> Result<Bytes, AuthError> {
        Ok(Bytes::from_static(b"initial request"))
    }
    fn handle_reply_more(&mut self, payload: &[u8]) -> Result<Bytes, AuthError> {
        assert_eq!(payload, b"challenge");
        self.rounds += 1;
        Ok(Bytes::from_static(b"proof"))
    }
    fn handle_done(
        &mut self,
        global_id: u64,
        mode: ConMode,
        payload: &[u8],
    ) -> Result<AuthSuccess, AuthError> {
        assert_eq!(global_id, 4100);
        assert_eq!(payload, b"tickets");
        Ok(AuthSuccess {
            session_key: SESSION_KEY.to_vec().into(),
            connection_secret: if mode == ConMode::SECURE {
                secret().into()
            } else {
                cephx::Secret::default()
            },
        })
    }
}

/// The server side, scripted by each test.
struct Server {
    input: BytesMut,
    dec: FrameDecoder,
    enc: FrameEncoder,
    /// Everything received / sent while recording (until AUTH_DONE is sent).
    rx_transcript: Vec<u8>,
    tx_transcript: Vec<u8>,
    recording: bool,
    out: Vec<u8>,
    out_seq: u64,
}

impl Server {
    fn new() -> Self {
        Server {
            input: BytesMut::new(),
            dec: FrameDecoder::crc(FrameLimits::default()),
            enc: FrameEncoder::crc(),
            rx_transcript: Vec::new(),
            tx_transcript: Vec::new(),
            recording: true,
            out: Vec::new(),
            out_seq: 0,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        if self.recording {
            self.tx_transcript.extend_from_slice(bytes);
        }
        self.out.extend_from_slice(bytes);
    }

    fn send_banner(&mut self, supported: u64) {
        let b = Banner {
            supported,
            required: 0,
        }
        .encode();
        self.send_raw(&b);
    }

    fn send_frame(&mut self, frame: &Frame) {
        let mut chunks = Vec::new();
        self.enc.encode(frame, &mut chunks).unwrap();
        for c in chunks {
            self.send_raw(&c);
        }
    }

    fn send(&mut self, cf: ControlFrame) {
        self.send_frame(&cf.to_frame().unwrap());
    }

    fn send_message(&mut self, mut m: Message, ack_seq: u64) {
        self.out_seq += 1;
        m.header.seq = self.out_seq;
        m.header.ack_seq = ack_seq;
        self.send_frame(&m.to_frame());
    }

    fn recv_banner(&mut self) -> Banner {
        let (b, used) = Banner::decode(&self.input).unwrap().expect("client banner");
        let raw = self.input.split_to(used);
        self.rx_transcript.extend_from_slice(&raw);
        b
    }

    fn recv_frame(&mut self) -> Option<Frame> {
        let capture = self.recording.then_some(&mut self.rx_transcript);
        self.dec.decode_capturing(&mut self.input, capture).unwrap()
    }

    fn recv(&mut self) -> ControlFrame {
        let f = self.recv_frame().expect("a frame from the client");
        ControlFrame::decode(&f).unwrap().expect("a control frame")
    }

    fn recv_message(&mut self) -> Message {
        let f = self.recv_frame().expect("a frame from the client");
        assert_eq!(f.tag, Tag::MESSAGE);
        Message::from_frame(f).unwrap()
    }

    fn hmac(data: &[u8]) -> [u8; 32] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&SESSION_KEY).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Sends AUTH_DONE, switches mode, sends our signature (ProtocolV2::finish_auth).
    fn finish_auth(&mut self, mode: ConMode, with_key: bool) {
        self.send_auth_done(mode);
        self.send_signature(with_key);
    }

    fn send_auth_done(&mut self, mode: ConMode) {
        self.send(ControlFrame::AuthDone(AuthDone {
            global_id: 4100,
            con_mode: mode,
            payload: Bytes::from_static(b"tickets"),
        }));
        self.recording = false;
        if mode == ConMode::SECURE {
            let (rx, tx) = crate::secure_pair(&secret(), false).unwrap();
            self.enc = FrameEncoder::secure(tx);
            self.dec.set_secure(rx);
        }
    }

    fn send_signature(&mut self, with_key: bool) {
        let signature = if with_key {
            Self::hmac(&self.rx_transcript)
        } else {
            [0; 32]
        };
        self.send(ControlFrame::AuthSignature(AuthSignature { signature }));
    }

    /// Checks the client's AUTH_SIGNATURE over what we sent.
    fn check_client_signature(&mut self, with_key: bool) {
        match self.recv() {
            ControlFrame::AuthSignature(s) => {
                let want = if with_key {
                    Self::hmac(&self.tx_transcript)
                } else {
                    [0; 32]
                };
                assert_eq!(s.signature, want, "client signed the wrong transcript");
            }
            other => panic!("expected AUTH_SIGNATURE, got {other:?}"),
        }
    }

    fn server_ident(&mut self, lossy: bool) {
        self.send(ControlFrame::ServerIdent(ServerIdent {
            addrs: EntityAddrVec(vec![mon_addr()]),
            global_id: 0,
            global_seq: 17,
            supported_features: denc::features::ALL,
            required_features: 0,
            flags: if lossy { IDENT_FLAG_LOSSY } else { 0 },
            cookie: if lossy { 0 } else { 0xc00c1e },
        }));
    }
}

struct Pair {
    client: Connection,
    server: Server,
    now: Instant,
}

impl Pair {
    fn new(config: ConnectionConfig, auth: Box<dyn AuthClient>) -> Self {
        let now = Instant::now();
        Pair {
            client: Connection::new(config, auth, now),
            server: Server::new(),
            now,
        }
    }

    /// Moves bytes both ways until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(chunk) = self.client.poll_transmit() {
                self.server.input.extend_from_slice(&chunk);
                moved = true;
            }
            if !self.server.out.is_empty() {
                let out = std::mem::take(&mut self.server.out);
                self.client.handle_input(&out, self.now);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn closed_reason(&mut self) -> CloseReason {
        for e in self.events() {
            if let Event::Closed(r) = e {
                return r;
            }
        }
        panic!("connection not closed");
    }
}

fn config(pipeline: bool) -> ConnectionConfig {
    let mut c = ConnectionConfig::new(mon_addr(), Some(EntityType::MON), 0xabcd, 0x5eed);
    c.pipeline = pipeline;
    c
}

fn cephx(modes: &[ConMode]) -> Box<dyn AuthClient> {
    Box::new(FakeCephx {
        modes: modes.to_vec(),
        rounds: 0,
    })
}

/// Runs a whole handshake; returns the pair in READY.
fn handshake(mode: ConMode, pipeline: bool) -> Pair {
    handshake_with(config(pipeline), mode)
}

/// [`handshake`] with a given configuration.
fn handshake_with(config: ConnectionConfig, mode: ConMode) -> Pair {
    let pipeline = config.pipeline;
    let mut p = Pair::new(config, cephx(&[mode]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.pump();
    let banner = p.server.recv_banner();
    assert_eq!(banner.supported, FEATURE_REVISION_1);
    assert_eq!(banner.required, FEATURE_REVISION_1);
    match p.server.recv() {
        ControlFrame::Hello(h) => {
            assert_eq!(h.entity_type, EntityType::CLIENT);
            assert_eq!(h.peer_addr, mon_addr());
        }
        other => panic!("{other:?}"),
    }
    match p.server.recv() {
        ControlFrame::AuthRequest(r) => {
            assert_eq!(r.method, AuthMethod::CEPHX);
            assert_eq!(r.preferred_modes, vec![mode]);
            assert_eq!(&r.payload[..], b"initial request");
        }
        other => panic!("{other:?}"),
    }
    p.server.send(ControlFrame::AuthReplyMore(AuthMore {
        payload: Bytes::from_static(b"challenge"),
    }));
    p.pump();
    match p.server.recv() {
        ControlFrame::AuthRequestMore(m) => assert_eq!(&m.payload[..], b"proof"),
        other => panic!("{other:?}"),
    }
    if pipeline {
        p.server.finish_auth(mode, true);
        p.pump();
        p.server.check_client_signature(true);
    } else {
        p.server.send_auth_done(mode);
        p.pump();
        p.server.check_client_signature(true);
        assert!(
            p.server.recv_frame().is_none(),
            "ident waits for our signature"
        );
        p.server.send_signature(true);
        p.pump();
    }
    match p.server.recv() {
        ControlFrame::ClientIdent(ci) => {
            assert_eq!(ci.target_addr, mon_addr());
            assert_eq!(ci.global_id, 4100);
            assert_eq!(ci.cookie, 0x5eed);
            assert_eq!(ci.flags, IDENT_FLAG_LOSSY);
            let me = ci.addrs.0[0];
            assert_eq!(me.addr_type, AddrType::ANY);
            assert_eq!(me.nonce, 0xabcd);
            assert_eq!(me.port(), 0);
            assert_eq!(me.ip(), client_seen_addr().ip());
            assert_eq!(
                ci.required_features & denc::features::MSG_ADDR2,
                denc::features::MSG_ADDR2
            );
        }
        other => panic!("{other:?}"),
    }
    p.server.server_ident(true);
    p.pump();
    let events = p.events();
    match events.as_slice() {
        [Event::Connected(info)] => {
            assert_eq!(info.con_mode, mode);
            assert_eq!(info.global_id, 4100);
            assert!(info.lossy);
            assert_eq!(info.peer_global_seq, 17);
        }
        other => panic!("{other:?}"),
    }
    assert!(p.client.is_ready());
    p
}

fn exchange_messages(p: &mut Pair) {
    // client -> server, including a 4 MiB data segment
    let big = Bytes::from(vec![0x42; 4 << 20]);
    p.client
        .send_message(Message::new(42, 8, 3, Bytes::from_static(b"op")).with_data(big.clone()))
        .unwrap();
    p.client
        .send_message(Message::new(15, 3, 1, Bytes::from_static(b"sub")))
        .unwrap();
    p.pump();
    let m1 = p.server.recv_message();
    assert_eq!((m1.header.seq, m1.header.msg_type), (1, 42));
    assert_eq!(m1.data, big);
    let m2 = p.server.recv_message();
    assert_eq!((m2.header.seq, m2.header.ack_seq), (2, 0));
    // server -> client, acking our two
    for i in 0..3u8 {
        p.server
            .send_message(Message::new(43, 1, 1, Bytes::from(vec![i; 100])), 2);
    }
    p.pump();
    let got: Vec<u64> = p
        .events()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m.header.seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![1, 2, 3]);
    assert_eq!(p.client.peer_acked_seq(), 2);
    // our next message piggybacks the ack; lossy sessions send no ACK frames
    assert!(!p.client.wants_transmit());
    p.client
        .send_message(Message::new(15, 3, 1, Bytes::new()))
        .unwrap();
    p.pump();
    let m3 = p.server.recv_message();
    assert_eq!((m3.header.seq, m3.header.ack_seq), (3, 3));
}

fn keepalive(p: &mut Pair) {
    // the timer fires a KEEPALIVE2; the server echoes it
    let due = p.client.poll_timeout().unwrap();
    assert!(due <= p.now + Duration::from_secs(10));
    p.now += Duration::from_secs(10);
    p.client.handle_timeout(p.now);
    p.pump();
    let stamp = match p.server.recv() {
        ControlFrame::Keepalive2(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(stamp, UTime::new(10, 0));
    p.server.send(ControlFrame::Keepalive2Ack(stamp));
    // and the server's own keepalive is answered
    p.server.send(ControlFrame::Keepalive2(UTime::new(77, 5)));
    p.pump();
    assert_eq!(p.client.last_keepalive_ack(), Some(Duration::from_secs(10)));
    assert_eq!(
        p.server.recv(),
        ControlFrame::Keepalive2Ack(UTime::new(77, 5))
    );
    assert!(!p.client.is_closed());
}

/// Runs a handshake up to the signatures; our ident (or reconnect) is then waiting.
fn up_to_ident(cfg: ConnectionConfig) -> Pair {
    up_to_signatures(cfg, ConMode::CRC, FEATURE_REVISION_1).0
}

/// Runs a pipelined handshake in `mode` with a server offering `server_features` up to
/// the signatures; returns the pair and the features the client's banner offered.
fn up_to_signatures(cfg: ConnectionConfig, mode: ConMode, server_features: u64) -> (Pair, u64) {
    let mut p = Pair::new(cfg, cephx(&[mode]));
    p.server.send_banner(server_features);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.server.send(ControlFrame::AuthReplyMore(AuthMore {
        payload: Bytes::from_static(b"challenge"),
    }));
    p.pump();
    let offered = p.server.recv_banner().supported;
    for _ in 0..3 {
        p.server.recv();
    }
    p.server.finish_auth(mode, true);
    p.pump();
    p.server.check_client_signature(true);
    (p, offered)
}

mod compression;
mod failures;
mod handshakes;
mod sessions;
