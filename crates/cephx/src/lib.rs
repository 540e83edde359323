//! CephX authentication, sans-IO: keys and keyrings, the ticket crypto for both key types
//! (`aes` and Ceph 20's `aes256k`), the monitor handshake as msgr2 carries it, ticket renewal
//! and the authorizers that open OSD and MGR connections.
//!
//! Nothing here touches sockets or clocks: every method is fed payloads and returns payloads;
//! the current time (`now: UTime`) and a cryptographic random source (`rng`) come from the
//! caller (`&mut rand::rng()` will do).
//!
//! # Monitor authentication (msgr2)
//!
//! The msgr2 connection carries opaque payloads; [`MonAuth`] produces and consumes them:
//!
//! | msgr2 frame | call |
//! |---|---|
//! | send AUTH_REQUEST(method, modes, payload) | [`MonAuth::method`] (2), modes from config ([`DEFAULT_MON_MODES`]), [`MonAuth::initial_request`] |
//! | recv AUTH_REPLY_MORE(payload) → send AUTH_REQUEST_MORE | [`MonAuth::handle_reply_more`] |
//! | recv AUTH_DONE(global_id, con_mode, payload) | [`MonAuth::handle_done`] → [`MonAuthOutcome`] |
//! | recv AUTH_BAD_METHOD(method, result, methods, modes) | [`MonAuth::handle_bad_method`] ([`CephxError::Denied`] for a wrong key) |
//!
//! The HMAC-SHA256 key of msgr2's AUTH_SIGNATURE is [`MonAuthOutcome::session_key`], the AUTH
//! ticket's session key (MonClient sets `auth_meta->session_key` from the AUTH ticket
//! handler); the secure-mode key material is [`MonAuthOutcome::connection_secret`].
//!
//! ```no_run
//! use cephx::{CephxError, KeyOptions, MonAuth, ServiceSet, resolve_key};
//! use denc::{AuthName, UTime};
//!
//! /// What the msgr2 connection hands back while authenticating (stand-in for the real
//! /// frame types).
//! enum AuthFrame {
//!     ReplyMore(Vec<u8>),
//!     Done { global_id: u64, con_mode: u32, payload: Vec<u8> },
//!     BadMethod { method: u32, result: i32, methods: Vec<u32>, modes: Vec<u32> },
//! }
//!
//! fn authenticate(
//!     mut send: impl FnMut(&[u8]),
//!     mut recv: impl FnMut() -> AuthFrame,
//! ) -> Result<(), CephxError> {
//!     let name: AuthName = "client.admin".parse().unwrap();
//!     let key = resolve_key(&name, &KeyOptions::default())?;
//!     let mut auth = MonAuth::new(name, key, ServiceSet::LIBRADOS)?;
//!     let rng = &mut rand::rng();
//!     send(&auth.initial_request()?); // AUTH_REQUEST(method 2, [secure, crc], ..)
//!     loop {
//!         match recv() {
//!             AuthFrame::ReplyMore(p) => send(&auth.handle_reply_more(&p, rng)?),
//!             AuthFrame::Done { global_id, con_mode, payload } => {
//!                 let done = auth.handle_done(global_id, con_mode, &payload, UTime::now())?;
//!                 // msgr2: sign with done.session_key, set up secure mode with
//!                 // done.connection_secret; keep `auth` for renewals and authorizers.
//!                 let _ = (done.session_key, done.connection_secret);
//!                 break;
//!             }
//!             AuthFrame::BadMethod { method, result, methods, modes } => {
//!                 return Err(auth.handle_bad_method(method, result, &methods, &modes));
//!             }
//!         }
//!     }
//!     // Later, periodically: renew tickets over MAuth (protocol 2).
//!     if let Some(payload) = auth.build_renewal_request(UTime::now(), rng)? {
//!         let _ = payload; // send MAuth, then auth.handle_renewal_reply(result, &reply, now)
//!     }
//!     // Reconnecting: MonAuth::new(..).with_tickets(auth.into_tickets()) reclaims the
//!     // global id by presenting the old AUTH ticket.
//!     Ok(())
//! }
//! ```
//!
//! # OSD and MGR connections
//!
//! [`Authorizer::build`] from the service's ticket in [`MonAuth::tickets`]; its
//! [`Authorizer::payload`] goes in AUTH_REQUEST (method 2, [`DEFAULT_SERVICE_MODES`]); the
//! AUTH_REPLY_MORE challenge goes to [`Authorizer::handle_challenge`], whose result is sent as
//! AUTH_REQUEST_MORE; AUTH_DONE's payload goes to [`Authorizer::verify_reply`]. The
//! AUTH_SIGNATURE key there is the *service ticket's* session key
//! ([`AuthorizerOutcome::session_key`]; MonClient copies `authorizer->session_key`).
//!
//! ```no_run
//! # fn f(auth: &cephx::MonAuth) -> Result<(), cephx::CephxError> {
//! use denc::{EntityType, UTime};
//! let rng = &mut rand::rng();
//! let ticket = auth.tickets().valid(EntityType::OSD, UTime::now())?;
//! let mut authorizer = cephx::Authorizer::build(auth.global_id(), ticket, rand::random(), rng)?;
//! let request = authorizer.payload().to_vec(); // AUTH_REQUEST
//! # let challenge: Vec<u8> = Vec::new(); let done: Vec<u8> = Vec::new();
//! let more = authorizer.handle_challenge(&challenge, rng)?; // AUTH_REPLY_MORE -> AUTH_REQUEST_MORE
//! let outcome = authorizer.verify_reply(&done)?; // AUTH_DONE
//! # let _ = (request, more, outcome);
//! # Ok(()) }
//! ```
#![warn(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod authorizer;
pub mod crypto;
pub mod envelope;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod keyring;
mod keysource;
mod mon_auth;
pub mod protocol;
mod secret;
mod tickets;

pub use authorizer::{AUTH_MODE_AUTHORIZER, Authorizer, AuthorizerOutcome};
pub use crypto::{Cipher, KeyUsage};
pub use error::{CephxError, EACCES, Result};
pub use key::{CryptoKey, KeyType};
pub use keyring::{KeyRing, KeyRingEntry};
pub use keysource::{
    DEFAULT_CLUSTER, DEFAULT_KEYRING_SEARCH, KeyOptions, expand_metavariables,
    keyring_search_paths, resolve_key,
};
pub use mon_auth::{
    AUTH_MODE_MON, CEPH_AUTH_CEPHX, CEPH_AUTH_NONE, CEPH_CON_MODE_CRC, CEPH_CON_MODE_SECURE,
    DEFAULT_MON_MODES, DEFAULT_SERVICE_MODES, MonAuth, MonAuthOutcome,
};
pub use secret::Secret;
pub use tickets::{ServiceSet, ServiceTicket, TicketStore};
