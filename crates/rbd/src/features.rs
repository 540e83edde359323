//! Image feature bits and their names (src/include/rbd/features.h).

/// Copy-on-write clones.
pub const LAYERING: u64 = 1 << 0;
/// Fancy striping (stripe unit / count other than object size / 1).
pub const STRIPINGV2: u64 = 1 << 1;
/// One writer at a time, through the `lock` class on the header.
pub const EXCLUSIVE_LOCK: u64 = 1 << 2;
/// A map of which objects exist (needs the exclusive lock).
pub const OBJECT_MAP: u64 = 1 << 3;
/// Fast diffs from the object map.
pub const FAST_DIFF: u64 = 1 << 4;
/// Snapshots of clones keep their own copy of the parent's data.
pub const DEEP_FLATTEN: u64 = 1 << 5;
/// A journal of writes (mirroring).
pub const JOURNALING: u64 = 1 << 6;
/// Data objects in another pool.
pub const DATA_POOL: u64 = 1 << 7;
/// Operation features are in use (internal).
pub const OPERATIONS: u64 = 1 << 8;
/// The image is being migrated (internal).
pub const MIGRATING: u64 = 1 << 9;
/// A non-primary mirror (internal).
pub const NON_PRIMARY: u64 = 1 << 10;
/// The persistent write-back cache is dirty (internal).
pub const DIRTY_CACHE: u64 = 1 << 11;

/// Every feature bit librbd knows (`RBD_FEATURES_ALL`).
pub const ALL: u64 = LAYERING
    | STRIPINGV2
    | EXCLUSIVE_LOCK
    | OBJECT_MAP
    | FAST_DIFF
    | DEEP_FLATTEN
    | JOURNALING
    | DATA_POOL
    | OPERATIONS
    | MIGRATING
    | NON_PRIMARY
    | DIRTY_CACHE;

/// `RBD_FEATURES_DEFAULT`: what `rbd create` uses without `--image-feature`.
pub const DEFAULT: u64 = LAYERING | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF | DEEP_FLATTEN;

/// Set by librbd itself, never asked for (`RBD_FEATURES_INTERNAL`).
pub const INTERNAL: u64 = OPERATIONS | MIGRATING;

/// Enabled implicitly from the create options (`RBD_FEATURES_IMPLICIT_ENABLE`).
pub const IMPLICIT_ENABLE: u64 =
    STRIPINGV2 | DATA_POOL | FAST_DIFF | OPERATIONS | MIGRATING | NON_PRIMARY | DIRTY_CACHE;

/// Features a client must understand to open an image at all (`RBD_FEATURES_INCOMPATIBLE`).
pub const INCOMPATIBLE: u64 = LAYERING | STRIPINGV2 | DATA_POOL | DIRTY_CACHE;

/// Features a client must understand to write (`RBD_FEATURES_RW_INCOMPATIBLE`).
pub const RW_INCOMPATIBLE: u64 = INCOMPATIBLE
    | EXCLUSIVE_LOCK
    | OBJECT_MAP
    | FAST_DIFF
    | DEEP_FLATTEN
    | JOURNALING
    | OPERATIONS
    | MIGRATING
    | NON_PRIMARY;

/// Features this client cannot honour when writing yet: writing without maintaining
/// the journal would corrupt it; migration, non-primary mirrors and the write-back cache
/// are not implemented.
pub const WRITE_UNSUPPORTED: u64 = JOURNALING | MIGRATING | NON_PRIMARY | DIRTY_CACHE;

/// Features `create` refuses for now (see [`WRITE_UNSUPPORTED`]).
pub const CREATE_UNSUPPORTED: u64 = JOURNALING;

/// Names, in bit order, as `rbd info` prints them.
const NAMES: [(u64, &str); 12] = [
    (LAYERING, "layering"),
    (STRIPINGV2, "striping"),
    (EXCLUSIVE_LOCK, "exclusive-lock"),
    (OBJECT_MAP, "object-map"),
    (FAST_DIFF, "fast-diff"),
    (DEEP_FLATTEN, "deep-flatten"),
    (JOURNALING, "journaling"),
    (DATA_POOL, "data-pool"),
    (OPERATIONS, "operations"),
    (MIGRATING, "migrating"),
    (NON_PRIMARY, "non-primary"),
    (DIRTY_CACHE, "dirty-cache"),
];

/// The names of the bits set in `features`, in bit order (unknown bits are left out).
pub fn names(features: u64) -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(bit, _)| features & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// The bit of feature `name` (`layering`, `striping`, `exclusive-lock`...), or a number.
pub fn from_name(name: &str) -> Option<u64> {
    if let Some((bit, _)) = NAMES.iter().find(|(_, n)| *n == name) {
        return Some(*bit);
    }
    name.parse().ok()
}

/// Operation features (`RBD_OPERATION_FEATURE_*`).
pub mod op {
    /// The image is a clone's parent.
    pub const CLONE_PARENT: u64 = 1 << 0;
    /// The image is a clone (v2).
    pub const CLONE_CHILD: u64 = 1 << 1;
    /// The image is in a group.
    pub const GROUP: u64 = 1 << 2;
    /// Snapshots in the trash.
    pub const SNAP_TRASH: u64 = 1 << 3;

    /// Names as `rbd info` prints them.
    pub fn names(op_features: u64) -> Vec<&'static str> {
        [
            (CLONE_PARENT, "clone-parent"),
            (CLONE_CHILD, "clone-child"),
            (GROUP, "group"),
            (SNAP_TRASH, "snap-trash"),
        ]
        .iter()
        .filter(|(bit, _)| op_features & bit != 0)
        .map(|(_, n)| *n)
        .collect()
    }
}

/// Image flags (`RBD_FLAG_*`).
pub mod flags {
    /// The object map is invalid.
    pub const OBJECT_MAP_INVALID: u64 = 1 << 0;
    /// The fast-diff data is invalid.
    pub const FAST_DIFF_INVALID: u64 = 1 << 1;

    /// Names as `rbd info` prints them.
    pub fn names(flags: u64) -> Vec<&'static str> {
        [
            (OBJECT_MAP_INVALID, "object map invalid"),
            (FAST_DIFF_INVALID, "fast diff invalid"),
        ]
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(names(LAYERING | STRIPINGV2), ["layering", "striping"]);
        assert_eq!(from_name("fast-diff"), Some(FAST_DIFF));
        assert_eq!(from_name("5"), Some(5));
        assert_eq!(ALL, 0xfff);
        assert_eq!(DEFAULT, 61);
    }
}
