//! The cluster the interop tests run against is there, and the basic types our crates share
//! agree with what Ceph itself reports about it.

use denc::{AddrType, EntityAddr, EntityAddrVec, Uuid};
use interop_tests::{ceph_json, ceph_tool, conf_value};

#[test]
fn cluster_is_reachable_and_its_fsid_parses() {
    let out = ceph_tool("ceph", &["fsid"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let fsid: Uuid = text.trim().parse().unwrap();
    assert!(!fsid.is_nil());
    assert_eq!(fsid.to_string(), text.trim());
    if let Some(conf_fsid) = conf_value("fsid") {
        assert_eq!(fsid, conf_fsid.parse::<Uuid>().unwrap());
    }
}

#[test]
fn monitor_addresses_parse_and_print_like_ceph() {
    let dump = ceph_json(&["mon", "dump"]);
    let mons = dump["mons"].as_array().expect("mons in mon dump");
    assert!(!mons.is_empty());
    // the plain-text dump prints each monitor as `RANK: ADDRVEC mon.NAME`
    let text = String::from_utf8(ceph_tool("ceph", &["mon", "dump"]).stdout).unwrap();
    for mon in mons {
        let addrs = mon["public_addrs"]["addrvec"].as_array().unwrap();
        let parsed: Vec<EntityAddr> = addrs
            .iter()
            .map(|a| {
                let text = format!(
                    "{}:{}/{}",
                    a["type"].as_str().unwrap(),
                    a["addr"].as_str().unwrap(),
                    a["nonce"]
                );
                text.parse().unwrap()
            })
            .collect();
        let vec = EntityAddrVec(parsed);
        assert!(vec.msgr2().is_some(), "the test cluster speaks msgr2");
        assert!(vec.0.iter().all(|a| a.addr_type != AddrType::NONE));
        let line = format!(
            "{}: {} mon.{}",
            mon["rank"],
            vec,
            mon["name"].as_str().unwrap()
        );
        assert!(
            text.lines().any(|l| l == line),
            "`ceph mon dump` has no line {line:?}:\n{text}"
        );
    }
}
