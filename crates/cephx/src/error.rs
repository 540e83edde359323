//! The crate's error type.

use std::path::PathBuf;

use denc::{AuthName, DecodeError, EncodeError};

/// `EACCES`: what a monitor answers when the key is wrong or the entity unknown.
pub const EACCES: i32 = 13;

/// Everything that can go wrong in CephX.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CephxError {
    /// A server payload or key blob did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A value did not fit Ceph's 32-bit length fields.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A ciphertext did not decrypt: bad length, bad padding or a failed integrity check.
    /// Under the wrong key this is what the client sees.
    #[error("decryption failed: {0}")]
    Decrypt(&'static str),
    /// A decrypted envelope did not start with CephX's magic number: the key is wrong.
    #[error("decrypted data has the wrong magic number (wrong key?)")]
    BadMagic,
    /// The monitor refused to authenticate us (`-EACCES`): the key is wrong, the entity is
    /// unknown, the key's cipher is not allowed, or a global_id reclaim was refused.
    /// Retrying with the same key will not help.
    #[error(
        "authentication denied by the monitor (error {result}): wrong key, unknown entity or cipher not allowed"
    )]
    Denied {
        /// The negative errno the server sent.
        result: i32,
    },
    /// The server refused the auth method (`AUTH_BAD_METHOD` with an error other than
    /// `-EACCES`), saying which methods and connection modes it allows.
    #[error(
        "the server rejected auth method {method} (error {result}); it allows methods {allowed_methods:?}, modes {allowed_modes:?}"
    )]
    MethodRejected {
        /// The method we tried.
        method: u32,
        /// The negative errno the server sent.
        result: i32,
        /// Methods the server accepts (`CEPH_AUTH_*`).
        allowed_methods: Vec<u32>,
        /// Connection modes the server accepts (`CEPH_CON_MODE_*`).
        allowed_modes: Vec<u32>,
    },
    /// The server answered with an error status.
    #[error("the server answered with error {status}")]
    ServerError {
        /// The negative errno.
        status: i32,
    },
    /// A key type this crate does not know (`CEPH_CRYPTO_*`).
    #[error("unsupported key type {0}")]
    UnsupportedKeyType(u16),
    /// A key that cannot be used (too short for its type, empty, ...).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A base64 key that does not decode.
    #[error("invalid base64 in key")]
    Base64,
    /// A keyring that does not parse.
    #[error("keyring line {line}: {reason}")]
    Keyring {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file that could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// None of the keyring files exists.
    #[error("no keyring found (searched {searched:?})")]
    NoKeyring {
        /// The paths tried, after `$cluster`/`$name` expansion.
        searched: Vec<PathBuf>,
    },
    /// The keyring has no key for the entity.
    #[error("no key for {0} in the keyring")]
    KeyNotFound(AuthName),
    /// There is no usable ticket for the service.
    #[error("no valid ticket for service {0}")]
    NoTicket(denc::EntityType),
    /// A call that the protocol state does not allow (e.g. AUTH_DONE before the challenge).
    #[error("unexpected {0} in this state of the handshake")]
    UnexpectedMessage(&'static str),
    /// The server broke the protocol (the text says how).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
}

impl CephxError {
    /// True when authentication was refused for good (wrong key, unknown entity): the caller
    /// should fail fast rather than retry or try another monitor.
    pub fn is_denied(&self) -> bool {
        matches!(self, CephxError::Denied { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = CephxError> = std::result::Result<T, E>;
