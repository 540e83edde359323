//! The `rbd export-diff` stream formats v1 and v2 (doc/dev/rbd-diff.rst,
//! src/tools/rbd/action/Export.cc, Import.cc): a banner, metadata records (from snapshot,
//! to snapshot, protection, size), data records (write, zero), an end tag. In v2 every
//! record but the end carries its length (so unknown tags can be skipped).
//!
//! The reader takes untrusted input: names are capped as `rbd` caps them (4 KiB), data is
//! read as it arrives (nothing is allocated from a length before its bytes are there).

use std::io::{Read, Write};

use crate::error::{Error, Result};

/// Banner of format 1.
pub const BANNER_V1: &[u8] = b"rbd diff v1\n";
/// Banner of format 2.
pub const BANNER_V2: &[u8] = b"rbd diff v2\n";

/// Record tags (src/tools/rbd/Utils.h).
pub mod tag {
    /// The snapshot the diff starts from.
    pub const FROM_SNAP: u8 = b'f';
    /// The snapshot the diff ends at (created by import-diff).
    pub const TO_SNAP: u8 = b't';
    /// The image size at the end.
    pub const IMAGE_SIZE: u8 = b's';
    /// Whether the end snapshot is protected (v2, written by `export --export-format 2`).
    pub const SNAP_PROTECTION_STATUS: u8 = b'p';
    /// Data.
    pub const WRITE: u8 = b'w';
    /// Zeros.
    pub const ZERO: u8 = b'z';
    /// The end of the diff.
    pub const END: u8 = b'e';
}

/// Longest snapshot name accepted (`utils::read_string`'s limit in import-diff).
pub const MAX_NAME: u32 = 4096;

/// One record of a diff stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `f`: the start snapshot.
    FromSnap(String),
    /// `t`: the end snapshot.
    ToSnap(String),
    /// `p`: whether the end snapshot is protected.
    Protected(bool),
    /// `s`: the image size at the end.
    Size(u64),
    /// `w`: bytes at an offset.
    Write {
        /// Image offset.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// `z`: zeros.
    Zero {
        /// Image offset.
        offset: u64,
        /// Length.
        length: u64,
    },
    /// A tag this reader does not know (skipped, as `rbd` skips it).
    Unknown(u8),
    /// `e`: the end.
    End,
}

/// Writes a diff stream in format 1 or 2.
#[derive(Debug)]
pub struct DiffWriter<W: Write> {
    out: W,
    format: u8,
}

impl<W: Write> DiffWriter<W> {
    /// Starts a stream: banner and metadata (`protected` is written in format 2 only,
    /// and only with an end snapshot, as `rbd` does).
    pub fn new(
        mut out: W,
        format: u8,
        from_snap: Option<&str>,
        to_snap: Option<&str>,
        protected: bool,
        size: u64,
    ) -> Result<DiffWriter<W>> {
        let banner = match format {
            1 => BANNER_V1,
            2 => BANNER_V2,
            _ => return Err(Error::InvalidArgument("diff format must be 1 or 2")),
        };
        let mut b = banner.to_vec();
        let v2 = format == 2;
        for (t, name) in [(tag::FROM_SNAP, from_snap), (tag::TO_SNAP, to_snap)] {
            if let Some(n) = name {
                b.push(t);
                let len = u32::try_from(n.len())
                    .map_err(|_| Error::InvalidArgument("snapshot name too long"))?;
                if v2 {
                    b.extend_from_slice(&(u64::from(len) + 4).to_le_bytes());
                }
                b.extend_from_slice(&len.to_le_bytes());
                b.extend_from_slice(n.as_bytes());
            }
        }
        if v2 && to_snap.is_some() {
            b.push(tag::SNAP_PROTECTION_STATUS);
            b.extend_from_slice(&1u64.to_le_bytes());
            b.push(u8::from(protected));
        }
        b.push(tag::IMAGE_SIZE);
        if v2 {
            b.extend_from_slice(&8u64.to_le_bytes());
        }
        b.extend_from_slice(&size.to_le_bytes());
        out.write_all(&b)?;
        Ok(DiffWriter { out, format })
    }

    fn extent(&mut self, t: u8, offset: u64, length: u64, payload: u64) -> Result<()> {
        let mut b = Vec::with_capacity(25);
        b.push(t);
        if self.format == 2 {
            b.extend_from_slice(&(16 + payload).to_le_bytes());
        }
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&length.to_le_bytes());
        self.out.write_all(&b)?;
        Ok(())
    }

    /// A write record.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let len = data.len() as u64;
        self.extent(tag::WRITE, offset, len, len)?;
        self.out.write_all(data)?;
        Ok(())
    }

    /// A zero record.
    pub fn zero(&mut self, offset: u64, length: u64) -> Result<()> {
        self.extent(tag::ZERO, offset, length, 0)
    }

    /// Ends the stream; gives the output back.
    pub fn finish(mut self) -> Result<W> {
        self.out.write_all(&[tag::END])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a diff stream.
#[derive(Debug)]
pub struct DiffReader<R: Read> {
    input: R,
    format: u8,
}

fn exact<const N: usize>(r: &mut impl Read, what: &'static str) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| eof(e, what))?;
    Ok(b)
}

fn eof(e: std::io::Error, what: &'static str) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::BadStream(what)
    } else {
        Error::StreamIo(e)
    }
}

impl<R: Read> DiffReader<R> {
    /// Checks the banner of format `format` (1 or 2; `rbd import-diff` expects 1).
    pub fn new(mut input: R, format: u8) -> Result<DiffReader<R>> {
        let banner = if format == 2 { BANNER_V2 } else { BANNER_V1 };
        let mut b = [0u8; 12];
        input
            .read_exact(&mut b)
            .map_err(|e| eof(e, "failed to decode diff banner"))?;
        if b[..] != *banner {
            return Err(Error::BadStream("invalid or unexpected diff banner"));
        }
        Ok(DiffReader { input, format })
    }

    /// The stream's format.
    pub fn format(&self) -> u8 {
        self.format
    }

    /// The underlying reader (after the end record: what follows the diff).
    pub fn into_inner(self) -> R {
        self.input
    }

    fn string(&mut self, what: &'static str) -> Result<String> {
        let len = u32::from_le_bytes(exact(&mut self.input, what)?);
        if len > MAX_NAME {
            return Err(Error::BadStream("snapshot name too long"));
        }
        let mut v = Vec::new();
        (&mut self.input).take(u64::from(len)).read_to_end(&mut v)?;
        if v.len() as u64 != u64::from(len) {
            return Err(Error::BadStream(what));
        }
        String::from_utf8(v).map_err(|_| Error::BadStream("snapshot name is not UTF-8"))
    }

    /// The next record.
    pub fn next_record(&mut self) -> Result<Record> {
        let [t] = exact(&mut self.input, "failed to decode tag")?;
        if t == tag::END {
            return Ok(Record::End);
        }
        let length = if self.format == 2 {
            u64::from_le_bytes(exact(&mut self.input, "failed to decode tag length")?)
        } else {
            0
        };
        Ok(match t {
            tag::FROM_SNAP => Record::FromSnap(self.string("failed to decode start snap name")?),
            tag::TO_SNAP => Record::ToSnap(self.string("failed to decode end snap name")?),
            tag::SNAP_PROTECTION_STATUS => {
                let [b] = exact(&mut self.input, "failed to decode snap protection status")?;
                Record::Protected(b != 0)
            }
            tag::IMAGE_SIZE => Record::Size(u64::from_le_bytes(exact(
                &mut self.input,
                "failed to decode image size",
            )?)),
            tag::WRITE | tag::ZERO => {
                let offset =
                    u64::from_le_bytes(exact(&mut self.input, "failed to decode IO length")?);
                let len = u64::from_le_bytes(exact(&mut self.input, "failed to decode IO length")?);
                if t == tag::ZERO {
                    Record::Zero {
                        offset,
                        length: len,
                    }
                } else {
                    let mut data = Vec::new();
                    (&mut self.input).take(len).read_to_end(&mut data)?;
                    if data.len() as u64 != len {
                        return Err(Error::BadStream("failed to decode write data"));
                    }
                    Record::Write { offset, data }
                }
            }
            other => {
                let skipped =
                    std::io::copy(&mut (&mut self.input).take(length), &mut std::io::sink())?;
                if skipped != length {
                    return Err(Error::BadStream("failed to decode skipped tag data"));
                }
                Record::Unknown(other)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(format: u8) -> Vec<u8> {
        let mut w = DiffWriter::new(Vec::new(), format, Some("a"), Some("bc"), true, 8192).unwrap();
        w.write(4096, b"xyz").unwrap();
        w.zero(0, 512).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = DiffReader::new(&bytes[..], format).unwrap();
        let mut recs = Vec::new();
        loop {
            let rec = r.next_record().unwrap();
            if rec == Record::End {
                break;
            }
            recs.push(rec);
        }
        let mut want = vec![Record::FromSnap("a".into()), Record::ToSnap("bc".into())];
        if format == 2 {
            want.push(Record::Protected(true));
        }
        want.extend([
            Record::Size(8192),
            Record::Write {
                offset: 4096,
                data: b"xyz".to_vec(),
            },
            Record::Zero {
                offset: 0,
                length: 512,
            },
        ]);
        assert_eq!(recs, want);
        // every truncation is an error, never a panic
        for n in 0..bytes.len() {
            let Ok(mut r) = DiffReader::new(&bytes[..n], format) else {
                continue;
            };
            while let Ok(rec) = r.next_record() {
                assert_ne!(rec, Record::End);
            }
        }
        bytes
    }

    #[test]
    fn formats() {
        let v1 = round_trip(1);
        assert_eq!(&v1[..12], BANNER_V1);
        assert_eq!(&v1[12..18], b"f\x01\0\0\0a");
        let v2 = round_trip(2);
        assert_eq!(&v2[12..27], b"f\x05\0\0\0\0\0\0\0\x01\0\0\0a\x74");
        // a v2 reader skips unknown tags by their length
        let mut s = BANNER_V2.to_vec();
        s.extend_from_slice(b"Q\x02\0\0\0\0\0\0\0hie");
        let mut r = DiffReader::new(&s[..], 2).unwrap();
        assert_eq!(r.next_record().unwrap(), Record::Unknown(b'Q'));
        assert_eq!(r.next_record().unwrap(), Record::End);
        // a huge write length with no data is refused without allocating it
        let mut s = BANNER_V1.to_vec();
        s.push(b'w');
        s.extend_from_slice(&0u64.to_le_bytes());
        s.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(DiffReader::new(&s[..], 1).unwrap().next_record().is_err());
    }
}
