//! What the interoperability tests share: finding the real cluster they run against, and
//! running Ceph's own tools (`ceph`, `rados`, `rbd`) on it as the reference.
//!
//! The cluster is found through `CEPH_CONF`, the variable Ceph's own tools read. Without it
//! every interop test fails, saying how to get a cluster: `scripts/ceph-cluster start` (or
//! `scripts/test`, which starts one, runs every test and stops it).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// Why the interop tests cannot run without a cluster, and what to do.
pub const NO_CLUSTER_HELP: &str = "CEPH_CONF is not set: the interop tests need a real Ceph \
     cluster. Start one with `scripts/ceph-cluster start` and export the CEPH_CONF line it \
     prints, or run `scripts/test`, which starts a cluster, runs every test and stops it.";

/// The cluster's configuration file, from `CEPH_CONF`. Panics with [`NO_CLUSTER_HELP`] if unset
/// or missing, so that a test run without a cluster fails loudly instead of passing vacuously.
pub fn ceph_conf() -> PathBuf {
    let conf = std::env::var_os("CEPH_CONF").map(PathBuf::from);
    match conf {
        Some(path) if path.is_file() => path,
        Some(path) => panic!(
            "CEPH_CONF={} does not exist. {NO_CLUSTER_HELP}",
            path.display()
        ),
        None => panic!("{NO_CLUSTER_HELP}"),
    }
}

/// Where Ceph's own tools (the tests' reference) run: on the host, or, for a cluster in one
/// of the project's chroots (scripts/ceph-chroot), inside that chroot with the release's own
/// tools. `CEPH_TOOLS_CHROOT=<release>` and `CEPH_TOOLS_CONF=<conf path inside the chroot>`
/// select the latter; the test command sets them.
fn tool_command(tool: &str) -> Command {
    let timeout = Duration::from_secs(120).as_secs().to_string();
    match (
        std::env::var("CEPH_TOOLS_CHROOT"),
        std::env::var("CEPH_TOOLS_CONF"),
    ) {
        (Ok(release), Ok(inner_conf)) if !release.is_empty() => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ceph-chroot");
            let mut cmd = Command::new("timeout");
            cmd.args([
                timeout.as_str(),
                script,
                "exec",
                &release,
                tool,
                "-c",
                &inner_conf,
            ]);
            cmd
        }
        _ => {
            let mut cmd = Command::new("timeout");
            cmd.args([timeout.as_str(), tool, "-c"]).arg(ceph_conf());
            cmd
        }
    }
}

/// Runs one of Ceph's command-line tools against the cluster (with `-c CEPH_CONF`, or inside
/// the cluster's chroot, see [`tool_command`]), bounded in time, and returns its output.
/// Panics if it cannot be started or does not succeed.
pub fn ceph_tool(tool: &str, args: &[&str]) -> Output {
    ceph_conf();
    let output = tool_command(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e} (are Ceph's packages installed?)"));
    assert!(
        output.status.success(),
        "{tool} {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `ceph ARGS -f json` and parses its output.
pub fn ceph_json(args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", "json"]);
    let out = ceph_tool("ceph", &all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ceph {} printed no JSON ({e}): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A value from the cluster's ceph.conf `[global]` section (`key = value`), if present.
pub fn conf_value(key: &str) -> Option<String> {
    let text = std::fs::read_to_string(ceph_conf()).ok()?;
    let normalise = |k: &str| k.trim().replace([' ', '-'], "_");
    let mut in_global = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_global = line == "[global]";
        } else if in_global {
            if let Some((k, v)) = line.split_once('=') {
                if normalise(k) == normalise(key) {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// Runs `scripts/ceph-cluster VERB NAME DIR` for the cluster under test (or `scripts/ceph-chroot
/// VERB RELEASE NAME DIR` for a chroot cluster). Panics if it fails.
fn daemon_control(verb: &str, name: &str) {
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");
    let mut cmd = match (
        std::env::var("CEPH_TOOLS_CHROOT"),
        std::env::var("CEPH_TOOLS_CONF"),
    ) {
        (Ok(release), Ok(inner_conf)) if !release.is_empty() => {
            let dir = std::path::Path::new(&inner_conf)
                .parent()
                .expect("CEPH_TOOLS_CONF names a file in the cluster directory")
                .to_owned();
            let mut cmd = Command::new(format!("{scripts}/ceph-chroot"));
            cmd.args([verb, &release, name]).arg(dir);
            cmd
        }
        _ => {
            let conf = ceph_conf();
            let dir = conf.parent().expect("CEPH_CONF names a file").to_owned();
            let mut cmd = Command::new(format!("{scripts}/ceph-cluster"));
            cmd.args([verb, name]).arg(dir);
            cmd
        }
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the cluster script: {e}"));
    assert!(
        out.status.success(),
        "{verb} {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops daemon `name` (`mon.a`, `mgr.x`, `osd.N`) of the cluster under test and starts it
/// again. A memstore OSD comes back empty; recovery refills it.
pub fn restart_daemon(name: &str) {
    daemon_control("restart", name);
}

/// Kills daemon `name` of the cluster under test with SIGKILL (`restart_daemon` brings it
/// back).
pub fn kill_daemon(name: &str) {
    daemon_control("kill", name);
}
