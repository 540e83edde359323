//! [`ImageFile`]: an image as a blocking `std::io::{Read, Write, Seek}` file, for code that
//! is not async (what OpenStack Cinder's `RBDImageIOWrapper` offers over librbd: read,
//! write, seek, tell, flush; no file descriptor).

use std::io::{self, Read, Seek, SeekFrom, Write};

use tokio::runtime::Handle;

use crate::error::Error;
use crate::image::Image;

/// An [`Image`] read and written as a file with a position, from blocking code.
///
/// Each call runs the image's async call to completion on a tokio runtime through
/// [`Handle::block_on`]. The handle must belong to a **multi-thread** runtime that keeps
/// running while the file is used (the one the `Rados` client was connected on is the
/// natural choice): a current-thread runtime's I/O is only driven by its own `block_on`.
/// The calls must not be made from inside an async task (`block_on` panics there); use
/// [`AsyncImageFile`](crate::AsyncImageFile) in async code.
///
/// Every `read`/`write` is one image request, so wrap the file in a
/// [`std::io::BufReader`]/[`std::io::BufWriter`] with a capacity of an object or more
/// (`image.info().obj_size`) when copying with small buffers (`std::io::copy` uses 8 KiB).
///
/// Reads at or past the end of the image return 0 bytes (end of file); writes are cut at
/// the end and fail with [`io::ErrorKind::WriteZero`] past it (the image does not grow).
/// Seeking past the end is allowed, as for files. Errors keep the [`Error`] as their source
/// and map its errno to the `io::ErrorKind`.
#[derive(Debug)]
pub struct ImageFile {
    image: Image,
    handle: Handle,
    pos: u64,
}

impl ImageFile {
    /// A file over `image` at position 0, running its calls on `handle` (see the type's
    /// documentation for which runtime).
    pub fn new(image: Image, handle: Handle) -> ImageFile {
        ImageFile {
            image,
            handle,
            pos: 0,
        }
    }

    /// The image.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The image back.
    pub fn into_inner(self) -> Image {
        self.image
    }

    /// The current position (Cinder's `tell`).
    pub fn tell(&self) -> u64 {
        self.pos
    }
}

/// An image error as an `io::Error` whose kind follows the errno (ENOENT -> NotFound,
/// EROFS -> ReadOnlyFilesystem, ...) and whose source is the error.
pub(crate) fn to_io(e: Error) -> io::Error {
    let kind = io::Error::from_raw_os_error(e.errno().saturating_neg()).kind();
    io::Error::new(kind, e)
}

/// The position `from` leads to from `pos` in an image of `size` bytes.
pub(crate) fn seek_target(pos: u64, size: u64, from: SeekFrom) -> io::Result<u64> {
    let (base, delta) = match from {
        SeekFrom::Start(p) => return Ok(p),
        SeekFrom::End(d) => (size, d),
        SeekFrom::Current(d) => (pos, d),
    };
    base.checked_add_signed(delta).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seek to a negative or overflowing position",
        )
    })
}

/// Bytes to read at `pos`: up to `want`, nothing at or past the end.
pub(crate) fn read_len(pos: u64, size: u64, want: usize) -> u64 {
    (want as u64).min(size.saturating_sub(pos))
}

pub(crate) fn past_end() -> io::Error {
    io::Error::new(io::ErrorKind::WriteZero, "write past the end of the image")
}

impl Read for ImageFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = read_len(self.pos, self.image.size(), buf.len());
        if len == 0 {
            return Ok(0);
        }
        let data = self
            .handle
            .block_on(self.image.read(self.pos, len))
            .map_err(to_io)?;
        let n = data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for ImageFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.image.size() {
            return Err(past_end());
        }
        let data = bytes::Bytes::copy_from_slice(buf);
        let n = self
            .handle
            .block_on(self.image.write(self.pos, data))
            .map_err(to_io)?;
        self.pos += n;
        usize::try_from(n).map_err(|_| io::Error::other("write count overflow"))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.handle.block_on(self.image.flush()).map_err(to_io)
    }
}

impl Seek for ImageFile {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        self.pos = seek_target(self.pos, self.image.size(), from)?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeks_and_lengths() {
        assert_eq!(seek_target(5, 100, SeekFrom::Start(200)).unwrap(), 200);
        assert_eq!(seek_target(5, 100, SeekFrom::End(-10)).unwrap(), 90);
        assert_eq!(seek_target(5, 100, SeekFrom::Current(3)).unwrap(), 8);
        assert_eq!(
            seek_target(5, 100, SeekFrom::Current(-6))
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(read_len(90, 100, 64), 10);
        assert_eq!(read_len(100, 100, 64), 0);
        assert_eq!(read_len(300, 100, 64), 0);
        assert_eq!(read_len(0, 100, 64), 64);
    }

    #[test]
    fn errors_map_to_kinds() {
        assert_eq!(
            to_io(Error::ReadOnly).kind(),
            io::ErrorKind::ReadOnlyFilesystem
        );
        assert_eq!(
            to_io(Error::ImageNotFound("x".into())).kind(),
            io::ErrorKind::NotFound
        );
        let e = to_io(Error::PastEnd { offset: 1, size: 0 });
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.get_ref().is_some_and(|s| s.is::<Error>()));
    }
}
