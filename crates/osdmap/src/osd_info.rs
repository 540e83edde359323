//! Per-OSD records of the OSD-only part of the map: `osd_info_t` and `osd_xinfo_t`
//! (src/osd/OSDMap.h, src/osd/OSDMap.cc).

use denc::features;
use denc::{Decode, Encode, Reader, UTime, Writer};

/// Interval bookkeeping of one OSD, `osd_info_t`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsdInfo {
    /// Start of the last clean interval.
    pub last_clean_begin: u32,
    /// End of the last clean interval.
    pub last_clean_end: u32,
    /// Epoch the OSD last came up.
    pub up_from: u32,
    /// Epoch the OSD's up_thru reached.
    pub up_thru: u32,
    /// Epoch the OSD last went down.
    pub down_at: u32,
    /// Epoch the OSD was declared lost.
    pub lost_at: u32,
}

impl Decode for OsdInfo {
    const MIN_LEN: usize = 25;
    // src/osd/OSDMap.cc osd_info_t::decode: u8 struct_v and six epochs
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.skip(1)?;
        Ok(OsdInfo {
            last_clean_begin: r.u32()?,
            last_clean_end: r.u32()?,
            up_from: r.u32()?,
            up_thru: r.u32()?,
            down_at: r.u32()?,
            lost_at: r.u32()?,
        })
    }
}

impl Encode for OsdInfo {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(1);
        w.put_u32(self.last_clean_begin);
        w.put_u32(self.last_clean_end);
        w.put_u32(self.up_from);
        w.put_u32(self.up_thru);
        w.put_u32(self.down_at);
        w.put_u32(self.lost_at);
    }
}

/// Extended per-OSD information, `osd_xinfo_t`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OsdXInfo {
    /// When the OSD was last marked down.
    pub down_stamp: UTime,
    /// Laggy probability in 0..=1 (Ceph keeps a `float` and encodes it scaled to 2^32).
    pub laggy_probability: f32,
    /// Average laggy interval (seconds).
    pub laggy_interval: u32,
    /// Features the OSD advertised.
    pub features: u64,
    /// Weight before the OSD was automatically marked out.
    pub old_weight: u32,
    /// Last purged-snaps scrub.
    pub last_purged_snaps_scrub: UTime,
    /// Epoch the OSD was marked dead.
    pub dead_epoch: u32,
}

/// `float(0xffffffff)`: Ceph's scale for the laggy probability (rounds to 2^32).
const LAGGY_SCALE: f32 = 4_294_967_296.0;

impl Decode for OsdXInfo {
    const MIN_LEN: usize = 6 + 8 + 4 + 4;
    // src/osd/OSDMap.cc osd_xinfo_t::decode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("osd_xinfo_t", 4, |v, r| {
            let down_stamp = r.decode()?;
            // Ceph divides as float: (float)lp / (float)0xffffffff
            #[allow(clippy::cast_precision_loss)]
            let laggy_probability = r.u32()? as f32 / LAGGY_SCALE;
            let laggy_interval = r.u32()?;
            let features = if v >= 2 { r.u64()? } else { 0 };
            let old_weight = if v >= 3 { r.u32()? } else { 0 };
            let (last_purged_snaps_scrub, dead_epoch) = if v >= 4 {
                (r.decode()?, r.u32()?)
            } else {
                (UTime::default(), 0)
            };
            Ok(OsdXInfo {
                down_stamp,
                laggy_probability,
                laggy_interval,
                features,
                old_weight,
                last_purged_snaps_scrub,
                dead_epoch,
            })
        })
    }
}

impl Encode for OsdXInfo {
    fn encode(&self, w: &mut Writer) {
        let v = if w.has_features(features::SERVER_OCTOPUS) {
            4
        } else {
            3
        };
        w.versioned(v, 1, |w| {
            w.put(&self.down_stamp);
            // `__u32 lp = laggy_probability * float(0xfffffffful)`: converted through a 64-bit
            // integer as x86-64 compilers do, so 2^32 wraps to 0 as it does in Ceph.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let lp = (self.laggy_probability * LAGGY_SCALE) as u64 as u32;
            w.put_u32(lp);
            w.put_u32(self.laggy_interval);
            w.put_u64(self.features);
            w.put_u32(self.old_weight);
            if v >= 4 {
                w.put(&self.last_purged_snaps_scrub);
                w.put_u32(self.dead_epoch);
            }
        });
    }
}
