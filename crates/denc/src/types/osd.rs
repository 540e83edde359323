//! `eversion_t` and `osd_reqid_t` (src/osd/osd_types.h).

use std::fmt;

use crate::{Decode, Encode, Reader, Result, Writer};

use super::EntityName;

/// An object or PG log version, `eversion_t`: the map epoch and a version counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EVersion {
    /// Version counter.
    pub version: u64,
    /// OSD map epoch.
    pub epoch: u32,
}

impl fmt::Display for EVersion {
    /// `epoch'version`, as Ceph prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'{}", self.epoch, self.version)
    }
}

impl Decode for EVersion {
    const MIN_LEN: usize = 12;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(EVersion {
            version: r.u64()?,
            epoch: r.u32()?,
        })
    }
}

impl Encode for EVersion {
    fn encode(&self, w: &mut Writer) {
        w.put_u64(self.version);
        w.put_u32(self.epoch);
    }
}

/// A request id, `osd_reqid_t`: the client, its transaction id and incarnation. OSDs use it
/// to recognise a resent request they already applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsdReqId {
    /// The client.
    pub name: EntityName,
    /// Transaction id.
    pub tid: u64,
    /// Client incarnation.
    pub inc: i32,
}

impl fmt::Display for OsdReqId {
    /// `client.4123.0:77`, as Ceph prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}:{}", self.name, self.inc, self.tid)
    }
}

impl Decode for OsdReqId {
    const MIN_LEN: usize = 6 + 9 + 8 + 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.versioned("osd_reqid_t", 2, |_, r| {
            Ok(OsdReqId {
                name: r.decode()?,
                tid: r.u64()?,
                inc: r.i32()?,
            })
        })
    }
}

impl Encode for OsdReqId {
    fn encode(&self, w: &mut Writer) {
        w.versioned(2, 2, |w| {
            w.put(&self.name);
            w.put_u64(self.tid);
            w.put_i32(self.inc);
        });
    }
}
