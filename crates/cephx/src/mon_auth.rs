//! Authenticating to a monitor as msgr2 carries it (src/mon/MonClient.cc
//! `MonConnection::get_auth_request` / `handle_auth_reply_more` / `handle_auth_done`,
//! src/auth/cephx/CephxClientHandler.cc), and renewing tickets over MAuth afterwards.
//!
//! ```text
//! client                                         monitor
//! AUTH_REQUEST(2, modes, u8 10 | EntityName | le64 global_id)  ->
//!                                   <- AUTH_REPLY_MORE(CephXServerChallenge)
//! AUTH_REQUEST_MORE(le16 0x0100 | CephXAuthenticate)  ->
//!          <- AUTH_DONE(global_id, con_mode, CephXResponseHeader | tickets |
//!                       bl(connection secret) | bl(other tickets))
//!                   or AUTH_BAD_METHOD(method, -EACCES, ...) for a wrong key
//! ```

use denc::{AuthName, Reader, UTime, Writer};
use rand::CryptoRng;

use crate::authorizer::Authorizer;
use crate::crypto::{Cipher, KeyUsage};
use crate::envelope::decode_decrypt;
use crate::error::{CephxError, EACCES, Result};
use crate::key::{CryptoKey, KeyType};
use crate::protocol::{
    CEPHX_GET_AUTH_SESSION_KEY, CEPHX_GET_PRINCIPAL_SESSION_KEY, CephXAuthenticate,
    CephXRequestHeader, CephXResponseHeader, CephXServerChallenge, CephXServiceTicketRequest,
    cephx_calc_client_server_challenge,
};
use crate::secret::Secret;
use crate::tickets::{ServiceSet, TicketStore};

/// `CEPH_AUTH_NONE`.
pub const CEPH_AUTH_NONE: u32 = 1;
/// `CEPH_AUTH_CEPHX`: the auth method number in AUTH_REQUEST and MAuth.
pub const CEPH_AUTH_CEPHX: u32 = 2;
/// `CEPH_CON_MODE_CRC`.
pub const CEPH_CON_MODE_CRC: u32 = 1;
/// `CEPH_CON_MODE_SECURE`.
pub const CEPH_CON_MODE_SECURE: u32 = 2;
/// `AUTH_MODE_MON` (src/auth/Auth.h): first byte of a monitor AUTH_REQUEST payload.
pub const AUTH_MODE_MON: u8 = 10;
/// Connection modes a client offers a monitor by default (`ms_mon_client_mode`).
pub const DEFAULT_MON_MODES: [u32; 2] = [CEPH_CON_MODE_SECURE, CEPH_CON_MODE_CRC];
/// Connection modes a client offers OSDs and MGRs by default (`ms_client_mode`).
pub const DEFAULT_SERVICE_MODES: [u32; 2] = [CEPH_CON_MODE_CRC, CEPH_CON_MODE_SECURE];

/// What a successful monitor authentication yields.
#[derive(Debug, Clone)]
pub struct MonAuthOutcome {
    /// The client's global id (the `client.<id>` number).
    pub global_id: u64,
    /// The connection mode the monitor chose.
    pub con_mode: u32,
    /// The AUTH ticket's session key: msgr2's AUTH_SIGNATURE HMAC-SHA256 key on this monitor
    /// connection.
    pub session_key: Secret,
    /// msgr2's connection secret (secure mode: 64 bytes; crc mode: empty).
    pub connection_secret: Secret,
    /// Services whose tickets came with this reply.
    pub received: ServiceSet,
    /// Wanted services still without a valid ticket: renew them with
    /// [`MonAuth::build_renewal_request`].
    pub missing: ServiceSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    AwaitChallenge,
    AwaitDone { server_challenge: u64 },
    Authenticated { server_challenge: u64 },
    Failed,
}

/// The CephX client of one monitor session: the handshake, then ticket renewal.
///
/// Sans-IO: it is fed payloads and returns payloads; time (`now`) and randomness (`rng`)
/// come from the caller.
pub struct MonAuth {
    name: AuthName,
    key: CryptoKey,
    cipher: Cipher,
    want: ServiceSet,
    tickets: TicketStore,
    state: State,
}

impl std::fmt::Debug for MonAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonAuth")
            .field("name", &self.name)
            .field("key_type", &self.key.key_type())
            .field("want", &self.want)
            .field("global_id", &self.tickets.global_id())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl MonAuth {
    /// Authenticates `name` with `key`, asking for tickets for `want` (librados asks for
    /// [`ServiceSet::LIBRADOS`]; the AUTH ticket is always included).
    pub fn new(name: AuthName, key: CryptoKey, want: ServiceSet) -> Result<MonAuth> {
        if !matches!(key.key_type(), KeyType::AES | KeyType::AES256K) {
            return Err(CephxError::UnsupportedKeyType(key.key_type().0));
        }
        let cipher = key.cipher()?;
        Ok(MonAuth {
            name,
            key,
            cipher,
            want: want | ServiceSet::AUTH,
            tickets: TicketStore::new(),
            state: State::New,
        })
    }

    /// Reconnects with the tickets of an earlier session: the global id and the AUTH ticket
    /// are presented again (global_id reclaim, required by monitors since 16.2.1 /
    /// CVE-2021-20288), and still-valid service tickets are kept.
    #[must_use]
    pub fn with_tickets(mut self, previous: TicketStore) -> MonAuth {
        self.tickets = previous;
        self
    }

    /// A machine already authenticated with `tickets` (for the fuzz targets).
    pub(crate) fn authenticated(mut self, tickets: TicketStore, server_challenge: u64) -> MonAuth {
        self.tickets = tickets;
        self.state = State::Authenticated { server_challenge };
        self
    }

    /// Changes the wanted services (Ceph's `set_want_keys`); missing tickets are then fetched
    /// by [`MonAuth::build_renewal_request`].
    pub fn set_want(&mut self, want: ServiceSet) {
        self.want = want | ServiceSet::AUTH;
    }

    /// The auth method, [`CEPH_AUTH_CEPHX`].
    pub fn method(&self) -> u32 {
        CEPH_AUTH_CEPHX
    }

    /// The global id (0 until the first authentication).
    pub fn global_id(&self) -> u64 {
        self.tickets.global_id()
    }

    /// The tickets so far.
    pub fn tickets(&self) -> &TicketStore {
        &self.tickets
    }

    /// Gives up the tickets (to reconnect with [`MonAuth::with_tickets`]).
    pub fn into_tickets(self) -> TicketStore {
        self.tickets
    }

    /// True once AUTH_DONE was handled successfully.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated { .. })
    }

    fn fail<T>(&mut self, e: CephxError) -> Result<T> {
        self.state = State::Failed;
        Err(e)
    }

    /// The AUTH_REQUEST payload: u8 `AUTH_MODE_MON`, the EntityName, le64 global id (0 on a
    /// first connection). CephX adds nothing to it.
    pub fn initial_request(&mut self) -> Result<Vec<u8>> {
        if self.state != State::New {
            return Err(CephxError::UnexpectedMessage("initial request"));
        }
        let mut w = Writer::new();
        w.put_u8(AUTH_MODE_MON);
        w.put(&self.name);
        w.put_u64(self.tickets.global_id());
        self.state = State::AwaitChallenge;
        Ok(w.finish()?)
    }

    /// Handles AUTH_REPLY_MORE (the monitor's `CephXServerChallenge`) and returns the
    /// AUTH_REQUEST_MORE payload: `CEPHX_GET_AUTH_SESSION_KEY` with the proof of the key, the
    /// old AUTH ticket (reclaim) and the wanted services.
    pub fn handle_reply_more<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        if self.state != State::AwaitChallenge {
            return self.fail(CephxError::UnexpectedMessage("AUTH_REPLY_MORE"));
        }
        // Like Ceph, bytes after the challenge are ignored.
        let challenge = match Reader::new(payload).decode::<CephXServerChallenge>() {
            Ok(c) => c,
            Err(e) => return self.fail(e.into()),
        };
        // A new session always asks for the AUTH ticket (CephxClientHandler invalidates it
        // when the challenge arrives). Ceph adds only the other tickets that are missing or
        // due; without a clock here we ask for all wanted ones, which just renews them early.
        let need = self.want | ServiceSet::AUTH;
        match self.authenticate_request(challenge.server_challenge, need, rng) {
            Ok(bytes) => {
                self.state = State::AwaitDone {
                    server_challenge: challenge.server_challenge,
                };
                Ok(bytes)
            }
            Err(e) => self.fail(e),
        }
    }

    /// `CEPHX_GET_AUTH_SESSION_KEY` + `CephXAuthenticate` (CephxClientHandler::build_request).
    fn authenticate_request<R: CryptoRng + ?Sized>(
        &self,
        server_challenge: u64,
        need: ServiceSet,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let client_challenge = rng.next_u64();
        let key =
            cephx_calc_client_server_challenge(&self.key, server_challenge, client_challenge)?;
        let old_ticket = self
            .tickets
            .get(denc::EntityType::AUTH)
            .map(|t| t.ticket.clone())
            .unwrap_or_default();
        let req = CephXAuthenticate {
            struct_v: 3,
            client_challenge,
            key,
            old_ticket,
            other_keys: need.0,
        };
        let mut w = Writer::new();
        w.put(&CephXRequestHeader {
            request_type: CEPHX_GET_AUTH_SESSION_KEY,
        });
        w.put(&req);
        Ok(w.finish()?)
    }

    /// Handles AUTH_DONE: decrypts the AUTH ticket (under the client key; its blob under the
    /// previous AUTH session key when reclaiming), the connection secret and the other
    /// tickets (under the new AUTH session key).
    pub fn handle_done(
        &mut self,
        global_id: u64,
        con_mode: u32,
        payload: &[u8],
        now: UTime,
    ) -> Result<MonAuthOutcome> {
        let State::AwaitDone { server_challenge } = self.state else {
            return self.fail(CephxError::UnexpectedMessage("AUTH_DONE"));
        };
        match self.parse_done(global_id, con_mode, payload, now) {
            Ok((tickets, outcome)) => {
                self.tickets = tickets;
                self.state = State::Authenticated { server_challenge };
                tracing::debug!(
                    name = %self.name,
                    global_id,
                    con_mode,
                    received = ?outcome.received,
                    missing = ?outcome.missing,
                    "cephx: authenticated to the monitor"
                );
                Ok(outcome)
            }
            Err(e) => self.fail(e),
        }
    }

    fn parse_done(
        &self,
        global_id: u64,
        con_mode: u32,
        payload: &[u8],
        now: UTime,
    ) -> Result<(TicketStore, MonAuthOutcome)> {
        let mut r = Reader::new(payload);
        let header: CephXResponseHeader = r.decode()?;
        if header.request_type != CEPHX_GET_AUTH_SESSION_KEY {
            return Err(CephxError::Protocol(
                "AUTH_DONE does not answer GET_AUTH_SESSION_KEY",
            ));
        }
        if header.status < 0 {
            return Err(CephxError::ServerError {
                status: header.status,
            });
        }
        let mut tickets = self.tickets.clone();
        tickets.set_global_id(global_id);
        let mut received = tickets.apply_reply(&mut r, &self.cipher, now)?;
        let auth = tickets
            .get(denc::EntityType::AUTH)
            .filter(|_| received.contains(denc::EntityType::AUTH))
            .ok_or(CephxError::Protocol("AUTH_DONE without an AUTH ticket"))?;
        let session_key = auth.session_key.secret().clone();
        let session_cipher = auth.session_key.cipher()?;
        let mut connection_secret = Secret::default();
        if !r.is_empty() {
            let cbl = r.length_prefixed()?;
            let extra = r.length_prefixed()?;
            if !cbl.is_empty() {
                connection_secret = decode_decrypt(
                    &session_cipher,
                    KeyUsage::AUTH_CONNECTION_SECRET,
                    &mut Reader::new(cbl),
                )?;
            }
            if !extra.is_empty() {
                received = received
                    | tickets.apply_reply(&mut Reader::new(extra), &session_cipher, now)?;
            }
        }
        // Anything after is ignored, as CephxClientHandler ignores it.
        if con_mode == CEPH_CON_MODE_SECURE && connection_secret.len() < 40 {
            return Err(CephxError::Protocol(
                "secure mode without a connection secret of at least 40 bytes",
            ));
        }
        let missing = tickets.needing_renewal(self.want, now);
        Ok((
            tickets,
            MonAuthOutcome {
                global_id,
                con_mode,
                session_key,
                connection_secret,
                received,
                missing,
            },
        ))
    }

    /// Handles AUTH_BAD_METHOD: the monitor refused us. A wrong key, an unknown entity, a
    /// refused cipher or a refused global_id reclaim all come as `-EACCES`, reported as
    /// [`CephxError::Denied`]; anything else as [`CephxError::MethodRejected`].
    pub fn handle_bad_method(
        &mut self,
        method: u32,
        result: i32,
        allowed_methods: &[u32],
        allowed_modes: &[u32],
    ) -> CephxError {
        self.state = State::Failed;
        tracing::debug!(name = %self.name, method, result, "cephx: monitor refused authentication");
        if result == -EACCES {
            CephxError::Denied { result }
        } else {
            CephxError::MethodRejected {
                method,
                result,
                allowed_methods: allowed_methods.to_vec(),
                allowed_modes: allowed_modes.to_vec(),
            }
        }
    }

    /// The wanted services (AUTH included) whose tickets are missing or due for renewal.
    pub fn renewal_needed(&self, now: UTime) -> ServiceSet {
        self.tickets.needing_renewal(self.want, now)
    }

    /// True when [`MonAuth::build_renewal_request`] has something to ask for.
    pub fn needs_renewal(&self, now: UTime) -> bool {
        let need = self.renewal_needed(now);
        // Like Ceph, do not ask when only the MGR ticket is missing: it is fetched again when
        // something else is renewed (avoids a loop against monitors without MGR keys).
        !need.is_empty() && need != ServiceSet::MGR
    }

    /// The MAuth payload (protocol [`CEPH_AUTH_CEPHX`]) that renews due tickets, or `None`
    /// when nothing is due. A due AUTH ticket is renewed with `CEPHX_GET_AUTH_SESSION_KEY`
    /// (answering this session's server challenge again and presenting the current AUTH
    /// ticket); other tickets with `CEPHX_GET_PRINCIPAL_SESSION_KEY`: an authorizer built from
    /// the AUTH ticket and a `CephXServiceTicketRequest`.
    pub fn build_renewal_request<R: CryptoRng + ?Sized>(
        &mut self,
        now: UTime,
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>> {
        let State::Authenticated { server_challenge } = self.state else {
            return Err(CephxError::UnexpectedMessage(
                "renewal before authentication",
            ));
        };
        if !self.needs_renewal(now) {
            return Ok(None);
        }
        let need = self.renewal_needed(now);
        if need.contains(denc::EntityType::AUTH) {
            return self
                .authenticate_request(server_challenge, need, rng)
                .map(Some);
        }
        let auth = self.tickets.valid(denc::EntityType::AUTH, now)?;
        let nonce = rng.next_u64();
        let authorizer = Authorizer::build(self.tickets.global_id(), auth, nonce, rng)?;
        let mut w = Writer::new();
        w.put(&CephXRequestHeader {
            request_type: CEPHX_GET_PRINCIPAL_SESSION_KEY,
        });
        w.put_bytes(authorizer.payload());
        w.put(&CephXServiceTicketRequest { keys: need.0 });
        Ok(Some(w.finish()?))
    }

    /// Handles the MAuthReply to a renewal request: its `result` and payload. Returns the
    /// services renewed; call [`MonAuth::build_renewal_request`] again in case more are due
    /// (after an AUTH renewal Ceph fetches the others in a second round).
    pub fn handle_renewal_reply(
        &mut self,
        result: i32,
        payload: &[u8],
        now: UTime,
    ) -> Result<ServiceSet> {
        if !self.is_authenticated() {
            return Err(CephxError::UnexpectedMessage(
                "MAuthReply before authentication",
            ));
        }
        if result == -EACCES {
            return Err(CephxError::Denied { result });
        }
        if result < 0 {
            return Err(CephxError::ServerError { status: result });
        }
        let mut r = Reader::new(payload);
        let header: CephXResponseHeader = r.decode()?;
        let mut tickets = self.tickets.clone();
        let received = match header.request_type {
            CEPHX_GET_AUTH_SESSION_KEY => {
                let mut received = tickets.apply_reply(&mut r, &self.cipher, now)?;
                if !r.is_empty() {
                    let _connection_secret = r.length_prefixed()?;
                    let extra = r.length_prefixed()?;
                    if !extra.is_empty() {
                        let auth = tickets.valid(denc::EntityType::AUTH, now)?;
                        let session = auth.session_key.cipher()?;
                        received = received
                            | tickets.apply_reply(&mut Reader::new(extra), &session, now)?;
                    }
                }
                received
            }
            CEPHX_GET_PRINCIPAL_SESSION_KEY => {
                let auth = tickets.valid(denc::EntityType::AUTH, now)?;
                let session = auth.session_key.cipher()?;
                let received = tickets.apply_reply(&mut r, &session, now)?;
                if received.is_empty() && header.status < 0 {
                    return Err(CephxError::ServerError {
                        status: header.status,
                    });
                }
                received
            }
            _ => {
                return Err(CephxError::Protocol(
                    "MAuthReply answers a request we did not send",
                ));
            }
        };
        self.tickets = tickets;
        tracing::debug!(name = %self.name, received = ?received, "cephx: renewed tickets");
        Ok(received)
    }
}
