//! `rbd-rs rados watch|notify|listwatchers` next to Ceph's `rados` on the cluster of
//! `CEPH_CONF`: each side's watch answers the other's notify, and where both print
//! something (notify replies, watcher lists) the output is the same byte for byte.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use interop_tests::{ceph_conf, ceph_tool, tool_command, try_ceph_tool, unique_name};

mod common;
use common::rbd_rs;

const POOL: &str = "rbd";

/// A running watch (`rados` or `rbd-rs rados`) and its stdout lines.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    fn start(mut cmd: Command) -> Watcher {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting a watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let w = Watcher { child, lines };
        assert_eq!(w.line(), "press enter to exit...");
        w
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line from the watch")
    }

    /// Presses enter; returns the lines printed after those already read.
    fn stop(mut self) -> Vec<String> {
        self.child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        self.lines.iter().collect()
    }
}

fn ours_watching(oid: &str) -> Watcher {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbd-rs"));
    cmd.arg("-c")
        .arg(ceph_conf())
        .args(["rados", "-p", POOL, "watch", oid])
        .env_remove("CEPH_ARGS");
    Watcher::start(cmd)
}

fn theirs_watching(oid: &str) -> Watcher {
    let mut cmd = tool_command("rados");
    cmd.args(["-p", POOL, "watch", oid]);
    Watcher::start(cmd)
}

fn text(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn our_watch_answers_rados_notify_and_lists_like_rados() {
    let oid = unique_name("cli-watched");
    ceph_tool("rados", &["-p", POOL, "create", &oid]);
    let w = ours_watching(&oid);
    let listed_theirs = text(&ceph_tool("rados", &["-p", POOL, "listwatchers", &oid]));
    let listed_ours = text(&rbd_rs(&["rados", "-p", POOL, "listwatchers", &oid]));
    assert_eq!(listed_ours, listed_theirs);
    assert_eq!(listed_ours.lines().count(), 1, "{listed_ours}");

    let replies = text(&ceph_tool("rados", &["-p", POOL, "notify", &oid, "hello"]));
    // our watch answers with the payload it received: the encoded string, 9 bytes
    assert!(replies.starts_with("reply client."), "{replies}");
    assert!(
        replies.lines().next().unwrap().ends_with(" : 9 bytes"),
        "{replies}"
    );
    let notify = w.line();
    assert!(notify.starts_with("NOTIFY cookie "), "{notify}");
    assert_eq!(
        w.line(),
        "00000000  05 00 00 00 68 65 6c 6c  6f                       |....hello|"
    );
    assert_eq!(w.line(), "00000009");
    w.stop();
    let after = text(&rbd_rs(&["rados", "-p", POOL, "listwatchers", &oid]));
    assert!(after.is_empty(), "{after}");
    ceph_tool("rados", &["-p", POOL, "rm", &oid]);
}

#[test]
fn our_notify_reaches_rados_watch_and_prints_like_rados_notify() {
    let oid = unique_name("cli-notified");
    ceph_tool("rados", &["-p", POOL, "create", &oid]);
    let w = theirs_watching(&oid);
    let ours = text(&rbd_rs(&["rados", "-p", POOL, "notify", &oid, "hi there"]));
    let theirs = text(&ceph_tool(
        "rados",
        &["-p", POOL, "notify", &oid, "hi there"],
    ));
    assert_eq!(ours, theirs);
    assert!(ours.contains(" : 12 bytes"), "{ours}");
    // rados flushes its hexdumps only at exit: read everything after stopping it
    let printed = w.stop();
    let notifies = printed
        .iter()
        .filter(|l| l.starts_with("NOTIFY cookie "))
        .count();
    assert_eq!(notifies, 2, "{printed:?}");
    // nobody watching: nothing to print, success
    let none = rbd_rs(&["rados", "-p", POOL, "notify", &oid, "anyone"]);
    assert_eq!(text(&none), "");
    // a missing object: rados's words, exit status 1
    let missing = rbd_rs(&["rados", "-p", POOL, "listwatchers", "no-such-object"]);
    let theirs = try_ceph_tool("rados", &["-p", POOL, "listwatchers", "no-such-object"]);
    assert_eq!(missing.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
    ceph_tool("rados", &["-p", POOL, "rm", &oid]);
}
