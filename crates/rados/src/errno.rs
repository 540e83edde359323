//! Error numbers as OSDs and monitors return them (Linux values: Ceph puts host errnos on
//! the wire, and every release we talk to runs on Linux).

use std::fmt;

/// A (positive) error number, with named constants for the ones RADOS callers meet.
/// `Errno::ENOENT`, `Errno::EEXIST`, ...; [`Errno::from_result`] turns Ceph's negative
/// return codes into one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        impl Errno {
            $( $(#[$doc])* pub const $name: Errno = Errno($value); )*

            /// The symbolic name (`ENOENT`), if it is one we know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// The C library's description (`No such file or directory`).
            pub fn description(self) -> &'static str {
                match self.0 {
                    $( $value => $text, )*
                    _ => "Unknown error",
                }
            }
        }
    };
}

errnos! {
    /// Operation not permitted.
    EPERM = 1, "Operation not permitted";
    /// No such object, pool, attribute owner or snapshot.
    ENOENT = 2, "No such file or directory";
    /// I/O error (also: a reply that did not decode).
    EIO = 5, "Input/output error";
    /// Argument list too long.
    E2BIG = 7, "Argument list too long";
    /// Bad file descriptor.
    EBADF = 9, "Bad file descriptor";
    /// Try again.
    EAGAIN = 11, "Resource temporarily unavailable";
    /// Out of memory.
    ENOMEM = 12, "Cannot allocate memory";
    /// Permission denied (capabilities, authentication).
    EACCES = 13, "Permission denied";
    /// Busy (e.g. a lock held by someone else).
    EBUSY = 16, "Device or resource busy";
    /// Already exists (exclusive create, existing pool or snapshot).
    EEXIST = 17, "File exists";
    /// Cross-device link.
    EXDEV = 18, "Invalid cross-device link";
    /// No such device.
    ENODEV = 19, "No such device";
    /// Not a directory.
    ENOTDIR = 20, "Not a directory";
    /// Is a directory.
    EISDIR = 21, "Is a directory";
    /// Invalid argument.
    EINVAL = 22, "Invalid argument";
    /// Too large (object or write size limits).
    EFBIG = 27, "File too large";
    /// Cluster or pool full.
    ENOSPC = 28, "No space left on device";
    /// Read-only.
    EROFS = 30, "Read-only file system";
    /// Too many links.
    EMLINK = 31, "Too many links";
    /// Out of range (assert_version: the object is newer).
    ERANGE = 34, "Numerical result out of range";
    /// Deadlock avoided.
    EDEADLK = 35, "Resource deadlock avoided";
    /// Name too long.
    ENAMETOOLONG = 36, "File name too long";
    /// No locks available.
    ENOLCK = 37, "No locks available";
    /// Not implemented (unknown class method).
    ENOSYS = 38, "Function not implemented";
    /// Not empty.
    ENOTEMPTY = 39, "Directory not empty";
    /// No message of the desired type.
    ENOMSG = 42, "No message of desired type";
    /// No such attribute.
    ENODATA = 61, "No data available";
    /// Timer expired.
    ETIME = 62, "Timer expired";
    /// Bad message (undecodable input on the OSD side).
    EBADMSG = 74, "Bad message";
    /// Value too large (assert_version: the object is older).
    EOVERFLOW = 75, "Value too large for defined data type";
    /// Illegal byte sequence.
    EILSEQ = 84, "Invalid or incomplete multibyte or wide character";
    /// Ceph's `EOLDSNAPC` (Linux `ERESTART`): the write's snap context is older than the
    /// object's.
    EOLDSNAPC = 85, "Interrupted system call should be restarted";
    /// Operation not supported (unknown op code or class).
    EOPNOTSUPP = 95, "Operation not supported";
    /// Address in use.
    EADDRINUSE = 98, "Address already in use";
    /// Connection reset.
    ECONNRESET = 104, "Connection reset by peer";
    /// Not connected (a lost watch).
    ENOTCONN = 107, "Transport endpoint is not connected";
    /// Ceph's `EBLOCKLISTED` (Linux `ESHUTDOWN`): this client is blocklisted, or the client
    /// was shut down.
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    /// Timed out.
    ETIMEDOUT = 110, "Connection timed out";
    /// Connection refused.
    ECONNREFUSED = 111, "Connection refused";
    /// Already in progress.
    EALREADY = 114, "Operation already in progress";
    /// Stale handle.
    ESTALE = 116, "Stale file handle";
    /// Quota exceeded (pool quota).
    EDQUOT = 122, "Disk quota exceeded";
    /// Cancelled (a cmpxattr, omap_cmp or cls comparison did not hold).
    ECANCELED = 125, "Operation canceled";
}

impl Errno {
    /// The errno of a Ceph return code (`-2` -> `ENOENT`); `None` for codes >= 0.
    pub fn from_result(code: i32) -> Option<Errno> {
        (code < 0).then(|| Errno(code.saturating_neg()))
    }

    /// The negative return code Ceph's C API uses (`-ENOENT`).
    pub fn as_result(self) -> i32 {
        -self.0
    }

    /// `cpp_strerror`'s form, as Ceph's tools print errors: `(2) No such file or directory`.
    pub fn cpp_strerror(self) -> String {
        format!("({}) {}", self.0, self.description())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.description()),
            None => write!(f, "error {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_strings() {
        assert_eq!(Errno::from_result(-2), Some(Errno::ENOENT));
        assert_eq!(Errno::from_result(0), None);
        assert_eq!(Errno::ECANCELED.as_result(), -125);
        assert_eq!(
            Errno::ENOENT.cpp_strerror(),
            "(2) No such file or directory"
        );
        assert_eq!(format!("{:?}", Errno::EEXIST), "EEXIST");
        assert_eq!(format!("{:?}", Errno(4000)), "Errno(4000)");
        assert_eq!(Errno(4000).description(), "Unknown error");
        assert_eq!(Errno::EDQUOT.to_string(), "EDQUOT (Disk quota exceeded)");
        assert_eq!(Errno::from_result(i32::MIN), Some(Errno(i32::MAX)));
    }
}
