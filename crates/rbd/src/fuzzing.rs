//! Bodies of the fuzz targets (the `fuzz/` crate calls these): every `cls_rbd` reply
//! decoder (trash and namespace ones included), lock info listings, the object map and
//! the header watch/notify messages over arbitrary bytes. None may panic or allocate
//! beyond the input's size.

use crate::cls::rbd as m;

/// Every reply decoder on `data`.
pub fn cls_replies(data: &[u8]) {
    let _ = m::decode_string("get_id", data);
    let _ = m::decode_u64("get_flags", data);
    let _ = m::decode_size(data);
    let _ = m::decode_features(data);
    let _ = m::decode_data_pool(data);
    let _ = m::decode_stripe_unit_count(data);
    let _ = m::decode_timestamp("get_create_timestamp", data);
    let _ = m::decode_snapcontext(data);
    let _ = m::decode_parent(data);
    let _ = m::decode_dir_list(data);
    let _ = m::decode_metadata_value(data);
    let _ = m::decode_metadata_list(data);
    // snapshot replies (cls/snap.rs)
    let _ = crate::cls::snap::decode_snapshot_info(data);
    let _ = crate::cls::snap::decode_protection_status(data);
    let _ = crate::cls::snap::decode_limit(data);
    let _ = denc::decode_exact::<crate::cls::snap::SnapshotNamespace>(data);
    let _ = crate::cls::trash::decode_trash_get(data);
    let _ = crate::cls::trash::decode_trash_list(data);
    let _ = crate::namespace::decode_namespace_list(data);
    // group replies (cls/group.rs)
    let _ = crate::cls::group::decode_group_dir_list(data);
    let _ = crate::cls::group::decode_group_image_list(data);
    let _ = crate::cls::group::decode_image_group_get(data);
    let _ = crate::cls::group::decode_group_snap(data);
    let _ = crate::cls::group::decode_group_snap_list(data);
    // mirroring and migration records (cls/mirror.rs)
    let _ = crate::cls::mirror::decode_mirror_mode(data);
    let _ = crate::cls::mirror::decode_mirror_image(data);
    let _ = crate::cls::mirror::decode_migration_spec(data);
    // journal records (journal.rs)
    let _ = crate::journal::decode_get_client(data);
    let _ = crate::journal::decode_client_list(data);
    let _ = crate::journal::decode_tag_list(data);
    let _ = crate::journal::decode_image_client_tag_class(data);
    let _ = crate::journal::decode_client_meta_type(data);
    let _ = crate::journal::decode_mirror_peer_sync_points(data);
    let _ = crate::journal::decode_tag_mirror_uuid(data);
    // the `ceph df` reply trash purge --threshold reads
    let _ = crate::trash_purge::parse_df(data);
    if let Ok(info) = denc::decode_exact::<rados::cls::lock::LockInfo>(data) {
        let _ = crate::advisory_lock::lockers_of(&info);
    }
    let _ = crate::cls::parent::decode_parent_spec(data);
    let _ = crate::cls::parent::decode_parent_overlap(data);
    let _ = crate::cls::parent::decode_children(data);
    let _ = crate::cls::parent::decode_children_v1(data);
    let _ = crate::cls::parent::decode_protection_status(data);
    // object map loads and header notifies/acknowledgements come from peers too
    if let Ok(map) = crate::object_map::decode_load(data) {
        let _ = map.get(map.len().saturating_sub(1));
    }
    let _ = denc::decode_exact::<crate::watch_notify::NotifyMessage>(data);
    let _ = crate::watch_notify::owner_reply([data]);
    let _ = crate::watch_notify::quiesce_reply([data]);
    let me = crate::watch_notify::ClientId { gid: 1, handle: 2 };
    let _ = crate::exclusive_lock::on_notify(data, me, true);
}

/// Reads `data` as a diff stream of either format until its end or an error.
pub fn diff_stream(data: &[u8]) {
    use crate::diff_stream::{BANNER_V1, BANNER_V2};
    for (format, banner) in [(1, BANNER_V1), (2, BANNER_V2)] {
        read_records(data, format);
        // and with the banner in front, so the records are reached without guessing it
        let mut v = banner.to_vec();
        v.extend_from_slice(data);
        read_records(&v, format);
    }
    // the export-format-2 image properties, bare and behind their banner
    let _ = crate::export_image::ImageProperties::read(&mut &data[..]);
    let mut v = crate::export_image::IMAGE_BANNER_V2.to_vec();
    v.extend_from_slice(data);
    let _ = crate::export_image::ImageProperties::read(&mut &v[..]);
}

fn read_records(data: &[u8], format: u8) {
    if let Ok(mut r) = crate::diff_stream::DiffReader::new(data, format) {
        while let Ok(rec) = r.next_record() {
            if rec == crate::diff_stream::Record::End {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_inputs_do_not_panic() {
        for len in 0..64 {
            let data: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i * 37 % 256).unwrap())
                .collect();
            super::cls_replies(&data);
            super::cls_replies(&vec![0xff; len]);
            super::diff_stream(&data);
        }
    }
}
