//! The header of messages to Paxos services (src/messages/PaxosServiceMessage.h
//! `paxos_encode` / `paxos_decode`).

use denc::{Decode, Encode, Reader, Writer};

/// `PaxosServiceMessage`'s prefix: the service version the sender has, and two fields kept
/// for compatibility (a client sends `-1` and `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaxosHeader {
    /// The Paxos version the sender knows (0 from clients).
    pub version: u64,
    /// `deprecated_session_mon` (-1).
    pub deprecated_session_mon: i16,
    /// `deprecated_session_mon_tid` (0).
    pub deprecated_session_mon_tid: u64,
}

impl Default for PaxosHeader {
    fn default() -> Self {
        PaxosHeader {
            version: 0,
            deprecated_session_mon: -1,
            deprecated_session_mon_tid: 0,
        }
    }
}

impl Decode for PaxosHeader {
    const MIN_LEN: usize = 18;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        Ok(PaxosHeader {
            version: r.u64()?,
            deprecated_session_mon: r.i16()?,
            deprecated_session_mon_tid: r.u64()?,
        })
    }
}

impl Encode for PaxosHeader {
    fn encode(&self, w: &mut Writer) {
        w.put_u64(self.version);
        w.put_i16(self.deprecated_session_mon);
        w.put_u64(self.deprecated_session_mon_tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_default_layout() {
        let bytes = denc::encode_to_vec(&PaxosHeader::default()).unwrap();
        assert_eq!(
            bytes,
            [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            denc::decode_exact::<PaxosHeader>(&bytes).unwrap(),
            PaxosHeader::default()
        );
    }
}
