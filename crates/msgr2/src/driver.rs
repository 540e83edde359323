//! A thin tokio driver: one task per connection moves bytes between a `TcpStream` and a
//! [`Connection`], fires its timers, and connects it to two bounded channels (outgoing
//! messages, incoming events). It makes no protocol decisions; reconnecting is the caller's
//! business.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use crate::auth::AuthClient;
use crate::connection::{CloseReason, Connection, ConnectionConfig, Event};
use crate::frame::SharedRecvPool;
use crate::message::Message;

/// Driver tuning.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// How long the TCP connect may take.
    pub connect_timeout: Duration,
    /// Capacity of the outgoing message channel (senders wait when it is full).
    pub outgoing_capacity: usize,
    /// Capacity of the event channel (the driver stops reading while it is full).
    pub event_capacity: usize,
    /// Encoded bytes gathered per vectored write; no more messages are encoded while this
    /// much is waiting for the socket.
    pub write_batch: usize,
    /// Messages the connection may hold before the driver stops taking new ones.
    pub max_queued_messages: usize,
    /// Large transfers run on tokio's blocking pool instead of the driver's own task:
    /// encoding a message with at least this many payload bytes, writing an encoded chunk
    /// at least this long, and reading and checking the rest of a frame received into a
    /// pooled buffer (see `RecvPoolLimits::min_frame`). `usize::MAX` turns this off. Their
    /// per-byte work (crc32c or AES-GCM, the kernel's copies) then runs beside the other
    /// tasks (other connections, the callers' handling of replies) instead of holding up a
    /// current-thread runtime, much as librados's messenger worker threads do; under CPU
    /// contention the extra threads also get their own share of the CPU. Small frames stay
    /// on the driver's task: a hand-off costs a few microseconds and two thread wake-ups.
    pub offload_min: usize,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            connect_timeout: Duration::from_secs(10),
            outgoing_capacity: 256,
            event_capacity: 256,
            write_batch: 4 << 20,
            max_queued_messages: 16,
            offload_min: 256 << 10,
        }
    }
}

/// The sending side of a driven connection. Dropping it closes the connection.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    outgoing: mpsc::Sender<Message>,
}

/// The connection task is gone (closed, or the handle's events were dropped).
#[derive(Debug, thiserror::Error)]
#[error("connection is closed")]
pub struct ConnectionClosed(pub Box<Message>);

impl ConnectionHandle {
    /// Queues a message, waiting while the outgoing channel is full.
    pub async fn send(&self, message: Message) -> Result<(), ConnectionClosed> {
        self.outgoing
            .send(message)
            .await
            .map_err(|e| ConnectionClosed(Box::new(e.0)))
    }

    /// Queues a message if there is room right now.
    pub fn try_send(
        &self,
        message: Message,
    ) -> Result<(), Box<mpsc::error::TrySendError<Message>>> {
        self.outgoing.try_send(message).map_err(Box::new)
    }

    /// True once the connection task has ended.
    pub fn is_closed(&self) -> bool {
        self.outgoing.is_closed()
    }
}

/// Spawns a task that dials `config.peer_addr` and runs the connection. Events (Connected,
/// Message, and finally exactly one Closed) arrive on the returned receiver.
pub fn spawn(
    config: ConnectionConfig,
    auth: Box<dyn AuthClient>,
    options: DriverOptions,
) -> (ConnectionHandle, mpsc::Receiver<Event>) {
    let (out_tx, out_rx) = mpsc::channel(options.outgoing_capacity.max(1));
    let (ev_tx, ev_rx) = mpsc::channel(options.event_capacity.max(1));
    let span = tracing::info_span!(
        "msgr2",
        peer = %config.peer_addr,
        peer_type = ?config.peer_type,
    );
    tokio::spawn(
        async move {
            let reason = run(config, auth, options, out_rx, &ev_tx).await;
            if let Some(reason) = reason {
                tracing::debug!(%reason, "connection closed");
                let _ = ev_tx.send(Event::Closed(reason)).await;
            }
        }
        .instrument(span),
    );
    (ConnectionHandle { outgoing: out_tx }, ev_rx)
}

/// Runs until the connection closes. Returns the close reason if it still has to be
/// reported (the connection's own Closed event is forwarded by `forward_events`).
async fn run(
    config: ConnectionConfig,
    auth: Box<dyn AuthClient>,
    options: DriverOptions,
    mut outgoing: mpsc::Receiver<Message>,
    events: &mpsc::Sender<Event>,
) -> Option<CloseReason> {
    let Some(addr) = config.peer_addr.socket_addr() else {
        return Some(CloseReason::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "peer address has no IP",
        )));
    };
    let stream = match tokio::time::timeout(options.connect_timeout, dial(addr)).await {
        Err(_) => return Some(CloseReason::ConnectTimeout),
        Ok(Err(e)) => return Some(CloseReason::Io(e)),
        Ok(Ok(s)) => Arc::new(s),
    };
    let mut conn = Connection::new(config, auth, Instant::now().into_std());
    let mut pending: VecDeque<Bytes> = VecDeque::new();
    let mut pending_bytes = 0usize;
    let mut outgoing_open = true;
    let mut pooled_frames = 0;
    let recv_pool = conn.recv_pool().clone();
    loop {
        if forward_events(&mut conn, events).await {
            return None;
        }
        if conn.pooled_frames_received() != pooled_frames {
            pooled_frames = conn.pooled_frames_received();
            wait_for_recv_buffer(&recv_pool).await;
        }
        if pending_bytes < options.write_batch
            && conn
                .next_message_len()
                .is_some_and(|len| len >= options.offload_min)
        {
            let room = options.write_batch - pending_bytes;
            let (back, encoded, encoded_bytes) = match offload(conn, move |c| {
                let mut out = VecDeque::new();
                let n = fill(c, &mut out, room);
                (out, n)
            })
            .await
            {
                Ok((c, (out, n))) => (c, out, n),
                Err(reason) => return Some(reason),
            };
            conn = back;
            pending.extend(encoded);
            pending_bytes += encoded_bytes;
        }
        pending_bytes += fill(
            &mut conn,
            &mut pending,
            options.write_batch.saturating_sub(pending_bytes),
        );
        let interest = if pending.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let deadline = conn.poll_timeout().map(Instant::from_std);
        let take_more = outgoing_open && conn.queued_messages() < options.max_queued_messages;
        tokio::select! {
            ready = stream.ready(interest) => {
                let ready = match ready {
                    Ok(r) => r,
                    Err(e) => return Some(CloseReason::Io(e)),
                };
                if ready.is_readable() && conn.receiving_large_frame() {
                    // the rest of a large frame: read (the kernel's copy) and check it
                    // elsewhere
                    let s = Arc::clone(&stream);
                    match offload(conn, move |c| read_large(&s, c)).await {
                        Ok((c, Ok(()))) => conn = c,
                        Ok((_, Err(e))) => return Some(CloseReason::Io(e)),
                        Err(reason) => return Some(reason),
                    }
                } else if ready.is_readable() {
                    match stream.try_read_buf(conn.recv_buffer()) {
                        Ok(0) => conn.handle_eof(),
                        Ok(_) => conn.process_received(Instant::now().into_std()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Some(CloseReason::Io(e)),
                    }
                }
                let large_write = pending.front().is_some_and(|c| c.len() >= options.offload_min);
                if ready.is_writable() && large_write {
                    // a large chunk first: the kernel's copy of it runs elsewhere
                    let s = Arc::clone(&stream);
                    let mut chunks = std::mem::take(&mut pending);
                    let done = tokio::task::spawn_blocking(move || {
                        let written = write_all_ready(&s, &mut chunks);
                        (chunks, written)
                    })
                    .await;
                    match done {
                        Ok((chunks, Ok(n))) => {
                            pending = chunks;
                            pending_bytes -= n;
                        }
                        Ok((_, Err(e))) => return Some(CloseReason::Io(e)),
                        Err(e) => return Some(CloseReason::Io(io::Error::other(e))),
                    }
                } else if ready.is_writable() && !pending.is_empty() {
                    match write_some(&stream, &mut pending) {
                        Ok(n) => pending_bytes -= n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Some(CloseReason::Io(e)),
                    }
                }
            }
            message = outgoing.recv(), if take_more => match message {
                Some(m) => {
                    let _ = conn.send_message(m);
                    // take what else is already waiting, so that messages sent in one go
                    // (e.g. a burst of ops) leave in one vectored write, not one each
                    while conn.queued_messages() < options.max_queued_messages {
                        let Ok(m) = outgoing.try_recv() else { break };
                        let _ = conn.send_message(m);
                    }
                }
                None => {
                    // every handle is gone: nobody can use this connection any more
                    outgoing_open = false;
                    conn.close();
                }
            },
            () = sleep_until(deadline), if deadline.is_some() => {
                conn.handle_timeout(Instant::now().into_std());
            }
        }
    }
}

/// Pulls encoded chunks from `conn` into `pending` until `room` bytes are taken or nothing
/// is left to send; returns the bytes taken.
fn fill(conn: &mut Connection, pending: &mut VecDeque<Bytes>, room: usize) -> usize {
    let mut taken = 0;
    while taken < room {
        let Some(chunk) = conn.poll_transmit() else {
            break;
        };
        taken += chunk.len();
        pending.push_back(chunk);
    }
    taken
}

/// Reads the rest of a large frame while the socket has data (on the blocking pool), then
/// lets the connection process it (checking the frame once complete).
fn read_large(stream: &TcpStream, conn: &mut Connection) -> io::Result<()> {
    let mut got = false;
    while conn.receiving_large_frame() {
        match stream.try_read_buf(conn.recv_buffer()) {
            Ok(0) => {
                conn.handle_eof();
                return Ok(());
            }
            Ok(_) => got = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    if got {
        conn.process_received(Instant::now().into_std());
    }
    Ok(())
}

/// Writes from the front of `pending` until it is empty or the socket is full; returns the
/// bytes written.
fn write_all_ready(stream: &TcpStream, pending: &mut VecDeque<Bytes>) -> io::Result<usize> {
    let mut total = 0;
    while !pending.is_empty() {
        match write_some(stream, pending) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Runs `work` on the connection on tokio's blocking pool and gives the connection back
/// (see [`DriverOptions::offload_min`]). The driver waits meanwhile; other tasks run.
async fn offload<T: Send + 'static>(
    mut conn: Connection,
    work: impl FnOnce(&mut Connection) -> T + Send + 'static,
) -> Result<(Connection, T), CloseReason> {
    tokio::task::spawn_blocking(move || {
        let out = work(&mut conn);
        (conn, out)
    })
    .await
    // only if the runtime is shutting down (or `work` panicked): the connection is lost
    .map_err(|e| CloseReason::Io(io::Error::other(e)))
}

/// Most times the driver lets other tasks run while its receive pool is exhausted.
const RECV_POOL_YIELDS: u32 = 16;

/// After each large frame, lets the tasks that consume replies run before this connection
/// reads on, and more while every buffer of the (shared) receive pool is busy. Without it a
/// driver drains its socket as fast as the peer sends (tokio's budget lets a task make
/// many reads per turn) and every reply received but not yet consumed holds a buffer:
/// measured with 16 reads of 4 MiB in flight over 3 OSDs, up to 13 busy buffers when a
/// frame started and ~70 MB of them at the peak; with one yield per frame, at most 5 (the
/// replies' receivers drop them in their turn). Bounded: a caller may hold every buffer
/// while it waits for more replies, and then the next frame gets a one-off buffer.
async fn wait_for_recv_buffer(pool: &SharedRecvPool) {
    tokio::task::yield_now().await;
    for _ in 0..RECV_POOL_YIELDS {
        if pool.has_room() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

async fn dial(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    // Ceph sets TCP_NODELAY (ms_tcp_nodelay); frames are written whole anyway
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Hands the connection's events to the channel. True once the connection has closed.
async fn forward_events(conn: &mut Connection, events: &mpsc::Sender<Event>) -> bool {
    while let Some(event) = conn.poll_event() {
        let closed = matches!(event, Event::Closed(_));
        if events.send(event).await.is_err() && !closed {
            // nobody listens any more
            conn.close();
            continue;
        }
        if closed {
            return true;
        }
    }
    false
}

/// One vectored write from the front of `pending`; returns the bytes written.
fn write_some(stream: &TcpStream, pending: &mut VecDeque<Bytes>) -> io::Result<usize> {
    const MAX_SLICES: usize = 64;
    let slices: Vec<IoSlice<'_>> = pending
        .iter()
        .take(MAX_SLICES)
        .map(|b| IoSlice::new(b))
        .collect();
    let mut written = stream.try_write_vectored(&slices)?;
    let total = written;
    while written > 0 {
        let Some(front) = pending.front_mut() else {
            break;
        };
        if written >= front.len() {
            written -= front.len();
            pending.pop_front();
        } else {
            front.advance(written);
            written = 0;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use denc::{AddrType, AuthName, EntityAddr, EntityAddrVec, EntityType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::auth::{AuthNone, ConMode};
    use crate::banner::{Banner, FEATURE_REVISION_1};
    use crate::frame::{FrameDecoder, FrameEncoder, FrameLimits, Tag};
    use crate::frames::{
        AuthDone, AuthSignature, ControlFrame, Hello, IDENT_FLAG_LOSSY, ServerIdent,
    };

    /// A minimal msgr2 "monitor" over TCP: auth none, crc mode, echoes every message back
    /// with type + 1, then closes after `echo` messages.
    async fn serve(listener: TcpListener, me: EntityAddr, echo: usize) {
        let (mut sock, peer) = listener.accept().await.unwrap();
        let mut enc = FrameEncoder::crc();
        let mut dec = FrameDecoder::crc(FrameLimits::default());
        let mut input = BytesMut::new();
        let mut out = Vec::new();
        out.extend_from_slice(
            &Banner {
                supported: FEATURE_REVISION_1,
                required: 0,
            }
            .encode(),
        );
        let send = |cf: ControlFrame, out: &mut Vec<u8>, enc: &mut FrameEncoder| {
            let mut chunks = Vec::new();
            enc.encode(&cf.to_frame().unwrap(), &mut chunks).unwrap();
            for c in chunks {
                out.extend_from_slice(&c);
            }
        };
        send(
            ControlFrame::Hello(Hello {
                entity_type: EntityType::MON,
                peer_addr: EntityAddr::new(AddrType::MSGR2, peer, 0),
            }),
            &mut out,
            &mut enc,
        );
        sock.write_all(&out).await.unwrap();
        out.clear();
        let mut banner_seen = false;
        let mut echoed = 0;
        let mut out_seq = 0;
        loop {
            let n = sock.read_buf(&mut input).await.unwrap();
            assert!(n > 0, "client went away");
            if !banner_seen {
                let Some((_, used)) = Banner::decode(&input).unwrap() else {
                    continue;
                };
                let _ = input.split_to(used);
                banner_seen = true;
            }
            while let Some(frame) = dec.decode(&mut input).unwrap() {
                if frame.tag == Tag::MESSAGE {
                    let mut m = Message::from_frame(frame).unwrap();
                    out_seq += 1;
                    m.header.msg_type += 1;
                    m.header.ack_seq = m.header.seq;
                    m.header.seq = out_seq;
                    let mut chunks = Vec::new();
                    enc.encode(&m.to_frame(), &mut chunks).unwrap();
                    for c in chunks {
                        out.extend_from_slice(&c);
                    }
                    echoed += 1;
                    continue;
                }
                match ControlFrame::decode(&frame).unwrap().unwrap() {
                    ControlFrame::Hello(_) | ControlFrame::AuthSignature(_) => {}
                    ControlFrame::AuthRequest(_) => {
                        send(
                            ControlFrame::AuthDone(AuthDone {
                                global_id: 7,
                                con_mode: ConMode::CRC,
                                payload: Bytes::new(),
                            }),
                            &mut out,
                            &mut enc,
                        );
                        send(
                            ControlFrame::AuthSignature(AuthSignature { signature: [0; 32] }),
                            &mut out,
                            &mut enc,
                        );
                    }
                    ControlFrame::ClientIdent(_) => send(
                        ControlFrame::ServerIdent(ServerIdent {
                            addrs: EntityAddrVec(vec![me]),
                            global_id: 0,
                            global_seq: 1,
                            supported_features: denc::features::ALL,
                            required_features: 0,
                            flags: IDENT_FLAG_LOSSY,
                            cookie: 0,
                        }),
                        &mut out,
                        &mut enc,
                    ),
                    other => panic!("unexpected {other:?}"),
                }
            }
            sock.write_all(&out).await.unwrap();
            out.clear();
            if echoed == echo {
                // lossy server: just hang up
                return;
            }
        }
    }

    #[tokio::test]
    async fn drives_a_session_over_tcp() {
        // large messages go through the blocking pool both ways
        echo_session(DriverOptions::default().offload_min).await;
    }

    #[tokio::test]
    async fn drives_a_session_over_tcp_without_offloading() {
        echo_session(usize::MAX).await;
    }

    #[tokio::test]
    async fn offloads_every_frame_when_told_to() {
        echo_session(0).await;
    }

    /// Three messages (one of 8 MiB) to an echo server and back over TCP.
    async fn echo_session(offload_min: usize) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let me = EntityAddr::new(AddrType::MSGR2, listener.local_addr().unwrap(), 0);
        let server = tokio::spawn(serve(listener, me, 3));
        let config = ConnectionConfig::new(me, Some(EntityType::MON), 9, 10);
        let (handle, mut events) = spawn(
            config,
            Box::new(AuthNone::for_monitor(AuthName::client("admin"))),
            DriverOptions {
                outgoing_capacity: 1,
                offload_min,
                ..DriverOptions::default()
            },
        );
        let big = Bytes::from(vec![0x5a; 8 << 20]);
        for i in 0..3u16 {
            let data = if i == 1 { big.clone() } else { Bytes::new() };
            handle
                .send(Message::new(100 + 2 * i, 1, 1, Bytes::from_static(b"hi")).with_data(data))
                .await
                .unwrap();
        }
        let mut got = Vec::new();
        loop {
            match events.recv().await.unwrap() {
                Event::Connected(info) => assert_eq!(info.global_id, 7),
                Event::Message(m) => {
                    if m.header.msg_type == 103 {
                        assert_eq!(m.data, big);
                    }
                    got.push(m.header.msg_type);
                }
                Event::Closed(reason) => {
                    assert!(matches!(reason, CloseReason::PeerClosed), "{reason:?}");
                    break;
                }
            }
        }
        assert_eq!(got, vec![101, 103, 105]);
        assert!(events.recv().await.is_none());
        assert!(handle.is_closed());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn connect_failures_are_typed() {
        // nothing listens on this port (bound, then dropped)
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let config = ConnectionConfig::new(
            EntityAddr::new(AddrType::MSGR2, addr, 0),
            Some(EntityType::MON),
            1,
            2,
        );
        let (_handle, mut events) = spawn(
            config,
            Box::new(AuthNone::for_monitor(AuthName::client("admin"))),
            DriverOptions::default(),
        );
        match events.recv().await {
            Some(Event::Closed(CloseReason::Io(e))) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_exhausted_receive_pool_holds_the_driver_back_only_briefly() {
        use crate::frame::RecvPoolLimits;
        let pool = SharedRecvPool::new(RecvPoolLimits {
            min_frame: 1 << 10,
            max_buffers: 1,
            max_bytes: 1 << 20,
        });
        let reply = pool.take(4 << 10).freeze();
        assert!(!pool.has_room());
        // a caller that keeps its reply: the wait ends anyway (no deadlock)
        wait_for_recv_buffer(&pool).await;
        assert!(!pool.has_room());
        // a caller that drops its reply when it gets to run: the yields let it
        let consumer = tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(reply);
        });
        wait_for_recv_buffer(&pool).await;
        assert!(pool.has_room());
        consumer.await.unwrap();
    }
}
