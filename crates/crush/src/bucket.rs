//! Choosing one item from a bucket: the five bucket algorithms of `src/crush/mapper.c`.
//!
//! Each takes the input `x` and the replica rank `r` and deterministically picks an item. All
//! arithmetic follows Ceph's C types: hashes are over the 32-bit two's-complement patterns of
//! the (signed) inputs, weights are 16.16 fixed point.

use crate::error::CrushError;
use crate::hash::BucketHash;
use crate::ln::crush_ln;
use crate::model::{Bucket, BucketKind, ChooseArg};

type Result<T> = std::result::Result<T, CrushError>;

/// Bit pattern of a C `int` passed where Ceph's hash takes `__u32`.
#[inline(always)]
pub(crate) fn bits(v: i32) -> u32 {
    v as u32
}

fn malformed(bucket: &Bucket, what: &'static str) -> CrushError {
    CrushError::MalformedBucket {
        bucket: bucket.id,
        what,
    }
}

/// `crush_bucket_choose`: one item of `bucket` for input `x` and rank `r`. `arg` holds the
/// bucket's choose_args (straw2 only) and `position` selects its weight set.
pub(crate) fn choose(
    bucket: &Bucket,
    x: u32,
    r: i32,
    arg: Option<&ChooseArg>,
    position: u32,
    perm: &mut PermCache,
    max_buckets: usize,
) -> Result<i32> {
    let hash = BucketHash(bucket.hash);
    let first = *bucket
        .items
        .first()
        .ok_or_else(|| malformed(bucket, "choosing from an empty bucket"))?;
    match &bucket.kind {
        BucketKind::Uniform { .. } => perm_choose(bucket, x, r, perm, max_buckets),
        BucketKind::List {
            item_weights,
            sum_weights,
        } => Ok(list_choose(bucket, hash, x, r, item_weights, sum_weights).unwrap_or(first)),
        BucketKind::Tree { node_weights, .. } => tree_choose(bucket, hash, x, r, node_weights),
        BucketKind::Straw { straws, .. } => Ok(straw_choose(bucket, hash, x, r, straws)),
        BucketKind::Straw2 { item_weights } => Ok(straw2_choose(
            bucket,
            hash,
            x,
            r,
            item_weights,
            arg,
            position,
        )),
    }
}

/// Partial permutations of buckets for the current input, as Ceph keeps them in its
/// per-mapping workspace (`crush_work_bucket`): choosing rank `r` from a bucket only extends
/// the shuffle as far as `r`, and later choices from the same bucket reuse it.
#[derive(Debug, Default, Clone)]
pub(crate) struct PermCache {
    /// Bumped for every mapping; entries from earlier mappings are stale.
    generation: u64,
    /// By bucket slot.
    entries: Vec<PermEntry>,
    /// For buckets whose id does not match a slot.
    scratch: PermEntry,
}

#[derive(Debug, Default, Clone)]
struct PermEntry {
    generation: u64,
    x: u32,
    /// Shuffle steps done so far.
    done: u32,
    perm: Vec<u32>,
}

impl PermCache {
    /// Starts a new mapping: forgets every permutation.
    pub(crate) fn reset(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // after a wrap, old entries could look current
            self.entries.clear();
            self.generation = 1;
        }
    }

    fn entry(&mut self, bucket: &Bucket, max_buckets: usize) -> &mut PermEntry {
        let slot = usize::try_from(-1_i64 - i64::from(bucket.id))
            .ok()
            .filter(|s| *s < max_buckets);
        match slot {
            Some(slot) => {
                if self.entries.len() <= slot {
                    self.entries.resize_with(slot + 1, PermEntry::default);
                }
                match self.entries.get_mut(slot) {
                    Some(entry) => entry,
                    None => &mut self.scratch,
                }
            }
            None => {
                // not cacheable: recompute every time
                self.scratch.generation = 0;
                &mut self.scratch
            }
        }
    }
}

/// `bucket_perm_choose`: item `perm[r mod size]` of a pseudo-random permutation of the
/// bucket, built by a Fisher-Yates shuffle whose step `p` swaps position `p` with
/// `p + hash(x, id, p) mod (size - p)`. The result is a function of (bucket, x, r) alone;
/// the cache only saves work.
pub(crate) fn perm_choose(
    bucket: &Bucket,
    x: u32,
    r: i32,
    cache: &mut PermCache,
    max_buckets: usize,
) -> Result<i32> {
    let size = u32::try_from(bucket.items.len())
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| malformed(bucket, "bad bucket size for a permutation"))?;
    let hash = BucketHash(bucket.hash);
    let id = bits(bucket.id);
    // C: `r % bucket->size` with r converted to unsigned
    let pr = bits(r) % size;
    let generation = cache.generation;
    let entry = cache.entry(bucket, max_buckets);
    if entry.generation != generation || entry.x != x || entry.perm.len() != size as usize {
        if pr == 0 {
            // the first shuffle step alone decides position 0
            let slot = hash.h3(x, id, 0) % size;
            return item_at(bucket, slot);
        }
        entry.generation = generation;
        entry.x = x;
        entry.done = 0;
        entry.perm.clear();
        entry.perm.extend(0..size);
    }
    while entry.done <= pr {
        let p = entry.done;
        // the last position has nothing left to swap with
        if p + 1 < size {
            let i = hash.h3(x, id, p) % (size - p);
            if i != 0 {
                entry.perm.swap(p as usize, (p + i) as usize);
            }
        }
        entry.done += 1;
    }
    let slot = entry.perm.get(pr as usize).copied().unwrap_or(0);
    item_at(bucket, slot)
}

fn item_at(bucket: &Bucket, slot: u32) -> Result<i32> {
    bucket
        .items
        .get(slot as usize)
        .copied()
        .ok_or_else(|| malformed(bucket, "permutation out of range"))
}

/// `bucket_list_choose`: walk from the tail; item `i` wins with probability
/// `weight[i] / sum_weight[i]`. `None` means no item won (Ceph then returns the first).
fn list_choose(
    bucket: &Bucket,
    hash: BucketHash,
    x: u32,
    r: i32,
    item_weights: &[u32],
    sum_weights: &[u32],
) -> Option<i32> {
    let entries = bucket.items.iter().zip(item_weights).zip(sum_weights);
    for ((&item, &weight), &sum) in entries.rev() {
        let draw = u64::from(hash.h4(x, bits(item), bits(r), bits(bucket.id)) & 0xffff);
        if (draw * u64::from(sum)) >> 16 < u64::from(weight) {
            return Some(item);
        }
    }
    None
}

/// `bucket_tree_choose`: descend the implicit binary tree from the root (node
/// `num_nodes / 2`), going left with probability `weight(left) / weight(node)`. Leaves are
/// the odd node numbers; leaf `n` is item `n / 2`.
fn tree_choose(
    bucket: &Bucket,
    hash: BucketHash,
    x: u32,
    r: i32,
    node_weights: &[u32],
) -> Result<i32> {
    let num_nodes = match bucket.kind {
        BucketKind::Tree { num_nodes, .. } => u32::from(num_nodes),
        _ => 0,
    };
    let weight_of = |n: u32| {
        node_weights
            .get(n as usize)
            .copied()
            .ok_or_else(|| malformed(bucket, "tree walk left the node array"))
    };
    let mut n = num_nodes >> 1;
    while n & 1 == 0 {
        if n == 0 {
            // Ceph's height() never terminates on node 0
            return Err(malformed(bucket, "tree walk reached node 0"));
        }
        let weight = weight_of(n)?;
        let t = (u64::from(hash.h4(x, n, bits(r), bits(bucket.id))) * u64::from(weight)) >> 32;
        // children are n -/+ 2^(height - 1), height = number of trailing zero bits
        let half = 1 << (n.trailing_zeros() - 1);
        let left = n - half;
        n = if t < u64::from(weight_of(left)?) {
            left
        } else {
            n + half
        };
    }
    bucket
        .items
        .get((n >> 1) as usize)
        .copied()
        .ok_or_else(|| malformed(bucket, "tree leaf beyond the items"))
}

/// `bucket_straw_choose`: the longest straw `(hash & 0xffff) * straw[i]` wins; ties go to the
/// first.
fn straw_choose(bucket: &Bucket, hash: BucketHash, x: u32, r: i32, straws: &[u32]) -> i32 {
    let mut best = (0_u64, bucket.items.first().copied().unwrap_or(0));
    for (i, (&item, &straw)) in bucket.items.iter().zip(straws).enumerate() {
        let draw = u64::from(hash.h3(x, bits(item), bits(r)) & 0xffff) * u64::from(straw);
        if i == 0 || draw > best.0 {
            best = (draw, item);
        }
    }
    best.1
}

/// `bucket_straw2_choose`: every item draws `ln(u) / weight` for a uniform hash `u` (an
/// exponential variable with rate `weight`); the largest draw wins, ties go to the first.
/// choose_args may replace the weights (per position) and the ids that are hashed.
fn straw2_choose(
    bucket: &Bucket,
    hash: BucketHash,
    x: u32,
    r: i32,
    item_weights: &[u32],
    arg: Option<&ChooseArg>,
    position: u32,
) -> i32 {
    let weights: &[u32] = match arg {
        Some(arg) if !arg.weight_set.is_empty() => {
            let last = arg.weight_set.len() - 1;
            let p = (position as usize).min(last);
            arg.weight_set.get(p).map_or(&[][..], Vec::as_slice)
        }
        _ => item_weights,
    };
    let ids: &[i32] = match arg {
        Some(arg) if !arg.ids.is_empty() => &arg.ids,
        _ => &bucket.items,
    };
    let mut best = (0_i64, bucket.items.first().copied().unwrap_or(0));
    for (i, &item) in bucket.items.iter().enumerate() {
        let weight = weights.get(i).copied().unwrap_or(0);
        let draw = if weight != 0 {
            let id = ids.get(i).copied().unwrap_or(item);
            exponential_draw(hash, x, id, r, weight)
        } else {
            i64::MIN
        };
        if i == 0 || draw > best.0 {
            best = (draw, item);
        }
    }
    best.1
}

/// `generate_exponential_distribution`: `(crush_ln(u) - 2^48) / weight`, a non-positive
/// 64-bit value; larger weights give draws closer to zero. The weight is a C `int` there, so
/// weights of 2^31 and above count as negative, and division truncates toward zero.
#[inline]
fn exponential_draw(hash: BucketHash, x: u32, id: i32, r: i32, weight: u32) -> i64 {
    let u = hash.h3(x, bits(id), bits(r)) & 0xffff;
    let ln = crush_ln(u) as i64 - 0x1_0000_0000_0000;
    ln / i64::from(weight as i32)
}
