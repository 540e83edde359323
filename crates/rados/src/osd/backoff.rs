//! Backoffs an OSD placed on a session (src/osdc/Objecter.cc `handle_osd_backoff`,
//! `_send_op`): ops whose object falls in a blocked range of their PG are held until the
//! OSD lifts the block.

use std::cmp::Ordering;

use denc::HObject;

use super::target::cmp_hobject;
use crate::messages::SpgId;

/// One block: objects `[begin, end)` of PG `pgid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) pgid: SpgId,
    pub(crate) id: u64,
    pub(crate) begin: HObject,
    pub(crate) end: HObject,
}

impl Backoff {
    /// True if `obj` of PG `pgid` is held (`begin <= obj < end`, or `obj == begin`).
    pub(crate) fn covers(&self, pgid: SpgId, obj: &HObject) -> bool {
        if pgid != self.pgid {
            return false;
        }
        match cmp_hobject(obj, &self.begin) {
            Ordering::Equal => true,
            Ordering::Greater => cmp_hobject(obj, &self.end) == Ordering::Less,
            Ordering::Less => false,
        }
    }
}

/// The blocks on one session.
#[derive(Debug, Default)]
pub(crate) struct Backoffs {
    blocks: Vec<Backoff>,
}

impl Backoffs {
    /// Records a BLOCK (a repeated id replaces the old range).
    pub(crate) fn block(&mut self, b: Backoff) {
        self.blocks.retain(|x| x.id != b.id);
        self.blocks.push(b);
    }

    /// Removes the block `id` of `pgid`; returns it if it was there.
    pub(crate) fn unblock(&mut self, pgid: SpgId, id: u64) -> Option<Backoff> {
        let i = self
            .blocks
            .iter()
            .position(|b| b.id == id && b.pgid == pgid)?;
        Some(self.blocks.swap_remove(i))
    }

    /// True if some block holds `obj` of `pgid`.
    pub(crate) fn holds(&self, pgid: SpgId, obj: &HObject) -> bool {
        self.blocks.iter().any(|b| b.covers(pgid, obj))
    }

    /// Forgets every block (the session is gone).
    pub(crate) fn clear(&mut self) {
        self.blocks.clear();
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::{PgId, SnapId};

    fn obj(hash: u32, name: &str) -> HObject {
        HObject {
            oid: name.into(),
            hash,
            pool: 1,
            snap: SnapId::NOSNAP,
            ..HObject::default()
        }
    }

    #[test]
    fn ranges_hold_and_lift() {
        let pg = SpgId::new(PgId::new(1, 0));
        let other = SpgId::new(PgId::new(1, 1));
        let mut b = Backoffs::default();
        b.block(Backoff {
            pgid: pg,
            id: 1,
            begin: obj(0x10, "m"),
            end: obj(0x10, "t"),
        });
        assert!(b.holds(pg, &obj(0x10, "m")));
        assert!(b.holds(pg, &obj(0x10, "p")));
        assert!(!b.holds(pg, &obj(0x10, "t")));
        assert!(!b.holds(pg, &obj(0x10, "a")));
        assert!(!b.holds(other, &obj(0x10, "p")));
        // a whole-PG block: begin .. max
        b.block(Backoff {
            pgid: other,
            id: 2,
            begin: obj(0, ""),
            end: HObject::max(),
        });
        assert!(b.holds(other, &obj(0xffff_ffff, "zzz")));
        assert_eq!(b.len(), 2);
        assert!(b.unblock(pg, 2).is_none());
        assert!(b.unblock(other, 2).is_some());
        assert!(!b.holds(other, &obj(5, "x")));
        b.clear();
        assert!(!b.holds(pg, &obj(0x10, "p")));
    }
}
