//! Decoding and encoding errors.
//!
//! A [`DecodeError`] says what went wrong, where (byte offset in the outermost input) and while
//! decoding what: every structured type adds its name as the error travels outwards, so a
//! failure deep inside an OSDMap reads `OSDMap > pg_pool_t > snaps: unexpected end of input`.

use std::fmt;

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} bytes, {remaining} left")]
    UnexpectedEof {
        /// Bytes the next field needed.
        needed: u64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A count of elements that cannot possibly fit in the remaining input.
    #[error(
        "{count} elements of at least {min_len} bytes each cannot fit in the {remaining} bytes left"
    )]
    CountTooLarge {
        /// The count read from the input.
        count: u64,
        /// Smallest encoding of one element.
        min_len: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// The encoding's compat version says we cannot understand it.
    #[error(
        "encoding version {version} needs a decoder of at least version {compat}; we support up to {supported}"
    )]
    IncompatibleVersion {
        /// struct_v of the encoding.
        version: u8,
        /// struct_compat of the encoding: the oldest decoder that understands it.
        compat: u8,
        /// The newest version this decoder understands.
        supported: u8,
    },
    /// The encoding is older than anything we can decode.
    #[error("encoding version {version} is older than the oldest supported version {oldest}")]
    VersionTooOld {
        /// struct_v of the encoding.
        version: u8,
        /// The oldest version this decoder understands.
        oldest: u8,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid {field}: {value:#x}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A string that must be UTF-8 is not.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Input was left over after a value that must use all of it.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A structural rule of the format is broken (the text says which).
    #[error("{0}")]
    Malformed(&'static str),
}

/// A decoding failure: its kind, the byte offset where it happened and the types being decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: DecodeErrorKind,
    offset: usize,
    /// Innermost type first; displayed outermost first.
    context: Vec<&'static str>,
}

impl DecodeError {
    /// A new error of `kind` at byte `offset` of the outermost input.
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError(Box::new(Inner {
            kind,
            offset,
            context: Vec::new(),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }

    /// Byte offset in the outermost input where decoding failed.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// The types being decoded, outermost first.
    pub fn context(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.context.iter().rev().copied()
    }

    /// Adds the name of an enclosing type (used as the error travels outwards).
    #[must_use]
    pub fn within(mut self, what: &'static str) -> Self {
        if self.0.context.last() != Some(&what) {
            self.0.context.push(what);
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("decoding ")?;
        let mut first = true;
        for what in self.context() {
            if !first {
                f.write_str(" > ")?;
            }
            f.write_str(what)?;
            first = false;
        }
        if first {
            f.write_str("input")?;
        }
        write!(f, ": {} (at byte {})", self.0.kind, self.0.offset)
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

/// An encoding failure: a length that Ceph's 32-bit length fields cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a length of {len} bytes or elements does not fit Ceph's 32-bit length field")]
pub struct EncodeError {
    /// The length that did not fit.
    pub len: u64,
}

/// Result of a decode.
pub type Result<T, E = DecodeError> = std::result::Result<T, E>;
