//! Every sample of every type this crate implements, from the four Ceph releases in the
//! shared corpus, decodes, re-encodes byte-identically and fails cleanly when truncated.

use denc::testing::check_corpus;
use denc::{features, *};

#[test]
fn entity_name_t() {
    check_corpus::<EntityName>("entity_name_t", features::ALL);
}

#[test]
fn entity_name() {
    let all = check_corpus::<AuthName>("EntityName", features::ALL);
    assert!(all.iter().any(|(_, n)| n.entity_type == EntityType::CLIENT));
}

#[test]
fn entity_addr_t() {
    check_corpus::<EntityAddr>("entity_addr_t", features::ALL);
}

#[test]
fn entity_addrvec_t() {
    check_corpus::<EntityAddrVec>("entity_addrvec_t", features::ALL);
}

#[test]
fn entity_inst_t() {
    check_corpus::<EntityInst>("entity_inst_t", features::ALL);
}

#[test]
fn pg_t() {
    check_corpus::<PgId>("pg_t", features::ALL);
}

#[test]
fn object_locator_t() {
    check_corpus::<ObjectLocator>("object_locator_t", features::ALL);
}

#[test]
fn hobject_t() {
    check_corpus::<HObject>("hobject_t", features::ALL);
}

#[test]
fn eversion_t() {
    check_corpus::<EVersion>("eversion_t", features::ALL);
}

#[test]
fn osd_reqid_t() {
    check_corpus::<OsdReqId>("osd_reqid_t", features::ALL);
}

#[test]
fn snap_context() {
    let all = check_corpus::<SnapContext>("SnapContext", features::ALL);
    assert!(all.iter().all(|(_, c)| c.is_valid()));
}
