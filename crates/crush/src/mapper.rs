//! `crush_do_rule`: running a rule to map an input to devices (`src/crush/mapper.c`).
//!
//! A rule is a little program over a working set of items: TAKE puts a bucket in it, CHOOSE
//! steps replace each item by `n` distinct descendants of a type, EMIT appends the set to the
//! result. Two choice strategies exist:
//!
//! * *firstn* (replicated pools) fills positions in order; a rejected choice is retried with
//!   a larger `r` and later positions shift up, so a failure moves every later replica.
//! * *indep* (erasure-coded pools) keeps positions stable: each position retries on its own
//!   (`r` advances by `numrep` per round) and a position that never succeeds is left as
//!   [`CRUSH_ITEM_NONE`].
//!
//! "chooseleaf" variants additionally descend from each chosen item to one device, so that
//! e.g. three replicas land on three different hosts. Choices are rejected when they collide
//! with an earlier choice or when a device is "out" (weights below 1.0 reject a
//! hash-determined fraction of inputs).
//!
//! Ceph trusts the map; this implementation checks it: a reference to a missing bucket, a
//! cycle in the hierarchy or an inconsistent bucket ends the mapping with an error rather
//! than undefined behaviour.

use std::cell::RefCell;

use crate::bucket::{self, bits};
use crate::error::CrushError;
use crate::map::CrushMap;
use crate::model::{
    Bucket, BucketKind, CRUSH_ITEM_NONE, CRUSH_ITEM_UNDEF, ChooseArgs, RuleOp, WEIGHT_IN,
};
use crate::{hash, msr};

type Result<T> = std::result::Result<T, CrushError>;

/// Largest `result_max` accepted. Pools have at most a few dozen replicas or shards; the
/// limit only keeps hostile inputs from sizing the work buffers.
pub const MAX_RESULT: usize = 1 << 16;

/// A reusable mapping workspace: holds the buffers `crush_do_rule` needs so that repeated
/// mappings allocate nothing but (at most) their result.
#[derive(Debug, Default, Clone)]
pub struct Mapper {
    working: Vec<i32>,
    output: Vec<i32>,
    leaves: Vec<i32>,
    perm: bucket::PermCache,
    pub(crate) msr: msr::Workspace,
}

impl Mapper {
    /// An empty workspace.
    pub fn new() -> Mapper {
        Mapper::default()
    }

    /// Runs rule `rule_id` for input `x` (`crush_do_rule`), appending at most `result_max`
    /// items to `result` (which is cleared first).
    ///
    /// `weights` are the devices' 16.16 weights indexed by device id (`0x10000` = in, 0 =
    /// out); devices beyond its end count as out. `choose_args` replaces straw2 weights and
    /// ids (see [`CrushMap::choose_args`]). `indep` rules leave [`CRUSH_ITEM_NONE`] in the
    /// positions they could not fill.
    #[allow(clippy::too_many_arguments)]
    pub fn do_rule_into(
        &mut self,
        map: &CrushMap,
        rule_id: i32,
        x: u32,
        result_max: usize,
        weights: &[u32],
        choose_args: Option<&ChooseArgs>,
        result: &mut Vec<i32>,
    ) -> Result<()> {
        result.clear();
        let rule = map.rule(rule_id).ok_or(CrushError::NoSuchRule(rule_id))?;
        if result_max > MAX_RESULT {
            return Err(CrushError::ResultTooLarge(result_max));
        }
        // Ceph starts every mapping with a fresh workspace
        self.perm.reset();
        let mut ctx = Ctx {
            map,
            weights,
            x,
            args: choose_args,
            perm: &mut self.perm,
        };
        if rule.is_msr() {
            return msr::do_rule(&mut ctx, &mut self.msr, rule_id, rule, result_max, result);
        }

        // three buffers as in Ceph: the working set, the next one, and chooseleaf's leaves
        let len = result_max.max(1);
        for buf in [&mut self.working, &mut self.output, &mut self.leaves] {
            buf.clear();
            buf.resize(len, 0);
        }
        let (mut w, mut o, c) = (&mut self.working, &mut self.output, &mut self.leaves);
        let mut wsize = 0_usize;

        let t = map.tunables();
        let mut settings = StepSettings {
            // the tunable counts retries, the mapper tries
            choose_tries: t.choose_total_tries.wrapping_add(1),
            choose_leaf_tries: 0,
            local_retries: t.choose_local_tries,
            local_fallback_retries: t.choose_local_fallback_tries,
            vary_r: u32::from(t.chooseleaf_vary_r),
            stable: u32::from(t.chooseleaf_stable),
        };
        // result_max <= MAX_RESULT, so it fits a C int like Ceph's
        let result_max_i32 = i32::try_from(result_max).unwrap_or(i32::MAX);

        for step in &rule.steps {
            let (firstn, to_leaf) = match step.op {
                RuleOp::Take => {
                    if ctx.take_target_valid(step.arg1) {
                        if let Some(slot) = w.first_mut() {
                            *slot = step.arg1;
                        }
                        wsize = 1;
                    }
                    continue;
                }
                RuleOp::Emit => {
                    for &item in w.iter().take(wsize) {
                        if result.len() >= result_max {
                            break;
                        }
                        result.push(item);
                    }
                    wsize = 0;
                    continue;
                }
                RuleOp::ChooseFirstN => (true, false),
                RuleOp::ChooseLeafFirstN => (true, true),
                RuleOp::ChooseIndep => (false, false),
                RuleOp::ChooseLeafIndep => (false, true),
                other => {
                    settings.apply(other, step.arg1);
                    continue;
                }
            };
            if wsize == 0 {
                continue;
            }

            let mut osize = 0_usize;
            for i in 0..wsize {
                let mut numrep = step.arg1;
                if numrep <= 0 {
                    numrep = numrep.wrapping_add(result_max_i32);
                    if numrep <= 0 {
                        continue;
                    }
                }
                let Some(&item) = w.get(i) else { break };
                // only buckets can be chosen from (w[i] may be CRUSH_ITEM_NONE)
                if item >= 0 {
                    continue;
                }
                let bno = usize::try_from(-1 - item).unwrap_or(usize::MAX);
                if bno >= map.max_buckets() {
                    continue;
                }
                let from = ctx.bucket(item)?;
                let out = o.get_mut(osize..).unwrap_or_default();
                let leaves = if to_leaf {
                    Some(c.get_mut(osize..).unwrap_or_default())
                } else {
                    None
                };
                let remaining = result_max - osize;
                if firstn {
                    let recurse_tries = if settings.choose_leaf_tries != 0 {
                        settings.choose_leaf_tries
                    } else if t.chooseleaf_descend_once != 0 {
                        1
                    } else {
                        settings.choose_tries
                    };
                    let params = FirstnParams {
                        tries: settings.choose_tries,
                        recurse_tries,
                        local_retries: settings.local_retries,
                        local_fallback_retries: settings.local_fallback_retries,
                        vary_r: settings.vary_r,
                        stable: settings.stable != 0,
                    };
                    osize += ctx.choose_firstn(
                        from, &params, numrep, step.arg2, out, 0, remaining, leaves, 0,
                    )?;
                } else {
                    let out_size = usize::try_from(numrep).unwrap_or(0).min(remaining);
                    let recurse_tries = if settings.choose_leaf_tries != 0 {
                        settings.choose_leaf_tries
                    } else {
                        1
                    };
                    let params = IndepParams {
                        numrep,
                        tries: settings.choose_tries,
                        recurse_tries,
                    };
                    ctx.choose_indep(from, &params, out_size, step.arg2, out, 0, leaves, 0)?;
                    osize += out_size;
                }
            }

            if to_leaf {
                // the leaves are the step's output
                if let (Some(dst), Some(src)) = (o.get_mut(..osize), c.get(..osize)) {
                    dst.copy_from_slice(src);
                }
            }
            std::mem::swap(&mut w, &mut o);
            wsize = osize;
        }
        Ok(())
    }

    /// Like [`Mapper::do_rule_into`], returning a new vector.
    pub fn do_rule(
        &mut self,
        map: &CrushMap,
        rule_id: i32,
        x: u32,
        result_max: usize,
        weights: &[u32],
        choose_args: Option<&ChooseArgs>,
    ) -> Result<Vec<i32>> {
        let mut result = Vec::with_capacity(result_max.min(MAX_RESULT));
        self.do_rule_into(
            map,
            rule_id,
            x,
            result_max,
            weights,
            choose_args,
            &mut result,
        )?;
        Ok(result)
    }
}

impl CrushMap {
    /// Runs rule `rule_id` for input `x` (Ceph's `CrushWrapper::do_rule`): at most
    /// `result_max` devices. `weights` are 16.16 device weights indexed by device id
    /// (`0x10000` = in; devices beyond the slice count as out). `choose_args` is usually
    /// [`CrushMap::choose_args`] of the pool id. `indep` rules leave [`CRUSH_ITEM_NONE`] in
    /// positions they could not fill.
    ///
    /// Uses a per-thread [`Mapper`], so after the first call only the result is allocated.
    pub fn do_rule(
        &self,
        rule_id: i32,
        x: u32,
        result_max: usize,
        weights: &[u32],
        choose_args: Option<&ChooseArgs>,
    ) -> Result<Vec<i32>> {
        thread_local! {
            static MAPPER: RefCell<Mapper> = RefCell::new(Mapper::new());
        }
        MAPPER.with(|mapper| match mapper.try_borrow_mut() {
            Ok(mut mapper) => mapper.do_rule(self, rule_id, x, result_max, weights, choose_args),
            // only if called re-entrantly; cannot happen, but a fresh workspace is correct
            Err(_) => Mapper::new().do_rule(self, rule_id, x, result_max, weights, choose_args),
        })
    }
}

/// The rule-adjustable settings (`SET_*` steps override the tunables for later steps).
struct StepSettings {
    choose_tries: u32,
    choose_leaf_tries: u32,
    local_retries: u32,
    local_fallback_retries: u32,
    vary_r: u32,
    stable: u32,
}

impl StepSettings {
    fn apply(&mut self, op: RuleOp, arg: i32) {
        // tries must be positive to count; the others accept zero
        let positive = u32::try_from(arg).ok().filter(|v| *v > 0);
        let non_negative = u32::try_from(arg).ok();
        let (slot, value) = match op {
            RuleOp::SetChooseTries => (&mut self.choose_tries, positive),
            RuleOp::SetChooseLeafTries => (&mut self.choose_leaf_tries, positive),
            RuleOp::SetChooseLocalTries => (&mut self.local_retries, non_negative),
            RuleOp::SetChooseLocalFallbackTries => (&mut self.local_fallback_retries, non_negative),
            RuleOp::SetChooseLeafVaryR => (&mut self.vary_r, non_negative),
            RuleOp::SetChooseLeafStable => (&mut self.stable, non_negative),
            _ => return,
        };
        if let Some(value) = value {
            *slot = value;
        }
    }
}

struct FirstnParams {
    tries: u32,
    recurse_tries: u32,
    local_retries: u32,
    local_fallback_retries: u32,
    vary_r: u32,
    stable: bool,
}

struct IndepParams {
    numrep: i32,
    tries: u32,
    recurse_tries: u32,
}

/// What one mapping computation reads, plus the permutation scratch.
pub(crate) struct Ctx<'a> {
    pub(crate) map: &'a CrushMap,
    pub(crate) weights: &'a [u32],
    pub(crate) x: u32,
    pub(crate) args: Option<&'a ChooseArgs>,
    pub(crate) perm: &'a mut bucket::PermCache,
}

impl<'a> Ctx<'a> {
    /// The bucket an item refers to; an error where Ceph would dereference a missing one.
    pub(crate) fn bucket(&self, item: i32) -> Result<&'a Bucket> {
        self.map.bucket(item).ok_or(CrushError::MissingBucket(item))
    }

    /// The type of an item: 0 for devices, the bucket's type for buckets.
    fn item_type(&self, item: i32) -> Result<i32> {
        if item < 0 {
            Ok(i32::from(self.bucket(item)?.bucket_type))
        } else {
            Ok(0)
        }
    }

    /// A walk down the hierarchy longer than the number of buckets must be going round a
    /// cycle (Ceph would loop forever).
    pub(crate) fn check_depth(&self, depth: usize, bucket: &Bucket) -> Result<()> {
        if depth > self.map.max_buckets() {
            Err(CrushError::Cycle(bucket.id))
        } else {
            Ok(())
        }
    }

    /// `crush_bucket_choose` with this mapping's input and choose_args.
    #[inline]
    pub(crate) fn choose(&mut self, bucket: &Bucket, r: i32, position: u32) -> Result<i32> {
        let arg = match (&bucket.kind, self.args) {
            (BucketKind::Straw2 { .. }, Some(args)) => args.for_bucket(bucket.id),
            _ => None,
        };
        bucket::choose(
            bucket,
            self.x,
            r,
            arg,
            position,
            self.perm,
            self.map.max_buckets(),
        )
    }

    /// TAKE accepts an existing device id (below max_devices) or an existing bucket.
    fn take_target_valid(&self, item: i32) -> bool {
        if item >= 0 {
            item < self.map.max_devices()
        } else {
            self.map.bucket(item).is_some()
        }
    }

    /// `is_out`: a device with weight 1.0 or more is in, 0 is out, in between it is in for a
    /// hash-determined fraction `weight / 0x10000` of the inputs.
    pub(crate) fn is_out(&self, item: i32) -> Result<bool> {
        let Ok(index) = usize::try_from(item) else {
            // Ceph would read before the weight array: a bucket typed like a device
            return Err(CrushError::MalformedBucket {
                bucket: item,
                what: "a bucket has the device type 0",
            });
        };
        let Some(&weight) = self.weights.get(index) else {
            return Ok(true);
        };
        Ok(if weight >= WEIGHT_IN {
            false
        } else if weight == 0 {
            true
        } else {
            (hash::hash32_2(self.x, bits(item)) & 0xffff) >= weight
        })
    }

    /// `crush_choose_firstn`: choose up to `numrep` distinct items of type `ty` below
    /// `bucket` into `out[outpos..]`, at most `count` of them. With `leaves`, also descend
    /// from each to one device (chooseleaf) into `leaves` at the same positions. Returns the
    /// new `outpos`.
    #[allow(clippy::too_many_arguments)]
    fn choose_firstn(
        &mut self,
        bucket: &'a Bucket,
        p: &FirstnParams,
        numrep: i32,
        ty: i32,
        out: &mut [i32],
        mut outpos: usize,
        mut count: usize,
        mut leaves: Option<&mut [i32]>,
        parent_r: i32,
    ) -> Result<usize> {
        let max_devices = self.map.max_devices();
        let mut rep: i32 = if p.stable {
            0
        } else {
            i32::try_from(outpos).unwrap_or(i32::MAX)
        };
        while rep < numrep && count > 0 {
            let mut ftotal: u32 = 0;
            let mut chosen: Option<i32> = None;
            // each pass of this loop is one descent from `bucket`
            'descent: loop {
                let mut current = bucket;
                let mut flocal: u32 = 0;
                let mut depth = 0_usize;
                // each pass of this loop is one choice inside `current`
                loop {
                    let r = rep.wrapping_add(parent_r).wrapping_add(ftotal as i32);
                    let size = u32::try_from(current.items.len()).unwrap_or(u32::MAX);
                    let mut collide = false;
                    let reject;
                    let mut item = 0;
                    if size == 0 {
                        reject = true;
                    } else {
                        let exhaustive = p.local_fallback_retries > 0
                            && flocal >= size >> 1
                            && flocal > p.local_fallback_retries;
                        item = if exhaustive {
                            bucket::perm_choose(
                                current,
                                self.x,
                                r,
                                self.perm,
                                self.map.max_buckets(),
                            )?
                        } else {
                            let position = u32::try_from(outpos).unwrap_or(u32::MAX);
                            self.choose(current, r, position)?
                        };
                        if item >= max_devices {
                            break 'descent;
                        }
                        let item_type = self.item_type(item)?;
                        if item_type != ty {
                            if item >= 0 {
                                // a device where a bucket type was wanted
                                break 'descent;
                            }
                            current = self.bucket(item)?;
                            depth += 1;
                            self.check_depth(depth, current)?;
                            continue;
                        }
                        collide = out.get(..outpos).is_some_and(|s| s.contains(&item));
                        let mut rejected = false;
                        if !collide && let Some(leaves) = leaves.as_deref_mut() {
                            if item < 0 {
                                let sub_r = if p.vary_r != 0 {
                                    r.wrapping_shr(p.vary_r - 1)
                                } else {
                                    0
                                };
                                let inner = FirstnParams {
                                    tries: p.recurse_tries,
                                    recurse_tries: 0,
                                    ..*p
                                };
                                let inner_numrep = if p.stable {
                                    1
                                } else {
                                    i32::try_from(outpos + 1).unwrap_or(i32::MAX)
                                };
                                let placed = self.choose_firstn(
                                    self.bucket(item)?,
                                    &inner,
                                    inner_numrep,
                                    0,
                                    leaves,
                                    outpos,
                                    count,
                                    None,
                                    sub_r,
                                )?;
                                rejected = placed <= outpos;
                            } else if let Some(slot) = leaves.get_mut(outpos) {
                                // already a device: it is its own leaf
                                *slot = item;
                            }
                        }
                        if !rejected && !collide && item_type == 0 {
                            rejected = self.is_out(item)?;
                        }
                        reject = rejected;
                    }

                    if !(reject || collide) {
                        chosen = Some(item);
                        break 'descent;
                    }
                    // C's unsigned counters would wrap and retry forever
                    ftotal = ftotal.checked_add(1).ok_or(CrushError::RetryOverflow)?;
                    flocal = flocal.checked_add(1).ok_or(CrushError::RetryOverflow)?;
                    if (collide && flocal <= p.local_retries)
                        || (p.local_fallback_retries > 0
                            && flocal <= size.wrapping_add(p.local_fallback_retries))
                    {
                        // retry inside the same bucket
                        continue;
                    }
                    if ftotal < p.tries {
                        continue 'descent;
                    }
                    break 'descent;
                }
            }

            if let Some(item) = chosen {
                if let Some(slot) = out.get_mut(outpos) {
                    *slot = item;
                }
                outpos += 1;
                count -= 1;
            }
            rep += 1;
        }
        Ok(outpos)
    }

    /// `crush_choose_indep`: fill positions `out[outpos..outpos + left]` with distinct items
    /// of type `ty` below `bucket`, each position retrying on its own; unfilled positions
    /// become [`CRUSH_ITEM_NONE`]. With `leaves`, also descend to one device per position.
    #[allow(clippy::too_many_arguments)]
    fn choose_indep(
        &mut self,
        bucket: &'a Bucket,
        p: &IndepParams,
        left: usize,
        ty: i32,
        out: &mut [i32],
        outpos: usize,
        mut leaves: Option<&mut [i32]>,
        parent_r: i32,
    ) -> Result<()> {
        let max_devices = self.map.max_devices();
        let endpos = outpos + left;
        let mut left = left;
        let numrep = bits(p.numrep);
        let position = u32::try_from(outpos).unwrap_or(u32::MAX);
        let set = |v: &mut [i32], i: usize, item: i32| {
            if let Some(slot) = v.get_mut(i) {
                *slot = item;
            }
        };
        for rep in outpos..endpos {
            set(out, rep, CRUSH_ITEM_UNDEF);
            if let Some(leaves) = leaves.as_deref_mut() {
                set(leaves, rep, CRUSH_ITEM_UNDEF);
            }
        }

        let mut ftotal: u32 = 0;
        while left > 0 && ftotal < p.tries {
            for rep in outpos..endpos {
                if out.get(rep) != Some(&CRUSH_ITEM_UNDEF) {
                    continue;
                }
                let mut current = bucket;
                let mut depth = 0_usize;
                loop {
                    let size = u32::try_from(current.items.len()).unwrap_or(u32::MAX);
                    // uniform buckets whose size is a multiple of numrep would cycle
                    // through the same items: step by numrep + 1 there
                    let stride = if matches!(current.kind, BucketKind::Uniform { .. })
                        && size.checked_rem(numrep) == Some(0)
                    {
                        numrep.wrapping_add(1)
                    } else {
                        numrep
                    };
                    let r = i32::try_from(rep)
                        .unwrap_or(i32::MAX)
                        .wrapping_add(parent_r)
                        .wrapping_add(stride.wrapping_mul(ftotal) as i32);
                    if size == 0 {
                        break;
                    }
                    let item = self.choose(current, r, position)?;
                    let item_type = if item < max_devices {
                        Some(self.item_type(item)?)
                    } else {
                        None
                    };
                    let item_type = match item_type {
                        Some(t) if t == ty => t,
                        Some(_) if item < 0 => {
                            current = self.bucket(item)?;
                            depth += 1;
                            self.check_depth(depth, current)?;
                            continue;
                        }
                        // beyond max_devices, or a device where a bucket type was wanted:
                        // this position stays empty
                        _ => {
                            set(out, rep, CRUSH_ITEM_NONE);
                            if let Some(leaves) = leaves.as_deref_mut() {
                                set(leaves, rep, CRUSH_ITEM_NONE);
                            }
                            left -= 1;
                            break;
                        }
                    };

                    let collide = out.get(outpos..endpos).is_some_and(|s| s.contains(&item));
                    if collide {
                        break;
                    }
                    if let Some(leaves) = leaves.as_deref_mut() {
                        if item < 0 {
                            let inner = IndepParams {
                                numrep: p.numrep,
                                tries: p.recurse_tries,
                                recurse_tries: 0,
                            };
                            self.choose_indep(
                                self.bucket(item)?,
                                &inner,
                                1,
                                0,
                                leaves,
                                rep,
                                None,
                                r,
                            )?;
                            if leaves.get(rep) == Some(&CRUSH_ITEM_NONE) {
                                // no device below it
                                break;
                            }
                        } else {
                            set(leaves, rep, item);
                        }
                    }
                    if item_type == 0 && self.is_out(item)? {
                        break;
                    }
                    set(out, rep, item);
                    left -= 1;
                    break;
                }
            }
            ftotal += 1;
        }

        for rep in outpos..endpos {
            if out.get(rep) == Some(&CRUSH_ITEM_UNDEF) {
                set(out, rep, CRUSH_ITEM_NONE);
            }
            if let Some(leaves) = leaves.as_deref_mut()
                && leaves.get(rep) == Some(&CRUSH_ITEM_UNDEF)
            {
                set(leaves, rep, CRUSH_ITEM_NONE);
            }
        }
        Ok(())
    }
}
