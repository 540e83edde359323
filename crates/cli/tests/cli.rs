//! The `rbd-rs` binary against the real cluster of `CEPH_CONF` (like the interop tests, these
//! fail without one): `status` agrees with `ceph -s`, `mon-command` behaves like `ceph`,
//! `osd map` like `ceph osd map`, `osdmap map-object|map-pgs` like `osdmaptool`.

use std::process::{Command, Output};

use interop_tests::{ceph_conf, ceph_json, reference_tool, scratch_dir, tool_view};

/// `rbd-rs ARGS` with `-c CEPH_CONF`.
fn rbd_rs(args: &[&str]) -> Output {
    let conf = ceph_conf();
    Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(&conf)
        .args(args)
        .env_remove("CEPH_ARGS")
        .output()
        .expect("running rbd-rs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn status_json_matches_ceph_s() {
    for attempt in 0.. {
        let out = rbd_rs(&["status", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let theirs = ceph_json(&["-s"]);
        if ours["osdmap"]["epoch"] != theirs["osdmap"]["epoch"] && attempt < 5 {
            continue; // the map moved in between
        }
        assert_eq!(ours["fsid"], theirs["fsid"]);
        for key in ["epoch", "num_mons"] {
            assert_eq!(ours["monmap"][key], theirs["monmap"][key], "monmap.{key}");
        }
        for key in ["epoch", "num_osds", "num_up_osds", "num_in_osds"] {
            assert_eq!(ours["osdmap"][key], theirs["osdmap"][key], "osdmap.{key}");
        }
        let pools = ceph_json(&["osd", "pool", "ls"]);
        let names: Vec<&serde_json::Value> = ours["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        assert_eq!(names, pools.as_array().unwrap().iter().collect::<Vec<_>>());
        break;
    }
    let plain = rbd_rs(&["status"]);
    assert!(plain.status.success());
    let fsid = ceph_json(&["-s"])["fsid"].as_str().unwrap().to_owned();
    assert!(stdout(&plain).contains(&fsid), "{}", stdout(&plain));
}

#[test]
fn mon_command_prints_like_ceph() {
    let out = rbd_rs(&[
        "mon-command",
        r#"{"prefix": "osd pool ls"}"#,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pools: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pools.iter().any(|p| p == "rbd"), "{pools:?}");
    // a failing command: status on stderr, exit status = errno
    let out = rbd_rs(&[
        "mon-command",
        r#"{"prefix": "osd pool get", "pool": "no-such-pool", "var": "size"}"#,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("Error ENOENT: "),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    // an unknown command: EINVAL
    let out = rbd_rs(&["mon-command", r#"{"prefix": "no such command"}"#]);
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
}

#[test]
fn mon_command_input_and_output_files() {
    let dir = std::env::temp_dir().join(format!("rbd-rs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in");
    let output = dir.join("out");
    let value = format!("value of {}\n", std::process::id());
    std::fs::write(&input, &value).unwrap();
    let key = format!("rbd-rs/test/{}", std::process::id());
    let set = serde_json::json!({"prefix": "config-key set", "key": key}).to_string();
    let out = rbd_rs(&["mon-command", &set, "-i", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let get = serde_json::json!({"prefix": "config-key get", "key": key}).to_string();
    let out = rbd_rs(&["mon-command", &get, "-o", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&output).unwrap(), value);
    let rm = serde_json::json!({"prefix": "config-key rm", "key": key}).to_string();
    assert!(rbd_rs(&["mon-command", &rm]).status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn configuration_errors_are_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .args(["-c", "/nonexistent/ceph.conf", "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/ceph.conf"),
        "{}",
        stderr(&out)
    );
    // CEPH_ARGS is read like Ceph's tools read it
    let out = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("-c")
        .arg(ceph_conf())
        .arg("status")
        .env("CEPH_ARGS", "--id nobody-here")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("client.nobody-here"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .arg("status")
        .env("CEPH_CONF", ceph_conf())
        .env("CEPH_ARGS", "--id admin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn osd_map_matches_ceph_osd_map() {
    for (object, nspace) in [
        ("rbd_directory", None),
        ("foo", Some("ns1")),
        ("a/b c", None),
    ] {
        let mut args = vec!["--format", "json", "osd", "map", "rbd", object];
        args.extend(nspace);
        for attempt in 0.. {
            let out = rbd_rs(&args);
            assert!(out.status.success(), "{}", stderr(&out));
            let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs = ceph_json(&args[2..]);
            if ours["epoch"] != theirs["epoch"] && attempt < 5 {
                continue; // the map moved in between
            }
            assert_eq!(ours, theirs, "{object}");
            break;
        }
    }
    let out = rbd_rs(&["osd", "map", "no-such-pool", "x"]);
    assert!(!out.status.success());
}

#[test]
fn osdmap_file_commands_print_like_osdmaptool() {
    let dir = scratch_dir("cli-osdmap");
    let map = dir.join("osdmap");
    interop_tests::ceph_tool("ceph", &["osd", "getmap", "-o", &tool_view(&map)]);
    let osdmaptool = reference_tool("osdmaptool");
    let tool = |args: &[&str]| {
        let out = Command::new(&osdmaptool)
            .arg(&map)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let ours = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let m = map.to_str().unwrap();
    for name in ["rbd_directory", "foo", "benchmark_data_1"] {
        assert_eq!(
            ours(&["osdmap", "map-object", "-i", m, "--pool", "1", name]),
            tool(&["--test-map-object", name, "--pool", "1"])
        );
    }
    // osdmaptool follows the mapping lines with statistics, which we do not print
    let theirs = tool(&["--test-map-pgs-dump-all", "--pool", "1"]);
    let ours = ours(&["osdmap", "map-pgs", "-i", m, "--pool", "1"]);
    assert!(ours.lines().count() > 1);
    assert!(
        theirs.starts_with(&ours),
        "ours:\n{ours}\ntheirs:\n{theirs}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
