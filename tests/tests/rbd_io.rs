//! compare-and-write, the RADOS `cmpext` op, and the file adapters (`ImageFile`,
//! `AsyncImageFile`) against the real cluster of `CEPH_CONF`. librbd (through its C API
//! from /usr/bin/python3's ctypes: Pacific's python3-rbd has no `compare_and_write`) and
//! `rbd import`/`export` are the reference.

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use interop_tests::{
    ceph_tool, connect, pattern, rbd_pool as pool, run, scratch_dir, tool_view, unique_name,
};
use rados::Errno;
use rbd::{AsyncImageFile, CreateOptions, Error, ImageFile, OpenMode};

/// Runs `rbd_compare_and_write` of librbd for each `(offset, cmp, data)` on image `name`;
/// returns (return value, mismatch offset or u64::MAX) for each.
const LIBRBD_CAW: &str = r#"
import ctypes, sys
from ctypes import c_void_p, c_char_p, c_uint64, c_size_t, c_int, c_ssize_t, byref, POINTER
lr = ctypes.CDLL('librados.so.2'); lb = ctypes.CDLL('librbd.so.1')
cl = c_void_p(); assert lr.rados_create(byref(cl), None) == 0
assert lr.rados_conf_read_file(cl, sys.argv[1].encode()) == 0
assert lr.rados_connect(cl) == 0
io = c_void_p(); assert lr.rados_ioctx_create(cl, b'rbd', byref(io)) == 0
img = c_void_p(); assert lb.rbd_open(io, sys.argv[2].encode(), byref(img), None) == 0
lb.rbd_compare_and_write.restype = c_ssize_t
lb.rbd_compare_and_write.argtypes = [c_void_p, c_uint64, c_size_t, c_char_p, c_char_p, POINTER(c_uint64), c_int]
for line in sys.stdin:
    off, cmp, data = line.split()
    cmp = bytes.fromhex(cmp); data = bytes.fromhex(data)
    mm = c_uint64(2**64 - 1)
    r = lb.rbd_compare_and_write(img, int(off), len(cmp), cmp, data, byref(mm), 0)
    print(r, mm.value, flush=True)
lb.rbd_close(img)
lr.rados_shutdown(cl)
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn librbd_compare_and_write(name: &str, cases: &[(u64, Vec<u8>, Vec<u8>)]) -> Vec<(i64, u64)> {
    use std::process::Stdio;
    let mut child = interop_tests::python3()
        .args(["-c", LIBRBD_CAW])
        .arg(interop_tests::tool_conf())
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = cases
        .iter()
        .map(|(o, c, d)| format!("{o} {} {}\n", hex(c), hex(d)))
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "librbd helper: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (r, m) = l.split_once(' ').unwrap();
            (r.parse().unwrap(), m.parse().unwrap())
        })
        .collect()
}

#[test]
fn compare_and_write_agrees_with_librbd() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        const MIB: u64 = 1 << 20;
        let size = 64 * MIB;
        let (ours, theirs) = (unique_name("caw-rs"), unique_name("caw-lib"));
        let base = pattern(8 << 20, 3);
        let tail = pattern(4096, 4);
        for name in [&ours, &theirs] {
            pool.create(name, &CreateOptions::new(size)).await.unwrap();
            let img = pool.open(name, OpenMode::ReadWrite).await.unwrap();
            img.write(0, base.clone()).await.unwrap();
            img.write(size - 4096, tail.clone()).await.unwrap();
        }
        let flip = |mut v: Vec<u8>, i: usize| {
            v[i] ^= 0xff;
            v
        };
        let at = |off: u64, len: usize| base[off as usize..off as usize + len].to_vec();
        let new = |len: usize, seed: u64| pattern(len, seed);
        // Pacific's librbd also refuses requests crossing a 512-byte sector (dropped in
        // Reef): those are checked on our image only, below
        let cases: Vec<(u64, Vec<u8>, Vec<u8>)> = vec![
            // match: written
            (0, at(0, 512), new(512, 10)),
            // match within a sector
            (5000, at(5000, 100), new(100, 11)),
            // mismatch at an object start: offsets agree
            (4 * MIB, flip(at(4 * MIB, 512), 100), new(512, 12)),
            // mismatch inside an object (librbd reports object start + index)
            (4 * MIB + 1000, flip(at(4 * MIB + 1000, 24), 7), new(24, 13)),
            // across objects: EINVAL
            (4 * MIB - 10, at(4 * MIB - 10, 20), new(20, 14)),
            // at the end: EINVAL
            (size, vec![0; 4], vec![1; 4]),
            // past the end: cut (Pacific's librbd compares the whole buffer, the bytes
            // past the end as zeros; Reef's only the part inside, as here)
            (size - 2, [&tail[4094..], &[0, 0][..]].concat(), vec![5; 4]),
            // a hole compares as zeros
            (20 * MIB, vec![0; 512], new(512, 15)),
            (30 * MIB, vec![0, 0, 1, 0], vec![7; 4]),
            // the previous write took
            (5000, new(100, 11), new(100, 18)),
        ];
        let lib = librbd_compare_and_write(&theirs, &cases);
        assert_eq!(lib.len(), cases.len());
        let img = pool.open(&ours, OpenMode::ReadWrite).await.unwrap();
        for (i, ((off, cmp, data), (lr, lm))) in cases.iter().zip(&lib).enumerate() {
            let r = img
                .compare_and_write(*off, Bytes::from(cmp.clone()), Bytes::from(data.clone()))
                .await;
            match r {
                Ok(n) => assert_eq!((n as i64, u64::MAX), (*lr, *lm), "case {i}"),
                Err(Error::CompareMismatch { offset }) => {
                    assert_eq!(*lr, -84, "case {i}: librbd did not see a mismatch");
                    let index = cmp
                        .iter()
                        .zip(
                            img.read(*off, cmp.len() as u64)
                                .await
                                .unwrap()
                                .iter()
                                .chain(std::iter::repeat(&0)),
                        )
                        .position(|(a, b)| a != b)
                        .unwrap() as u64;
                    assert_eq!(offset, off + index, "case {i}");
                    let object_start = off / (4 * MIB) * (4 * MIB);
                    assert_eq!(*lm, object_start + index, "case {i}: librbd's offset");
                }
                Err(e) => assert_eq!(e.errno() as i64, *lr, "case {i}: {e}"),
            }
        }
        // both images hold the same bytes after
        let dir = scratch_dir("caw");
        let (a, b) = (dir.join("ours"), dir.join("theirs"));
        ceph_tool("rbd", &["export", &ours, &tool_view(&a)]);
        ceph_tool("rbd", &["export", &theirs, &tool_view(&b)]);
        assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
        // past the end only the part inside is compared (Reef's librbd)
        assert_eq!(
            img.compare_and_write(size - 2, vec![5, 5, 9, 9], vec![6; 4])
                .await
                .unwrap(),
            2
        );
        // larger than a sector (Reef's librbd), a whole object (write_full)
        let big = new(4 << 20, 16);
        assert_eq!(
            img.compare_and_write(40 * MIB, vec![0; 4 << 20], big.clone())
                .await
                .unwrap(),
            4 << 20
        );
        let e = img
            .compare_and_write(
                40 * MIB + 3,
                flip(big[3..9003].to_vec(), 5000),
                vec![1; 9000],
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::CompareMismatch { offset } if offset == 40 * MIB + 5003));
        assert_eq!(
            img.compare_and_write(40 * MIB + 10, big[10..9010].to_vec(), vec![2; 9000])
                .await
                .unwrap(),
            9000
        );
        let e = img
            .compare_and_write(40 * MIB + 10, flip(vec![2; 9000], 8000), vec![3; 9000])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::CompareMismatch { offset } if offset == 40 * MIB + 8010));
        assert_eq!(
            &img.read(40 * MIB, 20).await.unwrap()[..],
            &[&big[..10], &[2u8; 10][..]].concat()[..]
        );
        // zero length, unequal buffers, read-only
        assert_eq!(img.compare_and_write(0, vec![], vec![]).await.unwrap(), 0);
        assert!(matches!(
            img.compare_and_write(0, vec![1], vec![1, 2]).await,
            Err(Error::InvalidArgument(_))
        ));
        let ro = pool.open(&ours, OpenMode::ReadOnly).await.unwrap();
        assert!(matches!(
            ro.compare_and_write(0, vec![1], vec![1]).await,
            Err(Error::ReadOnly)
        ));
        drop(ro);
        img.close().await.unwrap();
        for name in [&ours, &theirs] {
            pool.remove(name).await.unwrap();
        }
        rados.shutdown().await;
    });
}

#[test]
fn compare_and_write_striped_stays_in_one_stripe_unit() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let name = unique_name("caw-striped");
        let mut opts = CreateOptions::new(1 << 22);
        opts.order = Some(16);
        opts.stripe_unit = 4096;
        opts.stripe_count = 3;
        pool.create(&name, &opts).await.unwrap();
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        // inside one stripe unit (of object 1)
        assert_eq!(
            img.compare_and_write(4096 + 10, vec![0; 100], vec![3; 100])
                .await
                .unwrap(),
            100
        );
        let e = img
            .compare_and_write(4096 + 10, vec![0; 100], vec![4; 100])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::CompareMismatch { offset: 4106 }), "{e}");
        // across two stripe units: EINVAL, as librbd
        let e = img
            .compare_and_write(4000, vec![0; 200], vec![1; 200])
            .await
            .unwrap_err();
        assert!(e.is(Errno::EINVAL), "{e}");
        let lib = librbd_compare_and_write(
            &name,
            &[
                (4000, vec![0; 200], vec![1; 200]),
                (4106, vec![3; 100], vec![5; 100]),
            ],
        );
        assert_eq!(lib, vec![(-22, u64::MAX), (100, u64::MAX)]);
        assert_eq!(&img.read(4106, 100).await.unwrap()[..], &[5; 100][..]);
        // the open image watches its header (exclusive lock): close it before removing
        img.close().await.unwrap();
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn rados_cmpext() {
    run(async {
        let rados = connect().await;
        let io = rados.ioctx("rbd").await.unwrap();
        let oid = unique_name("cmpext");
        // a missing object: ENOENT in a read, zeros in a write
        let e = io.cmpext(&oid, 10, vec![0u8; 8]).await.unwrap_err();
        assert!(e.is(Errno::ENOENT), "{e}");
        let e = io
            .op(&oid)
            .cmpext(10, vec![0, 0, 1])
            .write(0, &b"x"[..])
            .submit()
            .await
            .unwrap_err();
        assert!(
            matches!(e, rados::Error::CompareMismatch { offset: 2, .. }),
            "{e}"
        );
        assert!(e.is(Errno::EILSEQ));
        assert!(io.stat(&oid).await.unwrap_err().is(Errno::ENOENT));
        io.op(&oid)
            .cmpext(10, vec![0u8; 8])
            .create(true)
            .submit()
            .await
            .unwrap();
        io.write_full(&oid, &b"hello world"[..]).await.unwrap();
        io.cmpext(&oid, 6, &b"world"[..]).await.unwrap();
        // past the end compares as zeros
        io.cmpext(&oid, 6, &b"world\0\0"[..]).await.unwrap();
        let e = io.cmpext(&oid, 0, &b"help"[..]).await.unwrap_err();
        assert!(matches!(
            e,
            rados::Error::CompareMismatch {
                offset: 3,
                failed_op: Some(0)
            }
        ));
        // guarding a write: nothing written on a mismatch
        let e = io
            .op(&oid)
            .cmpext(0, &b"hellO"[..])
            .write(0, &b"HELLO"[..])
            .submit()
            .await
            .unwrap_err();
        assert!(matches!(e, rados::Error::CompareMismatch { offset: 4, .. }));
        io.op(&oid)
            .cmpext(0, &b"hello"[..])
            .write(0, &b"HELLO"[..])
            .submit()
            .await
            .unwrap();
        assert_eq!(&io.read(&oid, 0, 0).await.unwrap()[..], b"HELLO world");
        // in a read op with a read
        let r = io
            .read_op(&oid)
            .cmpext(6, &b"wor"[..])
            .read(0, 5)
            .submit()
            .await
            .unwrap();
        assert_eq!(&r.get(1).unwrap().data().unwrap()[..], b"HELLO");
        io.remove(&oid).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn image_file_copies_in_and_out() {
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("image-file");
        let size: u64 = (9 << 20) + 12345;
        let data = pattern(size as usize, 21);
        let src = dir.join("src");
        std::fs::write(&src, &data).unwrap();
        let name = unique_name("imgfile");
        pool.create(&name, &CreateOptions::new(size)).await.unwrap();
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let handle = tokio::runtime::Handle::current();
        let (src2, dir2) = (src.clone(), dir.clone());
        let img = tokio::task::spawn_blocking(move || {
            let mut f = BufWriter::with_capacity(4 << 20, ImageFile::new(img, handle));
            std::io::copy(&mut std::fs::File::open(&src2).unwrap(), &mut f).unwrap();
            let mut f = f.into_inner().unwrap();
            f.flush().unwrap();
            assert_eq!(f.tell(), size);
            // past the end: nothing more fits
            let e = f.write(b"x").unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::WriteZero);
            // seek and read pieces
            assert_eq!(f.seek(SeekFrom::End(-5)).unwrap(), size - 5);
            let mut tail = Vec::new();
            f.read_to_end(&mut tail).unwrap();
            assert_eq!(tail, data[data.len() - 5..]);
            f.seek(SeekFrom::Start(1000)).unwrap();
            f.seek(SeekFrom::Current(-10)).unwrap();
            let mut piece = [0u8; 100];
            f.read_exact(&mut piece).unwrap();
            assert_eq!(piece[..], data[990..1090]);
            assert!(f.seek(SeekFrom::Current(-2000)).is_err());
            // out again
            f.rewind().unwrap();
            let out = dir2.join("out");
            let mut r = BufReader::with_capacity(4 << 20, f);
            std::io::copy(&mut r, &mut std::fs::File::create(&out).unwrap()).unwrap();
            assert!(std::fs::read(&out).unwrap() == data);
            r.into_inner().into_inner()
        })
        .await
        .unwrap();
        // rbd sees what was written
        let exported = dir.join("rbd-export");
        ceph_tool("rbd", &["export", &name, &tool_view(&exported)]);
        assert!(std::fs::read(&exported).unwrap() == std::fs::read(&src).unwrap());
        drop(img);
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}

#[test]
fn async_image_file_copies_in_and_out() {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    run(async {
        let rados = connect().await;
        let pool = pool(&rados).await;
        let dir = scratch_dir("async-image-file");
        let size: u64 = (5 << 20) + 777;
        let data = pattern(size as usize, 22);
        let src = dir.join("src");
        std::fs::write(&src, &data).unwrap();
        // in through rbd import, out through the adapter
        let name = unique_name("asyncfile");
        ceph_tool(
            "rbd",
            &[
                "import",
                "--image-feature",
                "layering",
                &tool_view(&src),
                &name,
            ],
        );
        let img = pool.open(&name, OpenMode::ReadWrite).await.unwrap();
        let mut f = AsyncImageFile::new(img);
        let mut out = Vec::new();
        let mut r = tokio::io::BufReader::with_capacity(1 << 20, &mut f);
        tokio::io::copy(&mut r, &mut out).await.unwrap();
        assert!(out == data);
        // small reads keep the rest of a larger read
        f.seek(SeekFrom::Start(100)).await.unwrap();
        let mut b = [0u8; 7];
        f.read_exact(&mut b).await.unwrap();
        assert_eq!(b[..], data[100..107]);
        assert_eq!(f.stream_position().await.unwrap(), 107);
        // in through the adapter, out through rbd export
        let new = pattern(size as usize, 23);
        f.rewind().await.unwrap();
        let mut w = tokio::io::BufWriter::with_capacity(1 << 20, &mut f);
        tokio::io::copy(&mut &new[..], &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        assert_eq!(f.tell(), size);
        let e = f.write(b"x").await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WriteZero);
        let exported = dir.join("rbd-export");
        ceph_tool("rbd", &["export", &name, &tool_view(&exported)]);
        assert!(std::fs::read(&exported).unwrap() == new);
        drop(f);
        pool.remove(&name).await.unwrap();
        rados.shutdown().await;
    });
}
