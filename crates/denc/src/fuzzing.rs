//! Bodies of the cargo-fuzz targets for this crate's decoders (`fuzz/fuzz_targets/`), kept
//! here so that the unit tests run them too.
//!
//! The first input byte picks a type; the rest is decoded as that type. Whatever decodes must
//! re-encode to something that decodes to the same value (decoding is lossy only where Ceph's
//! is: canonical forms, ignored fields).
#![allow(clippy::panic)]

use crate::{
    AuthName, Decode, EVersion, Encode, EntityAddr, EntityAddrVec, EntityInst, EntityName, HObject,
    ObjectLocator, OsdReqId, PgId, Reader, SnapContext, UTime, Uuid, Writer, features,
};

fn check<T: Decode + Encode + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(value) = T::decode(&mut r) else {
        return;
    };
    for features in [features::ALL, 0] {
        let mut w = Writer::with_features(features);
        value.encode(&mut w);
        let Ok(bytes) = w.finish() else {
            return;
        };
        let again = crate::decode_exact::<T>(&bytes);
        if features == features::ALL {
            match again {
                Ok(again) => assert_eq!(again, value, "re-encoded value differs"),
                Err(e) => panic!("re-encoded value does not decode: {e}"),
            }
        }
    }
}

/// Decodes `data[1..]` as the type chosen by `data[0]`.
pub fn fuzz_types(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 16 {
        0 => check::<EntityName>(rest),
        1 => check::<AuthName>(rest),
        2 => check::<EntityAddr>(rest),
        3 => check::<EntityAddrVec>(rest),
        4 => check::<EntityInst>(rest),
        5 => check::<PgId>(rest),
        6 => check::<ObjectLocator>(rest),
        7 => check::<HObject>(rest),
        8 => check::<EVersion>(rest),
        9 => check::<OsdReqId>(rest),
        10 => check::<SnapContext>(rest),
        11 => check::<UTime>(rest),
        12 => check::<Uuid>(rest),
        13 => check::<Vec<String>>(rest),
        14 => check::<std::collections::BTreeMap<u32, bytes::Bytes>>(rest),
        _ => check::<Option<(u64, Vec<u8>)>>(rest),
    }
}
