//! [`Secret`]: key material that is wiped when dropped and never printed.

use std::fmt;

use zeroize::Zeroize;

/// Secret bytes: a key, a session key or a connection secret.
///
/// The bytes are overwritten with zeros when the value is dropped, `Debug` prints only the
/// length, and equality takes the same time wherever the first difference is.
#[derive(Clone, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Secret(bytes.to_vec())
    }

    /// The secret bytes. Do not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no bytes (e.g. the connection secret in crc mode).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
}

// Ceph encodes secrets it sends as strings or bufferlists: le32 length and the bytes.
impl denc::Decode for Secret {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut denc::Reader<'_>) -> denc::Result<Self> {
        Ok(Secret::from_slice(r.length_prefixed()?))
    }
}

impl denc::Encode for Secret {
    fn encode(&self, w: &mut denc::Writer) {
        w.put_length_prefixed(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let s = Secret::from_slice(b"\x41\x42\x43");
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret([redacted; 3 bytes])");
        assert!(!shown.contains("ABC") && !shown.contains("65"));
    }

    #[test]
    fn equality_compares_length_and_bytes() {
        assert_eq!(Secret::from_slice(b"ab"), Secret::from_slice(b"ab"));
        assert_ne!(Secret::from_slice(b"ab"), Secret::from_slice(b"ac"));
        assert_ne!(Secret::from_slice(b"ab"), Secret::from_slice(b"abc"));
    }
}
