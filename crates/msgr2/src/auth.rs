//! The authentication hook: msgr2 carries opaque auth payloads; an [`AuthClient`] (CephX in
//! the `cephx` crate, or [`AuthNone`]) produces and consumes them.

use std::fmt;

use cephx::Secret;

use bytes::Bytes;
use denc::{AuthName, Writer};

/// An auth method (`CEPH_AUTH_*`, src/include/ceph_fs.h).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthMethod(pub u32);

impl AuthMethod {
    /// `CEPH_AUTH_UNKNOWN`.
    pub const UNKNOWN: AuthMethod = AuthMethod(0);
    /// `CEPH_AUTH_NONE`.
    pub const NONE: AuthMethod = AuthMethod(1);
    /// `CEPH_AUTH_CEPHX`.
    pub const CEPHX: AuthMethod = AuthMethod(2);
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AuthMethod::NONE => f.write_str("none"),
            AuthMethod::CEPHX => f.write_str("cephx"),
            AuthMethod(n) => write!(f, "method {n}"),
        }
    }
}

/// A connection mode (`CEPH_CON_MODE_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConMode(pub u32);

impl ConMode {
    /// `CEPH_CON_MODE_UNKNOWN`.
    pub const UNKNOWN: ConMode = ConMode(0);
    /// `CEPH_CON_MODE_CRC`: integrity by crc32c only.
    pub const CRC: ConMode = ConMode(1);
    /// `CEPH_CON_MODE_SECURE`: AES-128-GCM.
    pub const SECURE: ConMode = ConMode(2);

    /// Parses Ceph's config spelling (`ms_client_mode = "crc secure"`): a list of `crc` and
    /// `secure` separated by spaces or commas. Unknown words are skipped.
    pub fn parse_list(s: &str) -> Vec<ConMode> {
        s.split([' ', ',', ';', '\t'])
            .filter_map(|w| match w.trim() {
                "crc" => Some(ConMode::CRC),
                "secure" => Some(ConMode::SECURE),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Debug for ConMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConMode::CRC => f.write_str("crc"),
            ConMode::SECURE => f.write_str("secure"),
            ConMode(n) => write!(f, "mode {n}"),
        }
    }
}

impl fmt::Display for ConMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What a successful authentication yields for the connection. Both secrets are wiped from
/// memory when dropped and never printed.
#[derive(Clone, Default)]
pub struct AuthSuccess {
    /// The session key's secret bytes: the HMAC-SHA256 key of AUTH_SIGNATURE. Empty for auth
    /// none (then signatures are 32 zero bytes).
    pub session_key: Secret,
    /// The connection secret: AES key and nonces in secure mode (at least 40 bytes), empty in
    /// crc mode.
    pub connection_secret: Secret,
}

impl fmt::Debug for AuthSuccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never log secrets
        f.debug_struct("AuthSuccess")
            .field("session_key_len", &self.session_key.len())
            .field("connection_secret_len", &self.connection_secret.len())
            .finish()
    }
}

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The server refused every method or mode we can use.
    #[error(
        "server refused auth method {method:?} (result {result}); it allows methods {allowed_methods:?} and modes {allowed_modes:?}"
    )]
    MethodRejected {
        /// The method we tried.
        method: AuthMethod,
        /// The server's negative errno.
        result: i32,
        /// Methods the server allows.
        allowed_methods: Vec<AuthMethod>,
        /// Modes the server allows.
        allowed_modes: Vec<ConMode>,
    },
    /// The server's auth payload is malformed or unexpected.
    #[error("bad auth payload from server: {0}")]
    BadPayload(&'static str),
    /// The server's answer does not prove it knows our key (or the reply is forged).
    #[error("server failed to prove its identity: {0}")]
    BadServer(&'static str),
    /// The auth method's own failure (e.g. a CephX error), with its cause.
    #[error("auth method failed")]
    Method(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The caller's side of authentication, driven by the connection: `build_request` for
/// AUTH_REQUEST, `handle_reply_more` for each AUTH_REPLY_MORE, `handle_done` for AUTH_DONE,
/// `handle_bad_method` for AUTH_BAD_METHOD (then `build_request` again if it returns `Ok`).
pub trait AuthClient: Send {
    /// The method to request (`CEPH_AUTH_*`).
    fn method(&self) -> AuthMethod;
    /// Connection modes in order of preference (from `ms_client_mode` /
    /// `ms_mon_client_mode`).
    fn preferred_modes(&self) -> Vec<ConMode>;
    /// The AUTH_REQUEST payload.
    fn build_request(&mut self) -> Result<Bytes, AuthError>;
    /// Consumes an AUTH_REPLY_MORE payload, returns the AUTH_REQUEST_MORE payload.
    fn handle_reply_more(&mut self, payload: &[u8]) -> Result<Bytes, AuthError>;
    /// Consumes the AUTH_DONE payload; returns the session key and connection secret.
    fn handle_done(
        &mut self,
        global_id: u64,
        mode: ConMode,
        payload: &[u8],
    ) -> Result<AuthSuccess, AuthError>;
    /// The server refused our method or modes. `Ok(())` to try again (with another method
    /// or modes: `method()` and `preferred_modes()` are asked again), `Err` to give up.
    fn handle_bad_method(
        &mut self,
        method: AuthMethod,
        result: i32,
        allowed_methods: &[AuthMethod],
        allowed_modes: &[ConMode],
    ) -> Result<(), AuthError> {
        Err(AuthError::MethodRejected {
            method,
            result,
            allowed_methods: allowed_methods.to_vec(),
            allowed_modes: allowed_modes.to_vec(),
        })
    }
}

/// `AUTH_MODE_MON`: the first byte of a request to a monitor (src/auth/Auth.h).
pub const AUTH_MODE_MON: u8 = 10;
/// `AUTH_MODE_AUTHORIZER`: the first byte of an authorizer for other daemons.
pub const AUTH_MODE_AUTHORIZER: u8 = 1;

/// Auth method "none": no secrets, crc mode only, signatures of zeros.
///
/// To a monitor the request is `u8 AUTH_MODE_MON, EntityName, le64 global_id`
/// (MonClient.cc `MonConnection::get_auth_request`; AuthNoneClientHandler adds nothing); to
/// other daemons it is the none authorizer `u8 1, EntityName, le64 global_id`
/// (src/auth/none/AuthNoneProtocol.h).
#[derive(Debug, Clone)]
pub struct AuthNone {
    /// Who we are.
    pub name: AuthName,
    /// Our global id (0 before the monitor assigns one).
    pub global_id: u64,
    /// True when talking to a monitor.
    pub to_monitor: bool,
}

impl AuthNone {
    /// Auth none as `name` towards a monitor.
    pub fn for_monitor(name: AuthName) -> Self {
        AuthNone {
            name,
            global_id: 0,
            to_monitor: true,
        }
    }
}

impl AuthClient for AuthNone {
    fn method(&self) -> AuthMethod {
        AuthMethod::NONE
    }

    fn preferred_modes(&self) -> Vec<ConMode> {
        vec![ConMode::CRC]
    }

    fn build_request(&mut self) -> Result<Bytes, AuthError> {
        let mut w = Writer::new();
        w.put_u8(if self.to_monitor {
            AUTH_MODE_MON
        } else {
            AUTH_MODE_AUTHORIZER
        });
        w.put(&self.name);
        w.put_u64(self.global_id);
        w.finish()
            .map(Bytes::from)
            .map_err(|_| AuthError::BadPayload("entity name too long"))
    }

    fn handle_reply_more(&mut self, _payload: &[u8]) -> Result<Bytes, AuthError> {
        Err(AuthError::BadPayload(
            "auth none expects no AUTH_REPLY_MORE",
        ))
    }

    fn handle_done(
        &mut self,
        global_id: u64,
        _mode: ConMode,
        _payload: &[u8],
    ) -> Result<AuthSuccess, AuthError> {
        self.global_id = global_id;
        Ok(AuthSuccess::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_none_request_layout() {
        let mut a = AuthNone::for_monitor(AuthName::client("admin"));
        let req = a.build_request().unwrap();
        let mut want = vec![10u8, 8, 0, 0, 0, 5, 0, 0, 0];
        want.extend_from_slice(b"admin");
        want.extend_from_slice(&[0; 8]);
        assert_eq!(&req[..], &want[..]);
        a.to_monitor = false;
        assert_eq!(a.build_request().unwrap()[0], 1);
    }

    #[test]
    fn parses_mode_lists() {
        assert_eq!(
            ConMode::parse_list("secure crc"),
            vec![ConMode::SECURE, ConMode::CRC]
        );
        assert_eq!(ConMode::parse_list("crc"), vec![ConMode::CRC]);
        assert_eq!(
            ConMode::parse_list("crc, secure"),
            vec![ConMode::CRC, ConMode::SECURE]
        );
    }
}
