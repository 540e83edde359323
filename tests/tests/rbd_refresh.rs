//! An open image follows size changes made elsewhere, against the real cluster of
//! `CEPH_CONF`: `rbd resize` (grow, shrink) while we hold the image open is seen by
//! `Image::size`/`info` without `refresh()`, our next I/O is clipped to the new size as
//! librbd clips it (python3-rbd run on the same ranges says what librbd answers), and
//! nothing lands past the new end (`rados stat`, `rbd du`); our resizes are seen by an
//! open python3-rbd handle and by another handle of ours; a clone whose overlap shrank
//! elsewhere stops reading its parent past the new overlap. With exclusive-lock on and
//! off. Also the progress a shrinking resize reports.

use interop_tests::{
    FEATURES_NO_LOCK, FEATURES_WITH_LOCK, PythonSession, assert_object_map_valid, connect,
    image_options, new_image, pattern, rbd_export, rbd_pool as pool, rbd_tool as rbd,
    rbd_tool_json as rbd_json, run, tool_conf, try_ceph_tool, unique_name,
};
use rbd::{Error, Image, OpenMode};

const OBJ: u64 = 1 << 20;
fn mib(n: u64) -> String {
    format!("{n}M")
}

/// Whether the reference `rados stat` finds data object `n` of `image`.
fn object_exists(image: &Image, n: u64) -> bool {
    let oid = format!("{}.{n:016x}", image.info().block_name_prefix);
    try_ceph_tool("rados", &["-p", "rbd", "stat", &oid])
        .status
        .success()
}

/// `rbd du`'s used bytes of `name`.
fn used(name: &str) -> u64 {
    let du = rbd_json(&["du", name]);
    du["images"][0]["used_size"].as_u64().unwrap()
}

/// What our I/O answers past and across the end of an image of 2 objects (the same
/// requests the python3-rbd script below makes).
async fn past_end_answers(image: &Image) -> Vec<String> {
    let mut out = Vec::new();
    out.push(match image.read(3 * OBJ, 10).await {
        Err(e) => format!("read past end errno {}", e.errno()),
        Ok(b) => format!("read past end {}", b.len()),
    });
    let short = image.read(OBJ, 2 * OBJ).await.unwrap();
    out.push(format!("read across end {}", short.len()));
    out.push(
        match image.write(OBJ + OBJ / 2, vec![0x33u8; OBJ as usize]).await {
            Err(e) => format!("write across end errno {}", e.errno()),
            Ok(n) => format!("write across end {n}"),
        },
    );
    out.push(match image.write(2 * OBJ, vec![0x44u8; 10]).await {
        Err(e) => format!("write past end errno {}", e.errno()),
        Ok(n) => format!("write past end {n}"),
    });
    out
}

/// librbd's answers to the same requests (python3-rbd raises for a short write; the
/// bytes written are in its message).
fn librbd_past_end_answers(name: &str) -> Vec<String> {
    let py = format!(
        "import rados, rbd, re\n\
         c = rados.Rados(conffile='{conf}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, '{name}')\n\
         try:\n    print('read past end', len(im.read({o3}, 10)))\n\
         except rbd.InvalidArgument:\n    print('read past end errno -22')\n\
         print('read across end', len(im.read({o1}, {o2})))\n\
         try:\n    print('write across end', im.write(b'\\x33' * {o1}, {half}))\n\
         except rbd.IncompleteWriteError as e:\n    print('write across end', re.search(r'only (\\d+)', str(e)).group(1))\n\
         try:\n    print('write past end', im.write(b'\\x44' * 10, {o2}))\n\
         except rbd.InvalidArgument:\n    print('write past end errno -22')\n\
         im.close()\n",
        conf = tool_conf(),
        o1 = OBJ,
        o2 = 2 * OBJ,
        o3 = 3 * OBJ,
        half = OBJ + OBJ / 2,
    );
    let mut s = PythonSession::start(&py);
    let lines = (0..4).map(|_| s.line()).collect();
    s.finish();
    lines
}

async fn resize_by_rbd_is_followed(features: u64) {
    let (rados, pool, name) = new_image("rbd-refresh-rbd", 4 * OBJ, features, Some(20)).await;
    let image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
    let a = pattern(4 * OBJ as usize, 1);
    image.write(0, a.clone()).await.unwrap();

    // grown by rbd (which takes the lock from us when there is one)
    rbd(&["resize", "--size", &mib(8), "--no-progress", &name]);
    assert_eq!(image.size(), 8 * OBJ, "size after rbd grew it");
    let info = image.info();
    assert_eq!((info.size, info.num_objs), (8 * OBJ, 8));
    let b = pattern(OBJ as usize + 100, 2);
    let n = image.write(6 * OBJ - 50, b.clone()).await.unwrap();
    assert_eq!(n, b.len() as u64, "a write past the old end");
    let exp = rbd_export(&name);
    assert_eq!(exp.len() as u64, 8 * OBJ);
    assert!(exp[..4 * OBJ as usize] == a[..]);
    let at = (6 * OBJ - 50) as usize;
    assert!(exp[at..at + b.len()] == b[..], "rbd export shows our write");
    assert!(exp[4 * OBJ as usize..at].iter().all(|&x| x == 0));
    if features & 8 != 0 {
        assert_object_map_valid(&name);
    }

    // shrunk by rbd: our I/O answers as librbd's past and across the new end
    rbd(&[
        "resize",
        "--size",
        &mib(2),
        "--allow-shrink",
        "--no-progress",
        &name,
    ]);
    assert_eq!(image.size(), 2 * OBJ, "size after rbd shrank it");
    assert_eq!(image.info().num_objs, 2);
    let ours = past_end_answers(&image).await;
    let theirs = librbd_past_end_answers(&name);
    assert_eq!(ours, theirs, "our answers past the end, then librbd's");
    assert_eq!(
        ours,
        [
            "read past end errno -22".to_owned(),
            format!("read across end {OBJ}"),
            format!("write across end {}", OBJ / 2),
            "write past end errno -22".to_owned(),
        ]
    );
    // nothing past the new end
    for n in 2..8 {
        assert!(!object_exists(&image, n), "object {n} past the end");
    }
    assert!(used(&name) <= 2 * OBJ, "rbd du: {}", used(&name));
    let exp = rbd_export(&name);
    assert_eq!(exp.len() as u64, 2 * OBJ);
    assert!(exp[..(OBJ + OBJ / 2) as usize] == a[..(OBJ + OBJ / 2) as usize]);
    assert!(exp[(OBJ + OBJ / 2) as usize..].iter().all(|&x| x == 0x33));

    // grown again: the trimmed range reads zeros here
    rbd(&["resize", "--size", &mib(4), "--no-progress", &name]);
    assert_eq!(image.size(), 4 * OBJ);
    let tail = image.read(2 * OBJ, 2 * OBJ).await.unwrap();
    assert!(tail.iter().all(|&x| x == 0), "trimmed data came back");
    if features & 8 != 0 {
        assert_object_map_valid(&name);
    }
    image.close().await.unwrap();
    pool.remove(&name).await.unwrap();
    rados.shutdown().await;
}

#[test]
fn resize_by_rbd_is_followed_with_exclusive_lock() {
    run(resize_by_rbd_is_followed(FEATURES_WITH_LOCK));
}

#[test]
fn resize_by_rbd_is_followed_without_exclusive_lock() {
    run(resize_by_rbd_is_followed(FEATURES_NO_LOCK));
}

async fn our_resize_is_seen(features: u64) {
    let (rados, pool, name) = new_image("rbd-refresh-ours", 4 * OBJ, features, Some(20)).await;
    let mut image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
    let other = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
    let other_clone = other.clone();
    let py = format!(
        "import rados, rbd, sys\n\
         c = rados.Rados(conffile='{}'); c.connect()\n\
         io = c.open_ioctx('rbd')\n\
         im = rbd.Image(io, '{name}')\n\
         for i in range(3):\n    print('size', im.size(), flush=True)\n    sys.stdin.readline()\n\
         im.close()\n",
        tool_conf()
    );
    let mut py = PythonSession::start(&py);
    assert_eq!(py.line(), format!("size {}", 4 * OBJ));

    // grown by us: python3-rbd and our other handle (and its clone) see it
    image.resize(8 * OBJ, false).await.unwrap();
    py.go_on();
    assert_eq!(py.line(), format!("size {}", 8 * OBJ));
    assert_eq!(other.size(), 8 * OBJ);
    assert_eq!(other_clone.info().size, 8 * OBJ);
    let b = pattern(100, 3);
    assert_eq!(other.write(7 * OBJ, b.clone()).await.unwrap(), 100);

    // shrunk by us
    image.resize(OBJ, true).await.unwrap();
    py.go_on();
    assert_eq!(py.line(), format!("size {OBJ}"));
    assert_eq!(other.size(), OBJ);
    assert!(matches!(
        other_clone.read(2 * OBJ, 1).await,
        Err(Error::PastEnd { .. })
    ));
    assert_eq!(
        other.write(OBJ / 2, vec![7u8; OBJ as usize]).await.unwrap(),
        OBJ / 2
    );
    assert!(!object_exists(&image, 7), "object 7 past the end");
    py.go_on();
    py.finish();
    assert_eq!(rbd_export(&name).len() as u64, OBJ);
    other_clone.close().await.unwrap();
    other.close().await.unwrap();
    image.close().await.unwrap();
    pool.remove(&name).await.unwrap();
    rados.shutdown().await;
}

#[test]
fn our_resize_is_seen_with_exclusive_lock() {
    run(our_resize_is_seen(FEATURES_WITH_LOCK));
}

#[test]
fn our_resize_is_seen_without_exclusive_lock() {
    run(our_resize_is_seen(FEATURES_NO_LOCK));
}

/// A clone shrunk and grown again elsewhere: its overlap stays at the smaller size, and
/// our open handle reads zeros (not the parent) past it, and writes there copy nothing up.
async fn clone_overlap_shrinks(features: u64) {
    let rados = connect().await;
    let pool = pool(&rados).await;
    let parent = unique_name("rbd-refresh-parent");
    let child = unique_name("rbd-refresh-child");
    pool.create(&parent, &image_options(4 * OBJ, features, Some(20)))
        .await
        .unwrap();
    let p = pool.open(&parent, OpenMode::ReadWrite).await.unwrap();
    let pdata = pattern(4 * OBJ as usize, 4);
    p.write(0, pdata.clone()).await.unwrap();
    p.close().await.unwrap();
    let snap = format!("{parent}@s");
    rbd(&["snap", "create", &snap]);
    rbd(&["snap", "protect", &snap]);
    let feat = features.to_string();
    rbd(&["clone", &snap, &child, "--image-feature", "layering"]);
    if features != FEATURES_NO_LOCK {
        rbd(&["feature", "enable", &child, "exclusive-lock"]);
    }
    let image = pool.open(&child, OpenMode::ReadWrite).await.unwrap();
    assert_eq!(image.parent_overlap(), 4 * OBJ);
    assert!(
        image.read(2 * OBJ, OBJ).await.unwrap()[..] == pdata[2 * OBJ as usize..3 * OBJ as usize]
    );

    rbd(&[
        "resize",
        "--size",
        &mib(1),
        "--allow-shrink",
        "--no-progress",
        &child,
    ]);
    rbd(&["resize", "--size", &mib(4), "--no-progress", &child]);
    assert_eq!(image.size(), 4 * OBJ);
    assert_eq!(image.parent_overlap(), OBJ, "overlap after the shrink");
    assert!(image.read(0, OBJ).await.unwrap()[..] == pdata[..OBJ as usize]);
    let past = image.read(OBJ, 3 * OBJ).await.unwrap();
    assert!(
        past.iter().all(|&x| x == 0),
        "the parent shows past the overlap"
    );
    // a partial write past the overlap copies nothing up
    image.write(2 * OBJ + 10, vec![9u8; 100]).await.unwrap();
    let exp = rbd_export(&child);
    let mut want = vec![0u8; 4 * OBJ as usize];
    want[..OBJ as usize].copy_from_slice(&pdata[..OBJ as usize]);
    want[(2 * OBJ + 10) as usize..(2 * OBJ + 110) as usize].fill(9);
    assert!(exp == want, "rbd export of the clone (features {feat})");
    image.close().await.unwrap();
    pool.remove(&child).await.unwrap();
    rbd(&["snap", "unprotect", &snap]);
    rbd(&["snap", "rm", &snap]);
    pool.remove(&parent).await.unwrap();
    rados.shutdown().await;
}

#[test]
fn clone_overlap_shrinks_with_exclusive_lock() {
    run(clone_overlap_shrinks(FEATURES_WITH_LOCK));
}

#[test]
fn clone_overlap_shrinks_without_exclusive_lock() {
    run(clone_overlap_shrinks(FEATURES_NO_LOCK));
}

/// A shrink reports the objects it trims: monotonic, of one total, ending at it.
async fn shrink_progress(features: u64) {
    let (rados, pool, name) = new_image("rbd-refresh-progress", 12 * OBJ, features, Some(20)).await;
    let mut image = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
    for n in 0..12 {
        image.write(n * OBJ, vec![1u8; 4096]).await.unwrap();
        image
            .write(n * OBJ + OBJ - 4096, vec![2u8; 4096])
            .await
            .unwrap();
    }
    let mut calls = Vec::new();
    image
        .resize_with_progress(20 * OBJ, false, |d, t| calls.push((d, t)))
        .await
        .unwrap();
    assert!(calls.is_empty(), "a grow trims nothing: {calls:?}");
    let r = image
        .resize_with_progress(3 * OBJ + OBJ / 2, false, |d, t| calls.push((d, t)))
        .await;
    assert!(matches!(r, Err(Error::ShrinkNotAllowed { .. })));
    image
        .resize_with_progress(3 * OBJ + OBJ / 2, true, |d, t| calls.push((d, t)))
        .await
        .unwrap();
    // objects 3 (truncated) to 19 (of which 12..19 never existed)
    let total = 17;
    assert_eq!(calls.len() as u64, total, "{calls:?}");
    assert!(calls.iter().all(|&(_, t)| t == total));
    assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "{calls:?}");
    assert_eq!(calls.last(), Some(&(total, total)));
    for n in 4..12 {
        assert!(!object_exists(&image, n), "object {n} past the end");
    }
    assert!(object_exists(&image, 3));
    let info = rbd_json(&["info", &name]);
    assert_eq!(info["size"].as_u64(), Some(3 * OBJ + OBJ / 2));
    if features & 8 != 0 {
        assert_object_map_valid(&name);
    }
    image.close().await.unwrap();
    pool.remove(&name).await.unwrap();
    rados.shutdown().await;
}

#[test]
fn shrink_progress_with_object_map() {
    run(shrink_progress(FEATURES_WITH_LOCK));
}

#[test]
fn shrink_progress_without_object_map() {
    run(shrink_progress(FEATURES_NO_LOCK));
}
