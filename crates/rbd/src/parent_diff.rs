//! Where a clone's parent holds data, for diffs of clones that include their parent
//! (src/librbd/api/DiffIterate.cc "first getting parent diff"): the parent image is
//! diffed from its beginning up to the parent snapshot, over the child's overlap, itself
//! including its own parent; the child then reports these extents where its own objects
//! hold nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rados::Errno;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::names;
use crate::parent::{ParentLink, Source};
use crate::snap_set_diff::{Intervals, calc_snap_set_diff};
use crate::striper::ObjectExtent;

/// Clone lists asked for at once.
const MAX_IN_FLIGHT: usize = 32;

/// The image ranges (of the parent, which are the child's too) below the link's overlap
/// where the parent has data at its snapshot. `whole_object` reports whole parent
/// objects, as librbd's whole-object diff does.
pub(crate) async fn parent_data(link: &ParentLink, whole_object: bool) -> Result<Intervals> {
    let len = link.overlap.min(link.source.size);
    source_data(link.source.clone(), link.spec.snap_id, len, whole_object).await
}

/// The data extents of `src` at snapshot `snap` within `0..len` (a diff from the
/// beginning, C_DiffObject per object: the object's diff, or its own parent's data where
/// the object holds none).
fn source_data(
    src: Arc<Source>,
    snap: u64,
    len: u64,
    whole_object: bool,
) -> Pin<Box<dyn Future<Output = Result<Intervals>> + Send>> {
    Box::pin(async move {
        let mut out = Intervals::new();
        if len == 0 {
            return Ok(out);
        }
        let below = match &src.parent {
            Some(link) => Some(Arc::new(parent_data(link, whole_object).await?)),
            None => None,
        };
        let mut set: JoinSet<Result<Vec<(u64, u64)>>> = JoinSet::new();
        for ex in src.layout.file_to_extents(0, len) {
            if set.len() >= MAX_IN_FLIGHT {
                merge(&mut out, set.join_next().await)?;
            }
            let io = src.data_io.clone();
            let oid = names::data_object(&src.prefix, ex.object_no);
            let below = below.clone();
            set.spawn(async move {
                let from_below = |ex: &ObjectExtent| -> Vec<(u64, u64)> {
                    let Some(b) = &below else {
                        return Vec::new();
                    };
                    ex.buffer_extents
                        .iter()
                        .flat_map(|&(off, l)| b.intersect(off, l))
                        .collect()
                };
                let ss = match io.list_snaps(&oid).await {
                    Ok(ss) => ss,
                    Err(e) if e.is(Errno::ENOENT) => return Ok(from_below(&ex)),
                    Err(e) => return Err(Error::from(e)),
                };
                let d = calc_snap_set_diff(&ss, 0, snap);
                if d.diff.is_empty() && !d.whole_object {
                    return Ok(if d.end_exists {
                        Vec::new()
                    } else {
                        from_below(&ex)
                    });
                }
                if whole_object || d.whole_object {
                    return Ok(ex.buffer_extents.clone());
                }
                let mut found = Vec::new();
                let mut opos = ex.offset;
                for &(b_off, b_len) in &ex.buffer_extents {
                    for (s, l) in d.diff.intersect(opos, b_len) {
                        found.push((b_off + (s - opos), l));
                    }
                    opos += b_len;
                }
                Ok(found)
            });
        }
        while !set.is_empty() {
            merge(&mut out, set.join_next().await)?;
        }
        Ok(out)
    })
}

type Joined = Option<std::result::Result<Result<Vec<(u64, u64)>>, tokio::task::JoinError>>;

fn merge(out: &mut Intervals, joined: Joined) -> Result<()> {
    match joined {
        None => Ok(()),
        Some(Ok(r)) => {
            for (o, l) in r? {
                out.insert(o, l);
            }
            Ok(())
        }
        Some(Err(_)) => Err(Error::Rados(rados::Error::Shutdown)),
    }
}
