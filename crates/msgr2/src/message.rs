//! MESSAGE frames: `ceph_msg_header2` (41 bytes, packed) and the front, middle and data
//! segments (src/include/msgr.h, frames_v2.h `MessageFrame`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;
use crate::frame::{Frame, Tag};

/// `CEPH_MSG_PRIO_DEFAULT`.
pub const PRIO_DEFAULT: u16 = 127;
/// `CEPH_MSG_PRIO_HIGH`.
pub const PRIO_HIGH: u16 = 196;

/// `ceph_msg_header2`: the message header as msgr2 sends it (no source, no lengths, no crcs:
/// the frame carries those).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgHeader2 {
    /// Sequence number in this session (assigned by the connection when sending).
    pub seq: u64,
    /// Transaction id.
    pub tid: u64,
    /// Message type (`CEPH_MSG_*`).
    pub msg_type: u16,
    /// Priority.
    pub priority: u16,
    /// Encoding version of the message.
    pub version: u16,
    /// Always 0 in Ceph.
    pub data_pre_padding_len: u32,
    /// Offset hint of the data (OSD ops use the object offset).
    pub data_off: u16,
    /// Last sequence the sender received (assigned by the connection when sending).
    pub ack_seq: u64,
    /// Footer flags (`CEPH_MSG_FOOTER_*`).
    pub flags: u8,
    /// Oldest version that can decode the message.
    pub compat_version: u16,
    /// Reserved.
    pub reserved: u16,
}

impl MsgHeader2 {
    /// Encoded size.
    pub const LEN: usize = 41;

    /// The packed little-endian encoding.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = BytesMut::with_capacity(Self::LEN);
        b.put_u64_le(self.seq);
        b.put_u64_le(self.tid);
        b.put_u16_le(self.msg_type);
        b.put_u16_le(self.priority);
        b.put_u16_le(self.version);
        b.put_u32_le(self.data_pre_padding_len);
        b.put_u16_le(self.data_off);
        b.put_u64_le(self.ack_seq);
        b.put_u8(self.flags);
        b.put_u16_le(self.compat_version);
        b.put_u16_le(self.reserved);
        let mut out = [0u8; Self::LEN];
        out.copy_from_slice(&b);
        out
    }

    /// Decodes the first 41 bytes (Ceph reads the struct in place and ignores any excess).
    pub fn decode(b: &[u8]) -> Result<Self, Error> {
        let mut r = denc::Reader::new(b);
        let mut h = || -> denc::Result<MsgHeader2> {
            Ok(MsgHeader2 {
                seq: r.u64()?,
                tid: r.u64()?,
                msg_type: r.u16()?,
                priority: r.u16()?,
                version: r.u16()?,
                data_pre_padding_len: r.u32()?,
                data_off: r.u16()?,
                ack_seq: r.u64()?,
                flags: r.u8()?,
                compat_version: r.u16()?,
                reserved: r.u16()?,
            })
        };
        h().map_err(|source| Error::BadPayload {
            tag: Tag::MESSAGE,
            source,
        })
    }
}

/// A Ceph message: header and three payload segments.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: MsgHeader2,
    /// The front (the encoded message struct).
    pub front: Bytes,
    /// The middle (rarely used).
    pub middle: Bytes,
    /// The data (bulk payload, e.g. object data).
    pub data: Bytes,
    /// More of the data segment, after `data`: data assembled from several buffers (an
    /// op's input and the payload it wraps) is sent without being copied into one. Always
    /// empty in received messages.
    pub data_tail: Vec<Bytes>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("header", &self.header)
            .field("front_len", &self.front.len())
            .field("middle_len", &self.middle.len())
            .field("data_len", &self.data_len())
            .finish()
    }
}

impl Message {
    /// A message of `msg_type` with encoding `version`/`compat_version` and a front.
    pub fn new(msg_type: u16, version: u16, compat_version: u16, front: Bytes) -> Self {
        Message {
            header: MsgHeader2 {
                msg_type,
                version,
                compat_version,
                priority: PRIO_DEFAULT,
                ..MsgHeader2::default()
            },
            front,
            ..Message::default()
        }
    }

    /// The same message with a data segment.
    #[must_use]
    pub fn with_data(mut self, data: Bytes) -> Self {
        self.data = data;
        self
    }

    /// The same message with a data segment made of `chunks`, one after the other (not
    /// copied into one buffer).
    #[must_use]
    pub fn with_data_chunks(mut self, chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let mut chunks = chunks.into_iter().filter(|c| !c.is_empty());
        self.data = chunks.next().unwrap_or_default();
        self.data_tail = chunks.collect();
        self
    }

    /// Length of the data segment.
    pub fn data_len(&self) -> usize {
        self.data.len() + self.data_tail.iter().map(Bytes::len).sum::<usize>()
    }

    /// The MESSAGE frame (header as given; the connection fills in seq and ack_seq first).
    pub fn to_frame(&self) -> Frame {
        Frame {
            tag: Tag::MESSAGE,
            segments: [
                Bytes::copy_from_slice(&self.header.encode()),
                self.front.clone(),
                self.middle.clone(),
                self.data.clone(),
            ],
            data_tail: self.data_tail.clone(),
        }
    }

    /// Decodes a MESSAGE frame; the segments are taken over without copying.
    pub fn from_frame(frame: Frame) -> Result<Self, Error> {
        let [header, front, middle, data] = frame.segments;
        Ok(Message {
            header: MsgHeader2::decode(&header)?,
            front,
            middle,
            data,
            data_tail: frame.data_tail,
        })
    }

    /// Bytes of payload (front + middle + data).
    pub fn payload_len(&self) -> usize {
        self.front.len() + self.middle.len() + self.data_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header2_is_41_packed_bytes() {
        let h = MsgHeader2 {
            seq: 0x0102_0304_0506_0708,
            tid: 0x1112_1314_1516_1718,
            msg_type: 0x2122,
            priority: 0x2324,
            version: 0x2526,
            data_pre_padding_len: 0x2728_292a,
            data_off: 0x2b2c,
            ack_seq: 0x3132_3334_3536_3738,
            flags: 0x41,
            compat_version: 0x4243,
            reserved: 0x4445,
        };
        let b = h.encode();
        assert_eq!(b.len(), 41);
        assert_eq!(&b[0..8], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&b[16..18], &[0x22, 0x21]);
        assert_eq!(&b[22..26], &[0x2a, 0x29, 0x28, 0x27]);
        assert_eq!(&b[26..28], &[0x2c, 0x2b]);
        assert_eq!(&b[28..36], &0x3132_3334_3536_3738u64.to_le_bytes());
        assert_eq!(b[36], 0x41);
        assert_eq!(&b[37..41], &[0x43, 0x42, 0x45, 0x44]);
        assert_eq!(MsgHeader2::decode(&b).unwrap(), h);
        assert!(MsgHeader2::decode(&b[..40]).is_err());
    }

    #[test]
    fn message_round_trips_through_a_frame() {
        let m = Message::new(42, 8, 3, Bytes::from_static(b"front"))
            .with_data(Bytes::from_static(b"data"));
        let f = m.to_frame();
        assert_eq!(f.num_segments(), 4);
        let back = Message::from_frame(f).unwrap();
        assert_eq!(back, m);
    }
}
