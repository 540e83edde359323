//! Advisory locks (`rbd lock add|ls|rm`, `Image.lock_exclusive|lock_shared|break_lock`),
//! the managed lock calls (`lock_acquire`, `lock_get_owners`, `lock_break`) and
//! `watchers_list` against the real cluster of `CEPH_CONF`, both ways with `rbd` and
//! python3-rbd; breaking a live holder's lock blocklists it, as librbd does.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use bytes::Bytes;
use interop_tests::{connect, rbd_pool as pool, rbd_tool as rbd, run, unique_name};
use rbd::advisory_lock::LockMode;
use rbd::{OpenMode, Rbd};

/// A python3-rbd process running the lines it is sent: `!stmt` is executed, anything
/// else evaluated and answered `ok <repr>`; failures answer `err <errno> <type>`.
struct Py {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// `client.<gid>` and address of its connection.
    gid: String,
    addr: String,
}

impl Py {
    fn start() -> Py {
        let py = format!(
            "import rados, rbd, sys\n\
             c = rados.Rados(conffile='{}'); c.connect()\n\
             io = c.open_ioctx('rbd')\n\
             print('ready', c.get_instance_id(), c.get_addrs(), flush=True)\n\
             g = globals()\n\
             for line in sys.stdin:\n    \
             try:\n        \
             if line.startswith('!'):\n            \
             exec(line[1:], g); print('ok', flush=True)\n        \
             else:\n            \
             print('ok', repr(eval(line, g)), flush=True)\n    \
             except Exception as e:\n        \
             print('err', getattr(e, 'errno', None), type(e).__name__, flush=True)\n",
            interop_tests::tool_conf()
        );
        let mut child = interop_tests::python3()
            .args(["-c", &py])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let parts: Vec<&str> = first.split_whitespace().collect();
        assert_eq!(parts.first(), Some(&"ready"), "{first}");
        Py {
            gid: format!("client.{}", parts[1]),
            addr: parts[2].to_owned(),
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut s = String::new();
        self.stdout.read_line(&mut s).unwrap();
        s.trim().to_owned()
    }

    fn ok(&mut self, line: &str) -> String {
        let a = self.send(line);
        assert!(a.starts_with("ok"), "python {line:?} answered {a:?}");
        a.trim_start_matches("ok").trim().to_owned()
    }

    fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn lock_json(name: &str) -> serde_json::Value {
    serde_json::from_str(&rbd(&["lock", "ls", name, "--format", "json"])).unwrap()
}

async fn create(pool: &Rbd, name: &str, features: u64) {
    let mut opts = rbd::CreateOptions::new(8 << 20);
    opts.features = Some(features);
    pool.create(name, &opts).await.unwrap();
}

/// A write through a client that was blocklisted fails (ESHUTDOWN) instead of landing.
async fn assert_blocklisted(image: &rbd::Image) {
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        image.write(0, Bytes::from_static(b"x")),
    )
    .await
    .expect("a blocklisted client's write should fail, not hang");
    let e = r.expect_err("a blocklisted client's write succeeded");
    assert!(e.is(rados::Errno::ESHUTDOWN), "{e}");
}

#[test]
fn advisory_locks_both_ways() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("adv-lock");
        create(&pool, &name, rbd::features::LAYERING).await;
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        assert_eq!(lock_json(&name), serde_json::json!([]));
        assert!(image.list_lockers().await.unwrap().lockers.is_empty());

        // taken by rbd, listed and broken here
        rbd(&["lock", "add", &name, "tool-cookie"]);
        let l = image.list_lockers().await.unwrap();
        assert!(l.exclusive);
        let j = lock_json(&name);
        assert_eq!(l.lockers.len(), 1);
        assert_eq!(j[0]["id"], "tool-cookie");
        assert_eq!(j[0]["locker"], l.lockers[0].client.as_str());
        assert_eq!(j[0]["address"], l.lockers[0].address.as_str());
        let e = image.lock_exclusive("mine").await.unwrap_err();
        assert!(e.is(rados::Errno::EBUSY), "{e}");
        let e = image.break_lock(&l.lockers[0].client, "nope").await;
        assert!(e.unwrap_err().is(rados::Errno::ENOENT));
        image
            .break_lock(&l.lockers[0].client, "tool-cookie")
            .await
            .unwrap();
        assert_eq!(lock_json(&name), serde_json::json!([]));

        // shared, taken here and by rbd; rbd breaks ours: our (second) client is
        // blocklisted and cannot write any more
        let rados2 = connect().await;
        let holder = Rbd::new(rados2.ioctx("rbd").await.unwrap())
            .open(&name, OpenMode::ReadWrite)
            .await
            .unwrap();
        holder.lock_shared("rs-cookie", "tg").await.unwrap();
        rbd(&["lock", "add", "--shared", "tg", &name, "tool-shared"]);
        let o =
            interop_tests::try_ceph_tool("rbd", &["lock", "add", "--shared", "other", &name, "x"]);
        assert_eq!(o.status.code(), Some(16), "a different tag is refused");
        let l = image.list_lockers().await.unwrap();
        assert!(!l.exclusive);
        assert_eq!(l.tag, "tg");
        assert_eq!(lock_json(&name).as_array().unwrap().len(), 2);
        let mine = format!("client.{}", rados2.global_id());
        let text = rbd(&["lock", "ls", &name]);
        assert!(
            text.starts_with("There are 2 shared locks on this image.\nLock tag: tg\n"),
            "{text}"
        );
        assert!(text.contains(&mine), "{text}");
        rbd(&["lock", "rm", &name, "rs-cookie", &mine]);
        assert_blocklisted(&holder).await;
        drop(holder);
        rados2.shutdown().await;
        let j = lock_json(&name);
        assert_eq!(j.as_array().unwrap().len(), 1, "{j}");
        assert_eq!(j[0]["id"], "tool-shared");
        let tool = image.list_lockers().await.unwrap().lockers[0]
            .client
            .clone();
        image.break_lock(&tool, "tool-shared").await.unwrap();

        // taken by a live python client: broken here, it is blocklisted
        let mut py = Py::start();
        py.ok(&format!("!im = rbd.Image(io, '{name}')"));
        py.ok("!im.lock_exclusive('py-cookie')");
        let l = image.list_lockers().await.unwrap();
        assert_eq!(l.lockers[0].client, py.gid);
        assert_eq!(l.lockers[0].address, py.addr);
        assert_eq!(
            py.ok("im.list_lockers()['lockers']"),
            format!("[('{}', 'py-cookie', '{}')]", py.gid, py.addr)
        );
        image.break_lock(&py.gid, "py-cookie").await.unwrap();
        let a = py.send("im.write(b'x', 0)");
        assert!(
            a.starts_with("err 108"),
            "python after its lock was broken: {a}"
        );
        py.stop();
        assert_eq!(lock_json(&name), serde_json::json!([]));

        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn managed_lock_and_watchers() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("managed-lock");
        create(
            &pool,
            &name,
            rbd::features::LAYERING | rbd::features::EXCLUSIVE_LOCK,
        )
        .await;
        let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let e = image.lock_get_owners().await.unwrap_err();
        assert!(e.is(rados::Errno::ENOENT), "{e}");

        // python takes it and keeps it: our write is refused, we see it as the owner
        let mut py = Py::start();
        py.ok(&format!("!im = rbd.Image(io, '{name}')"));
        py.ok("!im.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)");
        let (mode, owners) = image.lock_get_owners().await.unwrap();
        assert_eq!(
            (mode, owners.clone()),
            (LockMode::Exclusive, vec![py.addr.clone()])
        );
        let e = image
            .write(0, Bytes::from_static(b"x"))
            .await
            .expect_err("python keeps the lock");
        assert!(e.is(rados::Errno::EBUSY), "{e}");

        // the watchers as python sees them
        let ours = image.watchers_list().await.unwrap();
        let theirs = py.ok("sorted((w['id'], w['addr'], w['cookie']) for w in im.watchers_list())");
        let mut want: Vec<(i64, String, u64)> = ours
            .iter()
            .map(|w| (w.id, w.address.clone(), w.cookie))
            .collect();
        want.sort();
        let want: Vec<String> = want
            .iter()
            .map(|(id, a, c)| format!("({id}, '{a}', {c})"))
            .collect();
        assert_eq!(theirs, format!("[{}]", want.join(", ")));
        assert_eq!(ours.len(), 2);

        // broken here though alive: python is blocklisted, the lock is ours to take
        image
            .lock_break(LockMode::Exclusive, &owners[0])
            .await
            .unwrap();
        let a = py.send("im.write(b'x', 0)");
        assert!(a.starts_with("err 108"), "python after lock_break: {a}");
        py.stop();
        image.lock_acquire(LockMode::Exclusive).await.unwrap();
        assert!(image.is_lock_owner());

        // ours now, kept: python sees us as the owner, its write is refused
        let mut py = Py::start();
        py.ok(&format!("!im = rbd.Image(io, '{name}')"));
        let ours = image.lock_get_owners().await.unwrap().1;
        assert_eq!(
            py.ok("list(im.lock_get_owners())"),
            format!("[{{'mode': 0, 'owner': '{}'}}]", ours[0])
        );
        let a = py.send("!im.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)");
        assert!(a.starts_with("err"), "python took a kept lock: {a}");
        assert!(image.is_lock_owner());
        py.stop();
        image.write(0, Bytes::from_static(b"y")).await.unwrap();
        image.lock_release().await.unwrap();
        assert!(!image.is_lock_owner());
        let e = image.write(0, Bytes::from_static(b"z")).await.unwrap_err();
        assert!(e.is(rados::Errno::EROFS), "after lock_release: {e}");
        image.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}
