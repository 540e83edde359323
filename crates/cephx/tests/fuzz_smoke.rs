//! Runs the fuzz-target bodies over real samples, real handshake payloads and many
//! deterministic mutations of them, so every test run exercises the decoders and the state
//! machines on hostile input (cargo-fuzz explores further; see fuzz/README.md).

mod support;

use cephx::fuzzing::{fuzz_keyring, fuzz_server_replies};
use cephx::{KeyType, MonAuth, ServiceSet};
use denc::AuthName;
use denc::testing::{TestRng, mutate, samples};
use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{MonReply, ScriptedMon, key_of};

/// The corpus folders of the decoder selectors of `fuzz_server_replies`.
const TYPES: &[(u8, &str)] = &[
    (0, "CephXServerChallenge"),
    (1, "CephXResponseHeader"),
    (2, "CephXTicketBlob"),
    (3, "CephXServiceTicket"),
    (4, "CephXAuthorizeReply"),
    (5, "CephXAuthorizeChallenge"),
    (6, "CephXServiceTicketInfo"),
    (7, "CryptoKey"),
    (8, "CephXAuthenticate"),
    (8, "CephXAuthorize"),
];

fn run(seed: Vec<u8>, rounds: usize, rng: &mut TestRng, body: fn(&[u8])) {
    body(&seed);
    for _ in 0..rounds {
        let mut m = seed.clone();
        for _ in 0..=rng.below(3) {
            mutate(rng, &mut m);
        }
        body(&m);
    }
}

/// AUTH_REQUEST_MORE-answering payloads of a real (scripted) handshake.
fn handshake_payloads() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for t in [KeyType::AES, KeyType::AES256K] {
        let mut rng = StdRng::seed_from_u64(1);
        let key = key_of(t, &mut rng);
        let mut mon = ScriptedMon::new(key.clone(), 2);
        let mut auth = MonAuth::new(AuthName::client("admin"), key, ServiceSet::LIBRADOS).unwrap();
        let MonReply::More(challenge) = mon.auth_request(&auth.initial_request().unwrap()) else {
            panic!()
        };
        out.push(challenge.clone());
        let more = auth.handle_reply_more(&challenge, &mut rng).unwrap();
        out.push(more.clone());
        if let MonReply::Done { payload, .. } = mon.auth_request_more(&more) {
            out.push(payload);
        }
    }
    out
}

/// A ticket reply in clear (identity cipher) for selector 14, which parses it behind the
/// encryption: one AUTH ticket, blob encrypted (under the identity cipher too), one MON ticket.
fn clear_ticket_reply() -> Vec<u8> {
    use cephx::envelope::encode_encrypt;
    use cephx::protocol::{CephXServiceTicket, CephXTicketBlob};
    use cephx::{Cipher, KeyUsage, Secret};
    let none = Cipher::new(KeyType::NONE, &Secret::default()).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut w = denc::Writer::new();
    w.put_u8(1);
    w.put_u32(2);
    for (service, encrypted) in [(0x20u32, true), (0x01, false)] {
        w.put_u32(service);
        w.put_u8(1);
        let msg = CephXServiceTicket {
            session_key: key_of(KeyType::AES, &mut rng),
            validity: denc::UTime::new(3600, 0),
        };
        encode_encrypt(&mut w, &none, KeyUsage::TICKET_SESSION_KEY, &msg, &mut rng).unwrap();
        let blob = denc::encode_to_vec(&CephXTicketBlob {
            secret_id: 1,
            blob: bytes::Bytes::from_static(b"blob"),
        })
        .unwrap();
        w.put_u8(u8::from(encrypted));
        if encrypted {
            let c = Cipher::new(KeyType::NONE, &Secret::default()).unwrap();
            encode_encrypt(
                &mut w,
                &c,
                KeyUsage::TICKET_BLOB,
                &bytes::Bytes::from(blob),
                &mut rng,
            )
            .unwrap();
        } else {
            w.put_length_prefixed(&blob);
        }
    }
    w.finish().unwrap()
}

#[test]
fn server_reply_decoders_survive_mutations() {
    let mut rng = TestRng::new(0x1234_5678);
    for (selector, folder) in TYPES {
        for sample in samples(folder) {
            let mut seed = vec![*selector];
            seed.extend_from_slice(&sample.bytes);
            run(seed, 40, &mut rng, fuzz_server_replies);
        }
    }
}

#[test]
fn state_machines_survive_mutations() {
    let mut rng = TestRng::new(0x9abc_def0);
    let payloads = handshake_payloads();
    for selector in 9u8..=15 {
        for (i, p) in payloads.iter().enumerate() {
            for parity in [0u8, 1] {
                // the payload's first byte picks the key type in some selectors
                let mut seed = vec![selector + 16 * parity];
                seed.extend_from_slice(p);
                run(seed, 60 + i, &mut rng, fuzz_server_replies);
            }
        }
        run(vec![selector], 50, &mut rng, fuzz_server_replies);
    }
    let mut seed = vec![14];
    seed.extend_from_slice(&clear_ticket_reply());
    run(seed, 5000, &mut rng, fuzz_server_replies);
}

#[test]
fn keyring_parser_survives_mutations() {
    let mut rng = TestRng::new(0x0bad_cafe);
    let seeds: [&[u8]; 4] = [
        b"[client.admin]\n\tkey = AQBSHAFr3RjBHhAAGw5hZpkdFNBgU9ZGVl2L4w==\n\tcaps mon = \"allow *\"\n",
        b"# c\n[osd.0]\nkey=AQBSHAFr3U5wIBAABLIhY2CJ7u2yf8x1g7lluA== ; x\ncaps_osd = 'a \\\"b'\n[global]\nx = \\\n y\n",
        b"\x01\x01\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00admin\x01",
        b"AQBSHAFr3U5wIBAABLIhY2CJ7u2yf8x1g7lluA==\n",
    ];
    for seed in seeds {
        run(seed.to_vec(), 3000, &mut rng, fuzz_keyring);
    }
}
