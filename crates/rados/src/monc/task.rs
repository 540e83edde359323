//! The tokio task around [`MonCore`]: dials monitors through msgr2's driver with CephX,
//! feeds the core connection events, API requests and timer ticks, and publishes the maps
//! and tickets it produces.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use cephx::{MonAuth, ServiceSet, TicketStore};
use denc::{EntityAddr, EntityType, UTime};
use msgr2::cephx_auth::CephxMonClient;
use msgr2::driver::{ConnectionHandle, DriverOptions};
use msgr2::{AuthError, CloseReason, ConnectionConfig, Event, Message};
use osdmap::OsdMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::core::{ConnId, Input, MonCore, Now, Output, Request, SharedAuth};
use crate::config::ClientConfig;
use crate::messages::MonMap;

/// What the task publishes for the API handles.
pub(crate) struct Published {
    pub(crate) monmap: watch::Sender<Arc<MonMap>>,
    pub(crate) osdmap: watch::Sender<Option<Arc<OsdMap>>>,
    pub(crate) tickets: watch::Sender<Arc<TicketStore>>,
    pub(crate) mon_config: watch::Sender<Arc<BTreeMap<String, String>>>,
}

/// Per-client constants for the connections.
struct Dialer {
    config: Arc<ClientConfig>,
    /// Our messenger nonce: one per client instance, as a Ceph messenger has.
    nonce: u32,
    global_seq: u64,
    events: mpsc::UnboundedSender<(ConnId, Event)>,
}

pub(crate) fn now() -> Now {
    Now {
        mono: Instant::now(),
        wall: UTime::now(),
    }
}

/// Runs the monitor client until it is shut down or every API handle is gone.
pub(crate) async fn run(
    mut core: MonCore,
    config: Arc<ClientConfig>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    published: Published,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut dialer = Dialer {
        config,
        nonce: rand::random::<u32>() | 1,
        global_seq: 0,
        events: events_tx,
    };
    let mut conns: HashMap<ConnId, ConnectionHandle> = HashMap::new();
    let mut auths: HashMap<ConnId, SharedAuth> = HashMap::new();
    loop {
        while let Some(output) = core.poll_output() {
            match output {
                Output::Connect {
                    conn,
                    addr,
                    tickets,
                    initial,
                } => match dialer.dial(conn, addr, tickets, initial) {
                    Ok((handle, auth)) => {
                        conns.insert(conn, handle);
                        auths.insert(conn, auth);
                    }
                    Err(reason) => core.handle(Input::Closed { conn, reason }, now()),
                },
                Output::Close(conn) => {
                    // dropping the handle closes the connection
                    conns.remove(&conn);
                    auths.remove(&conn);
                }
                Output::Send(conn, msg) => {
                    if let Some(handle) = conns.get(&conn) {
                        send(handle, msg);
                    }
                }
                Output::MonMap(map) => {
                    published.monmap.send_replace(map);
                }
                Output::OsdMap(map) => {
                    published.osdmap.send_replace(Some(map));
                }
                Output::Tickets(t) => {
                    published.tickets.send_replace(Arc::new(t));
                }
                Output::Config(c) => {
                    published.mon_config.send_replace(Arc::new(c));
                }
            }
        }
        if core.is_stopped() {
            break;
        }
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            Some((conn, event)) = events.recv() => {
                let input = match event {
                    Event::Connected(info) => Input::Connected {
                        conn,
                        info,
                        auth: auths.remove(&conn),
                    },
                    Event::Message(msg) => Input::Message { conn, msg },
                    Event::Closed(reason) => {
                        conns.remove(&conn);
                        auths.remove(&conn);
                        Input::Closed { conn, reason }
                    }
                };
                core.handle(input, now());
            }
            request = requests.recv() => {
                // every handle gone: shut down
                let request = request.unwrap_or(Request::Shutdown);
                core.handle(Input::Request(request), now());
            }
            () = sleep_until(deadline) => core.handle(Input::Timer, now()),
        }
    }
    drop(conns);
    tracing::debug!("monitor client stopped");
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Queues a message; when the connection's queue is full (it is not READY yet and holds
/// many), a task waits for room so the event loop never blocks.
fn send(handle: &ConnectionHandle, msg: Message) {
    match handle.try_send(msg) {
        Ok(()) => {}
        Err(e) => match *e {
            mpsc::error::TrySendError::Full(msg) => {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = handle.send(msg).await;
                });
            }
            mpsc::error::TrySendError::Closed(_) => {}
        },
    }
}

impl Dialer {
    /// Starts a connection to a monitor: CephX (reclaiming our global id with `tickets`),
    /// the configured modes, keepalives and the ping timeout from the configuration.
    fn dial(
        &mut self,
        conn: ConnId,
        addr: EntityAddr,
        tickets: Option<TicketStore>,
        initial: Vec<Message>,
    ) -> Result<(ConnectionHandle, SharedAuth), CloseReason> {
        let c = &self.config;
        let auth = MonAuth::new(c.name.clone(), c.key().clone(), ServiceSet::LIBRADOS)
            .map_err(|e| CloseReason::Error(msgr2::Error::Auth(AuthError::Method(Box::new(e)))))?;
        let auth = match tickets {
            Some(t) => auth.with_tickets(t),
            None => auth,
        };
        let rng = StdRng::from_rng(&mut rand::rng());
        let (client, state) = CephxMonClient::new(auth, c.mon_modes.clone(), rng, UTime::now);
        self.global_seq += 1;
        let mut cfg = ConnectionConfig::new(
            addr,
            Some(EntityType::MON),
            self.nonce,
            rand::random::<u64>() | 1,
        );
        cfg.global_seq = self.global_seq;
        cfg.keepalive_interval = Some(c.ping_interval).filter(|d| !d.is_zero());
        cfg.idle_timeout = Some(c.ping_timeout).filter(|d| !d.is_zero());
        cfg.handshake_timeout = Some(c.mount_timeout).filter(|d| !d.is_zero());
        let options = DriverOptions {
            connect_timeout: c.mount_timeout.max(c.hunt_interval),
            ..DriverOptions::default()
        };
        let span = tracing::debug_span!("mon", conn, %addr);
        let (handle, mut events) = msgr2::driver::spawn(cfg, Box::new(client), options);
        for msg in initial {
            send(&handle, msg);
        }
        let forward = self.events.clone();
        tokio::spawn(
            async move {
                while let Some(event) = events.recv().await {
                    if forward.send((conn, event)).is_err() {
                        break;
                    }
                }
            }
            .instrument(span),
        );
        Ok((handle, state))
    }
}

/// Our short host name (what `MMonSubscribe` carries, `ceph_get_short_hostname`).
pub(crate) fn short_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().split('.').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}
