//! Bodies of the fuzz targets (the `fuzz/` crate calls these): every `cls_rbd` reply
//! decoder over arbitrary bytes. None may panic or allocate beyond the input's size.

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
        }
    }
}
