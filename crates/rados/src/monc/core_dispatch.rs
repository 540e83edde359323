//! The monitor client state machine, continued: what each message from the monitor does.

use std::sync::Arc;

use msgr2::Message;

use super::{ConnId, Failure, MonCore, Now, Output, lock};
use crate::messages::{MConfig, MOsdMap, MonIncoming, MonMap};
use crate::monc::requests::CommandReply;

impl MonCore {
    pub(super) fn on_message(&mut self, conn: ConnId, msg: &Message, now: Now) {
        if self.active.as_ref().is_none_or(|a| a.conn != conn) {
            tracing::debug!(
                msg_type = msg.header.msg_type,
                "discarding a stray monitor message"
            );
            return;
        }
        let incoming = match MonIncoming::decode(msg) {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, msg_type = msg.header.msg_type, "undecodable message from the monitor");
                return;
            }
        };
        match incoming {
            MonIncoming::MonMap(m) => match m.monmap() {
                Ok(map) => self.on_monmap(map, now),
                Err(error) => tracing::warn!(%error, "undecodable monitor map"),
            },
            MonIncoming::OsdMap(m) => self.on_osd_map(&m, now),
            MonIncoming::CommandAck { tid, ack } => match self.commands.take(tid) {
                Some(pending) => {
                    tracing::debug!(tid, code = ack.r, status = %ack.rs, "command done");
                    let _ = pending.reply.send(Ok(CommandReply {
                        code: ack.r,
                        status: ack.rs,
                        data: ack.data,
                    }));
                }
                None => tracing::debug!(tid, "ack for an unknown command"),
            },
            MonIncoming::VersionReply(r) => match self.versions.take(r.handle) {
                Some(p) if r.handle != 0 => {
                    let _ = p.reply.send(Ok((r.version, r.oldest_version)));
                }
                _ => tracing::debug!(handle = r.handle, "version reply for an unknown request"),
            },
            MonIncoming::AuthReply(r) => self.on_auth_reply(r.result, &r.result_bl, now),
            MonIncoming::SubscribeAck(ack) => self.subs.acked(ack.interval),
            MonIncoming::Config(MConfig { config }) => {
                tracing::debug!(options = config.len(), "configuration from the monitors");
                self.outputs.push_back(Output::Config(config));
            }
            MonIncoming::Other(_) => self.on_raw_reply(msg),
        }
    }

    /// New OSD maps, from the monitors or shared by an OSD: the tracker applies what follows
    /// our epoch; a gap it cannot bridge renews the subscription (which asks the monitors
    /// for a full map).
    pub(super) fn on_osd_map(&mut self, m: &MOsdMap, now: Now) {
        let fsid = Some(self.monmap.fsid).filter(|f| !f.is_nil());
        let update = self.maps.handle(m, fsid);
        if update.updated {
            if let Some(map) = self.maps.current() {
                let map = Arc::clone(map);
                self.subs.got("osdmap", u64::from(map.epoch));
                self.outputs.push_back(Output::OsdMap(map));
            }
        }
        if update.need_full && self.subs.want("osdmap", 0, 0) {
            self.send_subscribe(now);
        }
        self.check_ready();
    }

    fn on_monmap(&mut self, map: MonMap, now: Now) {
        if let Some(want) = self.params.fsid.filter(|f| !f.is_nil()) {
            if want != map.fsid {
                tracing::error!(ours = %want, theirs = %map.fsid, "the monitors belong to another cluster");
                let active = self.active.as_ref().map(|a| a.mon).unwrap_or_default();
                self.attempts.insert(active, None);
                self.fail_connect(Failure::WrongCluster);
                self.reopen_none();
                return;
            }
        }
        let old = Arc::clone(&self.monmap);
        tracing::debug!(epoch = map.epoch, mons = map.len(), "monitor map");
        if old.epoch != map.epoch {
            self.hunter.map_changed();
        }
        let auth_rotated = old.epoch > 0 && map.auth_epoch > old.auth_epoch;
        let map = Arc::new(map);
        self.monmap = Arc::clone(&map);
        self.subs.got("monmap", u64::from(map.epoch));
        self.outputs.push_back(Output::MonMap(map));
        let still_there = self
            .active
            .as_ref()
            .is_some_and(|a| self.monmap.find_by_addrs(&a.peer_addrs).is_some());
        if auth_rotated {
            tracing::info!("the monitors changed their auth ciphers; authenticating afresh");
            self.tickets = None;
            self.reopen(now);
        } else if !still_there {
            tracing::info!("our monitor left the map; hunting");
            self.reopen(now);
        }
        self.check_ready();
    }

    /// Closes the active session without hunting (after a fatal error).
    fn reopen_none(&mut self) {
        if let Some(active) = self.active.take() {
            self.outputs.push_back(Output::Close(active.conn));
        }
        self.next_tick = None;
    }

    fn on_auth_reply(&mut self, result: i32, payload: &[u8], now: Now) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let Some(auth) = &active.auth else {
            return;
        };
        active.renewal_sent = None;
        let outcome = {
            let mut state = lock(auth);
            state
                .auth
                .handle_renewal_reply(result, payload, now.wall)
                .map(|received| (received, state.auth.tickets().clone()))
        };
        match outcome {
            Ok((received, tickets)) => {
                tracing::debug!(?received, "tickets renewed");
                self.tickets = Some(tickets.clone());
                self.outputs.push_back(Output::Tickets(tickets));
                // more may be due (after an AUTH renewal the others follow)
                self.housekeeping(now);
            }
            Err(error) => tracing::warn!(%error, "ticket renewal failed"),
        }
    }
}
