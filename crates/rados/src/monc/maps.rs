//! Keeping the OSD map current from `MOSDMap` messages (src/osdc/Objecter.cc
//! `handle_osd_map`): incrementals applied in order, full maps taken when they are the next
//! step, `full_crc` checked, and a full map requested when something is missing.

use std::sync::Arc;

use denc::Uuid;
use osdmap::{Incremental, OsdMap};

use crate::messages::MOsdMap;

/// What a `MOSDMap` did to the map.
#[derive(Debug, Default)]
pub(crate) struct MapUpdate {
    /// The map moved to a newer epoch.
    pub(crate) updated: bool,
    /// We could not get to the message's last epoch: ask for a full map (gap, bad crc,
    /// undecodable map).
    pub(crate) need_full: bool,
}

/// The current OSD map.
#[derive(Debug, Default)]
pub(crate) struct OsdMapTracker {
    current: Option<Arc<OsdMap>>,
}

impl OsdMapTracker {
    /// The current map, if any arrived yet.
    pub(crate) fn current(&self) -> Option<&Arc<OsdMap>> {
        self.current.as_ref()
    }

    /// The current epoch (0 without a map).
    pub(crate) fn epoch(&self) -> u32 {
        self.current.as_ref().map_or(0, |m| m.epoch)
    }

    /// Consumes a `MOSDMap` of cluster `fsid` (if known; maps of another cluster are
    /// ignored).
    pub(crate) fn handle(&mut self, m: &MOsdMap, fsid: Option<Uuid>) -> MapUpdate {
        let mut update = MapUpdate::default();
        if fsid.is_some_and(|f| !f.is_nil() && f != m.fsid) {
            tracing::warn!(fsid = %m.fsid, "ignoring an OSD map of another cluster");
            return update;
        }
        let last = m.last();
        let have = self.epoch();
        if last == 0 || (have != 0 && last <= have) {
            tracing::debug!(last, have, "ignoring old OSD maps");
            return update;
        }
        let mut map: Option<OsdMap> = None;
        if have == 0 {
            // the first map must be a full one: the newest full map carried, then any
            // incrementals after it
            let Some((&e, bytes)) = m.maps.iter().next_back() else {
                tracing::debug!("no full OSD map yet; requesting one");
                update.need_full = true;
                return update;
            };
            match OsdMap::from_bytes(bytes) {
                Ok(full) if full.epoch == e => map = Some(full),
                Ok(full) => {
                    tracing::warn!(
                        key = e,
                        epoch = full.epoch,
                        "full OSD map under the wrong epoch"
                    );
                    update.need_full = true;
                    return update;
                }
                Err(error) => {
                    tracing::warn!(%error, epoch = e, "cannot decode a full OSD map");
                    update.need_full = true;
                    return update;
                }
            }
        }
        let mut cur = match map {
            Some(m) => m,
            None => match &self.current {
                Some(c) => OsdMap::clone(c),
                None => return update,
            },
        };
        let mut e = cur.epoch.saturating_add(1);
        while e <= last {
            if let Some(bytes) = m.incremental_maps.get(&e) {
                if let Err(why) = apply(&mut cur, bytes) {
                    tracing::warn!(
                        epoch = e,
                        why,
                        "OSD map incremental refused; requesting a full map"
                    );
                    update.need_full = true;
                    break;
                }
            } else if let Some(bytes) = m.maps.get(&e) {
                match OsdMap::from_bytes(bytes) {
                    Ok(full) if full.epoch == e => cur = full,
                    _ => {
                        tracing::warn!(epoch = e, "bad full OSD map; requesting another");
                        update.need_full = true;
                        break;
                    }
                }
            } else if let Some(&full) = m.maps.range(e..).next_back().map(|(k, _)| k) {
                // a newer full map in the message bridges the gap
                tracing::debug!(epoch = e, full, "jumping to a full map");
                e = full;
                continue;
            } else if e < m.oldest_map {
                // the sender no longer has it: jump to the oldest it keeps
                tracing::debug!(
                    epoch = e,
                    oldest = m.oldest_map,
                    "skipping to the oldest map kept"
                );
                e = m.oldest_map;
                continue;
            } else {
                tracing::debug!(epoch = e, "OSD map epoch missing; requesting a full map");
                update.need_full = true;
                break;
            }
            e = e.saturating_add(1);
        }
        if cur.epoch > have {
            tracing::debug!(from = have, to = cur.epoch, "OSD map updated");
            self.current = Some(Arc::new(cur));
            update.updated = true;
        }
        update
    }
}

/// Applies one encoded incremental, checking the `full_crc` it states.
fn apply(map: &mut OsdMap, bytes: &[u8]) -> Result<(), &'static str> {
    let inc = Incremental::from_bytes(bytes).map_err(|_| "does not decode")?;
    if inc.epoch != map.epoch.saturating_add(1) {
        return Err("not the next epoch");
    }
    let mut next = map.clone();
    next.apply_incremental(&inc).map_err(|_| "does not apply")?;
    if inc.fullmap.is_empty() && next.full_crc_matches(&inc) == Some(false) {
        return Err("full_crc mismatch");
    }
    *map = next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn full_map(epoch: u32) -> OsdMap {
        OsdMap {
            fsid: Uuid([5; 16]),
            epoch,
            ..OsdMap::default()
        }
    }

    fn encode(m: &OsdMap) -> Bytes {
        Bytes::from(m.to_bytes(denc::features::ALL).unwrap())
    }

    /// An incremental from `m` to the next epoch, with a correct full_crc.
    fn next_inc(m: &OsdMap) -> (Bytes, OsdMap) {
        let mut inc = Incremental::new(m.epoch + 1);
        inc.fsid = m.fsid;
        inc.modified = denc::UTime::new(m.epoch + 100, 0);
        let mut next = m.clone();
        next.apply_incremental(&inc).unwrap();
        inc.have_crc = true;
        inc.full_crc = next.canonical_crc();
        inc.encode_features = next.encoding_features();
        (
            Bytes::from(inc.to_bytes(denc::features::ALL).unwrap()),
            next,
        )
    }

    #[test]
    fn first_full_then_incrementals_then_gap() {
        let mut t = OsdMapTracker::default();
        let fsid = Some(Uuid([5; 16]));
        let m1 = full_map(10);
        let mut msg = MOsdMap {
            fsid: Uuid([5; 16]),
            ..MOsdMap::default()
        };
        // incrementals alone cannot start us off
        let (i11, m11) = next_inc(&m1);
        msg.incremental_maps.insert(11, i11.clone());
        let u = t.handle(&msg, fsid);
        assert!(!u.updated && u.need_full);
        // a full map plus the next incremental
        msg.maps.insert(10, encode(&m1));
        let u = t.handle(&msg, fsid);
        assert!(u.updated && !u.need_full);
        assert_eq!(t.epoch(), 11);
        assert_eq!(**t.current().unwrap(), m11);
        // the same message again changes nothing
        let u = t.handle(&msg, fsid);
        assert!(!u.updated && !u.need_full);
        // 12 and 13 in order
        let (i12, m12) = next_inc(&m11);
        let (i13, _) = next_inc(&m12);
        let mut msg2 = MOsdMap {
            fsid: Uuid([5; 16]),
            ..MOsdMap::default()
        };
        msg2.incremental_maps.insert(12, i12);
        msg2.incremental_maps.insert(13, i13);
        assert!(t.handle(&msg2, fsid).updated);
        assert_eq!(t.epoch(), 13);
        // a gap: 15 without 14
        let mut gap = MOsdMap {
            fsid: Uuid([5; 16]),
            ..MOsdMap::default()
        };
        gap.incremental_maps.insert(15, i11);
        let u = t.handle(&gap, fsid);
        assert!(!u.updated && u.need_full);
        assert_eq!(t.epoch(), 13);
        // a full map repairs it
        let mut full = MOsdMap {
            fsid: Uuid([5; 16]),
            ..MOsdMap::default()
        };
        full.maps.insert(20, encode(&full_map(20)));
        assert!(t.handle(&full, fsid).updated);
        assert_eq!(t.epoch(), 20);
        // another cluster's map is ignored
        let mut other = full.clone();
        other.fsid = Uuid([6; 16]);
        other.maps.insert(30, encode(&full_map(30)));
        assert!(!t.handle(&other, fsid).updated);
    }

    #[test]
    fn bad_crc_asks_for_a_full_map() {
        let mut t = OsdMapTracker::default();
        let m1 = full_map(3);
        let mut msg = MOsdMap {
            fsid: m1.fsid,
            ..MOsdMap::default()
        };
        msg.maps.insert(3, encode(&m1));
        assert!(t.handle(&msg, None).updated);
        let mut inc = Incremental::new(4);
        inc.fsid = m1.fsid;
        inc.have_crc = true;
        inc.full_crc = 0xdead_beef;
        let mut bad = MOsdMap {
            fsid: m1.fsid,
            ..MOsdMap::default()
        };
        bad.incremental_maps
            .insert(4, Bytes::from(inc.to_bytes(denc::features::ALL).unwrap()));
        let u = t.handle(&bad, None);
        assert!(!u.updated && u.need_full);
        assert_eq!(t.epoch(), 3);
    }

    #[test]
    fn trimmed_epochs_are_jumped() {
        let mut t = OsdMapTracker::default();
        let mut msg = MOsdMap {
            fsid: Uuid([5; 16]),
            ..MOsdMap::default()
        };
        msg.maps.insert(2, encode(&full_map(2)));
        t.handle(&msg, None);
        // the sender keeps 50.. only and sends full 50 and incremental 51
        let m50 = full_map(50);
        let (i51, _) = next_inc(&m50);
        let mut jump = MOsdMap {
            fsid: Uuid([5; 16]),
            oldest_map: 50,
            newest_map: 51,
            ..MOsdMap::default()
        };
        jump.maps.insert(50, encode(&m50));
        jump.incremental_maps.insert(51, i51);
        let u = t.handle(&jump, None);
        assert!(u.updated && !u.need_full);
        assert_eq!(t.epoch(), 51);
    }
}
