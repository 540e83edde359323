//! The client side of a msgr2.1 connection as a sans-IO state machine.
//!
//! Inputs: [`Connection::handle_input`] (or [`Connection::recv_buffer`] +
//! [`Connection::process_received`]), [`Connection::handle_eof`],
//! [`Connection::send_message`], [`Connection::handle_timeout`], [`Connection::close`].
//! Outputs: [`Connection::poll_transmit`] (wire bytes, in order), [`Connection::poll_event`],
//! [`Connection::poll_timeout`]. Time is passed in; randomness (nonce, cookie) comes in the
//! config.
//!
//! Phases follow src/msg/async/ProtocolV2.cc (client paths): banner exchange, HELLO, auth
//! (through [`AuthClient`]), AUTH_SIGNATURE (first frame in the negotiated mode),
//! optional compression negotiation, CLIENT_IDENT / SESSION_RECONNECT, then READY.

mod handshake;
mod session;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use denc::{EntityAddr, EntityAddrVec, EntityType};

use crate::auth::{AuthClient, ConMode};
use crate::banner::Banner;
use crate::error::Error;
use crate::frame::{FrameDecoder, FrameEncoder, FrameLimits, Tag};
use crate::frames::ControlFrame;
use crate::message::Message;

/// Cap on the pre-auth transcripts (Ceph asserts below 20 MB; a real handshake is a few KiB).
const MAX_PRE_AUTH: usize = 1 << 20;
/// Receive buffer growth step when no frame size is known yet.
const READ_CHUNK: usize = 64 * 1024;

/// How to connect, and who we are.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The address we dial (sent in HELLO and CLIENT_IDENT, checked against SERVER_IDENT).
    pub peer_addr: EntityAddr,
    /// The kind of daemon we expect (checked against its HELLO); `None` accepts any.
    pub peer_type: Option<EntityType>,
    /// Our address; `None` learns it from the peer's HELLO (type ANY, port 0, our nonce), as
    /// an unbound Ceph client does.
    pub my_addr: Option<EntityAddr>,
    /// Our messenger nonce (random per client instance).
    pub nonce: u32,
    /// Our session cookie (random, non-zero).
    pub client_cookie: u64,
    /// Our global sequence for this connection attempt (a per-client counter).
    pub global_seq: u64,
    /// RADOS features we support (sent in CLIENT_IDENT). Advertise only what the callers
    /// decode: servers re-encode maps for the features we claim.
    pub features_supported: u64,
    /// RADOS features we require (MSG_ADDR2 is always added, as Ceph does).
    pub features_required: u64,
    /// Ask for a lossy session (Ceph's `lossy_client` policy for mon and OSD sessions).
    pub lossy: bool,
    /// Resume a lossless session instead of starting a new one.
    pub resume: Option<ResumeSession>,
    /// Frame size limits.
    pub limits: FrameLimits,
    /// A receive-buffer pool for large frames shared with other connections (e.g. all OSD
    /// sessions of one client); `None` gives this connection a pool of its own with
    /// `limits.recv_pool`.
    pub recv_pool: Option<crate::frame::SharedRecvPool>,
    /// Advertise msgr2 COMPRESSION and run the (Quincy+) compression negotiation even when
    /// `compression` does not ask for it (then declining). Off by default: the server
    /// skips the phase unless `compression` asks for it.
    pub negotiate_compression: bool,
    /// On-wire compression to ask for (the `ms_osd_compress*` options; default none).
    /// Ceph servers grant it to OSD peers only, so a client never gets it from a cluster.
    pub compression: crate::compression::CompressionSettings,
    /// Send HELLO and AUTH_REQUEST right behind the banner, and CLIENT_IDENT right behind
    /// AUTH_SIGNATURE, instead of waiting for the peer's turn (saves two round trips; the
    /// server reads frames in order either way).
    pub pipeline: bool,
    /// Check that SERVER_IDENT's addresses include `peer_addr` (Ceph and the kernel do).
    pub verify_peer_addr: bool,
    /// Close if the session is not READY this long after the start.
    pub handshake_timeout: Option<Duration>,
    /// Send KEEPALIVE2 this often while READY.
    pub keepalive_interval: Option<Duration>,
    /// Close if nothing arrives for this long.
    pub idle_timeout: Option<Duration>,
}

impl ConnectionConfig {
    /// Defaults for a lossy client session to `peer_addr`: all known features supported,
    /// OSDREPLYMUX required (librados' `lossy_client` policy), pipelining on, 30 s handshake
    /// timeout, keepalive every 10 s, 30 s idle timeout.
    pub fn new(
        peer_addr: EntityAddr,
        peer_type: Option<EntityType>,
        nonce: u32,
        client_cookie: u64,
    ) -> Self {
        ConnectionConfig {
            peer_addr,
            peer_type,
            my_addr: None,
            nonce,
            client_cookie,
            global_seq: 1,
            features_supported: denc::features::ALL,
            features_required: denc::features::OSDREPLYMUX,
            lossy: true,
            resume: None,
            limits: FrameLimits::default(),
            recv_pool: None,
            negotiate_compression: false,
            compression: crate::compression::CompressionSettings::default(),
            pipeline: true,
            verify_peer_addr: true,
            handshake_timeout: Some(Duration::from_secs(30)),
            keepalive_interval: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// State to resume a lossless session (SESSION_RECONNECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeSession {
    /// The server's cookie from the previous SERVER_IDENT.
    pub server_cookie: u64,
    /// Our connect sequence (incremented per reconnect).
    pub connect_seq: u64,
    /// The last message sequence we received.
    pub in_seq: u64,
    /// The last message sequence we sent.
    pub out_seq: u64,
}

/// What the connection reports to its owner.
#[derive(Debug)]
pub enum Event {
    /// The session is READY; queued messages are being sent.
    Connected(SessionInfo),
    /// A message arrived.
    Message(Message),
    /// The connection is finished; nothing more will happen. Lossy sessions are not
    /// re-established here: the caller reconnects if it wants to.
    Closed(CloseReason),
}

/// Facts about an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The server's addresses.
    pub peer_addrs: EntityAddrVec,
    /// The server's entity number (its global id).
    pub peer_global_id: i64,
    /// The server's global sequence.
    pub peer_global_seq: u64,
    /// Features both sides support (server's supported & ours).
    pub features: u64,
    /// Our global id as AUTH_DONE assigned it.
    pub global_id: u64,
    /// The negotiated connection mode.
    pub con_mode: ConMode,
    /// True if the session is lossy.
    pub lossy: bool,
    /// Our address as sent in CLIENT_IDENT.
    pub my_addr: EntityAddr,
    /// Our session cookie.
    pub client_cookie: u64,
    /// The server's session cookie (0 for lossy sessions).
    pub server_cookie: u64,
    /// Our connect sequence.
    pub connect_seq: u64,
    /// After SESSION_RECONNECT_OK: the last of our messages the server had received.
    pub resumed_at: Option<u64>,
}

/// Why a connection closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`Connection::close`] was called.
    #[error("closed locally")]
    Local,
    /// The peer closed the TCP connection between frames.
    #[error("closed by peer")]
    PeerClosed,
    /// The handshake did not finish in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing arrived for the idle timeout.
    #[error("peer idle for too long")]
    IdleTimeout,
    /// The server answered WAIT (connection race); back off and reconnect.
    #[error("server asked us to wait (connection race)")]
    Wait,
    /// A protocol, integrity or authentication failure.
    #[error(transparent)]
    Error(#[from] Error),
    /// The TCP connect did not finish in time (reported by the driver).
    #[error("connect timed out")]
    ConnectTimeout,
    /// The socket failed (reported by the driver).
    #[error("socket error")]
    Io(#[source] std::io::Error),
}

/// Phases of the client handshake and session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the peer's banner.
    Banner,
    /// Waiting for the peer's HELLO.
    Hello,
    /// AUTH_REQUEST(_MORE) sent; waiting for AUTH_REPLY_MORE / AUTH_DONE / AUTH_BAD_METHOD.
    Auth,
    /// AUTH_SIGNATURE sent; waiting for the peer's.
    AuthSignature,
    /// COMPRESSION_REQUEST sent; waiting for COMPRESSION_DONE.
    Compression,
    /// CLIENT_IDENT sent; waiting for SERVER_IDENT.
    SessionConnecting,
    /// SESSION_RECONNECT sent; waiting for SESSION_RECONNECT_OK (or RETRY / RESET).
    SessionReconnecting,
    /// Exchanging messages.
    Ready,
    /// Finished.
    Closed,
}

impl State {
    fn describe(self) -> &'static str {
        match self {
            State::Banner => "waiting for the banner",
            State::Hello => "waiting for HELLO",
            State::Auth => "authenticating",
            State::AuthSignature => "waiting for AUTH_SIGNATURE",
            State::Compression => "negotiating compression",
            State::SessionConnecting => "waiting for SERVER_IDENT",
            State::SessionReconnecting => "reconnecting the session",
            State::Ready => "ready",
            State::Closed => "closed",
        }
    }
}

/// The byte transcripts the pre-auth signatures cover.
#[derive(Default)]
struct PreAuth {
    /// Everything received through AUTH_DONE.
    rx: Vec<u8>,
    /// Everything sent through the last AUTH_REQUEST(_MORE).
    tx: Vec<u8>,
    /// False once AUTH_DONE has been received (rx is then no longer extended).
    rx_open: bool,
}

/// A client msgr2.1 connection. See the module docs.
pub struct Connection {
    config: ConnectionConfig,
    auth: Box<dyn AuthClient>,
    state: State,
    our_banner: Banner,
    peer_banner: Option<Banner>,

    input: BytesMut,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    tx: VecDeque<Bytes>,
    tx_bytes: usize,
    out_queue: VecDeque<Message>,
    events: VecDeque<Event>,

    pre_auth: Option<PreAuth>,
    /// What we sent before AUTH_DONE, kept until the peer's AUTH_SIGNATURE is checked.
    pending_tx_transcript: Option<Vec<u8>>,
    offered_modes: Vec<ConMode>,
    session_key: cephx::Secret,
    global_id: u64,
    con_mode: ConMode,
    my_addr: Option<EntityAddr>,
    ident_sent: bool,
    compression_pending: bool,
    /// Whether our COMPRESSION_REQUEST asked for compression.
    compression_requested: bool,

    global_seq: u64,
    connect_seq: u64,
    server_cookie: u64,
    out_seq: u64,
    in_seq: u64,
    in_seq_acked: u64,
    peer_acked_seq: u64,
    lossy: bool,
    session: Option<SessionInfo>,

    started: Instant,
    last_rx: Instant,
    next_keepalive: Option<Instant>,
    last_keepalive_ack: Option<denc::UTime>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.config.peer_addr)
            .field("state", &self.state)
            .field("out_seq", &self.out_seq)
            .field("in_seq", &self.in_seq)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts a connection: our banner (and, when pipelining, HELLO and AUTH_REQUEST) are
    /// ready to transmit at once.
    pub fn new(config: ConnectionConfig, auth: Box<dyn AuthClient>, now: Instant) -> Self {
        let mut supported = crate::banner::FEATURE_REVISION_1;
        if config.negotiate_compression
            || config.compression.mode != crate::compression::CompressionMode::None
        {
            supported |= crate::banner::FEATURE_COMPRESSION;
        }
        let our_banner = Banner {
            supported,
            // we implement msgr2.1 only (as the kernel does)
            required: crate::banner::FEATURE_REVISION_1,
        };
        let (connect_seq, server_cookie, in_seq, out_seq) = match config.resume {
            Some(r) => (r.connect_seq, r.server_cookie, r.in_seq, r.out_seq),
            None => (0, 0, 0, 0),
        };
        let mut decoder = FrameDecoder::crc(config.limits);
        if let Some(pool) = &config.recv_pool {
            decoder.use_recv_pool(pool.clone());
        }
        let mut conn = Connection {
            decoder,
            global_seq: config.global_seq,
            lossy: config.lossy,
            my_addr: config.my_addr,
            auth,
            state: State::Banner,
            our_banner,
            peer_banner: None,
            input: BytesMut::new(),
            encoder: FrameEncoder::crc(),
            tx: VecDeque::new(),
            tx_bytes: 0,
            out_queue: VecDeque::new(),
            events: VecDeque::new(),
            pre_auth: Some(PreAuth {
                rx_open: true,
                ..PreAuth::default()
            }),
            pending_tx_transcript: None,
            offered_modes: Vec::new(),
            session_key: cephx::Secret::default(),
            global_id: 0,
            con_mode: ConMode::UNKNOWN,
            ident_sent: false,
            compression_pending: false,
            compression_requested: false,
            connect_seq,
            server_cookie,
            out_seq,
            in_seq,
            in_seq_acked: in_seq,
            peer_acked_seq: 0,
            session: None,
            started: now,
            last_rx: now,
            next_keepalive: None,
            last_keepalive_ack: None,
            config,
        };
        let banner = conn.our_banner.encode();
        conn.push_raw(Bytes::copy_from_slice(&banner));
        if conn.config.pipeline {
            let result = conn.send_hello().and_then(|()| conn.send_auth_request());
            if let Err(e) = result {
                conn.fail(e);
            }
        }
        conn
    }

    /// Copies received bytes in and processes them.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.state == State::Closed || data.is_empty() {
            return;
        }
        self.input.extend_from_slice(data);
        self.process_received(now);
    }

    /// The receive buffer, with room reserved for what the protocol expects next: read from
    /// the socket straight into it (e.g. `AsyncReadExt::read_buf`), then call
    /// [`Connection::process_received`]. Saves a copy compared to `handle_input`.
    pub fn recv_buffer(&mut self) -> &mut BytesMut {
        if self.state != State::Banner && self.decoder.receiving_large(&self.input) {
            // the rest of a large frame goes straight into its pooled buffer
            return self.decoder.recv_target(&mut self.input);
        }
        let want = if self.state == State::Banner {
            crate::banner::LEN
        } else {
            self.decoder.bytes_wanted(&self.input)
        };
        // at least one read chunk so small frames arrive in batches, but never reserve a
        // peer-declared size beyond what the decoder has checked against the limits
        self.input.reserve(want.max(READ_CHUNK));
        &mut self.input
    }

    /// Processes bytes placed in [`Connection::recv_buffer`].
    pub fn process_received(&mut self, now: Instant) {
        if self.state == State::Closed {
            self.input.clear();
            self.decoder.discard_partial();
            return;
        }
        self.last_rx = now;
        if let Err(e) = self.process() {
            self.fail(e);
        }
    }

    /// The peer closed its side (read returned 0).
    pub fn handle_eof(&mut self) {
        if self.state == State::Closed {
            return;
        }
        let buffered = self.decoder.buffered(&self.input);
        if buffered > 0 || self.decoder.is_mid_frame(&self.input) {
            self.fail(Error::Truncated { buffered });
        } else {
            self.finish(CloseReason::PeerClosed);
        }
    }

    /// Queues a message. It is sent once the session is READY, with the next sequence
    /// number. Returns the message if the connection is closed.
    pub fn send_message(&mut self, message: Message) -> Result<(), Box<Message>> {
        if self.state == State::Closed {
            return Err(Box::new(message));
        }
        self.out_queue.push_back(message);
        Ok(())
    }

    /// Queues a KEEPALIVE2 now (only while READY; the timer also sends them).
    pub fn send_keepalive(&mut self, now: Instant) {
        if self.state == State::Ready {
            let stamp = self.stamp(now);
            if let Err(e) = self.send_control(&ControlFrame::Keepalive2(stamp)) {
                self.fail(e);
            }
        }
    }

    /// Closes the connection locally: queued data is dropped, `Closed(Local)` is reported.
    pub fn close(&mut self) {
        if self.state != State::Closed {
            self.finish(CloseReason::Local);
        }
    }

    /// The next chunk of bytes to write, in order. Messages are encoded here, one at a time,
    /// so a caller that stops pulling leaves them queued (backpressure).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.tx.pop_front() {
                self.tx_bytes -= chunk.len();
                return Some(chunk);
            }
            if self.state != State::Ready {
                return None;
            }
            let result = if let Some(message) = self.out_queue.pop_front() {
                self.encode_message(message)
            } else if self.in_seq > self.in_seq_acked && !self.lossy {
                self.send_ack()
            } else {
                return None;
            };
            if let Err(e) = result {
                self.fail(e);
                return None;
            }
        }
    }

    /// True if [`Connection::poll_transmit`] has something to give.
    pub fn wants_transmit(&self) -> bool {
        !self.tx.is_empty()
            || (self.state == State::Ready
                && (!self.out_queue.is_empty() || (self.in_seq > self.in_seq_acked && !self.lossy)))
    }

    /// Encoded bytes waiting in [`Connection::poll_transmit`] (not counting queued
    /// messages, which are encoded lazily).
    pub fn pending_transmit_bytes(&self) -> usize {
        self.tx_bytes
    }

    /// Messages queued but not yet encoded.
    pub fn queued_messages(&self) -> usize {
        self.out_queue.len()
    }

    /// The payload length (front + middle + data) of the message the next
    /// [`Connection::poll_transmit`] call would encode, if that call would encode one: the
    /// session is READY and no encoded bytes are waiting. A driver can run that call off
    /// its thread when the message is large (its crc or encryption is the cost).
    pub fn next_message_len(&self) -> Option<usize> {
        if self.state != State::Ready || !self.tx.is_empty() {
            return None;
        }
        self.out_queue.front().map(Message::payload_len)
    }

    /// True while a large frame is being received straight into its own (pooled) buffer
    /// (see [`Connection::recv_buffer`]); the read that makes this false completed it, and
    /// the next [`Connection::process_received`] checks and decodes it.
    pub fn receiving_large_frame(&self) -> bool {
        self.state != State::Banner
            && self.state != State::Closed
            && self.decoder.receiving_large(&self.input)
    }

    /// What the receive-buffer pool for large frames has done so far.
    pub fn recv_pool_stats(&self) -> crate::frame::RecvPoolStats {
        self.decoder.pool_stats()
    }

    /// How many frames this connection has received into pooled buffers (the driver gives
    /// the receivers a chance to drop replies after each, see [`SharedRecvPool::has_room`]).
    ///
    /// [`SharedRecvPool::has_room`]: crate::frame::SharedRecvPool::has_room
    pub fn pooled_frames_received(&self) -> u64 {
        self.decoder.pooled_frames()
    }

    /// The pool large frames are received into (shared, or this connection's own).
    pub fn recv_pool(&self) -> &crate::frame::SharedRecvPool {
        self.decoder.recv_pool()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let mut deadline: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                deadline = Some(deadline.map_or(t, |d| d.min(t)));
            }
        };
        if self.state != State::Ready {
            consider(self.config.handshake_timeout.map(|d| self.started + d));
        }
        consider(self.config.idle_timeout.map(|d| self.last_rx + d));
        if self.state == State::Ready {
            consider(self.next_keepalive);
        }
        deadline
    }

    /// Fires whatever timers are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.state != State::Ready
            && self
                .config
                .handshake_timeout
                .is_some_and(|d| now >= self.started + d)
        {
            self.finish(CloseReason::HandshakeTimeout);
            return;
        }
        if self
            .config
            .idle_timeout
            .is_some_and(|d| now >= self.last_rx + d)
        {
            self.finish(CloseReason::IdleTimeout);
            return;
        }
        if self.state == State::Ready && self.next_keepalive.is_some_and(|t| now >= t) {
            self.send_keepalive(now);
            self.next_keepalive = self.config.keepalive_interval.map(|d| now + d);
        }
    }

    /// True once the session is READY (and until it closes).
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The established session, once READY.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.session.as_ref()
    }

    /// The on-wire compression COMPRESSION_DONE turned on (both directions), if any.
    pub fn compression(&self) -> Option<crate::compression::CompressionAlgorithm> {
        self.encoder.compression().map(|c| c.algorithm)
    }

    /// The config this connection runs with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Last message sequence received and last sent (for a later [`ResumeSession`]).
    pub fn seqs(&self) -> (u64, u64) {
        (self.in_seq, self.out_seq)
    }

    /// Highest of our sequences the peer acknowledged.
    pub fn peer_acked_seq(&self) -> u64 {
        self.peer_acked_seq
    }

    /// The timestamp of the last KEEPALIVE2_ACK (ours, echoed: time since the start).
    pub fn last_keepalive_ack(&self) -> Option<Duration> {
        self.last_keepalive_ack.map(|t| t.as_duration())
    }

    // ---- internals shared by the phases ----

    /// Runs the input through the current phase until more bytes are needed.
    fn process(&mut self) -> Result<(), Error> {
        loop {
            match self.state {
                State::Closed => return Ok(()),
                State::Banner => {
                    if !self.handle_banner()? {
                        return Ok(());
                    }
                }
                _ => {
                    let capture = self
                        .pre_auth
                        .as_mut()
                        .filter(|p| p.rx_open)
                        .map(|p| &mut p.rx);
                    let Some(frame) = self.decoder.decode_capturing(&mut self.input, capture)?
                    else {
                        return Ok(());
                    };
                    self.check_pre_auth_size()?;
                    tracing::trace!(tag = %frame.tag, len = frame.payload_len(), "frame received");
                    if frame.tag == Tag::MESSAGE {
                        self.handle_message_frame(frame)?;
                    } else {
                        let Some(control) = ControlFrame::decode(&frame)? else {
                            return Err(Error::UnknownTag(frame.tag.0));
                        };
                        self.handle_control(control)?;
                    }
                }
            }
        }
    }

    fn handle_control(&mut self, frame: ControlFrame) -> Result<(), Error> {
        match self.state {
            State::Hello | State::Auth | State::AuthSignature | State::Compression => {
                self.handle_handshake_frame(frame)
            }
            State::SessionConnecting | State::SessionReconnecting => {
                self.handle_session_setup_frame(frame)
            }
            State::Ready => self.handle_ready_frame(frame),
            State::Banner | State::Closed => Err(self.unexpected(frame.tag())),
        }
    }

    fn unexpected(&self, tag: Tag) -> Error {
        Error::UnexpectedFrame {
            tag,
            state: self.state.describe(),
        }
    }

    fn check_pre_auth_size(&self) -> Result<(), Error> {
        match &self.pre_auth {
            Some(p) if p.rx.len() > MAX_PRE_AUTH || p.tx.len() > MAX_PRE_AUTH => {
                Err(Error::PreAuthTooLarge(MAX_PRE_AUTH))
            }
            _ => Ok(()),
        }
    }

    /// Queues raw bytes (the banner), recording them for the pre-auth signature.
    fn push_raw(&mut self, chunk: Bytes) {
        if let Some(p) = &mut self.pre_auth {
            p.tx.extend_from_slice(&chunk);
        }
        self.tx_bytes += chunk.len();
        self.tx.push_back(chunk);
    }

    /// Encodes and queues a control frame (recorded for the signature while pre-auth).
    fn send_control(&mut self, frame: &ControlFrame) -> Result<(), Error> {
        tracing::trace!(tag = %frame.tag(), "sending frame");
        let mut chunks = Vec::with_capacity(2);
        self.encoder.encode(&frame.to_frame()?, &mut chunks)?;
        for chunk in chunks {
            self.push_raw(chunk);
        }
        Ok(())
    }

    /// Our keepalive timestamp: time since the connection started (only we interpret it).
    fn stamp(&self, now: Instant) -> denc::UTime {
        let d = now.saturating_duration_since(self.started);
        denc::UTime::new(
            u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
            d.subsec_nanos(),
        )
    }

    fn fail(&mut self, error: Error) {
        tracing::debug!(peer = %self.config.peer_addr, %error, "connection failed");
        self.finish(CloseReason::Error(error));
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.tx.clear();
        self.tx_bytes = 0;
        self.out_queue.clear();
        self.input.clear();
        self.decoder.discard_partial();
        self.pre_auth = None;
        self.pending_tx_transcript = None;
        self.session_key = cephx::Secret::default();
        self.events.push_back(Event::Closed(reason));
    }
}
