//! The `rbd` class's mirroring and migration state (src/cls/rbd/cls_rbd.cc
//! `mirror_mode_get`, `mirror_image_get`, `migration_get`; inputs as cls_rbd_client.cc
//! encodes them) and their types `cls::rbd::MirrorImage` and `cls::rbd::MigrationSpec`
//! (src/cls/rbd/cls_rbd_types.h/.cc).

use std::collections::BTreeMap;

use denc::{Decode, Reader};

use super::{Method, decode_reply};
use crate::error::Result;

/// A pool's mirroring mode (`cls::rbd::MirrorMode`, a le32 on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorMode {
    /// No mirroring (0; also what a pool without `rbd_mirroring` has).
    Disabled,
    /// Images are mirrored when enabled one by one (1).
    Image,
    /// Every journaling image is mirrored (2).
    Pool,
    /// A value this client does not know.
    Other(u32),
}

impl MirrorMode {
    /// The mode of code `c`.
    pub fn from_code(c: u32) -> MirrorMode {
        match c {
            0 => MirrorMode::Disabled,
            1 => MirrorMode::Image,
            2 => MirrorMode::Pool,
            c => MirrorMode::Other(c),
        }
    }

    /// The code on the wire (`rbd_mirror_mode_t` has the same values).
    pub fn code(self) -> u32 {
        match self {
            MirrorMode::Disabled => 0,
            MirrorMode::Image => 1,
            MirrorMode::Pool => 2,
            MirrorMode::Other(c) => c,
        }
    }

    /// How `rbd mirror pool info` names it.
    pub fn name(self) -> &'static str {
        match self {
            MirrorMode::Disabled => "disabled",
            MirrorMode::Image => "image",
            MirrorMode::Pool => "pool",
            MirrorMode::Other(_) => "unknown",
        }
    }
}

/// How an image is mirrored (`cls::rbd::MirrorImageMode`, a u8 on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorImageMode {
    /// Journal replay (0).
    Journal,
    /// Mirror snapshots (1).
    Snapshot,
    /// A value this client does not know.
    Other(u8),
}

impl MirrorImageMode {
    /// The mode of code `c`.
    pub fn from_code(c: u8) -> MirrorImageMode {
        match c {
            0 => MirrorImageMode::Journal,
            1 => MirrorImageMode::Snapshot,
            c => MirrorImageMode::Other(c),
        }
    }

    /// The code on the wire (`rbd_mirror_image_mode_t` has the same values).
    pub fn code(self) -> u8 {
        match self {
            MirrorImageMode::Journal => 0,
            MirrorImageMode::Snapshot => 1,
            MirrorImageMode::Other(c) => c,
        }
    }

    /// How `rbd info` names it (tools/rbd/Utils.cc `mirror_image_mode`).
    pub fn name(self) -> &'static str {
        match self {
            MirrorImageMode::Journal => "journal",
            MirrorImageMode::Snapshot => "snapshot",
            MirrorImageMode::Other(_) => "unknown",
        }
    }
}

/// An image's mirroring state (`cls::rbd::MirrorImageState`, a u8 on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorImageState {
    /// Being disabled (0).
    Disabling,
    /// Enabled (1).
    Enabled,
    /// Disabled (2; also an image without a record).
    Disabled,
    /// Being created by rbd-mirror (3).
    Creating,
    /// A value this client does not know.
    Other(u8),
}

impl MirrorImageState {
    /// The state of code `c`.
    pub fn from_code(c: u8) -> MirrorImageState {
        match c {
            0 => MirrorImageState::Disabling,
            1 => MirrorImageState::Enabled,
            2 => MirrorImageState::Disabled,
            3 => MirrorImageState::Creating,
            c => MirrorImageState::Other(c),
        }
    }

    /// The code on the wire (librbd casts it to `rbd_mirror_image_state_t`).
    pub fn code(self) -> u8 {
        match self {
            MirrorImageState::Disabling => 0,
            MirrorImageState::Enabled => 1,
            MirrorImageState::Disabled => 2,
            MirrorImageState::Creating => 3,
            MirrorImageState::Other(c) => c,
        }
    }

    /// How `rbd info` names it (tools/rbd/Utils.cc `mirror_image_state`).
    pub fn name(self) -> &'static str {
        match self {
            MirrorImageState::Disabling => "disabling",
            MirrorImageState::Enabled => "enabled",
            MirrorImageState::Disabled => "disabled",
            MirrorImageState::Creating | MirrorImageState::Other(_) => "unknown",
        }
    }
}

/// An image's mirroring record in `rbd_mirroring` (`cls::rbd::MirrorImage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorImage {
    /// Mode (v2; journal in v1 encodings).
    pub mode: MirrorImageMode,
    /// The id shared by every copy of the image across clusters.
    pub global_image_id: String,
    /// State.
    pub state: MirrorImageState,
}

impl Decode for MirrorImage {
    const MIN_LEN: usize = 6 + 4 + 1;
    // cls_rbd_types.cc MirrorImage::decode: DECODE_START(2), global id, u8 state, v2: u8 mode
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::MirrorImage", 2, |v, r| {
            let global_image_id = r.decode()?;
            let state = MirrorImageState::from_code(r.u8()?);
            let mode = if v >= 2 {
                MirrorImageMode::from_code(r.u8()?)
            } else {
                MirrorImageMode::Journal
            };
            Ok(MirrorImage {
                mode,
                global_image_id,
                state,
            })
        })
    }
}

/// Which side of a migration a header is (`cls::rbd::MigrationHeaderType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationHeaderType {
    /// The source (1): the spec names the destination.
    Source,
    /// The destination (2): the spec names the source.
    Destination,
    /// A value this client does not know.
    Other(u8),
}

/// A migration's state (`cls::rbd::MigrationState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    /// Failed (0).
    Error,
    /// `migration prepare` running (1).
    Preparing,
    /// Prepared (2).
    Prepared,
    /// `migration execute` running (3).
    Executing,
    /// Executed, awaiting commit (4).
    Executed,
    /// `migration abort` running (5).
    Aborting,
    /// A value this client does not know.
    Other(u8),
}

impl MigrationState {
    /// The state of code `c`.
    pub fn from_code(c: u8) -> MigrationState {
        match c {
            0 => MigrationState::Error,
            1 => MigrationState::Preparing,
            2 => MigrationState::Prepared,
            3 => MigrationState::Executing,
            4 => MigrationState::Executed,
            5 => MigrationState::Aborting,
            c => MigrationState::Other(c),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            MigrationState::Error => 0,
            MigrationState::Preparing => 1,
            MigrationState::Prepared => 2,
            MigrationState::Executing => 3,
            MigrationState::Executed => 4,
            MigrationState::Aborting => 5,
            MigrationState::Other(c) => c,
        }
    }

    /// The code librbd reports (`rbd_image_migration_state_t`): as the wire, but
    /// librbd/api/Migration.cc `status` maps aborting and unknown values to -1 (unknown).
    pub fn librbd_code(self) -> i32 {
        match self {
            MigrationState::Aborting | MigrationState::Other(_) => -1,
            s => i32::from(s.code()),
        }
    }

    /// How `rbd status` names it (tools/rbd/action/Status.cc); like librbd, it calls
    /// aborting "unknown".
    pub fn name(self) -> &'static str {
        match self {
            MigrationState::Error => "error",
            MigrationState::Preparing => "preparing",
            MigrationState::Prepared => "prepared",
            MigrationState::Executing => "executing",
            MigrationState::Executed => "executed",
            MigrationState::Aborting | MigrationState::Other(_) => "unknown",
        }
    }
}

/// A header's migration record (`cls::rbd::MigrationSpec`): the other image of the pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSpec {
    /// Which side this header is.
    pub header_type: MigrationHeaderType,
    /// The other image's pool (-1 with a `source_spec`).
    pub pool_id: i64,
    /// The other image's namespace.
    pub pool_namespace: String,
    /// The other image's name.
    pub image_name: String,
    /// The other image's id ("" for a format-1 source).
    pub image_id: String,
    /// Source snapshot ids to destination ones.
    pub snap_seqs: BTreeMap<u64, u64>,
    /// The bytes still read through from the source.
    pub overlap: u64,
    /// Flatten the destination at commit.
    pub flatten: bool,
    /// Mirroring was enabled on the source.
    pub mirroring: bool,
    /// State.
    pub state: MigrationState,
    /// Free-form state text (errors).
    pub state_description: String,
    /// The source's mirror image mode (v2; journal before).
    pub mirror_image_mode: MirrorImageMode,
    /// A JSON source spec for import-only migrations (v3; "" otherwise).
    pub source_spec: String,
}

impl Decode for MigrationSpec {
    const MIN_LEN: usize = 6 + 1 + 8 + 4 + 4 + 4 + 4 + 8 + 1 + 1 + 1 + 4;
    // cls_rbd_types.cc MigrationSpec::decode: DECODE_START(3), v2: mirror image mode,
    // v3: source spec
    fn decode(r: &mut Reader<'_>) -> denc::Result<Self> {
        r.versioned("cls::rbd::MigrationSpec", 3, |v, r| {
            let header_type = match r.u8()? {
                1 => MigrationHeaderType::Source,
                2 => MigrationHeaderType::Destination,
                c => MigrationHeaderType::Other(c),
            };
            let pool_id = r.i64()?;
            let pool_namespace = r.decode()?;
            let image_name = r.decode()?;
            let image_id = r.decode()?;
            let snap_seqs = r.decode()?;
            let overlap = r.u64()?;
            let flatten = r.bool()?;
            let mirroring = r.bool()?;
            let state = MigrationState::from_code(r.u8()?);
            let state_description = r.decode()?;
            let mirror_image_mode = if v >= 2 {
                MirrorImageMode::from_code(r.u8()?)
            } else {
                MirrorImageMode::Journal
            };
            let source_spec = if v >= 3 { r.decode()? } else { String::new() };
            Ok(MigrationSpec {
                header_type,
                pool_id,
                pool_namespace,
                image_name,
                image_id,
                snap_seqs,
                overlap,
                flatten,
                mirroring,
                state,
                state_description,
                mirror_image_mode,
                source_spec,
            })
        })
    }
}

/// `mirror_mode_get` (on `rbd_mirroring`; ENOENT there means disabled).
pub fn mirror_mode_get() -> Result<Method> {
    Method::new("mirror_mode_get", |_| {})
}

/// `mirror_image_get` of image `image_id` (on `rbd_mirroring`; ENOENT: no record).
pub fn mirror_image_get(image_id: &str) -> Result<Method> {
    Method::new("mirror_image_get", |w| w.put(image_id))
}

/// `mirror_image_set` of image `image_id` (on `rbd_mirroring`): its record becomes
/// `image` (cls_rbd_client.cc: image id, then the `MirrorImage`).
pub fn mirror_image_set(image_id: &str, image: &MirrorImage) -> Result<Method> {
    Method::new("mirror_image_set", |w| {
        w.put(image_id);
        // cls_rbd_types.cc MirrorImage::encode: ENCODE_START(2, 1)
        w.versioned(2, 1, |w| {
            w.put(&image.global_image_id);
            w.put_u8(image.state.code());
            w.put_u8(image.mode.code());
        });
    })
}

/// `mirror_image_remove` of image `image_id` (on `rbd_mirroring`; ENOENT: no record).
pub fn mirror_image_remove(image_id: &str) -> Result<Method> {
    Method::new("mirror_image_remove", |w| w.put(image_id))
}

/// `migration_get` (on an image header; ENOENT: not migrating).
pub fn migration_get() -> Result<Method> {
    Method::new("migration_get", |_| {})
}

/// Decodes `mirror_mode_get`'s reply.
pub fn decode_mirror_mode(data: &[u8]) -> Result<MirrorMode> {
    decode_reply("mirror_mode_get", data, |r| {
        Ok(MirrorMode::from_code(r.u32()?))
    })
}

/// Decodes `mirror_image_get`'s reply.
pub fn decode_mirror_image(data: &[u8]) -> Result<MirrorImage> {
    decode_reply("mirror_image_get", data, |r| r.decode())
}

/// Decodes `migration_get`'s reply.
pub fn decode_migration_spec(data: &[u8]) -> Result<MigrationSpec> {
    decode_reply("migration_get", data, |r| r.decode())
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

    // Captured from Pacific 16.2.15 after `rbd migration prepare rbd/msrc rbd/mdst`
    // (16 MiB image): the destination's and the source's headers.
    const DST_PREPARED: &str = "03013d00000002010000000000000000000000040000006d7372630c000000313032393138626631303035000000000000000100000000000002000000000000000000";
    const SRC_EXECUTED: &str = "03013c00000001010000000000000000000000040000006d6473740b0000003130326238353366373632000000000000000000000000000004000000000000000000";
    // `rbd mirror image enable rbd/mimg snapshot`, then mirror_image_get / mirror_mode_get
    const MIRROR_IMAGE: &str = "02012a0000002400000062393765653438652d363534652d346437352d616366302d3731663639313532303533300101";

    #[test]
    fn real_migration_specs_decode() {
        let dst = decode_migration_spec(&unhex(DST_PREPARED)).unwrap();
        assert_eq!(dst.header_type, MigrationHeaderType::Destination);
        assert_eq!((dst.pool_id, dst.pool_namespace.as_str()), (1, ""));
        assert_eq!(dst.image_name, "msrc");
        assert_eq!(dst.image_id, "102918bf1005");
        assert_eq!(dst.overlap, 16 << 20);
        assert_eq!(dst.state, MigrationState::Prepared);
        assert!(!dst.flatten && !dst.mirroring && dst.snap_seqs.is_empty());
        assert_eq!(dst.source_spec, "");
        let src = decode_migration_spec(&unhex(SRC_EXECUTED)).unwrap();
        assert_eq!(src.header_type, MigrationHeaderType::Source);
        assert_eq!(
            (src.image_name.as_str(), src.image_id.as_str()),
            ("mdst", "102b853f762")
        );
        assert_eq!(src.overlap, 0);
        assert_eq!(src.state, MigrationState::Executed);
        for hex in [DST_PREPARED, SRC_EXECUTED] {
            let b = unhex(hex);
            for n in 0..b.len() {
                assert!(decode_migration_spec(&b[..n]).is_err(), "prefix {n}");
            }
        }
    }

    #[test]
    fn real_mirror_image_decodes() {
        let m = decode_mirror_image(&unhex(MIRROR_IMAGE)).unwrap();
        assert_eq!(m.global_image_id, "b97ee48e-654e-4d75-acf0-71f691520530");
        assert_eq!(m.state, MirrorImageState::Enabled);
        assert_eq!(m.mode, MirrorImageMode::Snapshot);
        let b = unhex(MIRROR_IMAGE);
        for n in 0..b.len() {
            assert!(decode_mirror_image(&b[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            decode_mirror_mode(&unhex("01000000")).unwrap(),
            MirrorMode::Image
        );
        assert!(decode_mirror_mode(&unhex("010000")).is_err());
    }

    #[test]
    fn v1_mirror_image_is_journal() {
        // ENCODE_START(1, 1): global id "g", state enabled, no mode
        let b = unhex("010106000000010000006701");
        let m = decode_mirror_image(&b).unwrap();
        assert_eq!(
            (m.mode, m.state),
            (MirrorImageMode::Journal, MirrorImageState::Enabled)
        );
        assert_eq!(m.global_image_id, "g");
    }

    #[test]
    fn corpus_decodes() {
        use denc::testing::{decode_all, samples};
        let specs = samples("cls::rbd::MigrationSpec");
        assert!(specs.len() >= 12, "{} samples", specs.len());
        for s in &specs {
            let spec: MigrationSpec = decode_all(&s.bytes, &s.path);
            assert!(!matches!(spec.header_type, MigrationHeaderType::Other(_)));
        }
        let images = samples("cls::rbd::MirrorImage");
        assert!(images.len() >= 12, "{} samples", images.len());
        for s in &images {
            let _: MirrorImage = decode_all(&s.bytes, &s.path);
        }
    }

    #[test]
    fn state_names_follow_rbd_status() {
        assert_eq!(MigrationState::from_code(5).name(), "unknown");
        assert_eq!(MigrationState::Aborting.librbd_code(), -1);
        assert_eq!(MigrationState::Executing.librbd_code(), 3);
    }
}
