//! The public handle: [`Rados`], a connected client (cheap to clone), and what it reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use cephx::TicketStore;
use denc::Uuid;
use osdmap::OsdMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::ClientConfig;
use crate::error::{ConfigError, Error, Result};
use crate::messages::{MonInfo, MonMap};
use crate::monc::CommandReply;
use crate::monc::core::{CoreParams, Input, MonCore, Request};
use crate::monc::hunt::HuntParams;
use crate::monc::task::{self, Published};
use crate::osd::client::OsdClient;

/// A connected RADOS client. Clones share one monitor session and the OSD sessions; they
/// end when the last clone (and the last [`crate::IoCtx`]) is dropped or
/// [`Rados::shutdown`] is called.
#[derive(Clone, Debug)]
pub struct Rados {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<ClientConfig>,
    requests: mpsc::UnboundedSender<Request>,
    monmap: watch::Receiver<Arc<MonMap>>,
    osdmap: watch::Receiver<Option<Arc<OsdMap>>>,
    tickets: watch::Receiver<Arc<TicketStore>>,
    mon_config: watch::Receiver<Arc<BTreeMap<String, String>>>,
    osd: OsdClient,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The newest and oldest version of a map the monitors keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapVersion {
    /// The newest epoch.
    pub newest: u64,
    /// The oldest epoch still kept.
    pub oldest: u64,
}

impl Rados {
    /// Connects: hunts for a monitor, authenticates with CephX, subscribes to the monitor
    /// and OSD maps and returns once both arrived. Bounded by `client_mount_timeout`; a
    /// refused key fails at once with [`Error::Auth`], unreachable monitors with
    /// [`Error::MonUnreachable`] naming every address tried.
    pub async fn connect(config: ClientConfig) -> Result<Rados> {
        // refuse unusable keys before dialing anyone
        cephx::MonAuth::new(
            config.name.clone(),
            config.key().clone(),
            cephx::ServiceSet::LIBRADOS,
        )?;
        if config.mon_hosts.iter().all(|m| m.addrs.msgr2().is_none()) {
            let addrs: Vec<String> = config
                .mon_hosts
                .iter()
                .map(|m| m.addrs.to_string())
                .collect();
            return Err(ConfigError::NoMsgr2Monitors {
                addrs: addrs.join(", "),
            }
            .into());
        }
        let config = Arc::new(config);
        let mut initial = MonMap::from_initial(
            config
                .mon_hosts
                .iter()
                .map(|m| MonInfo::new(m.name.clone(), m.addrs.clone())),
        );
        if let Some(fsid) = config.fsid {
            initial.fsid = fsid;
        }
        let params = CoreParams {
            hunt: HuntParams {
                interval: config.hunt_interval,
                parallel: config.hunt_parallel,
                backoff: config.hunt_backoff,
                min_multiple: config.hunt_min_multiple,
                max_multiple: config.hunt_max_multiple,
            },
            mount_timeout: config.mount_timeout,
            op_timeout: config.mon_op_timeout,
            fsid: config.fsid,
            hostname: task::short_hostname(),
            mon_modes: config.mon_modes.clone(),
        };
        let (monmap_tx, monmap) = watch::channel(Arc::new(initial.clone()));
        let (osdmap_tx, osdmap) = watch::channel(None);
        let (tickets_tx, tickets) = watch::channel(Arc::new(TicketStore::new()));
        let (mon_config_tx, mon_config) = watch::channel(Arc::new(BTreeMap::new()));
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let span = tracing::debug_span!("monc", name = %config.name);
        let mut core = span.in_scope(|| {
            MonCore::new(
                params,
                initial,
                StdRng::from_rng(&mut rand::rng()),
                task::now(),
            )
        });
        // registered before the task runs, so that no connection event can overtake it
        let (reply, wait) = oneshot::channel();
        core.handle(Input::Request(Request::WaitReady { reply }), task::now());
        let handle = tokio::spawn(tracing::Instrument::instrument(
            task::run(
                core,
                Arc::clone(&config),
                requests_rx,
                Published {
                    monmap: monmap_tx,
                    osdmap: osdmap_tx,
                    tickets: tickets_tx,
                    mon_config: mon_config_tx,
                },
            ),
            span,
        ));
        let osd = OsdClient::start(
            Arc::clone(&config),
            osdmap.clone(),
            tickets.clone(),
            requests.clone(),
        );
        let rados = Rados {
            inner: Arc::new(Inner {
                config,
                osd,
                requests,
                monmap,
                osdmap,
                tickets,
                mon_config,
                task: Mutex::new(Some(handle)),
            }),
        };
        // the core enforces the mount timeout; this only guards against a stuck task
        let guard = rados.inner.config.mount_timeout + Duration::from_secs(10);
        match tokio::time::timeout(guard, wait).await {
            Ok(Ok(Ok(()))) => Ok(rados),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::Shutdown),
            Err(_) => Err(Error::Timeout {
                operation: "connecting",
                after: guard,
            }),
        }
    }

    fn request(&self, r: Request) -> Result<()> {
        self.inner.requests.send(r).map_err(|_| Error::Shutdown)
    }

    /// The OSD client.
    pub(crate) fn osd(&self) -> &OsdClient {
        &self.inner.osd
    }

    /// OSD sessions open (or opening) and OSD ops in flight: for diagnostics and tests.
    pub fn osd_stats(&self) -> (usize, usize) {
        self.inner.osd.stats()
    }

    /// What the OSD client did since connect: ops sent and resent, backoffs, maps
    /// (a part of librados' `objecter` perf counters).
    pub fn objecter_counters(&self) -> crate::ObjecterCounters {
        self.inner.osd.counters()
    }

    /// Sends `msg` to the monitors and waits for their reply of type `reply_type` (matched
    /// by tid; resent if the monitor changes; bounded by `rados_mon_op_timeout`).
    pub(crate) async fn mon_request(
        &self,
        msg: msgr2::Message,
        reply_type: u16,
    ) -> Result<msgr2::Message> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Raw {
            msg,
            reply_type,
            reply,
        })?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The cluster id.
    pub fn fsid(&self) -> Uuid {
        self.inner.monmap.borrow().fsid
    }

    /// The current monitor map.
    pub fn monmap(&self) -> Arc<MonMap> {
        Arc::clone(&self.inner.monmap.borrow())
    }

    /// The current OSD map (kept current through a subscription).
    pub fn osdmap(&self) -> Arc<OsdMap> {
        self.inner
            .osdmap
            .borrow()
            .clone()
            .unwrap_or_else(|| Arc::new(OsdMap::default()))
    }

    /// A receiver that sees every new OSD map.
    pub fn osdmap_watch(&self) -> watch::Receiver<Option<Arc<OsdMap>>> {
        self.inner.osdmap.clone()
    }

    /// Waits until the OSD map reaches `epoch` (bounded by `rados_mon_op_timeout` when
    /// set; wrap it in `tokio::time::timeout` for another limit).
    pub async fn wait_for_osdmap(&self, epoch: u32) -> Result<Arc<OsdMap>> {
        let mut rx = self.inner.osdmap.clone();
        let wait = async {
            let map = rx
                .wait_for(|m| m.as_ref().is_some_and(|m| m.epoch >= epoch))
                .await
                .map_err(|_| Error::Shutdown)?;
            map.clone().ok_or(Error::Shutdown)
        };
        match self.inner.config.mon_op_timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .unwrap_or(Err(Error::Timeout {
                    operation: "waiting for the OSD map",
                    after: limit,
                })),
            None => wait.await,
        }
    }

    /// The tickets of the monitor session (global id, AUTH/MON/OSD/MGR tickets), kept
    /// renewed: what OSD and MGR connections authenticate with.
    pub fn tickets(&self) -> Arc<TicketStore> {
        Arc::clone(&self.inner.tickets.borrow())
    }

    /// A receiver that sees every ticket renewal.
    pub fn tickets_watch(&self) -> watch::Receiver<Arc<TicketStore>> {
        self.inner.tickets.clone()
    }

    /// The options the monitors' configuration database holds for us (sent after our
    /// `config` subscription; not applied: librados applies them at startup).
    pub fn mon_config(&self) -> Arc<BTreeMap<String, String>> {
        Arc::clone(&self.inner.mon_config.borrow())
    }

    /// Our global id (`client.<id>` number).
    pub fn global_id(&self) -> u64 {
        self.inner.tickets.borrow().global_id()
    }

    /// Sends a monitor command (one JSON object, e.g. `{"prefix": "osd pool ls",
    /// "format": "json"}`) with `input` as its data. A negative return code is
    /// [`Error::Command`]; otherwise the status and output. Resent if the monitor changes;
    /// bounded by `rados_mon_op_timeout` when set.
    pub async fn mon_command(&self, cmd: &str, input: Bytes) -> Result<CommandReply> {
        let reply = self.mon_command_raw(vec![cmd.to_owned()], input).await?;
        if reply.code < 0 {
            return Err(Error::Command {
                code: reply.code,
                status: reply.status,
            });
        }
        Ok(reply)
    }

    /// Like [`Rados::mon_command`], with the command as several strings, returning the
    /// reply whatever its code (as `ceph` does, to print status and output).
    pub async fn mon_command_raw(&self, cmd: Vec<String>, input: Bytes) -> Result<CommandReply> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Command {
            cmd,
            data: input,
            reply,
        })?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// The newest and oldest version the monitors have of a map (`osdmap`, `monmap`,
    /// `mgrmap`, `fsmap`, `mdsmap`).
    pub async fn get_version(&self, what: &str) -> Result<MapVersion> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::GetVersion {
            what: what.to_owned(),
            reply,
        })?;
        let (newest, oldest) = rx.await.map_err(|_| Error::Shutdown)??;
        Ok(MapVersion { newest, oldest })
    }

    /// A summary like `ceph -s`: the maps brought up to the monitors' newest OSD map
    /// first.
    pub async fn status(&self) -> Result<ClusterStatus> {
        let newest = self.get_version("osdmap").await?.newest;
        let osdmap = self
            .wait_for_osdmap(u32::try_from(newest).unwrap_or(u32::MAX))
            .await?;
        Ok(ClusterStatus::new(&self.monmap(), &osdmap))
    }

    /// Ends the session: pending requests and OSD ops fail with [`Error::Shutdown`], the
    /// monitor and OSD connections close; waits for the background task.
    pub async fn shutdown(&self) {
        self.inner.osd.shutdown();
        let _ = self.request(Request::Shutdown);
        let handle = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}

/// A cluster summary, with the field names of `ceph -s -f json` where they exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// The cluster id.
    pub fsid: String,
    /// The monitor map.
    pub monmap: MonMapStatus,
    /// The OSD map.
    pub osdmap: OsdMapStatus,
    /// The pools.
    pub pools: Vec<PoolStatus>,
}

/// The monitor part of [`ClusterStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonMapStatus {
    /// Epoch.
    pub epoch: u32,
    /// Number of monitors.
    pub num_mons: usize,
    /// The monitors in rank order.
    pub mons: Vec<MonStatus>,
}

/// One monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonStatus {
    /// Rank.
    pub rank: usize,
    /// Name.
    pub name: String,
    /// Addresses, as Ceph prints them.
    pub addrs: String,
}

/// The OSD part of [`ClusterStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsdMapStatus {
    /// Epoch.
    pub epoch: u32,
    /// OSDs that exist.
    pub num_osds: usize,
    /// OSDs up.
    pub num_up_osds: usize,
    /// OSDs in.
    pub num_in_osds: usize,
}

/// One pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// Pool id.
    pub id: i64,
    /// Pool name.
    pub name: String,
}

impl ClusterStatus {
    /// Summarises the maps (`OSDMap::calc_num_osds`: existing OSDs, those up, those with a
    /// non-zero weight).
    pub fn new(monmap: &MonMap, osdmap: &OsdMap) -> ClusterStatus {
        let max = usize::try_from(osdmap.max_osd).unwrap_or(0);
        let exists: Vec<usize> = (0..max)
            .filter(|&i| {
                osdmap
                    .osd_state
                    .get(i)
                    .is_some_and(|s| s & osdmap::osd_state::EXISTS != 0)
            })
            .collect();
        let up = exists
            .iter()
            .filter(|&&i| {
                osdmap
                    .osd_state
                    .get(i)
                    .is_some_and(|s| s & osdmap::osd_state::UP != 0)
            })
            .count();
        let inn = exists
            .iter()
            .filter(|&&i| osdmap.osd_weight.get(i).is_some_and(|w| *w != 0))
            .count();
        ClusterStatus {
            fsid: monmap.fsid.to_string(),
            monmap: MonMapStatus {
                epoch: monmap.epoch,
                num_mons: monmap.len(),
                mons: monmap
                    .by_rank()
                    .map(|(rank, m)| MonStatus {
                        rank,
                        name: m.name.clone(),
                        addrs: m.public_addrs.to_string(),
                    })
                    .collect(),
            },
            osdmap: OsdMapStatus {
                epoch: osdmap.epoch,
                num_osds: exists.len(),
                num_up_osds: up,
                num_in_osds: inn,
            },
            pools: osdmap
                .pool_names
                .iter()
                .map(|(id, name)| PoolStatus {
                    id: *id,
                    name: name.clone(),
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for ClusterStatus {
    /// The plain-text form `rbd-rs status` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  cluster:")?;
        writeln!(f, "    id:     {}", self.fsid)?;
        writeln!(f)?;
        writeln!(f, "  services:")?;
        let names: Vec<&str> = self.monmap.mons.iter().map(|m| m.name.as_str()).collect();
        writeln!(
            f,
            "    mon: {} daemons: {} (monmap e{})",
            self.monmap.num_mons,
            names.join(","),
            self.monmap.epoch
        )?;
        writeln!(
            f,
            "    osd: {} osds: {} up, {} in (osdmap e{})",
            self.osdmap.num_osds,
            self.osdmap.num_up_osds,
            self.osdmap.num_in_osds,
            self.osdmap.epoch
        )?;
        writeln!(f)?;
        writeln!(f, "  data:")?;
        write!(f, "    pools:   {} pools:", self.pools.len())?;
        for p in &self.pools {
            write!(f, " {}({})", p.name, p.id)?;
        }
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn key() -> String {
        let mut rng = StdRng::seed_from_u64(9);
        cephx::CryptoKey::generate(cephx::KeyType::AES, denc::UTime::new(1, 0), &mut rng)
            .unwrap()
            .to_base64()
            .to_string()
    }

    #[tokio::test]
    async fn messenger_v1_only_monitors_are_refused_at_once() {
        let config = ClientConfig::builder()
            .no_conf_file()
            .mon_host("10.0.0.1:6789,v1:10.0.0.2")
            .key(key())
            .build()
            .unwrap();
        let err = Rados::connect(config).await.unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::NoMsgr2Monitors { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("v1:10.0.0.1:6789/0"), "{err}");
    }

    #[test]
    fn status_counts_like_calc_num_osds() {
        let mut osdmap = OsdMap {
            max_osd: 4,
            epoch: 9,
            ..OsdMap::default()
        };
        use osdmap::osd_state::{EXISTS, UP};
        osdmap.osd_state = vec![EXISTS | UP, EXISTS, EXISTS | UP, 0];
        osdmap.osd_weight = vec![0x10000, 0x10000, 0, 0x10000];
        osdmap.pool_names.insert(1, "rbd".into());
        let monmap = MonMap::from_initial([MonInfo::new(
            "a",
            denc::EntityAddrVec(vec!["v2:127.0.0.1:3300/0".parse().unwrap()]),
        )]);
        let s = ClusterStatus::new(&monmap, &osdmap);
        assert_eq!(
            (
                s.osdmap.num_osds,
                s.osdmap.num_up_osds,
                s.osdmap.num_in_osds
            ),
            (3, 2, 2)
        );
        assert_eq!(s.monmap.num_mons, 1);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["osdmap"]["num_in_osds"], 2);
        assert_eq!(json["monmap"]["epoch"], 0);
        assert_eq!(json["pools"][0]["name"], "rbd");
        assert!(s.to_string().contains("3 osds: 2 up, 2 in"));
    }
}
