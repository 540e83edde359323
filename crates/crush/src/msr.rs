//! Multi-step-retry (MSR) rules, Squid and later (`crush_msr_do_rule` in
//! `src/crush/mapper.c`, `doc/dev/crush-msr.rst`).
//!
//! An MSR rule is a prefix of `SET_MSR_*` steps, then blocks of `TAKE, CHOOSE_MSR*, EMIT`.
//! Each block fills a range of result positions. The choose steps split the range into
//! strides (`choosemsr 4 host` = 4 strides) and descend depth-first: a stride picks a bucket
//! of the step's type that no other stride uses, then the next step fills the stride's
//! positions below it. A device that is out does not trigger a local retry; instead the
//! whole block is descended again (up to `msr_descents` times) with a new try number, and
//! only positions still empty are filled. Collisions are retried locally up to
//! `msr_collision_tries` times. The rule type decides the output order: `msr_firstn`
//! compacts, `msr_indep` keeps positions (holes are [`CRUSH_ITEM_NONE`]).

use crate::bucket::bits;
use crate::error::CrushError;
use crate::mapper::Ctx;
use crate::model::{Bucket, CRUSH_ITEM_NONE, CRUSH_ITEM_UNDEF, Rule, RuleOp, rule_type};

type Result<T> = std::result::Result<T, CrushError>;

/// Most choose steps one block may have (Ceph's hierarchies are at most 10 deep); the
/// descent recurses once per step.
const MAX_BLOCK_STEPS: usize = 64;

/// Per-step "used" vectors of the current block, `steps x result_max` entries.
#[derive(Debug, Default, Clone)]
pub(crate) struct Workspace {
    vecs: Vec<i32>,
}

/// Runs an MSR rule into `result`.
pub(crate) fn do_rule<'a>(
    ctx: &mut Ctx<'a>,
    ws: &mut Workspace,
    rule_id: i32,
    rule: &'a Rule,
    result_max: usize,
    result: &mut Vec<i32>,
) -> Result<()> {
    let malformed = |what| CrushError::MalformedRule {
        rule: rule_id,
        what,
    };
    let t = ctx.map.tunables();
    let mut descents = t.msr_descents;
    let mut collision_tries = t.msr_collision_tries;
    let mut step_no = 0;
    while let Some(step) = rule.steps.get(step_no) {
        match step.op {
            RuleOp::SetMsrDescents => descents = bits(step.arg1),
            RuleOp::SetMsrCollisionTries => collision_tries = bits(step.arg1),
            _ => break,
        }
        step_no += 1;
    }

    let rm = u32::try_from(result_max).map_err(|_| CrushError::ResultTooLarge(result_max))?;
    result.clear();
    result.resize(result_max, CRUSH_ITEM_NONE);
    let mut run = Run {
        ctx,
        rule_id,
        rule,
        result_max: rm,
        collision_tries,
        vecs: &mut ws.vecs,
        first_step: 0,
        end_step: 0,
        out: result,
        returned: 0,
    };

    let mut start_index = 0_u32;
    while step_no < rule.steps.len() {
        let Some((total, emit)) = scan_block(rule_id, rule, rm, step_no)? else {
            // Ceph returns an empty mapping for a rule of the wrong shape
            run.out.clear();
            return Ok(());
        };
        let take = rule.steps.get(step_no).map_or(0, |s| s.arg1);
        if take >= 0 {
            if step_no + 1 != emit {
                run.out.clear();
                return Ok(());
            }
            // Ceph emits the device without advancing and never leaves the loop
            return Err(malformed("an MSR block takes a device"));
        }
        let root = run.ctx.bucket(take)?;
        let first_choose = step_no + 1;
        let steps = emit - first_choose;
        if steps > MAX_BLOCK_STEPS {
            return Err(malformed("too many choose steps in an MSR block"));
        }
        let end_index = start_index
            .checked_add(total)
            .ok_or_else(|| malformed("MSR fan-out overflows"))?
            .min(rm);
        run.vecs.clear();
        run.vecs.resize(steps * result_max, CRUSH_ITEM_UNDEF);
        run.first_step = first_choose;
        run.end_step = emit;

        let limit = run.returned + (end_index - start_index);
        let mut try_no = 0;
        while try_no < descents && run.returned < limit {
            run.choose(root, total, start_index, end_index, first_choose, try_no)?;
            try_no += 1;
        }
        start_index = end_index;
        step_no = emit + 1;
    }

    if rule.rule_type == rule_type::MSR_FIRSTN {
        let returned = run.returned as usize;
        run.out.truncate(returned);
    }
    Ok(())
}

/// `crush_msr_scan_next`: a block must be TAKE, CHOOSE_MSR*, EMIT. Returns the product of
/// the choose counts (0 meaning result_max) and the EMIT's index, or `None` for a malformed
/// block.
fn scan_block(
    rule_id: i32,
    rule: &Rule,
    result_max: u32,
    take: usize,
) -> Result<Option<(u32, usize)>> {
    if take + 1 >= rule.steps.len() || rule.steps.get(take).map(|s| s.op) != Some(RuleOp::Take) {
        return Ok(None);
    }
    let mut total = 1_u32;
    for (index, step) in rule.steps.iter().enumerate().skip(take + 1) {
        match step.op {
            RuleOp::Emit => return Ok(Some((total, index))),
            RuleOp::ChooseMsr => {
                let count = if step.arg1 != 0 {
                    bits(step.arg1)
                } else {
                    result_max
                };
                total = total.checked_mul(count).ok_or(CrushError::MalformedRule {
                    rule: rule_id,
                    what: "MSR fan-out overflows",
                })?;
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// State of one MSR mapping: the current block's workspace and the output.
struct Run<'r, 'a> {
    ctx: &'r mut Ctx<'a>,
    rule_id: i32,
    rule: &'a Rule,
    result_max: u32,
    collision_tries: u32,
    /// One "used" vector per choose step of the block, `result_max` entries each.
    vecs: &'r mut Vec<i32>,
    /// Index of the block's first choose step.
    first_step: usize,
    /// Index of the block's EMIT.
    end_step: usize,
    out: &'r mut Vec<i32>,
    returned: u32,
}

impl<'a> Run<'_, 'a> {
    fn malformed(&self, what: &'static str) -> CrushError {
        CrushError::MalformedRule {
            rule: self.rule_id,
            what,
        }
    }

    /// The "used" vector of choose step `step`.
    fn vec(&mut self, step: usize) -> Result<&mut [i32]> {
        let width = self.result_max as usize;
        let start = step
            .checked_sub(self.first_step)
            .and_then(|i| i.checked_mul(width))
            .ok_or_else(|| self.malformed("MSR step outside its block"))?;
        let malformed = self.malformed("MSR step outside its block");
        self.vecs.get_mut(start..start + width).ok_or(malformed)
    }

    /// `crush_msr_choose`: fill positions `start..end` below `bucket` with choose step
    /// `step` and the ones after it. Returns how many devices were mapped.
    fn choose(
        &mut self,
        bucket: &'a Bucket,
        total: u32,
        start: u32,
        end: u32,
        step_no: usize,
        try_no: u32,
    ) -> Result<u32> {
        let step = self
            .rule
            .steps
            .get(step_no)
            .filter(|s| s.op == RuleOp::ChooseMsr && step_no < self.end_step)
            .copied()
            .ok_or_else(|| self.malformed("an MSR block without a choose step"))?;
        let strides = if step.arg1 != 0 {
            bits(step.arg1)
        } else {
            self.result_max
        };
        if strides == 0 || total % strides != 0 {
            return Err(self.malformed("MSR stride count does not divide the fan-out"));
        }
        let stride_len = total / strides;
        if start >= end {
            return Ok(0);
        }
        if stride_len == 0 {
            return Err(self.malformed("MSR stride of length zero"));
        }
        let stride_count = (end - start).div_ceil(stride_len) as usize;
        // strides whose bucket was pushed but produced nothing: forgotten before returning
        // (not immediately, so that it still counts as a collision for later strides)
        let mut undo: Vec<Option<i32>> = vec![None; stride_count];
        let leaf = step.arg2 == 0;

        let mut mapped = 0_u32;
        for (stride, stride_start) in (start..end).step_by(stride_len as usize).enumerate() {
            let stride_end = stride_start.saturating_add(stride_len).min(end);
            if self.leaves_filled(stride_start, stride_end)? {
                continue;
            }
            let stride_u32 = u32::try_from(stride).unwrap_or(u32::MAX);
            let mut found = None;
            for local_try in 0..self.collision_tries {
                let candidate = self.descend(bucket, step.arg2, try_no, local_try, stride_u32)?;
                if self.valid_candidate(step_no, start, end, stride_start, stride_end, candidate)? {
                    found = Some(candidate);
                    break;
                }
            }
            let Some(candidate) = found else { continue };

            if leaf {
                if stride_len != 1 || step_no + 1 != self.end_step {
                    // a device step followed by more steps: nothing to do here
                    continue;
                }
                if self.ctx.is_out(candidate)? {
                    // left for the next descent
                    continue;
                }
                if !self.push_used(step_no, stride_start, stride_end, candidate)? {
                    return Err(self.malformed("MSR leaf already used"));
                }
                self.emit(stride_start, candidate)?;
                mapped += 1;
            } else {
                if step_no + 1 >= self.end_step {
                    continue;
                }
                if candidate >= 0 {
                    // Ceph would index its bucket array with a device id
                    return Err(self.malformed("MSR descent reached a device above the leaves"));
                }
                let child = self.ctx.bucket(candidate)?;
                let child_mapped = self.choose(
                    child,
                    stride_len,
                    stride_start,
                    stride_end,
                    step_no + 1,
                    try_no,
                )?;
                let pushed = self.push_used(step_no, stride_start, stride_end, candidate)?;
                if pushed && child_mapped == 0 {
                    if let Some(slot) = undo.get_mut(stride) {
                        *slot = Some(candidate);
                    }
                } else {
                    mapped += child_mapped;
                }
            }
        }

        for (stride, stride_start) in (start..end).step_by(stride_len as usize).enumerate() {
            if let Some(Some(candidate)) = undo.get(stride).copied() {
                let stride_end = stride_start.saturating_add(stride_len).min(end);
                self.pop_used(step_no, stride_start, stride_end, candidate)?;
            }
        }
        Ok(mapped)
    }

    /// `crush_msr_descend`: from `bucket`, choose down until a device or a bucket of type
    /// `ty`.
    fn descend(
        &mut self,
        bucket: &'a Bucket,
        ty: i32,
        try_no: u32,
        local_try: u32,
        index: u32,
    ) -> Result<i32> {
        // r = ((try * result_max + index) << 16) + local try, in C unsigned arithmetic
        let total_index = try_no.wrapping_mul(self.result_max).wrapping_add(index);
        let r = (total_index << 16).wrapping_add(local_try) as i32;
        let mut current = bucket;
        let mut depth = 0_usize;
        loop {
            let candidate = self.ctx.choose(current, r, index)?;
            if candidate >= 0 {
                return Ok(candidate);
            }
            current = self.ctx.bucket(candidate)?;
            if i32::from(current.bucket_type) == ty {
                return Ok(candidate);
            }
            depth += 1;
            self.ctx.check_depth(depth, current)?;
        }
    }

    /// True if every position in `start..end` has its device (the last step's vector).
    fn leaves_filled(&mut self, start: u32, end: u32) -> Result<bool> {
        let last = self.end_step.saturating_sub(1);
        let vec = self.vec(last)?;
        Ok(vec
            .get(start as usize..end as usize)
            .is_some_and(|s| s.iter().all(|v| *v != CRUSH_ITEM_UNDEF)))
    }

    /// `crush_msr_valid_candidate`: a candidate already used in `exclude` is acceptable only
    /// if it was used by this stride (`include`).
    fn valid_candidate(
        &mut self,
        step: usize,
        exclude_start: u32,
        exclude_end: u32,
        include_start: u32,
        include_end: u32,
        candidate: i32,
    ) -> Result<bool> {
        let vec = self.vec(step)?;
        let range = exclude_start as usize..exclude_end as usize;
        let used = vec.get(range.clone()).unwrap_or_default();
        Ok(match used.iter().position(|v| *v == candidate) {
            Some(offset) => {
                let i = range.start + offset;
                i >= include_start as usize && i < include_end as usize
            }
            None => true,
        })
    }

    /// `crush_msr_push_used`: add `candidate` to the stride's set; false if already there.
    fn push_used(&mut self, step: usize, start: u32, end: u32, candidate: i32) -> Result<bool> {
        let malformed = self.malformed("MSR stride has no room left");
        let vec = self.vec(step)?;
        for slot in vec
            .get_mut(start as usize..end as usize)
            .unwrap_or_default()
        {
            if *slot == candidate {
                return Ok(false);
            }
            if *slot == CRUSH_ITEM_UNDEF {
                *slot = candidate;
                return Ok(true);
            }
        }
        Err(malformed)
    }

    /// `crush_msr_pop_used`: remove the stride's most recent entry, which must be
    /// `candidate`.
    fn pop_used(&mut self, step: usize, start: u32, end: u32, candidate: i32) -> Result<()> {
        let malformed = self.malformed("MSR stride pop does not match");
        let vec = self.vec(step)?;
        let stride = vec
            .get_mut(start as usize..end as usize)
            .unwrap_or_default();
        match stride.iter_mut().rev().find(|v| **v != CRUSH_ITEM_UNDEF) {
            Some(slot) if *slot == candidate => {
                *slot = CRUSH_ITEM_UNDEF;
                Ok(())
            }
            _ => Err(malformed),
        }
    }

    /// `crush_msr_emit_result`: firstn rules append, indep rules write at `position`.
    fn emit(&mut self, position: u32, item: i32) -> Result<()> {
        let malformed = self.malformed("MSR output position already filled");
        if self.returned >= self.result_max {
            return Err(malformed);
        }
        let index = if self.rule.rule_type == rule_type::MSR_FIRSTN {
            self.returned
        } else {
            position
        };
        match self.out.get_mut(index as usize) {
            Some(slot) if *slot == CRUSH_ITEM_NONE => {
                *slot = item;
                self.returned += 1;
                Ok(())
            }
            _ => Err(malformed),
        }
    }
}
