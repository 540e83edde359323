//! Object names, as librbd makes them (src/include/rbd_types.h, librbd/Utils.cc).

/// The pool's image directory (`RBD_DIRECTORY`).
pub const DIRECTORY: &str = "rbd_directory";
/// The pool's validation marker and metadata object (`RBD_INFO`).
pub const INFO: &str = "rbd_info";
/// The pool's trash directory (`RBD_TRASH`).
pub const TRASH: &str = "rbd_trash";
/// Data object name prefix (`RBD_DATA_PREFIX`).
pub const DATA_PREFIX: &str = "rbd_data.";
/// Image ids are cut to their last 14 characters (`RBD_MAX_IMAGE_ID_LENGTH`).
pub const MAX_IMAGE_ID_LENGTH: usize = 14;
/// The longest object prefix a header may hold (`RBD_MAX_BLOCK_NAME_PREFIX_LENGTH`).
pub const MAX_BLOCK_NAME_PREFIX_LENGTH: usize = 43;

/// `rbd_id.<name>`: holds the image id.
pub fn id_object(name: &str) -> String {
    format!("rbd_id.{name}")
}

/// `rbd_header.<id>`: the image header (omap).
pub fn header_object(id: &str) -> String {
    format!("rbd_header.{id}")
}

/// `rbd_object_map.<id>`: the object map of the head.
pub fn object_map_object(id: &str) -> String {
    format!("rbd_object_map.{id}")
}

/// Data object `object_no` of an image with object prefix `prefix` (format 2:
/// `<prefix>.%016llx`).
pub fn data_object(prefix: &str, object_no: u64) -> String {
    format!("{prefix}.{object_no:016x}")
}

/// The object prefix of a new image: `rbd_data.<id>`, or `rbd_data.<pool>.<id>` when
/// its data lives in another pool (`pool` is the image's own pool id; CreateRequest.cc).
pub fn object_prefix(id: &str, separate_data_pool: Option<i64>) -> String {
    match separate_data_pool {
        Some(pool) => format!("{DATA_PREFIX}{pool}.{id}"),
        None => format!("{DATA_PREFIX}{id}"),
    }
}

/// A new image id (`util::generate_image_id`): the client's global id in hex, then a
/// random 32-bit number in hex (no padding), keeping the last 14 characters.
pub fn generate_image_id(global_id: u64, random: u32) -> String {
    let id = format!("{global_id:x}{random:x}");
    let cut = id.len().saturating_sub(MAX_IMAGE_ID_LENGTH);
    id.get(cut..).unwrap_or(&id).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            data_object("rbd_data.1029e053fd2b", 0x2a),
            "rbd_data.1029e053fd2b.000000000000002a"
        );
        assert_eq!(generate_image_id(0x1029, 0xe053fd2b), "1029e053fd2b");
        assert_eq!(
            generate_image_id(0x123456789, 0xffffffff),
            "3456789ffffffff".get(1..).unwrap()
        );
        assert_eq!(object_prefix("abc", Some(3)), "rbd_data.3.abc");
    }
}
