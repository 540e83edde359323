//! Interoperability tests against a real Ceph cluster live in `tests/`; this library holds
//! what they share.
