//! Placement compared with Ceph's own `osdmaptool` (Pacific on this host): every PG of every
//! pool of maps built by `osdmaptool`/`crushtool`, and maps we modify and re-encode (down,
//! out and missing OSDs, weights, primary affinity, pg_temp, primary_temp, pg_upmap,
//! pg_upmap_items, erasure-coded pools, device classes, choose_args, legacy pools), plus
//! objects through `--test-map-object`. Skipped (with a message) when the tools are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use denc::PgId;
use osdmap::testutil::{
    Comparison, compare_map_file, compare_objects, first_difference, release_features,
};
use osdmap::{Incremental, OsdMap, PgPool, osd_state};

const OSDMAPTOOL: &str = "osdmaptool";
const CRUSHTOOL: &str = "crushtool";

fn tools_available() -> bool {
    // crushtool --version exits non-zero; running at all is enough
    let ok = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    let available = ok(OSDMAPTOOL) && ok(CRUSHTOOL);
    if !available {
        eprintln!("osdmaptool/crushtool not installed: skipping the comparison with Ceph");
    }
    available
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("osdmap-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {}: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `osdmaptool --createsimple N --with-default-pool --pg-bits B --mark-up-in`.
fn create_simple(dir: &Scratch, name: &str, osds: u32, pg_bits: u32) -> PathBuf {
    let path = dir.path(name);
    run(
        OSDMAPTOOL,
        &[
            "--createsimple",
            &osds.to_string(),
            "--with-default-pool",
            "--pg-bits",
            &pg_bits.to_string(),
            "--clobber",
            "--mark-up-in",
            path.to_str().unwrap(),
        ],
    );
    path
}

fn import_crush(map: &Path, crush: &Path) {
    run(
        OSDMAPTOOL,
        &[
            map.to_str().unwrap(),
            "--import-crush",
            crush.to_str().unwrap(),
        ],
    );
}

fn load(path: &Path) -> OsdMap {
    OsdMap::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes the map as the host's (Pacific) tools encode it.
fn save(map: &OsdMap, path: &Path) {
    std::fs::write(path, map.to_bytes(release_features(16)).unwrap()).unwrap();
}

fn assert_same(cmp: Result<Comparison, String>) -> Comparison {
    match cmp.and_then(Comparison::into_result) {
        Ok(c) => c,
        Err(report) => panic!("{report}"),
    }
}

#[test]
fn simple_maps_match_osdmaptool() {
    if !tools_available() {
        return;
    }
    let dir = Scratch::new("simple");
    let mut pgs = 0;
    for (osds, bits) in [(1, 3), (3, 4), (5, 6), (12, 3)] {
        let path = create_simple(&dir, &format!("om{osds}"), osds, bits);
        let map = load(&path);
        // our encoding of an osdmaptool map is osdmaptool's, byte for byte
        let bytes = std::fs::read(&path).unwrap();
        assert!(map.to_bytes(release_features(16)).unwrap() == bytes);
        pgs += assert_same(compare_map_file(OSDMAPTOOL, &path)).pgs;
    }
    assert_eq!(pgs, 8 + 48 + 320 + 96);
}

#[test]
fn built_hierarchies_and_tunables_match_osdmaptool() {
    if !tools_available() {
        return;
    }
    let dir = Scratch::new("built");
    let layouts: &[(u32, &[&str])] = &[
        (12, &["host", "straw2", "4", "root", "straw2", "0"]),
        (
            12,
            &[
                "host", "straw", "3", "rack", "straw", "2", "root", "straw", "0",
            ],
        ),
        (16, &["host", "uniform", "4", "root", "list", "0"]),
        (15, &["host", "tree", "3", "root", "tree", "0"]),
        (10, &["host", "list", "2", "root", "uniform", "0"]),
        (9, &["host", "straw2", "1", "root", "straw2", "0"]),
    ];
    let tunables: &[&[&str]] = &[
        &[],
        &[
            "--set-chooseleaf-vary-r",
            "0",
            "--set-chooseleaf-stable",
            "0",
        ],
        &[
            "--set-choose-local-tries",
            "2",
            "--set-choose-local-fallback-tries",
            "5",
            "--set-choose-total-tries",
            "19",
            "--set-chooseleaf-descend-once",
            "0",
            "--set-chooseleaf-vary-r",
            "0",
            "--set-chooseleaf-stable",
            "0",
        ],
    ];
    let mut pgs = 0;
    for (i, (osds, layers)) in layouts.iter().enumerate() {
        for (j, t) in tunables.iter().enumerate() {
            let crush = dir.path(&format!("c{i}-{j}.bin"));
            let mut args = vec!["--outfn", crush.to_str().unwrap(), "--build", "--num_osds"];
            let n = osds.to_string();
            args.push(&n);
            args.extend_from_slice(layers);
            run(CRUSHTOOL, &args);
            if !t.is_empty() {
                let mut args = vec!["-i", crush.to_str().unwrap()];
                args.extend_from_slice(t);
                args.extend_from_slice(&["-o", crush.to_str().unwrap()]);
                run(CRUSHTOOL, &args);
            }
            let map = create_simple(&dir, &format!("om{i}-{j}"), *osds, 4);
            import_crush(&map, &crush);
            pgs += assert_same(compare_map_file(OSDMAPTOOL, &map)).pgs;
        }
    }
    assert_eq!(pgs, 3 * 16 * (12 + 12 + 16 + 15 + 10 + 9));
}

/// A CRUSH map with weights, two racks, device classes, an erasure rule, a rack rule and
/// choose_args for pools 1 and 3.
const CRUSH_TEXT: &str = "
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 osd.0 class ssd
device 1 osd.1 class ssd
device 2 osd.2 class ssd
device 3 osd.3 class ssd
device 4 osd.4 class ssd
device 5 osd.5 class ssd
device 6 osd.6 class hdd
device 7 osd.7 class hdd
device 8 osd.8 class hdd
device 9 osd.9 class hdd
device 10 osd.10 class hdd
device 11 osd.11 class hdd

type 0 osd
type 1 host
type 2 rack
type 3 root

host host0 {
\tid -1
\talg straw2
\thash 0
\titem osd.0 weight 1.000
\titem osd.1 weight 2.000
\titem osd.6 weight 0.500
}
host host1 {
\tid -2
\talg straw2
\thash 0
\titem osd.2 weight 1.000
\titem osd.7 weight 1.000
\titem osd.8 weight 1.500
}
host host2 {
\tid -3
\talg straw2
\thash 0
\titem osd.3 weight 3.000
\titem osd.4 weight 1.000
\titem osd.9 weight 1.000
}
host host3 {
\tid -4
\talg straw2
\thash 0
\titem osd.5 weight 1.000
\titem osd.10 weight 1.000
\titem osd.11 weight 0.250
}
rack rack0 {
\tid -5
\talg straw2
\thash 0
\titem host0 weight 3.500
\titem host1 weight 3.500
}
rack rack1 {
\tid -6
\talg straw2
\thash 0
\titem host2 weight 5.000
\titem host3 weight 2.250
}
root default {
\tid -7
\talg straw2
\thash 0
\titem rack0 weight 7.000
\titem rack1 weight 7.250
}

rule replicated_rule {
\tid 0
\ttype replicated
\tmin_size 1
\tmax_size 10
\tstep take default
\tstep chooseleaf firstn 0 type host
\tstep emit
}
rule ec_rule {
\tid 1
\ttype erasure
\tmin_size 3
\tmax_size 20
\tstep set_chooseleaf_tries 5
\tstep set_choose_tries 100
\tstep take default
\tstep chooseleaf indep 0 type host
\tstep emit
}
rule rack_rule {
\tid 2
\ttype replicated
\tmin_size 1
\tmax_size 10
\tstep take default
\tstep choose firstn 2 type rack
\tstep chooseleaf firstn 2 type host
\tstep emit
}
rule ssd_rule {
\tid 3
\ttype replicated
\tmin_size 1
\tmax_size 10
\tstep take default class ssd
\tstep chooseleaf firstn 0 type host
\tstep emit
}
rule ec_osd_rule {
\tid 4
\ttype erasure
\tmin_size 3
\tmax_size 20
\tstep take default class hdd
\tstep choose indep 0 type osd
\tstep emit
}

choose_args 1 {
  {
    bucket_id -1
    weight_set [
      [ 2.000 1.000 1.000 ]
      [ 1.000 1.000 3.000 ]
    ]
  }
  {
    bucket_id -7
    weight_set [
      [ 3.000 9.000 ]
    ]
  }
}
choose_args 3 {
  {
    bucket_id -3
    weight_set [
      [ 1.000 1.000 1.000 ]
    ]
  }
}
";

fn replicated_pool(size: u8, crush_rule: u8, pg_num: u32) -> PgPool {
    PgPool {
        pool_type: PgPool::TYPE_REPLICATED,
        size,
        min_size: size - size / 2,
        crush_rule,
        object_hash: 2,
        pg_num,
        pgp_num: pg_num,
        pg_num_target: pg_num,
        pgp_num_target: pg_num,
        pg_num_pending: pg_num,
        flags: PgPool::FLAG_HASHPSPOOL,
        ..PgPool::default()
    }
}

fn add_pool(map: &mut OsdMap, id: i64, name: &str, pool: PgPool) {
    map.pools.insert(id, pool);
    map.pool_names.insert(id, name.to_owned());
    map.pool_max = map.pool_max.max(i32::try_from(id).unwrap());
}

/// The 12-OSD map of [`CRUSH_TEXT`] with pools of every kind.
fn rich_map(dir: &Scratch) -> (OsdMap, PathBuf) {
    let text = dir.path("crush.txt");
    std::fs::write(&text, CRUSH_TEXT).unwrap();
    let crush = dir.path("crush.bin");
    run(
        CRUSHTOOL,
        &["-c", text.to_str().unwrap(), "-o", crush.to_str().unwrap()],
    );
    let path = create_simple(dir, "rich.bin", 12, 4);
    import_crush(&path, &crush);
    let mut map = load(&path);
    // pool 1 (rbd, 192 PGs, size 3) exists; add more
    add_pool(&mut map, 2, "legacy", {
        // no HASHPSPOOL, pg_num not a power of two, pgp_num < pg_num
        let mut p = replicated_pool(2, 0, 100);
        p.pgp_num = 60;
        p.flags = 0;
        p
    });
    add_pool(&mut map, 3, "ec", {
        let mut p = replicated_pool(4, 1, 64);
        p.pool_type = PgPool::TYPE_ERASURE;
        p.min_size = 3;
        p
    });
    add_pool(&mut map, 4, "ec-wide", {
        // more shards than hosts: indep leaves holes
        let mut p = replicated_pool(5, 1, 32);
        p.pool_type = PgPool::TYPE_ERASURE;
        p
    });
    add_pool(&mut map, 5, "racks", replicated_pool(4, 2, 50));
    add_pool(&mut map, 6, "ssd", replicated_pool(3, 3, 40));
    add_pool(&mut map, 7, "ec-hdd", {
        let mut p = replicated_pool(4, 4, 33);
        p.pool_type = PgPool::TYPE_ERASURE;
        p
    });
    // a rule that does not exist, and a size outside the rule's range: no OSDs
    add_pool(&mut map, 8, "norule", replicated_pool(3, 9, 8));
    add_pool(&mut map, 9, "toobig", replicated_pool(11, 0, 8));
    // a type that matches no rule mask (an EC pool on a replicated rule)
    add_pool(&mut map, 10, "mismatch", {
        let mut p = replicated_pool(3, 0, 8);
        p.pool_type = PgPool::TYPE_ERASURE;
        p
    });
    (map, path)
}

fn compare_all(map: &OsdMap, path: &Path) -> Comparison {
    save(map, path);
    // the saved map decodes back to the same map
    let again = load(path);
    if let Some(diff) = first_difference(&again, map) {
        panic!("the saved map decodes differently: {diff}");
    }
    assert_same(compare_map_file(OSDMAPTOOL, path))
}

#[test]
fn rich_maps_match_osdmaptool() {
    if !tools_available() {
        return;
    }
    let dir = Scratch::new("rich");
    let (mut map, path) = rich_map(&dir);
    let all_up = compare_all(&map, &path);
    assert_eq!(all_up.pgs, 192 + 100 + 64 + 32 + 50 + 40 + 33 + 8 + 8 + 8);

    // OSD states and weights: down, out, half-in, nonexistent, destroyed-but-listed
    map.osd_state[1] &= !osd_state::UP;
    map.osd_weight[4] = 0;
    map.osd_weight[7] = 0x8000;
    map.osd_weight[9] = 0x2000;
    map.osd_state[10] = 0;
    map.osd_state[11] &= !osd_state::UP;
    compare_all(&map, &path);

    // primary affinity
    let mut aff = vec![0x10000u32; 12];
    aff[0] = 0;
    aff[3] = 0x4000;
    aff[5] = 0x8000;
    aff[8] = 0xc000;
    map.primary_affinity = Some(aff);
    compare_all(&map, &path);

    // temporary mappings, including down and nonexistent OSDs and raw seeds
    let pg = |pool: u64, seed: u32| PgId::new(pool, seed);
    map.pg_temp.insert(pg(1, 0), vec![5, 4, 3]);
    map.pg_temp.insert(pg(1, 1), vec![1, 2]);
    map.pg_temp.insert(pg(1, 2), vec![10, 11]);
    map.pg_temp.insert(pg(3, 0), vec![2, 1, 6, 8]);
    map.pg_temp.insert(pg(3, 5), vec![0, 3]);
    map.primary_temp.insert(pg(1, 3), 8);
    map.primary_temp.insert(pg(1, 0), 3);
    map.primary_temp.insert(pg(3, 1), 6);
    compare_all(&map, &path);

    // upmaps: explicit sets (one onto an out OSD, ignored), items (onto present, out and
    // absent OSDs), on replicated and EC pools
    map.pg_upmap.insert(pg(1, 4), vec![0, 3, 6]);
    map.pg_upmap.insert(pg(1, 5), vec![4, 5, 6]);
    map.pg_upmap.insert(pg(3, 2), vec![0, 2, 3, 5]);
    for (pool, seed) in [(1u64, 6u32), (1, 7), (1, 8), (3, 3), (5, 0)] {
        let (raw, _) = map.pg_to_raw_osds(pg(pool, seed)).unwrap();
        let first = raw[0];
        let absent = (0..12).find(|o| !raw.contains(o) && *o != 4).unwrap();
        let items = vec![(first, absent), (raw[1], 4), (raw[raw.len() - 1], raw[0])];
        map.pg_upmap_items.insert(pg(pool, seed), items);
    }
    map.pg_upmap_items.insert(pg(1, 9), vec![(99, 1)]);
    // both on one PG: the explicit set, then the exceptions on top of it
    map.pg_upmap.insert(pg(1, 10), vec![2, 5, 8]);
    map.pg_upmap_items.insert(pg(1, 10), vec![(5, 9), (8, 2)]);
    // an EC set with a hole
    map.pg_upmap
        .insert(pg(3, 6), vec![0, osdmap::CRUSH_ITEM_NONE, 3, 9]);
    compare_all(&map, &path);

    // objects through --test-map-object on the replicated and EC pools
    let names: Vec<String> = (0..60)
        .map(|i| match i % 4 {
            0 => format!("obj-{i}"),
            1 => format!("rbd_data.{:x}.{:016x}", 0x1234 + i, i * 7),
            2 => format!("rbd_header.{i:08x}"),
            _ => format!("a{}", "x".repeat(i)),
        })
        .collect();
    let mut objects = 0;
    for pool in [1, 2, 3] {
        objects += assert_same(compare_objects(OSDMAPTOOL, &map, &path, pool, &names)).objects;
    }
    assert_eq!(objects, 180);
}

#[test]
fn osdmaptool_upmap_balancer_output_matches() {
    if !tools_available() {
        return;
    }
    let dir = Scratch::new("upmap");
    let (map, path) = rich_map(&dir);
    save(&map, &path);
    let out = dir.path("upmap.txt");
    run(
        OSDMAPTOOL,
        &[
            path.to_str().unwrap(),
            "--upmap",
            out.to_str().unwrap(),
            "--upmap-deviation",
            "1",
            "--upmap-max",
            "200",
            "--upmap-pool",
            "rbd",
            "--save",
        ],
    );
    let balanced = load(&path);
    assert!(
        !balanced.pg_upmap_items.is_empty(),
        "the balancer made no upmaps"
    );
    assert_same(compare_map_file(OSDMAPTOOL, &path));

    // The balancer applied an incremental (epoch + 1, zero `modified`) and osdmaptool then
    // bumped the epoch once more before saving. Build the same incremental from the commands
    // it printed, apply it ourselves: the result must encode to osdmaptool's file exactly.
    let mut inc = Incremental::new(map.epoch + 1);
    inc.fsid = map.fsid;
    let parse_pg = |s: &str| {
        let (pool, seed) = s.split_once('.').unwrap();
        PgId::new(
            pool.parse().unwrap(),
            u32::from_str_radix(seed, 16).unwrap(),
        )
    };
    let mut commands = 0;
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let nums: Vec<i32> = words.iter().skip(4).map(|w| w.parse().unwrap()).collect();
        match words[2] {
            "pg-upmap-items" => {
                let pairs = nums.chunks(2).map(|p| (p[0], p[1])).collect();
                inc.new_pg_upmap_items.insert(parse_pg(words[3]), pairs);
            }
            "rm-pg-upmap-items" => {
                inc.old_pg_upmap_items.insert(parse_pg(words[3]));
            }
            "pg-upmap" => {
                inc.new_pg_upmap.insert(parse_pg(words[3]), nums);
            }
            "rm-pg-upmap" => {
                inc.old_pg_upmap.insert(parse_pg(words[3]));
            }
            other => panic!("unexpected command {other}"),
        }
        commands += 1;
    }
    assert!(commands > 0);
    let mut ours = map.clone();
    ours.apply_incremental(&inc).unwrap();
    ours.epoch += 1;
    let theirs = std::fs::read(&path).unwrap();
    assert!(
        ours.to_bytes(release_features(16)).unwrap() == theirs,
        "{:?}",
        first_difference(&ours, &balanced)
    );
}

#[test]
fn many_objects_match_osdmaptool() {
    if !tools_available() {
        return;
    }
    let dir = Scratch::new("objects");
    let path = create_simple(&dir, "om.bin", 7, 5);
    let crush = dir.path("c.bin");
    run(
        CRUSHTOOL,
        &[
            "--outfn",
            crush.to_str().unwrap(),
            "--build",
            "--num_osds",
            "7",
            "host",
            "straw2",
            "1",
            "root",
            "straw2",
            "0",
        ],
    );
    import_crush(&path, &crush);
    let map = load(&path);
    // names of every length through the hash's 12-byte blocks, and non-ASCII UTF-8
    let names: Vec<String> = (0..120)
        .map(|i| match i % 3 {
            0 => "n".repeat(i / 3 + 1),
            1 => format!("object.{i}.{}", "é".repeat(i % 5)),
            _ => format!("{i:x}-{}", i * 31),
        })
        .collect();
    let cmp = assert_same(compare_objects(OSDMAPTOOL, &map, &path, 1, &names));
    assert_eq!(cmp.objects, 120);
}
