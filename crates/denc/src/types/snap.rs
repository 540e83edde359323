//! `SnapContext` (src/common/snap_types.h).

use crate::{Decode, Encode, Reader, Result, Writer};

use super::SnapId;

/// The snapshot context of a write: the newest snapshot sequence number and the existing
/// snapshots, newest first. OSDs use it to preserve data for snapshots (copy-on-write).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SnapContext {
    /// Snapshot sequence number.
    pub seq: SnapId,
    /// Existing snapshots, in descending order.
    pub snaps: Vec<SnapId>,
}

impl SnapContext {
    /// True if the context is well formed as Ceph requires (`SnapContext::is_valid`): `seq`
    /// is at least every snapshot, and snapshots are strictly descending.
    pub fn is_valid(&self) -> bool {
        self.snaps.first().is_none_or(|first| self.seq >= *first)
            && self
                .snaps
                .iter()
                .zip(self.snaps.iter().skip(1))
                .all(|(a, b)| a > b)
    }
}

impl Decode for SnapContext {
    const MIN_LEN: usize = 12;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("SnapContext", |r| {
            Ok(SnapContext {
                seq: r.decode()?,
                snaps: r.decode()?,
            })
        })
    }
}

impl Encode for SnapContext {
    fn encode(&self, w: &mut Writer) {
        w.put(&self.seq);
        w.put(&self.snaps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        let ok = SnapContext {
            seq: SnapId(20),
            snaps: vec![SnapId(18), SnapId(3), SnapId(1)],
        };
        assert!(ok.is_valid());
        let unordered = SnapContext {
            seq: SnapId(20),
            snaps: vec![SnapId(3), SnapId(18)],
        };
        assert!(!unordered.is_valid());
        assert!(SnapContext::default().is_valid());
    }
}
