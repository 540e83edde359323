//! The `rbd` class methods for snapshots (src/cls/rbd/cls_rbd.cc, cls_rbd_client.cc):
//! adding, removing, renaming, trashing snapshots, their protection status, the
//! snapshot limit, the per-snapshot object map calls, and the `snapshot_get` reply
//! (`cls::rbd::SnapshotInfo`, src/cls/rbd/cls_rbd_types.cc).

use bytes::Bytes;
use denc::{Decode, Encode, Reader, UTime, Writer};

use super::{Method, decode_reply};
use crate::error::Result;
use crate::object_map::BitVector2;

/// `RBD_PROTECTION_STATUS_*` (src/include/rbd_types.h).
pub mod protection {
    /// Not protected.
    pub const UNPROTECTED: u8 = 0;
    /// Being unprotected (children are being checked).
    pub const UNPROTECTING: u8 = 1;
    /// Protected: cannot be removed, may have clones.
    pub const PROTECTED: u8 = 2;
}

/// `SNAPSHOT_NAMESPACE_TYPE_*` codes (cls_rbd_types.h `SnapshotNamespaceType`).
pub mod namespace_type {
    /// A user's snapshot.
    pub const USER: u32 = 0;
    /// A group snapshot's member.
    pub const GROUP: u32 = 1;
    /// A removed snapshot kept while clones depend on it.
    pub const TRASH: u32 = 2;
    /// A mirroring snapshot.
    pub const MIRROR: u32 = 3;
}

/// `cls::rbd::SnapshotNamespace`: which kind of snapshot it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotNamespace {
    /// `UserSnapshotNamespace` (no fields).
    User,
    /// `GroupSnapshotNamespace`.
    Group {
        /// The group's pool.
        pool: i64,
        /// The group's id.
        group_id: String,
        /// The group snapshot's id.
        group_snapshot_id: String,
    },
    /// `TrashSnapshotNamespace`: a removed snapshot that clones still use.
    Trash {
        /// Its name before it was trashed.
        original_name: String,
        /// Its namespace type before it was trashed.
        original_type: u32,
    },
    /// A mirror snapshot or an unknown type, fields kept undecoded.
    Other {
        /// The type code.
        kind: u32,
        /// The fields.
        payload: Bytes,
    },
}

impl SnapshotNamespace {
    /// The type code.
    pub fn kind(&self) -> u32 {
        match self {
            SnapshotNamespace::User => namespace_type::USER,
            SnapshotNamespace::Group { .. } => namespace_type::GROUP,
            SnapshotNamespace::Trash { .. } => namespace_type::TRASH,
            SnapshotNamespace::Other { kind, .. } => *kind,
        }
    }

    /// The name `rbd snap ls --all` shows ("user", "group", "trash", "mirror", "Unknown").
    pub fn type_name(&self) -> &'static str {
        match self.kind() {
            namespace_type::USER => "user",
            namespace_type::GROUP => "group",
            namespace_type::TRASH => "trash",
            namespace_type::MIRROR => "mirror",
            _ => "Unknown",
        }
    }
}

impl Encode for SnapshotNamespace {
    // cls_rbd_types.cc SnapshotNamespace::encode: ENCODE_START(1, 1), u32 type, fields
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put_u32(self.kind());
            match self {
                SnapshotNamespace::User => {}
                SnapshotNamespace::Group {
                    pool,
                    group_id,
                    group_snapshot_id,
                } => {
                    w.put_i64(*pool);
                    w.put(group_id);
                    w.put(group_snapshot_id);
                }
                SnapshotNamespace::Trash {
                    original_name,
                    original_type,
                } => {
                    w.put(original_name);
                    w.put_u32(*original_type);
                }
                SnapshotNamespace::Other { payload, .. } => w.put_bytes(payload),
            }
        });
    }
}

impl Decode for SnapshotNamespace {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::SnapshotNamespace", 1, |_, r| {
            Ok(match r.u32()? {
                namespace_type::USER => SnapshotNamespace::User,
                namespace_type::GROUP => SnapshotNamespace::Group {
                    pool: r.i64()?,
                    group_id: r.decode()?,
                    group_snapshot_id: r.decode()?,
                },
                namespace_type::TRASH => SnapshotNamespace::Trash {
                    original_name: r.decode()?,
                    original_type: r.u32()?,
                },
                kind => SnapshotNamespace::Other {
                    kind,
                    payload: Bytes::copy_from_slice(r.rest()),
                },
            })
        })
    }
}

/// `cls::rbd::SnapshotInfo`: what `snapshot_get` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub id: u64,
    /// Its namespace.
    pub namespace: SnapshotNamespace,
    /// Its name.
    pub name: String,
    /// The image size when it was taken.
    pub image_size: u64,
    /// When it was taken (set by the OSD's class).
    pub timestamp: UTime,
    /// Clone-v2 children attached to it.
    pub child_count: u32,
}

impl Encode for SnapshotInfo {
    // cls_rbd_types.cc SnapshotInfo::encode: ENCODE_START(1, 1)
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put_u64(self.id);
            w.put(&self.namespace);
            w.put(&self.name);
            w.put_u64(self.image_size);
            w.put(&self.timestamp);
            w.put_u32(self.child_count);
        });
    }
}

impl Decode for SnapshotInfo {
    const MIN_LEN: usize = 6 + 8 + 10 + 4 + 8 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::SnapshotInfo", 1, |_, r| {
            Ok(SnapshotInfo {
                id: r.u64()?,
                namespace: r.decode()?,
                name: r.decode()?,
                image_size: r.u64()?,
                timestamp: r.decode()?,
                child_count: r.u32()?,
            })
        })
    }
}

// ---- inputs ----

/// `snapshot_add`: name, id, namespace (ESTALE when `id` is below the header's
/// `snap_seq`, EEXIST for a taken name, EDQUOT past the limit).
pub fn snapshot_add(id: u64, name: &str, namespace: &SnapshotNamespace) -> Result<Method> {
    Method::new("snapshot_add", |w| {
        w.put(name);
        w.put_u64(id);
        w.put(namespace);
    })
}

/// `snapshot_remove`.
pub fn snapshot_remove(id: u64) -> Result<Method> {
    Method::new("snapshot_remove", |w| w.put_u64(id))
}

/// `snapshot_rename`: snapshot `id` gets name `dst`.
pub fn snapshot_rename(id: u64, dst: &str) -> Result<Method> {
    Method::new("snapshot_rename", |w| {
        w.put_u64(id);
        w.put(dst);
    })
}

/// `snapshot_trash_add`: moves the snapshot to the trash namespace (EEXIST if there).
pub fn snapshot_trash_add(id: u64) -> Result<Method> {
    Method::new("snapshot_trash_add", |w| w.put_u64(id))
}

/// `snapshot_get`.
pub fn snapshot_get(id: u64) -> Result<Method> {
    Method::new("snapshot_get", |w| w.put_u64(id))
}

/// `get_protection_status`.
pub fn get_protection_status(id: u64) -> Result<Method> {
    Method::new("get_protection_status", |w| w.put_u64(id))
}

/// `set_protection_status`.
pub fn set_protection_status(id: u64, status: u8) -> Result<Method> {
    Method::new("set_protection_status", |w| {
        w.put_u64(id);
        w.put_u8(status);
    })
}

/// `snapshot_get_limit`.
pub fn snapshot_get_limit() -> Result<Method> {
    Method::new("snapshot_get_limit", |_| {})
}

/// `snapshot_set_limit` (`u64::MAX` removes the limit).
pub fn snapshot_set_limit(limit: u64) -> Result<Method> {
    Method::new("snapshot_set_limit", |w| w.put_u64(limit))
}

/// `object_map_snap_add` (on the head's map): EXISTS objects become EXISTS_CLEAN.
pub fn object_map_snap_add() -> Result<Method> {
    Method::new("object_map_snap_add", |_| {})
}

/// `object_map_snap_remove` (on the next newer map): folds the removed snapshot's
/// map into it (objects dirty in the removed one stay dirty). Sent without CRCs.
pub fn object_map_snap_remove(removed: &BitVector2) -> Result<Method> {
    let mut copy = removed.clone();
    copy.crc = false;
    Method::new("object_map_snap_remove", |w| w.put(&copy))
}

// ---- replies ----

/// `snapshot_get`.
pub fn decode_snapshot_info(data: &[u8]) -> Result<SnapshotInfo> {
    decode_reply("snapshot_get", data, |r| r.decode())
}

/// `get_protection_status`.
pub fn decode_protection_status(data: &[u8]) -> Result<u8> {
    decode_reply("get_protection_status", data, |r| r.u8())
}

/// `snapshot_get_limit`.
pub fn decode_limit(data: &[u8]) -> Result<u64> {
    decode_reply("snapshot_get_limit", data, |r| r.u64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::testing::{assert_truncations_fail, check_corpus};

    #[test]
    fn namespace_corpus() {
        let all = check_corpus::<SnapshotNamespace>("cls::rbd::SnapshotNamespace", 0);
        assert!(all.len() >= 8, "{} samples", all.len());
        let kinds: std::collections::BTreeSet<u32> = all.iter().map(|(_, n)| n.kind()).collect();
        assert!(kinds.is_superset(&[0, 1, 2, 3].into()), "{kinds:?}");
        for (s, _) in &all {
            assert_truncations_fail::<SnapshotNamespace>(&s.bytes, &s.path);
        }
    }

    #[test]
    fn info_corpus() {
        let all = check_corpus::<SnapshotInfo>("cls::rbd::SnapshotInfo", 0);
        assert!(all.len() >= 4, "{} samples", all.len());
        for (s, _) in &all {
            assert_truncations_fail::<SnapshotInfo>(&s.bytes, &s.path);
        }
    }

    #[test]
    fn inputs() {
        let m = snapshot_add(5, "s1", &SnapshotNamespace::User).unwrap();
        let mut want = 2u32.to_le_bytes().to_vec();
        want.extend_from_slice(b"s1");
        want.extend_from_slice(&5u64.to_le_bytes());
        want.extend_from_slice(&[1, 1, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(m.input, want);
        let p = set_protection_status(9, protection::PROTECTED).unwrap();
        assert_eq!(p.input, [9, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert!(decode_protection_status(&[2, 0]).is_err());
        assert_eq!(decode_limit(&7u64.to_le_bytes()).unwrap(), 7);
    }
}
