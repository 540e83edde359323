//! The `rbd` class methods of layering (clones): the parent link of a child header
//! (`parent_get`, `parent_overlap_get`, `parent_attach`/`parent_detach` and their
//! pre-Nautilus spellings), the child lists (v1: `add_child`/`remove_child`/`get_children`
//! on `rbd_children`; v2: `child_attach`/`child_detach`/`children_list` on the parent's
//! header), `copyup`/`sparse_copyup`, and the few snapshot lookups clones need.
//! Inputs and outputs mirror src/cls/rbd/cls_rbd.cc, cls_rbd_client.cc and
//! cls_rbd_types.cc.

use std::collections::BTreeMap;

use denc::{Reader, Writer};

use super::{Method, decode_reply};
use crate::error::{Error, Result};

/// The pool-wide object listing v1 clones (`RBD_CHILDREN`).
pub const CHILDREN_OBJECT: &str = "rbd_children";

/// `cls::rbd::ParentImageSpec`: which image snapshot a clone reads through to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParentSpec {
    /// The parent's pool (-1: no parent).
    pub pool_id: i64,
    /// The parent's namespace in that pool ("" for the default one).
    pub pool_namespace: String,
    /// The parent image's id.
    pub image_id: String,
    /// The parent snapshot's id.
    pub snap_id: u64,
}

impl ParentSpec {
    /// Whether this names a parent (`pool_id >= 0`).
    pub fn exists(&self) -> bool {
        self.pool_id >= 0
    }
}

// src/cls/rbd/cls_rbd_types.cc ParentImageSpec::encode
fn put_parent_spec(w: &mut Writer, spec: &ParentSpec) {
    w.versioned(1, 1, |w| {
        w.put_i64(spec.pool_id);
        w.put(spec.pool_namespace.as_str());
        w.put(spec.image_id.as_str());
        w.put_u64(spec.snap_id);
    });
}

fn read_parent_spec(r: &mut Reader<'_>) -> denc::Result<ParentSpec> {
    r.versioned("ParentImageSpec", 1, |_, r| {
        Ok(ParentSpec {
            pool_id: r.i64()?,
            pool_namespace: r.decode()?,
            image_id: r.decode()?,
            snap_id: r.u64()?,
        })
    })
}

/// `cls::rbd::ChildImageSpec`: a clone, as a parent snapshot lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildSpec {
    /// The child's pool.
    pub pool_id: i64,
    /// The child's namespace.
    pub pool_namespace: String,
    /// The child image's id.
    pub image_id: String,
}

// src/cls/rbd/cls_rbd_types.cc ChildImageSpec::encode (v2 added the namespace)
fn put_child_spec(w: &mut Writer, spec: &ChildSpec) {
    w.versioned(2, 1, |w| {
        w.put_i64(spec.pool_id);
        w.put(spec.image_id.as_str());
        w.put(spec.pool_namespace.as_str());
    });
}

fn read_child_spec(r: &mut Reader<'_>) -> denc::Result<ChildSpec> {
    r.versioned("ChildImageSpec", 2, |v, r| {
        let pool_id = r.i64()?;
        let image_id = r.decode()?;
        let pool_namespace = if v >= 2 { r.decode()? } else { String::new() };
        Ok(ChildSpec {
            pool_id,
            pool_namespace,
            image_id,
        })
    })
}

// ---- inputs ----

/// `parent_get`: the head's parent spec.
pub fn parent_get() -> Result<Method> {
    Method::new("parent_get", |_| {})
}

/// `parent_overlap_get` at `snap` (NOSNAP: the head).
pub fn parent_overlap_get(snap: u64) -> Result<Method> {
    Method::new("parent_overlap_get", |w| w.put_u64(snap))
}

/// `parent_attach`: links a new clone's header to its parent (`reattach` false).
pub fn parent_attach(spec: &ParentSpec, overlap: u64) -> Result<Method> {
    attach(spec, overlap, false)
}

/// `parent_attach` with `reattach` true: the head's overlap changed in place, the same
/// parent (cls_rbd.cc `image::parent::attach`; a detach first would take the parent
/// from the snapshots of a deep-flatten image).
pub fn parent_reattach(spec: &ParentSpec, overlap: u64) -> Result<Method> {
    attach(spec, overlap, true)
}

fn attach(spec: &ParentSpec, overlap: u64, reattach: bool) -> Result<Method> {
    Method::new("parent_attach", |w| {
        put_parent_spec(w, spec);
        w.put_u64(overlap);
        w.put_bool(reattach);
    })
}

/// `set_parent`: the pre-Nautilus `parent_attach` (no namespaces).
pub fn set_parent(spec: &ParentSpec, overlap: u64) -> Result<Method> {
    Method::new("set_parent", |w| {
        w.put_i64(spec.pool_id);
        w.put(spec.image_id.as_str());
        w.put_u64(spec.snap_id);
        w.put_u64(overlap);
    })
}

/// `parent_detach`: unlinks the head from its parent (flatten).
pub fn parent_detach() -> Result<Method> {
    Method::new("parent_detach", |_| {})
}

/// `remove_parent`: the pre-Nautilus `parent_detach`.
pub fn remove_parent() -> Result<Method> {
    Method::new("remove_parent", |_| {})
}

fn put_v1_parent_key(w: &mut Writer, parent: &ParentSpec) {
    w.put_i64(parent.pool_id);
    w.put(parent.image_id.as_str());
    w.put_u64(parent.snap_id);
}

/// `add_child` (on [`CHILDREN_OBJECT`] in the parent's pool): a v1 clone.
pub fn add_child(parent: &ParentSpec, child_id: &str) -> Result<Method> {
    Method::new("add_child", |w| {
        put_v1_parent_key(w, parent);
        w.put(child_id);
    })
}

/// `remove_child` (on [`CHILDREN_OBJECT`]).
pub fn remove_child(parent: &ParentSpec, child_id: &str) -> Result<Method> {
    Method::new("remove_child", |w| {
        put_v1_parent_key(w, parent);
        w.put(child_id);
    })
}

/// `get_children` (on [`CHILDREN_OBJECT`]): the v1 children's ids.
pub fn get_children(parent: &ParentSpec) -> Result<Method> {
    Method::new("get_children", |w| put_v1_parent_key(w, parent))
}

/// `child_attach` (on the parent's header): a v2 clone of snapshot `snap`.
pub fn child_attach(snap: u64, child: &ChildSpec) -> Result<Method> {
    Method::new("child_attach", |w| {
        w.put_u64(snap);
        put_child_spec(w, child);
    })
}

/// `child_detach` (on the parent's header).
pub fn child_detach(snap: u64, child: &ChildSpec) -> Result<Method> {
    Method::new("child_detach", |w| {
        w.put_u64(snap);
        put_child_spec(w, child);
    })
}

/// `children_list` (on the parent's header): the v2 children of snapshot `snap`
/// (ENOENT when it has none).
pub fn children_list(snap: u64) -> Result<Method> {
    Method::new("children_list", |w| w.put_u64(snap))
}

/// `copyup`: writes `data` at offset 0 unless the object exists.
pub fn copyup(data: &[u8]) -> Result<Method> {
    Method::new("copyup", |w| w.put_bytes(data))
}

/// `sparse_copyup`: writes the `extents` (object offset -> length; their bytes one after
/// another in `data`) unless the object exists; no extents create an empty object.
pub fn sparse_copyup(extents: &BTreeMap<u64, u64>, data: &[u8]) -> Result<Method> {
    Method::new("sparse_copyup", |w| {
        w.put(extents);
        w.put_length_prefixed(data);
    })
}

/// [`sparse_copyup`] without the data's bytes: the input up to and including the data's
/// length, to be followed by the `data_len` bytes themselves (sent from their own buffer,
/// e.g. with `WriteOp::exec_chunks`, so a 4 MiB copyup is not copied to be sent).
pub fn sparse_copyup_head(extents: &BTreeMap<u64, u64>, data_len: usize) -> Result<Method> {
    let len = u32::try_from(data_len)
        .map_err(|_| Error::InvalidArgument("copyup data larger than 4 GiB"))?;
    Method::new("sparse_copyup", |w| {
        w.put(extents);
        w.put_u32(len);
    })
}

/// `op_features_set`: the bits of `mask` take their values from `op_features`.
pub fn op_features_set(op_features: u64, mask: u64) -> Result<Method> {
    Method::new("op_features_set", |w| {
        w.put_u64(op_features);
        w.put_u64(mask);
    })
}

/// `get_snapshot_name` of snapshot `snap`.
pub fn get_snapshot_name(snap: u64) -> Result<Method> {
    Method::new("get_snapshot_name", |w| w.put_u64(snap))
}

/// `get_protection_status` of snapshot `snap`.
pub fn get_protection_status(snap: u64) -> Result<Method> {
    Method::new("get_protection_status", |w| w.put_u64(snap))
}

// ---- replies ----

/// `parent_get`: the spec (pool -1 when the image has no parent).
pub fn decode_parent_spec(data: &[u8]) -> Result<ParentSpec> {
    decode_reply("parent_get", data, read_parent_spec)
}

/// `parent_overlap_get`: the overlap, `None` without a parent.
pub fn decode_parent_overlap(data: &[u8]) -> Result<Option<u64>> {
    decode_reply("parent_overlap_get", data, |r| r.decode())
}

/// `get_children`: the child image ids.
pub fn decode_children_v1(data: &[u8]) -> Result<Vec<String>> {
    decode_reply("get_children", data, |r| {
        let n = r.count(4)?;
        (0..n).map(|_| r.decode()).collect()
    })
}

/// `children_list`: the child specs.
pub fn decode_children(data: &[u8]) -> Result<Vec<ChildSpec>> {
    decode_reply("children_list", data, |r| {
        let n = r.count(6)?;
        (0..n).map(|_| read_child_spec(r)).collect()
    })
}

/// `get_protection_status`: `RBD_PROTECTION_STATUS_*` (0 unprotected, 1 unprotecting,
/// 2 protected).
pub fn decode_protection_status(data: &[u8]) -> Result<u8> {
    decode_reply("get_protection_status", data, |r| r.u8())
}

/// `RBD_PROTECTION_STATUS_PROTECTED`.
pub const PROTECTION_STATUS_PROTECTED: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_copyup_head_and_data_make_the_whole_input() {
        let extents: BTreeMap<u64, u64> = [(0, 3), (4096, 2)].into_iter().collect();
        let data = b"abcde";
        let whole = sparse_copyup(&extents, data).unwrap();
        let head = sparse_copyup_head(&extents, data.len()).unwrap();
        assert_eq!(head.name, whole.name);
        assert_eq!([&head.input[..], &data[..]].concat(), whole.input);
    }

    #[test]
    fn parent_spec_round_trip() {
        let spec = ParentSpec {
            pool_id: 3,
            pool_namespace: "ns".into(),
            image_id: "abc123".into(),
            snap_id: 4,
        };
        let m = parent_attach(&spec, 1 << 20).unwrap();
        let mut r = Reader::new(&m.input);
        assert_eq!(read_parent_spec(&mut r).unwrap(), spec);
        assert_eq!(r.u64().unwrap(), 1 << 20);
        assert!(!r.bool().unwrap());
        r.finish().unwrap();
        // a truncated reply is an error, not a panic
        let mut w = Writer::new();
        put_parent_spec(&mut w, &spec);
        let b = w.finish().unwrap();
        for n in 0..b.len() {
            assert!(decode_parent_spec(&b[..n]).is_err());
        }
        assert_eq!(decode_parent_spec(&b).unwrap(), spec);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Replies captured from a Pacific 16.2.15 OSD (python3-rados `execute`): a parent
    /// with a v1 clone beside it and a v2 clone in namespace `capns`, snapshot id 64.
    #[test]
    fn real_replies() {
        let spec = decode_parent_spec(&unhex(
            "0101240000000100000000000000000000000c0000003134303433333430636430624000000000000000",
        ))
        .unwrap();
        let want = ParentSpec {
            pool_id: 1,
            pool_namespace: String::new(),
            image_id: "14043340cd0b".into(),
            snap_id: 64,
        };
        assert_eq!(spec, want);
        assert_eq!(
            decode_parent_overlap(&unhex("010000800000000000")).unwrap(),
            Some(8 << 20)
        );
        let kids = decode_children(&unhex(
            "0100000002012100000001000000000000000c000000313430613432643933633335050000006361706e73",
        ))
        .unwrap();
        assert_eq!(
            kids,
            vec![ChildSpec {
                pool_id: 1,
                pool_namespace: "capns".into(),
                image_id: "140a42d93c35".into(),
            }]
        );
        assert_eq!(
            decode_children_v1(&unhex("010000000c000000313430636162643136303561")).unwrap(),
            vec!["140cabd1605a".to_owned()]
        );
        assert_eq!(
            decode_protection_status(&[2]).unwrap(),
            PROTECTION_STATUS_PROTECTED
        );
        // what we send for child_attach decodes as the OSD's ChildImageSpec did
        let m = child_attach(64, &kids[0]).unwrap();
        assert_eq!(
            m.input[8..],
            unhex(
                "0100000002012100000001000000000000000c000000313430613432643933633335050000006361706e73",
            )[4..]
        );
    }

    #[test]
    fn children_round_trip() {
        let kids = vec![
            ChildSpec {
                pool_id: 1,
                pool_namespace: String::new(),
                image_id: "a".into(),
            },
            ChildSpec {
                pool_id: 2,
                pool_namespace: "x".into(),
                image_id: "b".into(),
            },
        ];
        let mut w = Writer::new();
        w.put_u32(2);
        for k in &kids {
            put_child_spec(&mut w, k);
        }
        let b = w.finish().unwrap();
        assert_eq!(decode_children(&b).unwrap(), kids);
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(&[0; 16]);
        assert!(decode_children(&huge).is_err());
        assert_eq!(
            decode_parent_overlap(&[1, 5, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
            Some(5)
        );
        assert_eq!(decode_parent_overlap(&[0]).unwrap(), None);
    }
}
