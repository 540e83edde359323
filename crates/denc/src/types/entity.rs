//! Entity types and names: `entity_name_t` (src/msg/msg_types.h) and `EntityName`
//! (src/common/entity_name.h).

use std::fmt;
use std::str::FromStr;

use crate::{Decode, Encode, Reader, Result, Writer};

/// The kind of a Ceph daemon or client (`CEPH_ENTITY_TYPE_*`). Unknown values are kept.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityType(pub u8);

impl EntityType {
    /// A monitor.
    pub const MON: EntityType = EntityType(0x01);
    /// A metadata server.
    pub const MDS: EntityType = EntityType(0x02);
    /// An OSD.
    pub const OSD: EntityType = EntityType(0x04);
    /// A client.
    pub const CLIENT: EntityType = EntityType(0x08);
    /// A manager.
    pub const MGR: EntityType = EntityType(0x10);
    /// The auth service.
    pub const AUTH: EntityType = EntityType(0x20);
    /// Any type (used in matches).
    pub const ANY: EntityType = EntityType(0xff);

    /// Ceph's name for the type (`ceph_entity_type_name`), or `None` if unknown.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            EntityType::MON => "mon",
            EntityType::MDS => "mds",
            EntityType::OSD => "osd",
            EntityType::CLIENT => "client",
            EntityType::MGR => "mgr",
            EntityType::AUTH => "auth",
            EntityType::ANY => "any",
            _ => return None,
        })
    }

    /// The type named `name` (`mon`, `osd`, `client`, ...).
    pub fn from_name(name: &str) -> Option<EntityType> {
        [
            EntityType::MON,
            EntityType::MDS,
            EntityType::OSD,
            EntityType::CLIENT,
            EntityType::MGR,
            EntityType::AUTH,
        ]
        .into_iter()
        .find(|t| t.name() == Some(name))
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown({:#x})", self.0),
        }
    }
}

impl fmt::Debug for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A numbered entity, `entity_name_t`: `client.4123`, `osd.2`. Clients are numbered by the
/// global id the monitors assign; a negative number means "not assigned yet".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityName {
    /// Kind of entity.
    pub entity_type: EntityType,
    /// Its number.
    pub num: i64,
}

impl EntityName {
    /// `client.<num>`.
    pub const fn client(num: i64) -> Self {
        EntityName {
            entity_type: EntityType::CLIENT,
            num,
        }
    }
    /// `osd.<num>`.
    pub const fn osd(num: i64) -> Self {
        EntityName {
            entity_type: EntityType::OSD,
            num,
        }
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num < 0 {
            write!(f, "{}.?", self.entity_type)
        } else {
            write!(f, "{}.{}", self.entity_type, self.num)
        }
    }
}

impl Decode for EntityName {
    const MIN_LEN: usize = 9;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(EntityName {
            entity_type: EntityType(r.u8()?),
            num: r.i64()?,
        })
    }
}

impl Encode for EntityName {
    fn encode(&self, w: &mut Writer) {
        w.put_u8(self.entity_type.0);
        w.put_i64(self.num);
    }
}

/// An authentication identity, Ceph's `EntityName`: `client.admin`, `osd.0`, `mgr.x`.
/// Encoded as le32 type and a string id.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthName {
    /// Kind of entity.
    pub entity_type: EntityType,
    /// The id after the dot (`admin` in `client.admin`).
    pub id: String,
}

impl AuthName {
    /// `client.<id>`.
    pub fn client(id: impl Into<String>) -> Self {
        AuthName {
            entity_type: EntityType::CLIENT,
            id: id.into(),
        }
    }
}

impl fmt::Display for AuthName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.entity_type, self.id)
    }
}

/// The text is not an entity name of the form `type.id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an entity name (expected TYPE.ID with TYPE one of mon, osd, mds, mgr, client, auth): {0:?}"
)]
pub struct ParseNameError(pub String);

impl FromStr for AuthName {
    type Err = ParseNameError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (ty, id) = s
            .split_once('.')
            .ok_or_else(|| ParseNameError(s.to_owned()))?;
        let entity_type = EntityType::from_name(ty).ok_or_else(|| ParseNameError(s.to_owned()))?;
        Ok(AuthName {
            entity_type,
            id: id.to_owned(),
        })
    }
}

impl Decode for AuthName {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.named("EntityName", |r| {
            let ty = r.u32()?;
            let entity_type = u8::try_from(ty)
                .map(EntityType)
                .map_err(|_| r.invalid("entity type", u64::from(ty)))?;
            Ok(AuthName {
                entity_type,
                id: r.decode()?,
            })
        })
    }
}

impl Encode for AuthName {
    fn encode(&self, w: &mut Writer) {
        w.put_u32(u32::from(self.entity_type.0));
        w.put(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_like_ceph() {
        assert_eq!(EntityName::client(4123).to_string(), "client.4123");
        assert_eq!(EntityName::osd(-1).to_string(), "osd.?");
        let admin: AuthName = "client.admin".parse().unwrap();
        assert_eq!(admin, AuthName::client("admin"));
        assert_eq!(admin.to_string(), "client.admin");
        assert_eq!(
            "mgr.x".parse::<AuthName>().unwrap().entity_type,
            EntityType::MGR
        );
        assert!("admin".parse::<AuthName>().is_err());
        assert!("bogus.admin".parse::<AuthName>().is_err());
    }
}
