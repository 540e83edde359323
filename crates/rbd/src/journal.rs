//! A journaling image's journal (src/journal/, src/cls/journal/cls_journal.cc): who owns
//! it, and removing it with the image.
//!
//! Owner: the primary flag of journal-based mirroring (librbd/Journal.cc
//! `get_tag_owner` and its GetTagsRequest, librbd/journal/Utils.cc `C_DecodeTags`). The
//! journal's header object `journal.<image id>` (class `journal`) registers clients;
//! the image's own client has the empty id and its data (librbd/journal/Types.cc
//! `ClientData`, an `ImageClientMeta`) names the tag class the image writes under. The
//! newest tag of that class (highest tid, `tag_list`) carries a `TagData` whose mirror
//! uuid says who owns the journal: "" this cluster (primary), "<orphan>" nobody
//! (demoted), else the remote peer's uuid (non-primary).
//!
//! Removal (librbd/journal/RemoveRequest.cc, Journaler::remove with force,
//! JournalTrimmer::remove_objects): the data objects
//! `journal_data.<header pool id>.<image id>.<n>` of every object set from the minimum
//! to the active one (`splay_width` objects each, in the journal's pool), then the
//! header.

use bytes::Bytes;
use denc::Reader;
use rados::IoCtx;

use crate::cls::decode_reply;
use crate::cls::snap::SnapshotNamespace;
use crate::error::{Error, Result};

/// The object class of journals.
const JOURNAL_CLASS: &str = "journal";

/// The image's own journal client (`Journal<I>::IMAGE_CLIENT_ID`).
pub const IMAGE_CLIENT_ID: &str = "";

/// The owner of a primary image's journal (`Journal<I>::LOCAL_MIRROR_UUID`).
pub const LOCAL_MIRROR_UUID: &str = "";

/// The owner of a demoted image's journal (`Journal<I>::ORPHAN_MIRROR_UUID`).
pub const ORPHAN_MIRROR_UUID: &str = "<orphan>";

/// Tags asked for per `tag_list` call (journal/JournalMetadata.cc `C_GetTags`).
const TAG_LIST_MAX: u64 = 64;

/// `ClientMetaType::IMAGE_CLIENT_META_TYPE`.
const IMAGE_CLIENT_META_TYPE: u32 = 0;

/// Prefix of the journal's data objects (journal/Journaler.cc `JOURNAL_OBJECT_PREFIX`).
const JOURNAL_OBJECT_PREFIX: &str = "journal_data.";

/// The journal header object of image `image_id` (`Journaler::header_oid`).
pub fn journal_header_object(image_id: &str) -> String {
    format!("journal.{image_id}")
}

/// A registered journal client (`cls::journal::Client`; its commit position skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalClient {
    /// Client id.
    pub id: String,
    /// The client's data (librbd: a `ClientData`).
    pub data: Bytes,
    /// `cls::journal::ClientState` (0 connected, 1 disconnected).
    pub state: u8,
}

// cls_journal_types.cc Client::decode: DECODE_START(1), id, data, commit position, u8 state
fn decode_client(r: &mut Reader<'_>) -> denc::Result<JournalClient> {
    r.versioned("cls::journal::Client", 1, |_, r| {
        let id = r.decode()?;
        let data = r.decode()?;
        // ObjectSetPosition (a list of ObjectPositions) in its own envelope
        r.versioned("cls::journal::ObjectSetPosition", 1, |_, _| Ok(()))?;
        let state = r.u8()?;
        Ok(JournalClient { id, data, state })
    })
}

/// A journal tag (`cls::journal::Tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalTag {
    /// Tag id (increasing).
    pub tid: u64,
    /// Tag class.
    pub tag_class: u64,
    /// The tag's data (librbd: a `TagData`).
    pub data: Bytes,
}

// cls_journal_types.cc Tag::decode: DECODE_START(1), tid, tag_class, data
fn decode_tag(r: &mut Reader<'_>) -> denc::Result<JournalTag> {
    r.versioned("cls::journal::Tag", 1, |_, r| {
        Ok(JournalTag {
            tid: r.u64()?,
            tag_class: r.u64()?,
            data: r.decode()?,
        })
    })
}

/// Decodes `get_client`'s reply.
pub fn decode_get_client(data: &[u8]) -> Result<JournalClient> {
    decode_reply("get_client", data, decode_client)
}

/// Decodes `tag_list`'s reply (a `std::set<Tag>`).
pub fn decode_tag_list(data: &[u8]) -> Result<Vec<JournalTag>> {
    decode_reply("tag_list", data, |r| {
        // (a tag is at least its envelope, two u64s and a length)
        let n = r.count(6 + 8 + 8 + 4)?;
        (0..n).map(|_| decode_tag(r)).collect()
    })
}

/// Decodes `client_list`'s reply (a `std::set<Client>`).
pub fn decode_client_list(data: &[u8]) -> Result<Vec<JournalClient>> {
    decode_reply("client_list", data, |r| {
        // (a client is at least its envelope, two lengths, the position's envelope and
        // a state byte)
        let n = r.count(6 + 4 + 4 + 6 + 1)?;
        (0..n).map(|_| decode_client(r)).collect()
    })
}

/// The kind of a client's data (`ClientMetaType`: 0 image, 1 mirror peer, 2 CLI).
pub fn decode_client_meta_type(data: &[u8]) -> Result<u32> {
    let mut r = Reader::new(data);
    r.versioned("librbd::journal::ClientData", 1, |_, r| r.u32())
        .map_err(|source| Error::Decode {
            method: "ClientData",
            source,
        })
}

/// `ClientMetaType::MIRROR_PEER_CLIENT_META_TYPE`: a client rbd-mirror registers for a
/// peer cluster.
pub const MIRROR_PEER_CLIENT_META_TYPE: u32 = 1;

/// A snapshot a mirror peer's image sync holds (librbd/journal/Types.h
/// `MirrorPeerSyncPoint`): removed with the peer when mirroring is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorPeerSyncPoint {
    /// The snapshot's name.
    pub snap_name: String,
    /// The snapshot's namespace (user before `ClientData` version 2).
    pub namespace: SnapshotNamespace,
}

/// The sync points of a mirror peer client's data; `None` for other client kinds
/// (librbd/journal/Types.cc `ClientData::decode`, `MirrorPeerClientMeta::decode`: image
/// id, le32 state, le64 sync object count, le32 count of sync points, each snapshot
/// name, from-snapshot name, optional object number and, from version 2, the snapshot
/// namespace; then the snap seqs, not read here).
pub fn decode_mirror_peer_sync_points(data: &[u8]) -> Result<Option<Vec<MirrorPeerSyncPoint>>> {
    let mut r = Reader::new(data);
    r.versioned("librbd::journal::ClientData", 1, |version, r| {
        if r.u32()? != MIRROR_PEER_CLIENT_META_TYPE {
            return Ok(None);
        }
        let _image_id: String = r.decode()?;
        r.u32()?;
        r.u64()?;
        // (a sync point is at least two lengths and the optional's flag)
        let n = r.count(4 + 4 + 1)?;
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            let snap_name = r.decode()?;
            let _from: String = r.decode()?;
            let _object_number: Option<u64> = r.decode()?;
            let namespace = if version >= 2 {
                r.decode()?
            } else {
                SnapshotNamespace::User
            };
            points.push(MirrorPeerSyncPoint {
                snap_name,
                namespace,
            });
        }
        Ok(Some(points))
    })
    .map_err(|source| Error::Decode {
        method: "ClientData",
        source,
    })
}

/// A mirror peer client's data as rbd-mirror registers it (`ClientData` version 2 with
/// a `MirrorPeerClientMeta`: state syncing, no sync objects counted, these sync points
/// without object numbers, no snap seqs), for tools and tests that stand in for it.
pub fn encode_mirror_peer_client_data(image_id: &str, points: &[MirrorPeerSyncPoint]) -> Bytes {
    let mut w = denc::Writer::new();
    w.versioned(2, 1, |w| {
        w.put_u32(MIRROR_PEER_CLIENT_META_TYPE);
        w.put(image_id);
        w.put_u32(0);
        w.put_u64(0);
        w.put_u32(u32::try_from(points.len()).unwrap_or(u32::MAX));
        for p in points {
            w.put(p.snap_name.as_str());
            w.put("");
            w.put(&None::<u64>);
            w.put(&p.namespace);
        }
        // snap_seqs: an empty map
        w.put_u32(0);
    });
    Bytes::from(w.finish().unwrap_or_default())
}

/// Registers client `client_id` with `data` in image `image_id`'s journal
/// (cls_journal_client.cc `client_register`); EEXIST when it is registered already.
pub async fn client_register(
    io: &IoCtx,
    image_id: &str,
    client_id: &str,
    data: &[u8],
) -> Result<()> {
    let oid = journal_header_object(image_id);
    let mut w = denc::Writer::new();
    w.put(client_id);
    w.put(&Bytes::copy_from_slice(data));
    let input = w.finish().map_err(|e| Error::Rados(e.into()))?;
    io.exec(&oid, JOURNAL_CLASS, "client_register", &input)
        .await?;
    Ok(())
}

/// Unregisters client `client_id` from image `image_id`'s journal
/// (cls_journal_client.cc `client_unregister`); ENOENT when it is not registered.
pub async fn client_unregister(io: &IoCtx, image_id: &str, client_id: &str) -> Result<()> {
    let oid = journal_header_object(image_id);
    let input = get_client_input(client_id)?;
    io.exec(&oid, JOURNAL_CLASS, "client_unregister", &input)
        .await?;
    Ok(())
}

/// Every client registered with image `image_id`'s journal (cls_journal_client.cc
/// `client_list`, paged by client id).
pub async fn client_list(io: &IoCtx, image_id: &str) -> Result<Vec<JournalClient>> {
    let oid = journal_header_object(image_id);
    let mut out: Vec<JournalClient> = Vec::new();
    loop {
        let mut w = denc::Writer::new();
        w.put(out.last().map_or("", |c| c.id.as_str()));
        w.put_u64(TAG_LIST_MAX);
        let input = w.finish().map_err(|e| Error::Rados(e.into()))?;
        let page = decode_client_list(&io.exec(&oid, JOURNAL_CLASS, "client_list", &input).await?)?;
        let full = page.len() as u64 >= TAG_LIST_MAX;
        let before = out.last().map(|c| c.id.clone());
        out.extend(page);
        // (a page that does not move past the last id would loop forever)
        if !full || out.last().map(|c| c.id.clone()) == before {
            return Ok(out);
        }
    }
}

/// The tag class of the image's client data (librbd/journal/Types.cc
/// `ClientData::decode`, an `ImageClientMeta`); `None` for other client kinds.
pub fn decode_image_client_tag_class(data: &[u8]) -> Result<Option<u64>> {
    let method = "ClientData";
    let mut r = Reader::new(data);
    r.versioned("librbd::journal::ClientData", 1, |_, r| {
        if r.u32()? != IMAGE_CLIENT_META_TYPE {
            return Ok(None);
        }
        // ImageClientMeta: tag_class, resync_requested
        let tag_class = r.u64()?;
        r.bool()?;
        Ok(Some(tag_class))
    })
    .map_err(|source| Error::Decode { method, source })
}

/// The mirror uuid of a tag's data (librbd/journal/Types.cc `TagData::decode`: the
/// uuid, then the predecessor, not read here).
pub fn decode_tag_mirror_uuid(data: &[u8]) -> Result<String> {
    let mut r = Reader::new(data);
    r.decode().map_err(|source| Error::Decode {
        method: "TagData",
        source,
    })
}

/// A `journal` method without input whose reply is one integer read by `f`.
async fn get_int<T>(
    io: &IoCtx,
    oid: &str,
    method: &'static str,
    f: impl FnOnce(&mut Reader<'_>) -> denc::Result<T>,
) -> Result<T> {
    let reply = io.exec(oid, JOURNAL_CLASS, method, &[]).await?;
    decode_reply(method, &reply, f)
}

/// The name of data object `number` of the journal of image `image_id` whose header is
/// in pool `header_pool` (`Journaler::object_oid_prefix`, `utils::get_object_name`).
pub fn journal_data_object(header_pool: i64, image_id: &str, number: u64) -> String {
    format!("{JOURNAL_OBJECT_PREFIX}{header_pool}.{image_id}.{number}")
}

/// Removes image `image_id`'s journal, data objects then header (RemoveRequest with
/// Journaler::remove(force = true)); no journal is fine.
pub async fn remove_journal(io: &IoCtx, image_id: &str) -> Result<()> {
    let oid = journal_header_object(image_id);
    match io.stat(&oid).await {
        Ok(_) => {}
        Err(e) if e.is(rados::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    // JournalMetadata: immutable (splay width, data pool) and mutable (object sets)
    let splay = u64::from(get_int(io, &oid, "get_splay_width", |r| r.u8()).await?);
    let pool_id = get_int(io, &oid, "get_pool_id", |r| r.i64()).await?;
    let minimum_set = get_int(io, &oid, "get_minimum_set", |r| r.u64()).await?;
    let active_set = get_int(io, &oid, "get_active_set", |r| r.u64()).await?;
    let data_io = if pool_id < 0 {
        io.clone()
    } else {
        let mut data_io = io
            .rados()
            .ioctx_by_id(pool_id)
            .await?
            .with_namespace(io.namespace().to_owned());
        data_io.set_pool_full_try(io.pool_full_try());
        data_io
    };
    let header_pool = io.pool_id();
    for set in minimum_set..=active_set {
        for number in set.saturating_mul(splay)..set.saturating_add(1).saturating_mul(splay) {
            match data_io
                .remove(&journal_data_object(header_pool, image_id, number))
                .await
            {
                Err(e) if !e.is(rados::Errno::ENOENT) => return Err(e.into()),
                _ => {}
            }
        }
    }
    match io.remove(&oid).await {
        Err(e) if !e.is(rados::Errno::ENOENT) => Err(e.into()),
        _ => Ok(()),
    }
}

/// `get_client` and `client_unregister` input: the client id.
fn get_client_input(id: &str) -> Result<Vec<u8>> {
    let mut w = denc::Writer::new();
    w.put(id);
    w.finish().map_err(|e| Error::Rados(e.into()))
}

/// `tag_list` input (cls_journal_client.cc `tag_list_start`).
fn tag_list_input(start_after: u64, client_id: &str, tag_class: u64) -> Result<Vec<u8>> {
    let mut w = denc::Writer::new();
    w.put_u64(start_after);
    w.put_u64(TAG_LIST_MAX);
    w.put(client_id);
    w.put(&Some(tag_class));
    w.finish().map_err(|e| Error::Rados(e.into()))
}

/// The mirror uuid owning image `image_id`'s journal (`Journal<I>::get_tag_owner`):
/// [`LOCAL_MIRROR_UUID`], [`ORPHAN_MIRROR_UUID`] or a peer's uuid. ENOENT when the
/// journal or its image client is missing or it has no tag; EINVAL when the client
/// is not an image client.
pub async fn tag_owner(io: &IoCtx, image_id: &str) -> Result<String> {
    let oid = journal_header_object(image_id);
    let client = decode_get_client(
        &io.exec(
            &oid,
            JOURNAL_CLASS,
            "get_client",
            &get_client_input(IMAGE_CLIENT_ID)?,
        )
        .await?,
    )?;
    let tag_class = decode_image_client_tag_class(&client.data)?.ok_or(Error::InvalidArgument(
        "the journal's image client has no image meta",
    ))?;
    // JournalMetadata::get_tags from the start, 64 at a time, until a short page
    let mut newest: Option<JournalTag> = None;
    let mut start_after = 0;
    loop {
        let input = tag_list_input(start_after, IMAGE_CLIENT_ID, tag_class)?;
        let page = decode_tag_list(&io.exec(&oid, JOURNAL_CLASS, "tag_list", &input).await?)?;
        let full = page.len() as u64 >= TAG_LIST_MAX;
        for tag in page {
            start_after = start_after.max(tag.tid);
            if newest.as_ref().is_none_or(|n| tag.tid > n.tid) {
                newest = Some(tag);
            }
        }
        if !full {
            break;
        }
    }
    // (C_DecodeTags: "no journal tags retrieved")
    let tag = newest.ok_or(Error::Rados(rados::Error::Osd {
        errno: rados::Errno::ENOENT,
        failed_op: None,
    }))?;
    decode_tag_mirror_uuid(&tag.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured from Pacific 16.2.15 (`rados listomapvals journal.<id>`: the header keeps
    // the records as `get_client` and `tag_list` return them) after `rbd feature enable
    // img journaling; rbd mirror image enable img journal; rbd mirror image demote img`:
    // the image client, and its three tags (created, mirroring enabled, demoted).
    const CLIENT: &str = "010144000000000000001300000002010d000000000000000000000000000000000101220000000100000001011800000000000000000000000200000000000000000000000000000000";
    const TAGS: [&str; 3] = [
        "01012d000000000000000000000000000000000000001900000000000000000000000000000000000000000000000000000000",
        "01012d000000010000000000000000000000000000001900000000000000000000000000000000000000000000000000000000",
        "0101350000000200000000000000000000000000000021000000080000003c6f727068616e3e000000000000000000000000000000000000000000",
    ];

    #[test]
    fn real_journal_records_decode() {
        let client = decode_get_client(&unhex(CLIENT)).unwrap();
        assert_eq!((client.id.as_str(), client.state), ("", 0));
        // (ClientData is encoded as v2, compat 1)
        assert_eq!(decode_client_meta_type(&client.data).unwrap(), 0);
        assert_eq!(
            decode_image_client_tag_class(&client.data).unwrap(),
            Some(0)
        );
        let mut reply = 3u32.to_le_bytes().to_vec();
        for t in TAGS {
            reply.extend(unhex(t));
        }
        let tags = decode_tag_list(&reply).unwrap();
        assert_eq!(
            tags.iter().map(|t| t.tid).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(tags.iter().all(|t| t.tag_class == 0));
        let owners: Vec<String> = tags
            .iter()
            .map(|t| decode_tag_mirror_uuid(&t.data).unwrap())
            .collect();
        assert_eq!(owners, vec!["", "", ORPHAN_MIRROR_UUID]);
        let mut list = 1u32.to_le_bytes().to_vec();
        list.extend(unhex(CLIENT));
        assert_eq!(decode_client_list(&list).unwrap(), vec![client]);
        for n in 0..reply.len() {
            assert!(decode_tag_list(&reply[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn hand_made_records_decode() {
        // Client "": data = ClientData{ImageClientMeta{tag_class 3, resync false}}
        let mut meta = denc::Writer::new();
        meta.versioned(1, 1, |w| {
            w.put_u32(0);
            w.put_u64(3);
            w.put_bool(false);
        });
        let meta = Bytes::from(meta.finish().unwrap());
        let mut c = denc::Writer::new();
        c.versioned(1, 1, |w| {
            w.put("");
            w.put(&meta);
            w.versioned(1, 1, |w| w.put_u32(0));
            w.put_u8(0);
        });
        let c = c.finish().unwrap();
        let client = decode_get_client(&c).unwrap();
        assert_eq!(client.id, "");
        assert_eq!(
            decode_image_client_tag_class(&client.data).unwrap(),
            Some(3)
        );
        for n in 0..c.len() {
            assert!(decode_get_client(&c[..n]).is_err(), "prefix {n}");
        }
        // two tags, the newest owned by nobody
        let tag_data = |uuid: &str| {
            let mut w = denc::Writer::new();
            w.put(uuid);
            w.put("");
            w.put_bool(false);
            w.put_u64(0);
            w.put_u64(0);
            Bytes::from(w.finish().unwrap())
        };
        let mut l = denc::Writer::new();
        l.put_u32(2);
        for (tid, uuid) in [(1u64, LOCAL_MIRROR_UUID), (2, ORPHAN_MIRROR_UUID)] {
            l.versioned(1, 1, |w| {
                w.put_u64(tid);
                w.put_u64(3);
                w.put(&tag_data(uuid));
            });
        }
        let l = l.finish().unwrap();
        let tags = decode_tag_list(&l).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(decode_tag_mirror_uuid(&tags[1].data).unwrap(), "<orphan>");
        assert_eq!(decode_tag_mirror_uuid(&tags[0].data).unwrap(), "");
        for n in 0..l.len() {
            assert!(decode_tag_list(&l[..n]).is_err(), "prefix {n}");
        }
        // a huge count is refused before allocating
        assert!(decode_tag_list(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn mirror_peer_sync_points_decode() {
        let points = vec![
            MirrorPeerSyncPoint {
                snap_name: ".rbd-mirror.peer.1".into(),
                namespace: SnapshotNamespace::User,
            },
            MirrorPeerSyncPoint {
                snap_name: "g".into(),
                namespace: SnapshotNamespace::Trash {
                    original_name: "x".into(),
                    original_type: 0,
                },
            },
        ];
        let data = encode_mirror_peer_client_data("abc", &points);
        assert_eq!(decode_client_meta_type(&data).unwrap(), 1);
        assert_eq!(
            decode_mirror_peer_sync_points(&data).unwrap(),
            Some(points.clone())
        );
        for n in 0..data.len() {
            assert!(
                decode_mirror_peer_sync_points(&data[..n]).is_err(),
                "prefix {n}"
            );
        }
        // version 1 (before namespaces): an object number, the user namespace implied
        let mut w = denc::Writer::new();
        w.versioned(1, 1, |w| {
            w.put_u32(MIRROR_PEER_CLIENT_META_TYPE);
            w.put("abc");
            w.put_u32(1);
            w.put_u64(9);
            w.put_u32(1);
            w.put("s1");
            w.put("s0");
            w.put(&Some(7u64));
            w.put_u32(0);
        });
        let v1 = w.finish().unwrap();
        assert_eq!(
            decode_mirror_peer_sync_points(&v1).unwrap(),
            Some(vec![MirrorPeerSyncPoint {
                snap_name: "s1".into(),
                namespace: SnapshotNamespace::User,
            }])
        );
        // an image client is not a peer; a huge count is refused before allocating
        let client = decode_get_client(&unhex(CLIENT)).unwrap();
        assert_eq!(decode_mirror_peer_sync_points(&client.data).unwrap(), None);
        let mut huge = denc::Writer::new();
        huge.versioned(2, 1, |w| {
            w.put_u32(MIRROR_PEER_CLIENT_META_TYPE);
            w.put("");
            w.put_u32(0);
            w.put_u64(0);
            w.put_u32(u32::MAX);
        });
        assert!(decode_mirror_peer_sync_points(&huge.finish().unwrap()).is_err());
    }
}
