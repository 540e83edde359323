//! The `rbd` class's trash methods on `rbd_trash` (src/cls/rbd/cls_rbd.cc `trash_add`,
//! `trash_remove`, `trash_list`, `trash_get`, `trash_state_set`; inputs as
//! cls_rbd_client.cc encodes them) and `cls::rbd::TrashImageSpec`.

use std::collections::BTreeMap;

use denc::{Decode, Encode, Reader, UTime, Writer};

use super::{Method, decode_reply};
use crate::error::Result;

/// Why an image is in the trash (`cls::rbd::TrashImageSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashSource {
    /// `rbd trash mv` (0).
    User,
    /// rbd-mirror (1).
    Mirroring,
    /// Live migration (2).
    Migration,
    /// `rbd rm` of an image with clone children moved it first (3).
    Removing,
    /// A parent kept for its clones (4).
    UserParent,
    /// A value this client does not know.
    Other(u8),
}

impl TrashSource {
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            TrashSource::User => 0,
            TrashSource::Mirroring => 1,
            TrashSource::Migration => 2,
            TrashSource::Removing => 3,
            TrashSource::UserParent => 4,
            TrashSource::Other(c) => c,
        }
    }

    /// The source of code `c`.
    pub fn from_code(c: u8) -> TrashSource {
        match c {
            0 => TrashSource::User,
            1 => TrashSource::Mirroring,
            2 => TrashSource::Migration,
            3 => TrashSource::Removing,
            4 => TrashSource::UserParent,
            c => TrashSource::Other(c),
        }
    }

    /// How `rbd trash ls -l` names it (cls_rbd_types.h `operator<<`).
    pub fn name(self) -> &'static str {
        match self {
            TrashSource::User => "user",
            TrashSource::Mirroring => "mirroring",
            TrashSource::Migration => "migration",
            TrashSource::Removing => "removing",
            TrashSource::UserParent => "user_parent",
            TrashSource::Other(_) => "unknown",
        }
    }
}

/// `cls::rbd::TrashImageState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashState {
    /// In the trash (0).
    Normal,
    /// Being moved in (1).
    Moving,
    /// Being removed (2).
    Removing,
    /// Being restored (3).
    Restoring,
    /// A value this client does not know.
    Other(u8),
}

impl TrashState {
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            TrashState::Normal => 0,
            TrashState::Moving => 1,
            TrashState::Removing => 2,
            TrashState::Restoring => 3,
            TrashState::Other(c) => c,
        }
    }

    /// The state of code `c`.
    pub fn from_code(c: u8) -> TrashState {
        match c {
            0 => TrashState::Normal,
            1 => TrashState::Moving,
            2 => TrashState::Removing,
            3 => TrashState::Restoring,
            c => TrashState::Other(c),
        }
    }
}

/// A trash entry (`cls::rbd::TrashImageSpec`, src/cls/rbd/cls_rbd_types.cc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashImageSpec {
    /// Why it is there.
    pub source: TrashSource,
    /// The image's name when it was moved.
    pub name: String,
    /// When it was moved.
    pub deletion_time: UTime,
    /// Not removable (without force) before this.
    pub deferment_end_time: UTime,
    /// Its state (v2; `Normal` in v1 encodings).
    pub state: TrashState,
}

impl Encode for TrashImageSpec {
    fn encode(&self, w: &mut Writer) {
        w.versioned(2, 1, |w| {
            w.put_u8(self.source.code());
            w.put(&self.name);
            w.put(&self.deletion_time);
            w.put(&self.deferment_end_time);
            w.put_u8(self.state.code());
        });
    }
}

impl Decode for TrashImageSpec {
    const MIN_LEN: usize = 6 + 1 + 4 + 8 + 8;
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::TrashImageSpec", 2, |v, r| {
            Ok(TrashImageSpec {
                source: TrashSource::from_code(r.u8()?),
                name: r.decode()?,
                deletion_time: r.decode()?,
                deferment_end_time: r.decode()?,
                state: if v >= 2 {
                    TrashState::from_code(r.u8()?)
                } else {
                    TrashState::Normal
                },
            })
        })
    }
}

/// `trash_add`: a new entry.
pub fn trash_add(id: &str, spec: &TrashImageSpec) -> Result<Method> {
    Method::new("trash_add", |w| {
        w.put(id);
        w.put(spec);
    })
}

/// `trash_remove`.
pub fn trash_remove(id: &str) -> Result<Method> {
    Method::new("trash_remove", |w| w.put(id))
}

/// `trash_list`: up to `max` entries after id `start_after`.
pub fn trash_list(start_after: &str, max: u64) -> Result<Method> {
    Method::new("trash_list", |w| {
        w.put(start_after);
        w.put_u64(max);
    })
}

/// `trash_get`.
pub fn trash_get(id: &str) -> Result<Method> {
    Method::new("trash_get", |w| w.put(id))
}

/// `trash_state_set`: to `state` if the entry is in `expect` (else EINVAL... as the OSD
/// says).
pub fn trash_state_set(id: &str, state: TrashState, expect: TrashState) -> Result<Method> {
    Method::new("trash_state_set", |w| {
        w.put(id);
        w.put_u8(state.code());
        w.put_u8(expect.code());
    })
}

/// `trash_list`: id -> entry.
pub fn decode_trash_list(data: &[u8]) -> Result<BTreeMap<String, TrashImageSpec>> {
    decode_reply("trash_list", data, |r| r.decode())
}

/// `trash_get`.
pub fn decode_trash_get(data: &[u8]) -> Result<TrashImageSpec> {
    decode_reply("trash_get", data, |r| r.decode())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rbd trash mv tr1 --expires-at 2030-01-01` on Pacific 16.2.15: the omap value of
    /// `id_<id>` on `rbd_trash` (what `trash_get` returns).
    const PACIFIC_SPEC: &str = "0201190000000003000000747231117301\
                                6b916fb31a7fd8db70916fb31a00";

    #[test]
    fn pacific_entry() {
        let bytes: Vec<u8> = (0..PACIFIC_SPEC.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&PACIFIC_SPEC[i..i + 2], 16).unwrap())
            .collect();
        let spec = decode_trash_get(&bytes).unwrap();
        assert_eq!(spec.source, TrashSource::User);
        assert_eq!(spec.name, "tr1");
        assert_eq!(spec.state, TrashState::Normal);
        assert_eq!(spec.deferment_end_time.sec, 1_893_455_999); // 2029-12-31 23:59:59
        assert_eq!(denc::encode_to_vec(&spec).unwrap(), bytes);
        denc::testing::assert_truncations_fail::<TrashImageSpec>(
            &bytes,
            std::path::Path::new("trash"),
        );
    }

    #[test]
    fn spec_round_trip_and_v1() {
        let spec = TrashImageSpec {
            source: TrashSource::User,
            name: "img".into(),
            deletion_time: UTime::new(1_700_000_000, 5),
            deferment_end_time: UTime::new(1_700_000_100, 5),
            state: TrashState::Moving,
        };
        let bytes = denc::encode_to_vec(&spec).unwrap();
        assert_eq!(&bytes[..2], &[2, 1]);
        assert_eq!(decode_trash_get(&bytes).unwrap(), spec);
        denc::testing::assert_truncations_fail::<TrashImageSpec>(
            &bytes,
            std::path::Path::new("trash"),
        );
        // a v1 encoding has no state
        let mut v1 = vec![1u8, 1];
        let body = &bytes[6..bytes.len() - 1];
        v1.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        v1.extend_from_slice(body);
        assert_eq!(decode_trash_get(&v1).unwrap().state, TrashState::Normal);
    }
}
