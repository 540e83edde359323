//! CephX's wire structures (src/auth/cephx/CephxProtocol.h, src/auth/Auth.h/.cc), named as in
//! Ceph so both code bases grep alike. None uses Ceph's versioned envelope: each starts with a
//! bare `struct_v` byte, which decoders read and (like Ceph) mostly ignore.

use bytes::Bytes;
use denc::{AuthName, Decode, Encode, Reader, UTime, Writer};

use crate::crypto::{Cipher, KeyUsage};
use crate::envelope::envelope_plaintext;
use crate::error::Result;
use crate::key::{CryptoKey, KeyType};
use crate::secret::Secret;

/// `CEPHX_GET_AUTH_SESSION_KEY`: authenticate and get the AUTH ticket.
pub const CEPHX_GET_AUTH_SESSION_KEY: u16 = 0x0100;
/// `CEPHX_GET_PRINCIPAL_SESSION_KEY`: get tickets for other services.
pub const CEPHX_GET_PRINCIPAL_SESSION_KEY: u16 = 0x0200;
/// `CEPHX_GET_ROTATING_KEY`: daemons fetch rotating service secrets.
pub const CEPHX_GET_ROTATING_KEY: u16 = 0x0400;

/// The server's first answer: a random challenge (`CephXServerChallenge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXServerChallenge {
    /// Random, non-zero.
    pub server_challenge: u64,
}

impl Decode for CephXServerChallenge {
    const MIN_LEN: usize = 9;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXServerChallenge", |r| {
            let _v = r.u8()?;
            Ok(CephXServerChallenge {
                server_challenge: r.u64()?,
            })
        })
    }
}

impl Encode for CephXServerChallenge {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u64(self.server_challenge);
    }
}

/// Starts every client request after the challenge (`CephXRequestHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXRequestHeader {
    /// `CEPHX_GET_*`.
    pub request_type: u16,
}

impl Decode for CephXRequestHeader {
    const MIN_LEN: usize = 2;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        Ok(CephXRequestHeader {
            request_type: r.named("CephXRequestHeader", |r| r.u16())?,
        })
    }
}

impl Encode for CephXRequestHeader {
    fn encode(&self, w: &mut Writer) {
        w.put_u16(self.request_type);
    }
}

/// Starts every server reply after the challenge (`CephXResponseHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXResponseHeader {
    /// The request this answers.
    pub request_type: u16,
    /// 0 or a negative errno.
    pub status: i32,
}

impl Decode for CephXResponseHeader {
    const MIN_LEN: usize = 6;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXResponseHeader", |r| {
            Ok(CephXResponseHeader {
                request_type: r.u16()?,
                status: r.i32()?,
            })
        })
    }
}

impl Encode for CephXResponseHeader {
    fn encode(&self, w: &mut Writer) {
        w.put_u16(self.request_type);
        w.put_i32(self.status);
    }
}

/// A ticket as the client holds it: opaque bytes encrypted with the service's rotating
/// secret number `secret_id` (`CephXTicketBlob`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CephXTicketBlob {
    /// Which rotating secret of the service encrypted the blob.
    pub secret_id: u64,
    /// The encrypted `CephXServiceTicketInfo`; empty for "no ticket".
    pub blob: Bytes,
}

impl Decode for CephXTicketBlob {
    const MIN_LEN: usize = 13;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXTicketBlob", |r| {
            let _v = r.u8()?;
            Ok(CephXTicketBlob {
                secret_id: r.u64()?,
                blob: r.decode()?,
            })
        })
    }
}

impl Encode for CephXTicketBlob {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u64(self.secret_id);
        self.blob.encode(w);
    }
}

/// The client's answer to the server challenge (`CephXAuthenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CephXAuthenticate {
    /// Encoding version: 3 today (2 = pre-16.2.1 clients that may omit `old_ticket` on
    /// reconnect; 1 has no `other_keys`).
    pub struct_v: u8,
    /// Random.
    pub client_challenge: u64,
    /// Proof of the key: see [`cephx_calc_client_server_challenge`].
    pub key: u64,
    /// The previous AUTH ticket, for global_id reclaim; empty on a first connection.
    pub old_ticket: CephXTicketBlob,
    /// Services whose tickets should come with the AUTH ticket (entity type bits).
    pub other_keys: u32,
}

impl Default for CephXAuthenticate {
    fn default() -> Self {
        CephXAuthenticate {
            struct_v: 3,
            client_challenge: 0,
            key: 0,
            old_ticket: CephXTicketBlob::default(),
            other_keys: 0,
        }
    }
}

impl Decode for CephXAuthenticate {
    const MIN_LEN: usize = 30;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXAuthenticate", |r| {
            let struct_v = r.u8()?;
            let client_challenge = r.u64()?;
            let key = r.u64()?;
            let old_ticket = r.decode()?;
            let other_keys = if struct_v >= 2 { r.u32()? } else { 0 };
            Ok(CephXAuthenticate {
                struct_v,
                client_challenge,
                key,
                old_ticket,
                other_keys,
            })
        })
    }
}

impl Encode for CephXAuthenticate {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(self.struct_v);
        w.put_u64(self.client_challenge);
        w.put_u64(self.key);
        self.old_ticket.encode(w);
        if self.struct_v >= 2 {
            w.put_u32(self.other_keys);
        }
    }
}

/// The two challenges, the input of the key proof (`CephXChallengeBlob`). No version byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXChallengeBlob {
    /// From the server.
    pub server_challenge: u64,
    /// From the client.
    pub client_challenge: u64,
}

impl Decode for CephXChallengeBlob {
    const MIN_LEN: usize = 16;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXChallengeBlob", |r| {
            Ok(CephXChallengeBlob {
                server_challenge: r.u64()?,
                client_challenge: r.u64()?,
            })
        })
    }
}

impl Encode for CephXChallengeBlob {
    fn encode(&self, w: &mut Writer) {
        w.put_u64(self.server_challenge);
        w.put_u64(self.client_challenge);
    }
}

/// The `key` field of [`CephXAuthenticate`] (CephxProtocol.cc
/// `cephx_calc_client_server_challenge`): XOR of the little-endian 64-bit words of
///
/// * AES keys: `encode_encrypt(CephXChallengeBlob)` *including its le32 length prefix*
///   (4 + 32 bytes; the last 4 bytes do not count);
/// * other key types (aes256k): HMAC-SHA256 of the encoded `CephXChallengeBlob` keyed with
///   the secret (Ceph's `encode_hash`: its confounder makes aes256k encryption random).
pub fn cephx_calc_client_server_challenge(
    key: &CryptoKey,
    server_challenge: u64,
    client_challenge: u64,
) -> Result<u64> {
    let blob = CephXChallengeBlob {
        server_challenge,
        client_challenge,
    };
    let cipher: Cipher = key.cipher()?;
    let bytes: Vec<u8> = if key.key_type() == KeyType::AES {
        // AES-128-CBC is deterministic (the confounder is an aes256k thing and unused here)
        let plain = envelope_plaintext(&blob)?;
        let ct = cipher.encrypt_with_confounder(KeyUsage::DEFAULT, &plain, &[0; 16]);
        let mut w = Writer::new();
        w.put_length_prefixed(&ct);
        w.finish()?
    } else {
        cipher.hmac_sha256(&denc::encode_to_vec(&blob)?).to_vec()
    };
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            u64::from_le_bytes(word)
        })
        .fold(0, |acc, word| acc ^ word))
}

/// Asks for tickets (`CephXServiceTicketRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXServiceTicketRequest {
    /// Entity type bits of the services.
    pub keys: u32,
}

impl Decode for CephXServiceTicketRequest {
    const MIN_LEN: usize = 5;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXServiceTicketRequest", |r| {
            let _v = r.u8()?;
            Ok(CephXServiceTicketRequest { keys: r.u32()? })
        })
    }
}

impl Encode for CephXServiceTicketRequest {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u32(self.keys);
    }
}

/// A service's final answer to an authorizer (`CephXAuthorizeReply`): version 2 carries the
/// connection secret for msgr2's secure mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CephXAuthorizeReply {
    /// The authorizer's nonce plus one.
    pub nonce_plus_one: u64,
    /// Random bytes (a `std::string` in Ceph, not text); empty in crc mode.
    pub connection_secret: Secret,
}

impl Decode for CephXAuthorizeReply {
    const MIN_LEN: usize = 9;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXAuthorizeReply", |r| {
            let v = r.u8()?;
            let nonce_plus_one = r.u64()?;
            let connection_secret = if v >= 2 {
                r.decode()?
            } else {
                Secret::default()
            };
            Ok(CephXAuthorizeReply {
                nonce_plus_one,
                connection_secret,
            })
        })
    }
}

impl Encode for CephXAuthorizeReply {
    fn encode(&self, w: &mut Writer) {
        if self.connection_secret.is_empty() {
            w.put_u8(1);
            w.put_u64(self.nonce_plus_one);
        } else {
            w.put_u8(2);
            w.put_u64(self.nonce_plus_one);
            self.connection_secret.encode(w);
        }
    }
}

/// The part of a ticket reply only the principal can read (`CephXServiceTicket`, "A").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CephXServiceTicket {
    /// The session key for talking to the service.
    pub session_key: CryptoKey,
    /// How long the ticket lasts from now.
    pub validity: UTime,
}

impl Decode for CephXServiceTicket {
    const MIN_LEN: usize = 21;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXServiceTicket", |r| {
            let _v = r.u8()?;
            Ok(CephXServiceTicket {
                session_key: r.decode()?,
                validity: r.decode()?,
            })
        })
    }
}

impl Encode for CephXServiceTicket {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        self.session_key.encode(w);
        self.validity.encode(w);
    }
}

/// The capabilities inside a ticket (`AuthCapsInfo`, src/auth/Auth.cc).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthCapsInfo {
    /// All capabilities.
    pub allow_all: bool,
    /// Encoded caps (a map of service to cap string, or a string).
    pub caps: Bytes,
}

impl Decode for AuthCapsInfo {
    const MIN_LEN: usize = 6;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("AuthCapsInfo", |r| {
            let _v = r.u8()?;
            Ok(AuthCapsInfo {
                allow_all: r.bool()?,
                caps: r.decode()?,
            })
        })
    }
}

impl Encode for AuthCapsInfo {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_bool(self.allow_all);
        self.caps.encode(w);
    }
}

/// What a ticket grants (`AuthTicket`, src/auth/Auth.cc). Version 2 adds an unused auid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthTicket {
    /// The principal.
    pub name: AuthName,
    /// Its global id.
    pub global_id: u64,
    /// Issued at.
    pub created: UTime,
    /// Valid until.
    pub expires: UTime,
    /// Capabilities.
    pub caps: AuthCapsInfo,
    /// Flags.
    pub flags: u32,
}

/// `CEPH_AUTH_UID_DEFAULT`, the auid every v2 `AuthTicket` carries.
const AUTH_UID_DEFAULT: u64 = u64::MAX;

impl Decode for AuthTicket {
    const MIN_LEN: usize = 1 + 8 + 8 + 8 + 8 + 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("AuthTicket", |r| {
            let v = r.u8()?;
            let name = r.decode()?;
            let global_id = r.u64()?;
            if v >= 2 {
                let _auid = r.u64()?;
            }
            Ok(AuthTicket {
                name,
                global_id,
                created: r.decode()?,
                expires: r.decode()?,
                caps: r.decode()?,
                flags: r.u32()?,
            })
        })
    }
}

impl Encode for AuthTicket {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(2);
        self.name.encode(w);
        w.put_u64(self.global_id);
        w.put_u64(AUTH_UID_DEFAULT);
        self.created.encode(w);
        self.expires.encode(w);
        self.caps.encode(w);
        w.put_u32(self.flags);
    }
}

/// The inside of a ticket blob, readable by the service only (`CephXServiceTicketInfo`,
/// "B"). Clients never decrypt it; tests build it to play the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CephXServiceTicketInfo {
    /// What is granted.
    pub ticket: AuthTicket,
    /// The session key, as in the principal's part.
    pub session_key: CryptoKey,
}

impl Decode for CephXServiceTicketInfo {
    const MIN_LEN: usize = 1 + AuthTicket::MIN_LEN + CryptoKey::MIN_LEN;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXServiceTicketInfo", |r| {
            let _v = r.u8()?;
            Ok(CephXServiceTicketInfo {
                ticket: r.decode()?,
                session_key: r.decode()?,
            })
        })
    }
}

impl Encode for CephXServiceTicketInfo {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        self.ticket.encode(w);
        self.session_key.encode(w);
    }
}

/// A service's challenge to an authorizer (`CephXAuthorizeChallenge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXAuthorizeChallenge {
    /// Random.
    pub server_challenge: u64,
}

impl Decode for CephXAuthorizeChallenge {
    const MIN_LEN: usize = 9;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXAuthorizeChallenge", |r| {
            let _v = r.u8()?;
            Ok(CephXAuthorizeChallenge {
                server_challenge: r.u64()?,
            })
        })
    }
}

impl Encode for CephXAuthorizeChallenge {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u64(self.server_challenge);
    }
}

/// The encrypted half of an authorizer (`CephXAuthorize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CephXAuthorize {
    /// Random; the service answers with nonce + 1.
    pub nonce: u64,
    /// True once the service's challenge is answered.
    pub have_challenge: bool,
    /// The service's challenge + 1.
    pub server_challenge_plus_one: u64,
}

impl Decode for CephXAuthorize {
    const MIN_LEN: usize = 9;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.named("CephXAuthorize", |r| {
            let v = r.u8()?;
            let nonce = r.u64()?;
            let (have_challenge, server_challenge_plus_one) = if v >= 2 {
                (r.bool()?, r.u64()?)
            } else {
                (false, 0)
            };
            Ok(CephXAuthorize {
                nonce,
                have_challenge,
                server_challenge_plus_one,
            })
        })
    }
}

impl Encode for CephXAuthorize {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(2);
        w.put_u64(self.nonce);
        w.put_bool(self.have_challenge);
        w.put_u64(self.server_challenge_plus_one);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn aes_challenge_key_matches_an_independent_computation() {
        // Key from ceph-authtool --gen-print-key; expected value computed with Python and
        // `openssl enc -aes-128-cbc` over u8 1 | magic | server | client, then XOR of the
        // le64 words of le32(32) | ciphertext.
        let key = CryptoKey::from_base64("AQB5GwFr2iDOMBAAL4n6fLGzmBepZSh3h4RVeg==").unwrap();
        let k =
            cephx_calc_client_server_challenge(&key, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210)
                .unwrap();
        assert_eq!(k, 0x68cd_fddd_779d_822b);
    }

    #[test]
    fn aes256k_challenge_key_is_an_hmac() {
        // Python: XOR of le64 words of HMAC-SHA256(bytes(range(32)), le64 server | le64 client)
        let key = CryptoKey::new(
            KeyType::AES256K,
            UTime::default(),
            Secret::new((0..32).collect()),
        )
        .unwrap();
        let k =
            cephx_calc_client_server_challenge(&key, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210)
                .unwrap();
        assert_eq!(k, 0xa9ca_6d52_95d9_0ed2);
    }
}
