//! Banner, HELLO, authentication, AUTH_SIGNATURE and compression negotiation
//! (ProtocolV2.cc `_handle_peer_banner*`, `handle_hello`, `send_auth_request`,
//! `handle_auth_*`, `handle_auth_signature`, `send_compression_request`).

use bytes::Bytes;
use denc::{AddrType, EntityAddr};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::{Connection, State};
use crate::auth::ConMode;
use crate::banner::{Banner, FEATURE_COMPRESSION};
use crate::compression::{CompressionAlgorithm, CompressionMode, OnwireCompression};
use crate::crypto::secure_pair;
use crate::error::Error;
use crate::frame::FrameEncoder;
use crate::frames::{AuthMore, AuthRequest, AuthSignature, ControlFrame, Hello};

type HmacSha256 = hmac::Hmac<Sha256>;

impl Connection {
    /// Parses the peer's banner. `Ok(false)` if more bytes are needed.
    pub(super) fn handle_banner(&mut self) -> Result<bool, Error> {
        let Some((peer, used)) = Banner::decode(&self.input)? else {
            return Ok(false);
        };
        let raw = self.input.split_to(used);
        if let Some(p) = &mut self.pre_auth {
            p.rx.extend_from_slice(&raw);
        }
        tracing::debug!(
            supported = peer.supported,
            required = peer.required,
            "peer banner"
        );
        self.our_banner.check_peer(&peer)?;
        self.peer_banner = Some(peer);
        self.state = State::Hello;
        if !self.config.pipeline {
            self.send_hello()?;
        }
        Ok(true)
    }

    pub(super) fn send_hello(&mut self) -> Result<(), Error> {
        self.send_control(&ControlFrame::Hello(Hello {
            entity_type: denc::EntityType::CLIENT,
            peer_addr: self.config.peer_addr,
        }))
    }

    pub(super) fn send_auth_request(&mut self) -> Result<(), Error> {
        let method = self.auth.method();
        let preferred_modes = self.auth.preferred_modes();
        let payload = self.auth.build_request()?;
        self.offered_modes.clone_from(&preferred_modes);
        self.send_control(&ControlFrame::AuthRequest(AuthRequest {
            method,
            preferred_modes,
            payload,
        }))
    }

    pub(super) fn handle_handshake_frame(&mut self, frame: ControlFrame) -> Result<(), Error> {
        match (self.state, frame) {
            (State::Hello, ControlFrame::Hello(hello)) => self.handle_hello(hello),
            (State::Auth, ControlFrame::AuthBadMethod(bad)) => {
                tracing::debug!(method = ?bad.method, result = bad.result,
                    allowed_methods = ?bad.allowed_methods, allowed_modes = ?bad.allowed_modes,
                    "auth method refused");
                self.auth.handle_bad_method(
                    bad.method,
                    bad.result,
                    &bad.allowed_methods,
                    &bad.allowed_modes,
                )?;
                self.send_auth_request()
            }
            (State::Auth, ControlFrame::AuthReplyMore(more)) => {
                let payload = self.auth.handle_reply_more(&more.payload)?;
                self.send_control(&ControlFrame::AuthRequestMore(AuthMore { payload }))
            }
            (State::Auth, ControlFrame::AuthDone(done)) => {
                self.handle_auth_done(done.global_id, done.con_mode, &done.payload)
            }
            (State::AuthSignature, ControlFrame::AuthSignature(sig)) => {
                self.handle_auth_signature(&sig.signature)
            }
            (
                State::Compression,
                ControlFrame::CompressionDone {
                    is_compress,
                    method,
                },
            ) => {
                self.handle_compression_done(is_compress, method)?;
                self.compression_pending = false;
                self.start_session()
            }
            (_, frame) => Err(self.unexpected(frame.tag())),
        }
    }

    fn handle_hello(&mut self, hello: Hello) -> Result<(), Error> {
        if let Some(expected) = self.config.peer_type {
            if hello.entity_type != expected {
                return Err(Error::PeerTypeMismatch {
                    expected,
                    got: hello.entity_type,
                });
            }
        }
        if self.my_addr.is_none() {
            // AsyncMessenger::learned_addr for an unbound client: the peer's view of our IP,
            // type ANY, port 0, our nonce
            let learned = hello.peer_addr.socket_addr().map(|mut a| {
                a.set_port(0);
                EntityAddr::new(AddrType::ANY, a, self.config.nonce)
            });
            tracing::debug!(peer_view = %hello.peer_addr, "learned our address");
            self.my_addr = learned;
        }
        self.state = State::Auth;
        if !self.config.pipeline {
            self.send_auth_request()?;
        }
        Ok(())
    }

    fn handle_auth_done(
        &mut self,
        global_id: u64,
        mode: ConMode,
        payload: &Bytes,
    ) -> Result<(), Error> {
        if !self.offered_modes.contains(&mode) {
            return Err(Error::ModeNotOffered(mode.0));
        }
        let success = self.auth.handle_done(global_id, mode, payload)?;
        self.global_id = global_id;
        self.con_mode = mode;
        self.session_key = success.session_key;
        let rx_transcript = match &mut self.pre_auth {
            Some(p) => {
                p.rx_open = false;
                std::mem::take(&mut p.rx)
            }
            None => Vec::new(),
        };
        let signature = self.sign(&rx_transcript)?;
        // the negotiated mode starts with AUTH_SIGNATURE, in both directions
        if mode == ConMode::SECURE {
            let (rx, tx) = secure_pair(success.connection_secret.expose(), true)?;
            // between frames (AUTH_DONE was the last): keeps the decoder's receive pool
            self.decoder.set_secure(rx);
            self.encoder = FrameEncoder::secure(tx);
        }
        tracing::debug!(global_id, mode = %mode, "authenticated");
        // AUTH_SIGNATURE and what follows are not part of our transcript
        let tx_transcript = self.pre_auth.take().map(|p| p.tx).unwrap_or_default();
        self.pending_tx_transcript = Some(tx_transcript);
        self.send_control(&ControlFrame::AuthSignature(AuthSignature { signature }))?;
        self.state = State::AuthSignature;
        self.compression_pending = (self.config.negotiate_compression
            || self.config.compression.mode != CompressionMode::None)
            && self
                .peer_banner
                .is_some_and(|b| b.supported & FEATURE_COMPRESSION != 0);
        if self.config.pipeline {
            if self.compression_pending {
                self.send_compression_request()?;
            }
            self.send_ident()?;
        }
        Ok(())
    }

    fn handle_auth_signature(&mut self, received: &[u8; 32]) -> Result<(), Error> {
        let transcript = self.pending_tx_transcript.take().unwrap_or_default();
        if !self.verify(&transcript, received) {
            return Err(Error::BadSignature);
        }
        tracing::trace!("peer's auth signature verified");
        if self.compression_pending {
            if !self.config.pipeline {
                self.send_compression_request()?;
            }
            self.state = State::Compression;
            Ok(())
        } else {
            self.start_session()
        }
    }

    /// ProtocolV2.cc `send_compression_request`: whether we want compression in this
    /// connection mode, and our methods, preferred first.
    fn send_compression_request(&mut self) -> Result<(), Error> {
        let settings = &self.config.compression;
        self.compression_requested = settings.wanted(self.con_mode == ConMode::SECURE);
        // Ceph sends its list even when not asking; without a mode we send none (the
        // server reads the list only when asked)
        let preferred_methods = if settings.mode == CompressionMode::None {
            Vec::new()
        } else {
            settings.method_ids()
        };
        tracing::debug!(
            is_compress = self.compression_requested,
            ?preferred_methods,
            "requesting compression"
        );
        self.send_control(&ControlFrame::CompressionRequest {
            is_compress: self.compression_requested,
            preferred_methods,
        })
    }

    /// ProtocolV2.cc `handle_compression_done`: compression is on only if both sides want
    /// it; then both directions use the server's method from the next frame on.
    fn handle_compression_done(&mut self, is_compress: bool, method: u32) -> Result<(), Error> {
        tracing::debug!(
            is_compress,
            method,
            asked = self.compression_requested,
            "compression negotiated"
        );
        if !(is_compress && self.compression_requested) {
            return Ok(());
        }
        let algorithm = CompressionAlgorithm::from_id(method)
            .filter(|a| self.config.compression.methods.contains(a))
            .ok_or(Error::CompressionMethodNotOffered(method))?;
        self.encoder.set_compression(Some(OnwireCompression {
            algorithm,
            min_size: self.config.compression.min_size,
        }));
        self.decoder.set_decompression(Some(algorithm));
        Ok(())
    }

    /// HMAC-SHA256 of `transcript` with the session key; zeros without one (auth none).
    fn sign(&self, transcript: &[u8]) -> Result<[u8; 32], Error> {
        if self.session_key.is_empty() {
            return Ok([0; 32]);
        }
        let mut mac = HmacSha256::new_from_slice(self.session_key.expose())
            .map_err(|_| Error::Encode("HMAC key rejected"))?;
        mac.update(transcript);
        Ok(mac.finalize().into_bytes().into())
    }

    /// Constant-time check of the peer's signature over what we sent.
    fn verify(&self, transcript: &[u8], received: &[u8; 32]) -> bool {
        if self.session_key.is_empty() {
            return received.iter().all(|&b| b == 0);
        }
        match HmacSha256::new_from_slice(self.session_key.expose()) {
            Ok(mut mac) => {
                mac.update(transcript);
                mac.verify_slice(received).is_ok()
            }
            Err(_) => false,
        }
    }
}
