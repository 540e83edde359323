//! Images with librbd's default features (layering, exclusive-lock, object-map, fast-diff,
//! deep-flatten) against the real cluster of `CEPH_CONF`: the exclusive lock shows in
//! `rbd lock ls` / `rbd status` while held, is handed over both ways between this client
//! and python3-rbd (librbd), is taken over from a killed owner, and the object map stays
//! right for `rbd object-map check` and `rbd du`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{
    ceph_tool, connect, pattern, rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run,
    try_ceph_tool, unique_name,
};
use rbd::{CreateOptions, OpenMode, Rbd};

/// `rbd object-map check` succeeds and leaves no invalid flag behind.
fn assert_object_map_valid(name: &str) {
    let o = try_ceph_tool("rbd", &["object-map", "check", name]);
    assert!(
        o.status.success(),
        "object-map check: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let flags = rbd_json(&["info", name])["flags"].clone();
    assert_eq!(flags, serde_json::json!([]), "flags after check");
}

/// A python3-rbd process holding `name` open read-write, writing on request: each line
/// `off len byte` written to its stdin is one `Image.write`, answered `ok`.
struct PyWriter {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The python process itself (the child may be a wrapper running it in a chroot).
    pid: String,
}

impl PyWriter {
    fn start(name: &str) -> PyWriter {
        let py = format!(
            "import rados, rbd, sys, os\n\
             c = rados.Rados(conffile='{}'); c.connect()\n\
             io = c.open_ioctx('rbd')\n\
             im = rbd.Image(io, '{name}')\n\
             print('gid', c.get_instance_id(), os.getpid(), flush=True)\n\
             for line in sys.stdin:\n    \
             off, n, b = (int(x) for x in line.split())\n    \
             im.write(bytes([b]) * n, off)\n    \
             print('ok', im.is_exclusive_lock_owner(), flush=True)\n\
             im.close()\n\
             print('closed', flush=True)\n",
            interop_tests::tool_conf()
        );
        let mut child = interop_tests::python3()
            .args(["-c", &py])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut w = PyWriter {
            child,
            stdin,
            stdout,
            pid: String::new(),
        };
        let first = w.line();
        assert!(first.starts_with("gid "), "{first}");
        w.pid = first.rsplit(' ').next().unwrap_or_default().to_owned();
        w
    }

    /// Kills the python process with SIGKILL (no release, no unwatch).
    fn kill(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-9", &self.pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -9 {}", self.pid);
        let _ = self.child.wait();
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).unwrap();
        s.trim().to_owned()
    }

    /// Writes `n` bytes of `b` at `off` and waits for it (the write takes the lock).
    fn write(&mut self, off: u64, n: usize, b: u8) {
        writeln!(self.stdin, "{off} {n} {b}").unwrap();
        self.stdin.flush().unwrap();
        let answer = self.line();
        assert_eq!(answer, "ok True", "python write answered {answer:?}");
    }

    fn close(mut self) {
        drop(self.stdin);
        let mut rest = String::new();
        self.stdout.read_line(&mut rest).unwrap();
        assert_eq!(rest.trim(), "closed");
        assert!(self.child.wait().unwrap().success());
    }
}

fn put(want: &mut [u8], off: u64, data: &[u8]) {
    want[off as usize..off as usize + data.len()].copy_from_slice(data);
}

fn lockers(name: &str) -> String {
    rbd(&["lock", "ls", name, "--format", "json"])
}

#[test]
fn default_features_image_written_here_passes_object_map_check() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-lock-om");
        let obj = 1u64 << 20;
        let size = 12 * obj;
        let mut opts = CreateOptions::new(size);
        opts.order = Some(20);
        pool.create(&name, &opts).await.unwrap();
        let j = rbd_json(&["info", &name]);
        assert_eq!(
            j["features"],
            serde_json::json!([
                "layering",
                "exclusive-lock",
                "object-map",
                "fast-diff",
                "deep-flatten"
            ])
        );
        // a fresh image: nothing used, the map is valid
        assert_object_map_valid(&name);

        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        assert!(!image.is_lock_owner(), "no lock before the first write");
        let mut want = vec![0u8; size as usize];
        let writes: [(u64, usize); 5] = [
            (0, 5000),
            (2 * obj + 10, 300),
            (5 * obj - 100, 200), // crosses objects 4 and 5
            (11 * obj + 7, (obj - 7) as usize),
            (8 * obj, obj as usize),
        ];
        for (k, &(off, len)) in writes.iter().enumerate() {
            let d = pattern(len, k as u64 + 40);
            assert_eq!(
                image.write(off, Bytes::from(d.clone())).await.unwrap(),
                len as u64
            );
            put(&mut want, off, &d);
        }
        assert!(image.is_lock_owner());
        // the lock as rbd sees it: one locker, us, with librbd's cookie
        let ls = lockers(&name);
        let gid = rados.global_id();
        assert!(ls.contains(&format!("client.{gid}")), "{ls}");
        assert!(ls.contains("auto "), "{ls}");
        let status = rbd(&["status", &name]);
        assert!(status.contains(&format!("client.{gid}")), "{status}");

        // discard object 8 whole (removed: NONEXISTENT), zero part of object 0
        image.discard(8 * obj, obj).await.unwrap();
        put(&mut want, 8 * obj, &vec![0u8; obj as usize]);
        image.write_zeroes(100, 50).await.unwrap();
        put(&mut want, 100, &[0u8; 50]);
        // objects 0, 2, 4, 5, 11 exist
        let got = image.read(0, size).await.unwrap();
        assert!(got[..] == want[..], "read back differs");

        // rbd du from the fast-diff map: provisioned vs used
        let du = rbd_json(&["du", &name]);
        let img = &du["images"][0];
        assert_eq!(img["provisioned_size"], size);
        assert_eq!(img["used_size"], 5 * obj, "{du}");

        // rbd object-map check takes the lock from us (we hand it over) and finds the map
        // right
        assert_object_map_valid(&name);
        assert!(
            !image.is_lock_owner(),
            "the lock went to rbd object-map check"
        );

        // write again: we take the lock back
        let d = pattern(4096, 99);
        image.write(3 * obj, Bytes::from(d.clone())).await.unwrap();
        put(&mut want, 3 * obj, &d);
        assert!(image.is_lock_owner());
        // shrink and grow keep the map right
        let mut image = image;
        image.resize(6 * obj, true).await.unwrap();
        want.truncate(6 * obj as usize);
        image.resize(7 * obj, false).await.unwrap();
        want.resize(7 * obj as usize, 0);
        assert!(image.read(0, 7 * obj).await.unwrap()[..] == want[..]);
        image.close().await.unwrap();
        assert!(!lockers(&name).contains("auto"), "released at close");
        assert_object_map_valid(&name);
        let du = rbd_json(&["du", &name]);
        assert_eq!(du["images"][0]["used_size"], 5 * obj, "{du}");
        let dir = interop_tests::scratch_dir("rbd-lock");
        let out = dir.join(format!("{name}.export"));
        ceph_tool("rbd", &["export", &name, &interop_tests::tool_view(&out)]);
        assert!(std::fs::read(&out).unwrap() == want, "rbd export differs");
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn takes_turns_writing_with_python() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-lock-turns");
        let obj = 1u64 << 20;
        let size = 4 * obj;
        let mut opts = CreateOptions::new(size);
        opts.order = Some(20);
        pool.create(&name, &opts).await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let mut py = PyWriter::start(&name);
        let mut want = vec![0u8; size as usize];
        let gid = rados.global_id();
        let started = Instant::now();
        for round in 0..4u64 {
            // python writes (asks us for the lock after the first round)
            let (off, n, b) = (round * 700_000 + 11, 900_000usize, (round * 2 + 1) as u8);
            py.write(off, n, b);
            want[off as usize..off as usize + n].fill(b);
            assert!(!image.is_lock_owner(), "round {round}: we released");
            assert!(!lockers(&name).contains(&format!("client.{gid}\"")));
            // we write over part of it (asking python for the lock)
            let (off, n) = (round * 700_000 + 500_000, 800_000usize);
            let d = pattern(n, round + 7);
            image.write(off, Bytes::from(d.clone())).await.unwrap();
            want[off as usize..off as usize + n].copy_from_slice(&d);
            assert!(image.is_lock_owner(), "round {round}: we own the lock");
            assert!(lockers(&name).contains(&format!("client.{gid}")));
        }
        // a last python write, then both read the same
        py.write(3 * obj, 1000, 0xee);
        want[3 * obj as usize..3 * obj as usize + 1000].fill(0xee);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(60),
            "hand-overs took {took:?}: someone waited for a timeout"
        );
        py.close();
        assert!(image.read(0, size).await.unwrap()[..] == want[..]);
        image.close().await.unwrap();
        let dir = interop_tests::scratch_dir("rbd-lock");
        let out = dir.join(format!("{name}.export"));
        ceph_tool("rbd", &["export", &name, &interop_tests::tool_view(&out)]);
        assert!(std::fs::read(&out).unwrap() == want, "rbd export differs");
        assert_object_map_valid(&name);
        let du = rbd_json(&["du", &name]);
        assert_eq!(du["images"][0]["used_size"], size, "{du}");
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn dead_lock_owners_are_taken_over() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("rbd-lock-dead");
        let obj = 1u64 << 20;
        let size = 4 * obj;
        let mut opts = CreateOptions::new(size);
        opts.order = Some(20);
        pool.create(&name, &opts).await.unwrap();
        let mut want = vec![0u8; size as usize];

        // 1. a python writer killed while holding the lock
        let mut py = PyWriter::start(&name);
        py.write(0, 5000, 7);
        want[..5000].fill(7);
        let ls: serde_json::Value = serde_json::from_str(&lockers(&name)).unwrap();
        let py_addr = ls[0]["address"].as_str().unwrap().to_owned();
        py.kill();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let t = Instant::now();
        image.write(obj, vec![9u8; 4096]).await.unwrap();
        want[obj as usize..obj as usize + 4096].fill(9);
        let waited = t.elapsed();
        assert!(image.is_lock_owner());
        assert!(
            waited < Duration::from_secs(100),
            "took over after {waited:?}"
        );
        let bl = String::from_utf8(ceph_tool("ceph", &["osd", "blocklist", "ls"]).stdout).unwrap();
        assert!(bl.contains(&py_addr), "{py_addr} not blocklisted: {bl}");
        image.close().await.unwrap();

        // 2. one of ours, dropped without release (its client gone): python takes over
        let rados2 = connect().await;
        let pool2 = Rbd::new(rados2.ioctx("rbd").await.unwrap());
        let lost = pool2.open(&name, OpenMode::ReadWrite).await.unwrap();
        lost.write(2 * obj, vec![3u8; 8192]).await.unwrap();
        want[2 * obj as usize..2 * obj as usize + 8192].fill(3);
        assert!(lost.is_lock_owner());
        std::mem::forget(lost);
        rados2.shutdown().await;
        let mut py = PyWriter::start(&name);
        py.write(2 * obj + 4096, 100, 5);
        want[2 * obj as usize + 4096..2 * obj as usize + 4196].fill(5);
        py.close();

        let check = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        assert!(check.read(0, size).await.unwrap()[..] == want[..]);
        assert_object_map_valid(&name);
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}
