//! Whole CephX exchanges against the scripted monitor and OSD of `support`, for both key types.

mod support;

use cephx::{Authorizer, CephxError, CryptoKey, KeyType, MonAuth, ServiceSet, TicketStore};
use denc::{AuthName, EntityType, UTime};
use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{MonReply, OsdReply, ScriptedMon, ScriptedOsd, key_of};

fn setup(t: KeyType, seed: u64) -> (ScriptedMon, MonAuth, StdRng) {
    let mut rng = StdRng::seed_from_u64(seed);
    let key = key_of(t, &mut rng);
    let mon = ScriptedMon::new(key.clone(), seed + 1);
    let auth = MonAuth::new(AuthName::client("admin"), key, ServiceSet::LIBRADOS).unwrap();
    (mon, auth, rng)
}

/// Runs the handshake to AUTH_DONE and returns the monitor's final reply.
fn exchange(mon: &mut ScriptedMon, auth: &mut MonAuth, rng: &mut StdRng) -> MonReply {
    let req = auth.initial_request().unwrap();
    let MonReply::More(challenge) = mon.auth_request(&req) else {
        panic!("no challenge");
    };
    let more = auth.handle_reply_more(&challenge, rng).unwrap();
    mon.auth_request_more(&more)
}

fn handshake(mon: &mut ScriptedMon, auth: &mut MonAuth, rng: &mut StdRng) -> cephx::MonAuthOutcome {
    let MonReply::Done {
        global_id,
        con_mode,
        payload,
    } = exchange(mon, auth, rng)
    else {
        panic!("authentication refused");
    };
    auth.handle_done(global_id, con_mode, &payload, mon.now)
        .unwrap()
}

#[test]
fn authenticates_with_both_key_types() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, mut auth, mut rng) = setup(t, 1);
        let out = handshake(&mut mon, &mut auth, &mut rng);
        assert_eq!(out.global_id, 4100);
        assert_eq!(auth.global_id(), 4100);
        assert_eq!(out.con_mode, 2);
        assert_eq!(&out.session_key, mon.auth_session_keys[0].secret());
        assert_eq!(out.session_key.len(), t.secret_len().unwrap());
        assert_eq!(out.connection_secret.len(), 64);
        assert_eq!(out.connection_secret, mon.last_connection_secret);
        assert_eq!(out.received, ServiceSet::LIBRADOS | ServiceSet::AUTH);
        assert!(out.missing.is_empty());
        assert!(auth.is_authenticated());
        for s in [
            EntityType::AUTH,
            EntityType::MON,
            EntityType::OSD,
            EntityType::MGR,
        ] {
            let ticket = auth.tickets().valid(s, mon.now).unwrap();
            assert_eq!(ticket.session_key.key_type(), t);
            assert_eq!(ticket.expires, UTime::new(mon.now.sec + 3600, 0));
            assert_eq!(ticket.renew_after, UTime::new(mon.now.sec + 2700, 0));
            assert_eq!(ticket.ticket.secret_id, mon.service_secrets[&s].0);
            // the blob is a real ticket the service can read
            let info = mon.decode_ticket(s, &ticket.ticket).unwrap();
            assert_eq!(info.ticket.global_id, 4100);
            assert_eq!(info.session_key, ticket.session_key);
        }
        // nothing secret in the Debug output
        let shown = format!("{out:?} {auth:?}");
        assert!(!shown.contains(&denc::testing::hex(out.session_key.expose())));
    }
}

#[test]
fn crc_mode_has_an_empty_connection_secret() {
    let (mut mon, mut auth, mut rng) = setup(KeyType::AES, 2);
    mon.con_mode = 1;
    let out = handshake(&mut mon, &mut auth, &mut rng);
    assert!(out.connection_secret.is_empty());
    assert_eq!(out.con_mode, 1);
}

#[test]
fn wrong_key_is_denied_quickly() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, _, mut rng) = setup(t, 3);
        let wrong = key_of(t, &mut rng);
        let mut auth =
            MonAuth::new(AuthName::client("admin"), wrong, ServiceSet::LIBRADOS).unwrap();
        let MonReply::BadMethod { result } = exchange(&mut mon, &mut auth, &mut rng) else {
            panic!("a wrong key was accepted");
        };
        let err = auth.handle_bad_method(2, result, &[2], &[2, 1]);
        assert!(err.is_denied(), "{err}");
        assert!(matches!(err, CephxError::Denied { result: -13 }));
        // and the machine refuses to continue
        assert!(auth.handle_done(1, 2, &[], mon.now).is_err());
    }
}

#[test]
fn other_refusals_say_what_the_server_allows() {
    let (_, mut auth, _) = setup(KeyType::AES, 4);
    auth.initial_request().unwrap();
    let err = auth.handle_bad_method(2, -95, &[1], &[1]);
    assert!(!err.is_denied());
    let CephxError::MethodRejected {
        allowed_methods, ..
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!(allowed_methods, [1]);
}

#[test]
fn reconnect_reclaims_the_global_id() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, mut auth, mut rng) = setup(t, 5);
        let first = handshake(&mut mon, &mut auth, &mut rng);
        let store: TicketStore = auth.into_tickets();
        let key = mon.client_key.clone();
        let mut again = MonAuth::new(AuthName::client("admin"), key, ServiceSet::LIBRADOS)
            .unwrap()
            .with_tickets(store);
        // the initial request carries the old global id, the monitor checks the old ticket and
        // sends the new AUTH ticket blob encrypted under the old session key
        let second = handshake(&mut mon, &mut again, &mut rng);
        assert!(mon.reclaim);
        assert_eq!(second.global_id, first.global_id);
        assert_ne!(second.session_key, first.session_key);
        assert_eq!(&second.session_key, mon.auth_session_keys[1].secret());
        let auth_ticket = again.tickets().valid(EntityType::AUTH, mon.now).unwrap();
        assert!(
            mon.decode_ticket(EntityType::AUTH, &auth_ticket.ticket)
                .is_some()
        );
    }
}

#[test]
fn reclaim_without_the_old_ticket_is_denied() {
    let (mut mon, mut auth, mut rng) = setup(KeyType::AES, 6);
    handshake(&mut mon, &mut auth, &mut rng);
    let gid = auth.global_id();
    // present the global id but not its ticket: a store with a different identity's ticket
    let (mut other_mon, mut other, mut rng2) = setup(KeyType::AES, 7);
    other_mon.next_global_id = gid + 1000;
    handshake(&mut other_mon, &mut other, &mut rng2);
    let mut forged = MonAuth::new(
        AuthName::client("admin"),
        mon.client_key.clone(),
        ServiceSet::LIBRADOS,
    )
    .unwrap()
    .with_tickets(other.into_tickets());
    let MonReply::BadMethod { result } = exchange(&mut mon, &mut forged, &mut rng) else {
        panic!("reclaim with a foreign ticket accepted");
    };
    assert!(forged.handle_bad_method(2, result, &[2], &[2]).is_denied());
}

#[test]
fn authorizes_to_an_osd_with_challenge() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, mut auth, mut rng) = setup(t, 8);
        handshake(&mut mon, &mut auth, &mut rng);
        let mut osd = ScriptedOsd::new(&mon, 9);
        let ticket = auth
            .tickets()
            .valid(EntityType::OSD, mon.now)
            .unwrap()
            .clone();
        let mut a = Authorizer::build(auth.global_id(), &ticket, 0x1234, &mut rng).unwrap();
        assert_eq!(a.payload()[0], 1, "AUTH_MODE_AUTHORIZER");
        let OsdReply::More(challenge) = osd.handle(a.payload()) else {
            panic!("the OSD did not challenge");
        };
        let more = a.handle_challenge(&challenge, &mut rng).unwrap();
        let OsdReply::Done(done) = osd.handle(&more) else {
            panic!("the OSD refused the answer");
        };
        let out = a.verify_reply(&done).unwrap();
        assert_eq!(&out.session_key, ticket.session_key.secret());
        assert_eq!(out.connection_secret.len(), 64);
        // a reply for someone else's nonce is refused
        let b = Authorizer::build(auth.global_id(), &ticket, 0x9999, &mut rng).unwrap();
        assert!(b.verify_reply(&done).is_err());
    }
}

#[test]
fn renews_service_tickets_at_three_quarters() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, mut auth, mut rng) = setup(t, 10);
        handshake(&mut mon, &mut auth, &mut rng);
        let start = mon.now;
        assert!(!auth.needs_renewal(UTime::new(start.sec + 2699, 0)));
        assert!(
            auth.build_renewal_request(UTime::new(start.sec + 2699, 0), &mut rng)
                .unwrap()
                .is_none()
        );
        // everything is due at 75%: the AUTH ticket first, with GET_AUTH_SESSION_KEY
        let later = UTime::new(start.sec + 2700, 0);
        mon.now = later;
        assert!(auth.needs_renewal(later));
        let req = auth
            .build_renewal_request(later, &mut rng)
            .unwrap()
            .unwrap();
        let (result, reply) = mon.mauth(&req);
        assert_eq!(result, 0);
        let got = auth.handle_renewal_reply(result, &reply, later).unwrap();
        assert!(got.contains(EntityType::AUTH));
        assert!(!auth.needs_renewal(later));
        // the AUTH renewal asked for every due ticket (other_keys): all are fresh again
        for svc in [
            EntityType::AUTH,
            EntityType::MON,
            EntityType::OSD,
            EntityType::MGR,
        ] {
            let ticket = auth.tickets().get(svc).unwrap();
            assert_eq!(ticket.expires, UTime::new(later.sec + 3600, 0), "{svc}");
        }
        // the new AUTH ticket blob came encrypted under the old AUTH session key
        assert_eq!(
            auth.tickets().get(EntityType::AUTH).unwrap().session_key,
            mon.auth_session_keys[1]
        );
    }
}

#[test]
fn fetches_missing_tickets_with_principal_session_key_requests() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, _, mut rng) = setup(t, 11);
        let key = mon.client_key.clone();
        let mut auth = MonAuth::new(AuthName::client("admin"), key, ServiceSet::MON).unwrap();
        let out = handshake(&mut mon, &mut auth, &mut rng);
        assert_eq!(out.received, ServiceSet::MON | ServiceSet::AUTH);
        assert!(auth.tickets().get(EntityType::OSD).is_none());
        // only the MGR ticket missing: not worth a request (as in Ceph)
        auth.set_want(ServiceSet::MON | ServiceSet::MGR);
        assert!(!auth.needs_renewal(mon.now));
        // OSD and MGR missing, AUTH fresh: GET_PRINCIPAL_SESSION_KEY with an authorizer
        auth.set_want(ServiceSet::LIBRADOS);
        let now = UTime::new(mon.now.sec + 10, 0);
        let req = auth.build_renewal_request(now, &mut rng).unwrap().unwrap();
        assert_eq!(req[..2], [0x00, 0x02]);
        let (result, reply) = mon.mauth(&req);
        assert_eq!(result, 0);
        let got = auth.handle_renewal_reply(result, &reply, now).unwrap();
        assert_eq!(got, ServiceSet::OSD | ServiceSet::MGR);
        assert!(!auth.needs_renewal(now));
        let osd = auth.tickets().valid(EntityType::OSD, now).unwrap();
        assert_eq!(osd.session_key.key_type(), t);
        assert!(mon.decode_ticket(EntityType::OSD, &osd.ticket).is_some());
        // a refusal is reported, and a garbled reply changes nothing
        assert!(
            auth.handle_renewal_reply(-13, &[], now)
                .unwrap_err()
                .is_denied()
        );
        let before = auth.tickets().clone();
        for cut in 0..reply.len() {
            assert!(auth.handle_renewal_reply(0, &reply[..cut], now).is_err());
        }
        assert_eq!(auth.tickets(), &before);
    }
}

#[test]
fn refuses_out_of_order_calls() {
    let (mon, mut auth, mut rng) = setup(KeyType::AES, 12);
    assert!(matches!(
        auth.handle_done(1, 1, &[], mon.now),
        Err(CephxError::UnexpectedMessage(_))
    ));
    let (_, mut auth, _) = setup(KeyType::AES, 12);
    assert!(
        auth.handle_reply_more(&[1, 0, 0, 0, 0, 0, 0, 0, 1], &mut rng)
            .is_err()
    );
    let (_, mut auth, _) = setup(KeyType::AES, 12);
    auth.initial_request().unwrap();
    assert!(auth.initial_request().is_err());
    assert!(auth.build_renewal_request(mon.now, &mut rng).is_err());
}

#[test]
fn corrupted_or_truncated_auth_done_is_an_error() {
    for t in [KeyType::AES, KeyType::AES256K] {
        let (mut mon, mut auth, mut rng) = setup(t, 13);
        let MonReply::Done {
            global_id,
            con_mode,
            payload,
        } = exchange(&mut mon, &mut auth, &mut rng)
        else {
            panic!()
        };
        let snapshot = || {
            let mut a = MonAuth::new(
                AuthName::client("admin"),
                mon.client_key.clone(),
                ServiceSet::LIBRADOS,
            )
            .unwrap();
            a.initial_request().unwrap();
            a.handle_reply_more(&[1, 1, 0, 0, 0, 0, 0, 0, 0], &mut StdRng::seed_from_u64(0))
                .unwrap();
            a
        };
        for cut in 0..payload.len() {
            let mut a = snapshot();
            assert!(
                a.handle_done(global_id, con_mode, &payload[..cut], mon.now)
                    .is_err(),
                "accepted {cut} of {} bytes",
                payload.len()
            );
        }
        // Any flip must be handled without a panic. Flips in the encrypted principal part of
        // the AUTH ticket (after header 6, v 1, count 4, service 4, v 1, length 4) are always
        // caught; flips in the opaque ticket blob or the version bytes cannot be.
        let ct_len = u32::from_le_bytes(payload[16..20].try_into().unwrap()) as usize;
        let mut rejected = 0;
        for i in 0..payload.len() {
            let mut bad = payload.clone();
            bad[i] ^= 0x01;
            let mut a = snapshot();
            let r = a.handle_done(global_id, con_mode, &bad, mon.now);
            if (16..20 + ct_len).contains(&i) {
                assert!(r.is_err(), "flip at {i} in the encrypted ticket accepted");
            }
            rejected += usize::from(r.is_err());
        }
        assert!(rejected > ct_len, "{rejected} of {}", payload.len());
        // and the real payload still works
        let mut a = snapshot();
        let _ = a.handle_done(global_id, con_mode, &payload, mon.now);
    }
}

#[test]
fn corrupted_authorizer_replies_are_errors() {
    let (mut mon, mut auth, mut rng) = setup(KeyType::AES256K, 14);
    handshake(&mut mon, &mut auth, &mut rng);
    let mut osd = ScriptedOsd::new(&mon, 15);
    let ticket = auth
        .tickets()
        .valid(EntityType::OSD, mon.now)
        .unwrap()
        .clone();
    let mut a = Authorizer::build(auth.global_id(), &ticket, 7, &mut rng).unwrap();
    let OsdReply::More(challenge) = osd.handle(a.payload()) else {
        panic!()
    };
    for cut in 1..challenge.len() {
        assert!(a.handle_challenge(&challenge[..cut], &mut rng).is_err());
    }
    let more = a.handle_challenge(&challenge, &mut rng).unwrap();
    let OsdReply::Done(done) = osd.handle(&more) else {
        panic!()
    };
    for cut in 0..done.len() {
        assert!(a.verify_reply(&done[..cut]).is_err());
    }
    for i in 0..done.len() {
        let mut bad = done.clone();
        bad[i] ^= 0x10;
        assert!(a.verify_reply(&bad).is_err(), "flip at {i}");
    }
}

#[test]
fn aes_key_cannot_answer_for_an_aes256k_identity() {
    let mut rng = StdRng::seed_from_u64(16);
    let real = key_of(KeyType::AES256K, &mut rng);
    let mut mon = ScriptedMon::new(real, 17);
    let aes: CryptoKey = key_of(KeyType::AES, &mut rng);
    let mut auth = MonAuth::new(AuthName::client("admin"), aes, ServiceSet::LIBRADOS).unwrap();
    assert!(matches!(
        exchange(&mut mon, &mut auth, &mut rng),
        MonReply::BadMethod { result: -13 }
    ));
}

#[test]
fn refuses_unusable_client_keys_and_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<MonAuth>();
    assert_send::<Authorizer>();
    assert_send::<TicketStore>();
    let name = AuthName::client("admin");
    assert!(MonAuth::new(name.clone(), CryptoKey::default(), ServiceSet::LIBRADOS).is_err());
    let none = CryptoKey::new(
        KeyType::NONE,
        UTime::default(),
        cephx::Secret::new(vec![1; 16]),
    )
    .unwrap();
    assert!(matches!(
        MonAuth::new(name, none, ServiceSet::LIBRADOS),
        Err(CephxError::UnsupportedKeyType(0))
    ));
}
