//! Typed control frames: one struct per tag, each with its payload codec
//! (src/msg/async/frames_v2.h, the `ControlFrame` subclasses).
//!
//! Payload fields are encoded back to back with Ceph's denc; `std::vector<uint32_t>` is a
//! le32 count and elements; addresses use the encoding every msgr2 peer understands
//! (`msgr2_frame_assumed` = MSG_ADDR2 | SERVER_NAUTILUS). Like Ceph, decoding ignores bytes
//! after the last field (newer peers may append).

use bytes::Bytes;
use denc::{EntityAddr, EntityAddrVec, EntityType, Reader, UTime, Writer, features};

use crate::auth::{AuthMethod, ConMode};
use crate::error::Error;
use crate::frame::{Frame, Tag};

/// Features assumed for encoding frame payloads (frames_v2.h `msgr2_frame_assumed`).
pub const FRAME_ASSUMED_FEATURES: u64 = features::MSG_ADDR2 | features::SERVER_NAUTILUS;

/// `CEPH_MSG_CONNECT_LOSSY` in the ident flags.
pub const IDENT_FLAG_LOSSY: u64 = 1;

/// HELLO: our entity type and the peer's address as we see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Sender's entity type.
    pub entity_type: EntityType,
    /// The receiver's address as the sender sees it.
    pub peer_addr: EntityAddr,
}

/// AUTH_REQUEST: method, preferred connection modes, method payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// Auth method.
    pub method: AuthMethod,
    /// Connection modes in order of preference.
    pub preferred_modes: Vec<ConMode>,
    /// Method-specific payload.
    pub payload: Bytes,
}

/// AUTH_BAD_METHOD: the server refuses the method or the modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthBadMethod {
    /// The method we tried.
    pub method: AuthMethod,
    /// Negative errno.
    pub result: i32,
    /// Methods the server allows.
    pub allowed_methods: Vec<AuthMethod>,
    /// Modes the server allows.
    pub allowed_modes: Vec<ConMode>,
}

/// AUTH_REPLY_MORE (server) and AUTH_REQUEST_MORE (client): a method payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMore {
    /// Method-specific payload.
    pub payload: Bytes,
}

/// AUTH_DONE: authentication succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDone {
    /// Our global id.
    pub global_id: u64,
    /// The connection mode the server chose.
    pub con_mode: ConMode,
    /// Method-specific payload.
    pub payload: Bytes,
}

/// AUTH_SIGNATURE: HMAC-SHA256 of the peer's pre-auth bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSignature {
    /// The 32-byte digest.
    pub signature: [u8; 32],
}

/// CLIENT_IDENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdent {
    /// Our addresses.
    pub addrs: EntityAddrVec,
    /// The address we dialled.
    pub target_addr: EntityAddr,
    /// Our global id.
    pub global_id: i64,
    /// Our global sequence.
    pub global_seq: u64,
    /// RADOS features we support.
    pub supported_features: u64,
    /// RADOS features we require.
    pub required_features: u64,
    /// `IDENT_FLAG_LOSSY`.
    pub flags: u64,
    /// Our session cookie.
    pub cookie: u64,
}

/// SERVER_IDENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdent {
    /// The server's addresses.
    pub addrs: EntityAddrVec,
    /// The server's global id (its entity number).
    pub global_id: i64,
    /// The server's global sequence.
    pub global_seq: u64,
    /// RADOS features it supports.
    pub supported_features: u64,
    /// RADOS features it requires.
    pub required_features: u64,
    /// `IDENT_FLAG_LOSSY` if the session is lossy.
    pub flags: u64,
    /// The server's session cookie (0 when lossy).
    pub cookie: u64,
}

/// SESSION_RECONNECT: resume a lossless session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReconnect {
    /// Our addresses.
    pub addrs: EntityAddrVec,
    /// Our session cookie.
    pub client_cookie: u64,
    /// The server's session cookie.
    pub server_cookie: u64,
    /// Our global sequence.
    pub global_seq: u64,
    /// Our connect sequence.
    pub connect_seq: u64,
    /// The last message sequence we received.
    pub msg_seq: u64,
}

/// Every control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlFrame {
    /// HELLO.
    Hello(Hello),
    /// AUTH_REQUEST.
    AuthRequest(AuthRequest),
    /// AUTH_BAD_METHOD.
    AuthBadMethod(AuthBadMethod),
    /// AUTH_REPLY_MORE.
    AuthReplyMore(AuthMore),
    /// AUTH_REQUEST_MORE.
    AuthRequestMore(AuthMore),
    /// AUTH_DONE.
    AuthDone(AuthDone),
    /// AUTH_SIGNATURE.
    AuthSignature(AuthSignature),
    /// CLIENT_IDENT.
    ClientIdent(ClientIdent),
    /// SERVER_IDENT.
    ServerIdent(ServerIdent),
    /// IDENT_MISSING_FEATURES: the features the server requires that we lack.
    IdentMissingFeatures(u64),
    /// SESSION_RECONNECT.
    SessionReconnect(SessionReconnect),
    /// SESSION_RESET: `full` resets everything.
    SessionReset(bool),
    /// SESSION_RETRY: the server's connect sequence.
    SessionRetry(u64),
    /// SESSION_RETRY_GLOBAL: the server's global sequence.
    SessionRetryGlobal(u64),
    /// SESSION_RECONNECT_OK: the last message sequence the server received.
    SessionReconnectOk(u64),
    /// WAIT: connection race, back off.
    Wait,
    /// KEEPALIVE2 with the sender's timestamp.
    Keepalive2(UTime),
    /// KEEPALIVE2_ACK echoing the timestamp.
    Keepalive2Ack(UTime),
    /// ACK: messages up to this sequence were received.
    Ack(u64),
    /// COMPRESSION_REQUEST: whether we want compression and the methods we support.
    CompressionRequest {
        /// Compression wanted.
        is_compress: bool,
        /// Methods in order of preference.
        preferred_methods: Vec<u32>,
    },
    /// COMPRESSION_DONE: the server's decision.
    CompressionDone {
        /// Compression on.
        is_compress: bool,
        /// Chosen method.
        method: u32,
    },
}

impl ControlFrame {
    /// The frame's tag.
    pub fn tag(&self) -> Tag {
        match self {
            ControlFrame::Hello(_) => Tag::HELLO,
            ControlFrame::AuthRequest(_) => Tag::AUTH_REQUEST,
            ControlFrame::AuthBadMethod(_) => Tag::AUTH_BAD_METHOD,
            ControlFrame::AuthReplyMore(_) => Tag::AUTH_REPLY_MORE,
            ControlFrame::AuthRequestMore(_) => Tag::AUTH_REQUEST_MORE,
            ControlFrame::AuthDone(_) => Tag::AUTH_DONE,
            ControlFrame::AuthSignature(_) => Tag::AUTH_SIGNATURE,
            ControlFrame::ClientIdent(_) => Tag::CLIENT_IDENT,
            ControlFrame::ServerIdent(_) => Tag::SERVER_IDENT,
            ControlFrame::IdentMissingFeatures(_) => Tag::IDENT_MISSING_FEATURES,
            ControlFrame::SessionReconnect(_) => Tag::SESSION_RECONNECT,
            ControlFrame::SessionReset(_) => Tag::SESSION_RESET,
            ControlFrame::SessionRetry(_) => Tag::SESSION_RETRY,
            ControlFrame::SessionRetryGlobal(_) => Tag::SESSION_RETRY_GLOBAL,
            ControlFrame::SessionReconnectOk(_) => Tag::SESSION_RECONNECT_OK,
            ControlFrame::Wait => Tag::WAIT,
            ControlFrame::Keepalive2(_) => Tag::KEEPALIVE2,
            ControlFrame::Keepalive2Ack(_) => Tag::KEEPALIVE2_ACK,
            ControlFrame::Ack(_) => Tag::ACK,
            ControlFrame::CompressionRequest { .. } => Tag::COMPRESSION_REQUEST,
            ControlFrame::CompressionDone { .. } => Tag::COMPRESSION_DONE,
        }
    }

    /// The frame's payload segment.
    pub fn encode_payload(&self) -> Result<Bytes, Error> {
        let mut w = Writer::with_features(FRAME_ASSUMED_FEATURES);
        match self {
            ControlFrame::Hello(h) => {
                w.put_u8(h.entity_type.0);
                w.put(&h.peer_addr);
            }
            ControlFrame::AuthRequest(a) => {
                w.put_u32(a.method.0);
                put_u32s(&mut w, a.preferred_modes.iter().map(|m| m.0));
                w.put_length_prefixed(&a.payload);
            }
            ControlFrame::AuthBadMethod(a) => {
                w.put_u32(a.method.0);
                w.put_i32(a.result);
                put_u32s(&mut w, a.allowed_methods.iter().map(|m| m.0));
                put_u32s(&mut w, a.allowed_modes.iter().map(|m| m.0));
            }
            ControlFrame::AuthReplyMore(a) | ControlFrame::AuthRequestMore(a) => {
                w.put_length_prefixed(&a.payload);
            }
            ControlFrame::AuthDone(a) => {
                w.put_u64(a.global_id);
                w.put_u32(a.con_mode.0);
                w.put_length_prefixed(&a.payload);
            }
            ControlFrame::AuthSignature(s) => w.put_bytes(&s.signature),
            ControlFrame::ClientIdent(c) => {
                w.put(&c.addrs);
                w.put(&c.target_addr);
                w.put_i64(c.global_id);
                for v in [
                    c.global_seq,
                    c.supported_features,
                    c.required_features,
                    c.flags,
                    c.cookie,
                ] {
                    w.put_u64(v);
                }
            }
            ControlFrame::ServerIdent(s) => {
                w.put(&s.addrs);
                w.put_i64(s.global_id);
                for v in [
                    s.global_seq,
                    s.supported_features,
                    s.required_features,
                    s.flags,
                    s.cookie,
                ] {
                    w.put_u64(v);
                }
            }
            ControlFrame::SessionReconnect(r) => {
                w.put(&r.addrs);
                for v in [
                    r.client_cookie,
                    r.server_cookie,
                    r.global_seq,
                    r.connect_seq,
                    r.msg_seq,
                ] {
                    w.put_u64(v);
                }
            }
            ControlFrame::SessionReset(full) => w.put_bool(*full),
            ControlFrame::IdentMissingFeatures(v)
            | ControlFrame::SessionRetry(v)
            | ControlFrame::SessionRetryGlobal(v)
            | ControlFrame::SessionReconnectOk(v)
            | ControlFrame::Ack(v) => w.put_u64(*v),
            ControlFrame::Wait => {}
            ControlFrame::Keepalive2(t) | ControlFrame::Keepalive2Ack(t) => w.put(t),
            ControlFrame::CompressionRequest {
                is_compress,
                preferred_methods,
            } => {
                w.put_bool(*is_compress);
                put_u32s(&mut w, preferred_methods.iter().copied());
            }
            ControlFrame::CompressionDone {
                is_compress,
                method,
            } => {
                w.put_bool(*is_compress);
                w.put_u32(*method);
            }
        }
        Ok(Bytes::from(w.finish()?))
    }

    /// The whole frame.
    pub fn to_frame(&self) -> Result<Frame, Error> {
        Ok(Frame::control(self.tag(), self.encode_payload()?))
    }

    /// Decodes a control frame. `Ok(None)` for MESSAGE and unknown tags (the caller decides).
    pub fn decode(frame: &Frame) -> Result<Option<ControlFrame>, Error> {
        let tag = frame.tag;
        if tag == Tag::MESSAGE || tag.name().is_none() {
            return Ok(None);
        }
        if frame.num_segments() != 1 {
            return Err(Error::MalformedFrame {
                tag,
                detail: "control frame with more than one segment",
            });
        }
        let mut r = Reader::new(&frame.segments[0]);
        decode_payload(tag, &mut r, &frame.segments[0])
            .map_err(|source| Error::BadPayload { tag, source })
    }
}

fn put_u32s(w: &mut Writer, values: impl ExactSizeIterator<Item = u32>) {
    w.put_len(values.len());
    for v in values {
        w.put_u32(v);
    }
}

fn get_u32s(r: &mut Reader<'_>) -> denc::Result<Vec<u32>> {
    let n = r.count(4)?;
    (0..n).map(|_| r.u32()).collect()
}

/// A bufferlist payload as a slice of the frame's buffer (no copy).
fn get_blob(r: &mut Reader<'_>, whole: &Bytes) -> denc::Result<Bytes> {
    let blob = r.length_prefixed()?;
    Ok(whole.slice_ref(blob))
}

fn decode_payload(
    tag: Tag,
    r: &mut Reader<'_>,
    whole: &Bytes,
) -> denc::Result<Option<ControlFrame>> {
    let f = match tag {
        Tag::HELLO => ControlFrame::Hello(Hello {
            entity_type: EntityType(r.u8()?),
            peer_addr: r.decode()?,
        }),
        Tag::AUTH_REQUEST => ControlFrame::AuthRequest(AuthRequest {
            method: AuthMethod(r.u32()?),
            preferred_modes: get_u32s(r)?.into_iter().map(ConMode).collect(),
            payload: get_blob(r, whole)?,
        }),
        Tag::AUTH_BAD_METHOD => ControlFrame::AuthBadMethod(AuthBadMethod {
            method: AuthMethod(r.u32()?),
            result: r.i32()?,
            allowed_methods: get_u32s(r)?.into_iter().map(AuthMethod).collect(),
            allowed_modes: get_u32s(r)?.into_iter().map(ConMode).collect(),
        }),
        Tag::AUTH_REPLY_MORE => ControlFrame::AuthReplyMore(AuthMore {
            payload: get_blob(r, whole)?,
        }),
        Tag::AUTH_REQUEST_MORE => ControlFrame::AuthRequestMore(AuthMore {
            payload: get_blob(r, whole)?,
        }),
        Tag::AUTH_DONE => ControlFrame::AuthDone(AuthDone {
            global_id: r.u64()?,
            con_mode: ConMode(r.u32()?),
            payload: get_blob(r, whole)?,
        }),
        Tag::AUTH_SIGNATURE => ControlFrame::AuthSignature(AuthSignature {
            signature: r.array()?,
        }),
        Tag::CLIENT_IDENT => ControlFrame::ClientIdent(ClientIdent {
            addrs: r.decode()?,
            target_addr: r.decode()?,
            global_id: r.i64()?,
            global_seq: r.u64()?,
            supported_features: r.u64()?,
            required_features: r.u64()?,
            flags: r.u64()?,
            cookie: r.u64()?,
        }),
        Tag::SERVER_IDENT => ControlFrame::ServerIdent(ServerIdent {
            addrs: r.decode()?,
            global_id: r.i64()?,
            global_seq: r.u64()?,
            supported_features: r.u64()?,
            required_features: r.u64()?,
            flags: r.u64()?,
            cookie: r.u64()?,
        }),
        Tag::IDENT_MISSING_FEATURES => ControlFrame::IdentMissingFeatures(r.u64()?),
        Tag::SESSION_RECONNECT => ControlFrame::SessionReconnect(SessionReconnect {
            addrs: r.decode()?,
            client_cookie: r.u64()?,
            server_cookie: r.u64()?,
            global_seq: r.u64()?,
            connect_seq: r.u64()?,
            msg_seq: r.u64()?,
        }),
        Tag::SESSION_RESET => ControlFrame::SessionReset(r.bool()?),
        Tag::SESSION_RETRY => ControlFrame::SessionRetry(r.u64()?),
        Tag::SESSION_RETRY_GLOBAL => ControlFrame::SessionRetryGlobal(r.u64()?),
        Tag::SESSION_RECONNECT_OK => ControlFrame::SessionReconnectOk(r.u64()?),
        Tag::WAIT => ControlFrame::Wait,
        Tag::KEEPALIVE2 => ControlFrame::Keepalive2(r.decode()?),
        Tag::KEEPALIVE2_ACK => ControlFrame::Keepalive2Ack(r.decode()?),
        Tag::ACK => ControlFrame::Ack(r.u64()?),
        Tag::COMPRESSION_REQUEST => ControlFrame::CompressionRequest {
            is_compress: r.bool()?,
            preferred_methods: get_u32s(r)?,
        },
        Tag::COMPRESSION_DONE => ControlFrame::CompressionDone {
            is_compress: r.bool()?,
            method: r.u32()?,
        },
        _ => return Ok(None),
    };
    Ok(Some(f))
}

#[cfg(test)]
pub(crate) mod tests;
