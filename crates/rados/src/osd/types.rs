//! What object operations return, decoded: stat, sparse extents, snapshot sets, watchers
//! (src/osd/osd_types.h `obj_list_snap_response_t`, `clone_info`, `watch_item_t`,
//! `obj_list_watch_response_t`).

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{Decode, Encode, EntityAddr, EntityName, Reader, SnapId, UTime, Writer};

/// `stat`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectStat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub mtime: UTime,
}

/// `sparse_read`'s answer: the extents that hold data (offset, length), and their bytes
/// concatenated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SparseRead {
    /// Extents with data, ascending.
    pub extents: Vec<(u64, u64)>,
    /// The extents' bytes, back to back.
    pub data: Bytes,
}

impl SparseRead {
    /// The bytes of `off..off+len` with holes as zeros (what a plain read returns),
    /// trimmed to the end of the last extent.
    pub fn to_dense(&self, off: u64) -> Vec<u8> {
        let end = self
            .extents
            .iter()
            .map(|(o, l)| o.saturating_add(*l))
            .max()
            .unwrap_or(off);
        let mut out = vec![0u8; usize::try_from(end.saturating_sub(off)).unwrap_or(0)];
        let mut at = 0usize;
        for &(o, l) in &self.extents {
            let l = usize::try_from(l).unwrap_or(0);
            let (Some(src), Ok(rel)) = (
                self.data.get(at..at.saturating_add(l)),
                usize::try_from(o.saturating_sub(off)),
            ) else {
                break;
            };
            if let Some(dst) = out.get_mut(rel..rel.saturating_add(l)) {
                dst.copy_from_slice(src);
            }
            at += l;
        }
        out
    }
}

/// One clone of an object (`clone_info`): its id (`NOSNAP` for the head), the snapshots
/// it serves (ascending), the ranges it shares with the next newer clone, and its size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloneInfo {
    /// The clone's snap id, or `SnapId::NOSNAP` for the head.
    pub cloneid: SnapId,
    /// Snapshots this clone serves, ascending.
    pub snaps: Vec<SnapId>,
    /// (offset, length) ranges identical to the next newer clone.
    pub overlap: Vec<(u64, u64)>,
    /// Size in bytes.
    pub size: u64,
}

// src/osd/osd_types.h clone_info::encode: ENCODE_START(1, 1)
impl Encode for CloneInfo {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.cloneid);
            w.put(&self.snaps);
            w.put(&self.overlap);
            w.put_u64(self.size);
        });
    }
}

impl Decode for CloneInfo {
    const MIN_LEN: usize = 6 + 8 + 4 + 4 + 8;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("clone_info", 1, |_, r| {
            Ok(CloneInfo {
                cloneid: r.decode()?,
                snaps: r.decode()?,
                overlap: r.decode()?,
                size: r.u64()?,
            })
        })
    }
}

/// `list_snaps`'s answer (`obj_list_snap_response_t`): the object's clones, oldest first,
/// and the snap sequence it was last written under.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapSet {
    /// Clones, ascending (the head last, if it exists).
    pub clones: Vec<CloneInfo>,
    /// The snap context sequence (v2+; `NOSNAP` from older OSDs).
    pub seq: SnapId,
}

impl Encode for SnapSet {
    fn encode(&self, w: &mut Writer) {
        w.versioned(2, 1, |w| {
            w.put(&self.clones);
            w.put(&self.seq);
        });
    }
}

impl Decode for SnapSet {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("obj_list_snap_response_t", 2, |v, r| {
            let clones = r.decode()?;
            let seq = if v >= 2 { r.decode()? } else { SnapId::NOSNAP };
            Ok(SnapSet { clones, seq })
        })
    }
}

/// A watcher of an object (`watch_item_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    /// Who watches (`client.4123`).
    pub name: EntityName,
    /// The watch's cookie.
    pub cookie: u64,
    /// Seconds without a ping before the OSD drops the watch.
    pub timeout_seconds: u32,
    /// The watcher's address (v2+).
    pub addr: EntityAddr,
}

impl Encode for Watcher {
    fn encode(&self, w: &mut Writer) {
        w.versioned(2, 1, |w| {
            w.put(&self.name);
            w.put_u64(self.cookie);
            w.put_u32(self.timeout_seconds);
            w.put(&self.addr);
        });
    }
}

impl Decode for Watcher {
    const MIN_LEN: usize = 6 + 9 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("watch_item_t", 2, |v, r| {
            let name = r.decode()?;
            let cookie = r.u64()?;
            let timeout_seconds = r.u32()?;
            let addr = if v >= 2 {
                r.decode()?
            } else {
                EntityAddr::default()
            };
            Ok(Watcher {
                name,
                cookie,
                timeout_seconds,
                addr,
            })
        })
    }
}

/// `list_watchers`'s answer (`obj_list_watch_response_t`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatcherList(pub Vec<Watcher>);

impl Encode for WatcherList {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| w.put(&self.0));
    }
}

impl Decode for WatcherList {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("obj_list_watch_response_t", 1, |_, r| {
            Ok(WatcherList(r.decode()?))
        })
    }
}

/// A page of omap keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OmapKeys {
    /// Keys, ascending.
    pub keys: Vec<String>,
    /// More keys follow the last one (ask again with it as `start_after`).
    pub more: bool,
}

/// A page of omap entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OmapVals {
    /// Entries, ascending by key.
    pub vals: BTreeMap<String, Bytes>,
    /// More entries follow the last one.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_snap_and_watch_responses() {
        let snaps = denc::testing::check_corpus::<SnapSet>("obj_list_snap_response_t", 0);
        assert!(snaps.iter().any(|(_, s)| !s.clones.is_empty()));
        let watch = denc::testing::check_corpus::<WatcherList>(
            "obj_list_watch_response_t",
            denc::features::ALL,
        );
        assert!(watch.iter().any(|(_, w)| !w.0.is_empty()));
    }

    #[test]
    fn sparse_to_dense() {
        let s = SparseRead {
            extents: vec![(10, 2), (14, 3)],
            data: Bytes::from_static(b"abcde"),
        };
        assert_eq!(s.to_dense(8), b"\0\0ab\0\0cde".to_vec());
        assert_eq!(SparseRead::default().to_dense(5), Vec::<u8>::new());
    }
}
