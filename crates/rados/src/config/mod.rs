//! Client configuration the way librados assembles it: a ceph.conf (from `-c`, `CEPH_CONF`
//! or Ceph's default search list), sections `[client.NAME]` > `[client]` > `[global]`,
//! then `CEPH_KEYRING`, `CEPH_ARGS`, explicit arguments and options set in code (like the
//! Python binding's `rados.Rados(conffile=..., conf={...}, rados_id=...)`).
//!
//! ```no_run
//! # fn f() -> Result<(), rados::Error> {
//! let config = rados::ClientConfig::builder()
//!     .conf_file("/etc/ceph/ceph.conf")
//!     .id("admin")
//!     .set("rados_mon_op_timeout", "30")
//!     .build()?;
//! # let _ = config; Ok(()) }
//! ```

pub mod args;
pub mod conf_file;
pub mod mon_host;
pub mod options;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cephx::{CryptoKey, KeyOptions};
use denc::{AuthName, EntityAddrVec, EntityType, Uuid};
use msgr2::ConMode;

use crate::error::{ConfigError, Error};
use args::{ParsedArgs, normalize_option, parse_args, split_env};
use conf_file::ConfFile;
use mon_host::{InitialMon, parse_mon_host};
use options::{parse_duration, parse_float, parse_modes, parse_uint, secs};

/// Ceph's default configuration search list (src/common/config.cc `CEPH_CONF_FILE_DEFAULT`;
/// its first entry, `$data_dir/config`, only applies to daemons). The first file that
/// exists is used.
pub const DEFAULT_CONF_SEARCH: &str =
    "/etc/ceph/$cluster.conf,$home/.ceph/$cluster.conf,$cluster.conf";

/// Where the configuration file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConfSource {
    /// `CEPH_CONF` if set (when the environment is read), else the default search list.
    Search,
    /// These paths (`,`/`;` separated, like `-c`): the first that exists; none is an error.
    Paths(String),
    /// No file at all.
    None,
}

/// Builds a [`ClientConfig`]. Later sources override earlier ones, as in Ceph: defaults,
/// the configuration file, `CEPH_KEYRING`, `CEPH_ARGS` (these two only with
/// [`ConfigBuilder::env`]), [`ConfigBuilder::args`], then [`ConfigBuilder::set`] and the
/// typed setters.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    conf: ConfSource,
    env: Option<EnvVars>,
    args: Vec<String>,
    name: Option<String>,
    id: Option<String>,
    cluster: Option<String>,
    overrides: Vec<(String, String)>,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            conf: ConfSource::Search,
            env: None,
            args: Vec::new(),
            name: None,
            id: None,
            cluster: None,
            overrides: Vec::new(),
        }
    }
}

impl ConfigBuilder {
    /// Reads `CEPH_CONF`, `CEPH_ARGS` and `CEPH_KEYRING` too (as Ceph's tools do; librados
    /// users opt in with `rados_conf_parse_env`). They are read now.
    #[must_use]
    pub fn env(mut self, yes: bool) -> Self {
        self.env = yes.then(EnvVars::from_process);
        self
    }

    /// Like [`ConfigBuilder::env`] with given values instead of the process environment.
    #[must_use]
    pub fn env_vars(mut self, vars: EnvVars) -> Self {
        self.env = Some(vars);
        self
    }

    /// Uses this configuration file (or `,`-separated list: the first that exists) instead
    /// of searching. A missing file is an error.
    #[must_use]
    pub fn conf_file(mut self, path: impl AsRef<Path>) -> Self {
        self.conf = ConfSource::Paths(path.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Reads no configuration file (everything comes from options).
    #[must_use]
    pub fn no_conf_file(mut self) -> Self {
        self.conf = ConfSource::None;
        self
    }

    /// Authenticates as `client.ID` (`rados_id` / `--id`).
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self.name = None;
        self
    }

    /// Authenticates as this entity (`client.admin`; `--name`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self.id = None;
        self
    }

    /// The cluster name (`$cluster` in paths; default `ceph`, or the conf file's stem).
    #[must_use]
    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// Ceph-style arguments (`--id x -m host -c file --keyring k --any-option value`),
    /// applied after `CEPH_ARGS`.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an option (`mon_host`, `keyring`, `key`, `rados_mon_op_timeout`, ...), like
    /// `rados_conf_set`.
    #[must_use]
    pub fn set(mut self, option: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.overrides
            .push((normalize_option(option.as_ref()), value.into()));
        self
    }

    /// `mon_host`.
    #[must_use]
    pub fn mon_host(self, value: impl Into<String>) -> Self {
        self.set("mon_host", value)
    }

    /// `keyring`.
    #[must_use]
    pub fn keyring(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_string_lossy().into_owned();
        self.set("keyring", path)
    }

    /// `key`: the base64 secret itself.
    #[must_use]
    pub fn key(self, base64: impl Into<String>) -> Self {
        self.set("key", base64)
    }

    /// Assembles the configuration, resolves the monitors and loads the key.
    pub fn build(self) -> Result<ClientConfig, Error> {
        let env = self.env.clone().unwrap_or_default();
        let env_args = env.ceph_args.as_deref().map(split_env).unwrap_or_default();
        let from_env = parse_args(&env_args)?;
        let from_args = parse_args(&self.args)?;
        let pick = |f: fn(&ParsedArgs) -> Option<&String>| f(&from_args).or(f(&from_env)).cloned();

        let name = match (&self.name, &self.id) {
            (Some(n), _) => parse_name(n)?,
            (None, Some(id)) => AuthName::client(id.clone()),
            (None, None) => match (pick(|a| a.name.as_ref()), pick(|a| a.id.as_ref())) {
                (Some(n), _) => parse_name(&n)?,
                (None, Some(id)) => AuthName::client(id),
                (None, None) => AuthName::client("admin"),
            },
        };

        let conf_list = match (&self.conf, pick(|a| a.conf.as_ref())) {
            (ConfSource::Paths(p), _) => Some((p.clone(), true)),
            (ConfSource::None, _) => None,
            (ConfSource::Search, Some(p)) => Some((p, true)),
            (ConfSource::Search, None) => match env.ceph_conf.filter(|p| !p.is_empty()) {
                Some(p) => Some((p, true)),
                None => Some((DEFAULT_CONF_SEARCH.to_owned(), false)),
            },
        };
        let mut cluster = self
            .cluster
            .clone()
            .or_else(|| pick(|a| a.cluster.as_ref()));
        let (conf, conf_path, searched) = match conf_list {
            None => (ConfFile::default(), None, Vec::new()),
            Some((list, required)) => {
                let cl = cluster
                    .clone()
                    .unwrap_or_else(|| cephx::DEFAULT_CLUSTER.into());
                let paths = conf_paths(&list, &cl, &name);
                match load_first(&paths)? {
                    Some((conf, path)) => (conf, Some(path), paths),
                    None if required => {
                        return Err(ConfigError::NoConfFile { searched: paths }.into());
                    }
                    None => (ConfFile::default(), None, paths),
                }
            }
        };
        if cluster.is_none() {
            cluster = Some(cluster_from_conf(conf_path.as_deref()));
        }
        let cluster = cluster.unwrap_or_else(|| cephx::DEFAULT_CLUSTER.into());

        // effective option values, lowest precedence first
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for section in [
            String::from("global"),
            name.entity_type.to_string(),
            name.to_string(),
        ] {
            for (k, v) in conf.section(&section) {
                values.insert(k.to_owned(), v.to_owned());
            }
        }
        if let Some(k) = env.ceph_keyring {
            values.insert("keyring".into(), k);
        }
        for (k, v) in from_env.options.iter().chain(&from_args.options) {
            values.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.overrides {
            values.insert(k.clone(), v.clone());
        }
        ClientConfig::from_values(name, cluster, conf_path, searched, &conf, values)
    }
}

/// The environment variables Ceph's tools read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvVars {
    /// `CEPH_CONF`: configuration file(s), used unless `-c` is given.
    pub ceph_conf: Option<String>,
    /// `CEPH_ARGS`: arguments placed before the command line's.
    pub ceph_args: Option<String>,
    /// `CEPH_KEYRING`: the `keyring` option.
    pub ceph_keyring: Option<String>,
}

impl EnvVars {
    /// The process's values.
    pub fn from_process() -> EnvVars {
        let var = |k| std::env::var(k).ok();
        EnvVars {
            ceph_conf: var("CEPH_CONF"),
            ceph_args: var("CEPH_ARGS"),
            ceph_keyring: var("CEPH_KEYRING"),
        }
    }
}

fn parse_name(text: &str) -> Result<AuthName, ConfigError> {
    text.parse::<AuthName>()
        .ok()
        .filter(|n| !n.id.is_empty() && n.entity_type != EntityType::ANY)
        .ok_or_else(|| ConfigError::InvalidOption {
            option: "name".into(),
            value: text.to_owned(),
        })
}

/// The paths of a conf list, metavariables expanded (`$cluster`, `$name`, `$home`, ...).
fn conf_paths(list: &str, cluster: &str, name: &AuthName) -> Vec<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_default();
    list.split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = p.replace("${home}", &home).replace("$home", &home);
            PathBuf::from(cephx::expand_metavariables(&p, cluster, name))
        })
        .collect()
}

/// The first of `paths` that can be read, parsed. A file that exists but does not parse is
/// an error, as in Ceph.
fn load_first(paths: &[PathBuf]) -> Result<Option<(ConfFile, PathBuf)>, ConfigError> {
    for path in paths {
        match std::fs::read(path) {
            Ok(bytes) => {
                let origin = path.display().to_string();
                let text = std::str::from_utf8(&bytes).map_err(|_| ConfigError::Syntax {
                    origin: origin.clone(),
                    line: 0,
                    reason: "not UTF-8",
                })?;
                let conf = ConfFile::parse(text, &origin)?;
                tracing::debug!(path = %path.display(), "read configuration");
                return Ok(Some((conf, path.clone())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ConfigError::Io {
                    path: path.clone(),
                    kind: e.kind(),
                });
            }
        }
    }
    Ok(None)
}

/// `md_config_t::get_cluster_name`: the stem of a `*.conf` file, else `ceph`.
fn cluster_from_conf(path: Option<&Path>) -> String {
    path.filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| cephx::DEFAULT_CLUSTER.into())
}

/// The resolved configuration of a client: who it is, its key, where the monitors are,
/// how it connects, and its timeouts.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The entity we authenticate as (`client.admin`).
    pub name: AuthName,
    /// The cluster name.
    pub cluster: String,
    /// The configuration file read, if any.
    pub conf_path: Option<PathBuf>,
    /// The cluster id from the configuration (`fsid`), if set; checked against the monitors'.
    pub fsid: Option<Uuid>,
    /// The monitors to start from (the monitor map replaces them once connected).
    pub mon_hosts: Vec<InitialMon>,
    /// Connection modes offered to monitors, preferred first (`ms_mon_client_mode`).
    pub mon_modes: Vec<ConMode>,
    /// Connection modes offered to OSDs and managers (`ms_client_mode`).
    pub service_modes: Vec<ConMode>,
    /// On-wire compression asked of OSDs (`ms_osd_compress_mode` and friends).
    pub osd_compression: msgr2::CompressionSettings,
    /// The receive-buffer pool for large replies that all OSD sessions of the client share
    /// (default [`options::OSD_RECV_POOL`]).
    pub osd_recv_pool: msgr2::RecvPoolLimits,
    /// How long connecting may take (`client_mount_timeout`).
    pub mount_timeout: Duration,
    /// Limit on monitor operations (`rados_mon_op_timeout`; `None` = no limit).
    pub mon_op_timeout: Option<Duration>,
    /// Limit on OSD operations (`rados_osd_op_timeout`; `None` = no limit).
    pub osd_op_timeout: Option<Duration>,
    /// A hunting round lasts this long (`mon_client_hunt_interval`), times the backoff.
    pub hunt_interval: Duration,
    /// Monitors tried at once while hunting (`mon_client_hunt_parallel`; 0 = all).
    pub hunt_parallel: usize,
    /// Backoff factor between hunting rounds after a session was lost.
    pub hunt_backoff: f64,
    /// Lower bound of the hunting multiplier.
    pub hunt_min_multiple: f64,
    /// Upper bound of the hunting multiplier.
    pub hunt_max_multiple: f64,
    /// Keepalive interval on the monitor session (`mon_client_ping_interval`).
    pub ping_interval: Duration,
    /// A monitor silent this long is given up (`mon_client_ping_timeout`).
    pub ping_timeout: Duration,
    /// Every option value in effect (conf sections, environment, arguments, overrides),
    /// except the secret `key`.
    pub options: BTreeMap<String, String>,
    key: CryptoKey,
}

impl ClientConfig {
    /// A builder that searches for a configuration file but ignores the environment.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The configuration Ceph's tools would use: `CEPH_CONF` / default search,
    /// `CEPH_ARGS`, `CEPH_KEYRING`.
    pub fn from_env() -> Result<ClientConfig, Error> {
        ConfigBuilder::default().env(true).build()
    }

    /// The client's secret key.
    pub fn key(&self) -> &CryptoKey {
        &self.key
    }

    /// An option's effective value.
    pub fn get(&self, option: &str) -> Option<&str> {
        self.options
            .get(&normalize_option(option))
            .map(String::as_str)
    }

    fn from_values(
        name: AuthName,
        cluster: String,
        conf_path: Option<PathBuf>,
        searched: Vec<PathBuf>,
        conf: &ConfFile,
        mut values: BTreeMap<String, String>,
    ) -> Result<ClientConfig, Error> {
        let get = |k: &str| values.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let expand = |v: &str| cephx::expand_metavariables(v, &cluster, &name);

        let mut mon_hosts = match get("mon_host_override").or(get("mon_host")) {
            Some(v) => parse_mon_host(v)?,
            None => mons_from_sections(conf),
        };
        if mon_hosts.is_empty() {
            if conf_path.is_none() && !searched.is_empty() {
                return Err(ConfigError::NoConfFile { searched }.into());
            }
            return Err(ConfigError::NoMonitors.into());
        }
        mon_hosts.dedup();

        let keyring = get("keyring").map(expand);
        let keyfile = get("keyfile").map(|v| PathBuf::from(expand(v)));
        let key = cephx::resolve_key(
            &name,
            &KeyOptions {
                key: get("key"),
                keyfile: keyfile.as_deref(),
                keyring: keyring.as_deref(),
                cluster: Some(&cluster),
            },
        )?;

        let float = |k: &str, default: f64| -> Result<f64, ConfigError> {
            get(k).map_or(Ok(default), |v| parse_float(k, v))
        };
        let duration = |k: &str, default: Duration| -> Result<Duration, ConfigError> {
            get(k).map_or(Ok(default), |v| parse_duration(k, v))
        };
        let limit = |k: &str| -> Result<Option<Duration>, ConfigError> {
            Ok(Some(duration(k, Duration::ZERO)?).filter(|d| !d.is_zero()))
        };
        let modes = |k: &str, default: &str| parse_modes(k, get(k).unwrap_or(default));
        let fsid = get("fsid")
            .map(|v| {
                v.parse::<Uuid>().map_err(|_| ConfigError::InvalidOption {
                    option: "fsid".into(),
                    value: v.to_owned(),
                })
            })
            .transpose()?;
        let hunt_parallel = get("mon_client_hunt_parallel")
            .map_or(Ok(options::DEFAULT_HUNT_PARALLEL as u64), |v| {
                parse_uint("mon_client_hunt_parallel", v)
            })?;

        Ok(ClientConfig {
            mon_modes: modes("ms_mon_client_mode", options::DEFAULT_MON_CLIENT_MODE)?,
            service_modes: modes("ms_client_mode", options::DEFAULT_CLIENT_MODE)?,
            osd_compression: options::parse_osd_compression(get)?,
            osd_recv_pool: options::OSD_RECV_POOL,
            mount_timeout: duration("client_mount_timeout", options::DEFAULT_MOUNT_TIMEOUT)?,
            mon_op_timeout: limit("rados_mon_op_timeout")?,
            osd_op_timeout: limit("rados_osd_op_timeout")?,
            hunt_interval: secs(float(
                "mon_client_hunt_interval",
                options::DEFAULT_HUNT_INTERVAL,
            )?),
            hunt_parallel: usize::try_from(hunt_parallel).unwrap_or(usize::MAX),
            hunt_backoff: float(
                "mon_client_hunt_interval_backoff",
                options::DEFAULT_HUNT_BACKOFF,
            )?
            .max(1.0),
            hunt_min_multiple: float(
                "mon_client_hunt_interval_min_multiple",
                options::DEFAULT_HUNT_MIN_MULTIPLE,
            )?,
            hunt_max_multiple: float(
                "mon_client_hunt_interval_max_multiple",
                options::DEFAULT_HUNT_MAX_MULTIPLE,
            )?,
            ping_interval: secs(float(
                "mon_client_ping_interval",
                options::DEFAULT_PING_INTERVAL,
            )?),
            ping_timeout: secs(float(
                "mon_client_ping_timeout",
                options::DEFAULT_PING_TIMEOUT,
            )?),
            fsid,
            mon_hosts,
            key,
            name,
            cluster,
            conf_path,
            options: {
                // the secret itself is not kept among the printable options
                values.remove("key");
                values
            },
        })
    }
}

/// `MonMap::init_with_config_file`: `[mon.NAME]` sections with `mon addr` (a legacy field:
/// an address without a type is v1, default port 6789).
fn mons_from_sections(conf: &ConfFile) -> Vec<InitialMon> {
    let mut mons = Vec::new();
    for section in conf.sections() {
        let Some(mon_name) = section.strip_prefix("mon.").filter(|n| !n.is_empty()) else {
            continue;
        };
        let lookup = [section, "mon", "global"];
        let Some(value) = lookup.iter().find_map(|s| conf.get(s, "mon_addr")) else {
            continue;
        };
        let Ok(mut addr) = value.parse::<denc::EntityAddr>() else {
            tracing::warn!(mon = mon_name, value, "cannot parse mon addr");
            continue;
        };
        if addr.addr_type == denc::AddrType::ANY {
            addr.addr_type = denc::AddrType::LEGACY;
        }
        if addr.port() == 0 {
            let port = if addr.is_msgr2() {
                mon_host::MON_PORT_V2
            } else {
                mon_host::MON_PORT_V1
            };
            addr = addr.with_port(port);
        }
        mons.push(InitialMon {
            name: mon_name.to_owned(),
            addrs: EntityAddrVec(vec![addr]),
        });
    }
    mons
}

#[cfg(test)]
mod tests;
