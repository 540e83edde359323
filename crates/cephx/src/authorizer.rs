//! Authorizers: how a client proves to an OSD or MGR (or to the monitor, when renewing
//! tickets) that it holds a ticket (src/auth/cephx/CephxProtocol.cc
//! `CephXTicketHandler::build_authorizer`, `CephXAuthorizer::add_challenge`,
//! `CephXAuthorizer::verify_reply`).
//!
//! Layout: u8 1 (also `AUTH_MODE_AUTHORIZER`), le64 global_id, le32 service id, the
//! `CephXTicketBlob`, then a bufferlist with `CephXAuthorize` encrypted under the ticket's
//! session key.
//!
//! msgr2 flow with an OSD/MGR:
//! 1. AUTH_REQUEST(method 2, modes, [`Authorizer::payload`]).
//! 2. The service answers AUTH_REPLY_MORE with a `CephXAuthorizeChallenge` encrypted under the
//!    session key (bare ciphertext, no length prefix); [`Authorizer::handle_challenge`] gives
//!    the AUTH_REQUEST_MORE payload: the whole authorizer again, now answering challenge + 1.
//! 3. AUTH_DONE's payload is a bufferlist with the encrypted `CephXAuthorizeReply`;
//!    [`Authorizer::verify_reply`] checks nonce + 1 and returns the connection secret.

use denc::{EntityType, Reader, Writer};
use rand::CryptoRng;

use crate::crypto::{Cipher, KeyUsage};
use crate::envelope::{decode_decrypt, decode_decrypt_enc_bl, encode_encrypt};
use crate::error::{CephxError, Result};
use crate::protocol::{CephXAuthorize, CephXAuthorizeChallenge, CephXAuthorizeReply};
use crate::secret::Secret;
use crate::tickets::ServiceTicket;

/// `AUTH_MODE_AUTHORIZER` (src/auth/Auth.h): first byte of an authorizer.
pub const AUTH_MODE_AUTHORIZER: u8 = 1;

/// What a successful authorizer exchange yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerOutcome {
    /// The service ticket's session key: msgr2's AUTH_SIGNATURE HMAC key on this connection.
    pub session_key: Secret,
    /// msgr2's connection secret from the service (secure mode: 64 bytes; crc mode: empty).
    pub connection_secret: Secret,
}

/// One authorizer, for one connection attempt to one service.
pub struct Authorizer {
    service: EntityType,
    cipher: Cipher,
    session_key: Secret,
    nonce: u64,
    /// The clear part (version, global_id, service, ticket blob), resent with every answer.
    base: Vec<u8>,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("service", &self.service)
            .field("cipher", &self.cipher)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Builds the authorizer for `ticket` (the client's `global_id`, a random `nonce`).
    /// `rng` provides aes256k confounders.
    pub fn build<R: CryptoRng + ?Sized>(
        global_id: u64,
        ticket: &ServiceTicket,
        nonce: u64,
        rng: &mut R,
    ) -> Result<Authorizer> {
        let cipher = ticket.session_key.cipher()?;
        let mut w = Writer::new();
        w.put_u8(AUTH_MODE_AUTHORIZER);
        w.put_u64(global_id);
        w.put_u32(u32::from(ticket.service.0));
        w.put(&ticket.ticket);
        let base = w.finish()?;
        let mut a = Authorizer {
            service: ticket.service,
            cipher,
            session_key: ticket.session_key.secret().clone(),
            nonce,
            base,
            payload: Vec::new(),
        };
        a.payload = a.encode(
            CephXAuthorize {
                nonce,
                have_challenge: false,
                server_challenge_plus_one: 0,
            },
            rng,
        )?;
        Ok(a)
    }

    fn encode<R: CryptoRng + ?Sized>(&self, msg: CephXAuthorize, rng: &mut R) -> Result<Vec<u8>> {
        let mut w = Writer::from_vec(self.base.clone(), denc::features::ALL);
        encode_encrypt(&mut w, &self.cipher, KeyUsage::AUTHORIZE, &msg, rng)?;
        Ok(w.finish()?)
    }

    /// The service this authorizer is for.
    pub fn service(&self) -> EntityType {
        self.service
    }

    /// The nonce the service must answer with nonce + 1.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The current authorizer bytes: the AUTH_REQUEST payload at first, the answer to the
    /// challenge after [`Authorizer::handle_challenge`].
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The HMAC key for msgr2's AUTH_SIGNATURE on this connection (the ticket's session key).
    pub fn session_key(&self) -> &Secret {
        &self.session_key
    }

    /// Answers the service's challenge (AUTH_REPLY_MORE payload: the encrypted
    /// `CephXAuthorizeChallenge` without length prefix; empty = no challenge). Returns the
    /// AUTH_REQUEST_MORE payload.
    pub fn handle_challenge<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let mut msg = CephXAuthorize {
            nonce: self.nonce,
            have_challenge: false,
            server_challenge_plus_one: 0,
        };
        if !payload.is_empty() {
            let ch: CephXAuthorizeChallenge =
                decode_decrypt_enc_bl(&self.cipher, KeyUsage::AUTHORIZE_CHALLENGE, payload)?;
            msg.have_challenge = true;
            msg.server_challenge_plus_one = ch.server_challenge.wrapping_add(1);
        }
        self.payload = self.encode(msg, rng)?;
        Ok(self.payload.clone())
    }

    /// Checks the service's AUTH_DONE payload (a bufferlist holding the encrypted
    /// `CephXAuthorizeReply`): it must answer our nonce + 1.
    pub fn verify_reply(&self, payload: &[u8]) -> Result<AuthorizerOutcome> {
        let mut r = Reader::new(payload);
        let reply: CephXAuthorizeReply =
            decode_decrypt(&self.cipher, KeyUsage::AUTHORIZE_REPLY, &mut r)?;
        if reply.nonce_plus_one != self.nonce.wrapping_add(1) {
            return Err(CephxError::Protocol(
                "authorizer reply does not answer our nonce",
            ));
        }
        Ok(AuthorizerOutcome {
            session_key: self.session_key.clone(),
            connection_secret: reply.connection_secret,
        })
    }
}
