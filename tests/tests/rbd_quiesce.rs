//! Quiesce notifications around snapshots against the real cluster of `CEPH_CONF`, both
//! ways: `rbd snap create` / `rbd group snap create` while we hold the image open (our
//! header watch answers QUIESCE with our hooks' result, which fails `rbd`'s snapshot unless
//! `--ignore-quiesce-error`), and our snapshots while librbd holds the image open with
//! quiesce callbacks registered (`rbd_quiesce_watch` through python3's ctypes: python3-rbd
//! has no quiesce API), which see QUIESCE, then UNQUIESCE. Our hooks follow Reef's
//! librbd (its C++ API): a hook whose quiesce failed is not unquiesced.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use interop_tests::{
    FEATURES_NO_LOCK, FEATURES_WITH_LOCK, PythonSession, connect, image_options, new_image,
    rbd_pool as pool, run, try_ceph_tool, unique_name,
};
use rados::Errno;
use rbd::{Error, HookFuture, OpenMode, QuiesceHandler, snap_create_flags};

/// Counts its calls; fails quiesce with `fail` (0: succeeds).
#[derive(Default)]
struct Hooks {
    quiesced: AtomicU32,
    unquiesced: AtomicU32,
    fail: AtomicI32,
}

impl QuiesceHandler for Hooks {
    fn quiesce(&self) -> HookFuture<'_, Result<(), Errno>> {
        Box::pin(async move {
            self.quiesced.fetch_add(1, Ordering::SeqCst);
            match Errno::from_result(self.fail.load(Ordering::SeqCst)) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    fn unquiesce(&self) -> HookFuture<'_, ()> {
        Box::pin(async move {
            self.unquiesced.fetch_add(1, Ordering::SeqCst);
        })
    }
}

impl Hooks {
    fn counts(&self) -> (u32, u32) {
        (
            self.quiesced.load(Ordering::SeqCst),
            self.unquiesced.load(Ordering::SeqCst),
        )
    }

    /// Waits (generously: the machine is shared) until the counts are `want`.
    async fn wait_for(&self, want: (u32, u32)) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.counts() != want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(self.counts(), want);
    }
}

/// `rbd ARGS` without checking the outcome: (success, stderr).
fn rbd_try(args: &[&str]) -> (bool, String) {
    let o = try_ceph_tool("rbd", args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn rbd_snap_create_while_we_hold_the_image() {
    run(async {
        let (rados, pool, name) = new_image("quiesce-a", 8 << 20, FEATURES_WITH_LOCK, None).await;
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        image.write(0, vec![7u8; 4096]).await.unwrap();

        // no hooks: our watch acknowledges at once and rbd's snapshot succeeds
        let (ok, err) = rbd_try(&["snap", "create", &format!("{name}@plain")]);
        assert!(ok, "{err}");

        let hooks = Arc::new(Hooks::default());
        let handle = image.quiesce_watch(hooks.clone()).unwrap();
        let (ok, err) = rbd_try(&["snap", "create", &format!("{name}@hooked")]);
        assert!(ok, "{err}");
        hooks.wait_for((1, 1)).await;

        // a failing hook fails rbd's snapshot (and is not unquiesced)...
        hooks.fail.store(Errno::EIO.as_result(), Ordering::SeqCst);
        let (ok, err) = rbd_try(&["snap", "create", &format!("{name}@refused")]);
        assert!(!ok);
        assert!(err.contains("failed to create snapshot"), "{err}");
        hooks.wait_for((2, 1)).await;
        // ...unless rbd ignores quiesce errors, or skips quiescing
        let (ok, err) = rbd_try(&[
            "snap",
            "create",
            "--ignore-quiesce-error",
            &format!("{name}@ignored"),
        ]);
        assert!(ok, "{err}");
        hooks.wait_for((3, 1)).await;
        let (ok, err) = rbd_try(&[
            "snap",
            "create",
            "--skip-quiesce",
            &format!("{name}@skipped"),
        ]);
        assert!(ok, "{err}");
        assert_eq!(hooks.counts(), (3, 1));

        // our own snapshots quiesce our own hooks too
        hooks.fail.store(0, Ordering::SeqCst);
        image.create_snap2("ours", 0).await.unwrap();
        hooks.wait_for((4, 2)).await;
        hooks.fail.store(Errno::EIO.as_result(), Ordering::SeqCst);
        let e = image.create_snap2("ours-refused", 0).await.unwrap_err();
        assert!(matches!(e, Error::QuiesceFailed(-5)), "{e}");
        assert!(e.is(Errno::EIO));
        let e = image.create_snap2("bad-flags", 4).await.unwrap_err();
        assert!(e.is(Errno::EINVAL), "{e}");

        image.quiesce_unwatch(handle).unwrap();
        assert!(image.quiesce_unwatch(handle).is_err());
        let (ok, err) = rbd_try(&["snap", "create", &format!("{name}@unhooked")]);
        assert!(ok, "{err}");
        assert_eq!(hooks.counts().0, 5);

        let snaps: Vec<String> = image
            .snap_list()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            snaps,
            ["plain", "hooked", "ignored", "skipped", "ours", "unhooked"]
        );
        for s in &snaps {
            image.remove_snap(s).await.unwrap();
        }
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn hooks_on_an_image_without_exclusive_lock() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("quiesce-nolock");
        // layering only: the open's plain header watch answers
        pool.create(&name, &image_options(8 << 20, FEATURES_NO_LOCK, None))
            .await
            .unwrap();
        let ro = pool.open(&name, OpenMode::ReadOnly).await.unwrap();
        let e = ro.quiesce_watch(Arc::new(Hooks::default())).unwrap_err();
        assert!(e.is(Errno::EINVAL), "{e}");
        ro.close().await.unwrap();
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let hooks = Arc::new(Hooks::default());
        image.quiesce_watch(hooks.clone()).unwrap();
        let (ok, err) = rbd_try(&["snap", "create", &format!("{name}@hooked")]);
        assert!(ok, "{err}");
        hooks.wait_for((1, 1)).await;
        hooks.fail.store(Errno::EIO.as_result(), Ordering::SeqCst);
        let (ok, _) = rbd_try(&["snap", "create", &format!("{name}@refused")]);
        assert!(!ok, "a failing hook fails rbd's snapshot");
        hooks.wait_for((2, 1)).await;
        image.remove_snap("hooked").await.unwrap();
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

/// librbd with quiesce callbacks (`rbd_quiesce_watch`); the callback answers with the
/// result of the current step and prints what it was called for.
fn librbd_watcher(name: &str) -> PythonSession {
    let code = format!(
        r#"
import ctypes, sys
from ctypes import c_void_p, c_uint64, c_int, byref, CFUNCTYPE
lr = ctypes.CDLL('librados.so.2'); lb = ctypes.CDLL('librbd.so.1')
cl = c_void_p(); assert lr.rados_create(byref(cl), None) == 0
assert lr.rados_conf_read_file(cl, {conf:?}.encode()) == 0
assert lr.rados_connect(cl) == 0
io = c_void_p(); assert lr.rados_ioctx_create(cl, b'rbd', byref(io)) == 0
img = c_void_p(); assert lb.rbd_open(io, {name:?}.encode(), byref(img), None) == 0
lb.rbd_quiesce_complete.argtypes = [c_void_p, c_uint64, c_int]
handle = c_uint64()
results = [0, -5, 0]
step = [0]
CB = CFUNCTYPE(None, c_void_p)
def on_quiesce(arg):
    print('quiesce', flush=True)
    lb.rbd_quiesce_complete(img, handle.value, results[step[0]])
def on_unquiesce(arg):
    print('unquiesce', flush=True)
qcb = CB(on_quiesce); ucb = CB(on_unquiesce)
assert lb.rbd_quiesce_watch(img, qcb, ucb, None, byref(handle)) == 0
print('ready', flush=True)
for i in range(len(results)):
    sys.stdin.readline()
    step[0] = i
    print('step', i, flush=True)
sys.stdin.readline()
print('end', flush=True)
assert lb.rbd_quiesce_unwatch(img, handle) == 0
lb.rbd_close(img)
lr.rados_shutdown(cl)
"#,
        conf = interop_tests::tool_conf(),
    );
    PythonSession::start(&code)
}

#[test]
fn our_snap_create_quiesces_librbd() {
    run(async {
        let (rados, pool, name) = new_image("quiesce-b", 8 << 20, FEATURES_WITH_LOCK, None).await;
        let mut py = librbd_watcher(&name);
        assert_eq!(py.line(), "ready");
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();

        py.go_on();
        assert_eq!(py.line(), "step 0");
        image.create_snap2("q1", 0).await.unwrap();
        assert_eq!(py.line(), "quiesce");
        assert_eq!(py.line(), "unquiesce");

        // the callback fails: so does our snapshot, unless told to ignore it
        py.go_on();
        assert_eq!(py.line(), "step 1");
        let e = image.create_snap2("q2", 0).await.unwrap_err();
        assert!(matches!(e, Error::QuiesceFailed(-5)), "{e}");
        // librbd leaves a watcher whose quiesce failed out of the unquiesce (Reef and
        // later), but the C API's `rbd_quiesce_complete` records the failure under its
        // own handle (a pointer), not the watcher's: C callers are unquiesced anyway
        let failed_quiesce = |py: &mut PythonSession| {
            assert_eq!(py.line(), "quiesce");
            assert_eq!(py.line(), "unquiesce");
        };
        failed_quiesce(&mut py);
        assert!(!image.snap_exists("q2").await.unwrap());
        image
            .create_snap2("q2", snap_create_flags::IGNORE_QUIESCE_ERROR)
            .await
            .unwrap();
        failed_quiesce(&mut py);

        // skipped: no callback before the next step's line
        py.go_on();
        assert_eq!(py.line(), "step 2");
        image
            .create_snap2("q3", snap_create_flags::SKIP_QUIESCE)
            .await
            .unwrap();
        py.go_on();
        assert_eq!(py.line(), "end");
        py.finish();

        let snaps: Vec<String> = image
            .snap_list()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(snaps, ["q1", "q2", "q3"]);
        for s in &snaps {
            image.remove_snap(s).await.unwrap();
        }
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn group_snapshots_quiesce_every_member() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let group = unique_name("quiesce-g");
        let (a, b) = (unique_name("quiesce-ga"), unique_name("quiesce-gb"));
        for n in [&a, &b] {
            pool.create(n, &image_options(8 << 20, FEATURES_WITH_LOCK, None))
                .await
                .unwrap();
        }
        pool.group_create(&group).await.unwrap();
        pool.group_image_add(&group, &pool, &a).await.unwrap();
        pool.group_image_add(&group, &pool, &b).await.unwrap();
        let (ia, ib) = (
            pool.open(&a, OpenMode::ReadWrite).await.unwrap(),
            pool.open(&b, OpenMode::ReadWrite).await.unwrap(),
        );
        let (ha, hb) = (Arc::new(Hooks::default()), Arc::new(Hooks::default()));
        ia.quiesce_watch(ha.clone()).unwrap();
        ib.quiesce_watch(hb.clone()).unwrap();

        // ours: every member quiesced, then unquiesced
        pool.group_snap_create2(&group, "g1", 0).await.unwrap();
        ha.wait_for((1, 1)).await;
        hb.wait_for((1, 1)).await;
        // one member fails: no group snapshot
        hb.fail.store(Errno::EIO.as_result(), Ordering::SeqCst);
        let e = pool.group_snap_create2(&group, "g2", 0).await.unwrap_err();
        assert!(e.is(Errno::EIO), "{e}");
        ha.wait_for((2, 2)).await;
        hb.wait_for((2, 1)).await;
        // rbd's group snapshot sees our failure too, unless it ignores it
        let spec = format!("{group}@g3");
        let (ok, _) = rbd_try(&["group", "snap", "create", &spec]);
        assert!(!ok);
        ha.wait_for((3, 3)).await;
        hb.wait_for((3, 1)).await;
        let (ok, err) = rbd_try(&["group", "snap", "create", "--ignore-quiesce-error", &spec]);
        assert!(ok, "{err}");
        ha.wait_for((4, 4)).await;
        hb.wait_for((4, 1)).await;
        pool.group_snap_create2(&group, "g4", snap_create_flags::SKIP_QUIESCE)
            .await
            .unwrap();
        assert_eq!((ha.counts(), hb.counts()), ((4, 4), (4, 1)));

        let mut names: Vec<String> = pool
            .group_snap_list(&group)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        names.sort();
        assert_eq!(names, ["g1", "g3", "g4"]);
        ia.close().await.unwrap();
        ib.close().await.unwrap();
        pool.group_remove(&group).await.unwrap();
        pool.remove(&a).await.unwrap();
        pool.remove(&b).await.unwrap();
        rados.shutdown().await;
    });
}
