//! librbd's header watch/notify messages (src/librbd/WatchNotifyTypes.{h,cc},
//! librbd/watcher/Types.cc): what clients of one image tell each other through notifies on
//! its header object. This client sends ACQUIRED_LOCK, RELEASED_LOCK, REQUEST_LOCK,
//! HEADER_UPDATE, QUIESCE and UNQUIESCE, and decodes every message far enough to know its
//! operation (the payloads of the operations it does not run are kept undecoded).

use bytes::Bytes;
use denc::{Decode, Encode, Reader, Writer};

/// A client of an image: its global id and the cookie of its header watch
/// (`watcher::ClientId`; librbd names the cookie the watch "handle").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId {
    /// Global id (`client.<gid>`).
    pub gid: u64,
    /// Header watch cookie.
    pub handle: u64,
}

impl ClientId {
    /// librbd treats the all-zero id as "nobody".
    pub fn is_valid(&self) -> bool {
        *self != ClientId::default()
    }
}

impl Encode for ClientId {
    fn encode(&self, w: &mut Writer) {
        w.put_u64(self.gid);
        w.put_u64(self.handle);
    }
}

impl Decode for ClientId {
    const MIN_LEN: usize = 16;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        Ok(ClientId {
            gid: r.u64()?,
            handle: r.u64()?,
        })
    }
}

/// An operation's id among the clients of an image (`AsyncRequestId`: the requester and
/// its own sequence number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsyncRequestId {
    /// Who asks.
    pub client: ClientId,
    /// The requester's number for the operation (librbd counts from 1 per process).
    pub request_id: u64,
}

impl Encode for AsyncRequestId {
    // src/librbd/WatchNotifyTypes.cc AsyncRequestId::encode
    fn encode(&self, w: &mut Writer) {
        w.put(&self.client);
        w.put_u64(self.request_id);
    }
}

impl Decode for AsyncRequestId {
    const MIN_LEN: usize = 24;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        Ok(AsyncRequestId {
            client: r.decode()?,
            request_id: r.u64()?,
        })
    }
}

/// `NOTIFY_OP_*` codes (WatchNotifyTypes.h `NotifyOp`).
pub mod op {
    /// A client took the exclusive lock.
    pub const ACQUIRED_LOCK: u32 = 0;
    /// A client released the exclusive lock.
    pub const RELEASED_LOCK: u32 = 1;
    /// A client asks the lock owner to release the lock.
    pub const REQUEST_LOCK: u32 = 2;
    /// The header changed: refresh.
    pub const HEADER_UPDATE: u32 = 3;
    /// Progress of an operation run for another client.
    pub const ASYNC_PROGRESS: u32 = 4;
    /// An operation run for another client finished.
    pub const ASYNC_COMPLETE: u32 = 5;
    /// The lock owner is asked to flatten.
    pub const FLATTEN: u32 = 6;
    /// ... to resize.
    pub const RESIZE: u32 = 7;
    /// ... to create a snapshot.
    pub const SNAP_CREATE: u32 = 8;
    /// ... to remove a snapshot.
    pub const SNAP_REMOVE: u32 = 9;
    /// ... to rebuild the object map.
    pub const REBUILD_OBJECT_MAP: u32 = 10;
    /// ... to rename a snapshot.
    pub const SNAP_RENAME: u32 = 11;
    /// ... to protect a snapshot.
    pub const SNAP_PROTECT: u32 = 12;
    /// ... to unprotect a snapshot.
    pub const SNAP_UNPROTECT: u32 = 13;
    /// ... to rename the image.
    pub const RENAME: u32 = 14;
    /// ... to change features.
    pub const UPDATE_FEATURES: u32 = 15;
    /// ... to migrate.
    pub const MIGRATE: u32 = 16;
    /// ... to sparsify.
    pub const SPARSIFY: u32 = 17;
    /// Quiesce I/O (snapshots).
    pub const QUIESCE: u32 = 18;
    /// Resume I/O.
    pub const UNQUIESCE: u32 = 19;
    /// ... to change image metadata.
    pub const METADATA_UPDATE: u32 = 20;
}

/// The version this client encodes `NotifyMessage` with (`ENCODE_START(7, 1, bl)`);
/// payload fields added in later versions are only read when the sender's version has
/// them.
const NOTIFY_VERSION: u8 = 7;

/// A decoded `NotifyMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyMessage {
    /// ACQUIRED_LOCK (v1 messages carry no client id: the default).
    AcquiredLock(ClientId),
    /// RELEASED_LOCK.
    ReleasedLock(ClientId),
    /// REQUEST_LOCK; `force` asks the owner to give up the lock even if its policy would
    /// not (v3+).
    RequestLock {
        /// Who asks.
        client: ClientId,
        /// Force the release.
        force: bool,
    },
    /// HEADER_UPDATE (no payload).
    HeaderUpdate,
    /// QUIESCE (`QuiescePayload`): a client is about to take a snapshot; every watcher
    /// runs its quiesce hooks and acknowledges with a `ResponseMessage` of their result.
    Quiesce(AsyncRequestId),
    /// UNQUIESCE (`UnquiescePayload`): the snapshot of that request is taken (or failed).
    Unquiesce(AsyncRequestId),
    /// Any other operation (a request for the lock owner, progress...), payload kept
    /// undecoded; unknown codes land here too, as librbd's `UnknownPayload`.
    Other {
        /// The `NotifyOp` code.
        op: u32,
        /// The payload bytes.
        payload: Bytes,
    },
}

impl NotifyMessage {
    /// The `NotifyOp` code.
    pub fn op(&self) -> u32 {
        match self {
            NotifyMessage::AcquiredLock(_) => op::ACQUIRED_LOCK,
            NotifyMessage::ReleasedLock(_) => op::RELEASED_LOCK,
            NotifyMessage::RequestLock { .. } => op::REQUEST_LOCK,
            NotifyMessage::HeaderUpdate => op::HEADER_UPDATE,
            NotifyMessage::Quiesce(_) => op::QUIESCE,
            NotifyMessage::Unquiesce(_) => op::UNQUIESCE,
            NotifyMessage::Other { op, .. } => *op,
        }
    }

    /// The encoded message, as a notify payload.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(denc::encode_to_vec(self).unwrap_or_default())
    }
}

impl Encode for NotifyMessage {
    // src/librbd/WatchNotifyTypes.cc NotifyMessage::encode
    fn encode(&self, w: &mut Writer) {
        w.versioned(NOTIFY_VERSION, 1, |w| {
            w.put_u32(self.op());
            match self {
                NotifyMessage::AcquiredLock(c) | NotifyMessage::ReleasedLock(c) => w.put(c),
                NotifyMessage::RequestLock { client, force } => {
                    w.put(client);
                    w.put_bool(*force);
                }
                NotifyMessage::HeaderUpdate => {}
                NotifyMessage::Quiesce(id) | NotifyMessage::Unquiesce(id) => w.put(id),
                NotifyMessage::Other { payload, .. } => w.put_bytes(payload),
            }
        });
    }
}

impl Decode for NotifyMessage {
    const MIN_LEN: usize = 6 + 4;
    // NotifyMessage::decode: DECODE_START(1, ...), payload by op and struct_v
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("librbd::watch_notify::NotifyMessage", 1, |v, r| {
            let code = r.u32()?;
            let client = |r: &mut Reader<'_>| -> denc::Result<ClientId> {
                if v >= 2 {
                    r.decode()
                } else {
                    Ok(ClientId::default())
                }
            };
            Ok(match code {
                op::ACQUIRED_LOCK => NotifyMessage::AcquiredLock(client(r)?),
                op::RELEASED_LOCK => NotifyMessage::ReleasedLock(client(r)?),
                op::REQUEST_LOCK => {
                    let client = client(r)?;
                    let force = if v >= 3 { r.bool()? } else { false };
                    NotifyMessage::RequestLock { client, force }
                }
                op::HEADER_UPDATE => NotifyMessage::HeaderUpdate,
                // AsyncRequestPayloadBase::decode: the id whatever the version
                op::QUIESCE => NotifyMessage::Quiesce(r.decode()?),
                op::UNQUIESCE => NotifyMessage::Unquiesce(r.decode()?),
                op => NotifyMessage::Other {
                    op,
                    payload: Bytes::copy_from_slice(r.rest()),
                },
            })
        })
    }
}

/// `ResponseMessage`: the lock owner's answer to a request (`result` is 0 or a negative
/// errno). Only the lock owner answers with one; other watchers acknowledge empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseMessage {
    /// 0 or a negative errno.
    pub result: i32,
}

impl ResponseMessage {
    /// The encoded message, as a notify acknowledgement.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(denc::encode_to_vec(self).unwrap_or_default())
    }
}

impl Encode for ResponseMessage {
    // WatchNotifyTypes.cc ResponseMessage::encode: ENCODE_START(1, 1)
    fn encode(&self, w: &mut Writer) {
        w.versioned(1, 1, |w| w.put_i32(self.result));
    }
}

impl Decode for ResponseMessage {
    const MIN_LEN: usize = 6 + 4;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("librbd::watch_notify::ResponseMessage", 1, |_, r| {
            Ok(ResponseMessage { result: r.i32()? })
        })
    }
}

/// What the lock owner's answer to a REQUEST_LOCK (or another request) was, from the
/// acknowledgements of a notify (image_watcher/NotifyLockOwner.cc `handle_notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerReply {
    /// No watcher answered with a payload: nobody owns the lock (or the owner is dead).
    NoOwner,
    /// More than one non-empty answer (librbd: "duplicate lock owners", EINVAL).
    Duplicate,
    /// The owner's result (0 or a negative errno; undecodable answers are `-EINVAL`).
    Result(i32),
}

/// Picks the lock owner's answer out of a notify's acknowledgements: only the owner
/// answers with a non-empty payload.
pub fn owner_reply<'a>(acks: impl IntoIterator<Item = &'a [u8]>) -> OwnerReply {
    let mut found: Option<&[u8]> = None;
    for payload in acks {
        if payload.is_empty() {
            continue;
        }
        if found.is_some() {
            return OwnerReply::Duplicate;
        }
        found = Some(payload);
    }
    match found {
        None => OwnerReply::NoOwner,
        Some(p) => {
            let mut r = Reader::new(p);
            match r.decode::<ResponseMessage>() {
                Ok(m) => OwnerReply::Result(m.result),
                Err(_) => OwnerReply::Result(-22),
            }
        }
    }
}

/// What the acknowledgements of a QUIESCE notify say (ImageWatcher::notify_quiesce): the
/// first watcher's failure (an answer that does not decode counts as `-EINVAL`; `-EOPNOTSUPP`
/// from an old lock owner that does not know the operation counts as success), else 0.
pub fn quiesce_reply<'a>(acks: impl IntoIterator<Item = &'a [u8]>) -> i32 {
    const EOPNOTSUPP: i32 = -95;
    for payload in acks {
        if payload.is_empty() {
            continue;
        }
        let result = match denc::decode_exact::<ResponseMessage>(payload)
            .or_else(|_| Reader::new(payload).decode::<ResponseMessage>())
        {
            Ok(m) if m.result == EOPNOTSUPP => 0,
            Ok(m) => m.result,
            Err(_) => -22,
        };
        if result < 0 {
            return result;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use denc::testing::{assert_truncations_fail, check_corpus};

    #[test]
    fn notify_corpus() {
        let all = check_corpus::<NotifyMessage>("librbd::watch_notify::NotifyMessage", 0);
        assert!(all.len() >= 40, "{} samples", all.len());
        let mut seen = std::collections::BTreeSet::new();
        for (sample, m) in &all {
            assert_truncations_fail::<NotifyMessage>(&sample.bytes, &sample.path);
            seen.insert(m.op());
            // generate_test_instances: ClientId(1, 2) for the lock messages
            match m {
                NotifyMessage::AcquiredLock(c) | NotifyMessage::ReleasedLock(c) => {
                    assert_eq!(c, &ClientId { gid: 1, handle: 2 })
                }
                NotifyMessage::RequestLock { client, force } => {
                    assert_eq!(client, &ClientId { gid: 1, handle: 2 });
                    assert!(force);
                }
                // QuiescePayload(AsyncRequestId(ClientId(0, 1), 2))
                NotifyMessage::Quiesce(id) => assert_eq!(
                    id,
                    &AsyncRequestId {
                        client: ClientId { gid: 0, handle: 1 },
                        request_id: 2
                    }
                ),
                _ => {}
            }
        }
        // the corpus has no REQUEST_LOCK sample: its layout is checked by hand below
        for code in [
            op::ACQUIRED_LOCK,
            op::RELEASED_LOCK,
            op::HEADER_UPDATE,
            op::QUIESCE,
        ] {
            assert!(seen.contains(&code), "no sample of op {code}");
        }
        let req = NotifyMessage::RequestLock {
            client: ClientId { gid: 1, handle: 2 },
            force: true,
        };
        let mut want = vec![7u8, 1, 21, 0, 0, 0, 2, 0, 0, 0];
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&2u64.to_le_bytes());
        want.push(1);
        assert_eq!(&req.to_bytes()[..], &want[..]);
        assert_eq!(denc::decode_exact::<NotifyMessage>(&want).unwrap(), req);
    }

    #[test]
    fn response_corpus() {
        for (sample, m) in
            check_corpus::<ResponseMessage>("librbd::watch_notify::ResponseMessage", 0)
        {
            assert_truncations_fail::<ResponseMessage>(&sample.bytes, &sample.path);
            assert_eq!(m.result, 1);
        }
    }

    #[test]
    fn old_versions_and_replies() {
        // a v1 REQUEST_LOCK has neither client id nor force
        let v1 = [1u8, 1, 4, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(
            denc::decode_exact::<NotifyMessage>(&v1).unwrap(),
            NotifyMessage::RequestLock {
                client: ClientId::default(),
                force: false
            }
        );
        // a newer sender's unknown fields are skipped by the envelope
        let mut v9 = vec![9u8, 1, 21, 0, 0, 0, 1, 0, 0, 0];
        v9.extend_from_slice(&5u64.to_le_bytes());
        v9.extend_from_slice(&6u64.to_le_bytes());
        v9.push(0xaa);
        assert_eq!(
            denc::decode_exact::<NotifyMessage>(&v9).unwrap(),
            NotifyMessage::ReleasedLock(ClientId { gid: 5, handle: 6 })
        );
        // compat 2 is refused
        let v2c2 = [2u8, 2, 4, 0, 0, 0, 3, 0, 0, 0];
        assert!(denc::decode_exact::<NotifyMessage>(&v2c2).is_err());

        let ok = ResponseMessage { result: 0 }.to_bytes();
        let eops = ResponseMessage { result: -95 }.to_bytes();
        assert_eq!(owner_reply([&b""[..], &ok[..]]), OwnerReply::Result(0));
        assert_eq!(owner_reply([&eops[..]]), OwnerReply::Result(-95));
        assert_eq!(owner_reply([&b""[..]]), OwnerReply::NoOwner);
        assert_eq!(owner_reply([&ok[..], &ok[..]]), OwnerReply::Duplicate);
        assert_eq!(owner_reply([&b"x"[..]]), OwnerReply::Result(-22));
    }

    #[test]
    fn quiesce_messages_and_replies() {
        let id = AsyncRequestId {
            client: ClientId {
                gid: 4107,
                handle: 94_000,
            },
            request_id: 3,
        };
        let q = NotifyMessage::Quiesce(id);
        let bytes = q.to_bytes();
        // ENCODE_START(7, 1), len 28: op 18, gid, handle, request id
        let mut want = vec![7u8, 1, 28, 0, 0, 0, 18, 0, 0, 0];
        want.extend_from_slice(&4107u64.to_le_bytes());
        want.extend_from_slice(&94_000u64.to_le_bytes());
        want.extend_from_slice(&3u64.to_le_bytes());
        assert_eq!(&bytes[..], &want[..]);
        assert_eq!(denc::decode_exact::<NotifyMessage>(&bytes).unwrap(), q);
        assert_truncations_fail::<NotifyMessage>(&bytes, std::path::Path::new("quiesce"));
        let u = NotifyMessage::Unquiesce(id);
        assert_eq!(u.op(), op::UNQUIESCE);
        assert_eq!(
            denc::decode_exact::<NotifyMessage>(&u.to_bytes()).unwrap(),
            u
        );

        let ok = ResponseMessage { result: 0 }.to_bytes();
        let eio = ResponseMessage { result: -5 }.to_bytes();
        let eops = ResponseMessage { result: -95 }.to_bytes();
        assert_eq!(quiesce_reply([&b""[..], &ok[..]]), 0);
        assert_eq!(quiesce_reply([&eops[..], &ok[..]]), 0);
        assert_eq!(quiesce_reply([&ok[..], &eio[..], &b"x"[..]]), -5);
        assert_eq!(quiesce_reply([&b"x"[..]]), -22);
        assert_eq!(quiesce_reply(std::iter::empty()), 0);
    }
}
