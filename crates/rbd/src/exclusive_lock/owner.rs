//! Who holds an image's exclusive lock and what to answer the header's notifications:
//! the pure decisions of librbd's managed lock (managed_lock/Utils.cc cookies,
//! GetLockerRequest, BreakRequest's liveness check) and ImageWatcher's replies, kept apart
//! from the watch and lock machinery in `mod.rs` so they can be tested on their own.

use bytes::Bytes;
use denc::{EntityAddr, EntityName};
use rados::cls::lock::{LockInfo, LockType};
use rados::{Errno, Watcher};

use crate::watch_notify::{ClientId, NotifyMessage, ResponseMessage, op};

/// The lock's name on the header (`RBD_LOCK_NAME`).
pub const LOCK_NAME: &str = "rbd_lock";
/// The tag librbd's own locks carry (`WATCHER_LOCK_TAG`); other tags are external locks.
pub const LOCK_TAG: &str = "internal";
/// Cookie prefix (`WATCHER_LOCK_COOKIE_PREFIX`).
const COOKIE_PREFIX: &str = "auto";

/// `auto <handle>` (managed_lock/Utils.cc `encode_lock_cookie`).
pub fn encode_cookie(watch_handle: u64) -> String {
    format!("{COOKIE_PREFIX} {watch_handle}")
}

/// The watch handle of an `auto <handle>` cookie (`decode_lock_cookie`).
pub fn decode_cookie(cookie: &str) -> Option<u64> {
    let mut parts = cookie.split_whitespace();
    if parts.next()? != COOKIE_PREFIX {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The holder of an image's lock (managed_lock::Locker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locker {
    /// Who (`client.<gid>`).
    pub entity: EntityName,
    /// Its cookie.
    pub cookie: String,
    /// Its address.
    pub addr: EntityAddr,
    /// The watch handle the cookie names.
    pub handle: u64,
}

/// What `get_info` on the header says about `rbd_lock` (GetLockerRequest.cc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOwner {
    /// Nobody holds it (ENOENT).
    None,
    /// Held, but not as librbd holds it (shared, another tag, a foreign cookie): EBUSY,
    /// never broken automatically.
    External(&'static str),
    /// Held by a client of the image.
    Client(Locker),
}

/// Classifies a lock's holders as GetLockerRequest does.
pub fn lock_owner(info: &LockInfo) -> LockOwner {
    let Some((id, holder)) = info.lockers.iter().next() else {
        return LockOwner::None;
    };
    if info.lock_type != LockType::Exclusive {
        return LockOwner::External("shared lock type");
    }
    if info.tag != LOCK_TAG {
        return LockOwner::External("locked by an external mechanism (tag)");
    }
    let Some(handle) = decode_cookie(&id.cookie) else {
        return LockOwner::External("locked by an external mechanism (cookie)");
    };
    if holder.addr.ip().is_none_or(|ip| ip.is_unspecified()) {
        return LockOwner::External("the locker has a blank address");
    }
    LockOwner::Client(Locker {
        entity: id.locker,
        cookie: id.cookie.clone(),
        addr: holder.addr,
        handle,
    })
}

/// An address as `entity_addr_t::get_legacy_str` prints it: `ip:port/nonce`, without the
/// type (the lock records a legacy address, the watch list a typed one: librbd compares
/// these strings).
pub fn legacy_addr(addr: &EntityAddr) -> String {
    match addr.socket_addr() {
        Some(a) => format!("{a}/{}", addr.nonce),
        None => format!("-/{}", addr.nonce),
    }
}

/// Whether the locker still watches the header (BreakRequest `handle_get_watchers`:
/// same legacy address and a watch cookie equal to the cookie's handle).
pub fn locker_alive(locker: &Locker, watchers: &[Watcher]) -> bool {
    let want = legacy_addr(&locker.addr);
    watchers
        .iter()
        .any(|w| w.cookie == locker.handle && legacy_addr(&w.addr) == want)
}

/// What a watcher answers to a header notify, and whether the lock must be given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyAction {
    /// The acknowledgement payload (empty unless we own the lock and answer for it).
    pub reply: Bytes,
    /// Release the lock (a peer asked for it).
    pub release: bool,
    /// A peer released the lock: wake whoever waits for it.
    pub peer_released: bool,
    /// Another client changed the header (HEADER_UPDATE): refresh before the next write.
    pub header_update: bool,
}

/// ImageWatcher's answers: the lock owner grants REQUEST_LOCK (result 0, then releases)
/// and refuses the operations it would run for others (EOPNOTSUPP: the requester then
/// asks for the lock and runs them itself); everyone else acknowledges empty.
pub fn on_notify(payload: &[u8], me: ClientId, owner: bool) -> NotifyAction {
    let mut action = NotifyAction {
        reply: Bytes::new(),
        release: false,
        peer_released: false,
        header_update: false,
    };
    let Ok(msg) = denc::decode_exact::<NotifyMessage>(payload)
        .or_else(|_| denc::Reader::new(payload).decode::<NotifyMessage>())
    else {
        return action;
    };
    match msg {
        NotifyMessage::RequestLock { client, .. } => {
            if client != me && owner {
                action.reply = ResponseMessage { result: 0 }.to_bytes();
                action.release = true;
            }
        }
        NotifyMessage::ReleasedLock(_) => action.peer_released = true,
        NotifyMessage::HeaderUpdate => action.header_update = true,
        // answered by every watcher, after its quiesce hooks ran (see `quiesce.rs`)
        NotifyMessage::AcquiredLock(_)
        | NotifyMessage::Quiesce(_)
        | NotifyMessage::Unquiesce(_) => {}
        NotifyMessage::Other { op, .. } => {
            let answered_by_all = matches!(
                op,
                op::ASYNC_PROGRESS | op::ASYNC_COMPLETE | op::QUIESCE | op::UNQUIESCE
            );
            if owner && !answered_by_all {
                action.reply = ResponseMessage {
                    result: Errno::EOPNOTSUPP.as_result(),
                }
                .to_bytes();
            }
        }
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use rados::cls::lock::{LockerId, LockerInfo};

    fn addr(nonce: u32) -> EntityAddr {
        EntityAddr::new(denc::AddrType::ANY, "127.0.0.1:0".parse().unwrap(), nonce)
    }

    #[test]
    fn cookies() {
        assert_eq!(encode_cookie(94_000_123), "auto 94000123");
        assert_eq!(decode_cookie("auto 94000123"), Some(94_000_123));
        assert_eq!(decode_cookie("manual 1"), None);
        assert_eq!(decode_cookie("auto x"), None);
        assert_eq!(decode_cookie(""), None);
    }

    #[test]
    fn owners_and_liveness() {
        let mut info = LockInfo {
            lock_type: LockType::Exclusive,
            tag: LOCK_TAG.into(),
            ..Default::default()
        };
        assert_eq!(lock_owner(&info), LockOwner::None);
        let entity = EntityName::client(4200);
        info.lockers.insert(
            LockerId {
                locker: entity,
                cookie: "auto 77".into(),
            },
            LockerInfo {
                addr: addr(9),
                ..Default::default()
            },
        );
        let LockOwner::Client(l) = lock_owner(&info) else {
            panic!()
        };
        let mut blank = info.clone();
        blank
            .lockers
            .values_mut()
            .for_each(|v| v.addr = EntityAddr::default());
        assert!(matches!(lock_owner(&blank), LockOwner::External(_)));
        assert_eq!((l.handle, l.entity), (77, entity));
        let w = |cookie, nonce| Watcher {
            name: entity,
            cookie,
            timeout_seconds: 30,
            addr: addr(nonce),
        };
        assert!(locker_alive(&l, &[w(5, 9), w(77, 9)]));
        assert!(!locker_alive(&l, &[w(78, 9), w(77, 10)]));
        // the lock's address is legacy-typed, the watcher's typed: the same client
        let mut typed = w(77, 9);
        typed.addr.addr_type = denc::AddrType::MSGR2;
        let mut legacy = l.clone();
        legacy.addr.addr_type = denc::AddrType::LEGACY;
        assert!(locker_alive(&legacy, &[typed]));
        assert_eq!(legacy_addr(&addr(9)), "127.0.0.1:0/9");
        info.tag = "other".into();
        assert!(matches!(lock_owner(&info), LockOwner::External(_)));
    }

    #[test]
    fn notify_answers() {
        let me = ClientId { gid: 1, handle: 2 };
        let peer = ClientId { gid: 3, handle: 4 };
        let req = |c| {
            NotifyMessage::RequestLock {
                client: c,
                force: false,
            }
            .to_bytes()
        };
        let a = on_notify(&req(peer), me, true);
        assert!(a.release);
        assert_eq!(
            denc::decode_exact::<ResponseMessage>(&a.reply)
                .unwrap()
                .result,
            0
        );
        assert_eq!(on_notify(&req(peer), me, false).reply.len(), 0);
        assert!(!on_notify(&req(me), me, true).release);
        assert!(on_notify(&NotifyMessage::ReleasedLock(peer).to_bytes(), me, false).peer_released);
        let resize = NotifyMessage::Other {
            op: op::RESIZE,
            payload: Bytes::from_static(&[0; 33]),
        }
        .to_bytes();
        let a = on_notify(&resize, me, true);
        assert_eq!(
            denc::decode_exact::<ResponseMessage>(&a.reply)
                .unwrap()
                .result,
            -95
        );
        assert!(on_notify(&resize, me, false).reply.is_empty());
        let quiesce = NotifyMessage::Quiesce(Default::default()).to_bytes();
        assert!(on_notify(&quiesce, me, true).reply.is_empty());
        assert!(on_notify(b"garbage", me, true).reply.is_empty());
    }
}
