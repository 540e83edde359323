//! What a `PGNLS` op carries and returns: the listing position (`hobject_t`, the cookie
//! the client sends and the handle the OSD answers with) and the answer itself,
//! `pg_nls_response_t` (src/osd/osd_types.h `pg_nls_response_template`, entries as
//! librados's `ListObjectImpl`: namespace, name, locator key).
//!
//! Names are kept as raw bytes: RADOS object names need not be UTF-8, and one odd name
//! must neither stop a listing nor shift its position.

use std::cmp::Ordering;

use denc::{Decode, Encode, Reader, SnapId, Writer};

/// A position in a pool's object order: an `hobject_t` with its names as bytes. The
/// minimum starts a listing; the maximum is its end.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListPosition {
    /// Locator key (empty when the name is hashed).
    pub key: Vec<u8>,
    /// Object name.
    pub oid: Vec<u8>,
    /// Snapshot.
    pub snap: SnapId,
    /// The 32-bit placement hash.
    pub hash: u32,
    /// The maximum position (after every object).
    pub max: bool,
    /// Namespace.
    pub nspace: Vec<u8>,
    /// Pool id (`i64::MIN` in the minimum).
    pub pool: i64,
}

impl Default for ListPosition {
    /// The minimum (`hobject_t()`), where a listing starts.
    fn default() -> Self {
        ListPosition {
            key: Vec::new(),
            oid: Vec::new(),
            snap: SnapId(0),
            hash: 0,
            max: false,
            nspace: Vec::new(),
            pool: i64::MIN,
        }
    }
}

impl ListPosition {
    /// The minimum position.
    pub fn min() -> Self {
        ListPosition::default()
    }

    /// The maximum position (`hobject_t::get_max()`).
    pub fn max() -> Self {
        ListPosition {
            max: true,
            ..ListPosition::default()
        }
    }

    /// True for the minimum.
    pub fn is_min(&self) -> bool {
        *self == ListPosition::min()
    }

    /// The hash in the order objects sort in (bit-reversed; the maximum past all).
    fn bitwise_key(&self) -> u64 {
        if self.max {
            0x1_0000_0000
        } else {
            u64::from(self.hash.reverse_bits())
        }
    }

    fn effective_key(&self) -> &[u8] {
        if self.key.is_empty() {
            &self.oid
        } else {
            &self.key
        }
    }
}

// src/common/hobject.cc cmp(const hobject_t&, const hobject_t&): max last, then pool, the
// bit-reversed hash, namespace, effective key (when either has a key), name, snap
impl Ord for ListPosition {
    fn cmp(&self, r: &Self) -> Ordering {
        let l = self;
        l.max
            .cmp(&r.max)
            .then(l.pool.cmp(&r.pool))
            .then(l.bitwise_key().cmp(&r.bitwise_key()))
            .then_with(|| l.nspace.cmp(&r.nspace))
            .then_with(|| {
                if l.key.is_empty() && r.key.is_empty() {
                    Ordering::Equal
                } else {
                    l.effective_key().cmp(r.effective_key())
                }
            })
            .then_with(|| l.oid.cmp(&r.oid))
            .then(l.snap.cmp(&r.snap))
    }
}

impl PartialOrd for ListPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// src/common/hobject.cc hobject_t::decode: DECODE_START_LEGACY_COMPAT_LEN(4, 3, 3)
impl Decode for ListPosition {
    const MIN_LEN: usize = 1 + 4 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned_legacy("hobject_t", 4, 3, 3, |v, r| {
            let mut h = ListPosition::default();
            if v >= 1 {
                h.key = r.length_prefixed()?.to_vec();
            }
            h.oid = r.length_prefixed()?.to_vec();
            h.snap = r.decode()?;
            h.hash = r.u32()?;
            if v >= 2 {
                h.max = r.bool()?;
            }
            if v >= 4 {
                h.nspace = r.length_prefixed()?.to_vec();
                h.pool = r.i64()?;
                // Hammer encoded the minimum with pool -1
                if h.pool == -1 && h.snap.0 == 0 && h.hash == 0 && !h.max && h.oid.is_empty() {
                    h.pool = i64::MIN;
                }
            }
            // the maximum has one form, whatever else came with it
            if h.max {
                h = ListPosition::max();
            }
            Ok(h)
        })
    }
}

// src/common/hobject.cc hobject_t::encode: ENCODE_START(4, 3)
impl Encode for ListPosition {
    fn encode(&self, w: &mut Writer) {
        w.versioned(4, 3, |w| {
            w.put_length_prefixed(&self.key);
            w.put_length_prefixed(&self.oid);
            w.put(&self.snap);
            w.put_u32(self.hash);
            w.put_bool(self.max);
            w.put_length_prefixed(&self.nspace);
            w.put_i64(self.pool);
        });
    }
}

/// One listed object (librados `ListObjectImpl`), names as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ListEntry {
    /// Namespace ("" = the default one).
    pub nspace: Vec<u8>,
    /// Object name.
    pub oid: Vec<u8>,
    /// Locator key ("" when the name is hashed).
    pub locator: Vec<u8>,
}

/// `pg_nls_response_t`: up to the asked-for number of objects of one PG from the cookie
/// on, and where to continue (an object of this PG, the start of the next PG in object
/// order, or the maximum after the pool's last PG).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgNlsResponse {
    /// Where to continue.
    pub handle: ListPosition,
    /// The objects, in object order.
    pub entries: Vec<ListEntry>,
}

/// The least an entry takes on the wire: three empty strings.
const ENTRY_MIN_LEN: usize = 3 * 4;

impl Decode for PgNlsResponse {
    const MIN_LEN: usize = 6 + ListPosition::MIN_LEN + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("pg_nls_response_t", 1, |_, r| {
            let handle = r.decode()?;
            let n = r.count(ENTRY_MIN_LEN)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push(ListEntry {
                    nspace: r.length_prefixed()?.to_vec(),
                    oid: r.length_prefixed()?.to_vec(),
                    locator: r.length_prefixed()?.to_vec(),
                });
            }
            Ok(PgNlsResponse { handle, entries })
        })
    }
}

impl Encode for PgNlsResponse {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.handle);
            w.put_len(self.entries.len());
            for e in &self.entries {
                w.put_length_prefixed(&e.nspace);
                w.put_length_prefixed(&e.oid);
                w.put_length_prefixed(&e.locator);
            }
        });
    }
}

impl PgNlsResponse {
    /// Decodes a PGNLS op's out-data as `Objecter::_nlist_reply` does: the response, then,
    /// if anything follows, the legacy `extra_info` bufferlist (ignored).
    pub fn decode_outdata(data: &[u8]) -> denc::Result<Self> {
        let mut r = Reader::new(data);
        let response = r.decode()?;
        if !r.is_empty() {
            let _legacy_extra_info = r.length_prefixed()?;
        }
        Ok(response)
    }
}

/// A PGNLS request's in-data: the cookie to list from (`ObjectOperation::add_pgls`).
pub fn pgnls_indata(cookie: &ListPosition) -> Result<Vec<u8>, denc::EncodeError> {
    let mut w = Writer::new();
    w.put(cookie);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use denc::HObject;

    fn pos(hash: u32, oid: &str) -> ListPosition {
        ListPosition {
            oid: oid.as_bytes().to_vec(),
            snap: SnapId::NOSNAP,
            hash,
            pool: 3,
            ..ListPosition::default()
        }
    }

    #[test]
    fn positions_encode_like_hobject_t() {
        // the same bytes denc's (UTF-8) hobject_t makes, for min, max and an object
        let obj = HObject {
            key: "k".into(),
            oid: "name".into(),
            snap: SnapId::NOSNAP,
            hash: 0xdead_beef,
            max: false,
            nspace: "ns".into(),
            pool: 3,
        };
        let ours = ListPosition {
            key: b"k".to_vec(),
            oid: b"name".to_vec(),
            snap: SnapId::NOSNAP,
            hash: 0xdead_beef,
            max: false,
            nspace: b"ns".to_vec(),
            pool: 3,
        };
        for (h, p) in [
            (HObject::default(), ListPosition::min()),
            (HObject::max(), ListPosition::max()),
            (obj, ours),
        ] {
            let wire = denc::encode_to_vec(&h).unwrap();
            assert_eq!(denc::encode_to_vec(&p).unwrap(), wire);
            assert_eq!(denc::decode_exact::<ListPosition>(&wire).unwrap(), p);
            denc::testing::assert_truncations_fail::<ListPosition>(&wire, Path::new("position"));
        }
    }

    #[test]
    fn corpus_responses_and_hobjects() {
        // real pg_nls_response_t samples of four releases: decode, re-encode identically
        let all = denc::testing::check_corpus::<PgNlsResponse>("pg_nls_response_t", 0);
        assert!(all.iter().any(|(_, r)| r.entries.len() > 1));
        assert!(
            all.iter()
                .any(|(_, r)| r.entries.iter().any(|e| !e.nspace.is_empty()))
        );
        // every real hobject_t decodes as a position and re-encodes as denc's type does
        let samples = denc::testing::check_corpus::<ListPosition>("hobject_t", 0);
        for (s, p) in &samples {
            let h: HObject = denc::decode_exact(&s.bytes).unwrap();
            assert_eq!(p.oid, h.oid.as_bytes(), "{}", s.path.display());
            assert_eq!((p.hash, p.max, p.pool), (h.hash, h.max, h.pool));
        }
    }

    #[test]
    fn non_utf8_names_survive() {
        let p = ListPosition {
            oid: vec![0xff, 0xfe, b'x'],
            ..pos(7, "")
        };
        let wire = denc::encode_to_vec(&p).unwrap();
        assert!(denc::decode_exact::<HObject>(&wire).is_err());
        assert_eq!(denc::decode_exact::<ListPosition>(&wire).unwrap(), p);
    }

    #[test]
    fn order_matches_the_osds() {
        // same order as target.rs's cmp_hobject over the String form
        let all = [
            ListPosition::min(),
            pos(0x8000_0000, "a"),
            pos(1, "a"),
            pos(5, "a"),
            pos(5, "b"),
            ListPosition {
                key: b"a".to_vec(),
                ..pos(5, "z")
            },
            ListPosition {
                nspace: b"n".to_vec(),
                ..pos(5, "a")
            },
            ListPosition {
                pool: 4,
                ..pos(0, "a")
            },
            ListPosition::max(),
        ];
        let as_h = |p: &ListPosition| HObject {
            key: String::from_utf8(p.key.clone()).unwrap(),
            oid: String::from_utf8(p.oid.clone()).unwrap(),
            snap: p.snap,
            hash: p.hash,
            max: p.max,
            nspace: String::from_utf8(p.nspace.clone()).unwrap(),
            pool: p.pool,
        };
        for a in &all {
            for b in &all {
                assert_eq!(
                    a.cmp(b),
                    crate::osd::target::cmp_hobject(&as_h(a), &as_h(b)),
                    "{a:?} {b:?}"
                );
            }
        }
        assert!(pos(0x8000_0000, "a") < pos(1, "a"));
        assert!(ListPosition::min() < pos(0, ""));
    }

    #[test]
    fn responses_round_trip_and_refuse_truncation() {
        let r = PgNlsResponse {
            handle: pos(0x1234, "next"),
            entries: vec![
                ListEntry {
                    nspace: Vec::new(),
                    oid: b"one".to_vec(),
                    locator: Vec::new(),
                },
                ListEntry {
                    nspace: b"ns".to_vec(),
                    oid: b"two".to_vec(),
                    locator: b"key".to_vec(),
                },
            ],
        };
        let wire = denc::encode_to_vec(&r).unwrap();
        // envelope v1 compat 1, then the handle's own envelope
        assert_eq!(&wire[..2], &[1, 1]);
        assert_eq!(&wire[6..8], &[4, 3]);
        assert_eq!(PgNlsResponse::decode_outdata(&wire).unwrap(), r);
        denc::testing::assert_truncations_fail::<PgNlsResponse>(&wire, Path::new("response"));
        // a legacy extra_info bufferlist may follow; a torn one is an error
        let mut with_extra = wire.clone();
        with_extra.extend_from_slice(&[2, 0, 0, 0, 9, 9]);
        assert_eq!(PgNlsResponse::decode_outdata(&with_extra).unwrap(), r);
        with_extra.pop();
        assert!(PgNlsResponse::decode_outdata(&with_extra).is_err());
        // a count larger than the bytes is refused before allocating
        let mut huge = denc::encode_to_vec(&PgNlsResponse::default()).unwrap();
        let n = huge.len();
        huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PgNlsResponse::decode_outdata(&huge).is_err());
        assert!(PgNlsResponse::decode_outdata(&[]).is_err());
    }
}
