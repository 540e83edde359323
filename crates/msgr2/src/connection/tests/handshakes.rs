//! Whole handshakes, messages, keepalives, and the auth phase's failures.

use super::*;

#[test]
fn handshake_crc_pipelined() {
    let mut p = handshake(ConMode::CRC, true);
    exchange_messages(&mut p);
    keepalive(&mut p);
}

#[test]
fn handshake_secure_pipelined() {
    let mut p = handshake(ConMode::SECURE, true);
    exchange_messages(&mut p);
    keepalive(&mut p);
}

#[test]
fn handshake_crc_step_by_step() {
    let mut p = handshake(ConMode::CRC, false);
    exchange_messages(&mut p);
}

#[test]
fn handshake_secure_step_by_step() {
    let mut p = handshake(ConMode::SECURE, false);
    exchange_messages(&mut p);
    keepalive(&mut p);
}

#[test]
fn messages_queued_before_ready_are_sent_once_ready() {
    let now = Instant::now();
    let mut c = Connection::new(config(true), cephx(&[ConMode::CRC]), now);
    c.send_message(Message::new(15, 1, 1, Bytes::from_static(b"early")))
        .unwrap();
    assert_eq!(c.queued_messages(), 1);
    // only the banner, HELLO and AUTH_REQUEST go out before READY
    let mut n = 0;
    while c.poll_transmit().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(c.queued_messages(), 1);
}

#[test]
fn auth_none_uses_zero_signatures() {
    let mut p = Pair::new(
        config(true),
        Box::new(AuthNone::for_monitor(denc::AuthName::client("admin"))),
    );
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.pump();
    p.server.recv_banner();
    p.server.recv();
    match p.server.recv() {
        ControlFrame::AuthRequest(r) => {
            assert_eq!(r.method, AuthMethod::NONE);
            assert_eq!(r.payload[0], crate::auth::AUTH_MODE_MON);
        }
        other => panic!("{other:?}"),
    }
    p.server.finish_auth(ConMode::CRC, false);
    p.pump();
    p.server.check_client_signature(false);
    assert!(matches!(p.server.recv(), ControlFrame::ClientIdent(_)));
    p.server.server_ident(true);
    p.pump();
    assert!(p.client.is_ready());
}

#[test]
fn bad_server_signature_closes() {
    let mut p = Pair::new(config(true), cephx(&[ConMode::SECURE]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.pump();
    p.server.recv_banner();
    p.server.recv();
    p.server.recv();
    p.server.send(ControlFrame::AuthReplyMore(AuthMore {
        payload: Bytes::from_static(b"challenge"),
    }));
    p.pump();
    p.server.recv();
    // a man in the middle altered a byte we sent: the server signs a different transcript
    p.server.rx_transcript[12] ^= 1;
    p.server.finish_auth(ConMode::SECURE, true);
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::BadSignature)
    ));
    assert!(p.client.poll_transmit().is_none());
}

#[test]
fn mode_we_did_not_offer_is_refused() {
    let mut p = Pair::new(config(true), cephx(&[ConMode::SECURE]));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.server.send(ControlFrame::AuthDone(AuthDone {
        global_id: 4100,
        con_mode: ConMode::CRC,
        payload: Bytes::from_static(b"tickets"),
    }));
    p.pump();
    assert!(matches!(
        p.closed_reason(),
        CloseReason::Error(Error::ModeNotOffered(1))
    ));
}

#[test]
fn bad_method_is_parsed_and_reported() {
    let mut p = Pair::new(
        config(true),
        Box::new(AuthNone::for_monitor(denc::AuthName::client("admin"))),
    );
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.server.send(ControlFrame::AuthBadMethod(AuthBadMethod {
        method: AuthMethod::NONE,
        result: -13,
        allowed_methods: vec![AuthMethod::CEPHX],
        allowed_modes: vec![ConMode::SECURE, ConMode::CRC],
    }));
    p.pump();
    match p.closed_reason() {
        CloseReason::Error(Error::Auth(AuthError::MethodRejected {
            method,
            result,
            allowed_methods,
            allowed_modes,
        })) => {
            assert_eq!(method, AuthMethod::NONE);
            assert_eq!(result, -13);
            assert_eq!(allowed_methods, vec![AuthMethod::CEPHX]);
            assert_eq!(allowed_modes, vec![ConMode::SECURE, ConMode::CRC]);
        }
        other => panic!("{other:?}"),
    }
}

/// An auth client that accepts the server's refusal once and retries with other modes.
struct Retrying(FakeCephx, usize);

impl AuthClient for Retrying {
    fn method(&self) -> AuthMethod {
        self.0.method()
    }
    fn preferred_modes(&self) -> Vec<ConMode> {
        if self.1 == 0 {
            vec![ConMode::SECURE]
        } else {
            vec![ConMode::CRC]
        }
    }
    fn build_request(&mut self) -> Result<Bytes, AuthError> {
        self.0.build_request()
    }
    fn handle_reply_more(&mut self, payload: &[u8]) -> Result<Bytes, AuthError> {
        self.0.handle_reply_more(payload)
    }
    fn handle_done(
        &mut self,
        global_id: u64,
        mode: ConMode,
        payload: &[u8],
    ) -> Result<AuthSuccess, AuthError> {
        self.0.handle_done(global_id, mode, payload)
    }
    fn handle_bad_method(
        &mut self,
        _: AuthMethod,
        _: i32,
        _: &[AuthMethod],
        allowed_modes: &[ConMode],
    ) -> Result<(), AuthError> {
        assert_eq!(allowed_modes, &[ConMode::CRC]);
        self.1 += 1;
        Ok(())
    }
}

#[test]
fn bad_method_retry_and_the_transcript_covers_it() {
    let auth = Retrying(
        FakeCephx {
            modes: vec![],
            rounds: 0,
        },
        0,
    );
    let mut p = Pair::new(config(true), Box::new(auth));
    p.server.send_banner(FEATURE_REVISION_1);
    p.server.send(ControlFrame::Hello(Hello {
        entity_type: EntityType::MON,
        peer_addr: client_seen_addr(),
    }));
    p.server.send(ControlFrame::AuthBadMethod(AuthBadMethod {
        method: AuthMethod::CEPHX,
        result: -95,
        allowed_methods: vec![AuthMethod::CEPHX],
        allowed_modes: vec![ConMode::CRC],
    }));
    p.pump();
    p.server.recv_banner();
    p.server.recv();
    assert!(
        matches!(p.server.recv(), ControlFrame::AuthRequest(r) if r.preferred_modes == [ConMode::SECURE])
    );
    assert!(
        matches!(p.server.recv(), ControlFrame::AuthRequest(r) if r.preferred_modes == [ConMode::CRC])
    );
    p.server.send(ControlFrame::AuthReplyMore(AuthMore {
        payload: Bytes::from_static(b"challenge"),
    }));
    p.pump();
    p.server.recv();
    p.server.finish_auth(ConMode::CRC, true);
    p.pump();
    p.server.check_client_signature(true);
    p.server.recv();
    p.server.server_ident(true);
    p.pump();
    assert!(p.client.is_ready());
}
