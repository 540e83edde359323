//! Bodies of the fuzz targets (the `fuzz/` crate calls these): the decoders of what OSDs
//! and monitors send the OSD client. Each must never panic and keep memory bounded
//! whatever the input.

use bytes::Bytes;

use crate::cls::lock::{LockInfo, LockList};
use crate::list::ListCursor;
use crate::messages::{
    ListPosition, MGetPoolStatsReply, MOsdBackoff, MOsdMap, MOsdOpReply, MPoolOpReply,
    MWatchNotify, MessageCodec, NotifyReplies, PgNlsResponse, decode_message, encode_message,
};
use crate::monc::maps::OsdMapTracker;
use crate::osd::listing::ListState;
use crate::osd::ops::{OutKind, decode_output};
use crate::osd::types::{SnapSet, WatcherList};

/// Every way an op's out-data is decoded.
const KINDS: [OutKind; 10] = [
    OutKind::Nothing,
    OutKind::Bytes,
    OutKind::Sparse,
    OutKind::Stat,
    OutKind::Xattrs,
    OutKind::OmapKeys { max: 16 },
    OutKind::OmapVals { max: 16 },
    OutKind::OmapValsByKeys,
    OutKind::Snaps,
    OutKind::Watchers,
];

/// A message of type `M` from fuzz input: the first byte picks the header version, the
/// second how many trailing bytes form the data segment; the rest is the front.
fn message<M: MessageCodec>(data: &[u8]) -> Option<msgr2::Message> {
    let (&version, rest) = data.split_first()?;
    let (&data_len, rest) = rest.split_first()?;
    let split = rest.len().saturating_sub(usize::from(data_len));
    let (front, tail) = rest.split_at(split);
    let mut msg = msgr2::Message::new(
        M::TYPE,
        u16::from(version % 12),
        1,
        Bytes::copy_from_slice(front),
    );
    msg.data = Bytes::copy_from_slice(tail);
    Some(msg)
}

/// `MOSDOpReply` and every op out-data decoder over its segments.
pub fn osd_op_reply(data: &[u8]) {
    let Some(msg) = message::<MOsdOpReply>(data) else {
        return;
    };
    if let Ok(reply) = decode_message::<MOsdOpReply>(&msg) {
        if let Some(outs) = reply.outdata() {
            for (out, kind) in outs.into_iter().zip(KINDS.iter().cycle()) {
                let _ = decode_output(*kind, 0, out);
            }
        }
        let _ = encode_message(&reply, 1, denc::features::ALL);
    }
}

/// Op out-data decoders (and the lock class's replies) on raw bytes.
pub fn op_outputs(data: &[u8]) {
    let out = Bytes::copy_from_slice(data);
    for kind in KINDS {
        let _ = decode_output(kind, 0, out.clone());
    }
    let _ = denc::decode_exact::<SnapSet>(data);
    let _ = denc::decode_exact::<WatcherList>(data);
    let _ = denc::decode_exact::<LockInfo>(data);
    let _ = denc::decode_exact::<LockList>(data);
}

/// A PGNLS op's out-data (`pg_nls_response_t`, maybe a legacy trailer): what decodes
/// re-encodes to a value that decodes the same, and drives a listing (as the answer to
/// its first request and to one from the middle of the pool); listing cursors from raw
/// bytes and from text.
pub fn pg_nls_reply(data: &[u8]) {
    if let Ok(response) = PgNlsResponse::decode_outdata(data) {
        let again = denc::encode_to_vec(&response)
            .ok()
            .and_then(|bytes| PgNlsResponse::decode_outdata(&bytes).ok());
        assert_eq!(
            again.as_ref(),
            Some(&response),
            "pg_nls_response_t round trip"
        );
        let pool = if response.handle.max {
            1
        } else {
            response.handle.pool
        };
        let middle = ListPosition {
            hash: 0x8000_0000,
            pool,
            ..ListPosition::default()
        };
        for start in [ListPosition::min(), middle] {
            let mut state = ListState::new(pool, 4, start);
            if state.next_request().is_some() && state.handle_response(response.clone()).is_ok() {
                let _ = state.next_request();
                let _ = state.take_page();
                let cursor = ListCursor::from(state.cursor().clone());
                let text = cursor.to_string();
                assert_eq!(text.parse::<ListCursor>().ok(), Some(cursor));
            }
        }
    }
    if let Ok(cursor) = ListCursor::from_bytes(data) {
        assert_eq!(
            ListCursor::from_bytes(&cursor.to_bytes()).ok(),
            Some(cursor)
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<ListCursor>();
    }
}

/// `MOSDBackoff`, and the acknowledgement we would send.
pub fn osd_backoff(data: &[u8]) {
    let Some(msg) = message::<MOsdBackoff>(data) else {
        return;
    };
    if let Ok(m) = decode_message::<MOsdBackoff>(&msg) {
        let _ = encode_message(&m.ack(), 0, denc::features::ALL);
    }
}

/// `MOSDMap`, applied to an empty map tracker (full maps and incrementals decode).
pub fn osd_map(data: &[u8]) {
    let Some(msg) = message::<MOsdMap>(data) else {
        return;
    };
    if let Ok(m) = decode_message::<MOsdMap>(&msg) {
        let mut tracker = OsdMapTracker::default();
        let _ = tracker.handle(&m, None);
        let _ = tracker.handle(&m, None);
    }
}

/// `MWatchNotify` and the notify replies in its data segment; what decodes re-encodes
/// to the same value.
pub fn watch_notify(data: &[u8]) {
    let Some(msg) = message::<MWatchNotify>(data) else {
        return;
    };
    if let Ok(m) = decode_message::<MWatchNotify>(&msg) {
        if let Ok(replies) = NotifyReplies::decode(&m.data) {
            let again = NotifyReplies::decode(&replies.encode());
            assert_eq!(
                again.ok().as_ref(),
                Some(&replies),
                "notify replies re-encode"
            );
        }
        let _ = encode_message(&m, 0, denc::features::ALL);
    }
}

/// `MPoolOpReply` and `MGetPoolStatsReply`.
pub fn pool_op_reply(data: &[u8]) {
    if let Some(msg) = message::<MPoolOpReply>(data) {
        let _ = decode_message::<MPoolOpReply>(&msg);
    }
    if let Some(msg) = message::<MGetPoolStatsReply>(data) {
        let _ = decode_message::<MGetPoolStatsReply>(&msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_survive_garbage() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..300usize {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect();
            osd_op_reply(&data);
            op_outputs(&data);
            osd_backoff(&data);
            osd_map(&data);
            pool_op_reply(&data);
            watch_notify(&data);
            pg_nls_reply(&data);
        }
    }

    #[test]
    fn pg_nls_body_on_real_samples_and_mutations() {
        let mut rng = denc::testing::TestRng::new(7);
        for sample in denc::testing::samples("pg_nls_response_t") {
            pg_nls_reply(&sample.bytes);
            for _ in 0..200 {
                let mut m = sample.bytes.clone();
                denc::testing::mutate(&mut rng, &mut m);
                pg_nls_reply(&m);
            }
        }
    }
}
