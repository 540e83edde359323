//! MSR rules (Squid and later) against Ceph 20's own crushtool, run in the project's Tentacle
//! chroot (the host's Pacific crushtool has no MSR): every bucket algorithm, MSR firstn and
//! indep with one to three levels, two blocks, tight retry settings, straight to devices, a
//! malformed rule, out and partly weighted devices, and straw2 weight sets; classic rules in
//! the same maps for good measure. Needs `scripts/ceph-chroot setup tentacle`.

mod support;

use crush::{ChooseArg, ChooseArgs, CrushMap, Rule, RuleOp, RuleStep, rule_type};
use support::{Crushtool, MapText, Run, compare_with, compile, level, load, rule};

fn step(op: RuleOp, arg1: i32, arg2: i32) -> RuleStep {
    RuleStep { op, arg1, arg2 }
}

/// Ceph 17 and later refuse to decode a rule whose ruleset is not its id.
fn msr_rule(id: usize, ty: u8, steps: Vec<RuleStep>) -> Option<Rule> {
    Some(Rule {
        ruleset: u8::try_from(id).unwrap(),
        rule_type: ty,
        min_size: 1,
        max_size: 100,
        steps,
    })
}

/// The MSR rules added to each map (ids 2..=8), given the root and two racks.
fn msr_rules(root: i32, rack0: i32, rack1: i32) -> Vec<(u8, Vec<RuleStep>)> {
    use RuleOp::*;
    vec![
        // hosts by position, two devices each
        (
            rule_type::MSR_INDEP,
            vec![
                step(Take, root, 0),
                step(ChooseMsr, 4, 1),
                step(ChooseMsr, 2, 0),
                step(Emit, 0, 0),
            ],
        ),
        (
            rule_type::MSR_FIRSTN,
            vec![
                step(Take, root, 0),
                step(ChooseMsr, 4, 1),
                step(ChooseMsr, 2, 0),
                step(Emit, 0, 0),
            ],
        ),
        // result_max racks, one device each, tighter retry settings
        (
            rule_type::MSR_INDEP,
            vec![
                step(SetMsrDescents, 3, 0),
                step(SetMsrCollisionTries, 2, 0),
                step(Take, root, 0),
                step(ChooseMsr, 0, 2),
                step(ChooseMsr, 1, 0),
                step(Emit, 0, 0),
            ],
        ),
        // three levels
        (
            rule_type::MSR_INDEP,
            vec![
                step(Take, root, 0),
                step(ChooseMsr, 2, 2),
                step(ChooseMsr, 2, 1),
                step(ChooseMsr, 2, 0),
                step(Emit, 0, 0),
            ],
        ),
        // two blocks
        (
            rule_type::MSR_FIRSTN,
            vec![
                step(Take, rack0, 0),
                step(ChooseMsr, 2, 1),
                step(ChooseMsr, 1, 0),
                step(Emit, 0, 0),
                step(Take, rack1, 0),
                step(ChooseMsr, 3, 0),
                step(Emit, 0, 0),
            ],
        ),
        // straight to devices
        (
            rule_type::MSR_INDEP,
            vec![step(Take, root, 0), step(ChooseMsr, 0, 0), step(Emit, 0, 0)],
        ),
        // malformed: a classic choose inside an MSR rule maps to nothing
        (
            rule_type::MSR_INDEP,
            vec![
                step(Take, root, 0),
                step(ChooseFirstN, 0, 1),
                step(Emit, 0, 0),
            ],
        ),
    ]
}

/// crushtool `--weight` overrides: every `every`th device out, another partly in.
fn weights(devices: usize, every: usize) -> Vec<(i32, f64)> {
    if every == 0 {
        return Vec::new();
    }
    (0..devices)
        .filter_map(|d| match d % every {
            1 => Some((d as i32, 0.0)),
            3 => Some((d as i32, 0.375)),
            _ => None,
        })
        .collect()
}

fn check(map: &CrushMap, name: &str) -> usize {
    let dir = Crushtool::Tentacle.scratch(name);
    let bin = dir.join("map");
    std::fs::write(&bin, denc::encode_to_vec(map).unwrap()).unwrap();
    let devices = usize::try_from(map.max_devices()).unwrap();
    let mut runs = 0;
    for every in [0, 5, 3] {
        let w = weights(devices, every);
        let with = |mut run: Run| {
            run.weights = w.clone();
            // MSR mappings cost several times a classic one
            run.fewer_inputs(4)
        };
        compare_with(Crushtool::Tentacle, &bin, map, &with(Run::new(0, 3)));
        compare_with(Crushtool::Tentacle, &bin, map, &with(Run::new(1, 6)));
        for (rule, sizes) in [
            (2, &[8, 6][..]),
            (3, &[8, 5]),
            (4, &[4, 3]),
            (5, &[8]),
            (6, &[5]),
            (7, &[4]),
            (8, &[3]),
        ] {
            for &n in sizes {
                compare_with(Crushtool::Tentacle, &bin, map, &with(Run::new(rule, n)));
                runs += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    runs
}

#[test]
fn msr_rules_match_ceph_20_crushtool() {
    support::require_crushtool();
    Crushtool::Tentacle.require();
    let dir = support::scratch("tentacle");
    let mut runs = 0;
    for alg in ["straw2", "straw", "list", "tree", "uniform"] {
        // 4 racks x 3 hosts x 4 devices; types: osd 0, host 1, rack 2, root 3
        let mut text = MapText::new(vec![
            level("host", alg, 4),
            level("rack", alg, 3),
            level("root", alg, 4),
        ]);
        if alg != "uniform" {
            text.weight = &|d| [1.0, 0.5, 2.0, 1.5, 0.0][d % 5];
        }
        text.rules = vec![
            rule(
                "rep",
                0,
                "replicated",
                &["take default", "chooseleaf firstn 0 type host", "emit"],
            ),
            rule(
                "ec",
                1,
                "erasure",
                &["take default", "chooseleaf indep 0 type host", "emit"],
            ),
        ];
        let mut map = load(&compile(&dir, alg, &text.render()));
        let root = map.item_id("default").unwrap();
        let rack0 = map.item_id("rack0").unwrap();
        let rack1 = map.item_id("rack1").unwrap();
        for (i, (ty, steps)) in msr_rules(root, rack0, rack1).into_iter().enumerate() {
            map.set_rule(2 + i, msr_rule(2 + i, ty, steps));
            // Ceph 20's crushtool aborts on a rule without a name
            map.set_rule_name(i32::try_from(2 + i).unwrap(), format!("msr{}", 2 + i));
        }
        runs += check(&map, alg);

        if alg == "straw2" {
            // weight sets on the root and racks, ids on hosts, under id 0 (crushtool's first
            // choice, before the default -1)
            let mut args = ChooseArgs::new();
            for b in map.buckets() {
                let n = b.items.len();
                let arg = if b.bucket_type == 1 {
                    ChooseArg {
                        ids: b.items.iter().map(|i| i + 1000).collect(),
                        weight_set: vec![],
                    }
                } else {
                    ChooseArg {
                        ids: vec![],
                        weight_set: vec![
                            (0..n).map(|i| 0x8000 + 0x4000 * i as u32).collect(),
                            (0..n).map(|i| 0x30000 - 0x8000 * i as u32).collect(),
                        ],
                    }
                };
                args.insert(b.id, arg);
            }
            map.set_choose_args(0, args);
            runs += check(&map, "straw2-choose-args");
        }
    }
    assert!(runs > 100, "{runs} runs");
    support::report("msr_rules_match_ceph_20_crushtool");
}
