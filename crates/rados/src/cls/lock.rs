//! The `lock` object class: advisory locks on objects (src/cls/lock/cls_lock_ops.h,
//! cls_lock_types.h; methods `lock`, `unlock`, `break_lock`, `get_info`, `list_locks`,
//! `assert_locked`, `set_cookie`), as `rados lock` and RBD's exclusive lock use it.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use denc::{Decode, Encode, EntityAddr, EntityName, Reader, UTime, Writer};

use crate::error::Result;
use crate::ioctx::IoCtx;

/// `ClsLockType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockType {
    /// No lock (`get_info` of an unlocked name).
    #[default]
    None,
    /// One holder.
    Exclusive,
    /// Many holders.
    Shared,
    /// Exclusive, and the object is removed when it is unlocked.
    ExclusiveEphemeral,
}

impl LockType {
    fn code(self) -> u8 {
        match self {
            LockType::None => 0,
            LockType::Exclusive => 1,
            LockType::Shared => 2,
            LockType::ExclusiveEphemeral => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => LockType::None,
            1 => LockType::Exclusive,
            2 => LockType::Shared,
            3 => LockType::ExclusiveEphemeral,
            _ => return None,
        })
    }

    /// The name `rados lock info` prints (`exclusive`, `shared`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LockType::None => "none",
            LockType::Exclusive => "exclusive",
            LockType::Shared => "shared",
            LockType::ExclusiveEphemeral => "exclusive-ephemeral",
        }
    }
}

fn lock_type(r: &mut Reader<'_>) -> denc::Result<LockType> {
    let c = r.u8()?;
    LockType::from_code(c).ok_or_else(|| r.invalid("ClsLockType", u64::from(c)))
}

/// `LOCK_FLAG_MAY_RENEW`: renew a lock we already hold.
pub const FLAG_MAY_RENEW: u8 = 0x1;
/// `LOCK_FLAG_MUST_RENEW`: fail unless we already hold it.
pub const FLAG_MUST_RENEW: u8 = 0x2;

/// `cls_lock_lock_op`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockOp {
    /// Lock name.
    pub name: String,
    /// Lock type.
    pub lock_type: LockType,
    /// Our cookie (tells our holders apart).
    pub cookie: String,
    /// Tag (shared locks: all holders must use the same).
    pub tag: String,
    /// Free text.
    pub description: String,
    /// Expires after this long (zero: never).
    pub duration: UTime,
    /// `FLAG_*`.
    pub flags: u8,
}

impl Encode for LockOp {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.name);
            w.put_u8(self.lock_type.code());
            w.put(&self.cookie);
            w.put(&self.tag);
            w.put(&self.description);
            w.put(&self.duration);
            w.put_u8(self.flags);
        });
    }
}

impl Decode for LockOp {
    const MIN_LEN: usize = 6 + 4 + 1 + 4 + 4 + 4 + 8 + 1;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_lock_op", 1, |_, r| {
            Ok(LockOp {
                name: r.decode()?,
                lock_type: lock_type(r)?,
                cookie: r.decode()?,
                tag: r.decode()?,
                description: r.decode()?,
                duration: r.decode()?,
                flags: r.u8()?,
            })
        })
    }
}

/// `cls_lock_unlock_op`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnlockOp {
    /// Lock name.
    pub name: String,
    /// The holder's cookie.
    pub cookie: String,
}

impl Encode for UnlockOp {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.name);
            w.put(&self.cookie);
        });
    }
}

impl Decode for UnlockOp {
    const MIN_LEN: usize = 6 + 8;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_unlock_op", 1, |_, r| {
            Ok(UnlockOp {
                name: r.decode()?,
                cookie: r.decode()?,
            })
        })
    }
}

/// `cls_lock_break_op`: removes another client's hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BreakOp {
    /// Lock name.
    pub name: String,
    /// The holder (`client.4123`).
    pub locker: EntityName,
    /// The holder's cookie.
    pub cookie: String,
}

impl Encode for BreakOp {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.name);
            w.put(&self.locker);
            w.put(&self.cookie);
        });
    }
}

impl Decode for BreakOp {
    const MIN_LEN: usize = 6 + 4 + 9 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_break_op", 1, |_, r| {
            Ok(BreakOp {
                name: r.decode()?,
                locker: r.decode()?,
                cookie: r.decode()?,
            })
        })
    }
}

/// `cls_lock_get_info_op`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetInfoOp {
    /// Lock name.
    pub name: String,
}

impl Encode for GetInfoOp {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| w.put(&self.name));
    }
}

impl Decode for GetInfoOp {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_get_info_op", 1, |_, r| {
            Ok(GetInfoOp { name: r.decode()? })
        })
    }
}

/// `rados::cls::lock::locker_id_t`: a holder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct LockerId {
    /// The holder's entity (`client.4123`).
    pub locker: EntityName,
    /// The holder's cookie.
    pub cookie: String,
}

impl Encode for LockerId {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.locker);
            w.put(&self.cookie);
        });
    }
}

impl Decode for LockerId {
    const MIN_LEN: usize = 6 + 9 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned_legacy("locker_id_t", 1, 1, 1, |_, r| {
            Ok(LockerId {
                locker: r.decode()?,
                cookie: r.decode()?,
            })
        })
    }
}

/// `rados::cls::lock::locker_info_t`: a hold's details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockerInfo {
    /// When the hold expires (zero: never).
    pub expiration: UTime,
    /// The holder's address.
    pub addr: EntityAddr,
    /// Free text.
    pub description: String,
}

impl Encode for LockerInfo {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.expiration);
            w.put(&self.addr);
            w.put(&self.description);
        });
    }
}

impl Decode for LockerInfo {
    const MIN_LEN: usize = 6 + 8 + 1 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned_legacy("locker_info_t", 1, 1, 1, |_, r| {
            Ok(LockerInfo {
                expiration: r.decode()?,
                addr: r.decode()?,
                description: r.decode()?,
            })
        })
    }
}

/// `cls_lock_get_info_reply`: a lock's holders, type and tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockInfo {
    /// Holders.
    pub lockers: BTreeMap<LockerId, LockerInfo>,
    /// The lock's type.
    pub lock_type: LockType,
    /// The lock's tag.
    pub tag: String,
}

impl Encode for LockInfo {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            w.put(&self.lockers);
            w.put_u8(self.lock_type.code());
            w.put(&self.tag);
        });
    }
}

impl Decode for LockInfo {
    const MIN_LEN: usize = 6 + 4 + 1 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_get_info_reply", 1, |_, r| {
            Ok(LockInfo {
                lockers: r.decode()?,
                lock_type: lock_type(r)?,
                tag: r.decode()?,
            })
        })
    }
}

/// `cls_lock_list_locks_reply`: the names of an object's locks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockList(pub Vec<String>);

impl Encode for LockList {
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| {
            let set: std::collections::BTreeSet<&String> = self.0.iter().collect();
            w.put_len(set.len());
            for s in set {
                w.put(s);
            }
        });
    }
}

impl Decode for LockList {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls_lock_list_locks_reply", 1, |_, r| {
            let set: std::collections::BTreeSet<String> = r.decode()?;
            Ok(LockList(set.into_iter().collect()))
        })
    }
}

fn encode<T: Encode>(v: &T) -> Vec<u8> {
    let mut w = Writer::with_features(denc::features::ALL);
    v.encode(&mut w);
    w.finish().unwrap_or_default()
}

fn seconds(d: Option<Duration>) -> UTime {
    d.map(|d| {
        UTime::new(
            u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
            d.subsec_nanos(),
        )
    })
    .unwrap_or_default()
}

impl IoCtx {
    /// Takes (or with [`FLAG_MAY_RENEW`] renews) lock `name` on `oid` (`rados lock get`);
    /// EBUSY if someone else holds it, EEXIST if we do already.
    #[allow(clippy::too_many_arguments)]
    pub async fn lock(
        &self,
        oid: &str,
        name: &str,
        lock_type: LockType,
        cookie: &str,
        tag: &str,
        description: &str,
        duration: Option<Duration>,
        flags: u8,
    ) -> Result<()> {
        let op = LockOp {
            name: name.into(),
            lock_type,
            cookie: cookie.into(),
            tag: tag.into(),
            description: description.into(),
            duration: seconds(duration),
            flags,
        };
        self.op(oid)
            .exec("lock", "lock", &encode(&op))
            .submit()
            .await
            .map(|_| ())
    }

    /// Releases our hold of lock `name` (ENOENT if we do not hold it).
    pub async fn unlock(&self, oid: &str, name: &str, cookie: &str) -> Result<()> {
        let op = UnlockOp {
            name: name.into(),
            cookie: cookie.into(),
        };
        self.op(oid)
            .exec("lock", "unlock", &encode(&op))
            .submit()
            .await
            .map(|_| ())
    }

    /// Removes `locker`'s hold of lock `name`.
    pub async fn break_lock(
        &self,
        oid: &str,
        name: &str,
        locker: EntityName,
        cookie: &str,
    ) -> Result<()> {
        let op = BreakOp {
            name: name.into(),
            locker,
            cookie: cookie.into(),
        };
        self.op(oid)
            .exec("lock", "break_lock", &encode(&op))
            .submit()
            .await
            .map(|_| ())
    }

    /// Lock `name`'s holders, type and tag.
    pub async fn lock_info(&self, oid: &str, name: &str) -> Result<LockInfo> {
        let out = self
            .exec(
                oid,
                "lock",
                "get_info",
                &encode(&GetInfoOp { name: name.into() }),
            )
            .await?;
        Ok(denc::decode_exact::<LockInfo>(&out).or_else(|_| {
            // newer OSDs may append fields: decode the prefix we know
            let mut r = Reader::new(&out);
            r.decode::<LockInfo>()
        })?)
    }

    /// The names of `oid`'s locks.
    pub async fn list_locks(&self, oid: &str) -> Result<Vec<String>> {
        let out: Bytes = self.exec(oid, "lock", "list_locks", &[]).await?;
        let mut r = Reader::new(&out);
        Ok(r.decode::<LockList>()?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::features::ALL;

    #[test]
    fn corpus() {
        let locks = denc::testing::check_corpus::<LockOp>("cls_lock_lock_op", ALL);
        assert!(
            locks
                .iter()
                .any(|(_, l)| l.lock_type == LockType::Exclusive)
        );
        denc::testing::check_corpus::<UnlockOp>("cls_lock_unlock_op", ALL);
        denc::testing::check_corpus::<BreakOp>("cls_lock_break_op", ALL);
        denc::testing::check_corpus::<GetInfoOp>("cls_lock_get_info_op", ALL);
        let infos = denc::testing::check_corpus::<LockInfo>("cls_lock_get_info_reply", ALL);
        assert!(infos.iter().any(|(_, i)| !i.lockers.is_empty()));
        denc::testing::check_corpus::<LockList>("cls_lock_list_locks_reply", ALL);
    }
}
