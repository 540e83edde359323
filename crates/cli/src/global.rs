//! The options every subcommand shares, spelled as Ceph's tools spell them, and the client
//! configuration they make.

use std::path::PathBuf;

use clap::Args;

use crate::output::Format;

/// Global options (`-c`, `--id`, `-n`, `--keyring`, `-m`, `--format`, `--debug`).
/// `CEPH_CONF`, `CEPH_ARGS` and `CEPH_KEYRING` are read too; these options win over them.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: CEPH_CONF, then /etc/ceph/$cluster.conf,
    /// ~/.ceph/$cluster.conf, ./$cluster.conf).
    #[arg(short = 'c', long = "conf", global = true, value_name = "FILE")]
    pub conf: Option<PathBuf>,
    /// Client id: authenticate as client.ID.
    #[arg(long = "id", visible_alias = "user", global = true, value_name = "ID")]
    pub id: Option<String>,
    /// Entity name (default client.admin).
    #[arg(short = 'n', long = "name", global = true, value_name = "TYPE.ID")]
    pub name: Option<String>,
    /// Keyring file.
    #[arg(short = 'k', long = "keyring", global = true, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Monitor address(es), in any mon_host spelling.
    #[arg(short = 'm', long = "mon-host", global = true, value_name = "ADDRS")]
    pub mon_host: Option<String>,
    /// Output format.
    #[arg(short = 'f', long = "format", global = true, value_enum, default_value_t = Format::Plain)]
    pub format: Format,
    /// Debug logging to stderr (RUST_LOG takes precedence).
    #[arg(long = "debug", global = true)]
    pub debug: bool,
}

impl GlobalArgs {
    /// Logging to stderr: `RUST_LOG` if set, else warnings (debug with `--debug`).
    pub fn init_logging(&self) {
        use tracing_subscriber::EnvFilter;
        let default = if self.debug { "debug" } else { "warn" };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }

    /// The client configuration: the environment as Ceph's tools read it, then these
    /// options.
    pub fn client_config(&self) -> Result<rados::ClientConfig, rados::Error> {
        let mut b = rados::ClientConfig::builder().env(true);
        if let Some(conf) = &self.conf {
            b = b.conf_file(conf);
        }
        if let Some(name) = &self.name {
            b = b.name(name.clone());
        } else if let Some(id) = &self.id {
            b = b.id(id.clone());
        }
        if let Some(k) = &self.keyring {
            b = b.keyring(k);
        }
        if let Some(m) = &self.mon_host {
            b = b.mon_host(m.clone());
        }
        // as the rbd tool's init_context (tools/rbd/Utils.cc): `config ... list` shows it
        b = b.set("rbd_cache_writethrough_until_flush", "false");
        b.build()
    }

    /// Connects to the cluster.
    pub async fn connect(&self) -> Result<rados::Rados, rados::Error> {
        rados::Rados::connect(self.client_config()?).await
    }
}
