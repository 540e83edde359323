//! Session setup (CLIENT_IDENT / SESSION_RECONNECT and their answers) and the READY phase:
//! messages, acks, keepalives (ProtocolV2.cc `send_client_ident`, `send_reconnect`,
//! `handle_server_ident`, `handle_session_*`, `handle_wait`, `write_message`,
//! `handle_message`, `handle_keepalive2*`, `handle_message_ack`).

use denc::{AddrType, EntityAddr, EntityAddrVec};

use super::{CloseReason, Connection, Event, SessionInfo, State};
use crate::error::Error;
use crate::frame::{Frame, Tag};
use crate::frames::{ClientIdent, ControlFrame, IDENT_FLAG_LOSSY, ServerIdent, SessionReconnect};
use crate::message::Message;

impl Connection {
    /// After the signatures (and compression): identify, unless already pipelined.
    pub(super) fn start_session(&mut self) -> Result<(), Error> {
        if !self.ident_sent {
            self.send_ident()?;
        }
        self.state = if self.server_cookie != 0 {
            State::SessionReconnecting
        } else {
            State::SessionConnecting
        };
        Ok(())
    }

    /// Sends CLIENT_IDENT for a new session, SESSION_RECONNECT to resume one.
    pub(super) fn send_ident(&mut self) -> Result<(), Error> {
        self.ident_sent = true;
        let addrs = EntityAddrVec(vec![self.our_addr()]);
        let frame = if self.server_cookie == 0 {
            ControlFrame::ClientIdent(ClientIdent {
                addrs,
                target_addr: self.config.peer_addr,
                // the wire field is signed (int64_t); global ids fit
                global_id: self.global_id as i64,
                global_seq: self.global_seq,
                supported_features: self.config.features_supported,
                required_features: self.config.features_required | denc::features::MSG_ADDR2,
                flags: if self.lossy { IDENT_FLAG_LOSSY } else { 0 },
                cookie: self.config.client_cookie,
            })
        } else {
            ControlFrame::SessionReconnect(SessionReconnect {
                addrs,
                client_cookie: self.config.client_cookie,
                server_cookie: self.server_cookie,
                global_seq: self.global_seq,
                connect_seq: self.connect_seq,
                msg_seq: self.in_seq,
            })
        };
        self.send_control(&frame)
    }

    fn our_addr(&self) -> EntityAddr {
        self.my_addr.unwrap_or_else(|| {
            let mut a = EntityAddr::default();
            a.addr_type = AddrType::ANY;
            a.nonce = self.config.nonce;
            a
        })
    }

    pub(super) fn handle_session_setup_frame(&mut self, frame: ControlFrame) -> Result<(), Error> {
        match (self.state, frame) {
            (_, ControlFrame::Wait) => {
                // connection race; Ceph backs off and retries, we leave that to the caller
                self.finish(CloseReason::Wait);
                Ok(())
            }
            (State::SessionConnecting, ControlFrame::ServerIdent(ident)) => {
                self.handle_server_ident(ident)
            }
            (State::SessionConnecting, ControlFrame::IdentMissingFeatures(missing)) => {
                Err(Error::IdentMissingFeatures(missing))
            }
            (State::SessionReconnecting, ControlFrame::SessionReconnectOk(msg_seq)) => {
                tracing::debug!(msg_seq, "session resumed");
                self.peer_acked_seq = self.peer_acked_seq.max(msg_seq);
                let info = self.session_info(self.resumed_info(), Some(msg_seq));
                self.become_ready(info);
                Ok(())
            }
            (State::SessionReconnecting, ControlFrame::SessionRetry(connect_seq)) => {
                self.connect_seq = connect_seq.wrapping_add(1);
                tracing::debug!(connect_seq = self.connect_seq, "session retry");
                self.send_ident()
            }
            (State::SessionReconnecting, ControlFrame::SessionRetryGlobal(global_seq)) => {
                // AsyncMessenger::get_global_seq(old): max(ours, old) + 1
                self.global_seq = self.global_seq.max(global_seq).wrapping_add(1);
                tracing::debug!(global_seq = self.global_seq, "session retry global");
                self.send_ident()
            }
            (State::SessionReconnecting, ControlFrame::SessionReset(full)) => {
                tracing::debug!(full, "server reset our session");
                // ProtocolV2::handle_session_reset / reset_session; queued messages are kept
                // (they now belong to the new session)
                if full {
                    self.out_seq = 0;
                }
                self.in_seq = 0;
                self.in_seq_acked = 0;
                self.server_cookie = 0;
                self.connect_seq = 0;
                self.state = State::SessionConnecting;
                self.send_ident()
            }
            (_, frame) => Err(self.unexpected(frame.tag())),
        }
    }

    fn handle_server_ident(&mut self, ident: ServerIdent) -> Result<(), Error> {
        let target = self.config.peer_addr;
        if self.config.verify_peer_addr && !ident.addrs.0.contains(&target) {
            return Err(Error::PeerAddrMismatch {
                addrs: ident.addrs,
                target,
            });
        }
        let missing = self.config.features_required & !ident.supported_features;
        if missing != 0 {
            return Err(Error::ServerLacksFeatures { missing });
        }
        self.lossy = ident.flags & IDENT_FLAG_LOSSY != 0;
        self.server_cookie = ident.cookie;
        let peer = PeerIdent {
            addrs: ident.addrs,
            global_id: ident.global_id,
            global_seq: ident.global_seq,
            features: ident.supported_features & self.config.features_supported,
        };
        let info = self.session_info(peer, None);
        self.become_ready(info);
        Ok(())
    }

    fn resumed_info(&self) -> PeerIdent {
        match &self.session {
            Some(s) => PeerIdent {
                addrs: s.peer_addrs.clone(),
                global_id: s.peer_global_id,
                global_seq: s.peer_global_seq,
                features: s.features,
            },
            None => PeerIdent {
                addrs: EntityAddrVec(vec![self.config.peer_addr]),
                global_id: -1,
                global_seq: 0,
                features: self.config.features_supported,
            },
        }
    }

    fn session_info(&self, peer: PeerIdent, resumed_at: Option<u64>) -> SessionInfo {
        SessionInfo {
            peer_addrs: peer.addrs,
            peer_global_id: peer.global_id,
            peer_global_seq: peer.global_seq,
            features: peer.features,
            global_id: self.global_id,
            con_mode: self.con_mode,
            lossy: self.lossy,
            my_addr: self.our_addr(),
            client_cookie: self.config.client_cookie,
            server_cookie: self.server_cookie,
            connect_seq: self.connect_seq,
            resumed_at,
        }
    }

    fn become_ready(&mut self, info: SessionInfo) {
        tracing::debug!(
            peer = %info.peer_addrs,
            peer_global_id = info.peer_global_id,
            global_id = info.global_id,
            mode = %info.con_mode,
            lossy = info.lossy,
            "session ready"
        );
        self.state = State::Ready;
        self.session = Some(info.clone());
        self.next_keepalive = self.config.keepalive_interval.map(|d| self.last_rx + d);
        self.events.push_back(Event::Connected(info));
    }

    pub(super) fn handle_ready_frame(&mut self, frame: ControlFrame) -> Result<(), Error> {
        match frame {
            ControlFrame::Keepalive2(stamp) => {
                self.send_control(&ControlFrame::Keepalive2Ack(stamp))
            }
            ControlFrame::Keepalive2Ack(stamp) => {
                self.last_keepalive_ack = Some(stamp);
                Ok(())
            }
            ControlFrame::Ack(seq) => {
                self.peer_acked_seq = self.peer_acked_seq.max(seq);
                Ok(())
            }
            frame => Err(self.unexpected(frame.tag())),
        }
    }

    pub(super) fn handle_message_frame(&mut self, frame: Frame) -> Result<(), Error> {
        if self.state != State::Ready {
            return Err(self.unexpected(Tag::MESSAGE));
        }
        let message = Message::from_frame(frame)?;
        let seq = message.header.seq;
        self.peer_acked_seq = self.peer_acked_seq.max(message.header.ack_seq);
        if seq <= self.in_seq {
            // ProtocolV2::handle_message drops old messages
            tracing::debug!(seq, in_seq = self.in_seq, "dropping old message");
            return Ok(());
        }
        if seq > self.in_seq.saturating_add(1) {
            tracing::debug!(seq, in_seq = self.in_seq, "messages skipped");
        }
        self.in_seq = seq;
        self.events.push_back(Event::Message(message));
        Ok(())
    }

    /// Numbers, stamps and encodes one queued message into the transmit queue.
    pub(super) fn encode_message(&mut self, mut message: Message) -> Result<(), Error> {
        self.out_seq = self.out_seq.wrapping_add(1);
        message.header.seq = self.out_seq;
        message.header.ack_seq = self.in_seq;
        self.in_seq_acked = self.in_seq;
        let mut chunks = Vec::with_capacity(4);
        self.encoder.encode(&message.to_frame(), &mut chunks)?;
        for chunk in chunks {
            self.tx_bytes += chunk.len();
            self.tx.push_back(chunk);
        }
        Ok(())
    }

    pub(super) fn send_ack(&mut self) -> Result<(), Error> {
        self.in_seq_acked = self.in_seq;
        self.send_control(&ControlFrame::Ack(self.in_seq))
    }
}

/// What SERVER_IDENT (or the previous session) told us about the peer.
struct PeerIdent {
    addrs: EntityAddrVec,
    global_id: i64,
    global_seq: u64,
    features: u64,
}
