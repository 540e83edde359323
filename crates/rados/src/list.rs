//! Listing a pool's objects: [`IoCtx::list_objects`] (the handle's namespace) and
//! [`IoCtx::list_all_objects`] (every namespace) give an [`ObjectLister`] that walks
//! every PG of the pool page by page with PGNLS ops, as librados's `nobjects_begin` does,
//! and a [`ListCursor`] to resume from later, from any client.
//!
//! ```no_run
//! # async fn f(io: rados::IoCtx) -> Result<(), rados::Error> {
//! let mut lister = io.list_objects().page_size(100);
//! if let Some(page) = lister.next_page().await? {
//!     for e in &page {
//!         println!("{} (namespace {:?}, locator {:?})", e.oid, e.nspace, e.locator);
//!     }
//! }
//! // later, maybe in another process: carry on where the first page ended
//! let saved = lister.cursor().to_string();
//! let cursor: rados::ListCursor = saved.parse()?;
//! let rest = io.list_objects().start_at(cursor).collect_all().await?;
//! # Ok(()) }
//! ```
//!
//! What Ceph guarantees, and so this lister: objects that exist for the whole listing are
//! listed exactly once, in the OSDs' object order, also when `pg_num` changes between pages
//! (a position in that order outlives PG splits and merges); objects created or removed
//! meanwhile may or may not appear.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use denc::{ObjectLocator, PgId, SnapContext, SnapId, UTime};

use crate::errno::Errno;
use crate::error::{Error, Result};
use crate::ioctx::IoCtx;
use crate::messages::osd_types::{RawOsdOp, flag, opcode};
use crate::messages::pg_nls::pgnls_indata;
use crate::messages::{ListEntry, ListPosition, PgNlsResponse};
use crate::osd::OpRequest;
use crate::osd::listing::{DEFAULT_PAGE_SIZE, ListState, NextRequest};
use crate::osd::target::Target;

/// The namespace that stands for "every namespace" in a listing (librados
/// `LIBRADOS_ALL_NSPACES`, "\x01"): an [`IoCtx`] set to it lists all namespaces. It goes
/// to the OSD as the op's namespace.
pub const ALL_NAMESPACES: &str = "\u{1}";

/// `CEPH_OSDMAP_SORTBITWISE` (src/include/rados.h): PGs are ranges of the object order.
const SORTBITWISE: u32 = 1 << 15;

/// An object found by a listing (librados `ListObjectImpl`). Names that are not UTF-8
/// (RADOS allows any bytes) are given with U+FFFD for the odd bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectEntry {
    /// The namespace ("" = the default one).
    pub nspace: String,
    /// The object name.
    pub oid: String,
    /// The locator key ("" when the object is placed by its name).
    pub locator: String,
}

impl ObjectEntry {
    pub(crate) fn from_raw(e: ListEntry) -> Self {
        let text = |b: Vec<u8>| {
            String::from_utf8(b).unwrap_or_else(|e| {
                tracing::debug!("listing: a name that is not UTF-8");
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            })
        };
        ObjectEntry {
            nspace: text(e.nspace),
            oid: text(e.oid),
            locator: text(e.locator),
        }
    }
}

/// A position in a pool's object order, where a listing stands (after the entries handed
/// out so far). Taken with [`ObjectLister::cursor`], given back with
/// [`ObjectLister::start_at`] — to the same lister, a new one, or one of another client.
///
/// Its stable forms are Ceph's own `hobject_t` encoding ([`ListCursor::to_bytes`]) and
/// that as lower-case hex ([`Display`](fmt::Display) / [`FromStr`]). Cursors compare in
/// object order. The PG a cursor falls in is not part of it: that is worked out from its
/// hash when the listing resumes, with the `pg_num` of that moment.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ListCursor(ListPosition);

impl ListCursor {
    /// The start of a pool (the default).
    pub fn start() -> Self {
        ListCursor(ListPosition::min())
    }

    /// The end of a pool: a listing from here returns nothing.
    pub fn end() -> Self {
        ListCursor(ListPosition::max())
    }

    /// True at the start.
    pub fn is_start(&self) -> bool {
        self.0.is_min()
    }

    /// True at the end (the listing is complete).
    pub fn is_end(&self) -> bool {
        self.0.max
    }

    /// The 32-bit placement hash of the position (librados `get_pg_hash_position`): the
    /// PG it falls in is this hash folded into the pool's `pg_num`.
    pub fn hash_position(&self) -> u32 {
        self.0.hash
    }

    /// The position itself (`hobject_t`).
    pub fn position(&self) -> &ListPosition {
        &self.0
    }

    /// The `hobject_t` encoding (ENCODE_START(4, 3)).
    pub fn to_bytes(&self) -> Vec<u8> {
        // names came from the wire or were made here: their lengths fit u32
        denc::encode_to_vec(&self.0).unwrap_or_default()
    }

    /// A cursor from [`ListCursor::to_bytes`]'s form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(ListCursor(denc::decode_exact(bytes)?))
    }
}

impl From<ListPosition> for ListCursor {
    fn from(p: ListPosition) -> Self {
        ListCursor(p)
    }
}

impl fmt::Display for ListCursor {
    /// Lower-case hex of [`ListCursor::to_bytes`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        if p.max {
            return f.write_str("ListCursor(end)");
        }
        if p.is_min() {
            return f.write_str("ListCursor(start)");
        }
        write!(
            f,
            "ListCursor(pool {} hash {:08x} ns {:?} key {:?} oid {:?} snap {})",
            p.pool,
            p.hash,
            String::from_utf8_lossy(&p.nspace),
            String::from_utf8_lossy(&p.key),
            String::from_utf8_lossy(&p.oid),
            p.snap
        )
    }
}

impl FromStr for ListCursor {
    type Err = Error;

    /// Parses [`Display`](fmt::Display)'s hex form.
    fn from_str(s: &str) -> Result<Self> {
        let bad = Error::InvalidArgument("a listing cursor is an even number of hex digits");
        let digits = s.trim().as_bytes();
        if digits.len() % 2 != 0 {
            return Err(bad);
        }
        let nibble = |c: u8| char::from(c).to_digit(16);
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks_exact(2) {
            let (Some(hi), Some(lo)) = (
                pair.first().copied().and_then(nibble),
                pair.get(1).copied().and_then(nibble),
            ) else {
                return Err(bad);
            };
            // two hex digits make a byte
            bytes.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
        }
        ListCursor::from_bytes(&bytes)
    }
}

/// A listing of a pool in progress (built by [`IoCtx::list_objects`] or
/// [`IoCtx::list_all_objects`]): [`ObjectLister::next_page`] until it returns `None`.
///
/// Each page takes one PGNLS op per PG visited (empty PGs are walked past within one
/// call); every op is bounded by the handle's timeout. Dropping a `next_page` future
/// loses nothing: the entries already fetched come with the next call, and the cursor
/// moves only when a page is returned.
#[derive(Debug, Clone)]
pub struct ObjectLister {
    io: IoCtx,
    /// The namespace sent with each op ([`ALL_NAMESPACES`] for all).
    nspace: String,
    state: ListState,
}

impl ObjectLister {
    fn new(io: IoCtx, nspace: String) -> Self {
        let state = ListState::new(io.pool, DEFAULT_PAGE_SIZE, ListPosition::min());
        ObjectLister { io, nspace, state }
    }

    /// Pages of at most `n` entries (at least 1; default 1024). OSDs give at most
    /// `osd_max_pgls` (1024) per op; larger pages take several ops.
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.state.set_page_size(n);
        self
    }

    /// Lists from `cursor` on (dropping what was fetched but not returned). A cursor of
    /// another pool makes the next page fail with [`Error::InvalidArgument`].
    #[must_use]
    pub fn start_at(mut self, cursor: ListCursor) -> Self {
        self.state.seek(cursor.0);
        self
    }

    /// Moves to `cursor` (as [`ObjectLister::start_at`]).
    pub fn seek(&mut self, cursor: ListCursor) {
        self.state.seek(cursor.0);
    }

    /// The namespace listed; `None` for every namespace.
    pub fn namespace(&self) -> Option<&str> {
        (self.nspace != ALL_NAMESPACES).then_some(self.nspace.as_str())
    }

    /// Where the listing stands: after the entries returned so far.
    pub fn cursor(&self) -> ListCursor {
        ListCursor(self.state.cursor().clone())
    }

    /// True once every page was returned.
    pub fn is_done(&self) -> bool {
        self.state.is_done()
    }

    /// The PG the next op goes to, in the current OSD map (`None` at the end, or if the
    /// pool is gone).
    pub fn current_pg(&self) -> Option<PgId> {
        if self.state.is_done() {
            return None;
        }
        let map = self.io.rados.osdmap();
        let pool = map.pool(self.io.pool)?;
        let seed = pool.raw_seed_to_pg_seed(self.state.cursor().hash);
        Some(PgId::new(u64::try_from(self.io.pool).ok()?, seed))
    }

    /// The next page of objects (never empty), or `None` when the pool is done. Errors
    /// leave the position as it was: calling again retries.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ObjectEntry>>> {
        self.state.check_start()?;
        while let Some(req) = self.state.next_request() {
            let response = self.pgnls(&req).await?;
            self.state.handle_response(response)?;
        }
        Ok(self.state.take_page())
    }

    /// Every remaining object.
    pub async fn collect_all(mut self) -> Result<Vec<ObjectEntry>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// Sends one PGNLS (`Objecter::pg_read`: a read aimed at the PG of the position's hash,
    /// overlay ignored, at the head) and decodes its answer.
    async fn pgnls(&self, req: &NextRequest) -> Result<PgNlsResponse> {
        let map = self.io.rados.osdmap();
        if map.epoch > 0 && map.flags & SORTBITWISE == 0 {
            // without it a PG is not one range of the object order (enumerate_objects
            // refuses too)
            return Err(Error::Osd {
                errno: Errno::EOPNOTSUPP,
                failed_op: None,
            });
        }
        let indata = Bytes::from(pgnls_indata(&req.cookie)?);
        let mut op = RawOsdOp::pgls(opcode::PGNLS, req.count, map.epoch);
        op.payload_len = u32::try_from(indata.len())
            .map_err(|_| Error::InvalidArgument("listing cursor too large"))?;
        let oloc = ObjectLocator {
            pool: self.io.pool,
            key: String::new(),
            nspace: self.nspace.clone(),
            hash: -1,
        };
        // librados sends list ops without the PGOP message flag: the OSD knows PG ops by
        // their op code
        let target = Target::for_pg(oloc, req.hash, flag::READ);
        let timeout: Option<Duration> = self.io.op_timeout();
        let reply = self
            .io
            .rados
            .osd()
            .run(
                |reply| OpRequest {
                    target,
                    ops: vec![op],
                    data: indata,
                    data_tail: Vec::new(),
                    snapid: SnapId::NOSNAP,
                    snapc: SnapContext::default(),
                    mtime: UTime::default(),
                    reply: reply.into(),
                },
                0,
                timeout,
            )
            .await?;
        // 1 means "end of this PG"; the handle says the same
        if reply.result < 0 {
            return Err(Error::Osd {
                errno: Errno::from_result(reply.result).unwrap_or(Errno::EIO),
                failed_op: Some(0),
            });
        }
        let out = reply
            .outdata()
            .and_then(|o| o.into_iter().next())
            .ok_or(Error::Protocol("a PGNLS reply without out-data"))?;
        Ok(PgNlsResponse::decode_outdata(&out)?)
    }
}

impl IoCtx {
    /// Lists the objects of this handle's namespace (every namespace if it is
    /// [`ALL_NAMESPACES`]), from the start of the pool.
    pub fn list_objects(&self) -> ObjectLister {
        ObjectLister::new(self.clone(), self.namespace().to_owned())
    }

    /// Lists the objects of every namespace (`rados ls --all`).
    pub fn list_all_objects(&self) -> ObjectLister {
        ObjectLister::new(self.clone(), ALL_NAMESPACES.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_forms_round_trip() {
        let p = ListPosition {
            key: b"k".to_vec(),
            oid: vec![b'o', 0xff],
            snap: SnapId::NOSNAP,
            hash: 0x0102_0304,
            max: false,
            nspace: b"ns".to_vec(),
            pool: 5,
        };
        for c in [ListCursor::start(), ListCursor::end(), ListCursor::from(p)] {
            let text = c.to_string();
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert_eq!(text.parse::<ListCursor>().unwrap(), c);
            assert_eq!(ListCursor::from_bytes(&c.to_bytes()).unwrap(), c);
            assert!(!format!("{c:?}").is_empty());
        }
        assert!(ListCursor::start().is_start() && ListCursor::end().is_end());
        assert!(ListCursor::start() < ListCursor::end());
        // the start is hobject_t(): v4 compat 3, empty names, snap 0, pool INT64_MIN
        assert_eq!(
            ListCursor::start().to_string(),
            "040321000000000000000000000000000000000000000000000000000000000000000000000080"
        );
        for bad in ["0", "zz", "0403", "", "04032100"] {
            assert!(bad.parse::<ListCursor>().is_err(), "{bad:?}");
        }
        let mut trailing = ListCursor::end().to_string();
        trailing.push_str("00");
        assert!(trailing.parse::<ListCursor>().is_err());
    }

    #[test]
    fn odd_names_are_replaced_not_refused() {
        let e = ObjectEntry::from_raw(ListEntry {
            nspace: b"ns".to_vec(),
            oid: vec![b'a', 0xff],
            locator: Vec::new(),
        });
        assert_eq!(e.oid, "a\u{fffd}");
        assert_eq!(e.nspace, "ns");
    }
}
