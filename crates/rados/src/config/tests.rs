//! Assembling a configuration: files, sections, environment, arguments, overrides.

use std::sync::atomic::{AtomicUsize, Ordering};

use cephx::KeyType;
use rand::SeedableRng;

use super::*;

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn scratch() -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rados-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn key(seed: u64) -> String {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let k = CryptoKey::generate(KeyType::AES, denc::UTime::new(1, 0), &mut rng).unwrap();
    k.to_base64().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A cluster directory: ceph.conf naming a keyring with keys for admin and bob.
fn cluster() -> (Scratch, PathBuf) {
    let dir = scratch();
    write(
        &dir,
        "keyring",
        &format!(
            "[client.admin]\n\tkey = {}\n[client.bob]\n\tkey = {}\n",
            key(1),
            key(2)
        ),
    );
    let conf = write(
        &dir,
        "ceph.conf",
        &format!(
            "[global]\n\
             fsid = 618f4408-9208-9921-c3e9-44a991122ddc\n\
             mon_host = [v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]\n\
             client_mount_timeout = 30\n\
             ms_mon_client_mode = crc\n\
             [client]\n\
             keyring = {dir}/keyring\n\
             rados_mon_op_timeout = 7\n\
             [client.bob]\n\
             rados_mon_op_timeout = 9\n\
             mon client hunt interval = 0.5\n",
            dir = dir.display()
        ),
    );
    (dir, conf)
}

#[test]
fn defaults_and_section_precedence() {
    let (_dir, conf) = cluster();
    let c = ClientConfig::builder().conf_file(&conf).build().unwrap();
    assert_eq!(c.name.to_string(), "client.admin");
    assert_eq!(c.cluster, "ceph");
    assert_eq!(c.conf_path.as_deref(), Some(conf.as_path()));
    assert_eq!(c.key().to_base64().as_str(), key(1));
    assert_eq!(
        c.fsid.unwrap().to_string(),
        "618f4408-9208-9921-c3e9-44a991122ddc"
    );
    assert_eq!(c.mon_hosts.len(), 1);
    assert_eq!(c.mon_hosts[0].addrs.0.len(), 2);
    assert_eq!(c.mount_timeout, Duration::from_secs(30));
    assert_eq!(c.mon_op_timeout, Some(Duration::from_secs(7)));
    assert_eq!(c.osd_op_timeout, None);
    assert_eq!(c.mon_modes, [ConMode::CRC]);
    assert_eq!(c.service_modes, [ConMode::CRC, ConMode::SECURE]);
    assert_eq!(c.hunt_interval, Duration::from_secs(3));
    assert_eq!(c.hunt_parallel, 3);
    assert_eq!(c.ping_interval, Duration::from_secs(10));
    assert_eq!(c.ping_timeout, Duration::from_secs(30));
    // [client.bob] beats [client] beats [global]
    let bob = ClientConfig::builder()
        .conf_file(&conf)
        .id("bob")
        .build()
        .unwrap();
    assert_eq!(bob.name.to_string(), "client.bob");
    assert_eq!(bob.key().to_base64().as_str(), key(2));
    assert_eq!(bob.mon_op_timeout, Some(Duration::from_secs(9)));
    assert_eq!(bob.hunt_interval, Duration::from_millis(500));
    assert_eq!(bob.get("mon-client-hunt-interval"), Some("0.5"));
}

#[test]
fn librados_defaults_without_overrides() {
    let dir = scratch();
    let conf = write(&dir, "ceph.conf", "[global]\nmon_host = 10.0.0.1\n");
    let c = ClientConfig::builder()
        .conf_file(&conf)
        .key(key(3))
        .build()
        .unwrap();
    assert_eq!(c.mount_timeout, Duration::from_secs(300));
    assert_eq!(c.mon_op_timeout, None);
    assert_eq!(
        c.get("key"),
        None,
        "the secret is not kept among the options"
    );
    assert!(!format!("{c:?}").contains(&key(3)), "nor printed");
    assert_eq!(c.mon_modes, [ConMode::SECURE, ConMode::CRC]);
    // a bare IP means both protocols
    assert_eq!(c.mon_hosts.len(), 2);
}

#[test]
fn environment_arguments_and_overrides_in_order() {
    let (dir, conf) = cluster();
    let other = write(
        &dir,
        "other.keyring",
        &format!("[client.carol]\n key = {}\n", key(4)),
    );
    // CEPH_CONF finds the file; CEPH_ARGS picks the id and a monitor
    let env = EnvVars {
        ceph_conf: Some(conf.display().to_string()),
        ceph_args: Some(format!(
            "--id carol -m 10.9.9.9:3300 --keyring {}",
            other.display()
        )),
        ceph_keyring: None,
    };
    let c = ClientConfig::builder()
        .env_vars(env.clone())
        .build()
        .unwrap();
    assert_eq!(c.name.to_string(), "client.carol");
    assert_eq!(c.key().to_base64().as_str(), key(4));
    assert_eq!(c.mon_hosts[0].addrs.to_string(), "v2:10.9.9.9:3300/0");
    // arguments beat CEPH_ARGS; set() beats arguments
    let c = ClientConfig::builder()
        .env_vars(env.clone())
        .args(["--id", "admin", "--keyring"])
        .args([dir.join("keyring").display().to_string()])
        .args(["--rados-mon-op-timeout", "11", "-m", "10.8.8.8:3300"])
        .set("rados_mon_op_timeout", "12")
        .build()
        .unwrap();
    assert_eq!(c.name.to_string(), "client.admin");
    assert_eq!(c.key().to_base64().as_str(), key(1));
    assert_eq!(c.mon_op_timeout, Some(Duration::from_secs(12)));
    assert_eq!(c.mon_hosts[0].addrs.to_string(), "v2:10.8.8.8:3300/0");
    // CEPH_KEYRING beats the file, CEPH_ARGS beats CEPH_KEYRING
    let kr = write(&dir, "k2", &format!("[client.admin]\n key = {}\n", key(5)));
    let env2 = EnvVars {
        ceph_conf: Some(conf.display().to_string()),
        ceph_args: None,
        ceph_keyring: Some(kr.display().to_string()),
    };
    let c = ClientConfig::builder().env_vars(env2).build().unwrap();
    assert_eq!(c.key().to_base64().as_str(), key(5));
    // the environment is ignored unless asked for
    let err = ClientConfig::builder()
        .conf_file(dir.join("missing.conf"))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::NoConfFile { .. })),
        "{err}"
    );
}

#[test]
fn conf_in_ceph_args_beats_ceph_conf() {
    let (dir, conf) = cluster();
    let second = write(
        &dir,
        "second.conf",
        &format!(
            "[global]\nmon host = v2:10.1.1.1\nkeyring = {}/keyring\n",
            dir.display()
        ),
    );
    let env = EnvVars {
        ceph_conf: Some(conf.display().to_string()),
        ceph_args: Some(format!("-c {}", second.display())),
        ceph_keyring: None,
    };
    let c = ClientConfig::builder().env_vars(env).build().unwrap();
    assert_eq!(c.conf_path.as_deref(), Some(second.as_path()));
    assert_eq!(c.mon_hosts[0].addrs.to_string(), "v2:10.1.1.1:3300/0");
    assert_eq!(c.cluster, "second");
}

#[test]
fn metavariables_in_keyring_paths() {
    let dir = scratch();
    std::fs::create_dir_all(dir.join("client.admin")).unwrap();
    write(
        &dir.join("client.admin"),
        "prod.keyring",
        &format!("[client.admin]\n key = {}\n", key(6)),
    );
    let conf = write(
        &dir,
        "prod.conf",
        &format!(
            "[global]\nmon_host = 127.0.0.1:3300\n[client]\nkeyring = /nonexistent/x,{}/$name/$cluster.keyring\n",
            dir.display()
        ),
    );
    let c = ClientConfig::builder().conf_file(&conf).build().unwrap();
    assert_eq!(c.cluster, "prod");
    assert_eq!(c.key().to_base64().as_str(), key(6));
}

#[test]
fn monitors_from_mon_sections() {
    let dir = scratch();
    let conf = write(
        &dir,
        "ceph.conf",
        "[mon.a]\nmon addr = v2:10.0.0.1\n[mon.b]\nmon addr = 10.0.0.2\n",
    );
    let c = ClientConfig::builder()
        .conf_file(&conf)
        .key(key(7))
        .build()
        .unwrap();
    let mons: Vec<String> = c
        .mon_hosts
        .iter()
        .map(|m| format!("{} {}", m.name, m.addrs))
        .collect();
    assert_eq!(mons, ["a v2:10.0.0.1:3300/0", "b v1:10.0.0.2:6789/0"]);
}

#[test]
fn bad_values_and_missing_pieces() {
    let (_dir, conf) = cluster();
    let bad = |k: &str, v: &str| {
        ClientConfig::builder()
            .conf_file(&conf)
            .set(k, v)
            .build()
            .unwrap_err()
    };
    assert!(matches!(
        bad("client_mount_timeout", "soon"),
        Error::Config(ConfigError::InvalidOption { .. })
    ));
    assert!(matches!(
        bad("ms_mon_client_mode", "fast"),
        Error::Config(ConfigError::InvalidOption { .. })
    ));
    assert!(matches!(
        bad("mon_host", "[v2:1.2.3.4"),
        Error::Config(ConfigError::MonHost { .. })
    ));
    assert!(matches!(
        bad("fsid", "not-a-uuid"),
        Error::Config(ConfigError::InvalidOption { .. })
    ));
    assert!(matches!(
        bad("keyring", "/nonexistent/keyring"),
        Error::Cephx(cephx::CephxError::NoKeyring { .. })
    ));
    let err = ClientConfig::builder()
        .conf_file(&conf)
        .name("client.nobody")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Cephx(cephx::CephxError::KeyNotFound(_))),
        "{err}"
    );
    assert!(
        ClientConfig::builder()
            .conf_file(&conf)
            .name("nodot")
            .build()
            .is_err()
    );
    // no file, no mon_host
    let err = ClientConfig::builder()
        .no_conf_file()
        .key(key(8))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::NoMonitors)),
        "{err}"
    );
    // only programmatic options
    let c = ClientConfig::builder()
        .no_conf_file()
        .mon_host("localhost:3300")
        .key(key(8))
        .build()
        .unwrap();
    assert!(!c.mon_hosts.is_empty());
    assert!(c.conf_path.is_none());
}

#[test]
fn default_search_list_expands() {
    let name = AuthName::client("admin");
    let paths = conf_paths(DEFAULT_CONF_SEARCH, "ceph", &name);
    assert_eq!(paths[0], PathBuf::from("/etc/ceph/ceph.conf"));
    assert!(paths[1].ends_with(".ceph/ceph.conf"));
    assert_eq!(paths[2], PathBuf::from("ceph.conf"));
    assert_eq!(cluster_from_conf(Some(Path::new("/x/foo.conf"))), "foo");
    assert_eq!(cluster_from_conf(Some(Path::new("/x/conf"))), "ceph");
}
