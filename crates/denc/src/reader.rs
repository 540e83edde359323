//! A bounds-checked cursor over encoded bytes.

use crate::Decode;
use crate::error::{DecodeError, DecodeErrorKind, Result};

/// A cursor over a byte slice. Every read is checked against the bytes that remain; nothing
/// is allocated from a length or count before it has been checked against them.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    /// Offset of `buf[0]` in the outermost input, for error messages.
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, offset: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True once every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Offset of the next byte in the outermost input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// An error of `kind` at the current position.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.offset)
    }

    /// An [`DecodeErrorKind::InvalidValue`] error at the current position.
    pub fn invalid(&self, field: &'static str, value: u64) -> DecodeError {
        self.error(DecodeErrorKind::InvalidValue { field, value })
    }

    fn eof(&self, needed: u64) -> DecodeError {
        self.error(DecodeErrorKind::UnexpectedEof {
            needed,
            remaining: self.buf.len(),
        })
    }

    /// The next `n` bytes, borrowed from the input.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(self.eof(n as u64));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        self.offset += n;
        Ok(head)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf;
        self.offset += rest.len();
        self.buf = &[];
        rest
    }

    /// Looks at the next byte without consuming it.
    pub fn peek_u8(&self) -> Result<u8> {
        self.buf.first().copied().ok_or_else(|| self.eof(1))
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// An `i8`.
    pub fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_le_bytes(self.array()?))
    }
    /// A little-endian `i16`.
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.array()?))
    }
    /// A little-endian `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    /// A little-endian `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A little-endian IEEE-754 `f32`.
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    /// A little-endian IEEE-754 `f64`.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// A `bool` (one byte; any non-zero value is true, as in Ceph).
    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    /// A value of any decodable type.
    pub fn decode<T: Decode>(&mut self) -> Result<T> {
        T::decode(self)
    }

    /// A le32 byte length, checked against the remaining input.
    pub fn length(&mut self) -> Result<usize> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| self.eof(u64::from(len)))?;
        if len > self.buf.len() {
            return Err(self.eof(len as u64));
        }
        Ok(len)
    }

    /// A le32 length followed by that many bytes (Ceph's `bufferlist` and `string` layout).
    pub fn length_prefixed(&mut self) -> Result<&'a [u8]> {
        let len = self.length()?;
        self.take(len)
    }

    /// A le32 element count, checked: `count` elements of at least `min_len` bytes each must fit
    /// in the remaining input. The result is therefore safe to use as a capacity.
    pub fn count(&mut self, min_len: usize) -> Result<usize> {
        let count = self.u32()?;
        self.check_count(u64::from(count), min_len)
    }

    /// Checks a count read by other means (a u8 or u16 count, say) as [`Reader::count`] does.
    pub fn check_count(&self, count: u64, min_len: usize) -> Result<usize> {
        let min_len_u64 = min_len.max(1) as u64;
        match count.checked_mul(min_len_u64) {
            Some(total) if total <= self.buf.len() as u64 => {
                usize::try_from(count).map_err(|_| self.eof(total))
            }
            _ => Err(self.error(DecodeErrorKind::CountTooLarge {
                count,
                min_len,
                remaining: self.buf.len(),
            })),
        }
    }

    /// Splits off the next `n` bytes as a reader of their own.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>> {
        let offset = self.offset;
        let buf = self.take(n)?;
        Ok(Reader { buf, offset })
    }

    /// Runs `f` and names `what` in any error it returns.
    pub fn named<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T>,
    ) -> Result<T> {
        f(self).map_err(|e| e.within(what))
    }

    /// Decodes Ceph's versioned envelope (`ENCODE_START`: u8 version, u8 compat, le32 length)
    /// around the body that `f` decodes.
    ///
    /// `f` gets the encoding's version and a reader over exactly the body: reading past it is
    /// an error, and whatever `f` leaves unread (fields newer than we know) is skipped. An
    /// encoding whose compat version is above `supported` is refused, naming `what`.
    pub fn versioned<T>(
        &mut self,
        what: &'static str,
        supported: u8,
        f: impl FnOnce(u8, &mut Reader<'a>) -> Result<T>,
    ) -> Result<T> {
        self.versioned_legacy(what, supported, 0, 0, f)
    }

    /// Like [`Reader::versioned`] for types whose oldest encodings lacked parts of the
    /// envelope (`DECODE_START_LEGACY_COMPAT_LEN`): the compat byte is present only from
    /// version `compat_from`, the length only from version `len_from`. Without a length the
    /// body runs to wherever `f` stops.
    pub fn versioned_legacy<T>(
        &mut self,
        what: &'static str,
        supported: u8,
        compat_from: u8,
        len_from: u8,
        f: impl FnOnce(u8, &mut Reader<'a>) -> Result<T>,
    ) -> Result<T> {
        self.named(what, |r| {
            let version = r.u8()?;
            if version >= compat_from {
                let compat = r.u8()?;
                if compat > supported {
                    return Err(r.error(DecodeErrorKind::IncompatibleVersion {
                        version,
                        compat,
                        supported,
                    }));
                }
            }
            if version >= len_from {
                let len = r.length()?;
                let mut body = r.sub(len)?;
                f(version, &mut body)
            } else {
                f(version, r)
            }
        })
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes(self.buf.len())))
        }
    }
}

/// Decodes a `T` that must use all of `buf`.
pub fn decode_exact<T: Decode>(buf: &[u8]) -> Result<T> {
    let mut r = Reader::new(buf);
    let value = T::decode(&mut r)?;
    r.finish()
        .map_err(|e| e.within(std::any::type_name::<T>()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_integers() {
        let mut r = Reader::new(&[1, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xff]);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0x1234_5678);
        assert_eq!(r.i8().unwrap(), -1);
        assert!(r.is_empty());
        let err = r.u8().unwrap_err();
        assert_eq!(
            *err.kind(),
            DecodeErrorKind::UnexpectedEof {
                needed: 1,
                remaining: 0
            }
        );
        assert_eq!(err.offset(), 8);
    }

    #[test]
    fn refuses_lengths_past_the_input() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0x7f, 1, 2]);
        assert!(matches!(
            r.length().unwrap_err().kind(),
            DecodeErrorKind::UnexpectedEof { .. }
        ));
    }

    #[test]
    fn refuses_counts_that_cannot_fit() {
        // 1,000,000 u64 elements cannot fit in 8 bytes: refused before any allocation.
        let mut input = 1_000_000u32.to_le_bytes().to_vec();
        input.extend_from_slice(&[0; 8]);
        let mut r = Reader::new(&input);
        assert!(matches!(
            r.count(8).unwrap_err().kind(),
            DecodeErrorKind::CountTooLarge {
                count: 1_000_000,
                ..
            }
        ));
        let mut r = Reader::new(&input);
        assert!(
            r.count(0).is_err(),
            "zero-sized elements still count as one byte"
        );
    }

    #[test]
    fn versioned_skips_unknown_trailing_fields() {
        // version 3, compat 1, length 6: a u32 we know and two bytes from a newer version
        let input = [3, 1, 6, 0, 0, 0, 7, 0, 0, 0, 0xaa, 0xbb, 9];
        let mut r = Reader::new(&input);
        let (v, x) = r.versioned("test_t", 2, |v, r| Ok((v, r.u32()?))).unwrap();
        assert_eq!((v, x), (3, 7));
        assert_eq!(r.u8().unwrap(), 9);
    }

    #[test]
    fn versioned_refuses_newer_compat_and_names_the_type() {
        let input = [5, 4, 0, 0, 0, 0];
        let err = Reader::new(&input)
            .versioned("pg_pool_t", 3, |_, _| Ok(()))
            .unwrap_err();
        assert_eq!(
            *err.kind(),
            DecodeErrorKind::IncompatibleVersion {
                version: 5,
                compat: 4,
                supported: 3
            }
        );
        assert!(err.to_string().contains("pg_pool_t"), "{err}");
    }

    #[test]
    fn versioned_body_cannot_be_overrun() {
        // length 2, but the body decoder wants 4 bytes
        let input = [1, 1, 2, 0, 0, 0, 1, 2, 3, 4];
        let err = Reader::new(&input)
            .versioned("small_t", 1, |_, r| r.u32())
            .unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::UnexpectedEof { .. }));
    }

    #[test]
    fn errors_name_the_nesting_outermost_first() {
        let input = [1, 1, 6, 0, 0, 0, 1, 1, 0, 0, 0, 0];
        let err = Reader::new(&input)
            .versioned("outer_t", 1, |_, r| {
                r.versioned("inner_t", 1, |_, r| r.u64())
            })
            .unwrap_err();
        let path: Vec<_> = err.context().collect();
        assert_eq!(path, ["outer_t", "inner_t"]);
        assert!(
            err.to_string().starts_with("decoding outer_t > inner_t: "),
            "{err}"
        );
    }

    #[test]
    fn legacy_envelope_without_length() {
        // version 2 predates both compat (from 3) and length (from 3)
        let input = [2, 5, 0, 0, 0];
        let mut r = Reader::new(&input);
        let x = r.versioned_legacy("old_t", 4, 3, 3, |v, r| {
            assert_eq!(v, 2);
            r.u32()
        });
        assert_eq!(x.unwrap(), 5);
        assert!(r.is_empty());
    }
}
