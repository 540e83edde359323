//! `MOSDMap` (src/messages/MOSDMap.h): OSD map incrementals and full maps, as opaque
//! bufferlists keyed by epoch.

use std::collections::BTreeMap;

use bytes::Bytes;
use denc::{Reader, Uuid, Writer};

use super::{MessageCodec, msg_type};

/// `MOSDMap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MOsdMap {
    /// The cluster id.
    pub fsid: Uuid,
    /// Encoded `OSDMap::Incremental`s by epoch.
    pub incremental_maps: BTreeMap<u32, Bytes>,
    /// Encoded full `OSDMap`s by epoch.
    pub maps: BTreeMap<u32, Bytes>,
    /// The sender keeps maps from here on (`cluster_osdmap_trim_lower_bound`, formerly
    /// `oldest_map`; v2+).
    pub oldest_map: u32,
    /// The sender's newest map (v2+).
    pub newest_map: u32,
}

impl MOsdMap {
    /// The lowest epoch carried (0 if none), `get_first`.
    pub fn first(&self) -> u32 {
        let full = self.maps.keys().next().copied();
        let inc = self.incremental_maps.keys().next().copied();
        match (full, inc) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0),
        }
    }

    /// The highest epoch carried (0 if none), `get_last`.
    pub fn last(&self) -> u32 {
        let full = self.maps.keys().next_back().copied();
        let inc = self.incremental_maps.keys().next_back().copied();
        full.max(inc).unwrap_or(0)
    }
}

impl MessageCodec for MOsdMap {
    const TYPE: u16 = msg_type::OSD_MAP;
    const HEAD_VERSION: u16 = 4;
    const NAME: &'static str = "MOSDMap";

    /// Clients never send it; peers with PGID64, PGPOOL3 and OSDENC (everything msgr2
    /// reaches) get v4.
    fn header_for(_: u64) -> (u16, u16) {
        (4, 3)
    }

    fn encode_front(&self, w: &mut Writer, version: u16) {
        w.put(&self.fsid);
        w.put(&self.incremental_maps);
        w.put(&self.maps);
        if version >= 2 {
            w.put_u32(self.oldest_map);
            w.put_u32(self.newest_map);
        }
        if version >= 4 {
            // gap_removed_snaps, always empty since Octopus
            w.put_u32(0);
        }
    }

    fn decode_front(r: &mut Reader<'_>, version: u16) -> denc::Result<Self> {
        let mut m = MOsdMap {
            fsid: r.decode()?,
            incremental_maps: r.decode()?,
            maps: r.decode()?,
            ..MOsdMap::default()
        };
        if version >= 2 {
            m.oldest_map = r.u32()?;
            m.newest_map = r.u32()?;
        }
        if version >= 4 {
            // gap_removed_snaps: map<int64, interval_set<snapid_t>>, unused since Octopus
            let _gap: BTreeMap<i64, BTreeMap<u64, u64>> = r.decode()?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::testutil::{round_trip, truncations_fail};
    use crate::messages::{decode_message, encode_message};

    #[test]
    fn round_trips_with_first_and_last() {
        let mut m = MOsdMap {
            fsid: Uuid([1; 16]),
            oldest_map: 1,
            newest_map: 12,
            ..MOsdMap::default()
        };
        assert_eq!((m.first(), m.last()), (0, 0));
        m.incremental_maps.insert(11, Bytes::from_static(b"inc11"));
        m.incremental_maps.insert(12, Bytes::from_static(b"inc12"));
        m.maps.insert(10, Bytes::from_static(b"full10"));
        assert_eq!((m.first(), m.last()), (10, 12));
        let msg = round_trip(&m, denc::features::ALL);
        assert_eq!((msg.header.version, msg.header.compat_version), (4, 3));
        truncations_fail::<MOsdMap>(&msg, usize::MAX);
    }

    #[test]
    fn reads_gap_removed_snaps_and_refuses_newer_compat() {
        let m = MOsdMap::default();
        let mut msg = encode_message(&m, 0, denc::features::ALL).unwrap();
        // a non-empty gap_removed_snaps (as a pre-Octopus monitor might send)
        let mut front = msg.front[..msg.front.len() - 4].to_vec();
        front.extend_from_slice(&[1, 0, 0, 0]);
        front.extend_from_slice(&3i64.to_le_bytes());
        front.extend_from_slice(&[1, 0, 0, 0]);
        front.extend_from_slice(&5u64.to_le_bytes());
        front.extend_from_slice(&2u64.to_le_bytes());
        msg.front = Bytes::from(front);
        assert_eq!(decode_message::<MOsdMap>(&msg).unwrap(), m);
        msg.header.compat_version = 5;
        assert!(decode_message::<MOsdMap>(&msg).is_err());
    }
}
