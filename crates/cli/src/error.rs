//! The tool's errors and how they become exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

/// What can make a subcommand fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The cluster (or its configuration) said no.
    #[error("{}", rados_message(.0))]
    Rados(#[from] rados::Error),
    /// An RBD operation failed.
    #[error("{}", rbd_message(.0))]
    Rbd(#[from] rbd::Error),
    /// An OSDMap could not be decoded, or placement failed.
    #[error("{0}")]
    Osdmap(#[from] osdmap::OsdMapError),
    /// A CRUSH map could not be decoded, or mapping failed.
    #[error("{0}")]
    Crush(#[from] crush::CrushError),
    /// The command line is not usable.
    #[error("{0}")]
    Usage(&'static str),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    /// JSON could not be produced.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The error with its causes (rados errors are terse at the top level).
fn rados_message(e: &rados::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
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

/// An RBD error with its RADOS causes.
fn rbd_message(e: &rbd::Error) -> String {
    match e {
        rbd::Error::Rados(r) => rados_message(r),
        other => other.to_string(),
    }
}

impl CliError {
    /// The exit status: the errno for cluster errors (as `ceph` exits with), 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Rados(e) => errno_exit(e.errno()),
            CliError::Rbd(e) => errno_exit(e.errno()),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Exit status for a (negative) errno: its magnitude, capped to what an exit status holds.
pub fn errno_exit(errno: i32) -> ExitCode {
    let code = errno.unsigned_abs().min(255);
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
