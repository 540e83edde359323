//! Comparing this crate's placement with Ceph's own `osdmaptool`, PG by PG and object by
//! object. Used by this crate's tests on generated maps, and usable on any map file, e.g. one
//! fetched from a live cluster with `ceph osd getmap -o FILE`.
//!
//! These helpers run a process; they are test support, not part of the (sans-IO) library.
#![allow(clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use crate::osdmap::OsdMap;

/// The features a Ceph release's tools encode with (`CEPH_FEATURES_SUPPORTED_DEFAULT`), as
/// far as map encodings look at them: `major` 16 = Pacific, 17 Quincy, 18 Reef, 19 Squid,
/// anything newer = everything this crate knows. Only the plain feature bits of newer
/// releases are removed; the incarnation markers they share stay.
pub fn release_features(major: u32) -> u64 {
    const QUINCY: u64 = 1 << 33;
    const REEF: u64 = 1 << 31;
    const SQUID: u64 = 1 << 49;
    const TENTACLE: u64 = 1 << 50;
    let all = denc::features::ALL;
    match major {
        ..=16 => all & !(QUINCY | REEF | SQUID | TENTACLE),
        17 => all & !(REEF | SQUID | TENTACLE),
        18 => all & !(SQUID | TENTACLE),
        19 => all & !TENTACLE,
        _ => all,
    }
}

/// The first line where the pretty `Debug` forms of two values differ (for test messages
/// about large structures).
pub fn first_difference<T: std::fmt::Debug>(a: &T, b: &T) -> Option<String> {
    let (a, b) = (format!("{a:#?}"), format!("{b:#?}"));
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| format!("line {i}: {x:?} != {y:?}"))
        .or_else(|| (a.len() != b.len()).then(|| "lengths differ".to_owned()))
}

/// One line that differs between `osdmaptool` and us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was compared (a PG id or an object name).
    pub what: String,
    /// `osdmaptool`'s line.
    pub ceph: String,
    /// Our line.
    pub ours: String,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// PG lines compared.
    pub pgs: usize,
    /// Object lines compared.
    pub objects: usize,
    /// Lines that differ.
    pub mismatches: Vec<Mismatch>,
}

impl Comparison {
    /// Adds another comparison's counts and mismatches.
    pub fn merge(&mut self, other: Comparison) {
        self.pgs += other.pgs;
        self.objects += other.objects;
        self.mismatches.extend(other.mismatches);
    }

    /// `Ok` if nothing differed, else a report of the first differences.
    pub fn into_result(self) -> Result<Comparison, String> {
        if self.mismatches.is_empty() {
            return Ok(self);
        }
        let mut report = format!(
            "{} of {} PG and {} object lines differ from osdmaptool:\n",
            self.mismatches.len(),
            self.pgs,
            self.objects
        );
        for m in self.mismatches.iter().take(10) {
            report.push_str(&format!(
                "  {}:\n    ceph: {}\n    ours: {}\n",
                m.what, m.ceph, m.ours
            ));
        }
        Err(report)
    }
}

/// Runs `osdmaptool MAP ARGS...` and returns its standard output.
pub fn run_osdmaptool(osdmaptool: &str, map_path: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(osdmaptool)
        .arg(map_path)
        .args(args)
        .output()
        .map_err(|e| format!("running {osdmaptool}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{osdmaptool} {} {}: {}\n{}",
            map_path.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("osdmaptool output is not UTF-8: {e}"))
}

/// Compares every PG of `pool`: `osdmaptool MAP --test-map-pgs-dump-all --pool POOL` against
/// [`OsdMap::pg_dump_all`] (the header and every PG line, as text).
pub fn compare_pool_pgs(
    osdmaptool: &str,
    map: &OsdMap,
    map_path: &Path,
    pool: i64,
) -> Result<Comparison, String> {
    let pool_arg = pool.to_string();
    let out = run_osdmaptool(
        osdmaptool,
        map_path,
        &["--test-map-pgs-dump-all", "--pool", &pool_arg],
    )?;
    let theirs: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("pool "))
        .take_while(|l| !l.starts_with("#osd"))
        .collect();
    let ours = map.pg_dump_all(pool).map_err(|e| e.to_string())?;
    let mut cmp = Comparison::default();
    if theirs.len() != ours.len() {
        cmp.mismatches.push(Mismatch {
            what: format!("pool {pool} line count"),
            ceph: theirs.len().to_string(),
            ours: ours.len().to_string(),
        });
    }
    for (t, o) in theirs.iter().zip(&ours) {
        cmp.pgs += 1;
        if *t != o.as_str() {
            cmp.mismatches.push(Mismatch {
                what: t.split(' ').next().unwrap_or("?").to_owned(),
                ceph: (*t).to_owned(),
                ours: o.clone(),
            });
        }
    }
    // the header line is not a PG
    cmp.pgs = cmp.pgs.saturating_sub(1);
    Ok(cmp)
}

/// Compares `osdmaptool MAP --test-map-object NAME --pool POOL` with ours for each name (one
/// osdmaptool run per name: it maps a single object per run).
pub fn compare_objects(
    osdmaptool: &str,
    map: &OsdMap,
    map_path: &Path,
    pool: i64,
    names: &[String],
) -> Result<Comparison, String> {
    let pool_arg = pool.to_string();
    let mut cmp = Comparison::default();
    for name in names {
        let out = run_osdmaptool(
            osdmaptool,
            map_path,
            &["--test-map-object", name, "--pool", &pool_arg],
        )?;
        let theirs = out
            .lines()
            .find(|l| l.starts_with(" object '"))
            .unwrap_or("")
            .to_owned();
        let ours = map
            .test_map_object_line(pool, name)
            .map_err(|e| e.to_string())?;
        cmp.objects += 1;
        if theirs != ours {
            cmp.mismatches.push(Mismatch {
                what: format!("object {name:?}"),
                ceph: theirs,
                ours,
            });
        }
    }
    Ok(cmp)
}

/// Decodes the map file at `map_path` and compares every PG of every pool with `osdmaptool`.
pub fn compare_map_file(osdmaptool: &str, map_path: &Path) -> Result<Comparison, String> {
    let bytes = std::fs::read(map_path).map_err(|e| format!("{}: {e}", map_path.display()))?;
    let map = OsdMap::from_bytes(&bytes).map_err(|e| format!("{}: {e}", map_path.display()))?;
    let mut cmp = Comparison::default();
    for &pool in map.pools.keys() {
        cmp.merge(compare_pool_pgs(osdmaptool, &map, map_path, pool)?);
    }
    Ok(cmp)
}
