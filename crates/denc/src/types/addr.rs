//! Network addresses: `entity_addr_t`, `entity_addrvec_t` and `entity_inst_t`
//! (src/msg/msg_types.h, src/msg/msg_types.cc).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use crate::features;
use crate::{Decode, DecodeErrorKind, Encode, Reader, Result, Writer};

use super::EntityName;

/// Which messenger protocol an address speaks (`entity_addr_t::TYPE_*`). Unknown values are
/// kept as they are.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrType(pub u32);

impl AddrType {
    /// No address.
    pub const NONE: AddrType = AddrType(0);
    /// Messenger v1 (`v1:`).
    pub const LEGACY: AddrType = AddrType(1);
    /// Messenger v2 (`v2:`).
    pub const MSGR2: AddrType = AddrType(2);
    /// Either protocol (`any:`).
    pub const ANY: AddrType = AddrType(3);
    /// A CIDR network, in blocklists (`cidr:`).
    pub const CIDR: AddrType = AddrType(4);

    fn prefix(self) -> Option<&'static str> {
        Some(match self {
            AddrType::NONE => "none",
            AddrType::LEGACY => "v1",
            AddrType::MSGR2 => "v2",
            AddrType::ANY => "any",
            AddrType::CIDR => "cidr",
            _ => return None,
        })
    }
}

impl fmt::Debug for AddrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix() {
            Some(p) => f.write_str(p),
            None => write!(f, "AddrType({})", self.0),
        }
    }
}

/// Linux's `AF_INET`, as it appears on the wire.
const AF_INET: u16 = 2;
/// Linux's `AF_INET6`, as it appears on the wire.
const AF_INET6: u16 = 10;
/// Bytes of a `sockaddr_in6` after its family (Ceph keeps a `sockaddr`/`sockaddr_in`/
/// `sockaddr_in6` union; this is its size minus the family).
const SOCKADDR_DATA_LEN: usize = 26;
/// Size of the `sockaddr_storage` in the legacy encoding.
const LEGACY_SOCKADDR_STORAGE_LEN: usize = 128;

/// A messenger address, `entity_addr_t`: protocol type, nonce (distinguishes process
/// instances) and a socket address.
///
/// The socket address is kept as Ceph keeps it, the family and the raw bytes after it (port
/// and address in network byte order), so that any address decodes and re-encodes exactly;
/// [`EntityAddr::socket_addr`] gives the `std` view.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityAddr {
    /// Protocol of the address.
    pub addr_type: AddrType,
    /// Nonce of the process instance.
    pub nonce: u32,
    family: u16,
    data: [u8; SOCKADDR_DATA_LEN],
}

impl EntityAddr {
    /// An address of `addr_type` at `addr` with `nonce`.
    pub fn new(addr_type: AddrType, addr: SocketAddr, nonce: u32) -> Self {
        let mut data = [0u8; SOCKADDR_DATA_LEN];
        let family = match addr {
            SocketAddr::V4(a) => {
                data[..2].copy_from_slice(&a.port().to_be_bytes());
                data[2..6].copy_from_slice(&a.ip().octets());
                AF_INET
            }
            SocketAddr::V6(a) => {
                // sockaddr_in6: port, flowinfo, address, scope id
                data[..2].copy_from_slice(&a.port().to_be_bytes());
                data[2..6].copy_from_slice(&a.flowinfo().to_be_bytes());
                data[6..22].copy_from_slice(&a.ip().octets());
                data[22..26].copy_from_slice(&a.scope_id().to_ne_bytes());
                AF_INET6
            }
        };
        EntityAddr {
            addr_type,
            nonce,
            family,
            data,
        }
    }

    /// The socket address, if the family is IPv4 or IPv6.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let d = &self.data;
        let port = u16::from_be_bytes([d[0], d[1]]);
        match self.family {
            AF_INET => {
                let ip = Ipv4Addr::new(d[2], d[3], d[4], d[5]);
                Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            AF_INET6 => {
                let flowinfo = u32::from_be_bytes([d[2], d[3], d[4], d[5]]);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&d[6..22]);
                let scope = u32::from_ne_bytes([d[22], d[23], d[24], d[25]]);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flowinfo,
                    scope,
                )))
            }
            _ => None,
        }
    }

    /// The address family as on the wire (2 = IPv4, 10 = IPv6, 0 = unset).
    pub fn family(&self) -> u16 {
        self.family
    }

    /// The IP address, if any.
    pub fn ip(&self) -> Option<IpAddr> {
        self.socket_addr().map(|a| a.ip())
    }

    /// The port (0 when there is no IP address).
    pub fn port(&self) -> u16 {
        self.socket_addr().map_or(0, |a| a.port())
    }

    /// The same address with another port.
    #[must_use]
    pub fn with_port(&self, port: u16) -> Self {
        match self.socket_addr() {
            Some(mut a) => {
                a.set_port(port);
                EntityAddr::new(self.addr_type, a, self.nonce)
            }
            None => *self,
        }
    }

    /// True for messenger v2 addresses.
    pub fn is_msgr2(&self) -> bool {
        self.addr_type == AddrType::MSGR2
    }

    /// Bytes of the socket address Ceph encodes (`get_sockaddr_len`): the size of
    /// `sockaddr_in` or `sockaddr_in6`, or of the whole union for other families.
    fn sockaddr_len(family: u16) -> usize {
        match family {
            AF_INET => 16,
            _ => 2 + SOCKADDR_DATA_LEN,
        }
    }

    /// Decodes the legacy form after its first marker byte (`decode_legacy_addr_after_marker`):
    /// three more marker bytes, nonce, a 128-byte `sockaddr_storage` with a big-endian family.
    fn decode_legacy_after_marker(r: &mut Reader<'_>) -> Result<Self> {
        r.skip(3)?;
        let nonce = r.u32()?;
        let storage: [u8; LEGACY_SOCKADDR_STORAGE_LEN] = r.array()?;
        let [f0, f1, sockaddr_data @ ..] = storage;
        let family = u16::from_be_bytes([f0, f1]);
        let mut addr = EntityAddr {
            nonce,
            ..EntityAddr::default()
        };
        // like Ceph's set_sockaddr: only IPv4 and IPv6 addresses are kept
        if family == AF_INET || family == AF_INET6 {
            let len = Self::sockaddr_len(family) - 2;
            addr.family = family;
            for (dst, src) in addr.data.iter_mut().zip(sockaddr_data).take(len) {
                *dst = src;
            }
            addr.addr_type = AddrType::LEGACY;
        }
        Ok(addr)
    }

    /// Decodes the modern body (inside the versioned envelope).
    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let addr_type = AddrType(r.u32()?);
        let nonce = r.u32()?;
        let elen = r.u32()?;
        let mut addr = EntityAddr {
            addr_type,
            nonce,
            ..EntityAddr::default()
        };
        if elen != 0 {
            if elen < 2 {
                return Err(r.error(DecodeErrorKind::Malformed(
                    "sockaddr length smaller than its family",
                )));
            }
            addr.family = r.u16()?;
            let max = Self::sockaddr_len(addr.family);
            let elen = elen as usize;
            if elen > max {
                return Err(r.error(DecodeErrorKind::Malformed(
                    "sockaddr length exceeds the size of its family's sockaddr",
                )));
            }
            // elen - 2 <= SOCKADDR_DATA_LEN was checked above
            let bytes = r.take(elen - 2)?;
            for (dst, src) in addr.data.iter_mut().zip(bytes) {
                *dst = *src;
            }
        }
        Ok(addr)
    }

    fn encode_legacy(&self, w: &mut Writer) {
        w.put_u32(0);
        w.put_u32(self.nonce);
        let mut storage = [0u8; LEGACY_SOCKADDR_STORAGE_LEN];
        storage[..2].copy_from_slice(&self.family.to_be_bytes());
        storage[2..2 + SOCKADDR_DATA_LEN].copy_from_slice(&self.data);
        w.put_bytes(&storage);
    }
}

impl Decode for EntityAddr {
    const MIN_LEN: usize = 1 + 6 + 12;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("entity_addr_t", |r| match r.u8()? {
            0 => Self::decode_legacy_after_marker(r),
            1 => r.versioned("entity_addr_t", 1, |_, r| Self::decode_body(r)),
            marker => Err(r.invalid("entity_addr_t marker", u64::from(marker))),
        })
    }
}

impl Encode for EntityAddr {
    fn encode(&self, w: &mut Writer) {
        if !w.has_features(features::MSG_ADDR2) {
            return self.encode_legacy(w);
        }
        w.put_u8(1);
        w.versioned(1, 1, |w| {
            // pre-Nautilus peers do not know "any"
            let ty =
                if self.addr_type == AddrType::ANY && !w.has_features(features::SERVER_NAUTILUS) {
                    AddrType::LEGACY
                } else {
                    self.addr_type
                };
            w.put_u32(ty.0);
            w.put_u32(self.nonce);
            let len = Self::sockaddr_len(self.family);
            w.put_len(len);
            w.put_bytes(&self.family.to_le_bytes());
            w.put_bytes(self.data.get(..len - 2).unwrap_or(&self.data));
        });
    }
}

impl fmt::Display for EntityAddr {
    /// Ceph's text form: `v2:127.0.0.1:3300/0`, `v1:[::1]:6789/123`, `-` for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.addr_type == AddrType::NONE {
            return f.write_str("-");
        }
        if self.addr_type != AddrType::ANY {
            match self.addr_type.prefix() {
                Some(p) => write!(f, "{p}:")?,
                None => write!(f, "type{}:", self.addr_type.0)?,
            }
        }
        match self.socket_addr() {
            Some(a) => write!(f, "{a}")?,
            None => f.write_str("-")?,
        }
        write!(f, "/{}", self.nonce)
    }
}

impl fmt::Debug for EntityAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text is not a Ceph address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Ceph address (expected [v1:|v2:|any:]IP[:PORT][/NONCE]): {0:?}")]
pub struct ParseAddrError(pub String);

impl FromStr for EntityAddr {
    type Err = ParseAddrError;

    /// Parses `v2:1.2.3.4:3300/0`, `v1:[::1]:6789`, `1.2.3.4` (type ANY, port 0), ...
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let err = || ParseAddrError(s.to_owned());
        let (addr_type, rest) = if let Some(rest) = s.strip_prefix("v2:") {
            (AddrType::MSGR2, rest)
        } else if let Some(rest) = s.strip_prefix("v1:") {
            (AddrType::LEGACY, rest)
        } else if let Some(rest) = s.strip_prefix("any:") {
            (AddrType::ANY, rest)
        } else {
            (AddrType::ANY, s)
        };
        let (host, nonce) = match rest.rsplit_once('/') {
            Some((host, nonce)) => (host, nonce.parse::<u32>().map_err(|_| err())?),
            None => (rest, 0),
        };
        let socket = if let Ok(a) = host.parse::<SocketAddr>() {
            a
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            SocketAddr::new(ip, 0)
        } else if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            SocketAddr::new(IpAddr::V6(ip.parse().map_err(|_| err())?), 0)
        } else {
            return Err(err());
        };
        Ok(EntityAddr::new(addr_type, socket, nonce))
    }
}

/// The addresses one entity listens on, `entity_addrvec_t` (usually a v2 and a v1 address).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityAddrVec(pub Vec<EntityAddr>);

impl EntityAddrVec {
    /// The first address of `addr_type`.
    pub fn of_type(&self, addr_type: AddrType) -> Option<&EntityAddr> {
        self.0.iter().find(|a| a.addr_type == addr_type)
    }

    /// The messenger v2 address, if any.
    pub fn msgr2(&self) -> Option<&EntityAddr> {
        self.of_type(AddrType::MSGR2)
    }

    /// The legacy address encoded for peers without `MSG_ADDR2` (`legacy_addr`).
    fn legacy(&self) -> EntityAddr {
        self.of_type(AddrType::LEGACY).copied().unwrap_or_default()
    }
}

impl Decode for EntityAddrVec {
    const MIN_LEN: usize = 5;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("entity_addrvec_t", |r| match r.peek_u8()? {
            0 | 1 => Ok(EntityAddrVec(vec![r.decode()?])),
            2 => {
                r.skip(1)?;
                Ok(EntityAddrVec(r.decode()?))
            }
            marker => Err(r.invalid("entity_addrvec_t marker", u64::from(marker))),
        })
    }
}

impl Encode for EntityAddrVec {
    fn encode(&self, w: &mut Writer) {
        if !w.has_features(features::MSG_ADDR2) {
            return self.legacy().encode_legacy(w);
        }
        w.put_u8(2);
        w.put(&self.0);
    }
}

impl fmt::Display for EntityAddrVec {
    /// `[v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]`; a single address prints bare, none prints
    /// nothing (as Ceph prints them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("[")?;
                for (i, a) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// An entity and its address, `entity_inst_t`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityInst {
    /// Who.
    pub name: EntityName,
    /// Where.
    pub addr: EntityAddr,
}

impl Decode for EntityInst {
    const MIN_LEN: usize = EntityName::MIN_LEN + EntityAddr::MIN_LEN;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("entity_inst_t", |r| {
            Ok(EntityInst {
                name: r.decode()?,
                addr: r.decode()?,
            })
        })
    }
}

impl Encode for EntityInst {
    fn encode(&self, w: &mut Writer) {
        w.put(&self.name);
        w.put(&self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_exact, encode_to_vec, encode_with_features};

    #[test]
    fn parses_and_prints_ceph_addresses() {
        let a: EntityAddr = "v2:127.0.0.1:3300/0".parse().unwrap();
        assert_eq!(a.addr_type, AddrType::MSGR2);
        assert_eq!(a.port(), 3300);
        assert_eq!(a.to_string(), "v2:127.0.0.1:3300/0");
        let b: EntityAddr = "v1:[::1]:6789/42".parse().unwrap();
        assert_eq!(b.to_string(), "v1:[::1]:6789/42");
        let c: EntityAddr = "10.0.0.1".parse().unwrap();
        assert_eq!((c.addr_type, c.port()), (AddrType::ANY, 0));
        assert!("v2:nonsense".parse::<EntityAddr>().is_err());
    }

    #[test]
    fn modern_ipv4_layout() {
        let a: EntityAddr = "v2:172.21.64.1:0/744803933".parse().unwrap();
        let wire = encode_to_vec(&a).unwrap();
        // marker, envelope(1,1,len 28), type 2, nonce, sockaddr len 16, family 2 (LE), port, ip, zero
        let mut expect = vec![1, 1, 1, 28, 0, 0, 0, 2, 0, 0, 0];
        expect.extend_from_slice(&744_803_933u32.to_le_bytes());
        expect.extend_from_slice(&[
            16, 0, 0, 0, 2, 0, 0, 0, 172, 21, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(wire, expect);
        assert_eq!(decode_exact::<EntityAddr>(&wire).unwrap(), a);
    }

    #[test]
    fn legacy_form_round_trips_through_features() {
        let a: EntityAddr = "v1:10.1.2.3:6789/7".parse().unwrap();
        let wire = encode_with_features(&a, 0).unwrap();
        assert_eq!(wire.len(), 4 + 4 + 128);
        assert_eq!(&wire[8..10], &[0, 2], "legacy family is big-endian");
        assert_eq!(decode_exact::<EntityAddr>(&wire).unwrap(), a);
        // an addrvec without MSG_ADDR2 is its legacy address alone
        let v = EntityAddrVec(vec!["v2:10.1.2.3:3300/7".parse().unwrap(), a]);
        assert_eq!(encode_with_features(&v, 0).unwrap(), wire);
        assert_eq!(decode_exact::<EntityAddrVec>(&wire).unwrap().0, vec![a]);
    }

    #[test]
    fn refuses_oversized_sockaddr() {
        // elen 29 for an IPv6 family (max 28)
        let mut wire = vec![
            1, 1, 1, 41, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 29, 0, 0, 0, 10, 0,
        ];
        wire.extend_from_slice(&[0; 27]);
        let err = decode_exact::<EntityAddr>(&wire).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::Malformed(_)), "{err}");
    }

    #[test]
    fn ipv6_round_trip() {
        let a: EntityAddr = "v2:[fe80::1]:3300/9".parse().unwrap();
        let wire = encode_to_vec(&a).unwrap();
        assert_eq!(decode_exact::<EntityAddr>(&wire).unwrap(), a);
        assert_eq!(a.ip().unwrap().to_string(), "fe80::1");
    }
}
