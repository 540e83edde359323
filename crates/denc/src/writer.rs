//! An append-only encoder.

use crate::Encode;
use crate::error::EncodeError;
use crate::features;

/// Appends encoded values to a buffer.
///
/// Some of Ceph's encodings depend on the features the peer supports (`entity_addr_t`
/// falls back to its legacy form without `MSG_ADDR2`, for instance); the writer carries
/// those features. A length that does not fit Ceph's 32-bit fields is recorded and reported
/// by [`Writer::finish`] rather than silently truncated.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    features: u64,
    overflow: Option<u64>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    /// A writer that encodes for a peer with every feature this crate knows
    /// ([`features::ALL`]).
    pub fn new() -> Self {
        Writer::with_features(features::ALL)
    }

    /// A writer that encodes for a peer with exactly `features`.
    pub fn with_features(features: u64) -> Self {
        Writer {
            buf: Vec::new(),
            features,
            overflow: None,
        }
    }

    /// Appends to an existing buffer.
    pub fn from_vec(buf: Vec<u8>, features: u64) -> Self {
        Writer {
            buf,
            features,
            overflow: None,
        }
    }

    /// The peer features this encoding targets.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// True if the peer has every bit of `mask` (a feature *set* is present only when all
    /// its bits are).
    pub fn has_features(&self, mask: u64) -> bool {
        self.features & mask == mask
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded bytes, or the first length that did not fit a 32-bit field.
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        match self.overflow {
            Some(len) => Err(EncodeError { len }),
            None => Ok(self.buf),
        }
    }

    /// Appends raw bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    /// Appends a `u8`.
    pub fn put_u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Appends a little-endian `u16`.
    pub fn put_u16(&mut self, v: u16) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `u32`.
    pub fn put_u32(&mut self, v: u32) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `u64`.
    pub fn put_u64(&mut self, v: u64) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends an `i8`.
    pub fn put_i8(&mut self, v: i8) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `i16`.
    pub fn put_i16(&mut self, v: i16) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `i32`.
    pub fn put_i32(&mut self, v: i32) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `i64`.
    pub fn put_i64(&mut self, v: i64) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `f32`.
    pub fn put_f32(&mut self, v: f32) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a little-endian `f64`.
    pub fn put_f64(&mut self, v: f64) {
        self.put_bytes(&v.to_le_bytes());
    }
    /// Appends a `bool` as one byte.
    pub fn put_bool(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }

    /// Appends a le32 length or count.
    pub fn put_len(&mut self, len: usize) {
        match u32::try_from(len) {
            Ok(len) => self.put_u32(len),
            Err(_) => {
                self.overflow.get_or_insert(len as u64);
                self.put_u32(u32::MAX);
            }
        }
    }

    /// Appends a le32 length and the bytes (Ceph's `string` and `bufferlist` layout).
    pub fn put_length_prefixed(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len());
        self.put_bytes(bytes);
    }

    /// Appends any encodable value.
    pub fn put<T: Encode + ?Sized>(&mut self, value: &T) {
        value.encode(self);
    }

    /// Writes Ceph's versioned envelope (u8 version, u8 compat, le32 body length) around the
    /// body that `f` writes.
    pub fn versioned(&mut self, version: u8, compat: u8, f: impl FnOnce(&mut Writer)) {
        self.versioned_new_compat(version, |w| {
            f(w);
            compat
        });
    }

    /// Like [`Writer::versioned`] for bodies that decide their compat version while they are
    /// written (`ENCODE_FINISH_NEW_COMPAT`): `f` returns it.
    pub fn versioned_new_compat(&mut self, version: u8, f: impl FnOnce(&mut Writer) -> u8) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[version, 0, 0, 0, 0, 0]);
        let compat = f(self);
        let body_len = self.buf.len() - start - 6;
        let len_bytes = match u32::try_from(body_len) {
            Ok(len) => len.to_le_bytes(),
            Err(_) => {
                self.overflow.get_or_insert(body_len as u64);
                u32::MAX.to_le_bytes()
            }
        };
        // The six header bytes were pushed above, so both slots exist.
        if let Some(slot) = self.buf.get_mut(start + 1) {
            *slot = compat;
        }
        if let Some(slot) = self.buf.get_mut(start + 2..start + 6) {
            slot.copy_from_slice(&len_bytes);
        }
    }
}

/// Encodes `value` for a peer with every known feature.
pub fn encode_to_vec<T: Encode + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::new();
    value.encode(&mut w);
    w.finish()
}

/// Encodes `value` for a peer with exactly `features`.
pub fn encode_with_features<T: Encode + ?Sized>(
    value: &T,
    features: u64,
) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::with_features(features);
    value.encode(&mut w);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_patches_compat_and_length() {
        let mut w = Writer::new();
        w.versioned(3, 2, |w| w.put_u32(0xdead_beef));
        assert_eq!(
            w.finish().unwrap(),
            [3, 2, 4, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]
        );
    }

    #[test]
    fn nested_versioned_lengths() {
        let mut w = Writer::new();
        w.versioned(1, 1, |w| {
            w.put_u8(9);
            w.versioned(2, 1, |w| w.put_u16(7));
        });
        assert_eq!(
            w.finish().unwrap(),
            [1, 1, 9, 0, 0, 0, 9, 2, 1, 2, 0, 0, 0, 7, 0]
        );
    }

    #[test]
    fn new_compat_is_decided_by_the_body() {
        let mut w = Writer::new();
        w.versioned_new_compat(6, |w| {
            w.put_u8(1);
            6
        });
        assert_eq!(w.finish().unwrap(), [6, 6, 1, 0, 0, 0, 1]);
    }
}
