//! The msgr2 banner: `ceph v2\n`, le16 payload length, le64 supported and le64 required
//! msgr2 features (src/include/msgr.h, ProtocolV2.cc `_banner_exchange`).

use crate::error::Error;

/// The banner prefix.
pub const PREFIX: &[u8; 8] = b"ceph v2\n";
/// The messenger v1 banner (`CEPH_BANNER`).
pub const MSGR1_BANNER: &[u8; 9] = b"ceph v027";

/// msgr2 feature bit 0: msgr2.1 (`CEPH_MSGR2_FEATURE_REVISION_1`).
pub const FEATURE_REVISION_1: u64 = 1 << 0;
/// msgr2 feature bit 1: on-wire compression (`CEPH_MSGR2_FEATURE_COMPRESSION`, Quincy+).
pub const FEATURE_COMPRESSION: u64 = 1 << 1;

/// Encoded length of our banner.
pub const LEN: usize = PREFIX.len() + 2 + 16;

/// A banner's feature words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Banner {
    /// Features the sender supports.
    pub supported: u64,
    /// Features the sender requires.
    pub required: u64,
}

impl Banner {
    /// The wire form.
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        let (prefix, rest) = b.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX);
        let (len, rest) = rest.split_at_mut(2);
        len.copy_from_slice(&16u16.to_le_bytes());
        let (sup, req) = rest.split_at_mut(8);
        sup.copy_from_slice(&self.supported.to_le_bytes());
        req.copy_from_slice(&self.required.to_le_bytes());
        b
    }

    /// Parses a banner from the front of `input`: `Ok(None)` if more bytes are needed,
    /// otherwise the banner and the number of bytes it took (the payload may be longer than
    /// 16 bytes; the excess is ignored, as Ceph does).
    pub fn decode(input: &[u8]) -> Result<Option<(Banner, usize)>, Error> {
        let seen = input.len().min(PREFIX.len());
        let head = input.get(..seen).unwrap_or_default();
        if head != PREFIX.get(..seen).unwrap_or_default() {
            // tell msgr1 apart once we have enough bytes (or all we will get)
            let m1 = input.len().min(MSGR1_BANNER.len());
            if input.get(..m1) == MSGR1_BANNER.get(..m1) {
                return if m1 == MSGR1_BANNER.len() {
                    Err(Error::Msgr1Peer)
                } else {
                    Ok(None)
                };
            }
            return Err(Error::BadBanner);
        }
        let Some(len_bytes) = input.get(PREFIX.len()..PREFIX.len() + 2) else {
            return Ok(None);
        };
        let payload_len = u16::from_le_bytes([
            len_bytes.first().copied().unwrap_or(0),
            len_bytes.get(1).copied().unwrap_or(0),
        ]);
        if payload_len < 16 {
            return Err(Error::BannerTooShort(payload_len));
        }
        let start = PREFIX.len() + 2;
        let end = start + usize::from(payload_len);
        let Some(payload) = input.get(start..end) else {
            return Ok(None);
        };
        let mut r = denc::Reader::new(payload);
        let (supported, required) = match (r.u64(), r.u64()) {
            (Ok(s), Ok(q)) => (s, q),
            _ => return Err(Error::BannerTooShort(payload_len)),
        };
        Ok(Some((
            Banner {
                supported,
                required,
            },
            end,
        )))
    }

    /// Ceph's checks between our banner and the peer's (`_handle_peer_banner_payload`).
    pub fn check_peer(&self, peer: &Banner) -> Result<(), Error> {
        let missing = self.required & !peer.supported;
        if missing != 0 {
            return Err(Error::PeerLacksFeatures { missing });
        }
        let missing = peer.required & !self.supported;
        if missing != 0 {
            return Err(Error::PeerRequiresFeatures { missing });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_ceph() {
        let b = Banner {
            supported: FEATURE_REVISION_1 | FEATURE_COMPRESSION,
            required: 0,
        };
        let wire = b.encode();
        assert_eq!(&wire[..8], b"ceph v2\n");
        assert_eq!(&wire[8..10], &[16, 0]);
        assert_eq!(&wire[10..18], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&wire[18..26], &[0; 8]);
        assert_eq!(Banner::decode(&wire).unwrap(), Some((b, 26)));
    }

    #[test]
    fn needs_more_until_complete() {
        let wire = Banner {
            supported: 1,
            required: 0,
        }
        .encode();
        for n in 0..wire.len() {
            assert_eq!(Banner::decode(&wire[..n]).unwrap(), None, "{n}");
        }
    }

    #[test]
    fn recognises_msgr1() {
        let v1 = b"ceph v027\x00\x00\x00\x00\x00";
        assert_eq!(Banner::decode(&v1[..8]).unwrap(), None);
        assert!(matches!(Banner::decode(v1), Err(Error::Msgr1Peer)));
        assert!(matches!(
            Banner::decode(b"HTTP/1.1 400"),
            Err(Error::BadBanner)
        ));
        assert!(matches!(Banner::decode(b"GET"), Err(Error::BadBanner)));
    }

    #[test]
    fn longer_payload_is_accepted_and_short_refused() {
        let mut wire = b"ceph v2\n".to_vec();
        wire.extend_from_slice(&24u16.to_le_bytes());
        wire.extend_from_slice(&1u64.to_le_bytes());
        wire.extend_from_slice(&0u64.to_le_bytes());
        wire.extend_from_slice(&[9; 8]);
        let (b, used) = Banner::decode(&wire).unwrap().unwrap();
        assert_eq!((b.supported, b.required, used), (1, 0, 34));
        let mut short = b"ceph v2\n".to_vec();
        short.extend_from_slice(&8u16.to_le_bytes());
        assert!(matches!(
            Banner::decode(&short),
            Err(Error::BannerTooShort(8))
        ));
    }

    #[test]
    fn feature_checks() {
        let ours = Banner {
            supported: FEATURE_REVISION_1,
            required: FEATURE_REVISION_1,
        };
        let pacific = Banner {
            supported: FEATURE_REVISION_1,
            required: 0,
        };
        assert!(ours.check_peer(&pacific).is_ok());
        let nautilus_early = Banner {
            supported: 0,
            required: 0,
        };
        assert!(matches!(
            ours.check_peer(&nautilus_early),
            Err(Error::PeerLacksFeatures { missing: 1 })
        ));
        let future = Banner {
            supported: 0xff,
            required: 0x80,
        };
        assert!(matches!(
            ours.check_peer(&future),
            Err(Error::PeerRequiresFeatures { missing: 0x80 })
        ));
    }
}
