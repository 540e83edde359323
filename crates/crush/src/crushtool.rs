//! What `crushtool --test --show-mappings` prints (`src/crush/CrushTester.cc`), so that a
//! command-line tool can reproduce it line for line.

use crate::error::CrushError;
use crate::hash::hash32_2;
use crate::map::CrushMap;
use crate::mapper::Mapper;
use crate::model::WEIGHT_IN;

/// The lines `crushtool -i MAP --test --rule RULE --num-rep NUM_REP --min-x MIN_X
/// --max-x MAX_X [--pool-id P] [--weight OSD W ...] --show-mappings` prints, in order:
/// `CRUSH rule R x X [a,b,c]`.
///
/// As CrushTester does:
/// * device weights cover ids `0..max_devices`: 1.0 for devices some bucket holds, 0 for the
///   others, and `--weight` overrides (`(int)(w * 0x10000)` in float, clamped to 0..=1.0);
/// * a rule that does not exist, or all-zero weights, print nothing;
/// * with a pool id other than -1 the input is `hash32_2(x, pool)`, but the line shows `x`;
/// * the choose_args used are those with id 0, else the default set (CrushTester passes 0,
///   not the pool id).
pub fn test_mappings(
    map: &CrushMap,
    rule: i32,
    num_rep: usize,
    min_x: u32,
    max_x: u32,
    pool_id: Option<i64>,
    weights: &[(i32, f64)],
) -> Result<Vec<String>, CrushError> {
    let device_weights = tester_weights(map, weights)?;
    if !map.rule_exists(rule) {
        return Ok(Vec::new());
    }
    // CrushTester skips a rule when the (C int) sum of the weights is zero
    let total = device_weights
        .iter()
        .fold(0_u32, |sum, w| sum.wrapping_add(*w));
    if total == 0 {
        return Ok(Vec::new());
    }
    let pool = pool_id
        .filter(|p| *p != -1)
        .map(|p| (p & 0xffff_ffff) as u32);
    let choose_args = map.choose_args(0);
    let mut mapper = Mapper::new();
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for x in min_x..=max_x {
        let real_x = pool.map_or(x, |pool| hash32_2(x, pool));
        mapper.do_rule_into(
            map,
            rule,
            real_x,
            num_rep,
            &device_weights,
            choose_args,
            &mut out,
        )?;
        lines.push(mapping_line(rule, x, &out));
    }
    Ok(lines)
}

/// One `--show-mappings` line.
pub fn mapping_line(rule: i32, x: u32, result: &[i32]) -> String {
    let items: Vec<String> = result.iter().map(i32::to_string).collect();
    format!("CRUSH rule {rule} x {x} [{}]", items.join(","))
}

/// Most devices a weight vector is built for (crushtool would try any size).
pub const MAX_TEST_DEVICES: usize = 1 << 24;

/// CrushTester's initial device weights with `--weight` overrides applied.
pub fn tester_weights(map: &CrushMap, overrides: &[(i32, f64)]) -> Result<Vec<u32>, CrushError> {
    let max_devices = usize::try_from(map.max_devices()).unwrap_or(0);
    if max_devices > MAX_TEST_DEVICES {
        return Err(CrushError::TooManyDevices(map.max_devices()));
    }
    // devices some bucket holds are in (CrushWrapper::check_item_present), others out
    let mut weights = vec![0_u32; max_devices];
    for bucket in map.buckets() {
        for &item in &bucket.items {
            if let Some(slot) = usize::try_from(item).ok().and_then(|i| weights.get_mut(i)) {
                *slot = WEIGHT_IN;
            }
        }
    }
    for &(device, weight) in overrides {
        if let Some(slot) = usize::try_from(device)
            .ok()
            .and_then(|d| weights.get_mut(d))
        {
            *slot = tester_weight(weight);
        }
    }
    Ok(weights)
}

/// `CrushTester::set_device_weight`: `(int)(f * 0x10000)` with `f` a float, clamped to
/// 0..=0x10000. Out-of-range products convert to `INT_MIN` as x86 does, hence 0.
// The narrowing casts are the point: crushtool parses into a float and truncates to int.
#[allow(clippy::cast_possible_truncation)]
pub fn tester_weight(weight: f64) -> u32 {
    let scaled = (weight as f32) * 65536.0_f32;
    let as_int = if (-2_147_483_648.0..2_147_483_648.0).contains(&scaled) {
        scaled as i32
    } else {
        // NaN included
        i32::MIN
    };
    as_int.clamp(0, 0x10000).unsigned_abs()
}
