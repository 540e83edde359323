//! What the interoperability tests share: finding the real cluster they run against, and
//! running Ceph's own tools (`ceph`, `rados`, `rbd`) on it as the reference.
//!
//! The cluster is found through `CEPH_CONF`, the variable Ceph's own tools read. Without it
//! every interop test fails, saying how to get a cluster: `scripts/ceph-cluster start` (or
//! `scripts/test`, which starts one, runs every test and stops it).

use std::path::{Path, PathBuf};
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
pub fn tool_command(tool: &str) -> Command {
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
    let output = quiet(
        tool_command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e} (are Ceph's packages installed?)")),
    );
    assert!(
        output.status.success(),
        "{tool} {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Like [`ceph_tool`], but returns the output whether or not the tool succeeded.
pub fn try_ceph_tool(tool: &str, args: &[&str]) -> Output {
    ceph_conf();
    quiet(
        tool_command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e} (are Ceph's packages installed?)")),
    )
}

/// A tool's output without the log lines librados prints on stderr now and then.
fn quiet(mut out: Output) -> Output {
    out.stderr = without_log_lines(&out.stderr).into_bytes();
    out
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

/// Whether the OSD map flags `pool` full (`ceph osd pool ls detail`: its quota or the
/// cluster's full ratio reached).
pub fn pool_flagged_full(pool: &str) -> bool {
    let pools = ceph_json(&["osd", "pool", "ls", "detail"]);
    pools
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["pool_name"] == pool)
        .any(|p| {
            p["flags_names"]
                .as_str()
                .is_some_and(|f| f.split(',').any(|flag| flag == "full"))
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

/// The chroot release the cluster under test runs in, if any (`CEPH_TOOLS_CHROOT`).
fn chroot_release() -> Option<String> {
    std::env::var("CEPH_TOOLS_CHROOT")
        .ok()
        .filter(|r| !r.is_empty())
}

/// The root directory of a release's chroot (as scripts/ceph-chroot lays them out).
fn chroot_root(release: &str) -> PathBuf {
    let base = std::env::var("CEPH_CHROOT_BASE").unwrap_or_else(|_| "/var/tmp/ceph-chroots".into());
    PathBuf::from(base).join(release)
}

/// A fresh directory that both this process and the reference tools can read and write: a
/// temporary directory on the host, or one inside the chroot of the cluster under test.
/// It lives until the test process has exited: the first call of a later test process
/// removes it (a full run writes gigabytes of images and exports there).
pub fn scratch_dir(label: &str) -> PathBuf {
    let unique = format!(
        "rbd-rs-{label}-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let base = match chroot_release() {
        Some(release) => chroot_root(&release).join("tmp"),
        None => std::env::temp_dir(),
    };
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| remove_scratch_dirs_of_exited_processes(&base));
    let dir = base.join(unique);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Removes the [`scratch_dir`]s under `base` whose test process is gone
/// (`rbd-rs-{label}-{pid}-{nanoseconds in hex}` with no `/proc/{pid}`). Directories of live
/// processes, and anything else named `rbd-rs-*` (the clusters of scripts/test), stay.
fn remove_scratch_dirs_of_exited_processes(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("rbd-rs-")) else {
            continue;
        };
        let mut parts = rest.rsplitn(3, '-');
        let (Some(stamp), Some(pid), Some(_label)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let is_scratch = stamp.len() >= 12
            && stamp.bytes().all(|b| b.is_ascii_hexdigit())
            && !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit());
        if is_scratch && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A command path that runs the reference `tool` (`osdmaptool`, `crushtool`, ...) of the
/// cluster's own release: the host's tool, or for a chroot cluster a small wrapper (in a
/// scratch directory) that runs the chroot's tool and maps host paths under the chroot to the
/// paths the tool sees. Files passed to it must live under [`scratch_dir`].
pub fn reference_tool(tool: &str) -> String {
    let Some(release) = chroot_release() else {
        return tool.to_owned();
    };
    let root = chroot_root(&release);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ceph-chroot");
    let dir = scratch_dir("tools");
    let wrapper = dir.join(tool);
    let body = format!(
        "#!/bin/bash\n# runs {release}'s {tool}, with host paths under {root} mapped inside\nargs=()\nfor a in \"$@\"; do args+=(\"${{a#{root}}}\"); done\nexec {script} exec {release} {tool} \"${{args[@]}}\"\n",
        root = root.display()
    );
    std::fs::write(&wrapper, body).unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
    let status = Command::new("chmod").arg("755").arg(&wrapper).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "chmod {}",
        wrapper.display()
    );
    wrapper.display().to_string()
}

/// How the reference tools see `path` (a file under [`scratch_dir`]): the same path on the
/// host, the path inside the chroot for a chroot cluster.
pub fn tool_view(path: &std::path::Path) -> String {
    match chroot_release() {
        Some(release) => {
            let root = chroot_root(&release);
            match path.strip_prefix(&root) {
                Ok(inner) => format!("/{}", inner.display()),
                Err(_) => panic!(
                    "{} is not inside the chroot {}",
                    path.display(),
                    root.display()
                ),
            }
        }
        None => path.display().to_string(),
    }
}

/// Sends a monitor command given as JSON through Ceph's own Python binding (`rados.Rados.
/// mon_command`), for commands the `ceph` CLI cannot spell (such as `osd primary-temp PG -1`).
/// Returns the command's output text; panics unless it succeeds.
pub fn ceph_mon_command_json(json: &str) -> String {
    const SCRIPT: &str = "import rados, sys\n\
        with rados.Rados(conffile=sys.argv[1]) as c:\n    \
            r, out, status = c.mon_command(sys.argv[2], b'')\n    \
            print(status, file=sys.stderr)\n    \
            sys.stdout.write(out.decode(errors='replace'))\n    \
            sys.exit(0 if r == 0 else 1)\n";
    let mut cmd = match (chroot_release(), std::env::var("CEPH_TOOLS_CONF")) {
        (Some(release), Ok(inner_conf)) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ceph-chroot");
            let mut cmd = Command::new(script);
            cmd.args(["exec", &release, "python3", "-c", SCRIPT, &inner_conf]);
            cmd
        }
        _ => {
            let mut cmd = Command::new("/usr/bin/python3");
            cmd.args(["-c", SCRIPT]).arg(ceph_conf());
            cmd
        }
    };
    let out = cmd
        .arg(json)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
    assert!(
        out.status.success(),
        "mon command {json} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A name unique to this test process and call (`LABEL-PID-RANDOM`), for objects and pools.
pub fn unique_name(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{label}-{}-{:x}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `len` pseudo-random bytes from `seed` (xorshift: content that differs everywhere, cheap
/// to make and to compare).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// Sends the client's tracing output to the test's output when `RUST_LOG` is set (e.g.
/// `RUST_LOG=rados=debug cargo test ... -- --nocapture`); harmless if called twice.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Stderr without the log lines librados sometimes prints while a tool exits
/// (`2026-11-21T08:35:18.318+0000 7fcb606446c0 -1 monclient: get_auth_request but no auth
/// handler is set up`): noise of Ceph's, not part of what the tool says; [`ceph_tool`] and
/// [`try_ceph_tool`] drop them, so tests compare what the tools say.
fn without_log_lines(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .split_inclusive('\n')
        .filter(|line| {
            let b = line.as_bytes();
            !(b.len() > 24 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T')
        })
        .collect()
}

/// `python3` of the cluster's own release (inside its chroot for a chroot cluster), to run
/// python3-rados / python3-rbd as a reference client; give it [`tool_conf`].
pub fn python3() -> Command {
    match chroot_release() {
        Some(release) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ceph-chroot");
            let mut cmd = Command::new(script);
            cmd.args(["exec", &release, "python3"]);
            cmd
        }
        None => Command::new("/usr/bin/python3"),
    }
}

/// Whether the reference tools (and their librbd) are Pacific's (`rbd --version`).
pub fn reference_is_pacific() -> bool {
    String::from_utf8_lossy(&ceph_tool("rbd", &["--version"]).stdout).contains("pacific")
}

/// The cluster's ceph.conf as the reference tools and [`python3`] see it.
pub fn tool_conf() -> String {
    match chroot_release() {
        Some(_) => std::env::var("CEPH_TOOLS_CONF").unwrap_or_else(|_| panic!("{NO_CLUSTER_HELP}")),
        None => ceph_conf().display().to_string(),
    }
}

/// Serialises the tests of one test file that share cluster state (each test binary has
/// its own copy of this lock).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one async test body on a runtime of its own (two workers), after the other tests
/// of the same file that run this way; `RUST_LOG` turns on the client's tracing.
pub fn run(body: impl std::future::Future<Output = ()>) {
    let _serial = serial();
    init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("a tokio runtime: {e}"))
        .block_on(body);
}

/// A client of the cluster under test, configured from `CEPH_CONF` as librados would be.
pub async fn connect() -> rados::Rados {
    let config = rados::ClientConfig::builder()
        .conf_file(ceph_conf())
        .build()
        .unwrap_or_else(|e| panic!("the configuration of CEPH_CONF: {e}"));
    rados::Rados::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connecting: {e}"))
}

/// The images of pool `rbd` of the cluster under test.
pub async fn rbd_pool(rados: &rados::Rados) -> rbd::Rbd {
    let io = rados
        .ioctx("rbd")
        .await
        .unwrap_or_else(|e| panic!("pool rbd: {e}"));
    rbd::Rbd::new(io)
}

/// librbd's default features: layering, exclusive-lock, object-map, fast-diff,
/// deep-flatten.
pub const FEATURES_WITH_LOCK: u64 = 61;

/// Layering only: no exclusive lock, no object map.
pub const FEATURES_NO_LOCK: u64 = 1;

/// Create options of an image of `size` bytes with `features` (and object order `order`
/// when given).
pub fn image_options(size: u64, features: u64, order: Option<u8>) -> rbd::CreateOptions {
    let mut o = rbd::CreateOptions::new(size);
    o.features = Some(features);
    o.order = order;
    o
}

/// Connects and creates image [`unique_name`]`(label)` in pool `rbd` (see
/// [`image_options`]): the connection, the pool and the image's name.
pub async fn new_image(
    label: &str,
    size: u64,
    features: u64,
    order: Option<u8>,
) -> (rados::Rados, rbd::Rbd, String) {
    let rados = connect().await;
    let pool = rbd_pool(&rados).await;
    let name = unique_name(label);
    pool.create(&name, &image_options(size, features, order))
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    (rados, pool, name)
}

/// The reference `rbd ARGS` (see [`ceph_tool`]), its stdout as text.
pub fn rbd_tool(args: &[&str]) -> String {
    String::from_utf8(ceph_tool("rbd", args).stdout)
        .unwrap_or_else(|e| panic!("rbd {} printed no text: {e}", args.join(" ")))
}

/// The reference `rbd ARGS --format json`, parsed.
pub fn rbd_tool_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = rbd_tool(&all);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("rbd {} printed no JSON ({e}): {out}", args.join(" ")))
}

/// `rbd snap ls`: (name, size) per snapshot.
pub type SnapSizes = Vec<(String, u64)>;

/// `rbd du` without the image names: (snapshot, provisioned, used) per entry.
pub type DiskUsage = Vec<(String, u64, u64)>;

/// `rbd snap ls` of `spec` as (name, size) per snapshot.
pub fn rbd_snap_sizes(spec: &str) -> SnapSizes {
    rbd_tool_json(&["snap", "ls", spec])
        .as_array()
        .map(|snaps| {
            snaps
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().unwrap_or_default().to_owned();
                    (name, s["size"].as_u64().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `rbd du` of `spec` without the image names: (snapshot, provisioned, used) per entry.
pub fn rbd_du(spec: &str) -> DiskUsage {
    let du = rbd_tool_json(&["du", spec]);
    let images = du["images"]
        .as_array()
        .unwrap_or_else(|| panic!("rbd du {spec}: no images in {du}"));
    images
        .iter()
        .map(|i| {
            (
                i["snapshot"].as_str().unwrap_or("").to_owned(),
                i["provisioned_size"].as_u64().unwrap_or_default(),
                i["used_size"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The bytes of `spec` (`[pool/]image[@snap]`) as the reference `rbd export` writes them,
/// through a scratch file.
pub fn rbd_export(spec: &str) -> Vec<u8> {
    let dir = scratch_dir("rbd-export");
    let file = dir.join(unique_name("exp"));
    ceph_tool("rbd", &["export", spec, &tool_view(&file), "--no-progress"]);
    let data = std::fs::read(&file).unwrap_or_else(|e| panic!("reading the export: {e}"));
    let _ = std::fs::remove_file(&file);
    data
}

/// A parent image for clone tests: `name` created by `rbd` (`size` bytes of `object_size`
/// objects) holding `data` (written here from offset 0), with snapshot `base` made and
/// protected by `rbd` (clone format 1 needs the protection).
pub async fn protected_parent(
    pool: &rbd::Rbd,
    name: &str,
    size: &str,
    object_size: &str,
    data: Vec<u8>,
) {
    rbd_tool(&["create", name, "--size", size, "--object-size", object_size]);
    let image = pool.open(name, rbd::OpenMode::ReadWrite).await.unwrap();
    image.write(0, data).await.unwrap();
    image.close().await.unwrap();
    rbd_tool(&["snap", "create", &format!("{name}@base")]);
    rbd_tool(&["snap", "protect", &format!("{name}@base")]);
}

/// The reference `rbd object-map check SPEC` succeeds.
pub fn assert_object_map_valid(spec: &str) {
    let o = try_ceph_tool("rbd", &["object-map", "check", spec]);
    assert!(
        o.status.success(),
        "object-map check {spec}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A python3 script running beside a test (python3-rbd holding an image open, say), driven
/// line by line: the test reads what it prints and tells it when to go on.
pub struct PythonSession {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl PythonSession {
    /// Starts `python3 -c code` (in the reference tools' chroot when there is one).
    pub fn start(code: &str) -> PythonSession {
        use std::process::Stdio;
        let mut child = python3()
            .args(["-c", code])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        PythonSession { child, stdin, out }
    }

    /// The next line the script prints, trimmed.
    pub fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut s = String::new();
        self.out
            .read_line(&mut s)
            .expect("reading the script's output");
        s.trim().to_owned()
    }

    /// Sends the script a line (its `sys.stdin.readline()` returns).
    pub fn go_on(&mut self) {
        use std::io::Write;
        writeln!(self.stdin, "go").expect("writing to the script");
        self.stdin.flush().expect("writing to the script");
    }

    /// Waits for the script to end; panics unless it succeeded.
    pub fn finish(mut self) {
        let status = self.child.wait().expect("waiting for the script");
        assert!(status.success(), "the python3 script failed: {status}");
    }
}
