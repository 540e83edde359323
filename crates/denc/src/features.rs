//! Ceph's feature bits (`src/include/ceph_features.h`).
//!
//! Ceph reuses retired bits: a bit's later meaning ("incarnation") is only in effect when the
//! incarnation's marker bits are set too. Every constant here is therefore a *mask*, the bit
//! plus its incarnation markers (`CEPH_FEATUREMASK_*`), and a feature is present only when all
//! bits of its mask are ([`has`]). Testing `features & MASK != 0` is the classic mistake: it
//! reports the new meaning of a bit whenever any old peer sets the old one.

/// Marker bits of the second incarnation (`SERVER_JEWEL`).
pub const INCARNATION_2: u64 = 1 << 57;
/// Marker bits of the third incarnation (`SERVER_JEWEL | SERVER_MIMIC`).
pub const INCARNATION_3: u64 = (1 << 57) | (1 << 28);

/// True if `features` has every bit of `mask`.
pub const fn has(features: u64, mask: u64) -> bool {
    features & mask == mask
}

macro_rules! features {
    ($($(#[$doc:meta])* $name:ident = $bit:literal, $inc:expr;)*) => {
        $( $(#[$doc])* pub const $name: u64 = (1u64 << $bit) | $inc; )*
        /// Every feature named in this module, with its name, for diagnostics.
        pub const NAMED: &[(&str, u64)] = &[$((stringify!($name), $name)),*];
    };
}

const I1: u64 = 0;
const I2: u64 = INCARNATION_2;
const I3: u64 = INCARNATION_3;

features! {
    /// `UID`.
    UID = 0, I1;
    /// `NOSRCADDR`.
    NOSRCADDR = 1, I1;
    /// `SERVER_NAUTILUS` (Ceph 14).
    SERVER_NAUTILUS = 2, I3;
    /// `FLOCK`.
    FLOCK = 3, I1;
    /// `SUBSCRIBE2`.
    SUBSCRIBE2 = 4, I1;
    /// `MONNAMES`.
    MONNAMES = 5, I1;
    /// `RECONNECT_SEQ`.
    RECONNECT_SEQ = 6, I1;
    /// `DIRLAYOUTHASH`.
    DIRLAYOUTHASH = 7, I1;
    /// `OBJECTLOCATOR`.
    OBJECTLOCATOR = 8, I1;
    /// `PGID64`.
    PGID64 = 9, I1;
    /// `INCSUBOSDMAP`.
    INCSUBOSDMAP = 10, I1;
    /// `PGPOOL3`.
    PGPOOL3 = 11, I1;
    /// `OSDREPLYMUX`.
    OSDREPLYMUX = 12, I1;
    /// `OSDENC`.
    OSDENC = 13, I1;
    /// `SERVER_KRAKEN` (Ceph 11).
    SERVER_KRAKEN = 14, I2;
    /// `MONENC`.
    MONENC = 15, I1;
    /// `SERVER_OCTOPUS` (Ceph 15).
    SERVER_OCTOPUS = 16, I3;
    /// `OSD_REPOP_MLCOD` (shares its bit with `SERVER_OCTOPUS`).
    OSD_REPOP_MLCOD = 16, I3;
    /// `OS_PERF_STAT_NS`.
    OS_PERF_STAT_NS = 17, I3;
    /// `CRUSH_TUNABLES`.
    CRUSH_TUNABLES = 18, I1;
    /// `OSD_PGLOG_HARDLIMIT`.
    OSD_PGLOG_HARDLIMIT = 19, I2;
    /// `SERVER_PACIFIC` (Ceph 16).
    SERVER_PACIFIC = 20, I3;
    /// `SERVER_LUMINOUS` (Ceph 12).
    SERVER_LUMINOUS = 21, I2;
    /// `RESEND_ON_SPLIT` (shares the `SERVER_LUMINOUS` bit).
    RESEND_ON_SPLIT = 21, I2;
    /// `RADOS_BACKOFF` (shares the `SERVER_LUMINOUS` bit).
    RADOS_BACKOFF = 21, I2;
    /// `OSDMAP_PG_UPMAP` (shares the `SERVER_LUMINOUS` bit).
    OSDMAP_PG_UPMAP = 21, I2;
    /// `CRUSH_CHOOSE_ARGS` (shares the `SERVER_LUMINOUS` bit).
    CRUSH_CHOOSE_ARGS = 21, I2;
    /// `OSD_FIXED_COLLECTION_LIST`.
    OSD_FIXED_COLLECTION_LIST = 22, I2;
    /// `MSG_AUTH`.
    MSG_AUTH = 23, I1;
    /// `RECOVERY_RESERVATION_2`.
    RECOVERY_RESERVATION_2 = 24, I2;
    /// `CRUSH_TUNABLES2`.
    CRUSH_TUNABLES2 = 25, I1;
    /// `CREATEPOOLID`.
    CREATEPOOLID = 26, I1;
    /// `REPLY_CREATE_INODE`.
    REPLY_CREATE_INODE = 27, I1;
    /// `SERVER_MIMIC` (Ceph 13).
    SERVER_MIMIC = 28, I2;
    /// `MDSENC`.
    MDSENC = 29, I1;
    /// `OSDHASHPSPOOL`.
    OSDHASHPSPOOL = 30, I1;
    /// `SERVER_REEF` (Ceph 18).
    SERVER_REEF = 31, I3;
    /// `STRETCH_MODE`.
    STRETCH_MODE = 32, I3;
    /// `SERVER_QUINCY` (Ceph 17).
    SERVER_QUINCY = 33, I3;
    /// `RANGE_BLOCKLIST`.
    RANGE_BLOCKLIST = 34, I3;
    /// `OSD_CACHEPOOL`.
    OSD_CACHEPOOL = 35, I1;
    /// `CRUSH_V2`.
    CRUSH_V2 = 36, I1;
    /// `EXPORT_PEER`.
    EXPORT_PEER = 37, I1;
    /// `CRUSH_MSR` (Squid's multi-step retry rules).
    CRUSH_MSR = 38, I2;
    /// `OSDMAP_ENC`.
    OSDMAP_ENC = 39, I1;
    /// `MDS_INLINE_DATA`.
    MDS_INLINE_DATA = 40, I1;
    /// `CRUSH_TUNABLES3`.
    CRUSH_TUNABLES3 = 41, I1;
    /// `OSD_PRIMARY_AFFINITY` (shares the `CRUSH_TUNABLES3` bit).
    OSD_PRIMARY_AFFINITY = 41, I1;
    /// `MSGR_KEEPALIVE2`.
    MSGR_KEEPALIVE2 = 42, I1;
    /// `OSD_POOLRESEND`.
    OSD_POOLRESEND = 43, I1;
    /// `NVMEOFHA`.
    NVMEOFHA = 44, I2;
    /// `NVMEOFHAMAP`.
    NVMEOFHAMAP = 45, I2;
    /// `OSD_FADVISE_FLAGS`.
    OSD_FADVISE_FLAGS = 46, I1;
    /// `MDS_QUOTA`.
    MDS_QUOTA = 47, I1;
    /// `CRUSH_V4` (straw2 buckets).
    CRUSH_V4 = 48, I1;
    /// `SERVER_SQUID` (Ceph 19).
    SERVER_SQUID = 49, I2;
    /// `SERVER_TENTACLE` (Ceph 20).
    SERVER_TENTACLE = 50, I2;
    /// `NEW_OSDOP_ENCODING` (MOSDOp v8, pg_pool_t v25+).
    NEW_OSDOP_ENCODING = 56, I1;
    /// `MON_STATEFUL_SUB`.
    MON_STATEFUL_SUB = 57, I1;
    /// `SERVER_JEWEL` (Ceph 10; also the second incarnation's marker).
    SERVER_JEWEL = 57, I1;
    /// `CRUSH_TUNABLES5`.
    CRUSH_TUNABLES5 = 58, I1;
    /// `NEW_OSDOPREPLY_ENCODING` (shares the `CRUSH_TUNABLES5` bit).
    NEW_OSDOPREPLY_ENCODING = 58, I1;
    /// `FS_FILE_LAYOUT_V2` (shares the `CRUSH_TUNABLES5` bit).
    FS_FILE_LAYOUT_V2 = 58, I1;
    /// `FS_BTIME`.
    FS_BTIME = 59, I1;
    /// `FS_CHANGE_ATTR` (shares the `FS_BTIME` bit).
    FS_CHANGE_ATTR = 59, I1;
    /// `MSG_ADDR2`: the modern `entity_addr_t` encoding (shares the `FS_BTIME` bit).
    MSG_ADDR2 = 59, I1;
    /// `OSD_RECOVERY_DELETES`.
    OSD_RECOVERY_DELETES = 60, I1;
    /// `CEPHX_V2`.
    CEPHX_V2 = 61, I1;
    /// `RESERVED`: never set; a sentinel.
    RESERVED = 62, I1;
}

/// Every feature Ceph 20 (Tentacle) advertises (`CEPH_FEATURES_ALL`).
pub const ALL: u64 = UID
    | NOSRCADDR
    | FLOCK
    | SUBSCRIBE2
    | MONNAMES
    | RECONNECT_SEQ
    | DIRLAYOUTHASH
    | OBJECTLOCATOR
    | PGID64
    | INCSUBOSDMAP
    | PGPOOL3
    | OSDREPLYMUX
    | OSDENC
    | MONENC
    | CRUSH_TUNABLES
    | MSG_AUTH
    | CRUSH_TUNABLES2
    | CREATEPOOLID
    | REPLY_CREATE_INODE
    | MDSENC
    | OSDHASHPSPOOL
    | NEW_OSDOP_ENCODING
    | NEW_OSDOPREPLY_ENCODING
    | OSD_CACHEPOOL
    | CRUSH_V2
    | EXPORT_PEER
    | CRUSH_MSR
    | OSDMAP_ENC
    | MDS_INLINE_DATA
    | CRUSH_TUNABLES3
    | OSD_PRIMARY_AFFINITY
    | MSGR_KEEPALIVE2
    | OSD_POOLRESEND
    | NVMEOFHA
    | NVMEOFHAMAP
    | OSD_FADVISE_FLAGS
    | MDS_QUOTA
    | CRUSH_V4
    | MON_STATEFUL_SUB
    | CRUSH_TUNABLES5
    | SERVER_JEWEL
    | FS_FILE_LAYOUT_V2
    | SERVER_KRAKEN
    | FS_BTIME
    | FS_CHANGE_ATTR
    | MSG_ADDR2
    | SERVER_LUMINOUS
    | RESEND_ON_SPLIT
    | RADOS_BACKOFF
    | OSD_RECOVERY_DELETES
    | SERVER_MIMIC
    | RECOVERY_RESERVATION_2
    | SERVER_NAUTILUS
    | CEPHX_V2
    | OSD_PGLOG_HARDLIMIT
    | SERVER_OCTOPUS
    | STRETCH_MODE
    | OSD_REPOP_MLCOD
    | SERVER_PACIFIC
    | OSD_FIXED_COLLECTION_LIST
    | SERVER_QUINCY
    | RANGE_BLOCKLIST
    | SERVER_REEF
    | SERVER_SQUID
    | SERVER_TENTACLE;

/// The CRUSH-related features (`CEPH_FEATURES_CRUSH`).
pub const CRUSH: u64 = CRUSH_TUNABLES
    | CRUSH_TUNABLES2
    | CRUSH_TUNABLES3
    | CRUSH_TUNABLES5
    | CRUSH_V2
    | CRUSH_V4
    | CRUSH_MSR;

/// The newest Ceph release whose server feature a peer advertises.
///
/// Careful: Pacific still advertises bit 31 (its deprecated `MON_SINGLE_PAXOS`), which with
/// the incarnation markers every modern peer sets reads as `SERVER_REEF`. A peer is therefore
/// only taken for Reef or newer if it also has `SERVER_QUINCY`, which Pacific lacks.
pub fn release(features: u64) -> Release {
    let quincy = has(features, SERVER_QUINCY);
    if quincy && has(features, SERVER_TENTACLE) {
        Release::Tentacle
    } else if quincy && has(features, SERVER_SQUID) {
        Release::Squid
    } else if quincy && has(features, SERVER_REEF) {
        Release::Reef
    } else if quincy {
        Release::Quincy
    } else if has(features, SERVER_PACIFIC) {
        Release::Pacific
    } else if has(features, SERVER_OCTOPUS) {
        Release::Octopus
    } else if has(features, SERVER_NAUTILUS) {
        Release::Nautilus
    } else if has(features, SERVER_MIMIC) {
        Release::Mimic
    } else if has(features, SERVER_LUMINOUS) {
        Release::Luminous
    } else {
        Release::PreLuminous
    }
}

/// Ceph releases, as told apart by their feature bits ([`release`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Release {
    /// Older than Luminous (12).
    PreLuminous,
    /// 12.
    Luminous,
    /// 13.
    Mimic,
    /// 14.
    Nautilus,
    /// 15.
    Octopus,
    /// 16.
    Pacific,
    /// 17.
    Quincy,
    /// 18.
    Reef,
    /// 19.
    Squid,
    /// 20.
    Tentacle,
}

/// Names of the features in `features` (for logs and error messages).
pub fn names(features: u64) -> Vec<&'static str> {
    NAMED
        .iter()
        .filter(|(_, mask)| has(features, *mask))
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incarnations_are_checked_as_a_set() {
        // bit 2 alone is the retired MONCLOCKCHECK, not SERVER_NAUTILUS
        assert!(!has(1 << 2, SERVER_NAUTILUS));
        assert!(has(SERVER_NAUTILUS, SERVER_NAUTILUS));
        assert!(has(ALL, SERVER_TENTACLE | SERVER_PACIFIC | MSG_ADDR2));
        assert_eq!(ALL & RESERVED, 0);
    }

    /// What each release advertises, read with `ceph features` on the project's test
    /// clusters (Pacific 16.2.15, Reef 18.2.7, Tentacle 20.2.4).
    const PACIFIC_16_2_15: u64 = 0x3f01_cfbd_fffd_ffff;
    const REEF_18_2_7: u64 = 0x3f01_cfbf_fffd_ffff;
    const TENTACLE_20_2_4: u64 = 0x3f07_ffff_fffd_ffff;

    #[test]
    fn releases_are_recognised() {
        assert_eq!(release(REEF_18_2_7), Release::Reef);
        assert_eq!(release(TENTACLE_20_2_4), Release::Tentacle);
        // Tentacle advertises exactly CEPH_FEATURES_ALL
        assert_eq!(ALL, TENTACLE_20_2_4);
    }

    #[test]
    fn tells_pacific_from_reef_despite_bit_31() {
        assert!(has(
            PACIFIC_16_2_15,
            SERVER_PACIFIC | MSG_ADDR2 | NEW_OSDOP_ENCODING
        ));
        // the trap: the Reef mask is all set in Pacific's features
        assert!(has(PACIFIC_16_2_15, SERVER_REEF));
        assert!(!has(PACIFIC_16_2_15, SERVER_QUINCY));
        assert_eq!(release(PACIFIC_16_2_15), Release::Pacific);
        assert_eq!(release(ALL), Release::Tentacle);
        assert_eq!(release(ALL & !(1 << 50) & !(1 << 49)), Release::Reef);
    }

    #[test]
    fn all_is_a_superset_of_pacific() {
        // every bit Pacific advertises (its deprecated bit 31 and its RANGE_BLOCKLIST
        // backport included) is one we know
        assert_eq!(PACIFIC_16_2_15 & !ALL, 0);
    }
}
