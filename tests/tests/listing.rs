//! Object listing through `rados::IoCtx::list_objects` / `list_all_objects` against the
//! real cluster of `CEPH_CONF`, with `rados ls` as the reference: objects written by
//! `rados put` and by this client, in several namespaces and with locator keys, list the
//! same (one namespace, all namespaces, any page size); an empty pool lists nothing; a
//! cursor taken mid-listing resumes on a fresh client with exactly the rest; a `pg_num`
//! increase between pages still lists every object exactly once.

use std::collections::BTreeSet;

use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_tests::{ceph_tool, connect, run, scratch_dir, tool_view, unique_name as name};
use rados::{IoCtx, ListCursor, ObjectEntry, PoolSpec, Rados};

async fn new_pool(rados: &Rados, label: &str, pg_num: u32) -> (String, IoCtx) {
    let pool = name(label);
    let spec = PoolSpec {
        pg_num: Some(pg_num),
        application: Some("rados".into()),
        ..PoolSpec::default()
    };
    rados.create_pool_with(&pool, &spec).await.unwrap();
    let io = rados.ioctx(&pool).await.unwrap();
    (pool, io)
}

/// `rados -p POOL [-N NS | --all] ls`, parsed: (namespace, name, locator) per line (the
/// namespace is printed with `--all` only).
fn rados_ls(pool: &str, how: &[&str]) -> Vec<ObjectEntry> {
    let mut args = vec!["-p", pool];
    args.extend(how);
    args.push("ls");
    let all = how.contains(&"--all");
    let ns = match how {
        ["-N", ns] => *ns,
        _ => "",
    };
    let out = ceph_tool("rados", &args);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut f = line.split('\t');
            let nspace = if all { f.next().unwrap() } else { ns };
            ObjectEntry {
                nspace: nspace.to_owned(),
                oid: f.next().unwrap().to_owned(),
                locator: f.next().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

/// Our listing, `page` entries at a time.
async fn ours(lister: rados::ObjectLister, page: u32) -> Vec<ObjectEntry> {
    let mut lister = lister.page_size(page);
    let mut all = Vec::new();
    while let Some(p) = lister.next_page().await.unwrap() {
        assert!(!p.is_empty() && p.len() <= page as usize);
        all.extend(p);
    }
    assert!(lister.is_done() && lister.cursor().is_end());
    assert!(lister.next_page().await.unwrap().is_none());
    all
}

fn set(v: &[ObjectEntry]) -> BTreeSet<ObjectEntry> {
    let s: BTreeSet<ObjectEntry> = v.iter().cloned().collect();
    assert_eq!(s.len(), v.len(), "an object listed twice");
    s
}

/// Writes objects with this client: `n` in each of `namespaces`, every fifth with a
/// locator key. Returns what a listing of all namespaces must show.
async fn fill(io: &IoCtx, namespaces: &[&str], n: usize) -> Vec<ObjectEntry> {
    let mut made = Vec::new();
    for ns in namespaces {
        for i in 0..n {
            let mut h = io.clone().with_namespace(*ns);
            let locator = if i % 5 == 0 {
                format!("key-{}", i % 3)
            } else {
                String::new()
            };
            h.set_locator_key(locator.clone());
            let oid = format!("ours-{ns}-{i}");
            h.write_full(&oid, Bytes::from(oid.clone().into_bytes()))
                .await
                .unwrap();
            made.push(ObjectEntry {
                nspace: (*ns).to_owned(),
                oid,
                locator,
            });
        }
    }
    made
}

#[test]
fn listings_match_rados_ls() {
    run(async {
        let rados = connect().await;
        let (pool, io) = new_pool(&rados, "rbd-rs-list", 32).await;
        let mut expected = fill(&io, &["", "ns1", "ns2"], 90).await;
        // objects that Ceph's tool writes, some in a namespace, some with a locator key
        let dir = scratch_dir("listing");
        let src = dir.join("content");
        std::fs::write(&src, b"from rados").unwrap();
        for i in 0..12 {
            let oid = format!("theirs-{i}");
            let mut args = vec!["-p", pool.as_str()];
            let (ns, locator) = match i % 3 {
                0 => ("", ""),
                1 => ("ns1", ""),
                _ => ("", "their-key"),
            };
            if !ns.is_empty() {
                args.extend(["-N", ns]);
            }
            if !locator.is_empty() {
                args.extend(["--object-locator", locator]);
            }
            let view = tool_view(&src);
            args.extend(["put", oid.as_str(), view.as_str()]);
            ceph_tool("rados", &args);
            expected.push(ObjectEntry {
                nspace: ns.into(),
                oid,
                locator: locator.into(),
            });
        }
        assert_eq!(expected.len(), 282);

        // every namespace: the same objects as rados ls --all, in the same order
        let theirs_all = rados_ls(&pool, &["--all"]);
        for page in [1000, 1024, 37, 5000] {
            let all = ours(io.list_all_objects(), page).await;
            assert_eq!(all, theirs_all, "page size {page}");
        }
        assert_eq!(set(&theirs_all), set(&expected));

        // one namespace: the handle's
        for ns in ["", "ns1", "ns2", "no-such-ns"] {
            let theirs = rados_ls(&pool, &["-N", ns]);
            let mine = ours(io.clone().with_namespace(ns).list_objects(), 50).await;
            assert_eq!(mine, theirs, "namespace {ns:?}");
            let want: BTreeSet<ObjectEntry> = expected
                .iter()
                .filter(|e| e.nspace == ns)
                .cloned()
                .collect();
            assert_eq!(set(&mine), want, "namespace {ns:?}");
        }
        // ALL_NAMESPACES on the handle means every namespace too
        let via_handle = io
            .clone()
            .with_namespace(rados::ALL_NAMESPACES)
            .list_objects()
            .collect_all()
            .await
            .unwrap();
        assert_eq!(via_handle, theirs_all);
        // a listing walks every PG: the last PG's objects are there, pages are bounded
        let mut lister = io.list_all_objects().page_size(10);
        assert_eq!(lister.namespace(), None);
        assert!(lister.current_pg().is_some_and(|pg| pg.seed == 0));
        let first = lister.next_page().await.unwrap().unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[..], theirs_all[..10]);
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn an_empty_pool_lists_nothing() {
    run(async {
        let rados = connect().await;
        let (pool, io) = new_pool(&rados, "rbd-rs-list-empty", 8).await;
        let mut lister = io.list_all_objects();
        assert!(lister.next_page().await.unwrap().is_none());
        assert!(lister.is_done());
        assert!(lister.current_pg().is_none());
        assert!(io.list_objects().collect_all().await.unwrap().is_empty());
        assert!(rados_ls(&pool, &["--all"]).is_empty());
        // a listing from the end is empty at once
        let done = io.list_objects().start_at(ListCursor::end());
        assert!(done.collect_all().await.unwrap().is_empty());
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn a_cursor_resumes_on_a_fresh_client() {
    run(async {
        let rados = connect().await;
        let (pool, io) = new_pool(&rados, "rbd-rs-list-resume", 32).await;
        let made = fill(&io, &["", "other"], 60).await;
        let full = io.list_all_objects().collect_all().await.unwrap();
        assert_eq!(set(&full), made.iter().cloned().collect());
        for pages in [1usize, 3, 7] {
            let mut lister = io.list_all_objects().page_size(9);
            let mut first = Vec::new();
            for _ in 0..pages {
                first.extend(lister.next_page().await.unwrap().unwrap());
            }
            let saved = lister.cursor().to_string();
            drop(lister);
            // another client, another connection: only the cursor's text carries over
            let other = connect().await;
            let io2 = other.ioctx(&pool).await.unwrap();
            let cursor: ListCursor = saved.parse().unwrap();
            let rest = io2
                .list_all_objects()
                .start_at(cursor)
                .collect_all()
                .await
                .unwrap();
            other.shutdown().await;
            assert_eq!(first.len() + rest.len(), full.len(), "after {pages} pages");
            first.extend(rest);
            assert_eq!(first, full, "after {pages} pages");
        }
        // a cursor of this pool refused on another pool
        let mut lister = io.list_all_objects().page_size(5);
        lister.next_page().await.unwrap();
        let cursor = lister.cursor();
        let rbd = rados.ioctx("rbd").await.unwrap();
        let err = rbd
            .list_all_objects()
            .start_at(cursor)
            .next_page()
            .await
            .unwrap_err();
        assert!(err.is(rados::Errno::EINVAL), "{err}");
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}

/// Waits until this client's map shows `pool` with `pg_num` PGs.
async fn wait_for_pg_num(rados: &Rados, pool: i64, pg_num: u32) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if rados
            .osdmap()
            .pool(pool)
            .is_some_and(|p| p.pg_num == pg_num)
        {
            return;
        }
        assert!(Instant::now() < deadline, "pg_num never reached {pg_num}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn a_pg_num_increase_between_pages_lists_everything_once() {
    run(async {
        let rados = connect().await;
        let (pool, io) = new_pool(&rados, "rbd-rs-list-split", 8).await;
        ceph_tool(
            "ceph",
            &["osd", "pool", "set", &pool, "pg_autoscale_mode", "off"],
        );
        let made = fill(&io, &["", "x"], 100).await;
        let mut lister = io.list_all_objects().page_size(15);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.extend(lister.next_page().await.unwrap().unwrap());
        }
        let before = lister.current_pg();
        ceph_tool("ceph", &["osd", "pool", "set", &pool, "pg_num", "16"]);
        wait_for_pg_num(&rados, io.pool_id(), 16).await;
        while let Some(page) = lister.next_page().await.unwrap() {
            got.extend(page);
        }
        // Ceph's guarantee with SORTBITWISE: every object exactly once
        assert_eq!(set(&got), made.iter().cloned().collect());
        assert_eq!(got.len(), made.len());
        // and the same order a fresh listing (and rados ls) gives now
        assert_eq!(got, rados_ls(&pool, &["--all"]));
        assert!(before.is_some());
        rados.delete_pool(&pool).await.unwrap();
        rados.shutdown().await;
    });
}
