//! The `rbd` class's group methods (src/cls/rbd/cls_rbd.cc `group_dir_*`, `group_image_*`,
//! `image_group_*`, `group_snap_*`; inputs as cls_rbd_client.cc encodes them) and the
//! types they carry (src/cls/rbd/cls_rbd_types.cc `GroupImageSpec`, `GroupImageStatus`,
//! `GroupSpec`, `ImageSnapshotSpec`, `GroupSnapshot`).
//!
//! The group directory (`rbd_group_directory`) keeps `name_<name>` / `id_<id>` keys like
//! the image directory, so `dir_get_id` / `dir_get_name` ([`crate::cls::rbd`]) read it.

use std::collections::BTreeMap;

use denc::{Decode, Encode, Reader, Writer};

use super::{Method, decode_reply};
use crate::error::Result;

/// `cls::rbd::GroupImageLinkState`: how far an image's membership got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupImageState {
    /// Linked both ways (0).
    Attached,
    /// Being added or removed: the image side may or may not point at the group (1).
    Incomplete,
    /// A value this client does not know.
    Other(u8),
}

impl GroupImageState {
    /// The code on the wire (and `group_image_state_t`).
    pub fn code(self) -> u8 {
        match self {
            GroupImageState::Attached => 0,
            GroupImageState::Incomplete => 1,
            GroupImageState::Other(c) => c,
        }
    }

    /// The state of code `c`.
    pub fn from_code(c: u8) -> GroupImageState {
        match c {
            0 => GroupImageState::Attached,
            1 => GroupImageState::Incomplete,
            c => GroupImageState::Other(c),
        }
    }
}

/// `cls::rbd::GroupSnapshotState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSnapState {
    /// Being taken (or a failed attempt) (0).
    Incomplete,
    /// Every member's snapshot was taken (1).
    Complete,
    /// A value this client does not know.
    Other(u8),
}

impl GroupSnapState {
    /// The code on the wire (and `group_snap_state_t`).
    pub fn code(self) -> u8 {
        match self {
            GroupSnapState::Incomplete => 0,
            GroupSnapState::Complete => 1,
            GroupSnapState::Other(c) => c,
        }
    }

    /// The state of code `c`.
    pub fn from_code(c: u8) -> GroupSnapState {
        match c {
            0 => GroupSnapState::Incomplete,
            1 => GroupSnapState::Complete,
            c => GroupSnapState::Other(c),
        }
    }
}

/// `cls::rbd::GroupImageSpec`: a member image (its key in the group header is
/// `image_<pool as 16 hex digits>_<id>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupImageSpec {
    /// The image id.
    pub image_id: String,
    /// The image's pool.
    pub pool_id: i64,
}

impl Encode for GroupImageSpec {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.image_id);
            w.put_i64(self.pool_id);
        });
    }
}

impl Decode for GroupImageSpec {
    const MIN_LEN: usize = 6 + 4 + 8;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::GroupImageSpec", 1, |_, r| {
            Ok(GroupImageSpec {
                image_id: r.decode()?,
                pool_id: r.i64()?,
            })
        })
    }
}

/// `cls::rbd::GroupImageStatus`: a member and its link state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupImageStatus {
    /// The image.
    pub spec: GroupImageSpec,
    /// Its link state.
    pub state: GroupImageState,
}

impl Encode for GroupImageStatus {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.spec);
            w.put_u8(self.state.code());
        });
    }
}

impl Decode for GroupImageStatus {
    const MIN_LEN: usize = 6 + GroupImageSpec::MIN_LEN + 1;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::GroupImageStatus", 1, |_, r| {
            Ok(GroupImageStatus {
                spec: r.decode()?,
                state: GroupImageState::from_code(r.u8()?),
            })
        })
    }
}

/// `cls::rbd::GroupSpec`: the group an image belongs to (`rbd_group_ref` in its header;
/// pool -1 and an empty id when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group's pool (`RBD_GROUP_INVALID_POOL`, -1, when none).
    pub pool_id: i64,
    /// The group's id.
    pub group_id: String,
}

impl GroupSpec {
    /// Names a group (`GroupSpec::is_valid`).
    pub fn is_valid(&self) -> bool {
        !self.group_id.is_empty() && self.pool_id != -1
    }
}

impl Encode for GroupSpec {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put_i64(self.pool_id);
            w.put(&self.group_id);
        });
    }
}

impl Decode for GroupSpec {
    const MIN_LEN: usize = 6 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::GroupSpec", 1, |_, r| {
            Ok(GroupSpec {
                pool_id: r.i64()?,
                group_id: r.decode()?,
            })
        })
    }
}

/// `cls::rbd::ImageSnapshotSpec`: one member's snapshot of a group snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSnapshotSpec {
    /// The image's pool.
    pub pool: i64,
    /// The image id.
    pub image_id: String,
    /// The image's snapshot id (`CEPH_NOSNAP`... 0 until taken).
    pub snap_id: u64,
}

impl Encode for ImageSnapshotSpec {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put_i64(self.pool);
            w.put(&self.image_id);
            w.put_u64(self.snap_id);
        });
    }
}

impl Decode for ImageSnapshotSpec {
    const MIN_LEN: usize = 6 + 8 + 4 + 8;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::ImageSnapshotSpec", 1, |_, r| {
            Ok(ImageSnapshotSpec {
                pool: r.i64()?,
                image_id: r.decode()?,
                snap_id: r.u64()?,
            })
        })
    }
}

/// `cls::rbd::GroupSnapshot`: a group snapshot record (`snapshot_<id>` in the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: GroupSnapState,
    /// The members' snapshots.
    pub snaps: Vec<ImageSnapshotSpec>,
}

impl Encode for GroupSnapshot {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.id);
            w.put(&self.name);
            w.put_u8(self.state.code());
            w.put(&self.snaps);
        });
    }
}

impl Decode for GroupSnapshot {
    const MIN_LEN: usize = 6 + 4 + 4 + 1 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::GroupSnapshot", 1, |_, r| {
            Ok(GroupSnapshot {
                id: r.decode()?,
                name: r.decode()?,
                state: GroupSnapState::from_code(r.u8()?),
                snaps: r.decode()?,
            })
        })
    }
}

// ---- inputs ----

/// `group_dir_list`: up to `max` groups after name `start_after`.
pub fn group_dir_list(start_after: &str, max: u64) -> Result<Method> {
    Method::new("group_dir_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

/// `group_dir_add` (EEXIST for a taken name or id; creates the directory).
pub fn group_dir_add(name: &str, id: &str) -> Result<Method> {
    Method::new("group_dir_add", |w| {
        w.put(name);
        w.put(id);
    })
}

/// `group_dir_rename`.
pub fn group_dir_rename(src: &str, dest: &str, id: &str) -> Result<Method> {
    Method::new("group_dir_rename", |w| {
        w.put(src);
        w.put(dest);
        w.put(id);
    })
}

/// `group_dir_remove`.
pub fn group_dir_remove(name: &str, id: &str) -> Result<Method> {
    Method::new("group_dir_remove", |w| {
        w.put(name);
        w.put(id);
    })
}

/// `group_image_set`: adds or updates a member's entry in the group header.
pub fn group_image_set(status: &GroupImageStatus) -> Result<Method> {
    Method::new("group_image_set", |w| w.put(status))
}

/// `group_image_remove`.
pub fn group_image_remove(spec: &GroupImageSpec) -> Result<Method> {
    Method::new("group_image_remove", |w| w.put(spec))
}

/// `group_image_list`: up to `max` members after `start_after` (an empty spec with pool
/// -1 starts at the beginning).
pub fn group_image_list(start_after: &GroupImageSpec, max: u64) -> Result<Method> {
    Method::new("group_image_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

/// `image_group_add` on an image header (EEXIST when in another group).
pub fn image_group_add(spec: &GroupSpec) -> Result<Method> {
    Method::new("image_group_add", |w| w.put(spec))
}

/// `image_group_remove` on an image header (EBADF when in another group).
pub fn image_group_remove(spec: &GroupSpec) -> Result<Method> {
    Method::new("image_group_remove", |w| w.put(spec))
}

/// `image_group_get` on an image header.
pub fn image_group_get() -> Result<Method> {
    Method::new("image_group_get", |_| {})
}

/// `group_snap_set`: writes a record (EEXIST for a new INCOMPLETE one whose id or name
/// is taken).
pub fn group_snap_set(snap: &GroupSnapshot) -> Result<Method> {
    Method::new("group_snap_set", |w| w.put(snap))
}

/// `group_snap_remove`.
pub fn group_snap_remove(id: &str) -> Result<Method> {
    Method::new("group_snap_remove", |w| w.put(id))
}

/// `group_snap_get_by_id`.
pub fn group_snap_get_by_id(id: &str) -> Result<Method> {
    Method::new("group_snap_get_by_id", |w| w.put(id))
}

/// `group_snap_list`: up to `max` records after `start_after` (ordered by id).
pub fn group_snap_list(start_after: &GroupSnapshot, max: u64) -> Result<Method> {
    Method::new("group_snap_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

// ---- replies ----

/// `group_dir_list`: name -> id.
pub fn decode_group_dir_list(data: &[u8]) -> Result<BTreeMap<String, String>> {
    decode_reply("group_dir_list", data, |r| r.decode())
}

/// `group_image_list`.
pub fn decode_group_image_list(data: &[u8]) -> Result<Vec<GroupImageStatus>> {
    decode_reply("group_image_list", data, |r| r.decode())
}

/// `image_group_get`.
pub fn decode_image_group_get(data: &[u8]) -> Result<GroupSpec> {
    decode_reply("image_group_get", data, |r| r.decode())
}

/// `group_snap_get_by_id`.
pub fn decode_group_snap(data: &[u8]) -> Result<GroupSnapshot> {
    decode_reply("group_snap_get_by_id", data, |r| r.decode())
}

/// `group_snap_list`.
pub fn decode_group_snap_list(data: &[u8]) -> Result<Vec<GroupSnapshot>> {
    decode_reply("group_snap_list", data, |r| r.decode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::testing::{assert_truncations_fail, check_corpus};

    #[test]
    fn corpus() {
        let specs = check_corpus::<GroupImageSpec>("cls::rbd::GroupImageSpec", 0);
        assert!(!specs.is_empty());
        for (s, _) in &specs {
            assert_truncations_fail::<GroupImageSpec>(&s.bytes, &s.path);
        }
        let groups = check_corpus::<GroupSpec>("cls::rbd::GroupSpec", 0);
        assert!(!groups.is_empty());
        for (s, _) in &groups {
            assert_truncations_fail::<GroupSpec>(&s.bytes, &s.path);
        }
        let snaps = check_corpus::<GroupSnapshot>("cls::rbd::GroupSnapshot", 0);
        assert!(!snaps.is_empty());
        for (s, _) in &snaps {
            assert_truncations_fail::<GroupSnapshot>(&s.bytes, &s.path);
        }
    }

    /// `rbd group snap create capg@cs` with member `cap1` on Pacific 16.2.15: the omap
    /// value of `snapshot_<id>` in the group header (what `group_snap_list` lists).
    const PACIFIC_SNAP: &str = "0101410000000c000000313163303662386234353637020000006373\
                                010100000001012000000001000000000000000c00000031316238\
                                32346639376538643200000000000000";

    #[test]
    fn pacific_group_snapshot() {
        let hex: String = PACIFIC_SNAP.split_whitespace().collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let snap = decode_group_snap(&bytes).unwrap();
        assert_eq!(snap.id, "11c06b8b4567");
        assert_eq!(snap.name, "cs");
        assert_eq!(snap.state, GroupSnapState::Complete);
        assert_eq!(
            snap.snaps,
            vec![ImageSnapshotSpec {
                pool: 1,
                image_id: "11b824f97e8d".into(),
                snap_id: 0x32,
            }]
        );
        assert_eq!(denc::encode_to_vec(&snap).unwrap(), bytes);
        assert_truncations_fail::<GroupSnapshot>(&bytes, std::path::Path::new("pacific"));
    }

    #[test]
    fn round_trips() {
        let snap = GroupSnapshot {
            id: "1a2b".into(),
            name: "gs".into(),
            state: GroupSnapState::Complete,
            snaps: vec![ImageSnapshotSpec {
                pool: 3,
                image_id: "abc".into(),
                snap_id: 7,
            }],
        };
        let bytes = denc::encode_to_vec(&snap).unwrap();
        assert_eq!(decode_group_snap(&bytes).unwrap(), snap);
        assert_truncations_fail::<GroupSnapshot>(&bytes, std::path::Path::new("snap"));
        let st = GroupImageStatus {
            spec: GroupImageSpec {
                image_id: "abc".into(),
                pool_id: 2,
            },
            state: GroupImageState::Incomplete,
        };
        let list = denc::encode_to_vec(&vec![st.clone()]).unwrap();
        assert_eq!(decode_group_image_list(&list).unwrap(), vec![st]);
        assert!(decode_group_image_list(&[0xff, 0xff, 0xff, 0x7f]).is_err());
        let none = GroupSpec {
            pool_id: -1,
            group_id: String::new(),
        };
        assert!(!none.is_valid());
        let b = denc::encode_to_vec(&none).unwrap();
        assert_eq!(
            b,
            [
                1, 1, 12, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0
            ]
        );
        assert_eq!(decode_image_group_get(&b).unwrap(), none);
    }
}
