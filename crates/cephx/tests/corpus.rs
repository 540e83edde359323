//! Every CephX sample of the shared corpus (Ceph 16.2, 18.2, 19.2, 20.3) decodes, re-encodes
//! to the same bytes, and fails cleanly when truncated.

use cephx::protocol::{
    AuthTicket, CephXAuthenticate, CephXAuthorize, CephXAuthorizeChallenge, CephXAuthorizeReply,
    CephXChallengeBlob, CephXRequestHeader, CephXResponseHeader, CephXServerChallenge,
    CephXServiceTicket, CephXServiceTicketInfo, CephXServiceTicketRequest, CephXTicketBlob,
};
use cephx::{CryptoKey, KeyType};
use denc::testing::check_corpus;
use denc::{AuthName, features};

#[test]
fn round_trips_crypto_keys() {
    let all = check_corpus::<CryptoKey>("CryptoKey", features::ALL);
    assert!(all.len() >= 40);
    assert!(
        all.iter()
            .any(|(_, k)| k.key_type() == KeyType::AES && k.secret().len() == 16)
    );
    assert!(all.iter().any(|(_, k)| k.is_empty()));
}

#[test]
fn round_trips_entity_names() {
    let all = check_corpus::<AuthName>("EntityName", features::ALL);
    assert!(all.iter().any(|(_, n)| n.to_string() == "client.admin"));
}

#[test]
fn round_trips_auth_tickets() {
    let all = check_corpus::<AuthTicket>("AuthTicket", features::ALL);
    assert!(all.iter().any(|(_, t)| t.caps.caps.len() > 4));
}

#[test]
fn round_trips_authenticate_v2_and_v3() {
    let all = check_corpus::<CephXAuthenticate>("CephXAuthenticate", features::ALL);
    assert!(all.iter().any(|(_, a)| a.struct_v == 2));
    assert!(all.iter().any(|(_, a)| a.struct_v == 3));
    // librados on a fresh connection wants MON|OSD|MGR plus AUTH
    assert!(all.iter().any(|(_, a)| a.other_keys == 0x35));
    assert!(all.iter().any(|(_, a)| !a.old_ticket.blob.is_empty()));
}

#[test]
fn round_trips_authorizer_structures() {
    check_corpus::<CephXAuthorize>("CephXAuthorize", features::ALL);
    check_corpus::<CephXAuthorizeChallenge>("CephXAuthorizeChallenge", features::ALL);
    let replies = check_corpus::<CephXAuthorizeReply>("CephXAuthorizeReply", features::ALL);
    // v2 replies carry 64 random bytes (not UTF-8) of connection secret
    assert!(replies.iter().any(|(_, r)| r.connection_secret.len() == 64));
    assert!(replies.iter().any(|(_, r)| r.connection_secret.is_empty()));
}

#[test]
fn round_trips_handshake_structures() {
    check_corpus::<CephXServerChallenge>("CephXServerChallenge", features::ALL);
    check_corpus::<CephXChallengeBlob>("CephXChallengeBlob", features::ALL);
    check_corpus::<CephXRequestHeader>("CephXRequestHeader", features::ALL);
    check_corpus::<CephXResponseHeader>("CephXResponseHeader", features::ALL);
    check_corpus::<CephXServiceTicketRequest>("CephXServiceTicketRequest", features::ALL);
}

#[test]
fn round_trips_ticket_structures() {
    check_corpus::<CephXTicketBlob>("CephXTicketBlob", features::ALL);
    check_corpus::<CephXServiceTicket>("CephXServiceTicket", features::ALL);
    check_corpus::<CephXServiceTicketInfo>("CephXServiceTicketInfo", features::ALL);
}
