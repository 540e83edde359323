//! Object identity: `snapid_t`, `object_locator_t` (src/osd/osd_types.h, .cc) and `hobject_t`
//! (src/common/hobject.h, .cc).

use std::fmt;

use crate::{Decode, DecodeErrorKind, Encode, Reader, Result, Writer};

/// A snapshot id, `snapid_t`. Two values are special: [`SnapId::NOSNAP`] (the live "head"
/// object) and [`SnapId::SNAPDIR`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapId(pub u64);

impl SnapId {
    /// `CEPH_NOSNAP`: the head (writable) version of an object.
    pub const NOSNAP: SnapId = SnapId(u64::MAX - 1);
    /// `CEPH_SNAPDIR`: the snapshot directory pseudo-object.
    pub const SNAPDIR: SnapId = SnapId(u64::MAX);

    /// True for the head.
    pub fn is_head(self) -> bool {
        self == SnapId::NOSNAP
    }
}

impl fmt::Display for SnapId {
    /// `head`, `snapdir` or the hex id, as Ceph prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SnapId::NOSNAP => f.write_str("head"),
            SnapId::SNAPDIR => f.write_str("snapdir"),
            SnapId(n) => write!(f, "{n:x}"),
        }
    }
}

impl fmt::Debug for SnapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Decode for SnapId {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SnapId(r.u64()?))
    }
}

impl Encode for SnapId {
    fn encode(&self, w: &mut Writer) {
        w.put_u64(self.0)
    }
}

/// Where an object lives, `object_locator_t`: pool, namespace, and either a locator key
/// (hashed instead of the object name) or an explicit hash position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocator {
    /// Pool id.
    pub pool: i64,
    /// Locator key: when non-empty, placement hashes this instead of the object name.
    pub key: String,
    /// Namespace within the pool.
    pub nspace: String,
    /// Explicit hash position, or -1 for none. Exclusive with `key`.
    pub hash: i64,
}

impl ObjectLocator {
    /// The locator of an object in `pool`'s default namespace.
    pub fn new(pool: i64) -> Self {
        ObjectLocator {
            pool,
            key: String::new(),
            nspace: String::new(),
            hash: -1,
        }
    }

    /// The same locator in namespace `nspace`.
    #[must_use]
    pub fn in_namespace(mut self, nspace: impl Into<String>) -> Self {
        self.nspace = nspace.into();
        self
    }
}

impl Default for ObjectLocator {
    fn default() -> Self {
        ObjectLocator::new(-1)
    }
}

impl Decode for ObjectLocator {
    const MIN_LEN: usize = 1 + 8 + 4 + 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.versioned_legacy("object_locator_t", 6, 3, 3, |v, r| {
            let pool = if v < 2 {
                let pool = i64::from(r.i32()?);
                r.skip(2)?; // int16 preferred osd
                pool
            } else {
                let pool = r.i64()?;
                r.skip(4)?; // int32 preferred osd, always -1
                pool
            };
            let key: String = r.decode()?;
            let nspace = if v >= 5 { r.decode()? } else { String::new() };
            let hash = if v >= 6 { r.i64()? } else { -1 };
            // Ceph asserts on this; we refuse it
            if hash != -1 && !key.is_empty() {
                return Err(r.error(DecodeErrorKind::Malformed(
                    "object_locator_t has both a key and a hash",
                )));
            }
            Ok(ObjectLocator {
                pool,
                key,
                nspace,
                hash,
            })
        })
    }
}

impl Encode for ObjectLocator {
    fn encode(&self, w: &mut Writer) {
        w.versioned_new_compat(6, |w| {
            w.put_i64(self.pool);
            w.put_i32(-1);
            w.put(&self.key);
            w.put(&self.nspace);
            w.put_i64(self.hash);
            // old decoders cannot interpret a hash position
            if self.hash != -1 { 6 } else { 3 }
        });
    }
}

/// A hashed object id, `hobject_t`: how OSDs name and sort objects (object listings,
/// backoff ranges).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HObject {
    /// Locator key (empty when the name is hashed).
    pub key: String,
    /// Object name.
    pub oid: String,
    /// Snapshot.
    pub snap: SnapId,
    /// Placement hash of the name (or key).
    pub hash: u32,
    /// True for the maximum object, which sorts after all others.
    pub max: bool,
    /// Namespace.
    pub nspace: String,
    /// Pool id; `i64::MIN` in the minimum object.
    pub pool: i64,
}

impl Default for HObject {
    /// The minimum object (`hobject_t()`).
    fn default() -> Self {
        HObject {
            key: String::new(),
            oid: String::new(),
            snap: SnapId(0),
            hash: 0,
            max: false,
            nspace: String::new(),
            pool: i64::MIN,
        }
    }
}

impl HObject {
    /// The maximum object (`hobject_t::get_max()`).
    pub fn max() -> Self {
        HObject {
            max: true,
            ..HObject::default()
        }
    }
}

impl Decode for HObject {
    const MIN_LEN: usize = 1 + 4 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.versioned_legacy("hobject_t", 4, 3, 3, |v, r| {
            let mut h = HObject::default();
            if v >= 1 {
                h.key = r.decode()?;
            }
            h.oid = r.decode()?;
            h.snap = r.decode()?;
            h.hash = r.u32()?;
            if v >= 2 {
                h.max = r.bool()?;
            }
            if v >= 4 {
                h.nspace = r.decode()?;
                h.pool = r.i64()?;
                // Hammer encoded the minimum object with pool -1
                if h.pool == -1 && h.snap.0 == 0 && h.hash == 0 && !h.max && h.oid.is_empty() {
                    h.pool = i64::MIN;
                }
            }
            // The maximum has one canonical form whatever else was encoded. Ceph normalises
            // it only for version 4 encodings (and asserts the canonical form when encoding);
            // we do for every version, so that a decoded value always re-encodes.
            if h.max {
                h = HObject::max();
            }
            Ok(h)
        })
    }
}

impl Encode for HObject {
    fn encode(&self, w: &mut Writer) {
        w.versioned(4, 3, |w| {
            w.put(&self.key);
            w.put(&self.oid);
            w.put(&self.snap);
            w.put_u32(self.hash);
            w.put_bool(self.max);
            w.put(&self.nspace);
            w.put_i64(self.pool);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_exact, encode_to_vec};

    #[test]
    fn locator_compat_depends_on_hash() {
        let plain = ObjectLocator::new(3).in_namespace("ns");
        let wire = encode_to_vec(&plain).unwrap();
        assert_eq!(&wire[..2], &[6, 3]);
        assert_eq!(decode_exact::<ObjectLocator>(&wire).unwrap(), plain);
        let hashed = ObjectLocator {
            hash: 77,
            ..ObjectLocator::new(3)
        };
        assert_eq!(&encode_to_vec(&hashed).unwrap()[..2], &[6, 6]);
    }

    #[test]
    fn locator_with_key_and_hash_is_refused() {
        let mut w = Writer::new();
        w.versioned(6, 3, |w| {
            w.put_i64(1);
            w.put_i32(-1);
            w.put("k");
            w.put("");
            w.put_i64(5);
        });
        let wire = w.finish().unwrap();
        assert!(decode_exact::<ObjectLocator>(&wire).is_err());
    }

    #[test]
    fn decodes_version_1_locator_without_envelope() {
        // struct_v 1: no compat, no length; int32 pool, int16 preferred, key
        let wire = [1, 7, 0, 0, 0, 0xff, 0xff, 1, 0, 0, 0, b'k'];
        let loc = decode_exact::<ObjectLocator>(&wire).unwrap();
        assert_eq!((loc.pool, loc.key.as_str(), loc.hash), (7, "k", -1));
    }

    #[test]
    fn max_object_from_an_old_encoding_is_canonical_too() {
        // found by cargo-fuzz: struct_v 2 (no envelope length), max set, other fields not
        let mut w = Writer::new();
        w.put_u8(2);
        w.put("");
        w.put("");
        w.put_u64(0x01f7_0000_0000_0400);
        w.put_u32(0xcfcf_cf00);
        w.put_bool(true);
        let wire = w.finish().unwrap();
        let h = decode_exact::<HObject>(&wire).unwrap();
        assert_eq!(h, HObject::max());
        assert_eq!(
            decode_exact::<HObject>(&encode_to_vec(&h).unwrap()).unwrap(),
            h
        );
    }

    #[test]
    fn max_object_is_canonical() {
        let mut odd = HObject::max();
        odd.oid = "leftover".into();
        let wire = encode_to_vec(&odd).unwrap();
        assert_eq!(decode_exact::<HObject>(&wire).unwrap(), HObject::max());
    }
}
