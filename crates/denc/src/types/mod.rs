//! Ceph's common client-side types.

mod addr;
mod entity;
mod object;
mod osd;
mod pg;
mod snap;
mod time;
mod uuid;

pub use addr::{AddrType, EntityAddr, EntityAddrVec, EntityInst, ParseAddrError};
pub use entity::{AuthName, EntityName, EntityType, ParseNameError};
pub use object::{HObject, ObjectLocator, SnapId};
pub use osd::{EVersion, OsdReqId};
pub use pg::PgId;
pub use snap::SnapContext;
pub use time::UTime;
pub use uuid::{ParseUuidError, Uuid};
