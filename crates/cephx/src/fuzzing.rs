//! Bodies of the cargo-fuzz targets for this crate (`fuzz/fuzz_targets/`), kept here so that
//! the tests run them too (`tests/fuzz_smoke.rs`).
//!
//! * [`fuzz_server_replies`]: the first byte picks a decoder or a state machine step that
//!   takes server input; the rest is that input. Decoded values must re-encode to something
//!   that decodes to the same value; the state machines must return errors, never panic.
//! * [`fuzz_keyring`]: keyring text or binary; what parses must print and parse back the same
//!   (when its names need no escaping).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use denc::{AuthName, Decode, Encode, EntityType, Reader, UTime, Writer};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::authorizer::Authorizer;
use crate::crypto::{Cipher, KeyUsage};
use crate::envelope::decode_decrypt_enc_bl;
use crate::key::{CryptoKey, KeyType};
use crate::keyring::KeyRing;
use crate::mon_auth::MonAuth;
use crate::protocol::{
    CephXAuthenticate, CephXAuthorize, CephXAuthorizeChallenge, CephXAuthorizeReply,
    CephXResponseHeader, CephXServerChallenge, CephXServiceTicket, CephXServiceTicketInfo,
    CephXTicketBlob,
};
use crate::secret::Secret;
use crate::tickets::{ServiceSet, ServiceTicket, TicketStore};

const NOW: UTime = UTime::new(1_800_000_000, 0);

fn check<T: Decode + Encode + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(value) = T::decode(&mut r) else {
        return;
    };
    let mut w = Writer::new();
    value.encode(&mut w);
    let bytes = w.finish().expect("encodes");
    match denc::decode_exact::<T>(&bytes) {
        Ok(again) => assert_eq!(again, value, "re-encoded value differs"),
        Err(e) => panic!("re-encoded value does not decode: {e}"),
    }
}

fn fixed_key(t: KeyType, fill: u8) -> CryptoKey {
    let len = t.secret_len().unwrap_or(16);
    CryptoKey::new(t, UTime::new(1, 2), Secret::new(vec![fill; len])).expect("valid key")
}

fn key_type_for(data: &[u8]) -> KeyType {
    if data.first().is_some_and(|b| b & 1 == 1) {
        KeyType::AES256K
    } else {
        KeyType::AES
    }
}

fn ticket(service: EntityType, t: KeyType) -> ServiceTicket {
    ServiceTicket {
        service,
        session_key: fixed_key(t, 0x42),
        ticket: CephXTicketBlob {
            secret_id: 3,
            blob: bytes::Bytes::from_static(b"opaque"),
        },
        validity: UTime::new(3600, 0),
        expires: UTime::new(NOW.sec + 3600, 0),
        renew_after: UTime::new(NOW.sec + 2700, 0),
    }
}

fn mon_auth(t: KeyType) -> MonAuth {
    MonAuth::new(
        AuthName::client("fuzz"),
        fixed_key(t, 7),
        ServiceSet::LIBRADOS,
    )
    .expect("valid key")
}

/// Feeds `data[1..]` to the decoder or handler chosen by `data[0]`.
pub fn fuzz_server_replies(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let rng = &mut StdRng::seed_from_u64(u64::from(which));
    let t = key_type_for(rest);
    match which % 16 {
        0 => check::<CephXServerChallenge>(rest),
        1 => check::<CephXResponseHeader>(rest),
        2 => check::<CephXTicketBlob>(rest),
        3 => check::<CephXServiceTicket>(rest),
        4 => check::<CephXAuthorizeReply>(rest),
        5 => check::<CephXAuthorizeChallenge>(rest),
        6 => check::<CephXServiceTicketInfo>(rest),
        7 => check::<CryptoKey>(rest),
        8 => {
            check::<CephXAuthenticate>(rest);
            check::<CephXAuthorize>(rest);
        }
        9 => {
            let mut auth = mon_auth(t);
            auth.initial_request().expect("first request");
            let _ = auth.handle_reply_more(rest, rng);
            let _ = auth.handle_done(1, 2, rest, NOW);
        }
        10 => {
            // AUTH_DONE after a valid challenge, fresh or reclaiming
            for previous in [false, true] {
                let mut auth = mon_auth(t);
                if previous {
                    let mut store = TicketStore::new();
                    store.set_global_id(77);
                    store.insert(ticket(EntityType::AUTH, t));
                    auth = auth.with_tickets(store);
                }
                auth.initial_request().expect("first request");
                let challenge = denc::encode_to_vec(&CephXServerChallenge {
                    server_challenge: 5,
                })
                .expect("encodes");
                auth.handle_reply_more(&challenge, rng)
                    .expect("valid challenge");
                let _ = auth.handle_done(77, 2, rest, NOW);
            }
        }
        11 => {
            let mut a =
                Authorizer::build(9, &ticket(EntityType::OSD, t), 11, rng).expect("authorizer");
            let _ = a.verify_reply(rest);
            let _ = a.handle_challenge(rest, rng);
            let _ = a.verify_reply(rest);
        }
        12 => {
            let mut store = TicketStore::new();
            store.set_global_id(9);
            for s in [EntityType::AUTH, EntityType::MON, EntityType::OSD] {
                store.insert(ticket(s, t));
            }
            let mut auth = mon_auth(t).authenticated(store, 5);
            let _ = auth.handle_renewal_reply(0, rest, NOW);
            let _ = auth.build_renewal_request(UTime::new(NOW.sec + 3000, 0), rng);
            let _ = auth.handle_renewal_reply(0, rest, UTime::new(NOW.sec + 3000, 0));
        }
        13 => {
            for kt in [KeyType::AES, KeyType::AES256K] {
                let c = fixed_key(kt, 9).cipher().expect("cipher");
                let _ = c.decrypt(KeyUsage::TICKET_SESSION_KEY, rest);
                let _ = decode_decrypt_enc_bl::<CephXServiceTicket>(
                    &c,
                    KeyUsage::TICKET_SESSION_KEY,
                    rest,
                );
            }
        }
        14 => {
            // ticket replies in clear (the identity cipher), so the fuzzer reaches the parser
            // behind the encryption
            let none = Cipher::new(KeyType::NONE, &Secret::default()).expect("none cipher");
            let mut store = TicketStore::new();
            let mut previous = ticket(EntityType::AUTH, t);
            // an identity-cipher previous session key, so encrypted blobs are readable too
            previous.session_key =
                CryptoKey::new(KeyType::NONE, UTime::default(), Secret::new(vec![1]))
                    .expect("none key");
            store.insert(previous);
            let before = store.clone();
            let mut r = Reader::new(rest);
            match store.apply_reply(&mut r, &none, NOW) {
                Ok(got) => assert!(got.iter().all(|s| store.get(s).is_some())),
                Err(_) => assert_eq!(store, before, "a failed reply changed the store"),
            }
        }
        _ => {
            let mut auth = mon_auth(t);
            let _ = auth.initial_request();
            let words: Vec<u32> = rest
                .chunks_exact(4)
                .map(|c| {
                    let mut word = [0u8; 4];
                    word.copy_from_slice(c);
                    u32::from_le_bytes(word)
                })
                .collect();
            let result = words
                .first()
                .map_or(-13, |w| i32::from_le_bytes(w.to_le_bytes()));
            let err = auth.handle_bad_method(2, result, &words, &words);
            assert_eq!(err.is_denied(), result == -13);
        }
    }
}

fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with([' ', '_'])
        && !s.ends_with([' ', '_'])
        && !s.contains("  ")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ' '))
}

/// Parses `data` as a keyring (text or binary).
pub fn fuzz_keyring(data: &[u8]) {
    let _ = CryptoKey::from_base64(&String::from_utf8_lossy(data));
    let Ok(ring) = KeyRing::parse(data) else {
        return;
    };
    let text = ring.to_text();
    let again = KeyRing::parse(text.as_bytes());
    let simple = ring
        .iter()
        .all(|(name, e)| plain_name(&name.id) && e.caps.keys().all(|k| plain_name(k)));
    if simple {
        assert_eq!(again.expect("printed keyring parses"), ring, "{}", &*text);
    }
}
