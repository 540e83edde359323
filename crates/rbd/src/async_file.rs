//! [`AsyncImageFile`]: an image as a tokio `AsyncRead + AsyncWrite + AsyncSeek` stream
//! with a position, for `tokio::io::copy` and friends.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::file::{past_end, read_len, seek_target, to_io};
use crate::image::Image;

type Pending<T> = Pin<Box<dyn Future<Output = crate::Result<T>> + Send>>;

/// The request in flight, if any.
enum State {
    Idle,
    Reading(Pending<Bytes>),
    Writing(Pending<u64>),
    Flushing(Pending<()>),
}

/// An [`Image`] as an async file with a position.
///
/// Every `poll_read`/`poll_write` that starts a request sends one image request of the
/// caller's buffer size, so wrap it in a [`tokio::io::BufReader`]/[`tokio::io::BufWriter`]
/// with a capacity of an object or more when copying with small buffers
/// (`tokio::io::copy` uses 8 KiB). A read that completes with more bytes than the next
/// caller's buffer holds keeps the rest for the following reads.
///
/// As for [`ImageFile`](crate::ImageFile): end of file at the end of the image, writes cut
/// there and failing with `WriteZero` past it, seeking anywhere at or after 0. A seek
/// while a read or write is in flight fails (as `tokio::fs::File` does); once a
/// `poll_write` returned `Pending`, the write it started is what the next `poll_write`
/// completes (callers pass the same bytes again, as the `AsyncWrite` contract asks).
pub struct AsyncImageFile {
    image: Arc<Image>,
    pos: u64,
    /// Bytes read ahead of `pos` (the tail of a read larger than the caller's buffer).
    unread: Bytes,
    state: State,
}

impl std::fmt::Debug for AsyncImageFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncImageFile")
            .field("image", &self.image.info().name)
            .field("pos", &self.pos)
            .field("unread", &self.unread.len())
            .finish_non_exhaustive()
    }
}

impl AsyncImageFile {
    /// A file over `image` at position 0.
    pub fn new(image: Image) -> AsyncImageFile {
        AsyncImageFile {
            image: Arc::new(image),
            pos: 0,
            unread: Bytes::new(),
            state: State::Idle,
        }
    }

    /// The image.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The current position.
    pub fn tell(&self) -> u64 {
        self.pos
    }
}

impl AsyncRead for AsyncImageFile {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.unread.is_empty() {
                let n = this.unread.len().min(buf.remaining());
                buf.put_slice(&this.unread.split_to(n));
                this.pos += n as u64;
                return Poll::Ready(Ok(()));
            }
            match &mut this.state {
                State::Idle => {
                    let len = read_len(this.pos, this.image.size(), buf.remaining());
                    if len == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let (image, off) = (this.image.clone(), this.pos);
                    this.state =
                        State::Reading(Box::pin(async move { image.read(off, len).await }));
                }
                State::Reading(fut) => {
                    let r = ready!(fut.as_mut().poll(cx));
                    this.state = State::Idle;
                    this.unread = r.map_err(to_io)?;
                    if this.unread.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
                State::Writing(_) | State::Flushing(_) => {
                    ready!(this.poll_finish_write(cx))?;
                }
            }
        }
    }
}

impl AsyncImageFile {
    /// Drives a write or flush in flight to its end (its count is dropped: a write the
    /// caller stopped polling is not reported twice).
    fn poll_finish_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = match &mut self.state {
            State::Writing(fut) => ready!(fut.as_mut().poll(cx)).map(|n| self.pos += n),
            State::Flushing(fut) => ready!(fut.as_mut().poll(cx)),
            State::Idle | State::Reading(_) => return Poll::Ready(Ok(())),
        };
        self.state = State::Idle;
        Poll::Ready(r.map_err(to_io))
    }
}

impl AsyncWrite for AsyncImageFile {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle => {
                    if buf.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    // bytes read ahead would be stale once this range is written
                    this.unread = Bytes::new();
                    if this.pos >= this.image.size() {
                        return Poll::Ready(Err(past_end()));
                    }
                    let (image, off) = (this.image.clone(), this.pos);
                    let data = Bytes::copy_from_slice(buf);
                    this.state =
                        State::Writing(Box::pin(async move { image.write(off, data).await }));
                }
                State::Writing(fut) => {
                    let r = ready!(fut.as_mut().poll(cx));
                    this.state = State::Idle;
                    let n = r.map_err(to_io)?;
                    this.pos += n;
                    let n =
                        usize::try_from(n).map_err(|_| io::Error::other("write count overflow"))?;
                    return Poll::Ready(Ok(n));
                }
                State::Reading(_) => {
                    // a read the caller gave up on: its bytes are not needed
                    this.state = State::Idle;
                }
                State::Flushing(_) => {
                    ready!(this.poll_finish_write(cx))?;
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle | State::Reading(_) => {
                    let image = this.image.clone();
                    this.state = State::Flushing(Box::pin(async move { image.flush().await }));
                }
                State::Writing(_) => ready!(this.poll_finish_write(cx))?,
                State::Flushing(_) => return this.poll_finish_write(cx),
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for AsyncImageFile {
    fn start_seek(self: Pin<&mut Self>, from: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        if !matches!(this.state, State::Idle) {
            return Err(io::Error::other("other file operation is pending"));
        }
        // the position the caller sees is `pos`; bytes read ahead are dropped
        this.pos = seek_target(this.pos, this.image.size(), from)?;
        this.unread = Bytes::new();
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        ready!(this.poll_finish_write(cx))?;
        Poll::Ready(Ok(this.pos))
    }
}
