//! The `rbd` class methods this client uses: image headers (`create`, sizes, features,
//! striping, flags, timestamps, snap context, metadata), id objects (`get_id`,
//! `set_id`) and the pool directory (`dir_*`). Inputs and outputs mirror
//! src/cls/rbd/cls_rbd.cc and cls_rbd_client.cc.

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{SnapContext, SnapId, UTime};

use super::{Method, decode_reply};
use crate::error::Result;

/// `CEPH_NOSNAP`: the image head.
pub const NOSNAP: u64 = SnapId::NOSNAP.0; // (u64)-2

// ---- inputs ----

/// `create`: a new header (cls_rbd.cc `create`; `data_pool_id` -1 for none).
pub fn create(
    size: u64,
    order: u8,
    features: u64,
    object_prefix: &str,
    data_pool_id: i64,
) -> Result<Method> {
    Method::new("create", |w| {
        w.put_u64(size);
        w.put_u8(order);
        w.put_u64(features);
        w.put(object_prefix);
        w.put_i64(data_pool_id);
    })
}

/// `get_id` (on `rbd_id.<name>`): no input.
pub fn get_id() -> Result<Method> {
    Method::new("get_id", |_| {})
}

/// `set_id` (on a new, empty `rbd_id.<name>`).
pub fn set_id(id: &str) -> Result<Method> {
    Method::new("set_id", |w| w.put(id))
}

/// `dir_add_image` (on `rbd_directory`).
pub fn dir_add_image(name: &str, id: &str) -> Result<Method> {
    Method::new("dir_add_image", |w| {
        w.put(name);
        w.put(id);
    })
}

/// `dir_remove_image`.
pub fn dir_remove_image(name: &str, id: &str) -> Result<Method> {
    Method::new("dir_remove_image", |w| {
        w.put(name);
        w.put(id);
    })
}

/// `dir_rename_image`.
pub fn dir_rename_image(src: &str, dest: &str, id: &str) -> Result<Method> {
    Method::new("dir_rename_image", |w| {
        w.put(src);
        w.put(dest);
        w.put(id);
    })
}

/// `dir_list`: up to `max` images after name `start_after`.
pub fn dir_list(start_after: &str, max: u64) -> Result<Method> {
    Method::new("dir_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

/// `dir_get_id`.
pub fn dir_get_id(name: &str) -> Result<Method> {
    Method::new("dir_get_id", |w| w.put(name))
}

/// `dir_get_name`.
pub fn dir_get_name(id: &str) -> Result<Method> {
    Method::new("dir_get_name", |w| w.put(id))
}

/// `dir_state_assert` (images in a namespace: the namespace must be ready, state 0).
pub fn dir_state_assert_ready() -> Result<Method> {
    Method::new("dir_state_assert", |w| w.put_u8(0))
}

/// `get_size` at `snap`.
pub fn get_size(snap: u64) -> Result<Method> {
    Method::new("get_size", |w| w.put_u64(snap))
}

/// `set_size`.
pub fn set_size(size: u64) -> Result<Method> {
    Method::new("set_size", |w| w.put_u64(size))
}

/// `get_features` at `snap`; `read_only` asks which features block read-only opens.
pub fn get_features(snap: u64, read_only: bool) -> Result<Method> {
    Method::new("get_features", |w| {
        w.put_u64(snap);
        w.put_bool(read_only);
    })
}

/// `set_features`: the bits of `mask` take their values from `features`.
pub fn set_features(features: u64, mask: u64) -> Result<Method> {
    Method::new("set_features", |w| {
        w.put_u64(features);
        w.put_u64(mask);
    })
}

/// `get_object_prefix`.
pub fn get_object_prefix() -> Result<Method> {
    Method::new("get_object_prefix", |_| {})
}

/// `get_data_pool`.
pub fn get_data_pool() -> Result<Method> {
    Method::new("get_data_pool", |_| {})
}

/// `get_stripe_unit_count` (ENOEXEC without the striping feature).
pub fn get_stripe_unit_count() -> Result<Method> {
    Method::new("get_stripe_unit_count", |_| {})
}

/// `set_stripe_unit_count`.
pub fn set_stripe_unit_count(stripe_unit: u64, stripe_count: u64) -> Result<Method> {
    Method::new("set_stripe_unit_count", |w| {
        w.put_u64(stripe_unit);
        w.put_u64(stripe_count);
    })
}

/// `get_flags` at `snap`.
pub fn get_flags(snap: u64) -> Result<Method> {
    Method::new("get_flags", |w| w.put_u64(snap))
}

/// `set_flags` at `snap`: the bits of `mask` take their values from `flags`
/// (cls_rbd_client.cc: flags, mask, then the snapshot id).
pub fn set_flags(snap: u64, flags: u64, mask: u64) -> Result<Method> {
    Method::new("set_flags", |w| {
        w.put_u64(flags);
        w.put_u64(mask);
        w.put_u64(snap);
    })
}

/// `op_features_get`.
pub fn op_features_get() -> Result<Method> {
    Method::new("op_features_get", |_| {})
}

/// `get_create_timestamp`.
pub fn get_create_timestamp() -> Result<Method> {
    Method::new("get_create_timestamp", |_| {})
}

/// `get_modify_timestamp`.
pub fn get_modify_timestamp() -> Result<Method> {
    Method::new("get_modify_timestamp", |_| {})
}

/// `get_access_timestamp`.
pub fn get_access_timestamp() -> Result<Method> {
    Method::new("get_access_timestamp", |_| {})
}

/// `get_snapcontext`.
pub fn get_snapcontext() -> Result<Method> {
    Method::new("get_snapcontext", |_| {})
}

/// `get_parent` at `snap` (the pre-Nautilus spelling every release still answers).
pub fn get_parent(snap: u64) -> Result<Method> {
    Method::new("get_parent", |w| w.put_u64(snap))
}

/// `get_all_features`: the bits the OSD's class knows.
pub fn get_all_features() -> Result<Method> {
    Method::new("get_all_features", |_| {})
}

/// `metadata_get`.
pub fn metadata_get(key: &str) -> Result<Method> {
    Method::new("metadata_get", |w| w.put(key))
}

/// `metadata_set`.
pub fn metadata_set(entries: &BTreeMap<String, Bytes>) -> Result<Method> {
    Method::new("metadata_set", |w| w.put(entries))
}

/// `metadata_remove`.
pub fn metadata_remove(key: &str) -> Result<Method> {
    Method::new("metadata_remove", |w| w.put(key))
}

/// `metadata_list`: up to `max` entries after key `start_after`.
pub fn metadata_list(start_after: &str, max: u64) -> Result<Method> {
    Method::new("metadata_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

// ---- replies ----

/// A string reply (`get_id`, `dir_get_id`, `dir_get_name`, `get_object_prefix`).
pub fn decode_string(method: &'static str, data: &[u8]) -> Result<String> {
    decode_reply(method, data, |r| r.decode())
}

/// A single `u64` reply (`get_flags`, `op_features_get`, `get_all_features`).
pub fn decode_u64(method: &'static str, data: &[u8]) -> Result<u64> {
    decode_reply(method, data, |r| r.u64())
}

/// `get_size`: (order, size).
pub fn decode_size(data: &[u8]) -> Result<(u8, u64)> {
    decode_reply("get_size", data, |r| Ok((r.u8()?, r.u64()?)))
}

/// `get_features`: (features, incompatible features).
pub fn decode_features(data: &[u8]) -> Result<(u64, u64)> {
    decode_reply("get_features", data, |r| Ok((r.u64()?, r.u64()?)))
}

/// `get_data_pool`: the data pool id, -1 for none.
pub fn decode_data_pool(data: &[u8]) -> Result<i64> {
    decode_reply("get_data_pool", data, |r| r.i64())
}

/// `get_stripe_unit_count`: (unit, count).
pub fn decode_stripe_unit_count(data: &[u8]) -> Result<(u64, u64)> {
    decode_reply("get_stripe_unit_count", data, |r| Ok((r.u64()?, r.u64()?)))
}

/// A timestamp reply (`get_*_timestamp`; a header without one answers zero).
pub fn decode_timestamp(method: &'static str, data: &[u8]) -> Result<UTime> {
    decode_reply(method, data, |r| r.decode())
}

/// `get_snapcontext`: `snap_seq` and the snapshot ids, newest first.
pub fn decode_snapcontext(data: &[u8]) -> Result<SnapContext> {
    decode_reply("get_snapcontext", data, |r| {
        let seq = SnapId(r.u64()?);
        let n = r.count(8)?;
        let mut snaps = Vec::with_capacity(n);
        for _ in 0..n {
            snaps.push(SnapId(r.u64()?));
        }
        Ok(SnapContext { seq, snaps })
    })
}

/// What `get_parent` says: the parent's pool (-1: none), image id, snapshot and overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentInfo {
    /// Parent pool, -1 for no parent.
    pub pool_id: i64,
    /// Parent namespace ("" for the default one; `get_parent` cannot say).
    pub pool_namespace: String,
    /// Parent image id.
    pub image_id: String,
    /// Parent snapshot id.
    pub snap_id: u64,
    /// Bytes of the child backed by the parent.
    pub overlap: u64,
}

/// `get_parent`.
pub fn decode_parent(data: &[u8]) -> Result<ParentInfo> {
    decode_reply("get_parent", data, |r| {
        Ok(ParentInfo {
            pool_id: r.i64()?,
            pool_namespace: String::new(),
            image_id: r.decode()?,
            snap_id: r.u64()?,
            overlap: r.u64()?,
        })
    })
}

/// `dir_list`: image name -> id.
pub fn decode_dir_list(data: &[u8]) -> Result<BTreeMap<String, String>> {
    decode_reply("dir_list", data, |r| r.decode())
}

/// `metadata_get`: the value.
pub fn decode_metadata_value(data: &[u8]) -> Result<Bytes> {
    decode_reply("metadata_get", data, |r| r.decode())
}

/// `metadata_list`: key -> value.
pub fn decode_metadata_list(data: &[u8]) -> Result<BTreeMap<String, Bytes>> {
    decode_reply("metadata_list", data, |r| r.decode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_input_layout() {
        let m = create(1 << 30, 22, 1, "rbd_data.abc", -1).unwrap();
        assert_eq!(m.name, "create");
        let mut want = Vec::new();
        want.extend_from_slice(&(1u64 << 30).to_le_bytes());
        want.push(22);
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&12u32.to_le_bytes());
        want.extend_from_slice(b"rbd_data.abc");
        want.extend_from_slice(&(-1i64).to_le_bytes());
        assert_eq!(m.input, want);
    }

    #[test]
    fn replies() {
        let mut b = vec![22u8];
        b.extend_from_slice(&(10u64 << 30).to_le_bytes());
        assert_eq!(decode_size(&b).unwrap(), (22, 10 << 30));
        assert!(decode_size(&b[..5]).is_err());
        b.push(0);
        assert!(decode_size(&b).is_err(), "trailing bytes");

        let mut sc = 7u64.to_le_bytes().to_vec();
        sc.extend_from_slice(&2u32.to_le_bytes());
        sc.extend_from_slice(&6u64.to_le_bytes());
        sc.extend_from_slice(&3u64.to_le_bytes());
        let s = decode_snapcontext(&sc).unwrap();
        assert_eq!(s.seq, SnapId(7));
        assert_eq!(s.snaps, vec![SnapId(6), SnapId(3)]);
        // a count larger than the bytes: refused before allocating
        let mut huge = 7u64.to_le_bytes().to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_snapcontext(&huge).is_err());

        let mut dl = 1u32.to_le_bytes().to_vec();
        for s in ["img", "1234abcd"] {
            dl.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
            dl.extend_from_slice(s.as_bytes());
        }
        let m = decode_dir_list(&dl).unwrap();
        assert_eq!(m.get("img").map(String::as_str), Some("1234abcd"));
    }
}
