//! On-wire compression asked of OSDs (`ms_osd_compress_mode = force`) against the real
//! cluster of `CEPH_CONF`: the OSDs decline it for a client (src/msg/compressor_registry.cc
//! `get_mode` compresses only with OSD peers) and object I/O works in each connection mode
//! the cluster allows, checked both ways against Ceph's `rados` tool. That Ceph's own
//! compressed frames decode is tested with frames captured between OSDs (msgr2 unit tests).

use bytes::Bytes;
use interop_tests::{ceph_conf, ceph_tool, conf_value, run, scratch_dir, tool_view, unique_name};

/// Compressible object contents: text records.
fn records(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while v.len() < len {
        v.extend_from_slice(format!("compressible record {i:012} |").as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

#[test]
fn object_io_with_compression_requested() {
    // a cluster started with --ms-mode pins one mode; the default one accepts both
    let modes = match conf_value("ms_client_mode") {
        Some(m) => vec![m],
        None => vec!["crc".to_owned(), "secure".to_owned()],
    };
    run(async {
        let dir = scratch_dir("onwire-compression");
        for mode in &modes {
            let config = rados::ClientConfig::builder()
                .conf_file(ceph_conf())
                .set("ms_client_mode", mode.as_str())
                .set("ms_osd_compress_mode", "force")
                .set("ms_osd_compression_algorithm", "zstd lz4 snappy zlib")
                .set("ms_osd_compress_min_size", "512")
                .set("ms_compress_secure", "true")
                .build()
                .unwrap_or_else(|e| panic!("config: {e}"));
            assert!(config.osd_compression.wanted(mode == "secure"));
            let rados = rados::Rados::connect(config)
                .await
                .unwrap_or_else(|e| panic!("{mode}: connecting: {e}"));
            let io = rados.ioctx("rbd").await.unwrap();
            for size in [100usize, 64 << 10, 4 << 20] {
                // ours -> rados get
                let oid = unique_name(&format!("compress-{mode}-{size}"));
                let data = records(size);
                io.write_full(&oid, Bytes::from(data.clone()))
                    .await
                    .unwrap();
                let file = dir.join(format!("{oid}.out"));
                ceph_tool("rados", &["-p", "rbd", "get", &oid, &tool_view(&file)]);
                assert!(
                    std::fs::read(&file).unwrap() == data,
                    "{mode} {size}: rados get"
                );
                // rados put -> ours
                let oid2 = unique_name(&format!("compress-{mode}-{size}-put"));
                let src = dir.join(format!("{oid2}.in"));
                let data2 = records(size + 7);
                std::fs::write(&src, &data2).unwrap();
                ceph_tool("rados", &["-p", "rbd", "put", &oid2, &tool_view(&src)]);
                let back = io.read(&oid2, 0, u64::MAX >> 1).await.unwrap();
                assert!(back[..] == data2[..], "{mode} {size}: our read");
                io.remove(&oid).await.unwrap();
                io.remove(&oid2).await.unwrap();
            }
            eprintln!("{mode}: object I/O with compression requested works");
            rados.shutdown().await;
        }
    });
}
