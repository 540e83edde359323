//! Locks on an image as `rbd lock` and librbd's `Image::lock_*` calls see them
//! (src/librbd/internal.cc `list_lockers`, `lock`, `unlock`, `break_lock`,
//! `lock_acquire`, `lock_release`, `lock_get_owners`, `lock_break`), and the header's
//! watchers (librbd/api/Image.cc `list_watchers`).
//!
//! Advisory locks and the exclusive lock are the same `rbd_lock` lock of the `lock` class
//! on the header: advisory ones carry the caller's cookie (and a tag when shared), the
//! exclusive lock the `internal` tag and an `auto <handle>` cookie.

use denc::{EntityName, EntityType};
use rados::cls::lock::LockType;
use tracing::debug;

use crate::error::{Error, Result};
use crate::exclusive_lock::{self, LOCK_NAME, LockOwner, legacy_addr, lock_owner};
use crate::features;
use crate::image::{Image, OpenMode};

/// One holder of the image's lock (`librbd::locker_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockerEntry {
    /// Who holds it: `client.<gid>`.
    pub client: String,
    /// The holder's cookie (the lock id `rbd lock add` was given).
    pub cookie: String,
    /// The holder's address, `ip:port/nonce`.
    pub address: String,
}

/// The image's lock: its holders, and whether it is exclusive (`rbd_list_lockers`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lockers {
    /// Exclusive (false: shared, or nobody holds it).
    pub exclusive: bool,
    /// The tag (shared locks; librbd's own exclusive lock says `internal`).
    pub tag: String,
    /// The holders.
    pub lockers: Vec<LockerEntry>,
}

/// A watcher of the image's header (`rbd_image_watcher_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageWatcher {
    /// The watcher's global id (the N of `client.N`).
    pub id: i64,
    /// Its address, `ip:port/nonce`.
    pub address: String,
    /// Its watch cookie.
    pub cookie: u64,
}

/// The managed lock's modes (`rbd_lock_mode_t`); only exclusive is implemented by librbd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// `RBD_LOCK_MODE_EXCLUSIVE` (0).
    Exclusive,
    /// `RBD_LOCK_MODE_SHARED` (1): refused (EOPNOTSUPP), as librbd does.
    Shared,
}

/// Parses `client.4123` as `entity_name_t::parse` does (types mon, mds, osd, client, mgr).
pub fn parse_entity(s: &str) -> Option<EntityName> {
    let (kind, num) = s.split_once('.')?;
    let entity_type = match kind {
        "mon" => EntityType::MON,
        "mds" => EntityType::MDS,
        "osd" => EntityType::OSD,
        "client" => EntityType::CLIENT,
        "mgr" => EntityType::MGR,
        _ => return None,
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(EntityName {
        entity_type,
        num: num.parse().ok()?,
    })
}

/// The holders of a lock as `list_lockers` reports them.
pub fn lockers_of(info: &rados::cls::lock::LockInfo) -> Lockers {
    if info.lockers.is_empty() {
        return Lockers::default();
    }
    Lockers {
        exclusive: info.lock_type == LockType::Exclusive,
        tag: info.tag.clone(),
        lockers: info
            .lockers
            .iter()
            .map(|(id, holder)| LockerEntry {
                client: id.locker.to_string(),
                cookie: id.cookie.clone(),
                address: legacy_addr(&holder.addr),
            })
            .collect(),
    }
}

impl Image {
    async fn lock_info(&self) -> Result<rados::cls::lock::LockInfo> {
        match self.io.lock_info(&self.header_object(), LOCK_NAME).await {
            Ok(i) => Ok(i),
            // never locked
            Err(e) if e.is(rados::Errno::ENOENT) => Ok(Default::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The holders of the image's lock (`rbd_list_lockers`, `rbd lock ls`).
    pub async fn list_lockers(&self) -> Result<Lockers> {
        Ok(lockers_of(&self.lock_info().await?))
    }

    async fn lock_advisory(&self, lock_type: LockType, cookie: &str, tag: &str) -> Result<()> {
        self.io
            .lock(
                &self.header_object(),
                LOCK_NAME,
                lock_type,
                cookie,
                tag,
                "",
                None,
                0,
            )
            .await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// Takes the image's lock exclusively under `cookie` (`rbd_lock_exclusive`, `rbd lock
    /// add`): EBUSY if someone else holds it, EEXIST if we do already.
    pub async fn lock_exclusive(&self, cookie: &str) -> Result<()> {
        self.lock_advisory(LockType::Exclusive, cookie, "").await
    }

    /// Takes the image's lock shared with the others of tag `tag` (`rbd_lock_shared`,
    /// `rbd lock add --shared TAG`).
    pub async fn lock_shared(&self, cookie: &str, tag: &str) -> Result<()> {
        self.lock_advisory(LockType::Shared, cookie, tag).await
    }

    /// Releases our hold under `cookie` (`rbd_unlock`); ENOENT if we hold none.
    pub async fn unlock(&self, cookie: &str) -> Result<()> {
        self.io
            .unlock(&self.header_object(), LOCK_NAME, cookie)
            .await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// Breaks `client`'s hold under `cookie` (`rbd_break_lock`, `rbd lock rm`): as librbd,
    /// with `rbd_blocklist_on_break_lock` (default on) the holder's address is
    /// blocklisted first (`rbd_blocklist_expire_seconds`), so a live holder cannot go on
    /// writing.
    pub async fn break_lock(&self, client: &str, cookie: &str) -> Result<()> {
        let entity =
            parse_entity(client).ok_or(Error::InvalidArgument("unparsable lock client name"))?;
        let info = self.lock_info().await?;
        let Some((_, holder)) = info.lockers.iter().find(|(id, _)| id.locker == entity) else {
            return Err(Error::LockerNotFound(client.to_owned()));
        };
        // librbd blocklists the client's address and then lets the OSD say ENOENT for a
        // cookie it does not hold; we check first so a typo blocklists nobody
        if !info
            .lockers
            .keys()
            .any(|id| id.locker == entity && id.cookie == cookie)
        {
            return Err(Error::LockerNotFound(format!("{client} (cookie {cookie})")));
        }
        let locker = exclusive_lock::Locker {
            entity,
            cookie: cookie.to_owned(),
            addr: holder.addr,
            handle: 0,
        };
        debug!(client, cookie, "breaking a lock");
        exclusive_lock::break_locker(&self.io, &self.header_object(), &locker, true).await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// The watchers of the image's header (`rbd_watchers_list`).
    pub async fn watchers_list(&self) -> Result<Vec<ImageWatcher>> {
        let watchers = self.io.list_watchers(&self.header_object()).await?;
        Ok(watchers
            .iter()
            .map(|w| ImageWatcher {
                id: w.name.num,
                address: legacy_addr(&w.addr),
                cookie: w.cookie,
            })
            .collect())
    }

    // ---- the managed (exclusive) lock ----

    fn require_exclusive_lock_feature(&self) -> Result<()> {
        if self.info.features & features::EXCLUSIVE_LOCK == 0 {
            return Err(Error::InvalidArgument(
                "exclusive-lock feature is not enabled",
            ));
        }
        Ok(())
    }

    /// Takes the exclusive lock and keeps it (`rbd_lock_acquire`): from now on this
    /// handle refuses to hand it over when asked, and writes no longer take it on their
    /// own (librbd's StandardPolicy). Needs a read-write open of an image with the
    /// exclusive-lock feature (EINVAL otherwise).
    pub async fn lock_acquire(&self, mode: LockMode) -> Result<()> {
        if mode != LockMode::Exclusive {
            return Err(Error::Unsupported {
                features: 0,
                what: "shared managed locks",
            });
        }
        let Some(lock) = &self.lock else {
            return Err(Error::InvalidArgument(
                "exclusive-lock feature is not enabled",
            ));
        };
        lock.keep_lock();
        if lock.is_owner() {
            return Ok(());
        }
        self.check_writable()?;
        lock.acquire_now(self.state.num_objs()).await
    }

    /// Releases the exclusive lock taken by [`Self::lock_acquire`] (`rbd_lock_release`);
    /// EINVAL if this handle does not own it.
    pub async fn lock_release(&self) -> Result<()> {
        match &self.lock {
            Some(l) if l.is_owner() => l.release().await,
            _ => Err(Error::InvalidArgument("not exclusive lock owner")),
        }
    }

    /// The exclusive lock's owner (`rbd_lock_get_owners`): the mode and the owners'
    /// addresses (`ip:port/nonce`). [`Error::LockerNotFound`] when unlocked, LockBusy when
    /// the lock is held by something other than librbd's exclusive lock.
    pub async fn lock_get_owners(&self) -> Result<(LockMode, Vec<String>)> {
        self.require_exclusive_lock_feature()?;
        match lock_owner(&self.lock_info().await?) {
            LockOwner::None => Err(Error::LockerNotFound("the exclusive lock".into())),
            LockOwner::External(why) => Err(Error::LockBusy(why)),
            LockOwner::Client(l) => Ok((LockMode::Exclusive, vec![legacy_addr(&l.addr)])),
        }
    }

    /// Breaks the exclusive lock held by `owner` (an address from
    /// [`Self::lock_get_owners`]; `rbd_lock_break`): blocklists it (per
    /// `rbd_blocklist_on_break_lock`) even if alive, then removes its hold. EBUSY if the
    /// lock is owned by someone else now.
    pub async fn lock_break(&self, mode: LockMode, owner: &str) -> Result<()> {
        if mode != LockMode::Exclusive {
            return Err(Error::Unsupported {
                features: 0,
                what: "shared managed locks",
            });
        }
        if self.mode == OpenMode::ReadOnly {
            return Err(Error::ReadOnly);
        }
        self.require_exclusive_lock_feature()?;
        let locker = match lock_owner(&self.lock_info().await?) {
            LockOwner::None => return Err(Error::LockerNotFound(owner.to_owned())),
            LockOwner::External(why) => return Err(Error::LockBusy(why)),
            LockOwner::Client(l) => l,
        };
        if legacy_addr(&locker.addr) != owner {
            return Err(Error::LockBusy("the lock is owned by another client"));
        }
        exclusive_lock::break_locker(&self.io, &self.header_object(), &locker, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::EntityAddr;
    use rados::cls::lock::{LockInfo, LockerId, LockerInfo};

    #[test]
    fn entity_names() {
        assert_eq!(parse_entity("client.4141"), Some(EntityName::client(4141)));
        assert_eq!(parse_entity("osd.0"), Some(EntityName::osd(0)));
        for bad in ["client.xyz", "client.", "4141", "foo.1", "client.-1", ""] {
            assert_eq!(parse_entity(bad), None, "{bad}");
        }
    }

    #[test]
    fn lockers_as_listed() {
        let mut info = LockInfo {
            lock_type: LockType::Shared,
            tag: "tg".into(),
            ..Default::default()
        };
        assert_eq!(lockers_of(&info), Lockers::default());
        info.lockers.insert(
            LockerId {
                locker: EntityName::client(4151),
                cookie: "c2".into(),
            },
            LockerInfo {
                addr: EntityAddr::new(
                    denc::AddrType::LEGACY,
                    "127.0.0.1:0".parse().unwrap(),
                    2_319_697_767,
                ),
                ..Default::default()
            },
        );
        let l = lockers_of(&info);
        assert!(!l.exclusive);
        assert_eq!(l.tag, "tg");
        assert_eq!(
            l.lockers,
            vec![LockerEntry {
                client: "client.4151".into(),
                cookie: "c2".into(),
                address: "127.0.0.1:0/2319697767".into(),
            }]
        );
    }
}
