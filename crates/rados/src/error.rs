//! Errors of the RADOS client.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use denc::EntityAddr;

use crate::errno::Errno;

/// A configuration problem: a file that does not parse, an option with a bad value, nothing
/// to connect to or authenticate with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file line that does not parse.
    #[error("{origin}:{line}: {reason}")]
    Syntax {
        /// The file (or other source) being parsed.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A configuration or keyring file that cannot be read.
    #[error("cannot read {}: {kind}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why not.
        kind: std::io::ErrorKind,
    },
    /// No configuration file was found where Ceph looks for one.
    #[error("no configuration file found (searched {searched:?}); pass -c/--conf or set CEPH_CONF")]
    NoConfFile {
        /// The paths tried.
        searched: Vec<PathBuf>,
    },
    /// A `mon_host` value that does not parse.
    #[error("mon_host {value:?}: {reason}")]
    MonHost {
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// No monitor address anywhere.
    #[error(
        "no monitors to connect to: set mon_host in ceph.conf (CEPH_CONF, -c) or pass it as an option"
    )]
    NoMonitors,
    /// No configured monitor has a messenger v2 address (this client does not speak v1).
    #[error(
        "no monitor with a msgr2 address among {addrs}: this client speaks messenger v2 only (port 3300, or a v2: address)"
    )]
    NoMsgr2Monitors {
        /// The configured monitor addresses.
        addrs: String,
    },
    /// An option with a value that does not parse.
    #[error("invalid value {value:?} for option {option}")]
    InvalidOption {
        /// The (normalised) option name.
        option: String,
        /// The value given.
        value: String,
    },
    /// A command-line style argument (CEPH_ARGS) that cannot be used.
    #[error("bad argument {arg:?}: {reason}")]
    BadArgument {
        /// The argument.
        arg: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One monitor the client tried to reach, and how the last attempt ended.
#[derive(Debug, Clone)]
pub struct MonAttempt {
    /// The address dialled.
    pub addr: EntityAddr,
    /// How the last attempt ended (`None`: still in progress when time ran out).
    pub error: Option<Arc<msgr2::CloseReason>>,
}

impl fmt::Display for MonAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "{} ({})", self.addr, chain(e.as_ref())),
            None => write!(f, "{} (no answer)", self.addr),
        }
    }
}

/// A monitor refused to authenticate us (wrong key, unknown entity, refused cipher or
/// connection mode).
#[derive(Debug)]
pub struct AuthFailure {
    /// The monitor that refused.
    pub mon: EntityAddr,
    /// The connection modes we offered it.
    pub offered_modes: Vec<msgr2::ConMode>,
    /// What it said, as the msgr2 auth layer reports it: `AUTH_BAD_METHOD` as
    /// [`msgr2::AuthError::MethodRejected`], a CephX failure as a [`cephx::CephxError`]
    /// inside [`msgr2::AuthError::Method`].
    pub source: msgr2::AuthError,
}

/// `EACCES`.
const EACCES: i32 = 13;

impl AuthFailure {
    /// The CephX error behind the failure, if it is one.
    pub fn cephx(&self) -> Option<&cephx::CephxError> {
        match &self.source {
            msgr2::AuthError::Method(inner) => inner.downcast_ref::<cephx::CephxError>(),
            _ => None,
        }
    }

    /// True when the monitor refused *us* (`-EACCES` while it does allow CephX and one of
    /// our modes): a wrong key, an unknown entity, a key cipher it does not allow, or a
    /// refused global_id reclaim.
    pub fn is_denied(&self) -> bool {
        match &self.source {
            msgr2::AuthError::MethodRejected {
                method,
                result,
                allowed_methods,
                allowed_modes,
            } => {
                *result == -EACCES
                    && allowed_methods.contains(method)
                    && !self.no_common_mode(allowed_modes)
            }
            _ => self.cephx().is_some_and(cephx::CephxError::is_denied),
        }
    }

    fn no_common_mode(&self, allowed: &[msgr2::ConMode]) -> bool {
        !allowed.is_empty() && !self.offered_modes.iter().any(|m| allowed.contains(m))
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let msgr2::AuthError::MethodRejected { allowed_modes, .. } = &self.source {
            if self.no_common_mode(allowed_modes) {
                return write!(
                    f,
                    "monitor {} allows connection modes {allowed_modes:?} only, we offer {:?} (ms_mon_client_mode)",
                    self.mon, self.offered_modes
                );
            }
        }
        if self.is_denied() {
            return write!(
                f,
                "monitor {} refused authentication (EACCES): wrong key, unknown entity, or a key cipher the cluster does not allow",
                self.mon
            );
        }
        write!(
            f,
            "monitor {} refused authentication: {}",
            self.mon,
            chain(&self.source)
        )
    }
}

impl std::error::Error for AuthFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// An error and its causes, `: `-separated (errors here are displayed without their
/// sources by most callers, so the useful part, often the innermost, is spelled out).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Everything that can go wrong in the RADOS client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad or missing configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key or keyring problem, or a CephX failure after connecting (ticket renewal).
    #[error(transparent)]
    Cephx(#[from] cephx::CephxError),
    /// A monitor refused to authenticate us. Not retried: the same key would be refused
    /// again.
    #[error(transparent)]
    Auth(Arc<AuthFailure>),
    /// No monitor could be reached (and authenticated with) within the mount timeout.
    #[error("no monitor reachable within {}s; tried {}", elapsed.as_secs_f64(), list(tried))]
    MonUnreachable {
        /// How long we tried.
        elapsed: Duration,
        /// Every monitor tried and how its last attempt ended.
        tried: Vec<MonAttempt>,
    },
    /// An operation did not finish in time.
    #[error("{operation} timed out after {}s", after.as_secs_f64())]
    Timeout {
        /// What timed out.
        operation: &'static str,
        /// The limit.
        after: Duration,
    },
    /// A monitor command failed: the monitor's return code (a negative errno) and status.
    #[error("command failed: {status} (error {code})")]
    Command {
        /// Negative errno.
        code: i32,
        /// The monitor's status text.
        status: String,
    },
    /// A message from a monitor or an OSD (or an op's out-data) did not decode.
    #[error("undecodable message or reply")]
    Decode(#[from] denc::DecodeError),
    /// A value did not fit Ceph's length fields while encoding.
    #[error(transparent)]
    Encode(#[from] denc::EncodeError),
    /// An OSD map did not decode or apply.
    #[error(transparent)]
    OsdMap(#[from] osdmap::OsdMapError),
    /// A messenger failure.
    #[error(transparent)]
    Msgr(#[from] msgr2::Error),
    /// A monitor broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// The client was shut down (or its background task ended).
    #[error("the client is shut down")]
    Shutdown,
    /// An OSD answered an operation with an error (`errno`); for a compound operation,
    /// `failed_op` is the index of the first op that failed, when the reply says.
    #[error("OSD operation failed: {errno}")]
    Osd {
        /// The error.
        errno: Errno,
        /// The first failed op of a compound operation.
        failed_op: Option<usize>,
    },
    /// A `cmpext` op found different bytes: the OSD returned `-MAX_ERRNO - offset`
    /// (PrimaryLogPG.cc `finish_extent_cmp`, MAX_ERRNO = 4095); `offset` is the index in
    /// the compared data of the first byte that differs. Its errno is EILSEQ (librbd's
    /// code for it; librados returns the raw `-4095 - offset`).
    #[error("compared data differs at byte {offset}")]
    CompareMismatch {
        /// Index of the first differing byte in the compared data.
        offset: u64,
        /// The cmpext op's index in the compound operation, when the reply says.
        failed_op: Option<usize>,
    },
    /// The monitors refused a pool operation (create, delete, snapshot).
    #[error("pool operation failed: {errno}")]
    PoolOp {
        /// The error.
        errno: Errno,
    },
    /// No pool of that name (or id) exists, also after checking with the monitors for a
    /// newer OSD map.
    #[error("pool {0} does not exist")]
    NoSuchPool(String),
    /// An argument that cannot be used (a name too long for the wire, a pool given twice).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

impl Error {
    /// The negative errno Ceph would report for this error (`-ETIMEDOUT`, `-EACCES`, the
    /// command's code, ...).
    pub fn errno(&self) -> i32 {
        const EIO: i32 = 5;
        const ENOENT: i32 = 2;
        const EILSEQ: i32 = 84;
        const EACCES: i32 = 13;
        const EINVAL: i32 = 22;
        const ESHUTDOWN: i32 = 108;
        const ETIMEDOUT: i32 = 110;
        match self {
            Error::Osd { errno, .. } | Error::PoolOp { errno } => errno.as_result(),
            Error::NoSuchPool(_) => -ENOENT,
            Error::CompareMismatch { .. } => -EILSEQ,
            Error::InvalidArgument(_) => -EINVAL,
            Error::Command { code, .. } => *code,
            Error::Auth(_) => -EACCES,
            Error::Cephx(e) if e.is_denied() => -EACCES,
            Error::Cephx(cephx::CephxError::NoKeyring { .. } | cephx::CephxError::Io { .. }) => {
                -ENOENT
            }
            Error::Timeout { .. } | Error::MonUnreachable { .. } => -ETIMEDOUT,
            Error::Config(_) => -EINVAL,
            Error::Shutdown => -ESHUTDOWN,
            _ => -EIO,
        }
    }
}

impl Error {
    /// The error as a (positive) [`Errno`]: `Errno::ENOENT`, `Errno::ETIMEDOUT`, ...
    pub fn kind(&self) -> Errno {
        Errno(self.errno().saturating_neg())
    }

    /// True if this is error `e` (`err.is(Errno::ENOENT)`).
    pub fn is(&self, e: Errno) -> bool {
        self.kind() == e
    }
}

fn list(tried: &[MonAttempt]) -> String {
    if tried.is_empty() {
        return "no monitor (none with a msgr2 address)".to_owned();
    }
    tried
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
