//! [`AuthClient`] adapters for the `cephx` crate: [`CephxMonClient`] authenticates to a
//! monitor ([`cephx::MonAuth`]), [`CephxServiceClient`] presents an authorizer to an OSD or
//! MGR ([`cephx::Authorizer`]).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use cephx::{Authorizer, CephxError, MonAuth, MonAuthOutcome, ServiceTicket};
use denc::UTime;
use rand::CryptoRng;

use crate::auth::{AuthClient, AuthError, AuthMethod, AuthSuccess, ConMode};

fn method_error(e: CephxError) -> AuthError {
    AuthError::Method(Box::new(e))
}

/// The monitor session's CephX state, shared between the connection (which drives it) and
/// the caller (which reads the tickets and renews them afterwards).
#[derive(Debug)]
pub struct CephxMonState {
    /// The CephX client.
    pub auth: MonAuth,
    /// What the last successful AUTH_DONE yielded.
    pub outcome: Option<MonAuthOutcome>,
}

/// CephX towards a monitor.
pub struct CephxMonClient<R> {
    state: Arc<Mutex<CephxMonState>>,
    modes: Vec<ConMode>,
    rng: R,
    clock: fn() -> UTime,
}

impl<R> std::fmt::Debug for CephxMonClient<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CephxMonClient")
            .field("modes", &self.modes)
            .finish_non_exhaustive()
    }
}

impl<R: CryptoRng + Send> CephxMonClient<R> {
    /// Wraps `auth`, offering `modes` (`ms_mon_client_mode`). `rng` makes the client
    /// challenge; `clock` stamps ticket lifetimes. Returns the shared state as well.
    pub fn new(
        auth: MonAuth,
        modes: Vec<ConMode>,
        rng: R,
        clock: fn() -> UTime,
    ) -> (Self, Arc<Mutex<CephxMonState>>) {
        let state = Arc::new(Mutex::new(CephxMonState {
            auth,
            outcome: None,
        }));
        (
            CephxMonClient {
                state: Arc::clone(&state),
                modes,
                rng,
                clock,
            },
            state,
        )
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut CephxMonState) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

impl<R: CryptoRng + Send> AuthClient for CephxMonClient<R> {
    fn method(&self) -> AuthMethod {
        AuthMethod::CEPHX
    }

    fn preferred_modes(&self) -> Vec<ConMode> {
        self.modes.clone()
    }

    fn build_request(&mut self) -> Result<Bytes, AuthError> {
        self.with_state(|s| s.auth.initial_request())
            .map(Bytes::from)
            .map_err(method_error)
    }

    fn handle_reply_more(&mut self, payload: &[u8]) -> Result<Bytes, AuthError> {
        let state = Arc::clone(&self.state);
        let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .auth
            .handle_reply_more(payload, &mut self.rng)
            .map(Bytes::from)
            .map_err(method_error)
    }

    fn handle_done(
        &mut self,
        global_id: u64,
        mode: ConMode,
        payload: &[u8],
    ) -> Result<AuthSuccess, AuthError> {
        let now = (self.clock)();
        self.with_state(|s| {
            let outcome = s
                .auth
                .handle_done(global_id, mode.0, payload, now)
                .map_err(method_error)?;
            let success = AuthSuccess {
                session_key: outcome.session_key.clone(),
                connection_secret: outcome.connection_secret.clone(),
            };
            s.outcome = Some(outcome);
            Ok(success)
        })
    }
}

/// CephX towards an OSD or MGR: an authorizer built from the service's ticket.
pub struct CephxServiceClient<R> {
    global_id: u64,
    ticket: ServiceTicket,
    nonce: u64,
    modes: Vec<ConMode>,
    rng: R,
    authorizer: Option<Authorizer>,
}

impl<R> std::fmt::Debug for CephxServiceClient<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CephxServiceClient")
            .field("service", &self.ticket.service)
            .field("modes", &self.modes)
            .finish_non_exhaustive()
    }
}

impl<R: CryptoRng + Send> CephxServiceClient<R> {
    /// An authorizer for `ticket`, as client `global_id`, offering `modes`
    /// (`ms_client_mode`); the authorizer nonce is drawn from `rng`.
    pub fn new(global_id: u64, ticket: ServiceTicket, modes: Vec<ConMode>, mut rng: R) -> Self {
        let nonce = rng.next_u64();
        CephxServiceClient {
            global_id,
            ticket,
            nonce,
            modes,
            rng,
            authorizer: None,
        }
    }
}

impl<R: CryptoRng + Send> AuthClient for CephxServiceClient<R> {
    fn method(&self) -> AuthMethod {
        AuthMethod::CEPHX
    }

    fn preferred_modes(&self) -> Vec<ConMode> {
        self.modes.clone()
    }

    fn build_request(&mut self) -> Result<Bytes, AuthError> {
        let a = Authorizer::build(self.global_id, &self.ticket, self.nonce, &mut self.rng)
            .map_err(method_error)?;
        let payload = Bytes::copy_from_slice(a.payload());
        self.authorizer = Some(a);
        Ok(payload)
    }

    fn handle_reply_more(&mut self, payload: &[u8]) -> Result<Bytes, AuthError> {
        let a = self
            .authorizer
            .as_mut()
            .ok_or(AuthError::BadPayload("AUTH_REPLY_MORE before our request"))?;
        a.handle_challenge(payload, &mut self.rng)
            .map(Bytes::from)
            .map_err(method_error)
    }

    fn handle_done(
        &mut self,
        _global_id: u64,
        _mode: ConMode,
        payload: &[u8],
    ) -> Result<AuthSuccess, AuthError> {
        let a = self
            .authorizer
            .as_ref()
            .ok_or(AuthError::BadPayload("AUTH_DONE before our request"))?;
        let outcome = a.verify_reply(payload).map_err(method_error)?;
        Ok(AuthSuccess {
            session_key: outcome.session_key.clone(),
            connection_secret: outcome.connection_secret.clone(),
        })
    }
}
