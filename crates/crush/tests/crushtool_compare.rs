//! Our mapper against Ceph's `crushtool --test --show-mappings` (the host's Ceph, Pacific),
//! on maps crushtool builds and compiles at test time. Every mapping line must be identical.

mod support;

use support::{Level, MapText, Run, compare, compile, level, load, profile, rule};

const ALGS: [&str; 5] = ["uniform", "list", "tree", "straw", "straw2"];

/// Uneven device weights, some of them zero.
fn uneven(d: usize) -> f64 {
    match d % 7 {
        0 => 0.0,
        1 => 0.25,
        2 => 2.5,
        3 => 1.0,
        4 => 0.5,
        5 => 3.75,
        _ => 1.5,
    }
}

/// The standard rule set used on generated maps (ids 0..=6) and the result sizes to test.
fn standard_rules() -> (Vec<String>, Vec<(i32, usize)>) {
    let rules = vec![
        rule(
            "rep_host",
            0,
            "replicated",
            &["take default", "chooseleaf firstn 0 type host", "emit"],
        ),
        rule(
            "ec_host",
            1,
            "erasure",
            &[
                "set_chooseleaf_tries 5",
                "set_choose_tries 100",
                "take default",
                "chooseleaf indep 0 type host",
                "emit",
            ],
        ),
        rule(
            "rep_rack_then_host",
            2,
            "replicated",
            &[
                "take default",
                "choose firstn 0 type rack",
                "chooseleaf firstn 1 type host",
                "emit",
            ],
        ),
        rule(
            "ec_rack_osd",
            3,
            "erasure",
            &[
                "take default",
                "choose indep 3 type rack",
                "choose indep 2 type osd",
                "emit",
            ],
        ),
        rule(
            "rep_osd",
            4,
            "replicated",
            &["take default", "choose firstn 0 type osd", "emit"],
        ),
        rule(
            "rep_minus_one",
            5,
            "replicated",
            &["take default", "chooseleaf firstn -1 type rack", "emit"],
        ),
        rule(
            "rep_hosts_then_osds",
            6,
            "replicated",
            &[
                "take default",
                "choose firstn 2 type host",
                "choose firstn 2 type osd",
                "emit",
            ],
        ),
    ];
    let runs = vec![(0, 3), (1, 6), (2, 3), (3, 6), (4, 4), (5, 4), (6, 4)];
    (rules, runs)
}

fn levels(alg: &'static str) -> Vec<Level> {
    vec![
        level("host", alg, 4),
        level("rack", alg, 3),
        level("root", alg, 4),
    ]
}

/// Every bucket algorithm, every standard rule, with and without reweighted devices.
#[test]
fn bucket_algorithms() {
    support::require_crushtool();
    let dir = support::scratch("algorithms");
    for alg in ALGS {
        let mut text = MapText::new(levels(alg));
        // uniform buckets need equal weights
        if alg != "uniform" {
            text.weight = &uneven;
        }
        let (rules, runs) = standard_rules();
        text.rules = rules;
        let bin = compile(&dir, alg, &text.render());
        let map = load(&bin);
        for (rule, num_rep) in runs {
            compare(&bin, &map, &Run::new(rule, num_rep));
        }
        // reweights: out, partially out, and a pool id
        let weighted = Run::new(0, 3).weight(3, 0.0).weight(5, 0.5).weight(9, 0.1);
        compare(&bin, &map, &weighted);
        compare(&bin, &map, &Run::new(1, 6).weight(2, 0.0).weight(6, 0.7));
        compare(&bin, &map, &Run::new(0, 3).pool(3));
    }
    support::report("bucket_algorithms");
}

/// Every tunables profile (argonaut's local retries and exhaustive fallback included) on
/// uneven, partly out maps of straw2 and straw buckets, plus vary_r / stable variants.
#[test]
fn tunables_profiles() {
    support::require_crushtool();
    let dir = support::scratch("tunables");
    let mut variants: Vec<(String, support::TunableLines, &'static str)> = Vec::new();
    for name in ["argonaut", "bobtail", "firefly", "hammer", "jewel"] {
        for alg in ["straw2", "straw", "list"] {
            if name == "argonaut" || alg == "straw2" {
                variants.push((format!("{name}-{alg}"), profile(name), alg));
            }
        }
    }
    for vary_r in 0..=4 {
        let mut t = profile("firefly");
        t.retain(|(n, _)| *n != "chooseleaf_vary_r");
        t.push(("chooseleaf_vary_r", vary_r));
        variants.push((format!("vary-r-{vary_r}"), t, "straw2"));
    }
    for (name, tunables, alg) in variants {
        let mut text = MapText::new(levels(alg));
        text.weight = &uneven;
        text.tunables = tunables;
        let (rules, runs) = standard_rules();
        text.rules = rules;
        let bin = compile(&dir, &name, &text.render());
        let map = load(&bin);
        for (rule, num_rep) in runs {
            compare(&bin, &map, &Run::new(rule, num_rep));
        }
        // heavy rejection: many devices out or partly out
        let mut heavy = Run::new(0, 4);
        for osd in (1..48).step_by(3) {
            heavy = heavy.weight(osd, if osd % 2 == 0 { 0.0 } else { 0.3 });
        }
        compare(&bin, &map, &heavy);
        let mut heavy_indep = Run::new(1, 8);
        for osd in (2..48).step_by(4) {
            heavy_indep = heavy_indep.weight(osd, 0.0);
        }
        compare(&bin, &map, &heavy_indep);
    }
    support::report("tunables_profiles");
}

/// Rules that override tunables with set_* steps, several take/emit blocks, a take of a
/// single device, and results larger than the hierarchy can fill.
#[test]
fn rule_steps() {
    support::require_crushtool();
    let dir = support::scratch("steps");
    let mut text = MapText::new(levels("straw2"));
    text.weight = &uneven;
    text.tunables = profile("bobtail");
    text.rules = vec![
        rule(
            "local_tries",
            0,
            "replicated",
            &[
                "set_choose_local_tries 2",
                "set_choose_local_fallback_tries 3",
                "set_chooseleaf_vary_r 2",
                "take default",
                "chooseleaf firstn 0 type host",
                "emit",
            ],
        ),
        rule(
            "stable",
            1,
            "replicated",
            &[
                "set_chooseleaf_stable 1",
                "set_chooseleaf_tries 3",
                "take default",
                "chooseleaf firstn 0 type rack",
                "emit",
            ],
        ),
        rule(
            "two_blocks",
            2,
            "replicated",
            &[
                "take rack0",
                "chooseleaf firstn 2 type host",
                "emit",
                "take rack1",
                "chooseleaf firstn -2 type host",
                "emit",
            ],
        ),
        rule(
            "one_device",
            3,
            "replicated",
            &[
                "take osd.5",
                "emit",
                "take host2",
                "choose firstn 0 type osd",
                "emit",
            ],
        ),
        rule(
            "few_tries",
            4,
            "erasure",
            &[
                "set_choose_tries 2",
                "take default",
                "chooseleaf indep 0 type host",
                "emit",
            ],
        ),
    ];
    let bin = compile(&dir, "steps", &text.render());
    let map = load(&bin);
    for (rule, num_rep) in [(0, 3), (0, 12), (1, 3), (2, 5), (3, 4), (4, 10), (4, 20)] {
        compare(&bin, &map, &Run::new(rule, num_rep));
    }
    for pool in [0, 1, 7, 4_294_967_296 + 5, -1] {
        compare(&bin, &map, &Run::new(1, 3).pool(pool));
    }
    support::report("rule_steps");
}

/// A large map from `crushtool --build` (1,280 devices, host/rack/row/root) with rules added
/// by crushtool's rule commands, reweighted in the text form.
#[test]
fn large_built_map() {
    support::require_crushtool();
    let dir = support::scratch("large");
    let built = dir.join("built.bin");
    let built_s = built.to_str().unwrap();
    support::crushtool(&[
        "--build",
        "--num_osds",
        "1280",
        "-o",
        built_s,
        "host",
        "straw2",
        "10",
        "rack",
        "straw2",
        "8",
        "row",
        "straw2",
        "4",
        "root",
        "straw2",
        "0",
    ]);
    let with_rules = dir.join("rules.bin");
    let with_rules_s = with_rules.to_str().unwrap();
    support::crushtool(&[
        "-i",
        built_s,
        "--create-replicated-rule",
        "rep_rack",
        "root",
        "rack",
        "-o",
        with_rules_s,
    ]);
    support::crushtool(&[
        "-i",
        with_rules_s,
        "--create-simple-rule",
        "ec_host",
        "root",
        "host",
        "indep",
        "-o",
        with_rules_s,
    ]);
    let map = load(&with_rules);
    for (rule, num_rep) in [(0, 3), (1, 3), (2, 8), (2, 11)] {
        compare(&with_rules, &map, &Run::new(rule, num_rep));
    }

    // reweight a few hundred devices in the text form and recompile
    let text = support::decompile(&with_rules);
    let mut reweighted = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        if let Some(rest) = line.trim().strip_prefix("item osd.") {
            let id: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
            line = format!("\titem osd.{id} weight {:.5}", uneven(id));
        }
        reweighted.push_str(&line);
        reweighted.push('\n');
    }
    let bin = compile(&dir, "reweighted", &reweighted);
    let map = load(&bin);
    for (rule, num_rep) in [(0, 3), (1, 4), (2, 8)] {
        compare(&bin, &map, &Run::new(rule, num_rep));
    }
    compare(&bin, &map, &Run::new(0, 3).weight(17, 0.0).weight(100, 0.2));
    support::report("large_built_map");
}

/// Device classes: rules that take a class's shadow tree.
#[test]
fn device_classes() {
    support::require_crushtool();
    let dir = support::scratch("classes");
    let mut text = MapText::new(levels("straw2"));
    text.weight = &uneven;
    text.class = &|d| Some(if d % 3 == 0 { "ssd" } else { "hdd" });
    text.rules = vec![
        rule(
            "ssd",
            0,
            "replicated",
            &[
                "take default class ssd",
                "chooseleaf firstn 0 type host",
                "emit",
            ],
        ),
        rule(
            "hdd_ec",
            1,
            "erasure",
            &[
                "take default class hdd",
                "chooseleaf indep 0 type host",
                "emit",
            ],
        ),
        rule(
            "all",
            2,
            "replicated",
            &["take default", "chooseleaf firstn 0 type rack", "emit"],
        ),
    ];
    let bin = compile(&dir, "classes", &text.render());
    let map = load(&bin);
    assert!(map.class_names().len() == 2 && !map.class_buckets().is_empty());
    for (rule, num_rep) in [(0, 3), (1, 6), (2, 3)] {
        compare(&bin, &map, &Run::new(rule, num_rep));
    }
    compare(&bin, &map, &Run::new(0, 3).weight(0, 0.0).weight(3, 0.4));
    support::report("device_classes");
}

/// choose_args: weight sets per position and replacement ids, under the id crushtool uses
/// (0), under the default id (-1, the fallback) and under an id crushtool ignores.
#[test]
fn choose_args() {
    support::require_crushtool();
    let dir = support::scratch("choose_args");
    let lv = levels("straw2");
    // crushtool's text form only takes non-negative ids: the default set (-1) is made by
    // patching the id of a compiled map
    const PATCH_ME: i64 = 123_456_789;
    for (name, key) in [("key0", 0), ("default", PATCH_ME), ("other", 5)] {
        let mut text = MapText::new(lv.clone());
        text.weight = &uneven;
        let (rules, runs) = standard_rules();
        text.rules = rules;
        // root is the last bucket (id -16), racks -13..-15, hosts -1..-12
        let mut args = format!("choose_args {key} {{\n");
        args.push_str(
            "  {\n    bucket_id -16\n    weight_set [\n      [ 1.00000 2.00000 3.00000 ]\n      \
             [ 3.00000 1.00000 0.50000 ]\n    ]\n    ids [ -100 -101 -102 ]\n  }\n",
        );
        for host in 1..=12 {
            let w = |i: usize| 0.25 + ((host * 3 + i) % 5) as f64 * 0.5;
            args.push_str(&format!(
                "  {{\n    bucket_id -{host}\n    weight_set [\n      [ {:.5} {:.5} {:.5} {:.5} ]\n    ]\n  }}\n",
                w(0),
                w(1),
                w(2),
                w(3)
            ));
        }
        args.push_str("}\n");
        text.choose_args = args;
        let mut bin = compile(&dir, name, &text.render());
        if key == PATCH_ME {
            let mut bytes = std::fs::read(&bin).unwrap();
            let mut pattern = 1_u32.to_le_bytes().to_vec();
            pattern.extend_from_slice(&PATCH_ME.to_le_bytes());
            let at = bytes
                .windows(pattern.len())
                .position(|w| w == pattern)
                .expect("choose_args id in the compiled map");
            bytes[at + 4..at + 12].copy_from_slice(&(-1_i64).to_le_bytes());
            bin = dir.join("patched-default.bin");
            std::fs::write(&bin, bytes).unwrap();
        }
        let map = load(&bin);
        let expected_key = if key == PATCH_ME { -1 } else { key };
        assert!(map.choose_args_map().contains_key(&expected_key));
        // the overrides must matter for the sets crushtool uses, or the test proves nothing
        let weights = crush::crushtool::tester_weights(&map, &[]).unwrap();
        let differing = (0..1000)
            .filter(|x| {
                let plain = map.do_rule(0, *x, 3, &weights, None).unwrap();
                let with = map.do_rule(0, *x, 3, &weights, map.choose_args(0)).unwrap();
                plain != with
            })
            .count();
        assert_eq!(
            differing > 100,
            key != 5,
            "{name}: {differing} of 1000 differ"
        );
        assert_eq!(map.choose_args_map().len(), 1);
        for (rule, num_rep) in runs {
            compare(&bin, &map, &Run::new(rule, num_rep));
        }
        compare(&bin, &map, &Run::new(0, 3).pool(2).weight(4, 0.0));
    }
    support::report("choose_args");
}

/// Ceph's own crushtool test maps (src/test/cli/crushtool in Ceph's source tree, which is
/// not ours to commit): every rule, several result sizes. Run it where a source tree is at
/// hand: `CEPH_SRC=/path/to/ceph/src cargo test -p crush -- --ignored ceph_test_maps`.
#[test]
#[ignore = "needs Ceph's source tree (CEPH_SRC); run with --ignored"]
fn ceph_test_maps() {
    support::require_crushtool();
    let src = std::path::PathBuf::from(
        std::env::var("CEPH_SRC").expect("CEPH_SRC: the src/ directory of a Ceph source tree"),
    )
    .join("test/cli/crushtool");
    let src = src.as_path();
    assert!(src.is_dir(), "no Ceph test maps at {}", src.display());
    let dir = support::scratch("ceph_maps");
    let mut bins = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".crushmap") && !name.ends_with(".crushmap.txt") {
            bins.push(path);
        } else if name.ends_with(".crush") || name.ends_with(".crushmap.txt") {
            // text maps: Reef's may omit the rule sizes Pacific's compiler requires
            let text = std::fs::read_to_string(&path).unwrap();
            let mut patched = String::new();
            let mut in_rule = false;
            for line in text.lines() {
                patched.push_str(line);
                patched.push('\n');
                let t = line.trim_start();
                if t.starts_with("rule ") {
                    in_rule = true;
                } else if in_rule && t.starts_with("type ") {
                    if !text.contains("min_size") {
                        patched.push_str("\tmin_size 1\n\tmax_size 10\n");
                    }
                    in_rule = false;
                }
            }
            let src_path = dir.join(format!("{name}.src"));
            let bin_path = dir.join(format!("{name}.bin"));
            std::fs::write(&src_path, patched).unwrap();
            let out = std::process::Command::new("crushtool")
                .arg("-c")
                .arg(&src_path)
                .arg("-o")
                .arg(&bin_path)
                .arg("--enable-unsafe-tunables")
                .output();
            match out {
                Ok(o) if o.status.success() => bins.push(bin_path),
                // some are deliberately invalid (missing buckets, bad names)
                _ => println!("{name}: Pacific's crushtool does not compile it"),
            }
        }
    }
    bins.sort();
    assert!(bins.len() >= 8, "expected Ceph's test maps, found {bins:?}");
    for bin in &bins {
        let map = load(bin);
        let rules: Vec<i32> = map.rules().map(|(id, _)| id).collect();
        for rule in rules {
            compare(bin, &map, &Run::new(rule, 2));
            // more replicas than some of these maps can place: every mapping exhausts its
            // retries, which is slow in crushtool and in a debug build of ours alike
            compare(bin, &map, &Run::new(rule, 5).fewer_inputs(10));
        }
    }
    println!("{} of Ceph's test maps", bins.len());
    support::report("ceph_test_maps");
}
