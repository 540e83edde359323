//! Test support: building CRUSH maps with Ceph's own `crushtool` and comparing its
//! `--test --show-mappings` output with ours, line for line.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crush::CrushMap;

/// How many inputs each comparison maps: 100,000 (the workspace builds this crate optimised
/// even for tests); `CRUSH_TEST_INPUTS` overrides.
pub fn inputs() -> u32 {
    if let Some(n) = std::env::var("CRUSH_TEST_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    100_000
}

/// Totals over all comparisons of one test binary.
pub static MAPS: AtomicUsize = AtomicUsize::new(0);
pub static RUNS: AtomicUsize = AtomicUsize::new(0);
pub static LINES: AtomicUsize = AtomicUsize::new(0);

/// Fails the test, clearly, when crushtool is not installed.
pub fn require_crushtool() {
    let found = Command::new("crushtool").arg("--help").output().is_ok();
    assert!(
        found,
        "crushtool (Ceph) is not installed or not on PATH: these tests compare our CRUSH \
         mapper with it; install Ceph's command-line tools (e.g. `apt install ceph-base`)"
    );
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("crush-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Which crushtool a comparison runs: the host's (Pacific), or the one of a newer release in
/// the project's chroot (scripts/ceph-chroot), for rule types Pacific does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crushtool {
    /// `crushtool` on PATH.
    Host,
    /// Ceph 20's crushtool in `/var/tmp/ceph-chroots/tentacle` (`CEPH_CHROOT_BASE`).
    Tentacle,
}

impl Crushtool {
    /// The chroot's root directory (for `Tentacle`).
    pub fn chroot_root() -> PathBuf {
        let base =
            std::env::var("CEPH_CHROOT_BASE").unwrap_or_else(|_| "/var/tmp/ceph-chroots".into());
        PathBuf::from(base).join("tentacle")
    }

    /// Fails the test, saying what to do, when this crushtool is not available.
    pub fn require(self) {
        match self {
            Crushtool::Host => require_crushtool(),
            Crushtool::Tentacle => assert!(
                Self::chroot_root().join("usr/bin/crushtool").is_file(),
                "Ceph 20's crushtool is not set up at {}: run `scripts/ceph-chroot setup tentacle` \
                 (scripts/test does) so that MSR rules can be checked against it",
                Self::chroot_root().display()
            ),
        }
    }

    /// A scratch directory this crushtool can read (inside the chroot for `Tentacle`).
    pub fn scratch(self, name: &str) -> PathBuf {
        match self {
            Crushtool::Host => scratch(name),
            Crushtool::Tentacle => {
                let dir = Self::chroot_root()
                    .join("tmp")
                    .join(format!("rbd-rs-crush-{}-{name}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                dir
            }
        }
    }

    /// How this crushtool sees `path`.
    fn view(self, path: &str) -> String {
        match self {
            Crushtool::Host => path.to_owned(),
            Crushtool::Tentacle => {
                let root = Self::chroot_root();
                let root = root.to_str().unwrap();
                path.strip_prefix(root).unwrap_or(path).to_owned()
            }
        }
    }

    fn command(self) -> Command {
        match self {
            Crushtool::Host => Command::new("crushtool"),
            Crushtool::Tentacle => {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ceph-chroot");
                let mut cmd = Command::new(script);
                cmd.args(["exec", "tentacle", "crushtool"]);
                cmd
            }
        }
    }
}

/// Runs crushtool, failing the test with its stderr if it fails; returns stdout.
pub fn crushtool(args: &[&str]) -> String {
    crushtool_of(Crushtool::Host, args)
}

/// Runs the given crushtool (paths in `args` are mapped to its view).
pub fn crushtool_of(tool: Crushtool, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| tool.view(a)).collect();
    let out = tool
        .command()
        .args(&args)
        .output()
        .expect("running crushtool");
    assert!(
        out.status.success(),
        "crushtool {} failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compiles a text map; returns the binary's path.
pub fn compile(dir: &Path, name: &str, text: &str) -> PathBuf {
    let src = dir.join(format!("{name}.txt"));
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&src, text).unwrap();
    crushtool(&[
        "-c",
        src.to_str().unwrap(),
        "-o",
        bin.to_str().unwrap(),
        "--enable-unsafe-tunables",
    ]);
    bin
}

/// Decompiles a binary map.
pub fn decompile(bin: &Path) -> String {
    crushtool(&["-d", bin.to_str().unwrap()])
}

/// Decodes a binary map with our decoder and checks it re-encodes to the same bytes.
pub fn load(bin: &Path) -> CrushMap {
    let bytes = std::fs::read(bin).unwrap();
    let map: CrushMap = denc::decode_exact(&bytes)
        .unwrap_or_else(|e| panic!("{}: decoding failed: {e}", bin.display()));
    let again = denc::encode_to_vec(&map).unwrap();
    assert!(
        again == bytes,
        "{}: re-encoding differs from crushtool's bytes",
        bin.display()
    );
    MAPS.fetch_add(1, Ordering::Relaxed);
    map
}

/// One `crushtool --test` run to compare.
#[derive(Debug, Clone)]
pub struct Run {
    pub rule: i32,
    pub num_rep: usize,
    pub pool: Option<i64>,
    pub weights: Vec<(i32, f64)>,
    /// Inputs `0..inputs` are mapped.
    pub inputs: u32,
}

impl Run {
    pub fn new(rule: i32, num_rep: usize) -> Run {
        Run {
            rule,
            num_rep,
            pool: None,
            weights: Vec::new(),
            inputs: inputs(),
        }
    }

    /// Maps fewer inputs (for rules whose every mapping exhausts its retries).
    pub fn fewer_inputs(mut self, divisor: u32) -> Run {
        self.inputs = (self.inputs / divisor).max(1);
        self
    }

    pub fn pool(mut self, pool: i64) -> Run {
        self.pool = Some(pool);
        self
    }

    pub fn weight(mut self, osd: i32, weight: f64) -> Run {
        self.weights.push((osd, weight));
        self
    }
}

/// Runs crushtool and our implementation for inputs `0..run.inputs` and asserts every line
/// is identical.
pub fn compare(bin: &Path, map: &CrushMap, run: &Run) {
    compare_with(Crushtool::Host, bin, map, run);
}

/// [`compare`] with a chosen crushtool.
pub fn compare_with(tool: Crushtool, bin: &Path, map: &CrushMap, run: &Run) {
    let max_x = run.inputs - 1;
    let mut args: Vec<String> = vec![
        "-i".into(),
        bin.to_str().unwrap().into(),
        "--test".into(),
        "--rule".into(),
        run.rule.to_string(),
        "--num-rep".into(),
        run.num_rep.to_string(),
        "--min-x".into(),
        "0".into(),
        "--max-x".into(),
        max_x.to_string(),
        "--show-mappings".into(),
    ];
    if let Some(pool) = run.pool {
        args.push("--pool-id".into());
        args.push(pool.to_string());
    }
    for (osd, w) in &run.weights {
        args.push("--weight".into());
        args.push(osd.to_string());
        args.push(w.to_string());
    }
    // crushtool runs in another thread while we compute ours
    let started = std::time::Instant::now();
    let crushtool_thread = std::thread::spawn(move || {
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = crushtool_of(tool, &args_ref);
        (out, started.elapsed())
    });
    let ours = crush::crushtool::test_mappings(
        map,
        run.rule,
        run.num_rep,
        0,
        max_x,
        run.pool,
        &run.weights,
    )
    .unwrap_or_else(|e| panic!("{}: {run:?}: our mapper failed: {e}", bin.display()));
    let ours_time = started.elapsed();
    let (theirs, theirs_time) = crushtool_thread.join().unwrap();
    if ours_time.max(theirs_time) > std::time::Duration::from_secs(2) {
        println!(
            "slow: {} rule {} num_rep {}: crushtool {theirs_time:?}, ours {ours_time:?}",
            bin.display(),
            run.rule,
            run.num_rep
        );
    }
    let theirs: Vec<&str> = theirs
        .lines()
        .filter(|l| l.starts_with("CRUSH rule"))
        .collect();
    assert_eq!(
        theirs.len(),
        ours.len(),
        "{}: {run:?}: crushtool printed {} mappings, we {}",
        bin.display(),
        theirs.len(),
        ours.len()
    );
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(
            *t,
            o.as_str(),
            "{}: {run:?}: mappings differ (crushtool first)",
            bin.display()
        );
    }
    RUNS.fetch_add(1, Ordering::Relaxed);
    LINES.fetch_add(ours.len(), Ordering::Relaxed);
}

/// Prints the totals so far.
pub fn report(test: &str) {
    println!(
        "{test}: {} maps decoded and re-encoded identically, {} crushtool runs, {} mappings compared",
        MAPS.load(Ordering::Relaxed),
        RUNS.load(Ordering::Relaxed),
        LINES.load(Ordering::Relaxed)
    );
}

/// One level of a generated hierarchy: its type name, bucket algorithm and how many
/// children each of its buckets has.
#[derive(Debug, Clone, Copy)]
pub struct Level {
    pub type_name: &'static str,
    pub alg: &'static str,
    pub fanout: usize,
}

pub const fn level(type_name: &'static str, alg: &'static str, fanout: usize) -> Level {
    Level {
        type_name,
        alg,
        fanout,
    }
}

/// A text CRUSH map generator: a regular hierarchy (levels bottom-up, the last one is the
/// single root, named "default"), per-device weights and classes, tunables, rules and
/// optional choose_args text.
pub struct MapText<'a> {
    pub levels: Vec<Level>,
    pub weight: &'a dyn Fn(usize) -> f64,
    pub class: &'a dyn Fn(usize) -> Option<&'static str>,
    pub tunables: TunableLines,
    pub rules: Vec<String>,
    pub choose_args: String,
}

impl<'a> MapText<'a> {
    pub fn new(levels: Vec<Level>) -> MapText<'a> {
        MapText {
            levels,
            weight: &|_| 1.0,
            class: &|_| None,
            tunables: Vec::new(),
            rules: Vec::new(),
            choose_args: String::new(),
        }
    }

    /// Number of devices.
    pub fn devices(&self) -> usize {
        let buckets_at_root_level = 1;
        let mut n = buckets_at_root_level;
        for l in &self.levels {
            n *= l.fanout;
        }
        n
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for (name, value) in &self.tunables {
            writeln!(s, "tunable {name} {value}").unwrap();
        }
        let devices = self.devices();
        for d in 0..devices {
            match (self.class)(d) {
                Some(c) => writeln!(s, "device {d} osd.{d} class {c}").unwrap(),
                None => writeln!(s, "device {d} osd.{d}").unwrap(),
            }
        }
        writeln!(s, "type 0 osd").unwrap();
        for (i, l) in self.levels.iter().enumerate() {
            writeln!(s, "type {} {}", i + 1, l.type_name).unwrap();
        }
        // build bottom-up: children of the current level are the previous level's names
        let mut children: Vec<String> = (0..devices).map(|d| format!("osd.{d}")).collect();
        let mut next_id = -1;
        for (depth, l) in self.levels.iter().enumerate() {
            let is_root = depth + 1 == self.levels.len();
            let mut names = Vec::new();
            for (b, chunk) in children.chunks(l.fanout).enumerate() {
                let name = if is_root {
                    "default".to_string()
                } else {
                    format!("{}{b}", l.type_name)
                };
                writeln!(s, "{} {name} {{", l.type_name).unwrap();
                writeln!(s, "\tid {next_id}").unwrap();
                next_id -= 1;
                writeln!(s, "\talg {}\n\thash 0", l.alg).unwrap();
                for child in chunk {
                    if let Some(d) = child.strip_prefix("osd.") {
                        let d: usize = d.parse().unwrap();
                        writeln!(s, "\titem {child} weight {:.5}", (self.weight)(d)).unwrap();
                    } else {
                        writeln!(s, "\titem {child}").unwrap();
                    }
                }
                writeln!(s, "}}").unwrap();
                names.push(name);
            }
            children = names;
        }
        for r in &self.rules {
            s.push_str(r);
        }
        s.push_str(&self.choose_args);
        s
    }
}

/// A rule's text.
pub fn rule(name: &str, id: i32, ty: &str, steps: &[&str]) -> String {
    let mut s = format!("rule {name} {{\n\tid {id}\n\ttype {ty}\n\tmin_size 1\n\tmax_size 20\n");
    for step in steps {
        writeln!(s, "\tstep {step}").unwrap();
    }
    s.push_str("}\n");
    s
}

/// `tunable NAME VALUE` lines.
pub type TunableLines = Vec<(&'static str, u32)>;

/// The tunables of a named profile, as `tunable` lines take them.
pub fn profile(name: &str) -> TunableLines {
    let base = |local, fallback, total, descend, vary_r, stable| {
        vec![
            ("choose_local_tries", local),
            ("choose_local_fallback_tries", fallback),
            ("choose_total_tries", total),
            ("chooseleaf_descend_once", descend),
            ("chooseleaf_vary_r", vary_r),
            ("chooseleaf_stable", stable),
        ]
    };
    match name {
        "argonaut" => base(2, 5, 19, 0, 0, 0),
        "bobtail" => base(0, 0, 50, 1, 0, 0),
        "firefly" => base(0, 0, 50, 1, 1, 0),
        "hammer" => base(0, 0, 50, 1, 1, 0),
        "jewel" => base(0, 0, 50, 1, 1, 1),
        other => panic!("unknown profile {other}"),
    }
}
