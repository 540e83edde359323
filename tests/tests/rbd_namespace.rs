//! RBD namespaces against the real cluster of `CEPH_CONF`, both ways with `rbd namespace`
//! and python3-rbd: created by one side, used and removed by the other; removal refused
//! while images or trash entries remain.

use interop_tests::{
    rbd_pool as pool, rbd_tool as rbd, rbd_tool_json as rbd_json, run, unique_name,
};
use rbd::{OpenMode, Rbd};

fn namespaces() -> Vec<String> {
    rbd_json(&["namespace", "ls"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn namespaces_both_ways() {
    run(async {
        let rados = interop_tests::connect().await;
        let pool = pool(&rados).await;

        // created here, used by rbd, refused while not empty, removed here
        let ns = unique_name("ns-a");
        pool.namespace_create(&ns).await.unwrap();
        assert!(pool.namespace_exists(&ns).await.unwrap());
        assert!(pool.namespace_list().await.unwrap().contains(&ns));
        assert!(namespaces().contains(&ns));
        let e = pool.namespace_create(&ns).await.unwrap_err();
        assert!(e.is(rados::Errno::EEXIST), "{e}");
        let img = format!("rbd/{ns}/img");
        rbd(&[
            "create",
            "--size",
            "4M",
            "--image-feature",
            "layering",
            &img,
        ]);
        let in_ns = Rbd::new(rados.ioctx("rbd").await.unwrap().with_namespace(ns.clone()));
        assert_eq!(in_ns.list().await.unwrap()[0].name, "img");
        let image = in_ns.open("img", OpenMode::ReadOnly).await.unwrap();
        assert_eq!(image.size(), 4 << 20);
        drop(image);
        let e = pool.namespace_remove(&ns).await.unwrap_err();
        assert!(e.is(rados::Errno::EBUSY), "{e}");
        assert!(pool.namespace_exists(&ns).await.unwrap(), "ready again");
        // an image created here in the namespace is seen by rbd; a trash entry blocks too
        let mut opts = rbd::CreateOptions::new(1 << 20);
        opts.features = Some(rbd::features::LAYERING);
        in_ns.create("mine", &opts).await.unwrap();
        let listed = rbd(&["ls", &format!("rbd/{ns}")]);
        assert_eq!(listed, "img\nmine\n");
        in_ns.remove("img").await.unwrap();
        let id = in_ns.trash_move("mine", 0).await.unwrap();
        let e = pool.namespace_remove(&ns).await.unwrap_err();
        assert!(e.is(rados::Errno::EBUSY), "a trash entry blocks: {e}");
        in_ns.trash_remove(&id, false).await.unwrap();
        pool.namespace_remove(&ns).await.unwrap();
        assert!(!pool.namespace_exists(&ns).await.unwrap());
        assert!(!namespaces().contains(&ns));

        // created by rbd, seen by python and here, removed here, python agrees
        let ns = unique_name("ns-b");
        rbd(&["namespace", "create", &format!("rbd/{ns}")]);
        assert!(pool.namespace_exists(&ns).await.unwrap());
        let script = format!(
            "import rados, rbd\n\
             c = rados.Rados(conffile='{}'); c.connect(); io = c.open_ioctx('rbd')\n\
             print(rbd.RBD().namespace_exists(io, '{ns}'), flush=True)\n\
             io.close(); c.shutdown()\n",
            interop_tests::tool_conf()
        );
        let py = |s: &str| {
            let o = interop_tests::python3().args(["-c", s]).output().unwrap();
            // (a librados client left to the interpreter's exit has crashed there once)
            assert!(o.status.success(), "{o:?}");
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        };
        assert_eq!(py(&script), "True");
        pool.namespace_remove(&ns).await.unwrap();
        assert_eq!(py(&script), "False");
        let e = pool.namespace_remove(&ns).await.unwrap_err();
        assert!(e.is(rados::Errno::ENOENT), "{e}");
        rados.shutdown().await;
    });
}
