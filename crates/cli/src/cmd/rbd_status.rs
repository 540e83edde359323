//! `rbd-rs status IMAGE` (src/tools/rbd/action/Status.cc): the header's watchers and, for
//! images being migrated, the migration's two images and state. Persistent-cache state
//! (DIRTY_CACHE images) is not shown.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cmd::rbd::{ImageSpecArgs, open_pool, print_json};
use crate::error::CliError;
use crate::output::Format;

#[derive(Debug, Serialize)]
struct WatcherJson {
    address: String,
    client: i64,
    cookie: u64,
}

/// Status.cc's "migration" section: a `source_spec` or the source's four fields.
#[derive(Debug, Serialize)]
struct MigrationJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    source_spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_pool_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_pool_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_image_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_image_id: Option<String>,
    dest_pool_name: String,
    dest_pool_namespace: String,
    dest_image_name: String,
    dest_image_id: String,
    state: &'static str,
    state_description: String,
}

#[derive(Debug, Serialize)]
struct StatusJson {
    watchers: Vec<WatcherJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migration: Option<MigrationJson>,
}

impl StatusJson {
    /// Status.cc's plain output.
    fn plain(&self) -> String {
        let mut s = String::new();
        if self.watchers.is_empty() {
            s.push_str("Watchers: none\n");
        } else {
            s.push_str("Watchers:\n");
            for w in &self.watchers {
                let _ = writeln!(
                    s,
                    "\twatcher={} client.{} cookie={}",
                    w.address, w.client, w.cookie
                );
            }
        }
        if let Some(m) = &self.migration {
            let with_ns = |pool: &str, ns: &str| {
                if ns.is_empty() {
                    pool.to_owned()
                } else {
                    format!("{pool}/{ns}")
                }
            };
            s.push_str("Migration:\n\tsource: ");
            match &m.source_spec {
                Some(spec) => s.push_str(spec),
                None => {
                    let pool = with_ns(
                        m.source_pool_name.as_deref().unwrap_or_default(),
                        m.source_pool_namespace.as_deref().unwrap_or_default(),
                    );
                    let name = m.source_image_name.as_deref().unwrap_or_default();
                    let _ = write!(s, "{pool}/{name}");
                    match m.source_image_id.as_deref() {
                        Some(id) if !id.is_empty() => {
                            let _ = write!(s, " ({id})");
                        }
                        _ => {}
                    }
                }
            }
            let _ = writeln!(
                s,
                "\n\tdestination: {}/{} ({})",
                with_ns(&m.dest_pool_name, &m.dest_pool_namespace),
                m.dest_image_name,
                m.dest_image_id
            );
            let _ = write!(s, "\tstate: {}", m.state);
            if !m.state_description.is_empty() {
                let _ = write!(s, " ({})", m.state_description);
            }
            s.push('\n');
        }
        s
    }
}

fn pool_name(rados: &rados::Rados, id: i64) -> String {
    rados
        .pool_list()
        .into_iter()
        .find(|(i, _)| *i == id)
        .map_or_else(|| id.to_string(), |(_, n)| n)
}

fn migration_json(rados: &rados::Rados, m: rbd::MigrationStatus) -> MigrationJson {
    let import = m.source_pool_id < 0;
    MigrationJson {
        source_spec: import.then_some(m.source_spec),
        source_pool_name: (!import).then(|| pool_name(rados, m.source_pool_id)),
        source_pool_namespace: (!import).then_some(m.source_pool_namespace),
        source_image_name: (!import).then_some(m.source_image_name),
        source_image_id: (!import).then_some(m.source_image_id),
        dest_pool_name: pool_name(rados, m.dest_pool_id),
        dest_pool_namespace: m.dest_pool_namespace,
        dest_image_name: m.dest_image_name,
        dest_image_id: m.dest_image_id,
        state: m.state.name(),
        state_description: m.state_description,
    }
}

/// Prints `rbd status`'s output for the image `spec` names.
pub async fn run(
    rados: &rados::Rados,
    format: Format,
    spec: &ImageSpecArgs,
) -> Result<(), CliError> {
    let spec = spec.resolve()?;
    let pool = open_pool(rados, &spec.pool, &spec.namespace).await?;
    let image = pool.open(&spec.image, rbd::OpenMode::ReadOnly).await?;
    let watchers = image
        .watchers_list()
        .await?
        .into_iter()
        .map(|w| WatcherJson {
            address: w.address,
            client: w.id,
            cookie: w.cookie,
        })
        .collect();
    // Status.cc: a failure to read the migration is reported, not fatal
    let migration = match image.migration_status().await {
        Ok(m) => m.map(|m| migration_json(rados, m)),
        Err(e) => {
            eprintln!("rbd: getting migration status failed: {e}");
            None
        }
    };
    let status = StatusJson {
        watchers,
        migration,
    };
    match format {
        Format::Plain => print!("{}", status.plain()),
        _ => print_json(format, &status)?,
    }
    Ok(())
}
