//! The [`Encode`] and [`Decode`] traits and their implementations for primitives and the
//! standard containers, laid out as Ceph's `encoding.h` / `denc.h` lay them out.
//!
//! | Rust | Ceph | wire |
//! |---|---|---|
//! | `u8`..`u64`, `i8`..`i64`, `f32`, `f64` | same | little-endian |
//! | `bool` | `bool` | one byte |
//! | `String` | `std::string` | le32 length, bytes (UTF-8 required here) |
//! | [`Bytes`] | `bufferlist` | le32 length, bytes |
//! | `Vec<T>` | `std::vector<T>`, `std::list<T>` | le32 count, elements |
//! | `BTreeMap<K, V>` | `std::map<K, V>` | le32 count, (key, value) pairs in key order |
//! | `BTreeSet<T>` | `std::set<T>` | le32 count, elements in order |
//! | `Option<T>` | `std::optional<T>` | u8 present, value if present |
//! | `(A, B)` | `std::pair<A, B>` | first, second |
//! | `[u8; N]` | raw arrays | the bytes |

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::error::{DecodeErrorKind, Result};
use crate::{Reader, Writer};

/// A type that can be decoded from Ceph's encoding.
pub trait Decode: Sized {
    /// The fewest bytes any encoding of this type occupies (at least 1). Containers use it to
    /// refuse element counts that cannot fit in the input before allocating anything.
    const MIN_LEN: usize = 1;

    /// Decodes one value, advancing the reader past it.
    fn decode(r: &mut Reader<'_>) -> Result<Self>;
}

/// A type that can be encoded in Ceph's encoding.
pub trait Encode {
    /// Appends the encoding of `self`.
    fn encode(&self, w: &mut Writer);
}

macro_rules! primitive {
    ($ty:ty, $read:ident, $put:ident) => {
        impl Decode for $ty {
            const MIN_LEN: usize = std::mem::size_of::<$ty>();
            fn decode(r: &mut Reader<'_>) -> Result<Self> {
                r.$read()
            }
        }
        impl Encode for $ty {
            fn encode(&self, w: &mut Writer) {
                w.$put(*self)
            }
        }
    };
}

primitive!(u8, u8, put_u8);
primitive!(u16, u16, put_u16);
primitive!(u32, u32, put_u32);
primitive!(u64, u64, put_u64);
primitive!(i8, i8, put_i8);
primitive!(i16, i16, put_i16);
primitive!(i32, i32, put_i32);
primitive!(i64, i64, put_i64);
primitive!(f32, f32, put_f32);
primitive!(f64, f64, put_f64);
primitive!(bool, bool, put_bool);

impl<const N: usize> Decode for [u8; N] {
    const MIN_LEN: usize = if N == 0 { 1 } else { N };
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.array()
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, w: &mut Writer) {
        w.put_bytes(self)
    }
}

impl Decode for String {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let start = r.clone();
        let bytes = r.length_prefixed()?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(start.error(DecodeErrorKind::InvalidUtf8)),
        }
    }
}

impl Encode for String {
    fn encode(&self, w: &mut Writer) {
        self.as_str().encode(w)
    }
}

impl Encode for str {
    fn encode(&self, w: &mut Writer) {
        w.put_length_prefixed(self.as_bytes())
    }
}

impl Decode for Bytes {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Bytes::copy_from_slice(r.length_prefixed()?))
    }
}

impl Encode for Bytes {
    fn encode(&self, w: &mut Writer) {
        w.put_length_prefixed(self)
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let count = r.count(T::MIN_LEN)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(T::decode(r)?);
        }
        Ok(out)
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, w: &mut Writer) {
        self.as_slice().encode(w)
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, w: &mut Writer) {
        w.put_len(self.len());
        for item in self {
            item.encode(w);
        }
    }
}

impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let count = r.count(K::MIN_LEN + V::MIN_LEN)?;
        let mut out = BTreeMap::new();
        for _ in 0..count {
            let k = K::decode(r)?;
            let v = V::decode(r)?;
            out.insert(k, v);
        }
        Ok(out)
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    fn encode(&self, w: &mut Writer) {
        w.put_len(self.len());
        for (k, v) in self {
            k.encode(w);
            v.encode(w);
        }
    }
}

impl<T: Decode + Ord> Decode for BTreeSet<T> {
    const MIN_LEN: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let count = r.count(T::MIN_LEN)?;
        let mut out = BTreeSet::new();
        for _ in 0..count {
            out.insert(T::decode(r)?);
        }
        Ok(out)
    }
}

impl<T: Encode> Encode for BTreeSet<T> {
    fn encode(&self, w: &mut Writer) {
        w.put_len(self.len());
        for item in self {
            item.encode(w);
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    const MIN_LEN: usize = 1;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        if r.bool()? {
            Ok(Some(T::decode(r)?))
        } else {
            Ok(None)
        }
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, w: &mut Writer) {
        match self {
            Some(v) => {
                w.put_bool(true);
                v.encode(w);
            }
            None => w.put_bool(false),
        }
    }
}

impl<A: Decode, B: Decode> Decode for (A, B) {
    const MIN_LEN: usize = A::MIN_LEN + B::MIN_LEN;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, w: &mut Writer) {
        self.0.encode(w);
        self.1.encode(w);
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, w: &mut Writer) {
        (**self).encode(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_exact, encode_to_vec};

    fn round_trip<T: Decode + Encode + PartialEq + std::fmt::Debug>(value: T, wire: &[u8]) {
        assert_eq!(encode_to_vec(&value).unwrap(), wire);
        assert_eq!(decode_exact::<T>(wire).unwrap(), value);
        for cut in 0..wire.len() {
            assert!(decode_exact::<T>(&wire[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn strings_and_buffers() {
        round_trip("rbd".to_string(), b"\x03\0\0\0rbd");
        round_trip(Bytes::from_static(b"\x00\x01"), b"\x02\0\0\0\x00\x01");
        round_trip(String::new(), &[0, 0, 0, 0]);
    }

    #[test]
    fn refuses_invalid_utf8() {
        let err = decode_exact::<String>(b"\x01\0\0\0\xff").unwrap_err();
        assert_eq!(*err.kind(), DecodeErrorKind::InvalidUtf8);
    }

    #[test]
    fn containers() {
        round_trip(vec![1u32, 2], &[2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
        let map: BTreeMap<u8, String> = [(1, "a".to_string())].into();
        round_trip(map, &[1, 0, 0, 0, 1, 1, 0, 0, 0, b'a']);
        let set: BTreeSet<u16> = [3, 1].into();
        round_trip(set, &[2, 0, 0, 0, 1, 0, 3, 0]);
        round_trip(Some(7u8), &[1, 7]);
        round_trip(None::<u8>, &[0]);
        round_trip((1u8, -1i16), &[1, 0xff, 0xff]);
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        // a vector claiming 2^32-1 strings in 8 bytes of input
        let wire = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        let err = decode_exact::<Vec<String>>(&wire).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::CountTooLarge { .. }));
        let err = decode_exact::<BTreeMap<u64, Vec<u8>>>(&wire).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::CountTooLarge { .. }));
    }
}
