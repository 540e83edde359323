//! `rbd-rs status IMAGE` and `rbd-rs info`'s mirroring lines against the real cluster of
//! `CEPH_CONF` (fails without one), compared with the host's `rbd`: watchers of an image
//! python3-rbd holds open, a migration being prepared/executed, snapshot mirroring.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use interop_tests::{python3, rbd_tool as rbd, tool_conf, try_ceph_tool, unique_name};

mod common;
use common::ok;

/// `cmd SPEC` prints the same as rbd's, plain and JSON.
fn same(cmd: &str, spec: &str) {
    assert_eq!(ok(&[cmd, spec]), rbd(&[cmd, spec]), "{cmd} {spec}");
    assert_eq!(
        ok(&[cmd, spec, "--format", "json"]),
        rbd(&[cmd, spec, "--format", "json"]),
        "{cmd} {spec} json"
    );
}

/// Runs the `rbd` commands when dropped, ignoring errors (cleanup on failure too).
struct Cleanup(Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in &self.0 {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = try_ceph_tool("rbd", &args);
        }
    }
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A fresh namespace of pool `rbd` with image-mode mirroring enabled, torn down (images
/// and trash included) when dropped, after the image-level `undo` commands.
struct MirrorNamespace {
    ns: String,
    undo: Cleanup,
}

impl MirrorNamespace {
    fn new(label: &str, images: &[&str]) -> MirrorNamespace {
        let ns = unique_name(label);
        let pool_ns = format!("rbd/{ns}");
        let mut undo = Vec::new();
        for image in images {
            let spec = format!("{pool_ns}/{image}");
            undo.push(cmd(&["mirror", "image", "promote", &spec]));
            undo.push(cmd(&["mirror", "image", "disable", "--force", &spec]));
            undo.push(cmd(&["rm", &spec]));
        }
        undo.push(cmd(&["trash", "purge", &pool_ns]));
        undo.push(cmd(&["mirror", "pool", "disable", &pool_ns]));
        undo.push(cmd(&["namespace", "rm", &pool_ns]));
        rbd(&["namespace", "create", &pool_ns]);
        // Reef and later need the default namespace mirrored too (left on: it mirrors
        // nothing by itself, and other tests may rely on it meanwhile)
        rbd(&["mirror", "pool", "enable", "rbd", "image"]);
        rbd(&["mirror", "pool", "enable", &pool_ns, "image"]);
        MirrorNamespace {
            ns,
            undo: Cleanup(undo),
        }
    }

    /// `rbd/NS/IMAGE`.
    fn spec(&self, image: &str) -> String {
        format!("rbd/{}/{image}", self.ns)
    }

    /// Tears down now; the namespace must be gone afterwards (each image-level step may
    /// fail harmlessly: already primary, already disabled, already removed).
    fn finish(mut self) {
        let undo = std::mem::take(&mut self.undo.0);
        let last = undo.len().saturating_sub(1);
        for (i, args) in undo.iter().enumerate() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = try_ceph_tool("rbd", &args);
            if i == last {
                assert!(
                    out.status.success(),
                    "rbd {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

#[test]
fn status_lists_watchers_like_rbd() {
    let name = unique_name("status-cli");
    let _cleanup = Cleanup(vec![cmd(&["rm", &name])]);
    rbd(&["create", "--size", "8M", &name]);
    same("status", &name);
    assert_eq!(ok(&["status", &name]), "Watchers: none\n");
    // python3-rbd holds it open read-write (a header watch) until its stdin closes
    let py = format!(
        "import rados, rbd, sys\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, '{name}')\n\
         print('open', flush=True)\n\
         sys.stdin.read()\n\
         im.close()\n",
        tool_conf()
    );
    let mut child = python3()
        .args(["-c", &py])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "open\n");
    let plain = ok(&["status", &name]);
    same("status", &name);
    assert!(plain.starts_with("Watchers:\n\twatcher="), "{plain}");
    assert_eq!(ok(&["status", "--image", &name, "-p", "rbd"]), plain);
    child.stdin.take().unwrap().write_all(b"").unwrap();
    child.wait().unwrap();
    same("status", &name);
    // without an image it is still the cluster summary
    assert!(ok(&["status"]).contains("cluster:"));
    rbd(&["rm", &name]);
}

#[test]
fn status_shows_migration_like_rbd() {
    let (src, dst) = (unique_name("status-src"), unique_name("status-dst"));
    let _cleanup = Cleanup(vec![
        cmd(&["migration", "abort", &dst]),
        cmd(&["rm", &src]),
        cmd(&["rm", &dst]),
    ]);
    ok(&["create", "--size", "8M", &src]);
    rbd(&["migration", "prepare", &src, &dst]);
    same("status", &dst);
    assert!(ok(&["status", &dst]).contains("\tstate: prepared\n"));
    same("info", &dst);
    rbd(&["migration", "execute", &dst]);
    same("status", &dst);
    assert!(ok(&["status", &dst]).contains("\tstate: executed\n"));
    rbd(&["migration", "abort", &dst]);
    same("status", &src);
    rbd(&["rm", &src]);
}

#[test]
fn info_shows_snapshot_mirroring_like_rbd() {
    let sandbox = MirrorNamespace::new("status-mirror", &["img"]);
    let spec = sandbox.spec("img");
    ok(&["create", "--size", "8M", &spec]);
    same("info", &spec);
    rbd(&["mirror", "image", "enable", &spec, "snapshot"]);
    same("info", &spec);
    assert!(ok(&["info", &spec]).contains("\tmirroring primary: true\n"));
    rbd(&["mirror", "image", "demote", &spec]);
    same("info", &spec);
    assert!(ok(&["info", &spec]).contains("\tmirroring primary: false\n"));
    // a non-primary image is disabled only with --force
    rbd(&["mirror", "image", "promote", &spec]);
    rbd(&["mirror", "image", "disable", &spec]);
    same("info", &spec);
    sandbox.finish();
}

#[test]
fn info_shows_journal_mirroring_like_rbd() {
    let sandbox = MirrorNamespace::new("status-jmirror", &["img"]);
    let spec = sandbox.spec("img");
    rbd(&["create", "--size", "8M", &spec]);
    rbd(&["feature", "enable", &spec, "journaling"]);
    same("info", &spec);
    rbd(&["mirror", "image", "enable", &spec, "journal"]);
    same("info", &spec);
    assert!(ok(&["info", &spec]).contains("\tmirroring primary: true\n"));
    // demoted: the journal's newest tag is owned by nobody
    rbd(&["mirror", "image", "demote", &spec]);
    same("info", &spec);
    assert!(ok(&["info", &spec]).contains("\tmirroring primary: false\n"));
    rbd(&["mirror", "image", "promote", &spec]);
    same("info", &spec);
    sandbox.finish();
}

#[test]
fn trash_mv_of_snapshot_mirrored_images_like_rbd() {
    let sandbox = MirrorNamespace::new("trash-mirror", &["ours", "theirs"]);
    let (ours, theirs) = (sandbox.spec("ours"), sandbox.spec("theirs"));
    for spec in [&ours, &theirs] {
        rbd(&["create", "--size", "8M", spec]);
        rbd(&["mirror", "image", "enable", spec, "snapshot"]);
        rbd(&["mirror", "image", "demote", spec]);
    }
    // demoted: refused by both, the same status and last line
    let a = common::rbd_rs(&["trash", "mv", &ours]);
    let b = try_ceph_tool("rbd", &["trash", "mv", &theirs]);
    assert_eq!(a.status.code(), b.status.code());
    assert_eq!(a.status.code(), Some(22));
    let last = |e: &[u8]| {
        String::from_utf8_lossy(e)
            .lines()
            .last()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(last(&a.stderr), last(&b.stderr));
    // primary again: moved, quietly, mirroring gone
    for spec in [&ours, &theirs] {
        rbd(&["mirror", "image", "promote", spec]);
    }
    let a = common::rbd_rs(&["trash", "mv", &ours]);
    let b = try_ceph_tool("rbd", &["trash", "mv", &theirs]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success());
    assert_eq!((a.stdout, a.stderr), (b.stdout, b.stderr));
    let keys = String::from_utf8(
        interop_tests::ceph_tool(
            "rados",
            &[
                "-p",
                "rbd",
                "--namespace",
                &sandbox.ns,
                "listomapkeys",
                "rbd_mirroring",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        !keys.contains("image_") && !keys.contains("global_"),
        "{keys}"
    );
    sandbox.finish();
}
