//! The one-pass deep copy (deep_copy_pass.rs) of a clone: each of the clone's objects
//! copied across all stages at once, kept a clone or flattened.
//!
//! Kept a clone, the copy's object mirrors the clone's own object stage by stage: absent
//! where the clone's is (the parent shows through, within the overlap the copy's header
//! sets for that snapshot, as in the source), written where the clone's changed, and
//! present, if only zero-length, where the clone's exists (it hides the parent there:
//! ObjectCopyRequest's `hide_parent` create + truncate). Nothing of the parent is read.
//!
//! Flattened (`--flatten`), the copy has no parent: where the clone's object is absent at
//! a stage, the parent's bytes within that stage's overlap are its content. The parent
//! is read once per object (up to the largest overlap of all stages); a stage whose
//! overlap cuts the object elsewhere than the previous one's rewrites it (the bytes past
//! the overlap read zeros). librbd (deep_copy/ObjectCopyRequest.cc) reads the parent for
//! the first snapshot's missing extents only.

use bytes::Bytes;
use rados::{Errno, IoCtx, SnapSet};
use tokio::task::JoinSet;

use crate::deep_copy_objects::{OPS_PER_OP, Piece, object_ops, read_planned};
use crate::deep_copy_pass::{ObjectStage, PassStage, stage_pieces};
use crate::error::{Error, Result};
use crate::io::join_one;
use crate::parent::ParentLink;
use crate::snap_set_diff::calc_snap_set_diff;

/// What the source shows of one object at one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct View {
    /// The image offset of the object.
    pub(crate) at: u64,
    /// The object's bytes inside the image at the stage (0: past its end).
    pub(crate) object_len: u64,
    /// The clone's own object at the stage: its size (`None`: absent).
    pub(crate) child: Option<u64>,
    /// What the clone's object changed since the previous stage (when it had one at
    /// both).
    pub(crate) changed: Vec<Piece>,
    /// The object's bytes backed by the parent at the stage (flattening only).
    pub(crate) parent_len: u64,
}

/// What one stage does to the copy's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing changed.
    Nothing,
    /// The content is gone: remove the copy's object (if it has one).
    Remove,
    /// Write `pieces` read from the clone's object at the stage (zero the others);
    /// `size`: the clone object's size, which a copy kept a clone gives its object too.
    Child {
        pieces: Vec<Piece>,
        size: u64,
        object_len: u64,
    },
    /// The parent's first `len` bytes of the object, zeros from there to `object_len`.
    Parent { len: u64, object_len: u64 },
}

/// Where an object's content comes from at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Nothing,
    Child,
    /// The parent's first bytes of the object (how many).
    Parent(u64),
}

/// The steps of one object over all stages (`views`, oldest first): the clone's object
/// where it exists, else (flattening) the parent's bytes within the overlap, else
/// nothing.
pub(crate) fn plan_steps(views: &[View], flatten: bool) -> Vec<Step> {
    let mut prev = Content::Nothing;
    let mut prev_size = 0;
    views
        .iter()
        .map(|v| {
            let content = match v.child {
                _ if v.object_len == 0 => Content::Nothing,
                Some(_) => Content::Child,
                None if flatten && v.parent_len > 0 => Content::Parent(v.parent_len),
                None => Content::Nothing,
            };
            let size = v.child.unwrap_or(0);
            let step = match (prev, content) {
                (Content::Nothing, Content::Nothing) => Step::Nothing,
                (_, Content::Nothing) => Step::Remove,
                (Content::Child, Content::Child) if v.changed.is_empty() && size == prev_size => {
                    Step::Nothing
                }
                (Content::Child, Content::Child) => {
                    let mut pieces = v.changed.clone();
                    // cut (by a shrink, say): zeros where the image may grow back,
                    // past the changes the diff reports inside the image
                    let zeroed = pieces.iter().any(|p| {
                        !p.data && p.object_off <= size && p.object_off + p.len >= prev_size
                    });
                    if size < prev_size && !zeroed {
                        pieces.push(Piece {
                            image_off: v.at + size,
                            object_off: size,
                            len: prev_size - size,
                            data: false,
                        });
                    }
                    Step::Child {
                        pieces,
                        size,
                        object_len: v.object_len,
                    }
                }
                // new (or shown by the parent before): all of it
                (_, Content::Child) => Step::Child {
                    pieces: vec![Piece {
                        image_off: v.at,
                        object_off: 0,
                        len: v.object_len,
                        data: true,
                    }],
                    size,
                    object_len: v.object_len,
                },
                (Content::Parent(a), Content::Parent(b)) if a == b => Step::Nothing,
                (_, Content::Parent(len)) => Step::Parent {
                    len,
                    object_len: v.object_len,
                },
            };
            prev = content;
            prev_size = size;
            step
        })
        .collect()
}

/// The views of object `object_no` (clone list `ss`, `None`: it never existed) at each
/// stage.
fn views(
    stages: &[PassStage],
    ss: Option<&SnapSet>,
    object_no: u64,
    object_size: u64,
    flatten: bool,
) -> Vec<View> {
    let at = object_no * object_size;
    let mut prev_id = 0;
    stages
        .iter()
        .map(|s| {
            let object_len = if at < s.size {
                object_size.min(s.size - at)
            } else {
                0
            };
            let child = ss.and_then(|ss| {
                let d = calc_snap_set_diff(ss, 0, s.src_id);
                // (a clone list that cannot tell: taken as there, the read says what)
                (d.end_exists || d.whole_object).then_some(d.end_size.min(object_size))
            });
            let changed = match ss {
                Some(ss) if prev_id != 0 && object_len > 0 => {
                    stage_pieces(ss, (prev_id, s.src_id), object_size, at, s.size)
                }
                _ => Vec::new(),
            };
            prev_id = s.src_id;
            let parent_len = if flatten {
                s.overlap.saturating_sub(at).min(object_len)
            } else {
                0
            };
            View {
                at,
                object_len,
                child,
                changed,
                parent_len,
            }
        })
        .collect()
}

/// Copies one object of a clone across all `stages` (see the module's comment);
/// `parent`: the parent to read through when flattening (the stage with the largest
/// overlap's). Returns the copy object's state per stage.
pub(crate) async fn copy_clone_object(
    stages: &[PassStage],
    parent: Option<&ParentLink>,
    object_no: u64,
    oid: &str,
    object_size: u64,
) -> Result<Vec<ObjectStage>> {
    let Some(first) = stages.first() else {
        return Ok(Vec::new());
    };
    let flatten = parent.is_some();
    let ss = match first
        .src
        .data_io
        .list_snaps(&first.src.object_name(object_no))
        .await
    {
        Ok(ss) => Some(ss),
        Err(e) if e.is(Errno::ENOENT) => None,
        Err(e) => return Err(e.into()),
    };
    if ss.is_none() && !flatten {
        return Ok(vec![ObjectStage::Missing; stages.len()]);
    }
    let views = views(stages, ss.as_ref(), object_no, object_size, flatten);
    let steps = plan_steps(&views, flatten);
    // the clone's reads of all stages at once, and the parent's once
    let mut reads = JoinSet::new();
    for (k, (stage, step)) in stages.iter().zip(&steps).enumerate() {
        if let Step::Child { pieces, .. } = step {
            let (src, pieces) = (stage.src.clone(), pieces.clone());
            reads.spawn(async move { Ok((k, read_planned(&src, object_no, &pieces).await?)) });
        }
    }
    let parent_len = steps
        .iter()
        .map(|s| match s {
            Step::Parent { len, .. } => *len,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    let parent_data = match parent {
        Some(link) if parent_len > 0 => {
            link.read_ranges(&[(object_no * object_size, parent_len)])
                .await?
        }
        _ => Bytes::new(),
    };
    let mut data: Vec<Option<Vec<Option<Bytes>>>> = vec![None; stages.len()];
    while let Some((k, d)) = join_one(&mut reads).await? {
        if let Some(slot) = data.get_mut(k) {
            *slot = Some(d);
        }
    }
    let mut exists = false;
    let mut states = Vec::with_capacity(stages.len());
    for ((stage, step), d) in stages.iter().zip(steps).zip(data) {
        let io = &stage.dest_io;
        // what to write: the pieces, their data, the size to keep, the object's length
        let (pieces, d, keep_size, object_len) = match step {
            Step::Nothing => {
                states.push(if exists {
                    ObjectStage::Kept
                } else {
                    ObjectStage::Missing
                });
                continue;
            }
            Step::Remove => {
                if exists {
                    remove(io, oid).await?;
                }
                exists = false;
                states.push(ObjectStage::Missing);
                continue;
            }
            Step::Child {
                pieces,
                size,
                object_len,
            } => {
                let d = d.unwrap_or_else(|| vec![None; pieces.len()]);
                (pieces, d, (!flatten).then_some(size), object_len)
            }
            Step::Parent { len, object_len } => {
                let (pieces, d) = parent_pieces(&parent_data, len, object_len);
                (pieces, d, None, object_len)
            }
        };
        let to = Target {
            io,
            oid,
            object_size,
            object_len,
            existed: exists,
        };
        exists = write(&to, &pieces, d, keep_size).await?;
        states.push(if exists {
            ObjectStage::Written
        } else {
            ObjectStage::Missing
        });
    }
    Ok(states)
}

/// The pieces of an object whose first `len` bytes are the parent's (`data`, read
/// from the object's start) and the rest up to `object_len` zeros.
fn parent_pieces(data: &Bytes, len: u64, object_len: u64) -> (Vec<Piece>, Vec<Option<Bytes>>) {
    let n = usize::try_from(len).unwrap_or(usize::MAX).min(data.len());
    let mut pieces = vec![Piece {
        image_off: 0,
        object_off: 0,
        len,
        data: true,
    }];
    let mut bytes = vec![Some(data.slice(..n))];
    if len < object_len {
        pieces.push(Piece {
            image_off: 0,
            object_off: len,
            len: object_len - len,
            data: false,
        });
        bytes.push(None);
    }
    (pieces, bytes)
}

async fn remove(io: &IoCtx, oid: &str) -> Result<()> {
    match io.remove(oid).await {
        Err(e) if !e.is(Errno::ENOENT) => Err(e.into()),
        _ => Ok(()),
    }
}

/// The copy's object a stage writes: its write handle (the stage's snap context), name,
/// the copy's object size, the object's bytes inside the image at the stage, and
/// whether it existed before the stage.
struct Target<'a> {
    io: &'a IoCtx,
    oid: &'a str,
    object_size: u64,
    object_len: u64,
    existed: bool,
}

/// Writes the read `data` of `pieces` (zeroes the rest) to the copy's object `to`;
/// returns whether it exists after. `keep_size` (a copy kept a
/// clone): the object is created even when all zeros (it hides the parent) and given
/// that size, as the clone's. Else an object left all zeros is removed (or not
/// created), as ObjectCopyRequest does without a parent to hide.
async fn write(
    to: &Target<'_>,
    pieces: &[Piece],
    data: Vec<Option<Bytes>>,
    keep_size: Option<u64>,
) -> Result<bool> {
    let (io, oid, object_size) = (to.io, to.oid, to.object_size);
    let (mut zeros, writes) = object_ops(pieces, data);
    zeros.sort_unstable();
    if keep_size.is_none() && writes.is_empty() {
        if !to.existed {
            return Ok(false);
        }
        // all of the object reads zeros now
        if covers(pieces, to.object_len) {
            remove(io, oid).await?;
            return Ok(false);
        }
    }
    if keep_size.is_none() && zeros.is_empty() && writes.is_empty() {
        return Ok(to.existed);
    }
    let mut ops: Vec<(u64, u64, Option<Bytes>)> = zeros
        .into_iter()
        .map(|(off, len)| (off, len, None))
        .chain(
            writes
                .into_iter()
                .map(|(off, b)| (off, b.len() as u64, Some(b))),
        )
        .collect();
    let mut first = true;
    loop {
        let rest = ops.split_off(ops.len().min(OPS_PER_OP));
        let chunk = std::mem::replace(&mut ops, rest);
        let last = ops.is_empty();
        let mut op = io.op(oid).set_alloc_hint(object_size, object_size, 0);
        if first && keep_size.is_some() {
            op = op.create(false);
        }
        for (off, len, bytes) in chunk {
            op = match bytes {
                Some(b) => op.write(off, b),
                None => op.zero(off, len),
            };
        }
        if let (true, Some(size)) = (last, keep_size) {
            op = op.truncate(size);
        }
        op.submit().await.map_err(Error::from)?;
        first = false;
        if last {
            return Ok(true);
        }
    }
}

/// Whether `pieces` cover the object from 0 to `object_len` with nothing left out.
fn covers(pieces: &[Piece], object_len: u64) -> bool {
    let mut ranges: Vec<(u64, u64)> = pieces.iter().map(|p| (p.object_off, p.len)).collect();
    ranges.sort_unstable();
    let mut end = 0;
    for (off, len) in ranges {
        if off > end {
            return false;
        }
        end = end.max(off + len);
    }
    end >= object_len
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJ: u64 = 1 << 20;

    fn piece(object_off: u64, len: u64, data: bool) -> Piece {
        Piece {
            image_off: OBJ + object_off,
            object_off,
            len,
            data,
        }
    }

    /// Object 1 (image 1..2 MiB) at a stage: the clone's object size (`None`: absent),
    /// its changes since the previous stage, the parent's bytes in it.
    fn view(child: Option<u64>, changed: &[Piece], parent_len: u64) -> View {
        View {
            at: OBJ,
            object_len: OBJ,
            child,
            changed: changed.to_vec(),
            parent_len,
        }
    }

    fn whole(size: u64) -> Step {
        Step::Child {
            pieces: vec![piece(0, OBJ, true)],
            size,
            object_len: OBJ,
        }
    }

    #[test]
    fn kept_a_clone_mirrors_the_clone_objects() {
        // copied up after the first snapshot: absent there (the parent shows), then
        // written whole; unchanged at the head
        let v = [
            view(None, &[], OBJ),
            view(Some(OBJ), &[], OBJ),
            view(Some(OBJ), &[], OBJ),
        ];
        assert_eq!(
            plan_steps(&v, false),
            [Step::Nothing, whole(OBJ), Step::Nothing]
        );
        // changed in place, then cut to 0 bytes (still there: hides the parent), then
        // removed past the end of a shrink
        let cut = [piece(0, OBJ, false)];
        let mut gone = view(None, &[], 0);
        gone.object_len = 0;
        let v = [
            view(Some(OBJ), &[], OBJ),
            view(Some(OBJ), &[piece(4096, 4096, true)], OBJ),
            view(Some(0), &cut, OBJ),
            gone,
        ];
        assert_eq!(
            plan_steps(&v, false),
            [
                whole(OBJ),
                Step::Child {
                    pieces: vec![piece(4096, 4096, true)],
                    size: OBJ,
                    object_len: OBJ
                },
                Step::Child {
                    pieces: cut.to_vec(),
                    size: 0,
                    object_len: OBJ
                },
                Step::Remove
            ]
        );
        // cut by a shrink to half the object (nothing changed inside the image): the
        // rest zeroed, so a grow shows zeros
        let v = [view(Some(OBJ), &[], OBJ), view(Some(OBJ / 2), &[], OBJ / 2)];
        assert_eq!(
            plan_steps(&v, false)[1],
            Step::Child {
                pieces: vec![piece(OBJ / 2, OBJ / 2, false)],
                size: OBJ / 2,
                object_len: OBJ
            }
        );
        // the parent is never read kept a clone
        assert_eq!(plan_steps(&[view(None, &[], OBJ)], false), [Step::Nothing]);
    }

    #[test]
    fn flattening_reads_the_parent_where_the_clone_has_nothing() {
        let parent = |len| Step::Parent {
            len,
            object_len: OBJ,
        };
        // the parent's data, then a copyup (the clone's whole object), then the clone
        // unchanged
        let v = [
            view(None, &[], OBJ),
            view(Some(OBJ), &[], OBJ),
            view(Some(OBJ), &[], OBJ),
        ];
        assert_eq!(
            plan_steps(&v, true),
            [parent(OBJ), whole(OBJ), Step::Nothing]
        );
        // the overlap shrunk by a resize between snapshots: rewritten with zeros past
        // it, then nothing of the parent left (removed), then grown back but the
        // overlap stays cut
        let v = [
            view(None, &[], OBJ),
            view(None, &[], OBJ),
            view(None, &[], OBJ / 2),
            view(None, &[], 0),
            view(None, &[], 0),
        ];
        assert_eq!(
            plan_steps(&v, true),
            [
                parent(OBJ),
                Step::Nothing,
                parent(OBJ / 2),
                Step::Remove,
                Step::Nothing
            ]
        );
        // past the overlap and never written by the clone: nothing at all
        assert_eq!(plan_steps(&[view(None, &[], 0)], true), [Step::Nothing]);
    }

    #[test]
    fn parent_pieces_zero_past_the_overlap() {
        let data = Bytes::from(vec![7u8; 100]);
        let (pieces, bytes) = parent_pieces(&data, 60, 200);
        assert_eq!(
            pieces
                .iter()
                .map(|p| (p.object_off, p.len, p.data))
                .collect::<Vec<_>>(),
            [(0, 60, true), (60, 140, false)]
        );
        assert_eq!(bytes.first().cloned().flatten().map(|b| b.len()), Some(60));
        assert_eq!(bytes.get(1), Some(&None));
        let (pieces, _) = parent_pieces(&data, 100, 100);
        assert_eq!(pieces.len(), 1);
    }

    #[test]
    fn coverage_of_pieces() {
        assert!(covers(&[piece(0, 10, false), piece(10, 10, true)], 20));
        assert!(!covers(&[piece(0, 10, false), piece(11, 9, true)], 20));
        assert!(!covers(&[piece(5, 15, false)], 20));
        assert!(covers(&[piece(0, 30, false)], 20));
    }
}
