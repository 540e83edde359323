//! `rbd-rs crush test` prints exactly what `crushtool --test --show-mappings` prints, for maps
//! built by crushtool (no cluster needed; crushtool must be installed).

use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running the command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn crush_test_prints_like_crushtool() {
    let dir = std::env::temp_dir().join(format!("rbd-rs-crush-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base");
    let map = dir.join("map");
    run(Command::new("crushtool")
        .args(["--build", "--num_osds", "24", "-o"])
        .arg(&base)
        .args([
            "host", "straw2", "4", "rack", "straw", "3", "root", "straw2", "0",
        ]));
    run(Command::new("crushtool")
        .arg("-i")
        .arg(&base)
        .args(["--create-simple-rule", "ec", "root", "host", "indep", "-o"])
        .arg(&map));
    let m = map.to_str().unwrap();
    let mut compared = 0;
    for args in [
        &["--num-rep", "3"][..],
        &["--num-rep", "4", "--rule", "1", "--pool-id", "7"],
        &["--num-rep", "2", "--x", "12345"],
        &[
            "--num-rep",
            "3",
            "--weight",
            "3",
            "0.5",
            "--weight",
            "7",
            "0",
        ],
        &["--num-rep", "5", "--min-x", "1000", "--max-x", "20000"],
        &["--num-rep", "3", "--max-x", "5000"], // without --min-x, crushtool maps 0..1023
        &["--num-rep", "3", "--rule", "9"],     // no such rule: nothing
    ] {
        let ours = run(Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
            .args(["crush", "test", "-i", m, "--show-mappings"])
            .args(args));
        let theirs = run(Command::new("crushtool")
            .args(["-i", m, "--test", "--show-mappings"])
            .args(args));
        assert_eq!(ours, theirs, "{args:?}");
        compared += ours.lines().count();
    }
    assert!(compared > 20_000, "{compared}");
    // crushtool's own refusal, ours: no replica count
    let out = Command::new(env!("CARGO_BIN_EXE_rbd-rs"))
        .args(["crush", "test", "-i", m, "--show-mappings"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--num-rep"));
    let _ = std::fs::remove_dir_all(&dir);
}
