//! Service tickets and the ticket store (src/auth/cephx/CephxProtocol.cc `CephXTicketHandler`,
//! `CephXTicketManager`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::BitOr;

use bytes::Bytes;
use denc::{Decode, EntityType, Reader, UTime};

use crate::crypto::{Cipher, KeyUsage};
use crate::envelope::decode_decrypt;
use crate::error::{CephxError, Result};
use crate::key::{CryptoKey, KeyType};
use crate::protocol::{CephXServiceTicket, CephXTicketBlob};

/// A set of services as entity type bits (`CEPH_ENTITY_TYPE_*`), the form CephX uses for
/// "which tickets": `other_keys`, `CephXServiceTicketRequest::keys`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ServiceSet(pub u32);

impl ServiceSet {
    /// No services.
    pub const EMPTY: ServiceSet = ServiceSet(0);
    /// Monitors.
    pub const MON: ServiceSet = ServiceSet(0x01);
    /// Metadata servers.
    pub const MDS: ServiceSet = ServiceSet(0x02);
    /// OSDs.
    pub const OSD: ServiceSet = ServiceSet(0x04);
    /// Managers.
    pub const MGR: ServiceSet = ServiceSet(0x10);
    /// The auth service itself (the AUTH ticket).
    pub const AUTH: ServiceSet = ServiceSet(0x20);
    /// What librados asks for (src/librados/RadosClient.cc `set_want_keys`): MON, OSD, MGR.
    pub const LIBRADOS: ServiceSet = ServiceSet(0x01 | 0x04 | 0x10);

    /// The set holding just `service`.
    pub fn of(service: EntityType) -> ServiceSet {
        ServiceSet(u32::from(service.0))
    }

    /// True if `service` is in the set.
    pub fn contains(self, service: EntityType) -> bool {
        let bit = u32::from(service.0);
        bit != 0 && self.0 & bit == bit
    }

    /// True if no service is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set without `other`'s services.
    #[must_use]
    pub fn without(self, other: ServiceSet) -> ServiceSet {
        ServiceSet(self.0 & !other.0)
    }

    /// The services, lowest bit first (the order Ceph walks them in).
    pub fn iter(self) -> impl Iterator<Item = EntityType> {
        (0..8u8)
            .map(|bit| 1u8 << bit)
            .filter(move |b| self.0 & u32::from(*b) != 0)
            .map(EntityType)
    }
}

impl BitOr for ServiceSet {
    type Output = ServiceSet;
    fn bitor(self, rhs: ServiceSet) -> ServiceSet {
        ServiceSet(self.0 | rhs.0)
    }
}

impl fmt::Debug for ServiceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A ticket for one service: the session key the client shares with it, the opaque ticket
/// blob to present, and when it must be renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTicket {
    /// The service (`MON`, `OSD`, `MGR`, `AUTH`).
    pub service: EntityType,
    /// Shared with the service; its secret is the HMAC key of msgr2's AUTH_SIGNATURE on
    /// connections authorized with this ticket.
    pub session_key: CryptoKey,
    /// Presented to the service in authorizers (or to the monitor, for the AUTH ticket).
    pub ticket: CephXTicketBlob,
    /// Lifetime the monitor granted.
    pub validity: UTime,
    /// Local time the ticket stops working: receipt time + validity.
    pub expires: UTime,
    /// Local time to renew it: three quarters of the way (expires - validity/4), as Ceph and
    /// the kernel client do.
    pub renew_after: UTime,
}

impl ServiceTicket {
    /// True until the ticket expires.
    pub fn is_valid(&self, now: UTime) -> bool {
        now < self.expires
    }

    /// True once the ticket should be renewed (or has expired).
    pub fn needs_renewal(&self, now: UTime) -> bool {
        !self.is_valid(now) || now >= self.renew_after
    }
}

/// The tickets of one client identity, with its global id. Keep it across reconnections:
/// the AUTH ticket in it is what global_id reclaim presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketStore {
    global_id: u64,
    tickets: BTreeMap<EntityType, ServiceTicket>,
}

impl TicketStore {
    /// An empty store.
    pub fn new() -> Self {
        TicketStore::default()
    }

    /// The global id the monitors assigned (0 before the first authentication).
    pub fn global_id(&self) -> u64 {
        self.global_id
    }

    /// Adds or replaces a ticket (fuzzing and tests build stores by hand).
    pub(crate) fn insert(&mut self, ticket: ServiceTicket) {
        self.tickets.insert(ticket.service, ticket);
    }

    pub(crate) fn set_global_id(&mut self, global_id: u64) {
        self.global_id = global_id;
    }

    /// The ticket for `service`, valid or not.
    pub fn get(&self, service: EntityType) -> Option<&ServiceTicket> {
        self.tickets.get(&service)
    }

    /// The ticket for `service` if it has not expired at `now`.
    pub fn valid(&self, service: EntityType, now: UTime) -> Result<&ServiceTicket> {
        self.tickets
            .get(&service)
            .filter(|t| t.is_valid(now))
            .ok_or(CephxError::NoTicket(service))
    }

    /// Every ticket.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceTicket> {
        self.tickets.values()
    }

    /// The services of `want` whose ticket is missing or due for renewal at `now`
    /// (`CephXTicketManager::validate_tickets`).
    pub fn needing_renewal(&self, want: ServiceSet, now: UTime) -> ServiceSet {
        ServiceSet(
            want.iter()
                .filter(|s| self.tickets.get(s).is_none_or(|t| t.needs_renewal(now)))
                .fold(0, |acc, s| acc | u32::from(s.0)),
        )
    }

    /// Decodes a ticket reply (`CephXTicketManager::verify_service_ticket_reply`) and stores
    /// its tickets, all or none. Each entry: le32 service, u8 v, the `CephXServiceTicket`
    /// encrypted with `secret` (bufferlist), u8 encrypted flag, then the `CephXTicketBlob` as
    /// a bufferlist, itself encrypted with the service's previous session key when the flag
    /// is set. Returns the services received.
    pub(crate) fn apply_reply(
        &mut self,
        r: &mut Reader<'_>,
        secret: &Cipher,
        now: UTime,
    ) -> Result<ServiceSet> {
        let _reply_v = r.u8()?;
        // le32 service + u8 v + le32 bufferlist length + u8 flag + le32 bufferlist length
        let count = r.count(14)?;
        let mut received = Vec::with_capacity(count);
        for _ in 0..count {
            received.push(self.decode_entry(r, secret, now)?);
        }
        let mut services = ServiceSet::EMPTY;
        for ticket in received {
            services = services | ServiceSet::of(ticket.service);
            tracing::debug!(
                service = %ticket.service,
                secret_id = ticket.ticket.secret_id,
                validity = %ticket.validity,
                key_type = %ticket.session_key.key_type(),
                "cephx: got ticket"
            );
            self.tickets.insert(ticket.service, ticket);
        }
        Ok(services)
    }

    fn decode_entry(
        &self,
        r: &mut Reader<'_>,
        secret: &Cipher,
        now: UTime,
    ) -> Result<ServiceTicket> {
        let at = r.clone();
        let service_id = r.u32()?;
        let service = u8::try_from(service_id)
            .ok()
            .filter(|s| s.count_ones() == 1)
            .map(EntityType)
            .ok_or_else(|| at.invalid("ticket service id", u64::from(service_id)))?;
        let _ticket_v = r.u8()?;
        let msg_a: CephXServiceTicket = decode_decrypt(secret, KeyUsage::TICKET_SESSION_KEY, r)?;
        if !matches!(
            msg_a.session_key.key_type(),
            KeyType::AES | KeyType::AES256K
        ) || msg_a.session_key.is_empty()
        {
            return Err(CephxError::Protocol("ticket without a usable session key"));
        }
        let encrypted = r.bool()?;
        let blob_bytes: Bytes = if encrypted {
            // renewal / reclaim: the blob is under this service's previous session key
            let previous = self
                .tickets
                .get(&service)
                .ok_or(CephxError::Protocol(
                    "encrypted ticket blob but no previous session key",
                ))?
                .session_key
                .cipher()?;
            decode_decrypt(&previous, KeyUsage::TICKET_BLOB, r)?
        } else {
            Bytes::decode(r)?
        };
        let ticket = CephXTicketBlob::decode(&mut Reader::new(&blob_bytes))?;
        let validity = msg_a.validity;
        let expires = add(now, validity.as_duration().as_nanos());
        let quarter = u128::from(validity.sec) * 250_000_000;
        let renew_after = sub(expires, quarter);
        Ok(ServiceTicket {
            service,
            session_key: msg_a.session_key,
            ticket,
            validity,
            expires,
            renew_after,
        })
    }
}

const NANOS: u128 = 1_000_000_000;

fn to_nanos(t: UTime) -> u128 {
    t.as_duration().as_nanos()
}

fn from_nanos(n: u128) -> UTime {
    let sec = u32::try_from(n / NANOS).unwrap_or(u32::MAX);
    let nsec = u32::try_from(n % NANOS).unwrap_or(0);
    UTime::new(sec, nsec)
}

fn add(t: UTime, nanos: u128) -> UTime {
    from_nanos(to_nanos(t).saturating_add(nanos))
}

fn sub(t: UTime, nanos: u128) -> UTime {
    from_nanos(to_nanos(t).saturating_sub(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_sets() {
        let s = ServiceSet::LIBRADOS | ServiceSet::AUTH;
        assert_eq!(s.0, 0x35);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [
                EntityType::MON,
                EntityType::OSD,
                EntityType::MGR,
                EntityType::AUTH
            ]
        );
        assert!(s.contains(EntityType::OSD));
        assert!(!s.contains(EntityType::MDS));
        assert_eq!(s.without(ServiceSet::AUTH), ServiceSet::LIBRADOS);
    }

    #[test]
    fn renewal_at_three_quarters() {
        let now = UTime::new(1000, 500);
        let expires = add(now, 3600 * NANOS);
        let renew_after = sub(expires, 3600 * 250_000_000);
        assert_eq!(expires, UTime::new(4600, 500));
        assert_eq!(renew_after, UTime::new(3700, 500));
        let t = ServiceTicket {
            service: EntityType::OSD,
            session_key: CryptoKey::default(),
            ticket: CephXTicketBlob::default(),
            validity: UTime::new(3600, 0),
            expires,
            renew_after,
        };
        assert!(!t.needs_renewal(UTime::new(3700, 499)));
        assert!(t.needs_renewal(UTime::new(3700, 500)));
        assert!(t.is_valid(UTime::new(4600, 499)));
        assert!(!t.is_valid(UTime::new(4600, 500)));
    }
}
